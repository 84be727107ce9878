//! The ViT trainer's GPU buffers: the parameters with their gradients and optimizer state
//! ([`Params`]), the widths they are made for ([`Shape`]), the forward pass's activations
//! ([`Acts`]), the backward pass's activation gradients ([`Grads`]) and a held-out split
//! ([`EvalSet`]), and the upload of a model's parameters.

use crate::gpu::GpuContext;
use crate::gpu::buffers::{pad4, padded_rows, padded_vec, with_contents, zeroed};
use crate::gpu::kernels::Dispatch;
use crate::gpu::trainer::{LayerBuffers, upload_layer};
use crate::model::vit::{BlockShape, PATCH_PIXELS, TOKENS};
use crate::model::{Network, Vit, VitConfig};

/// Attention probabilities per image and head: 16 queries × 16 keys.
const PROBS_PER_HEAD: usize = TOKENS * TOKENS;

/// A parameter tensor outside the linear layers (`pos_embed`, a LayerNorm's weight or bias) with
/// its gradient and Adam moments (SGD keeps its velocity in `m`).
pub(super) struct Param {
    /// Floats in the padded layout.
    pub(super) floats: usize,
    pub(super) p: wgpu::Buffer,
    pub(super) m: wgpu::Buffer,
    pub(super) v: wgpu::Buffer,
    pub(super) g: wgpu::Buffer,
}

impl Param {
    fn new(ctx: &GpuContext, name: &str, padded: &[f32]) -> Self {
        let floats = padded.len();
        Self {
            floats,
            p: with_contents(ctx, name, padded),
            m: zeroed(ctx, name, 4 * floats),
            v: zeroed(ctx, name, 4 * floats),
            g: zeroed(ctx, name, 4 * floats),
        }
    }
}

/// Index of `pos_embed` in [`Params::others`], which follow [`Network::others`]' order:
/// `pos_embed`, per block `norm1.weight`, `norm1.bias`, `norm2.weight`, `norm2.bias`, then
/// `fc_norm.weight` and `fc_norm.bias`.
pub(super) const POS_EMBED: usize = 0;

pub(super) fn norm1(block: usize) -> (usize, usize) {
    (1 + 4 * block, 2 + 4 * block)
}

pub(super) fn norm2(block: usize) -> (usize, usize) {
    (3 + 4 * block, 4 + 4 * block)
}

pub(super) fn fc_norm(depth: usize) -> (usize, usize) {
    (1 + 4 * depth, 2 + 4 * depth)
}

/// Every parameter on the GPU.
pub(super) struct Params {
    /// In [`Vit::linears`] order.
    pub(super) linears: Vec<LayerBuffers>,
    /// In [`Network::others`] order.
    pub(super) others: Vec<Param>,
    /// Per block, `[heads]`: what multiplies head h's output, its `head_mask` entry (the gates ξ
    /// are held at 1).
    pub(super) coef: Vec<wgpu::Buffer>,
}

impl Params {
    /// What a divergence must be able to undo: parameters and optimizer state.
    pub(super) fn state(&self) -> Vec<(&wgpu::Buffer, usize)> {
        let mut out: Vec<_> = self.linears.iter().flat_map(|l| l.state()).collect();
        for o in &self.others {
            out.extend([(&o.p, o.floats), (&o.m, o.floats), (&o.v, o.floats)]);
        }
        out
    }
}

/// The widths the buffers and dispatches are made for.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Shape {
    pub(super) dim: usize,
    pub(super) head_dim: usize,
    pub(super) classes: usize,
    pub(super) blocks: Vec<BlockShape>,
}

impl Shape {
    pub(super) fn of(vit: &Vit) -> Self {
        Self {
            dim: vit.config().dim,
            head_dim: vit.head_dim(),
            classes: vit.classes(),
            blocks: vit.block_shapes(),
        }
    }

    /// Channels of block `b`'s attention (heads × head_dim).
    pub(super) fn attn(&self, b: usize) -> usize {
        self.blocks[b].heads * self.head_dim
    }

    fn max_attn(&self) -> usize {
        (0..self.blocks.len())
            .map(|b| self.attn(b))
            .max()
            .unwrap_or(0)
    }

    fn max_heads(&self) -> usize {
        self.blocks.iter().map(|s| s.heads).max().unwrap_or(0)
    }

    fn max_hidden(&self) -> usize {
        self.blocks.iter().map(|s| s.hidden).max().unwrap_or(0)
    }

    /// The widest row any activation of one token has (floats, padded).
    fn widest_row(&self) -> usize {
        [
            pad4(PATCH_PIXELS),
            pad4(self.dim),
            pad4(3 * self.max_attn()),
            pad4(self.max_hidden()),
        ]
        .into_iter()
        .max()
        .unwrap_or(0)
    }

