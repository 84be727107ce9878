//! The ViT's checkpoints, with timm's parameter names, so that
//!
//! ```python
//! sd = safetensors.torch.load_file("vit.safetensors")
//! model = timm.models.vision_transformer.VisionTransformer(
//!     img_size=28, patch_size=7, in_chans=1, num_classes=10, embed_dim=D, depth=L,
//!     num_heads=H, mlp_ratio=r, qkv_bias=True, class_token=False, global_pool='avg')
//! model.load_state_dict({k: v for k, v in sd.items() if not k.endswith("_mask")}, strict=True)
//! ```
//!
//! works, and a state dict saved from such a model loads here.
//!
//! Every `….weight` is stored already multiplied by its mask, the mask beside it as
//! `….weight_mask` (only for a layer with a pruned entry, as `torch.nn.utils.prune` leaves one
//! only on pruned modules); `….weight_orig` (prune's name for the unmasked weight) is accepted
//! instead of `….weight`. A block with a masked attention head also stores
//! `blocks.{i}.attn.head_mask` `[H]`, and that head's `attn.proj` input columns are zero, so timm
//! (which has no head mask) computes the same logits.
//!
//! The metadata records what the weights cannot tell: how `embed_dim` splits into heads (qkv is
//! `[3D, D]` for any H). Non-finite values are refused, naming the tensor.

use std::collections::HashMap;

use ndarray::{Array1, Array2, s};
use safetensors::tensor::{Metadata, SafeTensors};

use super::layout::{MaskForm, VitLayout};
use super::tensors::{f32_exact, f32_view, le_bytes, serialize};
use crate::error::{Error, Result};
use crate::model::vit::TOKENS;
use crate::model::vit::linear_shapes_for as vit_shapes;
use crate::model::{Layer, LayerNorm, Vit, VitConfig};

/// timm's `img_size` and `patch_size` for MNIST, the only ones this ViT has.
const IMG_SIZE: usize = 28;
const PATCH_SIZE: usize = 7;

/// The suffixes a linear layer's tensors may have.
const LINEAR_PARTS: [&str; 4] = ["weight", "weight_orig", "weight_mask", "bias"];
/// A block's linear layers, by their timm names inside the block.
const BLOCK_LINEARS: [&str; 4] = ["attn.qkv", "attn.proj", "mlp.fc1", "mlp.fc2"];

/// True when the file's metadata or tensor names say it holds a ViT.
pub(super) fn is_vit(meta: &Metadata) -> bool {
    let says_vit = meta
        .metadata()
        .as_ref()
        .and_then(|m| m.get("model"))
        .is_some_and(|m| m == "vit");
    says_vit
        || meta.tensors().keys().any(|name| {
            name.starts_with("patch_embed.")
                || name.starts_with("blocks.")
                || name == "pos_embed"
                || name == "cls_token"
        })
}

/// The tensor shape a linear layer has in the file: timm's conv shape for `patch_embed.proj`.
pub(super) fn file_shape(index: usize, (out, inp): (usize, usize)) -> Vec<usize> {
    if index == Vit::PATCH_EMBED {
        vec![out, 1, PATCH_SIZE, PATCH_SIZE]
    } else {
        vec![out, inp]
    }
}

