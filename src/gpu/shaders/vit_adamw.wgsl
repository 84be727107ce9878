// AdamW (Loshchilov & Hutter 2019, PyTorch's torch.optim.AdamW): on kept entries the weight is
// first decayed, w *= 1 − lr·weight_decay, apart from the gradient, then Adam's update is applied
// with the bias corrections folded into the step size (Kingma & Ba's "efficient version"), as
// `adam.wgsl` and the CPU optimizer do. Where the mask is 0 the weight and both moments are set
// to +0, so a pruned weight never regrows. Biases, LayerNorm parameters and the position
// embedding run through the same kernel with `masked` = 0 and weight_decay = 0.
//
// The learning rate of each step comes from `lrs[state[2]]` (one per step of the submission, so a
// schedule needs no upload between steps); the step number from state[1].
//
// β^t is taken by binary exponentiation, as the CPU's `powi` (compiler-rt's `__powisf2`) does,
// not with `pow`: 1 − β₂^t is 1e-3 at t = 1, so a few ulp of error in `pow`'s exp2(t·log2 β)
// would be 1e-4 of the step.

struct Params {
    count: u32,
    masked: u32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    weight_decay: f32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> m1: array<f32>;
@group(0) @binding(3) var<storage, read_write> m2: array<f32>;
@group(0) @binding(4) var<storage, read> g: array<f32>;
@group(0) @binding(5) var<storage, read> mask: array<f32>;
// [cursor, updates taken before this one, step slot within the submission, unused]
@group(0) @binding(6) var<storage, read> state: array<u32>;
@group(0) @binding(7) var<storage, read> lrs: array<f32>;

// b^n by repeated squaring, in `__powisf2`'s order.
fn powi(b: f32, n: u32) -> f32 {
    var r = 1.0;
    var x = b;
    var k = n;
    loop {
        if ((k & 1u) == 1u) {
            r *= x;
        }
        k = k >> 1u;
        if (k == 0u) {
            break;
        }
        x *= x;
    }
    return r;
}

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
    let lr = lrs[state[2]];
    let t = state[1] + 1u;
    let bc1 = 1.0 - powi(p.beta1, t);
    let bc2 = 1.0 - powi(p.beta2, t);
    let step = lr * sqrt(bc2) / bc1;
    let eps = p.eps * sqrt(bc2);
    let gi = g[i];
    let m = p.beta1 * m1[i] + (1.0 - p.beta1) * gi;
    let v = p.beta2 * m2[i] + (1.0 - p.beta2) * gi * gi;
    m1[i] = m;
    m2[i] = v;
    let decayed = w[i] * (1.0 - lr * p.weight_decay);
    w[i] = decayed - step * m / (sqrt(v) + eps);
}
