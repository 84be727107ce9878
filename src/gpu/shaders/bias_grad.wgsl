// Gradient with respect to a layer's biases: gb[j] = Σ_i dz[i, j]. One invocation per j.

struct Params {
    m: u32,
    n: u32,
    dz_stride: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dz: array<f32>;
@group(0) @binding(2) var<storage, read_write> gb: array<f32>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let j = id.x;
    if (j >= p.n) {
        return;
    }
    var s = 0.0;
    for (var i = 0u; i < p.m; i++) {
        s += dz[i * p.dz_stride + j];
    }
    gb[j] = s;
}
