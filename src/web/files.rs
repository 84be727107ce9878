//! Models in and results out on the prune card: "Open a model" reads a safetensors file with the
//! CLI's loader ([`crate::checkpoint`]) and makes it the model to prune, or applies a masks file
//! to the current one; the downloads write the walk-through's model (dense, masked or compacted)
//! and its masks under the names the model was loaded with, with the Python that loads them back.
//!
//! The file's bytes come from the visitor's own disk through the page; nothing here fetches or
//! sends anything.

use serde::Serialize;
use wasm_bindgen::prelude::*;

use super::store::{Loaded, ModelStore};
use super::walk_through::{WalkThrough, live, shown};
use super::{js_error, to_js};
use crate::checkpoint::{self, FileKind, Layout, MlpNaming};
use crate::model::Model;
use crate::prune::{compaction, vit_compaction};
use crate::train::evaluate;

/// What opening a file did.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Opened {
    /// `model`: the file's model is now the one to prune; `masks`: the file's masks were put on
    /// the model that was there, and that is now the one to prune.
    what: &'static str,
    /// The file's name, as the visitor's disk had it.
    name: String,
    model: Loaded,
}

#[wasm_bindgen]
impl ModelStore {
    /// Opens a safetensors file the visitor picked: a model (any form the CLI's loader accepts)
    /// becomes the one pruning starts from, once it fits the data set; a masks file is applied
    /// to the current model. Returns `{what, name, model}` (see [`Loaded`]). On any error, which
    /// names the tensor or the problem, the current model stays as it was.
    #[wasm_bindgen(js_name = openModel)]
    pub fn open_model(&self, file_name: &str, bytes: &[u8]) -> Result<JsValue, JsValue> {
        let kind = checkpoint::inspect(file_name, bytes).map_err(js_error)?;
        let mut shared = self.shared.borrow_mut();
        let (what, model) = match kind {
            FileKind::Model => {
                let opened = checkpoint::open(file_name, bytes).map_err(js_error)?;
                ("model", shared.set_checkpoint(opened)?)
            }
            FileKind::Masks => {
                let layout = shared.layout()?;
                let mut model = shared
                    .base()
                    .map_err(|_| js_error("a masks file needs a model to go on; open one first"))?
                    .clone();
                checkpoint::apply_masks(&mut model, &layout, file_name, bytes).map_err(js_error)?;
                let data = shared.data()?;
                let evaluation = (!data.test.is_empty()).then(|| evaluate(&model, &data.test));
                let loaded = Loaded::of(&model, evaluation.as_ref().map(|e| e.accuracy), &layout);
                shared.set_base(model, evaluation, layout);
                ("masks", loaded)
            }
        };
        to_js(&Opened {
            what,
            name: file_name.to_owned(),
            model,
        })
    }
}

/// The two forms the model download comes in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    /// The walk-through's model as it is: dense before the threshold stage, masked after (the
    /// shapes of the file it was loaded from).
    AsIs,
    /// Neurons, heads, units and blocks with nothing left deleted: smaller shapes, same names.
    Compacted,
}

impl Form {
    fn parse(text: &str) -> Result<Self, JsValue> {
        match text {
            "as-is" => Ok(Form::AsIs),
            "compacted" => Ok(Form::Compacted),
            other => Err(js_error(format!(
                "no model download called {other:?}; the forms are as-is and compacted"
            ))),
        }
    }
}

#[wasm_bindgen]
impl WalkThrough {
    /// The walk-through's model as safetensors bytes under the names the base model was loaded
    /// with (`form`: `as-is` or `compacted`): each weight already multiplied by its mask, the
    /// mask beside it (see [`checkpoint::save_with`]).
    #[wasm_bindgen(js_name = modelFile)]
    pub fn model_file(&self, form: &str) -> Result<Vec<u8>, JsValue> {
        let (model, layout) = self.download(Form::parse(form)?)?;
        checkpoint::save_with(&model, &layout).map_err(js_error)
    }

    /// The walk-through's masks alone (`….weight_mask`, a ViT's `….head_mask` too), under the
    /// model's names ([`checkpoint::save_masks`]).
    #[wasm_bindgen(js_name = masksFile)]
    pub fn masks_file(&self) -> Result<Vec<u8>, JsValue> {
        let (model, layout) = self.download(Form::AsIs)?;
        checkpoint::save_masks(&model, &layout).map_err(js_error)
    }

