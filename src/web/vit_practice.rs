//! The practice questions about heads and blocks, run on the visitor's ViT: the model pruning
//! starts from when it is the ViT, else the shipped ViT the worker hands over once
//! (`loadPracticeVit`). Like `scratch.rs` for LeNet, a scratch copy is pruned, measured,
//! fine-tuned and timed without touching the walk-through.

use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use std::rc::Rc;

use super::practice::Practice;
use super::request::{PruneRequest, finetune_steps};
use super::store::Shared;
use super::structure::StructureCounts;
use super::vit_costs::{self, MAX_VIT_TIMING_BATCH};
use super::{js_error, to_js};
use crate::engine::Engine;
use crate::model::{Model, ModelKind, Network, Vit};
use crate::prune::{self, vit_compaction};
use crate::train::{Budget, TrainConfig, evaluate};

#[derive(Default)]
pub(crate) struct VitPractice {
    /// The shipped ViT, for when the model pruning starts from is LeNet.
    shipped: Option<Vit>,
    scratch: Option<Vit>,
    /// Fine-tuning of `scratch` in progress (the optimizer state carried between chunks).
    engine: Option<Engine>,
}

impl VitPractice {
    /// The ViT the practice questions run on: the model to prune when it is one.
    fn source<'a>(&'a self, store: &'a Shared) -> Result<&'a Vit, JsValue> {
        if let Some(vit) = store.base().ok().and_then(Model::as_vit) {
            return Ok(vit);
        }
        self.shipped
            .as_ref()
            .ok_or_else(|| js_error("no ViT is loaded for this question yet"))
    }

