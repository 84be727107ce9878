//! Checkpoints as safetensors with PyTorch `nn.Sequential` names, so a PyTorch user can bring a
//! model in (`safetensors.torch.load_file` → `model.load_state_dict`) and take one out.
//!
//! `nn.Sequential(Linear, ReLU, Linear, ReLU, Linear)` numbers its Linear layers 0, 2, 4, …; each
//! has `N.weight` (`[out, in]`, f32) and `N.bias`. A pruned layer's mask is stored as
//! `N.weight_mask`, the name `torch.nn.utils.prune` gives it. A pruned PyTorch state dict holds
//! `N.weight_orig` instead of `N.weight`; loading accepts either and multiplies by the mask.

use std::collections::{BTreeMap, HashMap};

use ndarray::{Array1, Array2};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::error::{Error, Result};
use crate::model::{Layer, Mlp};

/// Index of layer `i` in a PyTorch `nn.Sequential` that puts a ReLU between Linear layers.
fn sequential_index(i: usize) -> usize {
    2 * i
}

fn le_bytes(values: impl Iterator<Item = f32>) -> Vec<u8> {
    values.flat_map(f32::to_le_bytes).collect()
}

/// Serialises weights, biases and masks. The metadata records the architecture and the fraction
/// of weights remaining, for people who inspect the file.
pub fn to_safetensors(model: &Mlp) -> Result<Vec<u8>> {
    let mut buffers: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for (i, layer) in model.layers().iter().enumerate() {
        let n = sequential_index(i);
        let shape = vec![layer.outputs(), layer.inputs()];
        buffers.push((
            format!("{n}.weight"),
            shape.clone(),
            le_bytes(layer.weight.iter().copied()),
        ));
        buffers.push((
            format!("{n}.bias"),
            vec![layer.outputs()],
            le_bytes(layer.bias.iter().copied()),
        ));
        // As in PyTorch, only a pruned layer carries a mask: a dense model's file is half the
        // size (what the page downloads), and loading gives a missing mask all ones.
        if layer.mask.iter().any(|&m| m == 0.0) {
            buffers.push((
                format!("{n}.weight_mask"),
                shape,
                le_bytes(layer.mask.iter().copied()),
            ));
        }
    }
    let views = buffers
        .iter()
        .map(|(name, shape, data)| {
            TensorView::new(Dtype::F32, shape.clone(), data)
                .map(|v| (name.clone(), v))
                .map_err(|e| Error::checkpoint(name, e.to_string()))
        })
        .collect::<Result<Vec<_>>>()?;
    let metadata = HashMap::from([
        ("format".to_owned(), "pt".to_owned()),
        ("architecture".to_owned(), model.architecture().to_string()),
        (
            "weights_remaining".to_owned(),
            format!("{:.6}", model.weights_remaining()),
        ),
    ]);
    safetensors::serialize(views, Some(metadata))
        .map_err(|e| Error::checkpoint("(serialising)", e.to_string()))
}

