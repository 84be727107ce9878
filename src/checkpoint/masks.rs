//! Masks-only files: a model's pruning without its weights, under the model's names, so a
//! pruning found here can be applied to the user's own copy of the weights (in PyTorch with
//! `torch.nn.utils.prune.custom_from_mask`, or here to a loaded model).
//!
//! A masks file holds `<layer>.weight_mask` for **every** linear layer, dense ones included (all
//! ones): it states the whole pruning, so applying it gives exactly the model's masks, and a
//! PyTorch user can call `custom_from_mask` on every layer without checking which were pruned.
//! A ViT's also holds `blocks.{i}.attn.head_mask` for every block, and its metadata lists the
//! blocks layer pruning removed (`removed_blocks`). Masks are float32 0/1, weights' shapes (timm's
//! conv shape `[D, 1, 7, 7]` for `patch_embed.proj`).
//!
//! Applying one reads masks from PyTorch too, where only pruned layers have one: a layer or
//! block the file leaves out gets an all-ones mask, as in a model file.

use std::collections::HashMap;

use ndarray::Array2;
use safetensors::tensor::{Metadata, SafeTensors};

use super::layout::{Layout, tensor_name};
use super::tensors::{f32_exact, le_bytes, serialize};
use super::vit::{block_list, file_shape};
use crate::error::{Error, Result};
use crate::model::{Model, Network, Vit};

/// Whether a file holds masks and nothing else (`….weight_mask`, `….head_mask`): the test
/// [`super::inspect`] uses, so a masks file PyTorch wrote is recognised as well as ours.
pub(super) fn only_masks(header: &Metadata) -> bool {
    let names = header.tensors();
    !names.is_empty()
        && names
            .keys()
            .all(|n| n.ends_with("weight_mask") || n.ends_with(".head_mask"))
}

/// Where one mask lives in the model.
enum Slot {
    /// Linear layer `i`'s mask.
    Linear(usize),
    /// The ViT's head mask of block `b`.
    Heads(usize),
}

/// Every mask the model has: its name in a file, its shape there, and where it goes.
fn slots(model: &Model, layout: &Layout) -> Result<Vec<(String, Vec<usize>, Slot)>> {
    let names = layout.linear_names(model)?;
    let mut slots: Vec<(String, Vec<usize>, Slot)> = model
        .linears()
        .iter()
        .zip(&names)
        .enumerate()
        .map(|(i, (layer, name))| {
            let dims = layer.weight.dim();
            let shape = match model {
                Model::Vit(_) => file_shape(i, dims),
                Model::Mlp(_) => vec![dims.0, dims.1],
            };
            (tensor_name(name, "weight_mask"), shape, Slot::Linear(i))
        })
        .collect();
    if let Model::Vit(v) = model {
        for b in 0..v.depth() {
            slots.push((
                format!("blocks.{b}.attn.head_mask"),
                vec![v.heads_in(b)],
                Slot::Heads(b),
            ));
        }
    }
    Ok(slots)
}

/// Serialises every mask of `model` under the names `layout` gives it (see the module's doc).
pub fn save_masks(model: &Model, layout: &Layout) -> Result<Vec<u8>> {
    let mut buffers = Vec::new();
    for (name, shape, slot) in slots(model, layout)? {
        let values: Vec<f32> = match (slot, model) {
            (Slot::Linear(i), _) => model.linears()[i].mask.iter().copied().collect(),
            (Slot::Heads(b), Model::Vit(v)) => v.head_mask(b).to_vec(),
            (Slot::Heads(_), Model::Mlp(_)) => unreachable!("only a ViT has head slots"),
        };
        buffers.push((name, shape, le_bytes(values.into_iter())));
    }
    let mut metadata = HashMap::from([
        ("format".to_owned(), "pt".to_owned()),
        ("content".to_owned(), "masks".to_owned()),
        ("model".to_owned(), model.spec()),
        (
            "weights_remaining".to_owned(),
            format!("{:.6}", model.weights_remaining()),
        ),
    ]);
    if let Model::Vit(v) = model {
        let removed: Vec<String> = (0..v.depth())
            .filter(|&b| v.removed_blocks()[b])
            .map(|b| b.to_string())
            .collect();
        if !removed.is_empty() {
            metadata.insert("removed_blocks".into(), removed.join(","));
        }
    }
    serialize(&buffers, metadata)
}