/// Serialises a ViT with timm's names, its masks where it is pruned, and its configuration in
/// the metadata (timm's argument names).
pub fn to_safetensors(vit: &Vit) -> Result<Vec<u8>> {
    let config = vit.config();
    let head_dim = config.head_dim();
    let names = Vit::timm_linear_names(config.depth);
    let mut buffers: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for (i, (layer, name)) in vit.linears.iter().zip(&names).enumerate() {
        let shape = file_shape(i, layer.weight.dim());
        // The model keeps weight == weight ⊙ mask and a masked head's proj columns at zero;
        // the file must hold them so whatever the caller did, as timm applies no mask.
        let mut weight = &layer.weight * &layer.mask;
        if let Some(b) = (0..config.depth).find(|&b| Vit::proj(b) == i) {
            for (h, _) in vit.head_mask[b]
                .iter()
                .enumerate()
                .filter(|(_, m)| **m == 0.0)
            {
                weight
                    .slice_mut(s![.., h * head_dim..(h + 1) * head_dim])
                    .fill(0.0);
            }
        }
        buffers.push((
            format!("{name}.weight"),
            shape.clone(),
            le_bytes(weight.iter().copied()),
        ));
        buffers.push((
            format!("{name}.bias"),
            vec![layer.outputs()],
            le_bytes(layer.bias.iter().copied()),
        ));
        // As PyTorch's prune does, only a pruned layer carries a mask; a missing one is all ones.
        if layer.mask.iter().any(|&m| m == 0.0) {
            buffers.push((
                format!("{name}.weight_mask"),
                shape,
                le_bytes(layer.mask.iter().copied()),
            ));
        }
    }
    let d = config.dim;
    buffers.push((
        "pos_embed".into(),
        vec![1, TOKENS, d],
        le_bytes(vit.pos_embed.iter().copied()),
    ));
    let mut norm = |name: String, n: &LayerNorm| {
        buffers.push((
            format!("{name}.weight"),
            vec![d],
            le_bytes(n.weight.iter().copied()),
        ));
        buffers.push((
            format!("{name}.bias"),
            vec![d],
            le_bytes(n.bias.iter().copied()),
        ));
    };
    for b in 0..config.depth {
        norm(format!("blocks.{b}.norm1"), &vit.norm1[b]);
        norm(format!("blocks.{b}.norm2"), &vit.norm2[b]);
    }
    norm("fc_norm".into(), &vit.fc_norm);
    for (b, mask) in vit.head_mask.iter().enumerate() {
        if mask.iter().any(|&m| m == 0.0) {
            buffers.push((
                format!("blocks.{b}.attn.head_mask"),
                vec![mask.len()],
                le_bytes(mask.iter().copied()),
            ));
        }
    }
    let kept: usize = vit.linears.iter().map(Layer::kept).sum();
    let total: usize = vit.linears.iter().map(|l| l.weight.len()).sum();
    let mut metadata = metadata_for(config);
    metadata.insert("format".into(), "pt".into());
    let list = |v: Vec<usize>| v.iter().map(usize::to_string).collect::<Vec<_>>().join(",");
    // Every file gives each block's shape, uniform or not: the README's timm loader for a
    // compacted file reads them, and a compacted model can be uniform (blocks removed, or heads
    // removed evenly from every block).
    let shapes = vit.block_shapes();
    metadata.insert(
        "heads_per_block".into(),
        list(shapes.iter().map(|s| s.heads).collect()),
    );
    metadata.insert(
        "mlp_hidden_per_block".into(),
        list(shapes.iter().map(|s| s.hidden).collect()),
    );
    let removed: Vec<usize> = (0..config.depth)
        .filter(|&b| vit.removed_blocks()[b])
        .collect();
    if !removed.is_empty() {
        metadata.insert("removed_blocks".into(), list(removed));
    }
    metadata.insert(
        "weights_remaining".into(),
        format!("{:.6}", kept as f64 / total.max(1) as f64),
    );
    serialize(&buffers, metadata)
}

/// The configuration as timm's constructor arguments, strings as safetensors metadata holds.
fn metadata_for(config: &VitConfig) -> HashMap<String, String> {
    HashMap::from([
        ("model".into(), "vit".into()),
        ("img_size".into(), IMG_SIZE.to_string()),
        ("patch_size".into(), PATCH_SIZE.to_string()),
        ("in_chans".into(), "1".into()),
        ("num_classes".into(), Vit::CLASSES.to_string()),
        ("embed_dim".into(), config.dim.to_string()),
        ("depth".into(), config.depth.to_string()),
        ("num_heads".into(), config.heads.to_string()),
        ("head_dim".into(), config.head_dim().to_string()),
        ("mlp_ratio".into(), format!("{:?}", config.mlp_ratio)),
    ])
}