    /// The few lines of Python that load `modelFile(form)`, saved as `file_name`, back into
    /// PyTorch: the module built to its shape where the file's names say how (an
    /// `nn.Sequential`, timm's ViT), then `torch.nn.utils.prune.custom_from_mask` for each masked
    /// layer.
    #[wasm_bindgen(js_name = modelPython)]
    pub fn model_python(&self, form: &str, file_name: &str) -> Result<String, JsValue> {
        let (model, layout) = self.download(Form::parse(form)?)?;
        Ok(python_loader(&model, &layout, file_name))
    }
}

impl WalkThrough {
    /// The model a download writes, and the names it goes under.
    fn download(&self, form: Form) -> Result<(Model, Layout), JsValue> {
        let store = self.store.borrow();
        let slot = self.walk.borrow();
        let layout = store.layout()?;
        let model = shown(&store, live(&slot, &store))
            .ok_or_else(|| js_error("there is no model to download yet"))?;
        let model = match (form, model) {
            (Form::AsIs, model) => model.clone(),
            (Form::Compacted, Model::Mlp(m)) => {
                Model::from(compaction::compact(m).map_err(js_error)?.model)
            }
            (Form::Compacted, Model::Vit(v)) => {
                Model::from(vit_compaction::compact(v).map_err(js_error)?.model)
            }
        };
        Ok((model, layout))
    }
}

/// A Python string literal of `text` (the file name), quoted and escaped as Python reads it.
fn py_str(text: &str) -> String {
    let mut out = String::from('"');
    for c in text.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The Python that loads `model`, saved under `layout` as `file_name`, into PyTorch (see
/// [`WalkThrough::model_python`]). The loading and masking lines are the README's ("Your own
/// PyTorch model"); what builds the module depends on the names the file has.
fn python_loader(model: &Model, layout: &Layout, file_name: &str) -> String {
    let mut lines: Vec<String> = Vec::new();
    let build = match (model, layout) {
        (Model::Mlp(m), Layout::Mlp(l)) => {
            lines.push("import torch.nn as nn".into());
            let widths = m.architecture().widths().to_vec();
            let stack = widths
                .windows(2)
                .map(|w| format!("nn.Linear({}, {})", w[0], w[1]))
                .collect::<Vec<_>>()
                .join(", nn.ReLU(), ");
            match l.naming() {
                MlpNaming::Sequential { first: 0 } => format!("model = nn.Sequential({stack})"),
                MlpNaming::Sequential { first: 1 } => {
                    format!("model = nn.Sequential(nn.Flatten(), {stack})")
                }
                _ => format!(
                    "# model = your own module, built with these widths ({}): its Linear \
                     layers are {}",
                    m.architecture(),
                    l.modules().join(", ")
                ),
            }
        }
        (Model::Vit(v), _) if v.is_uniform() => {
            let c = v.config();
            lines.push("import timm.models.vision_transformer as vt".into());
            format!(
                "model = vt.VisionTransformer(img_size=28, patch_size=7, in_chans=1, \
                 num_classes=10, embed_dim={}, depth={}, num_heads={}, mlp_ratio={:?}, \
                 qkv_bias=True, class_token=False, global_pool=\"avg\")",
                c.dim, c.depth, c.heads, c.mlp_ratio
            )
        }
        (Model::Vit(_), _) => "# model = the ViT built block by block from this file's \
                               metadata, as PrunePlay's README does under \"Heads and blocks\""
            .to_owned(),
        (Model::Mlp(_), Layout::Vit(_)) => "# model = your own module of this shape".to_owned(),
    };
    lines.push("import torch.nn.utils.prune as prune".into());
    lines.push("from safetensors.torch import load_file".into());
    lines.push(format!("state = load_file({})", py_str(file_name)));
    lines.push(build);
    lines.push(
        "model.load_state_dict({k: v for k, v in state.items() if not k.endswith(\"_mask\")})"
            .into(),
    );
    lines.push("for name, module in model.named_modules():".into());
    lines.push("    if name + \".weight_mask\" in state:".into());
    lines.push(
        "        prune.custom_from_mask(module, \"weight\", state[name + \".weight_mask\"])".into(),
    );
    lines.join("\n") + "\n"
}
