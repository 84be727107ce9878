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

pub use backward::GateGradients;
pub use config::VitConfig;
pub use forward::{BlockActivations, Gates, PIXELS, VitActivations};

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
    /// columns are then zero too).
    pub(crate) head_mask: Vec<Array1<f32>>,
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
}

impl Vit {
    /// A ViT from loaded tensors, checking every shape against `config` and naming the tensor
    /// that does not fit. Masks are normalised to 0/1 and pruned weights zeroed
    /// ([`Layer::set_mask`]); `head_mask` is normalised to 0/1 and each masked head's `proj`
    /// columns are zeroed and masked ([`Vit::set_head_mask`]). `pos_embed` is `[16, D]` (the
    /// checkpoint's `[1, 16, D]` without its leading 1). The head may have any number of
    /// classes.
    #[allow(clippy::too_many_arguments)]
    pub fn from_parts(
        config: VitConfig,
        mut linears: Vec<Layer>,
        pos_embed: Array2<f32>,
        norm1: Vec<LayerNorm>,
        norm2: Vec<LayerNorm>,
        fc_norm: LayerNorm,
        head_mask: Vec<Array1<f32>>,
    ) -> Result<Self> {
        config.validate()?;
        let (dim, depth, hidden) = (config.dim, config.depth, config.hidden());
        let bad = |detail: String| Error::Shape {
            op: "Vit::from_parts",
            detail: format!("{detail} (for {config})"),
        };
        if linears.len() != 2 + 4 * depth {
            return Err(bad(format!(
                "{} linear layers, but depth {depth} needs {}",
                linears.len(),
                2 + 4 * depth
            )));
        }
        let classes = linears[linears.len() - 1].outputs();
        for (i, l) in linears.iter_mut().enumerate() {
            let name = Self::linear_name(depth, i);
            let want = match i {
                Self::PATCH_EMBED => (dim, PATCH_PIXELS),
                _ if i == 1 + 4 * depth => (classes.max(1), dim),
                _ => match (i - 1) % 4 {
                    0 => (3 * dim, dim),
                    1 => (dim, dim),
                    2 => (hidden, dim),
                    _ => (dim, hidden),
                },
            };
            if l.weight.dim() != want {
                return Err(bad(format!(
                    "{name}.weight is {:?}, expected {want:?}",
                    l.weight.dim()
                )));
            }
            if l.bias.len() != want.0 {
                return Err(bad(format!(
                    "{name}.bias has {} entries, expected {}",
                    l.bias.len(),
                    want.0
                )));
            }
            if l.mask.dim() != want {
                return Err(bad(format!(
                    "{name}'s mask is {:?}, expected {want:?}",
                    l.mask.dim()
                )));
            }
            let mask = std::mem::take(&mut l.mask);
            l.set_mask(mask)?;
        }
        if pos_embed.dim() != (TOKENS, dim) {
            return Err(bad(format!(
                "pos_embed is {:?}, expected [1, {TOKENS}, {dim}]",
                pos_embed.dim()
            )));
        }
        let norms = [("norm1", &norm1), ("norm2", &norm2)];
        for (which, list) in norms {
            if list.len() != depth {
                return Err(bad(format!(
                    "{} {which} LayerNorms for {depth} blocks",
                    list.len()
                )));
            }
            for (i, ln) in list.iter().enumerate() {
                check_norm(&format!("blocks.{i}.{which}"), ln, dim).map_err(bad)?;
            }
        }
        check_norm("fc_norm", &fc_norm, dim).map_err(bad)?;
        if head_mask.len() != depth || head_mask.iter().any(|m| m.len() != config.heads) {
            return Err(bad(format!(
                "head masks {:?}, expected {depth} of {} heads",
                head_mask.iter().map(|m| m.len()).collect::<Vec<_>>(),
                config.heads
            )));
        }
        let mut vit = Self {
            config,
            linears,
            pos_embed,
            norm1,
            norm2,
            fc_norm,
            head_mask: vec![Array1::ones(config.heads); depth],
        };
        for (i, m) in head_mask.iter().enumerate() {
            vit.set_head_mask(i, m.as_slice().unwrap_or(&m.to_vec()))?;
        }
        Ok(vit)
    }

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
        let (depth, heads, d) = (self.config.depth, self.config.heads, self.config.head_dim());
        if block >= depth || mask.len() != heads {
            return Err(Error::Shape {
                op: "Vit::set_head_mask",
                detail: format!(
                    "{} values for block {block}; the model has {depth} blocks of {heads} heads",
                    mask.len()
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
}

fn check_norm(name: &str, ln: &LayerNorm, dim: usize) -> std::result::Result<(), String> {
    if ln.weight.len() != dim || ln.bias.len() != dim {
        return Err(format!(
            "{name}.weight has {} and {name}.bias {} entries, expected {dim}",
            ln.weight.len(),
            ln.bias.len()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
