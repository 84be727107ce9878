//! Checkpoints as safetensors with PyTorch's parameter names, so a PyTorch user can bring a model
//! in and take one out.
//!
//! - **In**: [`open`] reads an MLP in any of the forms a PyTorch state dict takes (an
//!   `nn.Sequential` at any index offset, named Linear modules, plain or with
//!   `torch.nn.utils.prune`'s `weight_orig` + `weight_mask`; see [`MlpNaming`]) or a timm ViT
//!   (see [`vit_from_safetensors`]), and says which [`Layout`] it found. [`inspect`] tells a model file from a masks
//!   file first, from the header alone.
//! - **Out**: [`save_with`] writes a model (dense, masked or compacted) under the names it was
//!   loaded with, each weight already multiplied by its mask and the mask beside it;
//!   [`save_masks`] writes the masks alone, and [`apply_masks`] puts such a file's masks on a
//!   loaded model.
//! - [`save`] and [`load`] are the short forms for PrunePlay's own names (`0.`, `2.`, … for the
//!   MLP, timm's for the ViT).
//!
//! Every failure is an [`Error::Checkpoint`] naming the file and the tensor or problem; nothing
//! on these paths panics on a file's contents.

mod chain;
mod layout;
mod masks;
mod mlp;
mod tensors;
mod vit;

use safetensors::tensor::{Metadata, SafeTensors};

pub use layout::{Layout, MaskForm, MlpLayout, MlpNaming, VitLayout};
pub use masks::{apply_masks, save_masks};
pub use mlp::{from_safetensors, to_safetensors};
pub use vit::{from_safetensors as vit_from_safetensors, to_safetensors as vit_to_safetensors};

use crate::error::{Error, Result};
#[cfg(not(target_arch = "wasm32"))]
use crate::model::Mlp;
use crate::model::{Model, Network};

/// The most parameters (weights and biases, the ViT's other tensors too; masks not counted) a
/// checkpoint may have, on the page and the CLI alike. The page trains, sweeps and fine-tunes
/// the model it opens in a browser tab, several copies at once; 4 million is fifteen times
/// LeNet-300-100 and keeps that within a tab's memory and a visitor's patience. The loaders check
/// it from the file's header, before reading a value.
pub const MAX_PARAMETERS: usize = 4_000_000;

/// What a safetensors file holds, as [`inspect`] tells from its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A model: open it with [`open`].
    Model,
    /// Masks only (`….weight_mask`, a ViT's `….head_mask`): apply it to a model with
    /// [`apply_masks`].
    Masks,
}

/// Whether `bytes` is a model or a masks file, from the header alone; an error when it is not a
/// safetensors file or holds no tensors. `file` names it in error messages.
pub fn inspect(file: &str, bytes: &[u8]) -> Result<FileKind> {
    let header = header(file, bytes)?;
    if header.tensors().is_empty() {
        return Err(Error::checkpoint(file, "holds no tensors"));
    }
    Ok(if masks::only_masks(&header) {
        FileKind::Masks
    } else {
        FileKind::Model
    })
}

/// A model read from a file, with the names it had there.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// The name the file was opened under, for messages.
    pub name: String,
    pub model: Model,
    /// Save with [`save_with`] and this layout to write the model under the same names.
    pub layout: Layout,
}

impl Checkpoint {
    /// An error unless the model takes `inputs` pixels per image and gives `classes` logits,
    /// naming the layer that does not fit (e.g. a first layer that does not take 784 inputs).
    pub fn check_fits(&self, inputs: usize, classes: usize) -> Result<()> {
        let (has_inputs, has_classes) = (self.model.inputs(), self.model.classes());
        if (has_inputs, has_classes) == (inputs, classes) {
            return Ok(());
        }
        let mut problem = format!(
            "the model is {} but the data has {inputs} pixels per image and {classes} classes",
            self.model.spec()
        );
        if let (Model::Mlp(m), Layout::Mlp(l)) = (&self.model, &self.layout) {
            let layer = |i: usize| {
                let name = layout::tensor_name(&l.modules[i], "weight");
                let layer = &m.layers()[i];
                format!("{name} [{}, {}]", layer.outputs(), layer.inputs())
            };
            if has_inputs != inputs {
                problem.push_str(&format!(
                    ": its first layer, {}, takes {has_inputs} inputs",
                    layer(0)
                ));
            } else {
                problem.push_str(&format!(
                    ": its last layer, {}, gives {has_classes} outputs",
                    layer(m.layers().len() - 1)
                ));
            }
        }
        Err(Error::checkpoint(&self.name, problem))
    }
}

/// Parses a model file: an MLP in any accepted form, or a timm ViT (told apart by the metadata
/// `model=vit` or timm's names, `patch_embed.…`, `blocks.…`). A masks file is refused with a
/// message saying what it is. `file` names it in error messages.
pub fn open(file: &str, bytes: &[u8]) -> Result<Checkpoint> {
    if inspect(file, bytes)? == FileKind::Masks {
        return Err(Error::checkpoint(
            file,
            "this is a masks file (only ….weight_mask and ….head_mask tensors), not a model: \
             apply it to a model that has those layers (pruneplay prune --masks FILE)",
        ));
    }
    let (model, layout) = if vit::is_vit(&header(file, bytes)?) {
        let (v, l) = vit::read(file, bytes)?;
        (Model::from(v), Layout::Vit(l))
    } else {
        let (m, l) = mlp::read(file, bytes)?;
        (Model::from(m), Layout::Mlp(l))
    };
    Ok(Checkpoint {
        name: file.to_owned(),
        model,
        layout,
    })
}

