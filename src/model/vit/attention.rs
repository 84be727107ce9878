//! Multi-head self-attention over each image's 16 tokens (Vaswani et al. 2017), laid out as
//! timm's `Attention`: the `qkv` output row of a token is `[q | k | v]`, each `D` wide with the
//! heads contiguous (`reshape(B, N, 3, H, d)`), and the heads' outputs are concatenated back in
//! head order before `proj`.
//!
//! Everything here works on one (image, head) at a time: a 16×16 score matrix and 16×d
//! operands, gathered into small contiguous buffers so the inner loops vectorise.

use super::TOKENS;

const T: usize = TOKENS;

/// The shapes one call works over.
#[derive(Debug, Clone, Copy)]
pub struct Dims {
    /// Images in the batch.
    pub images: usize,
    pub heads: usize,
    /// Channels per head, d = D / H.
    pub head_dim: usize,
}

impl Dims {
    fn dim(&self) -> usize {
        self.heads * self.head_dim
    }
}

/// What the forward pass produces for a batch.
pub struct Forward {
    /// The heads' outputs O = softmax(q kᵀ/√d) v, concatenated: `[n·16, D]` row-major.
    pub heads: Vec<f32>,
    /// `heads` with head h's columns multiplied by `coef[h]` (its gate times its mask): what
    /// `proj` multiplies.
    pub gated: Vec<f32>,
    /// The attention probabilities, `[n, H, 16, 16]` row-major (query-major).
    pub probs: Vec<f32>,
}

