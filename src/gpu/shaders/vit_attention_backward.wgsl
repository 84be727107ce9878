// Backward through multi-head self-attention (see `vit_attention_forward.wgsl` for the layout),
// from d_gated = ∂L/∂(proj's input). For head h of image b, with c = coef[h]:
//     dO = c · d_gated,   dV = Pᵀ dO,   dP = dO Vᵀ,
//     dS = P ⊙ (dP − rowsum(P ⊙ dP)) / √d,   dQ = dS K,   dK = dSᵀ Q,
// overwriting head h's q, k and v columns of dqkv ([images·16, 3·heads·head_dim]). A head with
// c = 0 (masked) gets exact +0 there.
//
// One workgroup of 64 invocations per (head, image); no atomics. For dP and dS, invocation i owns
// query t = i / 4 and keys 4·(i % 4) … +3; for dQ, dK, dV it owns token t and channels
// 4·(i % 4) … +3 of each 16-channel chunk. Operands pass through workgroup memory (5 KiB) a
// chunk at a time, so any head_dim works. Sums run in the CPU engine's order (channels; then
// queries for dK and dV, keys for dQ, ascending).

struct Params {
    images: u32,
    heads: u32,
    head_dim: u32,
    // floats per row of qkv and dqkv: pad4(3 · heads · head_dim)
    qkv_stride: u32,
    // floats per row of d_gated: pad4(heads · head_dim)
    out_stride: u32,
    // channel chunks of 16: ceil(head_dim / 16)
    chunks: u32,
    // 1 / √head_dim
    scale: f32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> qkv: array<f32>;
@group(0) @binding(2) var<storage, read> probs: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> d_gated: array<f32>;
@group(0) @binding(4) var<storage, read> coef: array<f32>;
@group(0) @binding(5) var<storage, read_write> dqkv: array<f32>;

// Chunks by token: x_s[4·t + l] holds channels 4l … 4l+3 of the chunk for token t.
var<workgroup> a_s: array<vec4<f32>, 64>;
var<workgroup> b_s: array<vec4<f32>, 64>;
var<workgroup> do_s: array<vec4<f32>, 64>;
// P and dS by query: [4·t + g] holds keys 4g … 4g+3 of query t.
var<workgroup> p_s: array<vec4<f32>, 64>;
var<workgroup> ds_s: array<vec4<f32>, 64>;

// qkv[row, col + c], or 0 past the head's channels.
fn at(row: u32, col: u32, c: u32) -> f32 {
    var v = 0.0;
    if (c < p.head_dim) {
        v = qkv[row * p.qkv_stride + col + c];
    }
    return v;
}

fn four_channels(row: u32, col: u32, c: u32) -> vec4<f32> {
    return vec4<f32>(at(row, col, c), at(row, col, c + 1u), at(row, col, c + 2u),
        at(row, col, c + 3u));
}

// Channel c of tokens 4g … 4g+3 of the image whose first row is `first`.
fn four_tokens(first: u32, g: u32, col: u32, c: u32) -> vec4<f32> {
    let r = first + 4u * g;
    return vec4<f32>(at(r, col, c), at(r + 1u, col, c), at(r + 2u, col, c), at(r + 3u, col, c));
}

fn grad_at(row: u32, col: u32, c: u32) -> f32 {
    var v = 0.0;
    if (c < p.head_dim) {
        v = d_gated[row * p.out_stride + col + c];
    }
    return v;
}

// dO's channels c … c+3 of token row `row`.
fn four_grads(row: u32, col: u32, c: u32, k: f32) -> vec4<f32> {
    return k * vec4<f32>(grad_at(row, col, c), grad_at(row, col, c + 1u),
        grad_at(row, col, c + 2u), grad_at(row, col, c + 3u));
}

fn store(row: u32, col: u32, c: u32, v: f32, dead: bool) {
    if (c < p.head_dim) {
        dqkv[row * p.qkv_stride + col + c] = select(v, 0.0, dead);
    }
}

fn store4(row: u32, col: u32, c: u32, v: vec4<f32>, dead: bool) {
    store(row, col, c, v.x, dead);
    store(row, col, c + 1u, v.y, dead);
    store(row, col, c + 2u, v.z, dead);
    store(row, col, c + 3u, v.w, dead);
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
    let k = coef[h];
    // A masked head's gradient is zero; computing it anyway keeps control flow uniform, and
    // the stores write +0 whatever the operands hold.
    let dead = k == 0.0;

    // dP[t, 4l … 4l+3] = Σ_c dO[t, c] V[4l …, c]
    var dp = vec4<f32>(0.0);
    for (var chunk = 0u; chunk < p.chunks; chunk++) {
        let c0 = 16u * chunk;
        do_s[i] = four_grads(first + t, q_col, c0 + 4u * l, k);
        // V by channel: here t names the chunk's channel and l the group of four tokens.
        a_s[i] = four_tokens(first, l, v_col, c0 + t);
        workgroupBarrier();
        for (var j = 0u; j < 4u; j++) {
            let g = do_s[4u * t + j];
            dp += g.x * a_s[16u * j + l];
            dp += g.y * a_s[16u * j + 4u + l];
            dp += g.z * a_s[16u * j + 8u + l];
            dp += g.w * a_s[16u * j + 12u + l];
        }
        workgroupBarrier();
    }

    // dS = P ⊙ (dP − rowsum(P ⊙ dP)) / √d, the row sum over the four invocations of query t.
    let prob = probs[((b * p.heads + h) * 16u + t) * 4u + l];
    p_s[i] = prob * dp;
    workgroupBarrier();
    let r4 = p_s[4u * t] + p_s[4u * t + 1u] + p_s[4u * t + 2u] + p_s[4u * t + 3u];
    let row_sum = r4.x + r4.y + r4.z + r4.w;
    workgroupBarrier();
    p_s[i] = prob;
    ds_s[i] = prob * (dp - row_sum) * p.scale;

    // Per chunk, for token r = t and channels c0 + 4l … +3:
    // dQ[r] = Σ_s dS[r, s] K[s],  dK[r] = Σ_u dS[u, r] Q[u],  dV[r] = Σ_u P[u, r] dO[u].
    let r = t;
    let r_group = r / 4u;
    let r_lane = r % 4u;
    for (var chunk = 0u; chunk < p.chunks; chunk++) {
        let c0 = 16u * chunk;
        // p_s and ds_s are written (and the previous chunk read) before the operands change.
        workgroupBarrier();
        a_s[i] = four_channels(first + t, q_col, c0 + 4u * l);
        b_s[i] = four_channels(first + t, k_col, c0 + 4u * l);
        do_s[i] = four_grads(first + t, q_col, c0 + 4u * l, k);
        workgroupBarrier();
        var dq = vec4<f32>(0.0);
        for (var j = 0u; j < 4u; j++) {
            let ds = ds_s[4u * r + j];
            dq += ds.x * b_s[16u * j + l];
            dq += ds.y * b_s[16u * j + 4u + l];
            dq += ds.z * b_s[16u * j + 8u + l];
            dq += ds.w * b_s[16u * j + 12u + l];
        }
        var dk = vec4<f32>(0.0);
        var dv = vec4<f32>(0.0);
        for (var u = 0u; u < 16u; u++) {
            dk += ds_s[4u * u + r_group][r_lane] * a_s[4u * u + l];
            dv += p_s[4u * u + r_group][r_lane] * do_s[4u * u + l];
        }
        let c = c0 + 4u * l;
        store4(first + r, q_col, c, dq, dead);
        store4(first + r, k_col, c, dk, dead);
        store4(first + r, v_col, c, dv, dead);
    }
}
