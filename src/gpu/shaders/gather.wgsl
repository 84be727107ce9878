// Gathers one batch from the data set held on the GPU as bytes: row r of the batch is sample
// order[cursor + r], its pixels scaled to [0, 1], its label copied beside it.
//
// Images are stored four pixels to a u32 (little-endian), each image padded to whole words, so the
// data set costs one byte per pixel on the GPU as on the CPU. One invocation per (word, row).

struct Params {
    batch: u32,
    features: u32,
    // u32 words per image = features padded to a multiple of 4, divided by 4
    words: u32,
    // floats per row of x (features padded to a multiple of 4)
    x_stride: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> images: array<u32>;
@group(0) @binding(2) var<storage, read> labels: array<u32>;
@group(0) @binding(3) var<storage, read> order: array<u32>;
// state[0]: position of this batch in `order`
@group(0) @binding(4) var<storage, read> state: array<u32>;
@group(0) @binding(5) var<storage, read_write> x: array<f32>;
@group(0) @binding(6) var<storage, read_write> y: array<u32>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let word = id.x;
    let row = id.y;
    if (word >= p.words || row >= p.batch) {
        return;
    }
    let sample = order[state[0] + row];
    let packed = images[sample * p.words + word];
    for (var j = 0u; j < 4u; j++) {
        let f = word * 4u + j;
        if (f < p.features) {
            // Multiply by 1/255 (not divide) to match the CPU engine bit for bit.
            x[row * p.x_stride + f] = f32((packed >> (8u * j)) & 0xffu) * (1.0 / 255.0);
        }
    }
    if (word == 0u) {
        y[row] = labels[sample];
    }
}
