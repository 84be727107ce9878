// SGD with heavy-ball momentum (PyTorch semantics: v ← μv + g, w ← w − ηv), with the mask applied
// in the same pass: where the mask is 0 the weight and its velocity are set to +0, so a pruned
// weight stays exactly zero. Biases run through the same kernel with `masked` = 0.

struct Params {
    count: u32,
    masked: u32,
    lr: f32,
    momentum: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> velocity: array<f32>;
@group(0) @binding(3) var<storage, read> g: array<f32>;
@group(0) @binding(4) var<storage, read> mask: array<f32>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    // 2D dispatch: a layer can have more than 65,535 × 64 weights.
    let i = id.y * 65535u * 64u + id.x;
    if (i >= p.count) {
        return;
    }
    if (p.masked == 1u && mask[i] == 0.0) {
        w[i] = 0.0;
        velocity[i] = 0.0;
        return;
    }
    let v = p.momentum * velocity[i] + g[i];
    velocity[i] = v;
    w[i] = w[i] - p.lr * v;
}
