//! A tiny vision transformer with the semantics and parameter names of timm's
//! `VisionTransformer(img_size=28, patch_size=7, in_chans=1, num_classes=10, embed_dim=D,
//! depth=L, num_heads=H, mlp_ratio=r, qkv_bias=True, class_token=False, global_pool='avg')`,
//! so a file saved here loads into timm and computes the same logits.
//!
//! x (pixels / 255, 28×28) → 16 patches of 7×7 (grid row-major, pixels row-major in a patch)
//! → `patch_embed.proj` (a 49 → D linear layer; timm's stride-7 conv) + `pos_embed`
//! → L pre-LN blocks: x += γ·proj(ξ ⊙ Attn(norm1(x))); x += γ·fc2(GELU(fc1(norm2(x))))
//! → mean over the 16 tokens → `fc_norm` → `head`.
//!
//! ξ_h (one per head, on the head's output before `proj`) and γ_ℓ (one per block, on both of its
//! branches) are gates held at 1; their gradients score heads and blocks.

mod attention;
mod backward;
mod buffers;
mod config;
mod forward;
mod gelu;
mod init;
mod layer_norm;
mod network;
mod parallel;
mod parts;

pub use backward::GateGradients;
pub use config::VitConfig;
pub use forward::{BlockActivations, Gates, PIXELS, VitActivations};
pub use parts::linear_shapes_for;

/// The CPU engine's ViT operations, reachable for the tests that hold the GPU kernels to them.
/// Not an API: their shapes follow the CPU engine's needs and may change with it.
#[doc(hidden)]
pub mod reference {
    pub use super::attention::{
        Backward as AttentionBackward, Dims, Forward as AttentionForward,
        backward as attention_backward, forward as attention_forward,
    };
    pub use super::gelu::{backward as gelu_backward, forward as gelu_forward};
    pub use super::layer_norm::{
        LnCache, backward as layer_norm_backward, forward as layer_norm_forward,
    };
}

use ndarray::{Array1, Array2, s};

use super::Layer;
use crate::error::{Error, Result};

/// Tokens per image: a 4×4 grid of 7×7 patches.
pub const TOKENS: usize = 16;
/// Pixels per patch.
pub const PATCH_PIXELS: usize = 49;
/// LayerNorm's epsilon in timm's ViT.
pub const LN_EPS: f32 = 1e-6;
/// Classes a freshly initialised ViT predicts (MNIST's digits).
pub const CLASSES: usize = 10;

/// A LayerNorm's affine parameters (`….weight`, `….bias`), each `[D]`.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerNorm {
    pub weight: Array1<f32>,
    pub bias: Array1<f32>,
}

/// The model. Linear layers live in one list, in `--per-layer` order, so the core can prune them
/// without knowing where they sit: [`Vit::PATCH_EMBED`], then for block i the four at
/// [`Vit::qkv`]`(i)`, [`Vit::proj`]`(i)`, [`Vit::fc1`]`(i)`, [`Vit::fc2`]`(i)`, then the head.
#[derive(Debug, Clone, PartialEq)]
pub struct Vit {
    pub(crate) config: VitConfig,
    pub(crate) linears: Vec<Layer>,
    /// `pos_embed` without its leading 1: `[16, D]`.
    pub(crate) pos_embed: Array2<f32>,
    /// `blocks.{i}.norm1` and `.norm2`, per block.
    pub(crate) norm1: Vec<LayerNorm>,
    pub(crate) norm2: Vec<LayerNorm>,
    pub(crate) fc_norm: LayerNorm,
    /// `blocks.{i}.attn.head_mask`: 1 keeps head h of block i, 0 masks its output (its `proj`
    /// columns are then zero too). Its length is the block's head count, which compaction may
    /// have made smaller than `config.heads`.
    pub(crate) head_mask: Vec<Array1<f32>>,
    /// Blocks removed by layer pruning: each passes its input through unchanged (its branches'
    /// gate γ is held at 0, and its `attn.proj` and `mlp.fc2` weights and biases are zero).
    pub(crate) removed: Vec<bool>,
}

/// One block's widths. A freshly built ViT has `config.heads` heads and `config.hidden()` MLP
/// units in every block; compaction deletes heads and units block by block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockShape {
    pub heads: usize,
    pub hidden: usize,
}

impl Vit {
    pub const PATCH_EMBED: usize = 0;

    pub fn qkv(block: usize) -> usize {
        1 + 4 * block
    }

    pub fn proj(block: usize) -> usize {
        2 + 4 * block
    }

    pub fn fc1(block: usize) -> usize {
        3 + 4 * block
    }

    pub fn fc2(block: usize) -> usize {
        4 + 4 * block
    }

    /// Index of `head` among the linear layers: the last one.
    pub fn head(&self) -> usize {
        self.linears.len() - 1
    }

    pub fn config(&self) -> &VitConfig {
        &self.config
    }

    /// Blocks in the model (removed ones included: they are still there, as identities).
    pub fn depth(&self) -> usize {
        self.config.depth
    }

    /// Channels per head, the same in every block.
    pub fn head_dim(&self) -> usize {
        self.config.head_dim()
    }

    /// Heads in block `block`, masked ones included.
    pub fn heads_in(&self, block: usize) -> usize {
        self.head_mask[block].len()
    }

    /// MLP hidden units in block `block`.
    pub fn hidden_in(&self, block: usize) -> usize {
        self.linears[Self::fc1(block)].outputs()
    }

