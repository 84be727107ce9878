// Backward through the mean over tokens: dx[16·b + t, :] = d_pooled[b, :] / 16 for every token t
// (overwriting dx, as the residual stream's gradient starts here). One invocation per vec4 of dx.

struct Params {
    // vec4s in dx: images × 16 × stride4
    count: u32,
    stride4: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> d_pooled: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> dx: array<vec4<f32>>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let i = id.y * 65535u * 64u + id.x;
    if (i >= p.count) {
        return;
    }
    let row = i / p.stride4;
    let col = i % p.stride4;
    dx[i] = d_pooled[(row / 16u) * p.stride4 + col] * (1.0 / 16.0);
}