/// Sets `model`'s masks to the masks file's (`bytes`, named `file` in messages), matching them
/// by the names `layout` gives the model's layers. A tensor the model has no mask of, a shape
/// that differs from the model's, a dtype other than float32 or a value other than 0 and 1 is an
/// error naming the tensor, and leaves the model as it was.
///
/// Like every mask change, a newly masked weight becomes zero; a weight an earlier mask zeroed
/// stays zero where the new mask keeps it.
pub fn apply_masks(model: &mut Model, layout: &Layout, file: &str, bytes: &[u8]) -> Result<()> {
    let not_safetensors = |e: safetensors::SafeTensorError| {
        Error::checkpoint(file, format!("not a safetensors file ({e})"))
    };
    let bad = |problem: String| Error::checkpoint(file, problem);
    let (_, header) = SafeTensors::read_metadata(bytes).map_err(not_safetensors)?;
    if !only_masks(&header) {
        let mut other: Vec<String> = header
            .tensors()
            .into_keys()
            .filter(|n| !n.ends_with("_mask"))
            .collect();
        other.sort();
        return Err(bad(match other.first() {
            Some(name) => format!(
                "not a masks file: it holds {name:?}, a model's tensor (open it as a model); a \
                 masks file holds only ….weight_mask tensors (and a ViT's ….head_mask)"
            ),
            None => "holds no tensors".to_owned(),
        }));
    }
    let slots = slots(model, layout)?;
    // Names and shapes first, from the header: nothing is read or changed before they fit.
    let wanted: Vec<&str> = slots.iter().map(|(n, _, _)| n.as_str()).collect();
    let mut names = header.offset_keys();
    names.sort();
    for name in &names {
        if !slots.iter().any(|(n, _, _)| n == name) {
            return Err(bad(format!(
                "{name} is not one of this model's masks ({})",
                abbreviated(&wanted)
            )));
        }
    }
    let st = SafeTensors::deserialize(bytes).map_err(not_safetensors)?;
    let mut next = model.clone();
    for (name, shape, slot) in &slots {
        let values = if st.tensor(name).is_ok() {
            let values = f32_exact(&st, file, name, shape)?;
            if let Some(v) = values.iter().find(|&&v| v != 0.0 && v != 1.0) {
                return Err(bad(format!("{name} contains {v}; a mask holds 0 and 1")));
            }
            Some(values)
        } else {
            None
        };
        match (slot, &mut next) {
            (Slot::Linear(i), next) => {
                let layer = &mut next.linears_mut()[*i];
                let mask = match values {
                    Some(v) => Array2::from_shape_vec(layer.weight.dim(), v)
                        .map_err(|e| bad(format!("{name}: {e}")))?,
                    None => Array2::ones(layer.weight.dim()),
                };
                layer.set_mask(mask).map_err(|e| bad(e.to_string()))?;
            }
            (Slot::Heads(b), Model::Vit(v)) => {
                let mask = values.unwrap_or_else(|| vec![1.0; v.heads_in(*b)]);
                v.set_head_mask(*b, &mask).map_err(|e| bad(e.to_string()))?;
            }
            (Slot::Heads(_), Model::Mlp(_)) => unreachable!("only a ViT has head slots"),
        }
    }
    if let Model::Vit(v) = &mut next {
        set_removed(v, &header, file)?;
    }
    *model = next;
    Ok(())
}

/// The blocks the file's metadata says were removed (none when it says nothing).
fn set_removed(vit: &mut Vit, header: &Metadata, file: &str) -> Result<()> {
    let meta = header.metadata().clone().unwrap_or_default();
    let mut flags = vec![false; vit.depth()];
    for b in block_list(&meta, file, "removed_blocks", vit.depth())? {
        flags[b] = true;
    }
    vit.set_removed_blocks(&flags)
        .map_err(|e| Error::checkpoint(file, e.to_string()))
}

/// The first few names and how many more, for a message that stays one line for a ViT.
fn abbreviated(names: &[&str]) -> String {
    const SHOWN: usize = 6;
    if names.len() <= SHOWN {
        names.join(", ")
    } else {
        format!("{}, … ({} in all)", names[..SHOWN].join(", "), names.len())
    }
}
