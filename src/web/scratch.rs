//! A scratch model for the practice questions' experiments, kept apart from the walk-through so a
//! "Run it" never disturbs what the visitor is stepping through.
//!
//! The operations are small and composable (prune, fine-tune a chunk, evaluate, compact, one
//! forward pass); the page's experiment scripts string them together with progress and Cancel,
//! and time the forward passes with the browser's clock.

use serde::Serialize;
use wasm_bindgen::prelude::*;

use std::rc::Rc;

use wasm_bindgen_futures::future_to_promise;

use super::pruning::{PruneRequest, finetune_backend, kept_per_pixel};
use super::session::{Session, js_error, to_js};
use crate::engine::Engine;
use crate::model::{Mlp, Model, Network};
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
    /// The first layer's unit 0, inputs 392…407 (the middle of the image's 15th row), 0 where
    /// pruned: a row segment to show an N:M pattern on.
    row_segment: Vec<f32>,
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
    fn model(&self) -> Result<&Mlp, JsValue> {
        self.model
            .as_ref()
            .ok_or_else(|| js_error("the experiment has not pruned a model yet"))
    }

    /// The scratch model as it stands, with the fine-tuning so far.
    fn current(&mut self) -> Result<&Mlp, JsValue> {
        self.model()
    }
}

#[wasm_bindgen]
impl Session {
    /// Prunes a copy of the base model (`from: "base"`) or the scratch model further
    /// (`from: "scratch"`, for iterative pruning) one-shot, and keeps it as the scratch model.
    #[wasm_bindgen(js_name = scratchPrune)]
    pub fn scratch_prune(&self, request: JsValue, from: &str) -> Result<JsValue, JsValue> {
        let (_, method, options) = PruneRequest::parse(request)?;
        let mut inner = self.inner.borrow_mut();
        let data = inner.data()?;
        let mut model = match from {
            "base" => inner.pruning.base_mlp("the practice questions")?.clone(),
            "scratch" => inner.scratch.current()?.clone(),
            other => return Err(js_error(format!("prune from {other:?}: base or scratch"))),
        };
        options.validate(method, &model).map_err(js_error)?;
        let calibration = inner.pruning.calibration(&data, method, &options)?;
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
        };
        inner.scratch = Scratch {
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
        let inner = Rc::clone(&self.inner);
        future_to_promise(async move {
            let mut engine = {
                let mut i = inner.borrow_mut();
                let data = i.data()?;
                match i.scratch.engine.take() {
                    Some(engine) => engine,
                    None => {
                        let model = Model::Mlp(i.scratch.model()?.clone());
                        let config = TrainConfig {
                            arch: model.spec().parse().map_err(js_error)?,
                            budget: Budget::Iters(u64::from(n).max(1)),
                            ..TrainConfig::default()
                        };
                        let backend = finetune_backend(&i, &model);
                        Engine::from_backend(&backend, &model, &config, &data).map_err(js_error)?
                    }
                }
            };
            let stats = engine.train_steps(u64::from(n)).await.map_err(js_error)?;
            let model = engine.mlp().await.map_err(js_error)?;
            let mut i = inner.borrow_mut();
            i.scratch.model = Some(model);
            i.scratch.engine = Some(engine);
            Ok(JsValue::from_f64(f64::from(stats.loss)))
        })
    }

    /// Test accuracy of the scratch model (base: `of = "base"`).
    #[wasm_bindgen(js_name = scratchAccuracy)]
    pub fn scratch_accuracy(&self, of: &str) -> Result<f64, JsValue> {
        let mut inner = self.inner.borrow_mut();
        let data = inner.data()?;
        let model = match of {
            "base" => inner.pruning.base_mlp("the practice questions")?,
            _ => inner.scratch.current()?,
        };
        Ok(evaluate(model, &data.test).accuracy)
    }

    /// Compacts the scratch model (removes neurons with no incoming weights, folding their
    /// constant output into the next layer's bias). Returns the new shape and sizes.
    #[wasm_bindgen(js_name = scratchCompact)]
    pub fn scratch_compact(&self) -> Result<JsValue, JsValue> {
        let mut inner = self.inner.borrow_mut();
        let model = inner.scratch.current()?.clone();
        let compacted = compaction::compact(&model).map_err(js_error)?.model;
        let info = CompactedInfo {
            arch: compacted.architecture().to_string(),
            params: compaction::parameter_count(&compacted),
            params_dense: compaction::parameter_count(&model),
        };
        inner.scratch.compacted = Some(compacted);
        to_js(&info)
    }

    /// One forward pass over the test images through the scratch model (`"masked"`, the dense
    /// kernel multiplying the zeros) or its compacted form (`"compacted"`); the page times it.
    /// Returns the test accuracy, so the work cannot be optimised away and both can be compared.
    #[wasm_bindgen(js_name = scratchForward)]
    pub fn scratch_forward(&self, which: &str) -> Result<f64, JsValue> {
        let mut inner = self.inner.borrow_mut();
        let data = inner.data()?;
        let model = match which {
            "compacted" => inner
                .scratch
                .compacted
                .as_ref()
                .ok_or_else(|| js_error("compact the model first"))?,
            "masked" => inner.scratch.current()?,
            other => return Err(js_error(format!("forward {other:?}: masked or compacted"))),
        };
        Ok(evaluate(model, &data.test).accuracy)
    }
}
