// Ends a step on the GPU: moves the batch cursor, counts the update and the metrics slot. Keeping
// this counter on the GPU is what lets many steps be encoded into one submission with no
// per-step upload from the host.

struct Params {
    batch: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// [cursor, updates, metrics slot, unused]
@group(0) @binding(1) var<storage, read_write> state: array<u32>;

@compute @workgroup_size(1, 1, 1)
fn main() {
    state[0] += p.batch;
    state[1] += 1u;
    state[2] += 1u;
}
