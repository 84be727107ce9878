// Forward pass of one fully connected layer: z = a · wᵀ + b, then ReLU when `relu` is 1.
//
// a: [m, k] and w: [n, k] (PyTorch's [out, in]) are both contiguous along k, with rows padded to
// a multiple of 4 floats (k4 vec4s), so each step of the inner loop is eight vec4 loads and
// sixteen dot products. Each invocation computes a 4×4 block of z held in four named vec4
// accumulators: software GPUs (SwiftShader) run loops over private arrays far slower than this.
// z: [m, n] with rows padded to `z_stride` floats; the padding columns are never written and stay 0.

struct Params {
    m: u32,
    n: u32,
    k4: u32,
    z_stride: u32,
    relu: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> w: array<vec4<f32>>;
// padded with zeros to a multiple of 4
@group(0) @binding(3) var<storage, read> bias: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> z: array<f32>;

fn store_row(row: u32, n0: u32, v: vec4<f32>) {
    if (row >= p.m) {
        return;
    }
    var out = v;
    if (p.relu == 1u) {
        out = max(out, vec4<f32>(0.0));
    }
    let base = row * p.z_stride + n0;
    // z_stride is a multiple of 4, so all four columns exist (some may be padding beyond n, which
    // must stay 0: they are skipped).
    z[base] = out.x;
    if (n0 + 1u < p.n) { z[base + 1u] = out.y; }
    if (n0 + 2u < p.n) { z[base + 2u] = out.z; }
    if (n0 + 3u < p.n) { z[base + 3u] = out.w; }
}

@compute @workgroup_size(8, 8, 1)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let n0 = id.x * 4u;
    let m0 = id.y * 4u;
    if (n0 >= p.n || m0 >= p.m) {
        return;
    }
    // Rows past the end are clamped to the last row: computed and then discarded, which keeps the
    // inner loop free of branches.
    let last_m = p.m - 1u;
    let last_n = p.n - 1u;
    let a0 = min(m0, last_m) * p.k4;
    let a1 = min(m0 + 1u, last_m) * p.k4;
    let a2 = min(m0 + 2u, last_m) * p.k4;
    let a3 = min(m0 + 3u, last_m) * p.k4;
    let w0 = min(n0, last_n) * p.k4;
    let w1 = min(n0 + 1u, last_n) * p.k4;
    let w2 = min(n0 + 2u, last_n) * p.k4;
    let w3 = min(n0 + 3u, last_n) * p.k4;
    var s0 = vec4<f32>(0.0);
    var s1 = vec4<f32>(0.0);
    var s2 = vec4<f32>(0.0);
    var s3 = vec4<f32>(0.0);
    for (var k = 0u; k < p.k4; k++) {
        let x0 = a[a0 + k];
        let x1 = a[a1 + k];
        let x2 = a[a2 + k];
        let x3 = a[a3 + k];
        let v0 = w[w0 + k];
        let v1 = w[w1 + k];
        let v2 = w[w2 + k];
        let v3 = w[w3 + k];
        s0 += vec4<f32>(dot(x0, v0), dot(x0, v1), dot(x0, v2), dot(x0, v3));
        s1 += vec4<f32>(dot(x1, v0), dot(x1, v1), dot(x1, v2), dot(x1, v3));
        s2 += vec4<f32>(dot(x2, v0), dot(x2, v1), dot(x2, v2), dot(x2, v3));
        s3 += vec4<f32>(dot(x3, v0), dot(x3, v1), dot(x3, v2), dot(x3, v3));
    }
    let b = bias[n0 / 4u];
    store_row(m0, n0, s0 + b);
    store_row(m0 + 1u, n0, s1 + b);
    store_row(m0 + 2u, n0, s2 + b);
    store_row(m0 + 3u, n0, s3 + b);
}
