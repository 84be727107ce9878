// Evaluation of one batch of logits: each row's loss and predicted class (first maximum) go to
// per-sample arrays at the batch's position, and the confusion matrix is counted with atomics.
// Rows past the end of the data set (the last batch is padded) are ignored. One invocation per row.

struct Params {
    m: u32,
    n: u32,
    stride: u32,
    total: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<u32>;
// state[0]: index of this batch's first sample
@group(0) @binding(3) var<storage, read> state: array<u32>;
@group(0) @binding(4) var<storage, read_write> predictions: array<u32>;
@group(0) @binding(5) var<storage, read_write> losses: array<f32>;
// confusion[true * n + predicted]
@group(0) @binding(6) var<storage, read_write> confusion: array<atomic<u32>>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let row = id.x;
    let sample = state[0] + row;
    if (row >= p.m || sample >= p.total) {
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
    predictions[sample] = best;
    losses[sample] = log(sum) - (logits[base + label] - top);
    atomicAdd(&confusion[label * p.n + best], 1u);
}