    fn scratch(&self) -> Result<&Vit, JsValue> {
        self.scratch
            .as_ref()
            .ok_or_else(|| js_error("the experiment has not pruned the ViT yet"))
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct VitTiming {
    batch: usize,
    reps: usize,
    ms_masked: f64,
    ms_compacted: f64,
    params_masked: usize,
    params_compacted: usize,
    flops_masked: u64,
    flops_compacted: u64,
    shape_compacted: String,
    max_abs_diff: f32,
}

#[wasm_bindgen]
impl Practice {
    /// Whether the practice questions about heads need the shipped ViT handed over first
    /// (the model pruning starts from is not a ViT, and none was handed over yet).
    #[wasm_bindgen(js_name = practiceVitNeeded)]
    pub fn practice_vit_needed(&self) -> bool {
        self.vit.borrow().source(&self.store.borrow()).is_err()
    }

    /// Hands over the shipped ViT (safetensors bytes) for the practice questions about heads.
    #[wasm_bindgen(js_name = loadPracticeVit)]
    pub fn load_practice_vit(&self, bytes: &[u8]) -> Result<(), JsValue> {
        let model = crate::checkpoint::load("the shipped ViT", bytes).map_err(js_error)?;
        let Model::Vit(vit) = model else {
            return Err(js_error("this checkpoint is not a ViT"));
        };
        self.vit.borrow_mut().shipped = Some(*vit);
        Ok(())
    }

    /// Prunes a copy of the practice ViT one-shot (a head or layer method, or any other that
    /// applies to the ViT) and keeps it as the scratch ViT. Returns its heads and blocks.
    #[wasm_bindgen(js_name = vitScratchPrune)]
    pub fn vit_scratch_prune(&self, request: JsValue) -> Result<JsValue, JsValue> {
        let (_, method, options) = PruneRequest::parse(request)?;
        let mut store = self.store.borrow_mut();
        let mut practice = self.vit.borrow_mut();
        let mut model = practice.source(&store)?.clone();
        options.validate(method, &model).map_err(js_error)?;
        let calibration = store.calibration(method, &options)?;
        prune::prune(method, &mut model, calibration, &options).map_err(js_error)?;
        let pruned = StructureCounts::of_vit(&model);
        practice.scratch = Some(model);
        practice.engine = None;
        to_js(&pruned)
    }

    /// Test accuracy of the practice ViT (`of = "base"`) or of the scratch ViT.
    #[wasm_bindgen(js_name = vitScratchAccuracy)]
    pub fn vit_scratch_accuracy(&self, of: &str) -> Result<f64, JsValue> {
        let store = self.store.borrow();
        let practice = self.vit.borrow();
        let data = store.data()?;
        if data.test.is_empty() {
            return Err(js_error("no test images are loaded here"));
        }
        let model = match of {
            "base" => practice.source(&store)?,
            "scratch" => practice.scratch()?,
            other => return Err(js_error(format!("accuracy of {other:?}: base or scratch"))),
        };
        Ok(evaluate(model, &data.test).accuracy)
    }

    /// The fine-tuning steps the walk-through gives the ViT: what "a short fine-tune" means in
    /// the practice questions too.
    #[wasm_bindgen(js_name = vitFinetuneSteps)]
    pub fn vit_finetune_steps(&self) -> u32 {
        finetune_steps(ModelKind::Vit) as u32
    }

    /// Fine-tunes the scratch ViT `n` more steps on the engine the page's Engine choice gives
    /// (its masks and removed blocks held; the optimizer state carried between calls). Resolves to the chunk's mean loss.
    #[wasm_bindgen(js_name = vitScratchFinetune)]
    pub fn vit_scratch_finetune(&self, n: u32) -> js_sys::Promise {
        let (store, practice) = (Rc::clone(&self.store), Rc::clone(&self.vit));
        future_to_promise(async move {
            let mut engine = {
                let s = store.borrow();
                let data = s.data()?;
                let mut practice = practice.borrow_mut();
                if s.progress_validation().is_none() {
                    return Err(js_error(
                        "fine-tuning needs the training images, which are not loaded here",
                    ));
                }
                match practice.engine.take() {
                    Some(engine) => engine,
                    None => {
                        let model = Model::from(practice.scratch()?.clone());
                        let spec = model.spec().parse().map_err(js_error)?;
                        let total = finetune_steps(ModelKind::Vit).max(u64::from(n));
                        let config = TrainConfig::finetune(spec, Budget::Iters(total), 0);
                        let backend = s.finetune_backend(&model);
                        Engine::from_backend(&backend, &model, &config, &data).map_err(js_error)?
                    }
                }
            };
            let stats = engine.train_steps(u64::from(n)).await.map_err(js_error)?;
            let model = engine.model().await.map_err(js_error)?;
            let mut practice = practice.borrow_mut();
            if let Model::Vit(vit) = model {
                practice.scratch = Some(*vit);
            }
            practice.engine = Some(engine);
            Ok(JsValue::from_f64(f64::from(stats.loss)))
        })
    }

    /// Compacts the scratch ViT and times a forward pass of both forms over the first `batch`
    /// test images (at most 256), median of `reps`, alternating: masked heads still cost their
    /// multiplications, deleted ones do not.
    #[wasm_bindgen(js_name = vitScratchTime)]
    pub fn vit_scratch_time(&self, batch: usize, reps: usize) -> Result<JsValue, JsValue> {
        let data = self.store.borrow().data()?;
        let practice = self.vit.borrow();
        let masked = practice.scratch()?;
        let batch = batch.min(MAX_VIT_TIMING_BATCH).min(data.test.len());
        if batch == 0 {
            return Err(js_error("no test images are loaded here to time"));
        }
        if !(1..=50).contains(&reps) {
            return Err(js_error(format!("reps {reps} is outside 1…50")));
        }
        let compacted = vit_compaction::compact(masked).map_err(js_error)?.model;
        let (x, _) = data.test.batch(0, batch);
        let clock = super::costs::clock();
        let ms = vit_costs::time_models(&[masked, &compacted], x.view(), reps, &clock);
        to_js(&VitTiming {
            batch,
            reps,
            ms_masked: ms[0],
            ms_compacted: ms[1],
            params_masked: masked.param_count(),
            params_compacted: compacted.param_count(),
            flops_masked: masked.forward_flops(),
            flops_compacted: compacted.forward_flops(),
            shape_compacted: compacted.shape_summary(),
            max_abs_diff: vit_costs::max_abs_diff(masked, &compacted, x.view()),
        })
    }
}
