// timm's global average pool over the tokens: pooled[b, :] = (Σ_t h[16·b + t, :]) / 16, summed
// in token order then scaled by 1/16, as the CPU engine does. One invocation per vec4 of pooled
// [images, dim] (padding: mean of zeros).

struct Params {
    // vec4s in pooled: images × stride4
    count: u32,
    stride4: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> h: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> pooled: array<vec4<f32>>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let i = id.y * 65535u * 64u + id.x;
    if (i >= p.count) {
        return;
    }
    let b = i / p.stride4;
    let col = i % p.stride4;
    let first = b * 16u * p.stride4 + col;
    var s = vec4<f32>(0.0);
    for (var t = 0u; t < 16u; t++) {
        s += h[first + t * p.stride4];
    }
    pooled[i] = s * (1.0 / 16.0);
}
