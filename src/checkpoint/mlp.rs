//! The MLP's checkpoints: any stack of Linear layers with a ReLU between each two, as PyTorch
//! state dicts name them.
//!
//! Every layer is a module with `<name>.weight` (`[out, in]`, f32) and `<name>.bias`; a pruned
//! one also has `<name>.weight_mask`, the name `torch.nn.utils.prune` gives it, and prune's own
//! state dicts hold `<name>.weight_orig` instead of `<name>.weight` (the weight is then
//! `weight_orig ⊙ weight_mask`, as prune computes it). The modules are put in order by
//! ([`MlpNaming`]):
//! - a top-level `nn.Sequential`, every name an index: Linear layers at k, k + 2, k + 4, … (0 for
//!   `nn.Sequential(Linear, ReLU, …)`, 1 after an `nn.Flatten()`);
//! - any other names (`fc1`, `net.0`, `encoder.hidden`): the file's order (safetensors writes
//!   tensors sorted by name, so `fc1`, `fc2`, `fc3` keep theirs), or when that order does not
//!   chain the shapes, the only order that does.
//!
//! Everything is checked from the header (names, dtypes, shapes, order) before a value is read.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use ndarray::Array2;
use safetensors::tensor::{Metadata, SafeTensors, TensorInfo};

use super::chain::{NoOrder, unique_order};
use super::layout::{MaskForm, MlpLayout, MlpNaming, tensor_name};
use super::tensors::{le_bytes, matrix, require_f32, serialize, vector};

use crate::error::{Error, Result};
use crate::model::{Layer, Mlp, Network};

/// Serialises weights, biases and masks under the `nn.Sequential` names 0, 2, 4, … (what
/// [`super::save`] writes for an MLP).
pub fn to_safetensors(model: &Mlp) -> Result<Vec<u8>> {
    write(model, &model.linear_names())
}

