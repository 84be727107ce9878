// Adds the position embedding to the patch embeddings: h[r, :] += pos[r mod 16, :], for h
// [rows, dim] and pos [16, dim], both with rows padded to `stride4` vec4s (padding 0 + 0 stays
// 0). One invocation per vec4 of h.

struct Params {
    // vec4s in h: rows × stride4
    count: u32,
    stride4: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> h: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> pos: array<vec4<f32>>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let i = id.y * 65535u * 64u + id.x;
    if (i >= p.count) {
        return;
    }
    let row = i / p.stride4;
    let col = i % p.stride4;
    h[i] += pos[(row % 16u) * p.stride4 + col];
}
