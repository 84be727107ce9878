//! Building a [`Vit`] from given tensors (a checkpoint, a test), checking every shape against the
//! configuration, and reading its parts back.
//!
//! Errors name the tensor by its timm name (`blocks.0.attn.qkv.weight`), so a message about a
//! checkpoint points at the key in the PyTorch state dict.

use ndarray::{Array1, Array2, s};

use super::{BlockShape, LayerNorm, PATCH_PIXELS, TOKENS, Vit, VitConfig};
use crate::error::{Error, Result};
use crate::model::Layer;

fn shape_error(detail: String) -> Error {
    Error::Shape {
        op: "Vit::from_parts",
        detail,
    }
}

impl Vit {
    /// MNIST's ten digits: timm's `num_classes=10`.
    pub const CLASSES: usize = 10;

    /// The timm names of the linear layers (without `.weight`), in [`Vit::linears`] order for a
    /// model of `depth` blocks.
    pub fn timm_linear_names(depth: usize) -> Vec<String> {
        let mut names = vec!["patch_embed.proj".to_owned()];
        for b in 0..depth {
            names.push(format!("blocks.{b}.attn.qkv"));
            names.push(format!("blocks.{b}.attn.proj"));
            names.push(format!("blocks.{b}.mlp.fc1"));
            names.push(format!("blocks.{b}.mlp.fc2"));
        }
        names.push("head".to_owned());
        names
    }

    /// Each linear layer's `(outputs, inputs)` for `config`, in [`Vit::linears`] order.
    pub fn linear_shapes(config: &VitConfig) -> Vec<(usize, usize)> {
        linear_shapes_for(config, &Self::uniform_shapes(config))
    }

    /// Every block with `config`'s widths.
    pub fn uniform_shapes(config: &VitConfig) -> Vec<BlockShape> {
        vec![
            BlockShape {
                heads: config.heads,
                hidden: config.hidden(),
            };
            config.depth
        ]
    }

    /// A ViT from its parts, after checking `config` and every shape against it.
    ///
    /// `linears` are in [`Vit::linears`] order; `patch_embed.proj` is `[D, 49]`, timm's conv
    /// weight `[D, 1, 7, 7]` flattened row-major. `pos_embed` is `[16, D]` (timm's `[1, 16, D]`
    /// without the leading 1). `head_mask[i]` has one 0/1 entry per head of block i.
    ///
    /// Like `Mlp::from_layers`, it establishes the model's invariants rather than trusting them:
    /// masks are normalised to exactly 0 or 1 and pruned weights zeroed, and the `attn.proj`
    /// input columns of a masked head are zeroed (a masked head's output is dropped before
    /// `proj`, so those columns carry nothing and stay zero in the file timm loads).
    pub fn from_parts(
        config: VitConfig,
        linears: Vec<Layer>,
        pos_embed: Array2<f32>,
        norm1: Vec<LayerNorm>,
        norm2: Vec<LayerNorm>,
        fc_norm: LayerNorm,
        head_mask: Vec<Array1<f32>>,
    ) -> Result<Vit> {
        let blocks = Self::uniform_shapes(&config);
        Self::from_shaped_parts(
            config, &blocks, linears, pos_embed, norm1, norm2, fc_norm, head_mask,
        )
    }