/// Whether `name` is one of the tensors a timm ViT (as above) or its pruned state dict has.
fn known(name: &str) -> bool {
    let linear = |rest: &str| LINEAR_PARTS.contains(&rest);
    if matches!(name, "pos_embed" | "fc_norm.weight" | "fc_norm.bias") {
        return true;
    }
    if let Some(rest) = name.strip_prefix("patch_embed.proj.") {
        return linear(rest);
    }
    if let Some(rest) = name.strip_prefix("head.") {
        return linear(rest);
    }
    let Some((index, tail)) = name
        .strip_prefix("blocks.")
        .and_then(|rest| rest.split_once('.'))
    else {
        return false;
    };
    // Only the canonical spelling of the index ("+1" or "01" would be read as another name).
    if index.parse::<usize>().map(|i| i.to_string()).as_deref() != Ok(index) {
        return false;
    }
    matches!(
        tail,
        "norm1.weight" | "norm1.bias" | "norm2.weight" | "norm2.bias" | "attn.head_mask"
    ) || BLOCK_LINEARS.iter().any(|p| {
        tail.strip_prefix(p)
            .and_then(|r| r.strip_prefix('.'))
            .is_some_and(linear)
    })
}

/// The name a linear layer's weight has in this file: `….weight`, or prune's `….weight_orig`.
fn weight_name(st: &SafeTensors, file: &str, layer: &str) -> Result<String> {
    let (plain, orig) = (format!("{layer}.weight"), format!("{layer}.weight_orig"));
    match (st.tensor(&plain).is_ok(), st.tensor(&orig).is_ok()) {
        (true, true) => Err(Error::checkpoint(
            file,
            format!("both {plain} and {orig}; a state dict holds one of them"),
        )),
        (false, true) => Ok(orig),
        _ => Ok(plain),
    }
}

/// A metadata value parsed as `T`, or `None` when absent.
fn parsed<T: std::str::FromStr>(
    meta: &HashMap<String, String>,
    file: &str,
    key: &str,
    what: &str,
) -> Result<Option<T>> {
    meta.get(key)
        .map(|v| {
            v.trim()
                .parse()
                .map_err(|_| Error::checkpoint(file, format!("metadata {key}={v:?} is not {what}")))
        })
        .transpose()
}

/// Parses a ViT checkpoint. `file` names it in error messages.
pub fn from_safetensors(file: &str, bytes: &[u8]) -> Result<Vit> {
    read(file, bytes).map(|(vit, _)| vit)
}

