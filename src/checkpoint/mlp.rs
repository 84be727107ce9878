//! The MLP's checkpoints, with PyTorch `nn.Sequential` names.
//!
//! `nn.Sequential(Linear, ReLU, Linear, ReLU, Linear)` numbers its Linear layers 0, 2, 4, …; each
//! has `N.weight` (`[out, in]`, f32) and `N.bias`. A pruned layer's mask is stored as
//! `N.weight_mask`, the name `torch.nn.utils.prune` gives it. A pruned PyTorch state dict holds
//! `N.weight_orig` instead of `N.weight`; loading accepts either and multiplies by the mask.

use std::collections::{BTreeMap, HashMap};

use ndarray::Array2;
use safetensors::tensor::SafeTensors;

use super::tensors::{le_bytes, matrix, serialize, vector};

use crate::error::{Error, Result};
use crate::model::{Layer, Mlp, Network};

/// Index of layer `i` in a PyTorch `nn.Sequential` that puts a ReLU between Linear layers.
fn sequential_index(i: usize) -> usize {
    2 * i
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
    let metadata = HashMap::from([
        ("format".to_owned(), "pt".to_owned()),
        ("architecture".to_owned(), model.architecture().to_string()),
        (
            "weights_remaining".to_owned(),
            format!("{:.6}", model.weights_remaining()),
        ),
    ]);
    serialize(&buffers, metadata)
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
