// Gradient with respect to the position embedding: dpos[t, :] = Σ_b dx[16·b + t, :] over the
// batch's images (overwriting dpos), summed in image order as the CPU engine does. One invocation
// per vec4 of dpos [16, dim].

struct Params {
    images: u32,
    stride4: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dx: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> dpos: array<vec4<f32>>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let i = id.x;
    if (i >= 16u * p.stride4) {
        return;
    }
    // Row t of image b is at (16·b + t)·stride4 = i + b·16·stride4.
    let step = 16u * p.stride4;
    var s = vec4<f32>(0.0);
    for (var b = 0u; b < p.images; b++) {
        s += dx[i + b * step];
    }
    dpos[i] = s;
}
