//! The forward pass: patches → embedding → blocks → mean pool → `fc_norm` → `head`, with the
//! activations the backward pass needs ([`VitActivations`]) or without them ([`Vit::logits`]).
//!
//! Every linear layer is one matrix product over all n·16 token rows (or n pooled rows for the
//! head), so the GEMM does almost all the work.

use ndarray::{Array1, Array2, ArrayView2};

use super::attention::{self, Dims};
use super::layer_norm::{self, LnCache};
use super::{PATCH_PIXELS, TOKENS, Vit, VitConfig, buffers, gelu};
use crate::model::Layer;

/// Image side and patch side in pixels: 28×28 images cut into a 4×4 grid of 7×7 patches.
const SIDE: usize = 28;
const PATCH: usize = 7;
const GRID: usize = SIDE / PATCH;
/// Pixels per image.
pub const PIXELS: usize = SIDE * SIDE;

/// The gates the model multiplies in and differentiates through: ξ (per block, per head, on the
/// head's output before `proj`) and γ (per block, on both residual branches). A model's own
/// forward pass holds them all at 1; other values are for finite differences and for soft
/// gating experiments.
#[derive(Debug, Clone, PartialEq)]
pub struct Gates {
    /// ξ: per block, `[H]`.
    pub head: Vec<Array1<f32>>,
    /// γ: per block.
    pub block: Vec<f32>,
}

impl Gates {
    /// Every gate at 1 for a ViT with `config`'s widths in every block.
    pub fn ones(config: &VitConfig) -> Self {
        Self {
            head: vec![Array1::ones(config.heads); config.depth],
            block: vec![1.0; config.depth],
        }
    }

    /// Every gate at 1 for `vit`'s blocks as they are (compacted blocks have fewer heads): the
    /// model as it is.
    pub fn of(vit: &Vit) -> Self {
        Self {
            head: (0..vit.depth())
                .map(|b| Array1::ones(vit.heads_in(b)))
                .collect(),
            block: vec![1.0; vit.depth()],
        }
    }
}

/// What one block's forward pass keeps. Row-major `[n·16, ·]` unless noted.
#[derive(Debug, Clone)]
pub struct BlockActivations {
    pub(super) ln1: LnCache,
    /// `norm1`'s output: what `qkv` multiplies.
    pub norm1: Array2<f32>,
    /// `qkv`'s output `[n·16, 3D]`.
    pub qkv: Array2<f32>,
    /// Attention probabilities `[n, H, 16, 16]`, flat.
    pub(super) probs: Vec<f32>,
    /// The heads' outputs O before their gates and masks, concatenated `[n·16, D]`.
    pub heads: Array2<f32>,
    /// O with each head scaled by ξ_h · head_mask_h: what `proj` multiplies.
    pub gated: Array2<f32>,
    /// `proj`'s output, the attention branch before γ.
    pub(super) attn_out: Array2<f32>,
    pub(super) ln2: LnCache,
    /// `norm2`'s output: what `fc1` multiplies.
    pub norm2: Array2<f32>,
    /// `fc1`'s output (GELU's input) `[n·16, rD]`.
    pub(super) pre: Array2<f32>,
    /// Φ(pre), for GELU's derivative.
    pub(super) cdf: Vec<f32>,
    /// GELU's output: what `fc2` multiplies `[n·16, rD]`.
    pub act: Array2<f32>,
    /// `fc2`'s output, the MLP branch before γ.
    pub(super) mlp_out: Array2<f32>,
}

/// Everything the forward pass keeps for [`Vit::backward`].
#[derive(Debug, Clone)]
pub struct VitActivations {
    /// `[n·16, 49]`: what `patch_embed.proj` multiplies.
    pub patches: Array2<f32>,
    pub blocks: Vec<BlockActivations>,
    pub(super) fc_ln: LnCache,
    /// `fc_norm(mean over tokens)` `[n, D]`: what `head` multiplies.
    pub features: Array2<f32>,
    pub logits: Array2<f32>,
    pub(super) gates: Gates,
}

/// `x Wᵀ + b` for every row of `x`.
pub(super) fn linear(layer: &Layer, x: &Array2<f32>) -> Array2<f32> {
    let mut z = buffers::matmul_t(x, layer.weight.view());
    z += &layer.bias;
    z
}

fn from_vec(rows: usize, cols: usize, v: Vec<f32>) -> Array2<f32> {
    Array2::from_shape_vec((rows, cols), v).unwrap_or_else(|_| unreachable!("sized by the caller"))
}

