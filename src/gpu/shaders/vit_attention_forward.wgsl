// Multi-head self-attention over each image's 16 tokens (Vaswani et al. 2017), laid out as
// timm's Attention: a token's qkv row is [q | k | v], each heads·head_dim wide with the heads
// contiguous. For head h of image b:
//     P = softmax((S − rowmax S) / √d) with S = Q Kᵀ,   O = P V,
// the scale applied after subtracting the row max, as the CPU engine does. Writes O (the heads
// concatenated), O scaled by coef[h] (the head's gate times its mask: what `proj` multiplies) and
// P ([images, heads, 16, 16], query-major).
//
// One workgroup of 64 invocations per (head, image); no atomics. Invocation i owns query row
// t = i / 4 and the four keys (or, for O, four channels) 4·(i % 4) … +3 as one vec4. Channels
// pass through workgroup memory in chunks of 16 (zero beyond head_dim), so any head_dim works
// with a fixed 3 KiB of workgroup memory. Sums run over channels, then keys, in ascending order,
// as the CPU engine's.

struct Params {
    images: u32,
    heads: u32,
    head_dim: u32,
    // floats per row of qkv: pad4(3 · heads · head_dim)
    qkv_stride: u32,
    // floats per row of out and gated: pad4(heads · head_dim)
    out_stride: u32,
    // channel chunks of 16: ceil(head_dim / 16)
    chunks: u32,
    // 1 / √head_dim
    scale: f32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> qkv: array<f32>;
@group(0) @binding(2) var<storage, read> coef: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read_write> gated: array<f32>;
@group(0) @binding(5) var<storage, read_write> probs: array<vec4<f32>>;

// A chunk by token: rows_s[4·t + l] holds channels 4l … 4l+3 of the chunk for token t.
var<workgroup> rows_s: array<vec4<f32>, 64>;
// A chunk by channel: cols_s[4·c + g] holds tokens 4g … 4g+3 of the chunk's channel c.
var<workgroup> cols_s: array<vec4<f32>, 64>;
// Scores, then probabilities: p_s[4·t + g] holds keys 4g … 4g+3 of query t.
var<workgroup> p_s: array<vec4<f32>, 64>;

// qkv[row, col + c], or 0 past the head's channels.
fn at(row: u32, col: u32, c: u32) -> f32 {
    var v = 0.0;
    if (c < p.head_dim) {
        v = qkv[row * p.qkv_stride + col + c];
    }
    return v;
}

// Channels c … c+3 of token row `row` from column `col` on.
fn four_channels(row: u32, col: u32, c: u32) -> vec4<f32> {
    return vec4<f32>(at(row, col, c), at(row, col, c + 1u), at(row, col, c + 2u),
        at(row, col, c + 3u));
}

// Channel c of tokens 4g … 4g+3 of image `first` (its first row).
fn four_tokens(first: u32, g: u32, col: u32, c: u32) -> vec4<f32> {
    let r = first + 4u * g;
    return vec4<f32>(at(r, col, c), at(r + 1u, col, c), at(r + 2u, col, c), at(r + 3u, col, c));
}

fn store(row: u32, col: u32, c: u32, v: f32, k: f32) {
    if (c < p.head_dim) {
        let i = row * p.out_stride + col + c;
        out[i] = v;
        gated[i] = v * k;
    }
}

@compute @workgroup_size(64, 1, 1)
fn main(
    @builtin(workgroup_id) group: vec3<u32>,
    @builtin(local_invocation_index) i: u32,
) {
    let h = group.x;
    let b = group.y + 65535u * group.z;
    if (b >= p.images) {
        return;
    }
    let t = i / 4u;
    let l = i % 4u;
    let first = b * 16u;
    let dim = p.heads * p.head_dim;
    let q_col = h * p.head_dim;
    let k_col = dim + q_col;
    let v_col = 2u * dim + q_col;

    // S[t, 4l … 4l+3] = Σ_c Q[t, c] K[4l …, c]
    var s = vec4<f32>(0.0);
    for (var chunk = 0u; chunk < p.chunks; chunk++) {
        let c0 = 16u * chunk;
        rows_s[i] = four_channels(first + t, q_col, c0 + 4u * l);
        // Here t names the chunk's channel and l the group of four tokens.
        cols_s[i] = four_tokens(first, l, k_col, c0 + t);
        workgroupBarrier();
        for (var j = 0u; j < 4u; j++) {
            let q = rows_s[4u * t + j];
            s += q.x * cols_s[16u * j + l];
            s += q.y * cols_s[16u * j + 4u + l];
            s += q.z * cols_s[16u * j + 8u + l];
            s += q.w * cols_s[16u * j + 12u + l];
        }
        workgroupBarrier();
    }

    // Softmax along the query's row, spread over the four invocations 4t … 4t+3.
    p_s[i] = s;
    workgroupBarrier();
    let s0 = p_s[4u * t];
    let s1 = p_s[4u * t + 1u];
    let s2 = p_s[4u * t + 2u];
    let s3 = p_s[4u * t + 3u];
    let m4 = max(max(s0, s1), max(s2, s3));
    let row_max = max(max(m4.x, m4.y), max(m4.z, m4.w));
    let e = exp((s0 - row_max) * p.scale) + exp((s1 - row_max) * p.scale)
        + exp((s2 - row_max) * p.scale) + exp((s3 - row_max) * p.scale);
    let sum = e.x + e.y + e.z + e.w;
    let prob = exp((s - row_max) * p.scale) * (1.0 / sum);
    probs[((b * p.heads + h) * 16u + t) * 4u + l] = prob;
    // Every row is read before any is overwritten.
    workgroupBarrier();
    p_s[i] = prob;

    // O[t, c0 + 4l … +3] = Σ_s P[t, s] V[s, c0 + 4l …]
    let k = coef[h];
    for (var chunk = 0u; chunk < p.chunks; chunk++) {
        let c0 = 16u * chunk;
        // The previous chunk is read (and, the first time, p_s written) before rows_s changes.
        workgroupBarrier();
        rows_s[i] = four_channels(first + t, v_col, c0 + 4u * l);
        workgroupBarrier();
        var o = vec4<f32>(0.0);
        for (var j = 0u; j < 4u; j++) {
            let pr = p_s[4u * t + j];
            o += pr.x * rows_s[16u * j + l];
            o += pr.y * rows_s[16u * j + 4u + l];
            o += pr.z * rows_s[16u * j + 8u + l];
            o += pr.w * rows_s[16u * j + 12u + l];
        }
        let c = c0 + 4u * l;
        store(first + t, q_col, c, o.x, k);
        store(first + t, q_col, c + 1u, o.y, k);
        store(first + t, q_col, c + 2u, o.z, k);
        store(first + t, q_col, c + 3u, o.w, k);
    }
}
