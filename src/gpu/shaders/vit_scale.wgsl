// dst = s·src over `count` floats: e.g. the residual gradient scaled by a block's gate γ before it
// enters the branch. One invocation per float.

struct Params {
    count: u32,
    s: f32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let i = id.y * 65535u * 64u + id.x;
    if (i >= p.count) {
        return;
    }
    dst[i] = p.s * src[i];
}
