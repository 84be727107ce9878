// Gradient with respect to a layer's weights: gw = dzᵀ · a, i.e. gw[j, :] = Σ_i dz[i, j] a[i, :].
//
// dz: [m, n] with rows padded to a multiple of 4 floats (dz4 vec4s); a: [m, k] and gw: [n, k]
// with rows padded to k4 vec4s. Each invocation computes 4 output rows (4 consecutive j) × one vec4
// of columns: per sample i, one vec4 of dz and one vec4 of a feed four vec4 multiply-adds.

struct Params {
    m: u32,
    n: u32,
    k4: u32,
    dz4: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dz: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> gw: array<vec4<f32>>;

@compute @workgroup_size(16, 4, 1)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let col = id.x;
    let j4 = id.y;
    let n0 = j4 * 4u;
    if (col >= p.k4 || n0 >= p.n) {
        return;
    }
    var s0 = vec4<f32>(0.0);
    var s1 = vec4<f32>(0.0);
    var s2 = vec4<f32>(0.0);
    var s3 = vec4<f32>(0.0);
    for (var i = 0u; i < p.m; i++) {
        let x = a[i * p.k4 + col];
        let d = dz[i * p.dz4 + j4];
        s0 += d.x * x;
        s1 += d.y * x;
        s2 += d.z * x;
        s3 += d.w * x;
    }
    gw[n0 * p.k4 + col] = s0;
    if (n0 + 1u < p.n) { gw[(n0 + 1u) * p.k4 + col] = s1; }
    if (n0 + 2u < p.n) { gw[(n0 + 2u) * p.k4 + col] = s2; }
    if (n0 + 3u < p.n) { gw[(n0 + 3u) * p.k4 + col] = s3; }
}