    /// [`Vit::from_parts`] for a model whose blocks have their own widths (a compacted one):
    /// block i has `blocks[i].heads` heads of `config.head_dim()` channels and
    /// `blocks[i].hidden` MLP units, either of which may be 0. `config.depth` must be
    /// `blocks.len()`; `config.heads` and `config.mlp_ratio` are the widths the model started
    /// from, and the head width is `config.dim / config.heads`.
    #[allow(clippy::too_many_arguments)]
    pub fn from_shaped_parts(
        config: VitConfig,
        blocks: &[BlockShape],
        mut linears: Vec<Layer>,
        pos_embed: Array2<f32>,
        norm1: Vec<LayerNorm>,
        norm2: Vec<LayerNorm>,
        fc_norm: LayerNorm,
        head_mask: Vec<Array1<f32>>,
    ) -> Result<Vit> {
        config.validate()?;
        let (d, depth) = (config.dim, config.depth);
        if blocks.len() != depth {
            return Err(shape_error(format!(
                "{} block shapes for depth {depth}",
                blocks.len()
            )));
        }
        if let Some((b, s)) = blocks
            .iter()
            .enumerate()
            .find(|(_, s)| s.heads > config.heads || s.hidden > MAX_HIDDEN)
        {
            return Err(shape_error(format!(
                "block {b} has {} heads and {} MLP units; at most {} heads and {MAX_HIDDEN} \
                 units",
                s.heads, s.hidden, config.heads
            )));
        }
        let names = Self::timm_linear_names(depth);
        let shapes = linear_shapes_for(&config, blocks);
        if linears.len() != shapes.len() {
            return Err(shape_error(format!(
                "{} linear layers; a ViT of depth {depth} has {} (patch_embed.proj, 4 per \
                 block, head)",
                linears.len(),
                shapes.len()
            )));
        }
        for ((layer, name), &(out, inp)) in linears.iter_mut().zip(&names).zip(&shapes) {
            if layer.weight.dim() != (out, inp) {
                let timm = if name == "patch_embed.proj" {
                    format!(" (timm's [{d}, 1, 7, 7] flattened)")
                } else {
                    String::new()
                };
                return Err(shape_error(format!(
                    "{name}.weight is {:?}; expected {:?}{timm}",
                    layer.weight.dim(),
                    (out, inp)
                )));
            }
            if layer.bias.len() != out {
                return Err(shape_error(format!(
                    "{name}.bias has {} values; expected {out}",
                    layer.bias.len()
                )));
            }
            if layer.mask.dim() != (out, inp) {
                return Err(shape_error(format!(
                    "{name}.weight_mask is {:?}; expected {:?}",
                    layer.mask.dim(),
                    (out, inp)
                )));
            }
            let mask = std::mem::take(&mut layer.mask);
            layer.set_mask(mask)?;
        }
        if pos_embed.dim() != (TOKENS, d) {
            return Err(shape_error(format!(
                "pos_embed is {:?}; expected {:?} (timm's [1, {TOKENS}, {d}])",
                pos_embed.dim(),
                (TOKENS, d)
            )));
        }
        for (which, norms) in [("norm1", &norm1), ("norm2", &norm2)] {
            if norms.len() != depth {
                return Err(shape_error(format!(
                    "{} {which} LayerNorms for {depth} blocks",
                    norms.len()
                )));
            }
            for (b, norm) in norms.iter().enumerate() {
                check_norm(&format!("blocks.{b}.{which}"), norm, d)?;
            }
        }
        check_norm("fc_norm", &fc_norm, d)?;
        if head_mask.len() != depth {
            return Err(shape_error(format!(
                "{} head masks for {depth} blocks",
                head_mask.len()
            )));
        }
        let head_dim = config.head_dim();
        for (b, mask) in head_mask.iter().enumerate() {
            let name = format!("blocks.{b}.attn.head_mask");
            let heads = blocks[b].heads;
            if mask.len() != heads {
                return Err(shape_error(format!(
                    "{name} has {} values; expected {heads} (one per head)",
                    mask.len()
                )));
            }
            if let Some(v) = mask.iter().find(|&&v| v != 0.0 && v != 1.0) {
                return Err(shape_error(format!(
                    "{name} contains {v}; a head mask holds 0 (masked) or 1 (kept)"
                )));
            }
            // As `set_head_mask`: the columns are masked too, so no update brings them back.
            let proj = &mut linears[Self::proj(b)];
            for (h, _) in mask.iter().enumerate().filter(|&(_, &m)| m == 0.0) {
                let cols = s![.., h * head_dim..(h + 1) * head_dim];
                proj.weight.slice_mut(cols).fill(0.0);
                proj.mask.slice_mut(cols).fill(0.0);
            }
        }
        Ok(Vit {
            config,
            linears,
            pos_embed,
            norm1,
            norm2,
            fc_norm,
            head_mask,
            removed: vec![false; depth],
        })
    }

    /// `blocks.{i}.attn.head_mask`, one `[H]` vector of 0/1 per block.
    pub fn head_masks(&self) -> &[Array1<f32>] {
        &self.head_mask
    }
}

/// MLP widths past this are not a ViT for MNIST (and would allocate gigabytes).
const MAX_HIDDEN: usize = 16 * 1_024;

/// Each linear layer's `(outputs, inputs)` for a ViT of `config.dim` channels whose blocks have
/// the given widths, in [`Vit::linears`] order.
pub fn linear_shapes_for(config: &VitConfig, blocks: &[BlockShape]) -> Vec<(usize, usize)> {
    let (d, hd) = (config.dim, config.head_dim());
    let mut shapes = vec![(d, PATCH_PIXELS)];
    for b in blocks {
        let a = b.heads * hd;
        shapes.extend([(3 * a, d), (d, a), (b.hidden, d), (d, b.hidden)]);
    }
    shapes.push((Vit::CLASSES, d));
    shapes
}

fn check_norm(name: &str, norm: &LayerNorm, d: usize) -> Result<()> {
    for (part, v) in [("weight", &norm.weight), ("bias", &norm.bias)] {
        if v.len() != d {
            return Err(shape_error(format!(
                "{name}.{part} has {} values; expected {d}",
                v.len()
            )));
        }
    }
    Ok(())
}
