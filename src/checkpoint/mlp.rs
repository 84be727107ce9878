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

impl Module<'_> {
    /// `(outputs, inputs)`, once [`check`] has passed.
    fn shape(&self) -> (usize, usize) {
        let info = self.weight.as_ref().expect("checked").1;
        (info.shape[0], info.shape[1])
    }

    fn weight_name(&self) -> &str {
        &self.weight.as_ref().expect("checked").0
    }

    fn describe(&self) -> String {
        format!(
            "{} {:?}",
            self.weight_name(),
            [self.shape().0, self.shape().1]
        )
    }
}

/// Parses a checkpoint and says how it named its layers.
pub(super) fn read(file: &str, bytes: &[u8]) -> Result<(Mlp, MlpLayout)> {
    let not_safetensors = |e: safetensors::SafeTensorError| {
        Error::checkpoint(file, format!("not a safetensors file ({e})"))
    };
    let (_, header) = SafeTensors::read_metadata(bytes).map_err(not_safetensors)?;
    super::check_parameters(file, &header)?;
    let (modules, naming) = layout(file, &header)?;
    let st = SafeTensors::deserialize(bytes).map_err(not_safetensors)?;
    let mut layers = Vec::with_capacity(modules.len());
    for m in &modules {
        let weight = matrix(&st, file, m.weight_name())?;
        let bias = vector(&st, file, &m.bias.as_ref().expect("checked").0)?;
        let mask = match &m.mask {
            Some((name, _)) => matrix(&st, file, name)?,
            None => Array2::ones(weight.dim()),
        };
        // from_layers zeroes the masked weights: weight_orig ⊙ weight_mask, as prune computes.
        layers.push(Layer { weight, bias, mask });
    }
    let mlp = Mlp::from_layers(layers).map_err(|e| Error::checkpoint(file, e.to_string()))?;
    let layout = MlpLayout {
        modules: modules.into_iter().map(|m| m.name).collect(),
        naming,
        masks: MaskForm::of(&header),
    };
    Ok((mlp, layout))
}

/// The file's Linear modules in layer order, each checked, and how their order was found.
fn layout<'h>(file: &str, header: &'h Metadata) -> Result<(Vec<Module<'h>>, MlpNaming)> {
    let bad = |problem: String| Error::checkpoint(file, problem);
    // Group the tensors by module, in the order of the file's data.
    let mut modules: Vec<Module> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for name in header.offset_keys() {
        let info = header.info(&name).expect("a listed tensor");
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
            let name = bare_name(bare);
            return Err(bad(format!(
                "tensor {name:?} has no module name, but the file has other Linear layers too \
                 ({}); a state dict names each layer's tensors <module>.weight, <module>.bias",
                modules
                    .iter()
                    .filter(|m| !m.name.is_empty())
                    .map(|m| m.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    for m in &modules {
        check(file, m)?;
    }

    // A top-level nn.Sequential: every module an index, the order theirs.
    let indices: Option<Vec<usize>> = modules.iter().map(|m| index_of(&m.name)).collect();
    if let Some(indices) = indices {
        let mut order: Vec<(usize, Module)> = indices.into_iter().zip(modules).collect();
        order.sort_by_key(|(i, _)| *i);
        let first = order[0].0;
        let at: Vec<usize> = order.iter().map(|(i, _)| *i).collect();
        if at.iter().enumerate().any(|(j, &i)| i != first + 2 * j) {
            return Err(bad(format!(
                "Linear layers at {}: an nn.Sequential(Linear, ReLU, Linear, …) has one module \
                 between each two Linear layers, so it numbers them k, k + 2, k + 4, … (0, 2, 4, \
                 or 1, 3, 5 after an nn.Flatten)",
                list(&at)
            )));
        }
        let modules: Vec<Module> = order.into_iter().map(|(_, m)| m).collect();
        if let Some(j) = (1..modules.len()).find(|&j| !chains(&modules[j - 1], &modules[j])) {
            let (a, b) = (&modules[j - 1], &modules[j]);
            return Err(bad(format!(
                "layer {} ({}) has {} outputs but layer {j} ({}) takes {} inputs",
                j - 1,
                a.describe(),
                a.shape().0,
                b.describe(),
                b.shape().1
            )));
        }
        return Ok((modules, MlpNaming::Sequential { first }));
    }

    // Named modules: the file's order if it chains, else the one order that does.
    if (1..modules.len()).all(|j| chains(&modules[j - 1], &modules[j])) {
        return Ok((modules, MlpNaming::Named { reordered: false }));
    }
    let shapes: Vec<(usize, usize)> = modules.iter().map(Module::shape).collect();
    let described = modules
        .iter()
        .map(Module::describe)
        .collect::<Vec<_>>()
        .join(", ");
    match unique_order(&shapes) {
        Ok(order) => {
            let mut slots: Vec<Option<Module>> = modules.into_iter().map(Some).collect();
            let modules = order
                .into_iter()
                .map(|i| slots[i].take().expect("an order uses each layer once"))
                .collect();
            Ok((modules, MlpNaming::Named { reordered: true }))
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
fn bare_name(m: &Module) -> String {
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

fn chains(a: &Module, b: &Module) -> bool {
    a.shape().0 == b.shape().1
}

fn list(v: &[usize]) -> String {
    v.iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// One module's tensors, from the header: a weight (`weight` or `weight_orig`) `[out, in]`, a
/// bias `[out]`, a mask of the weight's shape if any, all float32.
fn check(file: &str, m: &Module) -> Result<()> {
    let bad = |problem: String| Err(Error::checkpoint(file, problem));
    let Some((weight, w)) = &m.weight else {
        let name = bare_name(m);
        return bad(format!(
            "{name} has no {} beside it (nor torch.nn.utils.prune's {})",
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
    Ok(())
}