/// Copies the `d` channels of head `h`'s chunk `chunk` (0 q, 1 k, 2 v) of image `b`'s 16 tokens
/// out of the `[n·16, 3D]` qkv rows into `out` (`[16, d]`).
fn gather(qkv: &[f32], dims: Dims, b: usize, h: usize, chunk: usize, out: &mut [f32]) {
    let (dim, d) = (dims.dim(), dims.head_dim);
    for t in 0..T {
        let start = (b * T + t) * 3 * dim + chunk * dim + h * d;
        out[t * d..(t + 1) * d].copy_from_slice(&qkv[start..start + d]);
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// `acc += s · x`.
fn axpy(acc: &mut [f32], s: f32, x: &[f32]) {
    for (a, &v) in acc.iter_mut().zip(x) {
        *a += s * v;
    }
}

/// Attention for every (image, head) of a batch; `coef[h]` scales head h's output.
pub fn forward(qkv: &[f32], dims: Dims, coef: &[f32]) -> Forward {
    let (dim, d, heads) = (dims.dim(), dims.head_dim, dims.heads);
    let rows = dims.images * T;
    let scale = 1.0 / (d as f32).sqrt();
    let mut out = vec![0.0f32; rows * dim];
    let mut gated = vec![0.0f32; rows * dim];
    let mut probs = vec![0.0f32; dims.images * heads * T * T];
    let (mut q, mut k, mut v) = (vec![0.0; T * d], vec![0.0; T * d], vec![0.0; T * d]);
    let mut o = vec![0.0f32; T * d];
    for b in 0..dims.images {
        for h in 0..heads {
            gather(qkv, dims, b, h, 0, &mut q);
            gather(qkv, dims, b, h, 1, &mut k);
            gather(qkv, dims, b, h, 2, &mut v);
            let p = &mut probs[(b * heads + h) * T * T..][..T * T];
            o.fill(0.0);
            for t in 0..T {
                let qt = &q[t * d..(t + 1) * d];
                let row = &mut p[t * T..(t + 1) * T];
                let mut max = f32::NEG_INFINITY;
                for (s, r) in row.iter_mut().enumerate() {
                    *r = dot(qt, &k[s * d..(s + 1) * d]) * scale;
                    max = max.max(*r);
                }
                let mut sum = 0.0f32;
                for r in row.iter_mut() {
                    *r = (*r - max).exp();
                    sum += *r;
                }
                let inv = 1.0 / sum;
                let ot = &mut o[t * d..(t + 1) * d];
                for (s, r) in row.iter_mut().enumerate() {
                    *r *= inv;
                    axpy(ot, *r, &v[s * d..(s + 1) * d]);
                }
            }
            let c = coef[h];
            for t in 0..T {
                let start = (b * T + t) * dim + h * d;
                let ot = &o[t * d..(t + 1) * d];
                out[start..start + d].copy_from_slice(ot);
                for (g, &x) in gated[start..start + d].iter_mut().zip(ot) {
                    *g = x * c;
                }
            }
        }
    }
    Forward {
        heads: out,
        gated,
        probs,
    }
}

/// What the backward pass produces for a batch.
pub struct Backward {
    /// ∂L/∂qkv, `[n·16, 3D]` in the qkv layout.
    pub dqkv: Vec<f32>,
    /// Σ over image b's tokens and head h's channels of O ⊙ ∂L/∂(gated), `[n, H]`: times the
    /// head's mask this is ∂L/∂ξ_h from image b.
    pub gate: Vec<f32>,
}

/// Backward through attention from `d_gated` (∂L/∂ of `proj`'s input).
///
/// With dO = coef·d_gated: dV = Pᵀ dO, dP = dO Vᵀ, dS = P ⊙ (dP − rowsum(P ⊙ dP)),
/// dQ = dS K/√d, dK = dSᵀ Q/√d.
pub fn backward(
    qkv: &[f32],
    fwd_heads: &[f32],
    probs: &[f32],
    d_gated: &[f32],
    dims: Dims,
    coef: &[f32],
) -> Backward {
    let (dim, d, heads) = (dims.dim(), dims.head_dim, dims.heads);
    let rows = dims.images * T;
    let scale = 1.0 / (d as f32).sqrt();
    let mut dqkv = vec![0.0f32; rows * 3 * dim];
    let mut gate = vec![0.0f32; dims.images * heads];
    let (mut q, mut k, mut v) = (vec![0.0; T * d], vec![0.0; T * d], vec![0.0; T * d]);
    let mut d_o = vec![0.0f32; T * d];
    let (mut dq, mut dk, mut dv) = (vec![0.0; T * d], vec![0.0; T * d], vec![0.0; T * d]);
    let mut ds = vec![0.0f32; T * T];
    for b in 0..dims.images {
        for h in 0..heads {
            let c = coef[h];
            let mut g = 0.0f32;
            for t in 0..T {
                let start = (b * T + t) * dim + h * d;
                let (dr, or) = (&d_gated[start..start + d], &fwd_heads[start..start + d]);
                g += dot(dr, or);
                for (x, &y) in d_o[t * d..(t + 1) * d].iter_mut().zip(dr) {
                    *x = y * c;
                }
            }
            gate[b * heads + h] = g;
            if c == 0.0 {
                // A masked head passes no gradient back: dqkv stays exactly 0.
                continue;
            }
            gather(qkv, dims, b, h, 0, &mut q);
            gather(qkv, dims, b, h, 1, &mut k);
            gather(qkv, dims, b, h, 2, &mut v);
            let p = &probs[(b * heads + h) * T * T..][..T * T];
            dv.fill(0.0);
            dq.fill(0.0);
            dk.fill(0.0);
            for t in 0..T {
                let dot_t = &d_o[t * d..(t + 1) * d];
                let pt = &p[t * T..(t + 1) * T];
                let dst = &mut ds[t * T..(t + 1) * T];
                let mut row_sum = 0.0f32;
                for s in 0..T {
                    axpy(&mut dv[s * d..(s + 1) * d], pt[s], dot_t);
                    let dp = dot(dot_t, &v[s * d..(s + 1) * d]);
                    dst[s] = dp;
                    row_sum += dp * pt[s];
                }
                for s in 0..T {
                    dst[s] = pt[s] * (dst[s] - row_sum) * scale;
                }
                let qt = &q[t * d..(t + 1) * d];
                let dqt = &mut dq[t * d..(t + 1) * d];
                for s in 0..T {
                    axpy(dqt, dst[s], &k[s * d..(s + 1) * d]);
                    axpy(&mut dk[s * d..(s + 1) * d], dst[s], qt);
                }
            }
            for t in 0..T {
                let base = (b * T + t) * 3 * dim + h * d;
                let row = t * d..(t + 1) * d;
                dqkv[base..base + d].copy_from_slice(&dq[row.clone()]);
                dqkv[base + dim..base + dim + d].copy_from_slice(&dk[row.clone()]);
                dqkv[base + 2 * dim..base + 2 * dim + d].copy_from_slice(&dv[row]);
            }
        }
    }
    Backward { dqkv, gate }
}
