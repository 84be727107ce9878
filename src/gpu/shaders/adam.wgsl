// Adam (Kingma & Ba 2015) with the bias corrections folded into the step size (their Algorithm 1,
// "efficient version"), and the mask applied in the same pass: where the mask is 0 the weight and
// both moments are set to +0, so a pruned weight can never regrow from its moments. Biases run
// through the same kernel with `masked` = 0.

struct Params {
    count: u32,
    masked: u32,
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> m1: array<f32>;
@group(0) @binding(3) var<storage, read_write> m2: array<f32>;
@group(0) @binding(4) var<storage, read> g: array<f32>;
@group(0) @binding(5) var<storage, read> mask: array<f32>;
// state[1]: updates taken before this one
@group(0) @binding(6) var<storage, read> state: array<u32>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let i = id.y * 65535u * 64u + id.x;
    if (i >= p.count) {
        return;
    }
    if (p.masked == 1u && mask[i] == 0.0) {
        w[i] = 0.0;
        m1[i] = 0.0;
        m2[i] = 0.0;
        return;
    }
    let t = f32(state[1] + 1u);
    let bc1 = 1.0 - pow(p.beta1, t);
    let bc2 = 1.0 - pow(p.beta2, t);
    let step = p.lr * sqrt(bc2) / bc1;
    let eps = p.eps * sqrt(bc2);
    let gi = g[i];
    let m = p.beta1 * m1[i] + (1.0 - p.beta1) * gi;
    let v = p.beta2 * m2[i] + (1.0 - p.beta2) * gi * gi;
    m1[i] = m;
    m2[i] = v;
    w[i] = w[i] - step * m / (sqrt(v) + eps);
}