impl Vit {
    /// Cuts a batch `[n, 784]` of 28×28 images into `[n·16, 49]` patch rows, as timm's
    /// stride-7 `Conv2d` then `flatten(2).transpose(1, 2)` sees them: token t = 4·gy + gx, and
    /// within a patch pixel (py, px) is column 7·py + px.
    pub fn patches(x: ArrayView2<f32>) -> Array2<f32> {
        assert_eq!(
            x.ncols(),
            PIXELS,
            "the ViT takes 28×28 images, 784 pixels a row"
        );
        let n = x.nrows();
        let x = x.as_standard_layout();
        let xs = x
            .as_slice()
            .unwrap_or_else(|| unreachable!("standard layout"));
        let mut out = buffers::zeroed(n * TOKENS * PATCH_PIXELS);
        for (img, dst) in xs
            .chunks_exact(PIXELS)
            .zip(out.chunks_exact_mut(TOKENS * PATCH_PIXELS))
        {
            for (t, patch) in dst.chunks_exact_mut(PATCH_PIXELS).enumerate() {
                let (gy, gx) = (t / GRID, t % GRID);
                for py in 0..PATCH {
                    let src = (PATCH * gy + py) * SIDE + PATCH * gx;
                    patch[py * PATCH..(py + 1) * PATCH].copy_from_slice(&img[src..src + PATCH]);
                }
            }
        }
        from_vec(n * TOKENS, PATCH_PIXELS, out)
    }

    /// The forward pass for training, with every gate at 1.
    pub fn forward(&self, x: ArrayView2<f32>) -> VitActivations {
        self.forward_gated(x, &Gates::of(self))
    }

    /// The forward pass with the given gate values, keeping what the backward pass needs.
    pub fn forward_gated(&self, x: ArrayView2<f32>, gates: &Gates) -> VitActivations {
        let patches = Self::patches(x);
        let mut h = self.embed(&patches);
        let blocks = (0..self.config.depth)
            .map(|i| self.block(i, &mut h, gates))
            .collect();
        let (fc_ln, features, logits) = self.classify(&h);
        buffers::recycle_array(h);
        VitActivations {
            patches,
            blocks,
            fc_ln,
            features,
            logits,
            gates: gates.clone(),
        }
    }

    /// Logits with the given gate values, keeping one block's activations at a time.
    pub fn logits_gated(&self, x: ArrayView2<f32>, gates: &Gates) -> Array2<f32> {
        let mut h = self.embed(&Self::patches(x));
        for i in 0..self.config.depth {
            drop(self.block(i, &mut h, gates));
        }
        let logits = self.classify(&h).2;
        buffers::recycle_array(h);
        logits
    }

    /// The residual stream entering block 0 and leaving each block, `depth + 1` arrays of
    /// `[n·16, D]`.
    pub fn residual_streams(&self, x: ArrayView2<f32>) -> Vec<Array2<f32>> {
        let gates = Gates::of(self);
        let mut h = self.embed(&Self::patches(x));
        let mut out = vec![h.clone()];
        for i in 0..self.config.depth {
            drop(self.block(i, &mut h, &gates));
            out.push(h.clone());
        }
        buffers::recycle_array(h);
        out
    }

    /// For one image (`[1, 784]` or the first row of `x`), per block `[heads, 16]`: the
    /// attention each patch receives from head h, averaged over the 16 queries (each query's
    /// probabilities sum to 1, so each row sums to 1). A masked head's row is what it would
    /// attend to; its output is dropped after.
    pub fn attention_received(&self, x: ArrayView2<f32>) -> Vec<Array2<f32>> {
        let x = x.slice(ndarray::s![0..1.min(x.nrows()), ..]);
        let acts = self.forward(x);
        acts.blocks
            .iter()
            .enumerate()
            .map(|(b, a)| {
                let heads = self.heads_in(b);
                let mut out = Array2::<f32>::zeros((heads, TOKENS));
                for h in 0..heads {
                    let p = &a.probs[h * TOKENS * TOKENS..(h + 1) * TOKENS * TOKENS];
                    for q in 0..TOKENS {
                        for k in 0..TOKENS {
                            out[[h, k]] += p[q * TOKENS + k] / TOKENS as f32;
                        }
                    }
                }
                out
            })
            .collect()
    }

    /// What linear layer `layer` multiplies for the batch `x` (see [`crate::model::Network::
    /// linear_inputs`]), running the model only as far as that layer.
    pub(super) fn linear_input(&self, x: ArrayView2<f32>, layer: usize) -> Array2<f32> {
        let patches = Self::patches(x);
        if layer == Self::PATCH_EMBED {
            return patches;
        }
        assert!(
            layer <= self.head(),
            "linear layer {layer} of {}",
            self.head() + 1
        );
        let gates = Gates::of(self);
        let mut h = self.embed(&patches);
        for i in 0..self.config.depth {
            let mut acts = self.block(i, &mut h, &gates);
            let take = std::mem::take;
            match layer {
                l if l == Self::qkv(i) => return take(&mut acts.norm1),
                l if l == Self::proj(i) => return take(&mut acts.gated),
                l if l == Self::fc1(i) => return take(&mut acts.norm2),
                l if l == Self::fc2(i) => return take(&mut acts.act),
                _ => {}
            }
        }
        self.classify(&h).1
    }

