// GELU in its exact form, act = pre · Φ(pre) (Hendrycks & Gimpel 2016), as timm's default
// nn.GELU: not the tanh approximation. `count` covers the padding, where GELU(0) = 0.
//
// WGSL has no erf, so Φ(x) = ½·erfc(−x/√2) is evaluated with the Chebyshev-fitted erfc of
// Numerical Recipes (Press et al., 2nd ed., §6.2, `erfcc`): erfc(z) = t·exp(−z² + P(t)) with
// t = 1/(1 + z/2) for z ≥ 0, fractional error below 1.2e-7 everywhere. Taking erfc of |x|/√2 and
// Φ = 1 − ½·erfc for x ≥ 0 keeps that relative accuracy in the negative tail, and Φ's absolute
// error below ~1e-7 (f32 rounding included). The same function is in `vit_gelu_backward.wgsl`.

struct Params {
    count: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> pre: array<f32>;
@group(0) @binding(2) var<storage, read_write> act: array<f32>;

// Φ(x), the standard normal CDF.
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
    act[i] = x * normal_cdf(x);
}