/// Serialises the model with layer i's tensors under `modules[i]` (`modules[i].weight`, …).
/// Each weight is stored already multiplied by its mask, and only a layer with a pruned entry
/// carries `….weight_mask`, as in a PyTorch state dict after prune on some layers (a dense
/// model's file is half the size; a missing mask reads as all ones). The metadata records the
/// architecture and the fraction of weights remaining, for people who inspect the file.
pub(super) fn write(model: &Mlp, modules: &[String]) -> Result<Vec<u8>> {
    let mut buffers: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for (layer, module) in model.layers().iter().zip(modules) {
        let shape = vec![layer.outputs(), layer.inputs()];
        // The model keeps weight == weight ⊙ mask; the product makes the file so whatever a
        // caller did to the fields.
        let weight = &layer.weight * &layer.mask;
        buffers.push((
            tensor_name(module, "weight"),
            shape.clone(),
            le_bytes(weight.iter().copied()),
        ));
        buffers.push((
            tensor_name(module, "bias"),
            vec![layer.outputs()],
            le_bytes(layer.bias.iter().copied()),
        ));
        if layer.mask.iter().any(|&m| m == 0.0) {
            buffers.push((
                tensor_name(module, "weight_mask"),
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

/// Parses a checkpoint in any of the forms above. `file` names it in error messages.
pub fn from_safetensors(file: &str, bytes: &[u8]) -> Result<Mlp> {
    read(file, bytes).map(|(mlp, _)| mlp)
}

/// The suffixes a Linear module's tensors have.
const PARTS: [&str; 4] = ["weight", "weight_orig", "weight_mask", "bias"];

/// One Linear module's tensors, as the header lists them.
struct Module<'h> {
    name: String,
    /// `….weight` or prune's `….weight_orig`, whichever the file has.
    weight: Option<(String, &'h TensorInfo)>,
    bias: Option<(String, &'h TensorInfo)>,
    mask: Option<(String, &'h TensorInfo)>,
}

/// A module whose tensors passed [`check`]: their names, and the weight's shape.
struct Linear {
    module: String,
    weight: String,
    bias: String,
    mask: Option<String>,
    /// `(outputs, inputs)`.
    shape: (usize, usize),
}

impl Linear {
    fn describe(&self) -> String {
        format!("{} [{}, {}]", self.weight, self.shape.0, self.shape.1)
    }
}

/// Parses a checkpoint and says how it named its layers.
pub(super) fn read(file: &str, bytes: &[u8]) -> Result<(Mlp, MlpLayout)> {
    let not_safetensors = |e: safetensors::SafeTensorError| {
        Error::checkpoint(file, format!("not a safetensors file ({e})"))
    };
    let (_, header) = SafeTensors::read_metadata(bytes).map_err(not_safetensors)?;
    super::check_parameters(file, &header)?;
    let (linears, naming) = layout(file, &header)?;
    let st = SafeTensors::deserialize(bytes).map_err(not_safetensors)?;
    let mut layers = Vec::with_capacity(linears.len());
    for l in &linears {
        let weight = matrix(&st, file, &l.weight)?;
        let bias = vector(&st, file, &l.bias)?;
        let mask = match &l.mask {
            Some(name) => matrix(&st, file, name)?,
            None => Array2::ones(weight.dim()),
        };
        // from_layers zeroes the masked weights: weight_orig ⊙ weight_mask, as prune computes.
        layers.push(Layer { weight, bias, mask });
    }
    let mlp = Mlp::from_layers(layers).map_err(|e| Error::checkpoint(file, e.to_string()))?;
    let layout = MlpLayout {
        modules: linears.into_iter().map(|l| l.module).collect(),
        naming,
        masks: MaskForm::of(&header),
    };
    Ok((mlp, layout))
}

/// The file's Linear modules in layer order, each checked, and how their order was found.
fn layout(file: &str, header: &Metadata) -> Result<(Vec<Linear>, MlpNaming)> {
    let bad = |problem: String| Error::checkpoint(file, problem);
    // The tensors in the order of the file's data (names break ties between empty tensors).
    let mut tensors: Vec<(String, &TensorInfo)> = header.tensors().into_iter().collect();
    tensors.sort_by(|a, b| (a.1.data_offsets, &a.0).cmp(&(b.1.data_offsets, &b.0)));
    // Group them by module, in that order.
    let mut modules: Vec<Module> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (name, info) in tensors {
        let (prefix, part) = name.rsplit_once('.').unwrap_or(("", name.as_str()));
        if !PARTS.contains(&part) {
            return Err(bad(format!(
                "unexpected tensor {name:?}: an MLP file holds only Linear layers' \
                 <name>.weight and <name>.bias (and torch.nn.utils.prune's <name>.weight_orig \
                 and <name>.weight_mask)"
            )));
        }
        let i = match index.entry(prefix.to_owned()) {
            Entry::Occupied(e) => *e.get(),
            Entry::Vacant(e) => {
                modules.push(Module {
                    name: prefix.to_owned(),
                    weight: None,
                    bias: None,
                    mask: None,
                });
                *e.insert(modules.len() - 1)
            }
        };
        let module = &mut modules[i];
        let slot = match part {
            "weight" | "weight_orig" => &mut module.weight,
            "bias" => &mut module.bias,
            _ => &mut module.mask,
        };
        if let Some((other, _)) = slot {
            return Err(bad(format!(
                "both {other} and {name}; a state dict holds one of them"
            )));
        }
        *slot = Some((name.clone(), info));
    }
    if modules.is_empty() {
        return Err(bad(
            "no tensors: is this a PyTorch state dict of Linear layers?".into(),
        ));
    }
    if modules.len() > 1 {
        if let Some(bare) = modules.iter().find(|m| m.name.is_empty()) {
            return Err(bad(format!(
                "tensor {:?} has no module name, but the file has other Linear layers too \
                 ({}); a state dict names each layer's tensors <module>.weight, <module>.bias",
                any_name(bare),
                modules
                    .iter()
                    .filter(|m| !m.name.is_empty())
                    .map(|m| m.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    let linears = modules
        .into_iter()
        .map(|m| check(file, m))
        .collect::<Result<Vec<Linear>>>()?;

    // A top-level nn.Sequential: every module an index, the order theirs.
    let indices: Option<Vec<usize>> = linears.iter().map(|l| index_of(&l.module)).collect();
    if let Some(indices) = indices {
        let mut order: Vec<(usize, Linear)> = indices.into_iter().zip(linears).collect();
        order.sort_by_key(|(i, _)| *i);
        let at: Vec<usize> = order.iter().map(|(i, _)| *i).collect();
        let first = at[0];
        if at.iter().enumerate().any(|(j, &i)| i != first + 2 * j) {
            return Err(bad(format!(
                "Linear layers at {}: an nn.Sequential(Linear, ReLU, Linear, …) has one module \
                 between each two Linear layers, so it numbers them k, k + 2, k + 4, … (0, 2, 4, \
                 or 1, 3, 5 after an nn.Flatten)",
                list(&at)
            )));
        }
        let linears: Vec<Linear> = order.into_iter().map(|(_, l)| l).collect();
        if let Some(j) = (1..linears.len()).find(|&j| !chains(&linears[j - 1], &linears[j])) {
            let (a, b) = (&linears[j - 1], &linears[j]);
            return Err(bad(format!(
                "layer {} ({}) has {} outputs but layer {j} ({}) takes {} inputs",
                j - 1,
                a.describe(),
                a.shape.0,
                b.describe(),
                b.shape.1
            )));
        }
        return Ok((linears, MlpNaming::Sequential { first }));
    }

    // Named modules: the file's order if it chains, else the one order that does.
    if (1..linears.len()).all(|j| chains(&linears[j - 1], &linears[j])) {
        return Ok((linears, MlpNaming::Named { reordered: false }));
    }
    let shapes: Vec<(usize, usize)> = linears.iter().map(|l| l.shape).collect();
    let described = linears
        .iter()
        .map(Linear::describe)
        .collect::<Vec<_>>()
        .join(", ");
    match unique_order(&shapes) {
        Ok(order) => {
            // Each layer's place in the chain, then the layers sorted by it.
            let mut place = vec![0; order.len()];
            for (p, &i) in order.iter().enumerate() {
                place[i] = p;
            }
            let mut placed: Vec<(usize, Linear)> = place.into_iter().zip(linears).collect();
            placed.sort_by_key(|(p, _)| *p);
            let linears = placed.into_iter().map(|(_, l)| l).collect();
            Ok((linears, MlpNaming::Named { reordered: true }))
        }
        Err(NoOrder::None) => Err(bad(format!(
            "the Linear layers' shapes do not chain in any order (each layer's inputs must be \
             the previous one's outputs): {described}"
        ))),
        Err(NoOrder::Many | NoOrder::TooHard) => Err(bad(format!(
            "the file's order of Linear layers does not chain their shapes, and they chain in \
             more than one other order: {described}. Save the model as an nn.Sequential, or \
             name the layers so that they sort in order (fc1, fc2, …)"
        ))),
    }
}

/// Any tensor name of a module, for messages.
fn any_name(m: &Module) -> String {
    [&m.weight, &m.bias, &m.mask]
        .into_iter()
        .flatten()
        .map(|(name, _)| name.clone())
        .next()
        .unwrap_or_default()
}

/// A module name that is an `nn.Sequential` index: digits in canonical form ("01" is not one).
fn index_of(name: &str) -> Option<usize> {
    name.parse::<usize>().ok().filter(|i| i.to_string() == name)
}

fn chains(a: &Linear, b: &Linear) -> bool {
    a.shape.0 == b.shape.1
}

fn list(v: &[usize]) -> String {
    v.iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// One module's tensors, from the header: a weight (`weight` or `weight_orig`) `[out, in]`, a
/// bias `[out]`, a mask of the weight's shape if any, all float32.
fn check(file: &str, m: Module) -> Result<Linear> {
    let bad = |problem: String| Err(Error::checkpoint(file, problem));
    let Some((weight, w)) = &m.weight else {
        return bad(format!(
            "{} has no {} beside it (nor torch.nn.utils.prune's {})",
            any_name(&m),
            tensor_name(&m.name, "weight"),
            tensor_name(&m.name, "weight_orig")
        ));
    };
    require_f32(file, weight, w.dtype)?;
    let &[out, inp] = w.shape.as_slice() else {
        return bad(format!(
            "{weight} has shape {:?}; a Linear layer's weight is [outputs, inputs]",
            w.shape
        ));
    };
    if out == 0 || inp == 0 {
        return bad(format!("{weight} has shape {:?}: an empty layer", w.shape));
    }
    let Some((bias, b)) = &m.bias else {
        return bad(format!(
            "missing tensor {} (PrunePlay's Linear layers have a bias: nn.Linear(…, \
             bias=True))",
            tensor_name(&m.name, "bias")
        ));
    };
    require_f32(file, bias, b.dtype)?;
    if b.shape != [out] {
        return bad(format!(
            "{bias} has shape {:?} but {weight} has {out} rows; expected [{out}]",
            b.shape
        ));
    }
    if let Some((mask, k)) = &m.mask {
        require_f32(file, mask, k.dtype)?;
        if k.shape != w.shape {
            return bad(format!(
                "{mask} has shape {:?} but {weight} has {:?}",
                k.shape, w.shape
            ));
        }
    }
    Ok(Linear {
        weight: weight.clone(),
        bias: bias.clone(),
        mask: m.mask.as_ref().map(|(name, _)| name.clone()),
        module: m.name,
        shape: (out, inp),
    })
}