/// [`open`]'s model alone.
pub fn load(file: &str, bytes: &[u8]) -> Result<Model> {
    open(file, bytes).map(|c| c.model)
}

/// Serialises either model under PrunePlay's own names ([`Layout::default_for`]).
pub fn save(model: &Model) -> Result<Vec<u8>> {
    save_with(model, &Layout::default_for(model))
}

/// Serialises `model` under `layout`'s names: each weight already multiplied by its mask, the
/// mask beside it as `….weight_mask` for each layer with a pruned entry (a ViT's masked heads as
/// `blocks.{i}.attn.head_mask`). A compacted model keeps its names with smaller shapes. An
/// error when the layout is another model's.
pub fn save_with(model: &Model, layout: &Layout) -> Result<Vec<u8>> {
    let names = layout.linear_names(model)?;
    match model {
        Model::Mlp(m) => mlp::write(m, &names),
        Model::Vit(v) => vit_to_safetensors(v),
    }
}

/// The header, or "not a safetensors file".
fn header(file: &str, bytes: &[u8]) -> Result<Metadata> {
    SafeTensors::read_metadata(bytes)
        .map(|(_, header)| header)
        .map_err(|e| Error::checkpoint(file, format!("not a safetensors file ({e})")))
}

/// Refuses a file whose header claims more than [`MAX_PARAMETERS`] parameters.
fn check_parameters(file: &str, header: &Metadata) -> Result<()> {
    let parameters = header
        .tensors()
        .iter()
        .filter(|(name, _)| !name.ends_with("_mask"))
        .map(|(_, info)| {
            info.shape
                .iter()
                .try_fold(1usize, |n, &d| n.checked_mul(d))
                .unwrap_or(usize::MAX)
        })
        .fold(0usize, usize::saturating_add);
    if parameters > MAX_PARAMETERS {
        return Err(Error::checkpoint(
            file,
            format!(
                "the model has {} parameters; PrunePlay opens models of at most {} parameters \
                 (the page trains and prunes them in a browser tab)",
                thousands(parameters),
                thousands(MAX_PARAMETERS)
            ),
        ));
    }
    Ok(())
}

/// `4000000` as `4,000,000`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(not(target_arch = "wasm32"))]
fn write(path: &std::path::Path, bytes: Vec<u8>) -> Result<()> {
    std::fs::write(path, bytes).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })
}

#[cfg(not(target_arch = "wasm32"))]
fn read(path: &std::path::Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })
}

/// Writes either model to `path` under PrunePlay's own names.
#[cfg(not(target_arch = "wasm32"))]
pub fn save_file(model: &Model, path: &std::path::Path) -> Result<()> {
    write(path, save(model)?)
}

/// Writes `model` to `path` under `layout`'s names ([`save_with`]).
#[cfg(not(target_arch = "wasm32"))]
pub fn save_file_with(model: &Model, layout: &Layout, path: &std::path::Path) -> Result<()> {
    write(path, save_with(model, layout)?)
}

/// Reads either model from `path`.
#[cfg(not(target_arch = "wasm32"))]
pub fn load_file(path: &std::path::Path) -> Result<Model> {
    open_file(path).map(|c| c.model)
}

/// Reads either model from `path`, with its layout ([`open`]).
#[cfg(not(target_arch = "wasm32"))]
pub fn open_file(path: &std::path::Path) -> Result<Checkpoint> {
    open(&path.display().to_string(), &read(path)?)
}

/// Applies the masks file at `path` to `model` ([`apply_masks`]).
#[cfg(not(target_arch = "wasm32"))]
pub fn apply_masks_file(model: &mut Model, layout: &Layout, path: &std::path::Path) -> Result<()> {
    apply_masks(model, layout, &path.display().to_string(), &read(path)?)
}

/// Writes `model`'s masks to `path` ([`save_masks`]).
#[cfg(not(target_arch = "wasm32"))]
pub fn save_masks_file(model: &Model, layout: &Layout, path: &std::path::Path) -> Result<()> {
    write(path, save_masks(model, layout)?)
}

/// Writes an MLP to `path`.
#[cfg(not(target_arch = "wasm32"))]
pub fn save_mlp_file(model: &Mlp, path: &std::path::Path) -> Result<()> {
    write(path, to_safetensors(model)?)
}

/// Reads an MLP from `path` (an error for any other file, a ViT's included).
#[cfg(not(target_arch = "wasm32"))]
pub fn load_mlp_file(path: &std::path::Path) -> Result<Mlp> {
    from_safetensors(&path.display().to_string(), &read(path)?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn thousands_groups_digits() {
        assert_eq!(super::thousands(0), "0");
        assert_eq!(super::thousands(999), "999");
        assert_eq!(super::thousands(4_000_000), "4,000,000");
        assert_eq!(super::thousands(12_345), "12,345");
    }
}