    /// Bytes of the largest activation buffer of a batch of `images` images.
    pub(super) fn largest_activation(&self, images: usize) -> u64 {
        let tokens = (4 * images * TOKENS * self.widest_row()) as u64;
        let probs = (4 * images * self.max_heads() * PROBS_PER_HEAD) as u64;
        tokens.max(probs)
    }
}

/// What one block's forward pass keeps for the backward pass (or, at evaluation, one set shared
/// by every block). `[rows, ·]` in the padded layout.
pub(super) struct BlockActs {
    pub(super) ln1_xhat: wgpu::Buffer,
    pub(super) ln1_rstd: wgpu::Buffer,
    pub(super) norm1: wgpu::Buffer,
    pub(super) qkv: wgpu::Buffer,
    /// Head outputs times `coef`: what `proj` multiplies.
    pub(super) gated: wgpu::Buffer,
    pub(super) probs: wgpu::Buffer,
    pub(super) ln2_xhat: wgpu::Buffer,
    pub(super) ln2_rstd: wgpu::Buffer,
    pub(super) norm2: wgpu::Buffer,
    /// `fc1`'s output, GELU's input.
    pub(super) pre: wgpu::Buffer,
    pub(super) act: wgpu::Buffer,
}

impl BlockActs {
    fn new(
        ctx: &GpuContext,
        images: usize,
        dim: usize,
        heads: usize,
        attn: usize,
        hidden: usize,
    ) -> Self {
        let rows = images * TOKENS;
        let m = |name: &str, width: usize| zeroed(ctx, name, 4 * rows * pad4(width));
        Self {
            ln1_xhat: m("norm1 x̂", dim),
            ln1_rstd: zeroed(ctx, "norm1 1/σ", 4 * rows),
            norm1: m("norm1 output", dim),
            qkv: m("qkv", 3 * attn),
            gated: m("gated heads", attn),
            probs: zeroed(
                ctx,
                "attention probabilities",
                4 * images * heads * PROBS_PER_HEAD,
            ),
            ln2_xhat: m("norm2 x̂", dim),
            ln2_rstd: zeroed(ctx, "norm2 1/σ", 4 * rows),
            norm2: m("norm2 output", dim),
            pre: m("fc1 output", hidden),
            act: m("GELU output", hidden),
        }
    }
}

/// A batch's forward-pass buffers.
pub(super) struct Acts {
    pub(super) images: usize,
    /// The patches `[images·16, 49]`.
    pub(super) x: wgpu::Buffer,
    pub(super) y: wgpu::Buffer,
    /// The residual stream `[images·16, D]`.
    pub(super) h: wgpu::Buffer,
    /// A branch's output (`proj`'s or `fc2`'s) before it is added to `h`.
    pub(super) branch: wgpu::Buffer,
    /// The heads' outputs before their coefficients (not needed after).
    pub(super) heads_out: wgpu::Buffer,
    /// One per block for training; one shared by all for evaluation.
    pub(super) blocks: Vec<BlockActs>,
    pub(super) pooled: wgpu::Buffer,
    pub(super) fc_xhat: wgpu::Buffer,
    pub(super) fc_rstd: wgpu::Buffer,
    pub(super) features: wgpu::Buffer,
    pub(super) logits: wgpu::Buffer,
}

impl Acts {
    /// `per_block`: one [`BlockActs`] per block at its own widths (training), else one at the
    /// widest block's (evaluation, which keeps nothing).
    pub(super) fn new(ctx: &GpuContext, shape: &Shape, images: usize, per_block: bool) -> Self {
        let (rows, d) = (images * TOKENS, shape.dim);
        let blocks = if per_block {
            (0..shape.blocks.len())
                .map(|b| {
                    let s = shape.blocks[b];
                    BlockActs::new(ctx, images, d, s.heads, shape.attn(b), s.hidden)
                })
                .collect()
        } else {
            vec![BlockActs::new(
                ctx,
                images,
                d,
                shape.max_heads(),
                shape.max_attn(),
                shape.max_hidden(),
            )]
        };
        Self {
            images,
            x: zeroed(ctx, "patches", 4 * rows * pad4(PATCH_PIXELS)),
            y: zeroed(ctx, "batch labels", 4 * images),
            h: zeroed(ctx, "residual stream", 4 * rows * pad4(d)),
            branch: zeroed(ctx, "branch output", 4 * rows * pad4(d)),
            heads_out: zeroed(ctx, "head outputs", 4 * rows * pad4(shape.max_attn())),
            blocks,
            pooled: zeroed(ctx, "pooled", 4 * images * pad4(d)),
            fc_xhat: zeroed(ctx, "fc_norm x̂", 4 * images * pad4(d)),
            fc_rstd: zeroed(ctx, "fc_norm 1/σ", 4 * images),
            features: zeroed(ctx, "features", 4 * images * pad4(d)),
            logits: zeroed(ctx, "logits", 4 * images * pad4(shape.classes)),
        }
    }