    /// Patch embedding plus position embedding: the residual stream's start, `[n·16, D]`.
    fn embed(&self, patches: &Array2<f32>) -> Array2<f32> {
        let mut h = linear(&self.linears[Self::PATCH_EMBED], patches);
        for mut img in h.exact_chunks_mut((TOKENS, self.config.dim)) {
            img += &self.pos_embed;
        }
        h
    }

    /// Block `i` (pre-LN): `h += γ·proj(ξ ⊙ attn(norm1(h)))`, then
    /// `h += γ·fc2(GELU(fc1(norm2(h))))`, updating the residual stream in place.
    fn block(&self, i: usize, h: &mut Array2<f32>, gates: &Gates) -> BlockActivations {
        let rows = h.nrows();
        let gamma = self.gamma(i, gates);

        let (norm1, ln1) = layer_norm::forward(h, &self.norm1[i]);
        let qkv = linear(&self.linears[Self::qkv(i)], &norm1);
        let dims = self.dims(i, rows / TOKENS);
        let att = attention::forward(qkv.as_slice().unwrap(), dims, &self.coef(i, gates));
        let width = dims.heads * dims.head_dim;
        let heads = from_vec(rows, width, att.heads);
        let gated = from_vec(rows, width, att.gated);
        let attn_out = linear(&self.linears[Self::proj(i)], &gated);
        add_scaled(h, &attn_out, gamma);

        let (norm2, ln2) = layer_norm::forward(h, &self.norm2[i]);
        let pre = linear(&self.linears[Self::fc1(i)], &norm2);
        let (act, cdf) = gelu::forward(pre.as_slice().unwrap());
        let act = from_vec(rows, pre.ncols(), act);
        let mlp_out = linear(&self.linears[Self::fc2(i)], &act);
        add_scaled(h, &mlp_out, gamma);

        BlockActivations {
            ln1,
            norm1,
            qkv,
            probs: att.probs,
            heads,
            gated,
            attn_out,
            ln2,
            norm2,
            pre,
            cdf,
            act,
            mlp_out,
        }
    }

    /// Block `i`'s attention shapes for `images` images.
    pub(super) fn dims(&self, i: usize, images: usize) -> Dims {
        Dims {
            images,
            heads: self.heads_in(i),
            head_dim: self.head_dim(),
        }
    }

    /// What multiplies head h's output in block `i`: its gate ξ times its mask.
    pub(super) fn coef(&self, i: usize, gates: &Gates) -> Vec<f32> {
        (0..self.heads_in(i))
            .map(|j| gates.head[i][j] * self.head_mask[i][j])
            .collect()
    }

    /// Block `i`'s branch scale: its gate γ, or 0 once the block is removed.
    pub(super) fn gamma(&self, i: usize, gates: &Gates) -> f32 {
        if self.removed[i] { 0.0 } else { gates.block[i] }
    }

    /// timm's `forward_head` with `global_pool='avg'`: the mean over the 16 tokens, then
    /// `fc_norm`, then `head`. Returns fc_norm's cache, its output and the logits.
    fn classify(&self, h: &Array2<f32>) -> (LnCache, Array2<f32>, Array2<f32>) {
        let dim = self.config.dim;
        let n = h.nrows() / TOKENS;
        let mut pooled = Array2::<f32>::zeros((n, dim));
        let inv = 1.0 / TOKENS as f32;
        for (mut p, img) in pooled
            .rows_mut()
            .into_iter()
            .zip(h.exact_chunks((TOKENS, dim)))
        {
            for tok in img.rows() {
                p += &tok;
            }
            p *= inv;
        }
        let (features, ln) = layer_norm::forward(&pooled, &self.fc_norm);
        let logits = linear(&self.linears[self.head()], &features);
        (ln, features, logits)
    }
}

impl Drop for BlockActivations {
    /// Hands the buffers back for the next step (see [`buffers`]).
    fn drop(&mut self) {
        use std::mem::take;
        for a in [
            take(&mut self.ln1.xhat),
            take(&mut self.norm1),
            take(&mut self.qkv),
            take(&mut self.heads),
            take(&mut self.gated),
            take(&mut self.attn_out),
            take(&mut self.ln2.xhat),
            take(&mut self.norm2),
            take(&mut self.pre),
            take(&mut self.act),
            take(&mut self.mlp_out),
        ] {
            buffers::recycle_array(a);
        }
        buffers::recycle(take(&mut self.probs));
        buffers::recycle(take(&mut self.cdf));
    }
}

impl Drop for VitActivations {
    fn drop(&mut self) {
        buffers::recycle_array(std::mem::take(&mut self.patches));
    }
}

/// `h += s·y`.
fn add_scaled(h: &mut Array2<f32>, y: &Array2<f32>, s: f32) {
    if s == 1.0 {
        *h += y;
    } else {
        h.scaled_add(s, y);
    }
}
