// LayerNorm's input gradient, accumulated into the residual stream's gradient (which already
// holds the skip path's): with g = dy ⊙ weight,
//     dx += (1/σ) · (g − mean(g) − x̂ · mean(g ⊙ x̂)).
// `vit_layer_norm_backward_params.wgsl` computes the parameters' gradients from the same inputs.
//
// dy, xhat, dx: [rows, dim] with rows padded to `stride4` vec4s; padding lanes stay untouched in
// value (0 + 0). One invocation per row.

struct Params {
    rows: u32,
    dim: u32,
    stride4: u32,
    inv_dim: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> xhat: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> rstd: array<f32>;
@group(0) @binding(4) var<storage, read> weight: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> dx: array<vec4<f32>>;

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
    // Padding of dy and weight is 0, so g's padding is 0 and drops out of both sums.
    var sum_g = vec4<f32>(0.0);
    var sum_gx = vec4<f32>(0.0);
    for (var j = 0u; j < p.stride4; j++) {
        let g = dy[base + j] * weight[j];
        sum_g += g;
        sum_gx += g * xhat[base + j];
    }
    let mg = (sum_g.x + sum_g.y + sum_g.z + sum_g.w) * p.inv_dim;
    let mgx = (sum_gx.x + sum_gx.y + sum_gx.z + sum_gx.w) * p.inv_dim;
    let s = rstd[row];
    for (var j = 0u; j < p.stride4; j++) {
        let g = dy[base + j] * weight[j];
        let d = s * (g - mg - xhat[base + j] * mgx);
        dx[base + j] += select(vec4<f32>(0.0), d, valid(j));
    }
}
