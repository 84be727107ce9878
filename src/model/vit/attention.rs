//! Multi-head self-attention over each image's 16 tokens (Vaswani et al. 2017), laid out as
//! timm's `Attention`: the `qkv` output row of a token is `[q | k | v]`, each `D` wide with the
//! heads contiguous (`reshape(B, N, 3, H, d)`), and the heads' outputs are concatenated back in
//! head order before `proj`.
//!
//! Everything here works on one (image, head) at a time: a 16×16 score matrix and 16×d
//! operands, read in place from the qkv rows (each head's channels are contiguous there) except
//! for keys and values, which are gathered transposed so the loops over the 16 tokens are
//! contiguous and vectorise.

use super::{TOKENS, buffers, parallel};

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

/// Offset of head `h`'s chunk `chunk` (0 q, 1 k, 2 v) in the qkv row of token `t` of image `b`.
fn qkv_at(dims: Dims, b: usize, t: usize, chunk: usize, h: usize) -> usize {
    let dim = dims.dim();
    (b * T + t) * 3 * dim + chunk * dim + h * dims.head_dim
}

/// Copies head `h`'s keys (chunk 1) or values (chunk 2) of image `b` out of the qkv rows,
/// transposed: `out[j·16 + s]` is channel j of token s. With the tokens innermost, the
/// score and dP loops run over 16 contiguous lanes instead of reducing across d.
fn gather_transposed(qkv: &[f32], dims: Dims, b: usize, h: usize, chunk: usize, out: &mut [f32]) {
    let d = dims.head_dim;
    for s in 0..T {
        let row = &qkv[qkv_at(dims, b, s, chunk, h)..][..d];
        for (j, &v) in row.iter().enumerate() {
            out[j * T + s] = v;
        }
    }
}

/// `acc += s · x`.
fn axpy(acc: &mut [f32], s: f32, x: &[f32]) {
    for (a, &v) in acc.iter_mut().zip(x) {
        *a += s * v;
    }
}

/// `row[s] = Σ_j a[j] · bt[j·16 + s]` for the 16 tokens s.
fn row_times_transposed(a: &[f32], bt: &[f32], row: &mut [f32; T]) {
    *row = [0.0; T];
    for (&x, col) in a.iter().zip(bt.chunks_exact(T)) {
        for (r, &y) in row.iter_mut().zip(col) {
            *r += x * y;
        }
    }
}

/// Attention for every (image, head) of a batch; `coef[h]` scales head h's output.
pub fn forward(qkv: &[f32], dims: Dims, coef: &[f32]) -> Forward {
    let (dim, heads) = (dims.dim(), dims.heads);
    if dim == 0 {
        // A compacted block with no heads left: its attention adds only `proj`'s bias.
        return Forward {
            heads: Vec::new(),
            gated: Vec::new(),
            probs: Vec::new(),
        };
    }
    let rows = dims.images * T;
    let mut out = buffers::zeroed(rows * dim);
    let mut gated = buffers::zeroed(rows * dim);
    let mut probs = buffers::zeroed(dims.images * heads * T * T);
    let b = parallel::bounds(dims.images);
    let parts: Vec<_> = b
        .windows(2)
        .map(|w| w[0])
        .zip(parallel::split(&mut out, &b, T * dim))
        .zip(parallel::split(&mut gated, &b, T * dim))
        .zip(parallel::split(&mut probs, &b, heads * T * T))
        .map(|(((first, o), g), p)| (first, o, g, p))
        .collect();
    parallel::run(parts, |(first, o, g, p)| {
        forward_images(qkv, dims, coef, first, o, g, p)
    });
    Forward {
        heads: out,
        gated,
        probs,
    }
}