    pub(super) fn rows(&self) -> usize {
        self.images * TOKENS
    }

    pub(super) fn block(&self, b: usize) -> &BlockActs {
        &self.blocks[b.min(self.blocks.len() - 1)]
    }
}

/// The backward pass's gradients of activations (parameter gradients live beside the
/// parameters).
pub(super) struct Grads {
    pub(super) d_logits: wgpu::Buffer,
    pub(super) d_features: wgpu::Buffer,
    pub(super) d_pooled: wgpu::Buffer,
    /// ∂L/∂h, the residual stream's gradient.
    pub(super) dx: wgpu::Buffer,
    /// ∂L/∂(a LayerNorm's output), before it goes back through the LayerNorm.
    pub(super) d_norm: wgpu::Buffer,
    pub(super) d_act: wgpu::Buffer,
    pub(super) d_gated: wgpu::Buffer,
    pub(super) dqkv: wgpu::Buffer,
    /// Zeros to clear `d_pooled` from, which the LayerNorm backward accumulates into.
    pub(super) zeros: wgpu::Buffer,
}

impl Grads {
    pub(super) fn new(ctx: &GpuContext, shape: &Shape, images: usize) -> Self {
        let (rows, d) = (images * TOKENS, shape.dim);
        let m = |name: &str, r: usize, width: usize| zeroed(ctx, name, 4 * r * pad4(width));
        Self {
            d_logits: m("logit gradients", images, shape.classes),
            d_features: m("feature gradients", images, d),
            d_pooled: m("pooled gradients", images, d),
            dx: m("residual gradients", rows, d),
            d_norm: m("LayerNorm output gradients", rows, d),
            d_act: m("GELU output gradients", rows, shape.max_hidden()),
            d_gated: m("gated head gradients", rows, shape.max_attn()),
            dqkv: m("qkv gradients", rows, 3 * shape.max_attn()),
            zeros: m("zeros", images, d),
        }
    }

    /// Every buffer here, for clearing.
    pub(super) fn all(&self) -> [&wgpu::Buffer; 8] {
        [
            &self.d_logits,
            &self.d_features,
            &self.d_pooled,
            &self.dx,
            &self.d_norm,
            &self.d_act,
            &self.d_gated,
            &self.dqkv,
        ]
    }
}

/// A held-out split on the GPU with its gather and evaluation dispatches.
pub(super) struct EvalSet {
    pub(super) len: usize,
    pub(super) state: wgpu::Buffer,
    pub(super) predictions: wgpu::Buffer,
    pub(super) losses: wgpu::Buffer,
    pub(super) confusion: wgpu::Buffer,
    pub(super) gather: Dispatch,
    pub(super) evaluate: Dispatch,
    pub(super) advance: Dispatch,
}

impl Shape {
    /// A freshly built ViT's widths (every block at `c`'s).
    pub(super) fn of_config(c: &VitConfig) -> Self {
        Self {
            dim: c.dim,
            head_dim: c.head_dim(),
            classes: Vit::CLASSES,
            blocks: Vit::uniform_shapes(c),
        }
    }
}

pub(super) fn write(queue: &wgpu::Queue, buffer: &wgpu::Buffer, values: &[f32]) {
    if !values.is_empty() {
        queue.write_buffer(buffer, 0, bytemuck::cast_slice(values));
    }
}

/// `model`'s parameters outside the linear layers, in [`Network::others`] order, padded.
pub(super) fn others_padded(model: &Vit) -> Vec<Vec<f32>> {
    let mut out = vec![padded_rows(model.pos_embed().view())];
    for (n1, n2) in model.norm1().iter().zip(model.norm2()) {
        out.extend([
            padded_vec(&n1.weight),
            padded_vec(&n1.bias),
            padded_vec(&n2.weight),
            padded_vec(&n2.bias),
        ]);
    }
    let f = model.fc_norm();
    out.extend([padded_vec(&f.weight), padded_vec(&f.bias)]);
    out
}

/// Uploads every parameter of `model`, with zero gradients and optimizer state.
pub(super) fn upload(ctx: &GpuContext, model: &Vit) -> Params {
    Params {
        linears: model
            .linears()
            .iter()
            .map(|l| upload_layer(ctx, l))
            .collect(),
        others: others_padded(model)
            .iter()
            .map(|v| Param::new(ctx, "ViT parameter", v))
            .collect(),
        coef: model
            .head_masks()
            .iter()
            .map(|m| with_contents(ctx, "head coefficients", &padded_vec(m)))
            .collect(),
    }
}