    pub fn block_shapes(&self) -> Vec<BlockShape> {
        (0..self.depth())
            .map(|b| BlockShape {
                heads: self.heads_in(b),
                hidden: self.hidden_in(b),
            })
            .collect()
    }

    /// Whether every block has the configuration's widths (no compaction happened).
    pub fn is_uniform(&self) -> bool {
        let c = &self.config;
        self.block_shapes()
            .iter()
            .all(|s| s.heads == c.heads && s.hidden == c.hidden())
    }

    /// Heads the model has, masked ones included.
    pub fn total_heads(&self) -> usize {
        (0..self.depth()).map(|b| self.heads_in(b)).sum()
    }

    /// The configuration, and where compaction changed them, each block's heads and MLP units:
    /// `vit-d64-l3-h4-r2 heads 4,2,3 mlp 128,128,96`.
    pub fn shape_summary(&self) -> String {
        if self.is_uniform() {
            return self.config.to_string();
        }
        let list = |f: fn(&BlockShape) -> usize| {
            self.block_shapes()
                .iter()
                .map(|s| f(s).to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        format!(
            "{} heads {} mlp {}",
            self.config,
            list(|s| s.heads),
            list(|s| s.hidden)
        )
    }

    /// Heads whose mask is 1.
    pub fn heads_kept(&self) -> usize {
        self.head_mask
            .iter()
            .map(|m| m.iter().filter(|&&v| v != 0.0).count())
            .sum()
    }
}

impl Vit {
    /// Linear layer `index`'s checkpoint name (without `.weight`) in a ViT of `depth` blocks.
    pub fn linear_name(depth: usize, index: usize) -> String {
        match index {
            0 => "patch_embed.proj".into(),
            i if i == 1 + 4 * depth => "head".into(),
            i => {
                let (block, which) = ((i - 1) / 4, (i - 1) % 4);
                let part = ["attn.qkv", "attn.proj", "mlp.fc1", "mlp.fc2"][which];
                format!("blocks.{block}.{part}")
            }
        }
    }

    /// Block `block`'s head mask: 1 keeps head h, 0 masks its output.
    pub fn head_mask(&self, block: usize) -> &Array1<f32> {
        &self.head_mask[block]
    }

    /// `pos_embed` as `[16, D]`.
    pub fn pos_embed(&self) -> &Array2<f32> {
        &self.pos_embed
    }

    pub fn norm1(&self) -> &[LayerNorm] {
        &self.norm1
    }

    pub fn norm2(&self) -> &[LayerNorm] {
        &self.norm2
    }

    pub fn fc_norm(&self) -> &LayerNorm {
        &self.fc_norm
    }

    /// Sets block `block`'s head mask (values normalised to 0/1). Each masked head's `proj`
    /// input columns are zeroed in both the weight and its mask, so the pruning is visible to
    /// everything that reads masks (sparsity, checkpoints) and no optimizer state can revive
    /// those weights. Unmasking a head leaves `proj`'s mask as it is.
    pub fn set_head_mask(&mut self, block: usize, mask: &[f32]) -> Result<()> {
        let (depth, d) = (self.config.depth, self.config.head_dim());
        if block >= depth || mask.len() != self.heads_in(block) {
            return Err(Error::Shape {
                op: "Vit::set_head_mask",
                detail: format!(
                    "{} values for block {block}; the model has {depth} blocks, that one of {} \
                     heads",
                    mask.len(),
                    self.head_mask.get(block).map_or(0, |m| m.len())
                ),
            });
        }
        let proj = &mut self.linears[Self::proj(block)];
        for (h, &m) in mask.iter().enumerate() {
            let keep = m != 0.0;
            self.head_mask[block][h] = if keep { 1.0 } else { 0.0 };
            if !keep {
                proj.weight.slice_mut(s![.., h * d..(h + 1) * d]).fill(0.0);
                proj.mask.slice_mut(s![.., h * d..(h + 1) * d]).fill(0.0);
            }
        }
        Ok(())
    }

    /// Which blocks layer pruning removed.
    pub fn removed_blocks(&self) -> &[bool] {
        &self.removed
    }

    /// Blocks still computing something.
    pub fn blocks_remaining(&self) -> usize {
        self.removed.iter().filter(|&&r| !r).count()
    }

    /// Removes (or, with `false`, keeps) each block. A removed block becomes the identity: its
    /// `attn.proj` and `mlp.fc2` weights, masks and biases are zeroed, so timm computes the same
    /// without knowing of the removal, and its gate is held at 0, so no gradient reaches its
    /// parameters and no optimizer revives them. Putting a removed block back does not restore
    /// its weights.
    pub fn set_removed_blocks(&mut self, removed: &[bool]) -> Result<()> {
        if removed.len() != self.config.depth {
            return Err(Error::Shape {
                op: "Vit::set_removed_blocks",
                detail: format!(
                    "{} flags for a model of {} blocks",
                    removed.len(),
                    self.config.depth
                ),
            });
        }
        for (b, &r) in removed.iter().enumerate() {
            self.removed[b] = r;
            if r {
                for i in [Self::proj(b), Self::fc2(b)] {
                    let layer = &mut self.linears[i];
                    layer.weight.fill(0.0);
                    layer.mask.fill(0.0);
                    layer.bias.fill(0.0);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
