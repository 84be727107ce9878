// Gathers one batch for the ViT from the data set held on the GPU as bytes, cut into patches:
// image b of the batch is sample order[cursor + b], and its 16 token rows of x are its 7×7
// patches as timm's stride-7 convolution sees them (token t = 4·gy + gx on the 4×4 grid, pixel
// (py, px) of a patch at column 7·py + px), pixels scaled to [0, 1]. Its label goes to y[b].
//
// Images are stored four pixels to a u32 (little-endian), each image padded to whole words (see
// `gather.wgsl`). One invocation per (token, column) of an image: 16 × 52 columns, the 3 padding
// columns of each row written as 0.

struct Params {
    batch: u32,
    // u32 words per image (784 pixels / 4)
    words: u32,
    // floats per row of x (49 padded to 52)
    x_stride: u32,
    _pad: u32,
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
    let b = id.y;
    if (id.x >= 16u * p.x_stride || b >= p.batch) {
        return;
    }
    let t = id.x / p.x_stride;
    let col = id.x % p.x_stride;
    let sample = order[state[0] + b];
    var value = 0.0;
    if (col < 49u) {
        let py = col / 7u;
        let px = col % 7u;
        let f = (7u * (t / 4u) + py) * 28u + 7u * (t % 4u) + px;
        let packed = images[sample * p.words + f / 4u];
        // Multiply by 1/255 (not divide) to match the CPU engine bit for bit.
        value = f32((packed >> (8u * (f % 4u))) & 0xffu) * (1.0 / 255.0);
    }
    x[(b * 16u + t) * p.x_stride + col] = value;
    if (id.x == 0u) {
        y[b] = labels[sample];
    }
}