/// Parses a checkpoint. `file` names it in error messages.
pub fn from_safetensors(file: &str, bytes: &[u8]) -> Result<Mlp> {
    let st = SafeTensors::deserialize(bytes)
        .map_err(|e| Error::checkpoint(file, format!("not a safetensors file ({e})")))?;
    let bad = |problem: String| Error::checkpoint(file, problem);

    // Collect the Linear layers by their Sequential index, from `N.weight` or `N.weight_orig`.
    let mut indices = BTreeMap::new();
    for name in st.names() {
        let Some((prefix, suffix)) = name.split_once('.') else {
            return Err(bad(format!(
                "unexpected tensor {name:?} (expected names like 0.weight)"
            )));
        };
        let n: usize = prefix.parse().map_err(|_| {
            bad(format!(
                "unexpected tensor {name:?} (expected names like 0.weight)"
            ))
        })?;
        match suffix {
            "weight" | "weight_orig" => {
                indices.insert(n, ());
            }
            "bias" | "weight_mask" => {}
            _ => return Err(bad(format!("unexpected tensor {name:?}"))),
        }
    }
    if indices.is_empty() {
        return Err(bad(
            "no `N.weight` tensors: is this a PyTorch nn.Sequential of Linear layers?".into(),
        ));
    }
    let mut layers = Vec::with_capacity(indices.len());
    for (i, &n) in indices.keys().enumerate() {
        if n != sequential_index(i) {
            return Err(bad(format!(
                "layer {i} is named {n}.weight; an nn.Sequential(Linear, ReLU, Linear, …) names it {}.weight",
                sequential_index(i)
            )));
        }
        let weight_name = if st.names().contains(&format!("{n}.weight").as_str()) {
            format!("{n}.weight")
        } else {
            format!("{n}.weight_orig")
        };
        let weight = matrix(&st, file, &weight_name)?;
        let bias_name = format!("{n}.bias");
        let bias = vector(&st, file, &bias_name)?;
        if bias.len() != weight.nrows() {
            return Err(bad(format!(
                "{bias_name} has {} values but {weight_name} has {} rows",
                bias.len(),
                weight.nrows()
            )));
        }
        let mask_name = format!("{n}.weight_mask");
        let mask = match st.tensor(&mask_name) {
            Ok(_) => matrix(&st, file, &mask_name)?,
            Err(_) => Array2::ones(weight.dim()),
        };
        if mask.dim() != weight.dim() {
            return Err(bad(format!(
                "{mask_name} is {:?} but {weight_name} is {:?}",
                mask.dim(),
                weight.dim()
            )));
        }
        layers.push(Layer { weight, bias, mask });
    }
    Mlp::from_layers(layers).map_err(|e| bad(e.to_string()))
}

fn f32_tensor(
    st: &SafeTensors,
    file: &str,
    name: &str,
    rank: usize,
) -> Result<(Vec<usize>, Vec<f32>)> {
    let t = st
        .tensor(name)
        .map_err(|_| Error::checkpoint(file, format!("missing tensor {name}")))?;
    if t.dtype() != Dtype::F32 {
        return Err(Error::checkpoint(
            file,
            format!(
                "{name} is {:?}; PrunePlay reads float32 (use tensor.float() before saving)",
                t.dtype()
            ),
        ));
    }
    if t.shape().len() != rank {
        return Err(Error::checkpoint(
            file,
            format!(
                "{name} has shape {:?}; expected {rank} dimensions",
                t.shape()
            ),
        ));
    }
    let values = t
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect::<Vec<_>>();
    if let Some(v) = values.iter().find(|v| !v.is_finite()) {
        return Err(Error::checkpoint(file, format!("{name} contains {v}")));
    }
    Ok((t.shape().to_vec(), values))
}

fn matrix(st: &SafeTensors, file: &str, name: &str) -> Result<Array2<f32>> {
    let (shape, values) = f32_tensor(st, file, name, 2)?;
    Array2::from_shape_vec((shape[0], shape[1]), values)
        .map_err(|e| Error::checkpoint(file, format!("{name}: {e}")))
}

fn vector(st: &SafeTensors, file: &str, name: &str) -> Result<Array1<f32>> {
    let (_, values) = f32_tensor(st, file, name, 1)?;
    Ok(Array1::from(values))
}

/// Writes `model` to `path`.
#[cfg(not(target_arch = "wasm32"))]
pub fn save(model: &Mlp, path: &std::path::Path) -> Result<()> {
    let bytes = to_safetensors(model)?;
    std::fs::write(path, bytes).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })
}

/// Reads a model from `path`.
#[cfg(not(target_arch = "wasm32"))]
pub fn load(path: &std::path::Path) -> Result<Mlp> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })?;
    from_safetensors(&path.display().to_string(), &bytes)
}

// Temporary shims until the checkpoint module for both models lands.
pub fn save_file(model: &crate::model::Model, path: &std::path::Path) -> Result<()> {
    save(model.mlp("saving")?, path)
}

pub fn load_file(path: &std::path::Path) -> Result<crate::model::Model> {
    load(path).map(crate::model::Model::Mlp)
}
