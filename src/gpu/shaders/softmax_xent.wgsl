// Softmax cross-entropy of a batch of logits and its gradient, (softmax − onehot) / m, using the
// max-shifted log-sum-exp like the CPU engine. Also records each row's loss and whether its
// prediction (first maximum) is right, in the slot of the current step, so the host can read a
// whole chunk's metrics back at once instead of after every step. One invocation per row.

struct Params {
    m: u32,
    n: u32,
    stride: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<u32>;
@group(0) @binding(3) var<storage, read_write> dz: array<f32>;
// state[2]: index of the current step within the chunk
@group(0) @binding(4) var<storage, read> state: array<u32>;
// [step][row] pairs of (loss, correct)
@group(0) @binding(5) var<storage, read_write> metrics: array<vec2<f32>>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let row = id.x;
    if (row >= p.m) {
        return;
    }
    let base = row * p.stride;
    var best = 0u;
    var top = logits[base];
    for (var j = 1u; j < p.n; j++) {
        let v = logits[base + j];
        if (v > top) {
            top = v;
            best = j;
        }
    }
    var sum = 0.0;
    for (var j = 0u; j < p.n; j++) {
        sum += exp(logits[base + j] - top);
    }
    let label = y[row];
    let inv_m = 1.0 / f32(p.m);
    for (var j = 0u; j < p.n; j++) {
        var g = exp(logits[base + j] - top) / sum * inv_m;
        if (j == label) {
            g -= inv_m;
        }
        dz[base + j] = g;
    }
    let loss = log(sum) - (logits[base + label] - top);
    metrics[state[2] * p.m + row] = vec2<f32>(loss, select(0.0, 1.0, best == label));
}