/// [`forward`] for the images from `first` on that `out`, `gated` and `probs` hold.
fn forward_images(
    qkv: &[f32],
    dims: Dims,
    coef: &[f32],
    first: usize,
    out: &mut [f32],
    gated: &mut [f32],
    probs: &mut [f32],
) {
    let (dim, d, heads) = (dims.dim(), dims.head_dim, dims.heads);
    let scale = 1.0 / (d as f32).sqrt();
    let mut kt = vec![0.0f32; d * T];
    let mut row = [0.0f32; T];
    for local in 0..out.len() / (T * dim) {
        let b = first + local;
        for h in 0..heads {
            gather_transposed(qkv, dims, b, h, 1, &mut kt);
            let p = &mut probs[(local * heads + h) * T * T..][..T * T];
            let c = coef[h];
            for t in 0..T {
                let q = &qkv[qkv_at(dims, b, t, 0, h)..][..d];
                row_times_transposed(q, &kt, &mut row);
                let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
                let mut sum = 0.0f32;
                for r in row.iter_mut() {
                    *r = ((*r - max) * scale).exp();
                    sum += *r;
                }
                let inv = 1.0 / sum;
                let pt = &mut p[t * T..(t + 1) * T];
                let at = (local * T + t) * dim + h * d;
                let o = &mut out[at..at + d];
                for (s, (dst, &r)) in pt.iter_mut().zip(&row).enumerate() {
                    *dst = r * inv;
                    axpy(o, *dst, &qkv[qkv_at(dims, b, s, 2, h)..][..d]);
                }
                for (g, &x) in gated[at..at + d].iter_mut().zip(o.iter()) {
                    *g = x * c;
                }
            }
        }
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
    let (dim, heads) = (dims.dim(), dims.heads);
    if dim == 0 {
        return Backward {
            dqkv: Vec::new(),
            gate: Vec::new(),
        };
    }
    let rows = dims.images * T;
    let mut dqkv = buffers::zeroed(rows * 3 * dim);
    let mut gate = vec![0.0f32; dims.images * heads];
    let b = parallel::bounds(dims.images);
    let parts: Vec<_> = b
        .windows(2)
        .map(|w| w[0])
        .zip(parallel::split(&mut dqkv, &b, T * 3 * dim))
        .zip(parallel::split(&mut gate, &b, heads))
        .map(|((first, dq), g)| (first, dq, g))
        .collect();
    let inputs = BackwardInputs {
        qkv,
        fwd_heads,
        probs,
        d_gated,
        dims,
        coef,
    };
    parallel::run(parts, |(first, dq, g)| {
        backward_images(&inputs, first, dq, g)
    });
    Backward { dqkv, gate }
}

struct BackwardInputs<'a> {
    qkv: &'a [f32],
    fwd_heads: &'a [f32],
    probs: &'a [f32],
    d_gated: &'a [f32],
    dims: Dims,
    coef: &'a [f32],
}

/// [`backward`] for the images from `first` on that `dqkv` and `gate` hold.
fn backward_images(x: &BackwardInputs, first: usize, dqkv: &mut [f32], gate: &mut [f32]) {
    let dims = x.dims;
    let (dim, d, heads) = (dims.dim(), dims.head_dim, dims.heads);
    let scale = 1.0 / (d as f32).sqrt();
    let qkv = x.qkv;
    // Offsets into this part's dqkv: the same layout, starting at image `first`.
    let base = first * T * 3 * dim;
    let mut vt = vec![0.0f32; d * T];
    let mut d_o = vec![0.0f32; d];
    let mut ds = [0.0f32; T];
    for local in 0..gate.len() / heads {
        let b = first + local;
        for h in 0..heads {
            let c = x.coef[h];
            let mut g = 0.0f32;
            for t in 0..T {
                let at = (b * T + t) * dim + h * d;
                let (dr, or) = (&x.d_gated[at..at + d], &x.fwd_heads[at..at + d]);
                g += dr.iter().zip(or).map(|(u, v)| u * v).sum::<f32>();
            }
            gate[local * heads + h] = g;
            if c == 0.0 {
                // A masked head passes no gradient back: its dqkv stays exactly 0.
                continue;
            }
            gather_transposed(qkv, dims, b, h, 2, &mut vt);
            let p = &x.probs[(b * heads + h) * T * T..][..T * T];
            for t in 0..T {
                let at = (b * T + t) * dim + h * d;
                for (u, &v) in d_o.iter_mut().zip(&x.d_gated[at..at + d]) {
                    *u = v * c;
                }
                let pt = &p[t * T..(t + 1) * T];
                // dP row, then dS in place.
                row_times_transposed(&d_o, &vt, &mut ds);
                let row_sum: f32 = ds.iter().zip(pt).map(|(u, v)| u * v).sum();
                for (u, &pv) in ds.iter_mut().zip(pt) {
                    *u = pv * (*u - row_sum) * scale;
                }
                let q = qkv_at(dims, b, t, 0, h);
                for s in 0..T {
                    // dV[s] += P[t, s] · dO[t]; dK[s] += dS[t, s] · Q[t]; dQ[t] += dS[t, s] · K[s].
                    let v = qkv_at(dims, b, s, 2, h) - base;
                    axpy(&mut dqkv[v..v + d], pt[s], &d_o);
                    let k = qkv_at(dims, b, s, 1, h);
                    axpy(&mut dqkv[k - base..k - base + d], ds[s], &qkv[q..q + d]);
                    axpy(&mut dqkv[q - base..q - base + d], ds[s], &qkv[k..k + d]);
                }
            }
        }
    }
}
