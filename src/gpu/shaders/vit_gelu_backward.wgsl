// Backward through the exact GELU, in place: d *= GELU'(pre) = Φ(pre) + pre·φ(pre), with φ the
// standard normal density. Φ is recomputed from pre (the CPU engine keeps it from the forward
// pass) with the Numerical Recipes erfc described in `vit_gelu_forward.wgsl`. Padding: d is 0.

struct Params {
    count: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> pre: array<f32>;
@group(0) @binding(2) var<storage, read_write> d: array<f32>;

// Φ(x), the standard normal CDF: see `vit_gelu_forward.wgsl`.
fn normal_cdf(x: f32) -> f32 {
    let z = abs(x) * 0.70710678118654752;
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418
        + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587
        + t * (-0.82215223 + t * 0.17087277))))))));
    let half_erfc = 0.5 * t * exp(-z * z + poly);
    return select(half_erfc, 1.0 - half_erfc, x >= 0.0);
}

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let i = id.y * 65535u * 64u + id.x;
    if (i >= p.count) {
        return;
    }
    let x = pre[i];
    // 1/√(2π)
    let pdf = exp(-0.5 * x * x) * 0.39894228040143268;
    d[i] *= normal_cdf(x) + x * pdf;
}
