// Forward pass of one fully connected layer whose weight W [rows, inputs] is stored in NVIDIA's
// 2:4 compressed format: z = W · x + b (then ReLU when `relu` is 1), activations feature-major.
//
// Format: for every group of 4 consecutive inputs of a row, two values (one vec2, `values`
// [rows, groups]) and their positions 0..3 within the group (2 bits each, 4 bits per group, 8
// groups per u32 of `positions` [rows, meta_stride]; the first value's position in the low bits).
// NVIDIA calls the positions "metadata"; `meta` is a reserved word in WGSL.
//
// Layout, and why: the same as csr_forward.wgsl (x [inputs, batch], z [rows, batch], rows padded
// to `quads` vec4s of samples; a workgroup = 4 output rows × 256 samples, 16 invocations per row,
// each 4 vec4s of samples 16 apart; rows first in the dispatch so a block of x stays in cache):
// positions and values are broadcast loads used for 16 samples, x loads are contiguous across a
// row's invocations. Unlike CSR, every row does exactly inputs / 2 multiply-adds and needs no
// row pointers or column indices, so there is no divergence at all: the structure is fixed, which
// is what lets sparse tensor cores run it at twice the dense rate. WGSL has no access to those,
// so here the gain can only come from the halved work and weight bytes.

struct Params {
    rows: u32,
    quads: u32,
    groups: u32,
    meta_stride: u32,
    relu: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> positions: array<u32>;
@group(0) @binding(2) var<storage, read> values: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> z: array<vec4<f32>>;

// Invocations per output row (each 4 vec4s of samples, GROUP apart), and rows per workgroup.
const GROUP: u32 = 16u;
const ROWS: u32 = 4u;

fn finish(s: vec4<f32>) -> vec4<f32> {
    if (p.relu == 1u) {
        return max(s, vec4<f32>(0.0));
    }
    return s;
}

@compute @workgroup_size(16, 4, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let r = wg.x * ROWS + lid.y;
    let q0 = wg.y * 4u * GROUP + lid.x;
    if (r >= p.rows || q0 >= p.quads) {
        return;
    }
    // Quads past the end are clamped for loading and never stored (see csr_forward.wgsl).
    let last = p.quads - 1u;
    let q1 = min(q0 + GROUP, last);
    let q2 = min(q0 + 2u * GROUP, last);
    let q3 = min(q0 + 3u * GROUP, last);
    let b = vec4<f32>(bias[r]);
    var s0 = b;
    var s1 = b;
    var s2 = b;
    var s3 = b;
    for (var w = 0u; w < p.meta_stride; w++) {
        var bits = positions[r * p.meta_stride + w];
        let first = w * 8u;
        let end = min(first + 8u, p.groups);
        for (var g = first; g < end; g++) {
            let v = values[r * p.groups + g];
            let a = (g * 4u + (bits & 3u)) * p.quads;
            let c = (g * 4u + ((bits >> 2u) & 3u)) * p.quads;
            s0 += v.x * x[a + q0] + v.y * x[c + q0];
            s1 += v.x * x[a + q1] + v.y * x[c + q1];
            s2 += v.x * x[a + q2] + v.y * x[c + q2];
            s3 += v.x * x[a + q3] + v.y * x[c + q3];
            bits = bits >> 4u;
        }
    }
    let out = r * p.quads;
    z[out + q0] = finish(s0);
    if (q0 + GROUP <= last) { z[out + q1] = finish(s1); }
    if (q0 + 2u * GROUP <= last) { z[out + q2] = finish(s2); }
    if (q0 + 3u * GROUP <= last) { z[out + q3] = finish(s3); }
}