/// Parses a ViT checkpoint and describes its layout.
///
/// Everything the configuration needs is checked from the header alone (names, shapes,
/// metadata, then [`VitConfig::validate`]) before a single value is read, so a header that
/// claims absurd sizes fails without allocating for them.
pub(super) fn read(file: &str, bytes: &[u8]) -> Result<(Vit, VitLayout)> {
    let not_safetensors = |e: safetensors::SafeTensorError| {
        Error::checkpoint(file, format!("not a safetensors file ({e})"))
    };
    let (_, header) = SafeTensors::read_metadata(bytes).map_err(not_safetensors)?;
    super::check_parameters(file, &header)?;
    let st = SafeTensors::deserialize(bytes).map_err(not_safetensors)?;
    let meta = header.metadata().clone().unwrap_or_default();
    let bad = |problem: String| Error::checkpoint(file, problem);

    let mut names = st.names();
    names.sort_unstable();
    // timm's class-token ViT ends in `norm` and prepends `cls_token`; ours pools the tokens.
    if let Some(name) = names
        .iter()
        .find(|n| n.starts_with("norm.") || **n == "cls_token" || **n == "reg_token")
    {
        return Err(bad(format!(
            "{name} belongs to a class-token ViT; PrunePlay's ViT averages its tokens: build the \
             timm model with global_pool='avg' and class_token=False (it then has fc_norm, not \
             norm, and no cls_token)"
        )));
    }
    if let Some(name) = names.iter().find(|n| !known(n)) {
        return Err(bad(format!(
            "unexpected tensor {name:?} (a timm VisionTransformer with qkv_bias=True, \
             class_token=False, global_pool='avg' has patch_embed.proj, pos_embed, blocks.N.*, \
             fc_norm and head)"
        )));
    }
    if let Some(model) = meta.get("model").filter(|m| *m != "vit") {
        return Err(bad(format!(
            "metadata model={model:?} but the tensors are a ViT's"
        )));
    }

    // The configuration, from the shapes.
    let patch_name = weight_name(&st, file, "patch_embed.proj")?;
    let patch = f32_view(&st, file, &patch_name)?;
    let &[dim, in_chans, ph, pw] = patch.shape() else {
        return Err(bad(format!(
            "{patch_name} has shape {:?}; expected [embed_dim, 1, 7, 7] (timm's \
             Conv2d(1, embed_dim, kernel_size=7, stride=7))",
            patch.shape()
        )));
    };
    if in_chans != 1 {
        return Err(bad(format!(
            "{patch_name} has {in_chans} input channels; MNIST is greyscale (in_chans=1)"
        )));
    }
    if (ph, pw) != (PATCH_SIZE, PATCH_SIZE) {
        return Err(bad(format!(
            "{patch_name} has {ph}×{pw} kernels; PrunePlay's ViT has patch_size=7"
        )));
    }
    let depth = names
        .iter()
        .filter_map(|n| {
            n.strip_prefix("blocks.")?
                .split_once('.')?
                .0
                .parse::<usize>()
                .ok()
        })
        .max()
        .map_or(0, |b| b + 1);
    if depth == 0 {
        return Err(bad("no blocks.N tensors: the ViT has no blocks".into()));
    }
    let fc1_name = weight_name(&st, file, "blocks.0.mlp.fc1")?;
    let fc1 = f32_view(&st, file, &fc1_name)?;
    let &[hidden, _] = fc1.shape() else {
        return Err(bad(format!(
            "{fc1_name} has shape {:?}; expected [hidden, embed_dim]",
            fc1.shape()
        )));
    };

    // The metadata: what the shapes tell must agree, what they cannot (heads) must be there.
    for (key, want) in [
        ("img_size", IMG_SIZE),
        ("patch_size", PATCH_SIZE),
        ("in_chans", 1),
        ("num_classes", Vit::CLASSES),
    ] {
        if let Some(v) = parsed::<usize>(&meta, file, key, "a whole number")? {
            if v != want {
                return Err(bad(format!(
                    "metadata {key}={v}; PrunePlay's ViT has {key}={want} (28×28 MNIST digits, \
                     7×7 patches, 1 channel, 10 classes)"
                )));
            }
        }
    }
    if let Some(v) = parsed::<usize>(&meta, file, "embed_dim", "a whole number")? {
        if v != dim {
            return Err(bad(format!(
                "metadata embed_dim={v} but {patch_name} has {dim} output channels"
            )));
        }
    }
    if let Some(v) = parsed::<usize>(&meta, file, "depth", "a whole number")? {
        if v != depth {
            return Err(bad(format!(
                "metadata depth={v} but the tensors have blocks 0 to {} (depth {depth})",
                depth - 1
            )));
        }
    }
    let per_block = |key: &str| -> Result<Option<Vec<usize>>> {
        let Some(v) = meta.get(key) else {
            return Ok(None);
        };
        let list = v
            .split(',')
            .map(|x| x.trim().parse::<usize>())
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|_| {
                bad(format!(
                    "metadata {key}={v:?} is not a comma list of whole numbers"
                ))
            })?;
        if list.len() != depth {
            return Err(bad(format!(
                "metadata {key}={v:?} lists {} blocks; the tensors have {depth}",
                list.len()
            )));
        }
        Ok(Some(list))
    };
    let heads_per_block = per_block("heads_per_block")?;
    let hidden_per_block = per_block("mlp_hidden_per_block")?;
    let removed = block_list(&meta, file, "removed_blocks", depth)?;
    let mlp_ratio = match parsed::<f64>(&meta, file, "mlp_ratio", "a number")? {
        // A compacted file's blocks have their own widths; mlp_ratio is the one it started from.
        Some(r) if hidden_per_block.is_some() => r,
        Some(r) => {
            // timm: hidden = int(embed_dim * mlp_ratio).
            let from_ratio = dim as f64 * r;
            if !(from_ratio.is_finite() && from_ratio >= 0.0) || from_ratio as usize != hidden {
                return Err(bad(format!(
                    "metadata mlp_ratio={r:?} gives int({dim} × {r:?}) hidden units but {fc1_name} \
                     has {hidden}"
                )));
            }
            r
        }
        None => hidden as f64 / dim.max(1) as f64,
    };
    let heads = parsed::<usize>(&meta, file, "num_heads", "a whole number")?;
    let head_dim = parsed::<usize>(&meta, file, "head_dim", "a whole number")?;
    // A compacted file may give only head_dim: its blocks started with embed_dim / head_dim heads.
    let heads = heads.or(match (head_dim, &heads_per_block) {
        (Some(hd), Some(_)) if hd > 0 && dim.is_multiple_of(hd) => Some(dim / hd),
        _ => None,
    });
    let (Some(heads), Some(head_dim)) = (heads, head_dim) else {
        let heads_s = heads.map_or("<num_heads>".to_owned(), |h| h.to_string());
        let head_dim_s = match (head_dim, heads) {
            (Some(h), _) => h.to_string(),
            (None, Some(h)) if h > 0 && dim.is_multiple_of(h) => (dim / h).to_string(),
            _ => format!("<{dim} / num_heads>"),
        };
        return Err(bad(format!(
            "the metadata does not say how the ViT splits embed_dim={dim} into heads (qkv is \
             [3·{dim}, {dim}] for any number of heads): num_heads and head_dim are needed. \
             Save it with the metadata timm's constructor took: safetensors.torch.save_file(model.state_dict(), \
             \"vit.safetensors\", metadata={{\"model\": \"vit\", \"img_size\": \"{IMG_SIZE}\", \
             \"patch_size\": \"{PATCH_SIZE}\", \"embed_dim\": \"{dim}\", \"depth\": \"{depth}\", \
             \"num_heads\": \"{heads_s}\", \"head_dim\": \"{head_dim_s}\", \"mlp_ratio\": \
             \"{mlp_ratio:?}\"}})"
        )));
    };
    if heads.checked_mul(head_dim) != Some(dim) {
        return Err(bad(format!(
            "metadata num_heads={heads} × head_dim={head_dim} is not embed_dim={dim}"
        )));
    }
    let config = VitConfig {
        dim,
        depth,
        heads,
        mlp_ratio,
    };
    config.validate().map_err(|e| {
        bad(format!(
            "embed_dim={dim}, depth={depth}, num_heads={heads}, mlp_ratio={mlp_ratio:?}: {e}"
        ))
    })?;
    if hidden_per_block.is_none() && config.hidden() != hidden {
        return Err(bad(format!(
            "{fc1_name} has {hidden} rows, not a whole multiple PrunePlay can express as \
             mlp_ratio (int({dim} × {mlp_ratio}) = {}); record mlp_ratio in the metadata",
            config.hidden()
        )));
    }

    let mut blocks = Vit::uniform_shapes(&config);
    for (b, shape) in blocks.iter_mut().enumerate() {
        if let Some(h) = &heads_per_block {
            shape.heads = h[b];
        }
        if let Some(m) = &hidden_per_block {
            shape.hidden = m[b];
        }
    }
    if let Some(b) = blocks.iter().position(|s| s.heads > heads) {
        return Err(bad(format!(
            "metadata heads_per_block gives block {b} {} heads; embed_dim={dim} has room for \
             {heads} of head_dim={head_dim}",
            blocks[b].heads
        )));
    }

    // The tensors, each with exactly its expected shape.
    let names = Vit::timm_linear_names(depth);
    let shapes = vit_shapes(&config, &blocks);
    let mut linears = Vec::with_capacity(shapes.len());
    for (i, (name, &(out, inp))) in names.iter().zip(&shapes).enumerate() {
        let shape = file_shape(i, (out, inp));
        let w_name = weight_name(&st, file, name)?;
        let weight = f32_exact(&st, file, &w_name, &shape)?;
        let mask_name = format!("{name}.weight_mask");
        let mask = if st.tensor(&mask_name).is_ok() {
            Array2::from_shape_vec((out, inp), f32_exact(&st, file, &mask_name, &shape)?)
                .map_err(|e| bad(format!("{mask_name}: {e}")))?
        } else {
            Array2::ones((out, inp))
        };
        let weight = Array2::from_shape_vec((out, inp), weight)
            .map_err(|e| bad(format!("{w_name}: {e}")))?;
        let bias = Array1::from(f32_exact(&st, file, &format!("{name}.bias"), &[out])?);
        // from_parts zeroes the masked weights: `weight_orig ⊙ weight_mask`, as prune computes.
        linears.push(Layer { weight, bias, mask });
    }
    let pos_embed = Array2::from_shape_vec(
        (TOKENS, dim),
        f32_exact(&st, file, "pos_embed", &[1, TOKENS, dim])?,
    )
    .map_err(|e| bad(format!("pos_embed: {e}")))?;
    let norm = |name: &str| -> Result<LayerNorm> {
        Ok(LayerNorm {
            weight: Array1::from(f32_exact(&st, file, &format!("{name}.weight"), &[dim])?),
            bias: Array1::from(f32_exact(&st, file, &format!("{name}.bias"), &[dim])?),
        })
    };
    let norm1 = (0..depth)
        .map(|b| norm(&format!("blocks.{b}.norm1")))
        .collect::<Result<Vec<_>>>()?;
    let norm2 = (0..depth)
        .map(|b| norm(&format!("blocks.{b}.norm2")))
        .collect::<Result<Vec<_>>>()?;
    let fc_norm = norm("fc_norm")?;
    let head_mask = (0..depth)
        .map(|b| {
            let name = format!("blocks.{b}.attn.head_mask");
            let heads = blocks[b].heads;
            if st.tensor(&name).is_ok() {
                Ok(Array1::from(f32_exact(&st, file, &name, &[heads])?))
            } else {
                Ok(Array1::ones(heads))
            }
        })
        .collect::<Result<Vec<_>>>()?;
    let mut vit = Vit::from_shaped_parts(
        config, &blocks, linears, pos_embed, norm1, norm2, fc_norm, head_mask,
    )
    .map_err(|e| match e {
        // Its shape errors already name the tensor.
        Error::Shape { detail, .. } => bad(detail),
        e => bad(e.to_string()),
    })?;
    if !removed.is_empty() {
        let mut flags = vec![false; depth];
        for b in removed {
            flags[b] = true;
        }
        vit.set_removed_blocks(&flags)?;
    }
    let layout = VitLayout {
        compacted: !vit.is_uniform(),
        masks: MaskForm::of(&header),
    };
    Ok((vit, layout))
}

/// A metadata list of block indices below `depth` (`removed_blocks=1,3`); empty when absent.
pub(super) fn block_list(
    meta: &HashMap<String, String>,
    file: &str,
    key: &str,
    depth: usize,
) -> Result<Vec<usize>> {
    match meta.get(key).filter(|v| !v.trim().is_empty()) {
        None => Ok(Vec::new()),
        Some(v) => v
            .split(',')
            .map(|x| x.trim().parse::<usize>())
            .collect::<std::result::Result<Vec<_>, _>>()
            .ok()
            .filter(|l| l.iter().all(|&b| b < depth))
            .ok_or_else(|| {
                Error::checkpoint(
                    file,
                    format!(
                        "metadata {key}={v:?} is not a comma list of block indices below {depth}"
                    ),
                )
            }),
    }
}
