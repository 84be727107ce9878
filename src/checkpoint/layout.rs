//! A file's layout: which names a model's tensors had when it was loaded, and a one-line
//! description of them for the page and the CLI to show.
//!
//! Saving under the layout a model was loaded with gives back a file the user's own PyTorch code
//! loads as it loaded the original, whatever naming that code uses.

use std::fmt;

use safetensors::tensor::Metadata;

use crate::error::{Error, Result};
use crate::model::{Model, Network, Vit};

/// How a model's tensors are named in a file. Obtained from [`super::open`], or
/// [`Layout::default_for`] for a model PrunePlay made itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    Mlp(MlpLayout),
    Vit(VitLayout),
}

/// An MLP's Linear modules: the name before `.weight` / `.bias` of each layer, in layer order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MlpLayout {
    pub(super) modules: Vec<String>,
    pub(super) naming: MlpNaming,
    pub(super) masks: MaskForm,
}

/// How the Linear modules were found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MlpNaming {
    /// A top-level `nn.Sequential`: Linear layers at `first`, `first + 2`, … (a ReLU between
    /// each two; `first` is 1 after an `nn.Flatten()`).
    Sequential { first: usize },
    /// Named modules (`fc1`, `net.0`, …) in the file's order or, when that order does not chain
    /// the shapes, in the only order that does (`reordered`).
    Named { reordered: bool },
}

/// The ViT's names are timm's; only what the description says varies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VitLayout {
    pub(super) compacted: bool,
    pub(super) masks: MaskForm,
}

/// How the file held its masks, for the description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaskForm {
    /// No mask tensor: a dense model.
    None,
    /// `….weight` already masked, with `….weight_mask` beside it (PrunePlay's files).
    WeightMask,
    /// `torch.nn.utils.prune`'s `….weight_orig` + `….weight_mask`.
    WeightOrig,
}

impl MaskForm {
    /// The form the file's tensor names show.
    pub(super) fn of(header: &Metadata) -> Self {
        let names = header.tensors();
        if names.keys().any(|n| n.ends_with("weight_orig")) {
            MaskForm::WeightOrig
        } else if names.keys().any(|n| n.ends_with("_mask")) {
            MaskForm::WeightMask
        } else {
            MaskForm::None
        }
    }

    fn describe(self) -> &'static str {
        match self {
            MaskForm::None => "",
            MaskForm::WeightMask => ", with masks (weight_mask)",
            MaskForm::WeightOrig => ", with torch.nn.utils.prune masks (weight_orig + weight_mask)",
        }
    }
}

/// `prefix.part`, or `part` alone for a bare `nn.Linear`'s state dict (prefix "").
pub(super) fn tensor_name(prefix: &str, part: &str) -> String {
    if prefix.is_empty() {
        part.to_owned()
    } else {
        format!("{prefix}.{part}")
    }
}

impl Layout {
    /// The names PrunePlay writes when nothing else is asked: `nn.Sequential` indices 0, 2, 4, …
    /// for an MLP, timm's for the ViT. Files saved under it are what `save` always wrote.
    pub fn default_for(model: &Model) -> Self {
        match model {
            Model::Mlp(m) => Layout::Mlp(MlpLayout {
                modules: m.linear_names(),
                naming: MlpNaming::Sequential { first: 0 },
                masks: MaskForm::None,
            }),
            Model::Vit(v) => Layout::Vit(VitLayout {
                compacted: !v.is_uniform(),
                masks: MaskForm::None,
            }),
        }
    }

    /// One line for people: "nn.Sequential, Linear layers at 1, 3, 5 (after nn.Flatten)",
    /// "named Linear modules fc1, fc2, fc3, with torch.nn.utils.prune masks (weight_orig +
    /// weight_mask)", "timm VisionTransformer".
    pub fn description(&self) -> String {
        match self {
            Layout::Mlp(l) => {
                let list = l.modules.join(", ");
                let what = match l.naming {
                    MlpNaming::Sequential { first: 1 } => {
                        format!("nn.Sequential, Linear layers at {list} (after nn.Flatten)")
                    }
                    MlpNaming::Sequential { .. } => {
                        format!("nn.Sequential, Linear layers at {list}")
                    }
                    MlpNaming::Named { .. } if l.modules == [""] => {
                        "a single nn.Linear (weight, bias)".to_owned()
                    }
                    MlpNaming::Named { reordered: false } => {
                        format!("named Linear modules {list}")
                    }
                    MlpNaming::Named { reordered: true } => format!(
                        "named Linear modules {list} (in the order their shapes chain, not the \
                         file's)"
                    ),
                };
                format!("{what}{}", l.masks.describe())
            }
            Layout::Vit(l) => format!(
                "timm VisionTransformer{}{}",
                if l.compacted {
                    " (compacted: blocks of their own widths)"
                } else {
                    ""
                },
                l.masks.describe()
            ),
        }
    }

    /// Each linear layer's module name (before `.weight`), in the model's layer order: what
    /// `model.get_submodule(name)` finds in PyTorch. An error when the layout is another
    /// model's (another kind, or another number of layers).
    pub fn linear_names(&self, model: &Model) -> Result<Vec<String>> {
        let bad = |problem: String| Err(Error::checkpoint("(layout)", problem));
        match (self, model) {
            (Layout::Mlp(l), Model::Mlp(m)) if l.modules.len() == m.layers().len() => {
                Ok(l.modules.clone())
            }
            (Layout::Mlp(l), Model::Mlp(m)) => bad(format!(
                "the layout names {} Linear layers ({}) but the model has {}",
                l.modules.len(),
                l.modules.join(", "),
                m.layers().len()
            )),
            (Layout::Vit(_), Model::Vit(v)) => Ok(Vit::timm_linear_names(v.depth())),
            (Layout::Mlp(_), Model::Vit(_)) => {
                bad("an MLP's layout cannot name a ViT's tensors".into())
            }
            (Layout::Vit(_), Model::Mlp(_)) => {
                bad("a ViT's layout cannot name an MLP's tensors".into())
            }
        }
    }
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.description())
    }
}

impl MlpLayout {
    /// The Linear modules' names, in layer order.
    pub fn modules(&self) -> &[String] {
        &self.modules
    }

    pub fn naming(&self) -> MlpNaming {
        self.naming
    }
}
