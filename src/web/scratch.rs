//! The practice questions' scratch LeNet (see `practice.rs`).
//!
//! The operations are small and composable (prune, fine-tune a chunk, evaluate, compact, one
//! forward pass); the page's experiment scripts string them together with progress and Cancel,
//! and time the forward passes with the browser's clock.

use serde::Serialize;
use wasm_bindgen::prelude::*;

use std::rc::Rc;

use wasm_bindgen_futures::future_to_promise;

use super::practice::Practice;
use super::request::PruneRequest;
use super::walk_through::kept_per_pixel;
use super::{js_error, to_js};
use crate::engine::Engine;
use crate::model::{Mlp, Model, Network};
use crate::prune::pixels::{self, Region};
use crate::prune::{self, compaction};
use crate::train::{Budget, TrainConfig, evaluate};

/// The fraction each of `rounds` rounds prunes to reach `target` overall (the core's iterative
/// schedule, which the practice question on iterative pruning follows round by round).
#[wasm_bindgen(js_name = iterativeAmount)]
pub fn iterative_amount(target: f64, rounds: u32) -> f64 {
    prune::iterative::per_round_amount(target, rounds)
}

/// The scratch model, the engine (with its optimizer state) while fine-tuning, and its compacted
/// form. `model` is read back after every fine-tuning chunk, so it is always current.
#[derive(Default)]
pub(crate) struct Scratch {
    model: Option<Mlp>,
    engine: Option<Engine>,
    compacted: Option<Mlp>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Pruned {
    weights_remaining: f64,
    layers: Vec<prune::LayerCount>,
    /// The share of first-layer units that keep each input pixel's weight.
    kept_per_pixel: Vec<f32>,
    /// The share of the first layer's weights pruned on the image's 4-pixel frame and on its
    /// central 12×12 (see [`pixels::Region`]).
    frame_pruned: Option<f64>,
    centre_pruned: Option<f64>,
    /// The first layer's unit 0, inputs 392…407 (the middle of the image's 15th row), 0 where
    /// pruned: a row segment to show an N:M pattern on.
    row_segment: Vec<f32>,
    /// Weights the mask keeps in each group of the pattern's M along `row_segment` (of 4 when
    /// the pruning had no pattern).
    kept_per_group: Vec<usize>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CompactedInfo {
    arch: String,
    params: usize,
    params_dense: usize,
}

/// Inputs of the row segment `Pruned::row_segment` shows.
const ROW_SEGMENT: std::ops::Range<usize> = 392..408;

impl Scratch {
    /// The scratch model as it stands, with the fine-tuning so far.
    fn model(&self) -> Result<&Mlp, JsValue> {
        self.model
            .as_ref()
            .ok_or_else(|| js_error("the experiment has not pruned a model yet"))
    }
}

#[wasm_bindgen]
impl Practice {
    /// Prunes a copy of the base model (`from: "base"`) or the scratch model further
    /// (`from: "scratch"`, for iterative pruning) one-shot, and keeps it as the scratch model.
    #[wasm_bindgen(js_name = scratchPrune)]
    pub fn scratch_prune(&self, request: JsValue, from: &str) -> Result<JsValue, JsValue> {
        let (_, method, options) = PruneRequest::parse(request)?;
        let mut store = self.store.borrow_mut();
        let mut model = match from {
            "base" => store.base_mlp("the practice questions")?.clone(),
            "scratch" => self.scratch.borrow().model()?.clone(),
            other => return Err(js_error(format!("prune from {other:?}: base or scratch"))),
        };
        options.validate(method, &model).map_err(js_error)?;
        let calibration = store.calibration(method, &options)?;
        prune::prune(method, &mut model, calibration, &options).map_err(js_error)?;
        let first = &model.layers()[0];
        let pruned = Pruned {
            weights_remaining: model.weights_remaining(),
            layers: prune::layer_counts(&model),
            kept_per_pixel: kept_per_pixel(&model),
            row_segment: first
                .weight
                .row(0)
                .iter()
                .skip(ROW_SEGMENT.start)
                .take(ROW_SEGMENT.len())
                .copied()
                .collect(),
            kept_per_group: pixels::kept_per_group(
                first.mask.row(0).slice(ndarray::s![ROW_SEGMENT]),
                options.pattern.map_or(4, |p| p.m),
            ),
            frame_pruned: pixels::pruned_share(&model, Region::Frame),
            centre_pruned: pixels::pruned_share(&model, Region::Centre),
        };
        *self.scratch.borrow_mut() = Scratch {
            model: Some(model),
            engine: None,
            compacted: None,
        };
        to_js(&pruned)
    }

    /// Fine-tunes the scratch model `n` more steps on the page's engine (masks held; the
    /// optimizer state carried between calls). Resolves to the mean training loss of the chunk.
    #[wasm_bindgen(js_name = scratchFinetune)]
    pub fn scratch_finetune(&self, n: u32) -> js_sys::Promise {
        let (store, scratch) = (Rc::clone(&self.store), Rc::clone(&self.scratch));
        future_to_promise(async move {
            let mut engine = {
                let s = store.borrow();
                let data = s.data()?;
                let mut scratch = scratch.borrow_mut();
                match scratch.engine.take() {
                    Some(engine) => engine,
                    None => {
                        let model = Model::Mlp(scratch.model()?.clone());
                        let config = TrainConfig {
                            arch: model.spec().parse().map_err(js_error)?,
                            budget: Budget::Iters(u64::from(n).max(1)),
                            ..TrainConfig::default()
                        };
                        let backend = s.finetune_backend(&model);
                        Engine::from_backend(&backend, &model, &config, &data).map_err(js_error)?
                    }
                }
            };
            let stats = engine.train_steps(u64::from(n)).await.map_err(js_error)?;
            let model = engine.mlp().await.map_err(js_error)?;
            let mut scratch = scratch.borrow_mut();
            scratch.model = Some(model);
            scratch.engine = Some(engine);
            Ok(JsValue::from_f64(f64::from(stats.loss)))
        })
    }

    /// Test accuracy of the scratch model (base: `of = "base"`).
    #[wasm_bindgen(js_name = scratchAccuracy)]
    pub fn scratch_accuracy(&self, of: &str) -> Result<f64, JsValue> {
        let store = self.store.borrow();
        let data = store.data()?;
        let scratch = self.scratch.borrow();
        let model = match of {
            "base" => store.base_mlp("the practice questions")?,
            _ => scratch.model()?,
        };
        Ok(evaluate(model, &data.test).accuracy)
    }

    /// Compacts the scratch model (removes neurons with no incoming weights, folding their
    /// constant output into the next layer's bias). Returns the new shape and sizes.
    #[wasm_bindgen(js_name = scratchCompact)]
    pub fn scratch_compact(&self) -> Result<JsValue, JsValue> {
        let mut scratch = self.scratch.borrow_mut();
        let model = scratch.model()?.clone();
        let compacted = compaction::compact(&model).map_err(js_error)?.model;
        let info = CompactedInfo {
            arch: compacted.architecture().to_string(),
            params: compaction::parameter_count(&compacted),
            params_dense: compaction::parameter_count(&model),
        };
        scratch.compacted = Some(compacted);
        to_js(&info)
    }

    /// One forward pass over the test images through the scratch model (`"masked"`, the dense
    /// kernel multiplying the zeros) or its compacted form (`"compacted"`); the page times it.
    /// Returns the test accuracy, so the work cannot be optimised away and both can be compared.
    #[wasm_bindgen(js_name = scratchForward)]
    pub fn scratch_forward(&self, which: &str) -> Result<f64, JsValue> {
        let data = self.store.borrow().data()?;
        let scratch = self.scratch.borrow();
        let model = match which {
            "compacted" => scratch
                .compacted
                .as_ref()
                .ok_or_else(|| js_error("compact the model first"))?,
            "masked" => scratch.model()?,
            other => return Err(js_error(format!("forward {other:?}: masked or compacted"))),
        };
        Ok(evaluate(model, &data.test).accuracy)
    }
}
