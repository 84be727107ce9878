//! Checkpoints as safetensors with PyTorch's parameter names, so a PyTorch user can bring a model
//! in (`safetensors.torch.load_file` → `model.load_state_dict`) and take one out: the MLP with
//! `nn.Sequential` names ([`to_safetensors`], [`from_safetensors`]), the ViT with timm's
//! ([`vit_to_safetensors`], [`vit_from_safetensors`]). [`save`] and [`load`] take either model
//! and tell them apart by the file's metadata and names.

mod mlp;
mod tensors;
mod vit;

use safetensors::tensor::SafeTensors;

pub use mlp::{from_safetensors, to_safetensors};
pub use vit::{from_safetensors as vit_from_safetensors, to_safetensors as vit_to_safetensors};

use crate::error::{Error, Result};
#[cfg(not(target_arch = "wasm32"))]
use crate::model::Mlp;
use crate::model::Model;

/// Serialises either model: the MLP as [`to_safetensors`] does, the ViT with timm's names.
pub fn save(model: &Model) -> Result<Vec<u8>> {
    match model {
        Model::Mlp(m) => to_safetensors(m),
        Model::Vit(v) => vit_to_safetensors(v),
    }
}

/// Parses a checkpoint of either model. A file is a ViT's when its metadata says `model=vit` or
/// it has timm's ViT names (`patch_embed.…`, `blocks.…`); anything else is read as the MLP, so
/// an MLP file gets the MLP's messages. `file` names it in error messages.
pub fn load(file: &str, bytes: &[u8]) -> Result<Model> {
    let (_, header) = SafeTensors::read_metadata(bytes)
        .map_err(|e| Error::checkpoint(file, format!("not a safetensors file ({e})")))?;
    if vit::is_vit(&header) {
        vit_from_safetensors(file, bytes).map(Model::from)
    } else {
        from_safetensors(file, bytes).map(Model::from)
    }
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

/// Writes either model to `path`.
#[cfg(not(target_arch = "wasm32"))]
pub fn save_file(model: &Model, path: &std::path::Path) -> Result<()> {
    write(path, save(model)?)
}

/// Reads either model from `path`.
#[cfg(not(target_arch = "wasm32"))]
pub fn load_file(path: &std::path::Path) -> Result<Model> {
    load(&path.display().to_string(), &read(path)?)
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
