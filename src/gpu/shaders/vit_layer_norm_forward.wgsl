// LayerNorm over each row, as torch.nn.LayerNorm(dim, eps=1e-6) in timm's ViT (Ba et al. 2016):
// mean μ and biased variance σ² of the row, x̂ = (x − μ)/σ with σ = √(σ² + ε), y = x̂ ⊙ weight +
// bias. Also keeps x̂ and 1/σ for the backward pass. Two passes over the row (mean, then the
// squared deviations) as the CPU engine computes them.
//
// x, y, xhat: [rows, dim] with rows padded to `stride4` vec4s; the padding lanes are masked out of
// the sums and written as 0. One invocation per row.

struct Params {
    rows: u32,
    dim: u32,
    stride4: u32,
    // 1 / dim, computed on the host as the CPU engine does
    inv_dim: f32,
    eps: f32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> weight: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> y: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> xhat: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> rstd: array<f32>;

// Which lanes of vec4 j are real columns.
fn valid(j: u32) -> vec4<bool> {
    return vec4<u32>(4u * j) + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(p.dim);
}

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let row = id.y * 65535u * 64u + id.x;
    if (row >= p.rows) {
        return;
    }
    let base = row * p.stride4;
    // Padding is 0, so the plain sum is the sum over the real columns.
    var sum = vec4<f32>(0.0);
    for (var j = 0u; j < p.stride4; j++) {
        sum += x[base + j];
    }
    let mean = (sum.x + sum.y + sum.z + sum.w) * p.inv_dim;
    var sq = vec4<f32>(0.0);
    for (var j = 0u; j < p.stride4; j++) {
        let d = select(vec4<f32>(0.0), x[base + j] - mean, valid(j));
        sq += d * d;
    }
    let variance = (sq.x + sq.y + sq.z + sq.w) * p.inv_dim;
    let s = 1.0 / sqrt(variance + p.eps);
    rstd[row] = s;
    for (var j = 0u; j < p.stride4; j++) {
        let h = select(vec4<f32>(0.0), (x[base + j] - mean) * s, valid(j));
        xhat[base + j] = h;
        // weight and bias are 0 in the padding, so y's padding is 0 too.
        y[base + j] = h * weight[j] + bias[j];
    }
}
