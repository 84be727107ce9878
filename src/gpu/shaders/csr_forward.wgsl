// Forward pass of one fully connected layer whose weight W [rows, inputs] is stored in CSR by
// output row: z = W · x + b (then ReLU when `relu` is 1), with activations feature-major.
//
// Layout, and why: x is [inputs, batch] and z is [rows, batch], each row padded to `quads` vec4s
// of samples (the transpose of the dense kernels' [batch, features]). A workgroup computes 4
// output rows for 256 consecutive samples: 16 invocations per row, each taking 4 vec4s of samples
// 16 vec4s apart (invocation t: quads t, t + 16, t + 32, t + 48 of the workgroup's 64). So:
// - the 16 invocations of a row share its loop bounds (row_ptr[r], row_ptr[r + 1]): divergence
//   is only between the rows of a workgroup, however uneven unstructured masks make the rows;
// - col_idx[j] and values[j] are one address for the 16 invocations of a row (broadcast loads),
//   and each is used for 16 samples per invocation;
// - each x load of a row's invocations covers 16 consecutive vec4s (256 bytes) of one input row:
//   coalesced on a GPU, and whole SIMD vectors on software GPUs that run invocations in SIMD
//   lanes (lavapipe, SwiftShader). With the batch-major layout of the dense kernels each sample
//   would instead gather one float from a different row per stored weight.
// - workgroups are numbered rows first (x) and samples second (y), so all the rows of one block
//   of 256 samples run close together and share that block of x (784 inputs × 1 KB = 784 KB) in
//   cache. Samples first made the CSR forward pass of a 10,000-image batch 3.8× slower on
//   lavapipe (each stored weight reread its input row from memory), and blocks of 1024 samples
//   1.3× slower.
// Four named accumulators, not an array: software GPUs run private arrays far slower. One vec4
// per invocation instead of four was 1.7× slower on lavapipe (the index and value loads are then
// paid per 4 samples, not per 16).
//
// Padding samples (batch..4·quads) compute relu(b) from zero inputs; samples never mix, so they
// only ever hold garbage of their own and are dropped when read back. Quads past `quads` are
// clamped to the last one for loading and never stored, keeping the loop free of branches.

struct Params {
    rows: u32,
    quads: u32,
    relu: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// rows + 1 offsets into col_idx and values
@group(0) @binding(1) var<storage, read> row_ptr: array<u32>;
@group(0) @binding(2) var<storage, read> col_idx: array<u32>;
@group(0) @binding(3) var<storage, read> values: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> z: array<vec4<f32>>;

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
    let last = p.quads - 1u;
    let q1 = min(q0 + GROUP, last);
    let q2 = min(q0 + 2u * GROUP, last);
    let q3 = min(q0 + 3u * GROUP, last);
    let b = vec4<f32>(bias[r]);
    var s0 = b;
    var s1 = b;
    var s2 = b;
    var s3 = b;
    let end = row_ptr[r + 1u];
    for (var j = row_ptr[r]; j < end; j++) {
        let v = values[j];
        let base = col_idx[j] * p.quads;
        s0 += v * x[base + q0];
        s1 += v * x[base + q1];
        s2 += v * x[base + q2];
        s3 += v * x[base + q3];
    }
    let out = r * p.quads;
    z[out + q0] = finish(s0);
    if (q0 + GROUP <= last) { z[out + q1] = finish(s1); }
    if (q0 + 2u * GROUP <= last) { z[out + q2] = finish(s2); }
    if (q0 + 3u * GROUP <= last) { z[out + q3] = finish(s3); }
}
