//! The Compare card: "Run all" prunes the store's model once per (method, level), one-shot, and
//! tests it; with healing, each pruned model is then fine-tuned (masks held) a chunk at a time
//! and tested again, which is the glossary's "healed" curve.
//!
//! Each call does one point, or one chunk of one point's fine-tuning, so the worker can post
//! every point as it comes and stop at a Cancel between calls.

use std::cell::RefCell;
use std::rc::Rc;

use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::request::{PruneRequest, finetune_config, finetune_steps, need_test};
use super::store::{ModelStore, Shared};
use super::structure::StructureCounts;
use super::{js_error, to_js};
use crate::engine::Engine;
use crate::model::{Model, Network};
use crate::prune::{self, Method, PruneOptions};
use crate::train::evaluate;

/// One point of an accuracy-against-sparsity sweep.
#[derive(Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct SweepPoint {
    method: &'static str,
    sparsity: f64,
    /// Layer methods: the blocks asked to go.
    remove: usize,
    weights_remaining: f64,
    accuracy: f64,
    /// ViT: heads and blocks the pruned model keeps (the compare card's x axes).
    structure: Option<StructureCounts>,
    /// Fine-tuning steps after pruning: 0 for a one-shot point.
    healed_steps: u64,
}

impl SweepPoint {
    fn of(method: Method, options: &PruneOptions, model: &Model, accuracy: f64) -> Self {
        Self {
            method: method.name(),
            sparsity: options.sparsity,
            remove: options.remove,
            weights_remaining: model.weights_remaining(),
            accuracy,
            structure: StructureCounts::of(model),
            healed_steps: 0,
        }
    }
}

/// A pruned point being healed: its one-shot result and the engine fine-tuning it.
struct Healing {
    point: SweepPoint,
    /// Taken out while a chunk runs (GPU chunks await).
    engine: Option<Engine>,
    total: u64,
}

/// What `healStart` returns: the one-shot point and the steps healing will take.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HealStarted {
    point: SweepPoint,
    total: u64,
}

/// What `healChunk` resolves to; `point` is the healed point after the last chunk.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HealProgress {
    step: u64,
    total: u64,
    point: Option<SweepPoint>,
}

/// The Compare card's sweep, over the page's store.
#[wasm_bindgen]
pub struct Comparison {
    store: Rc<RefCell<Shared>>,
    healing: Rc<RefCell<Option<Healing>>>,
}

/// Prunes a copy of the store's model one-shot as `request` asks, and tests it.
fn prune_point(store: &mut Shared, request: JsValue) -> Result<(SweepPoint, Model), JsValue> {
    let (_, method, options) = PruneRequest::parse(request)?;
    let data = store.data()?;
    need_test(&data)?;
    let mut model = store.base()?.clone();
    options.validate(method, &model).map_err(js_error)?;
    let calibration = store.calibration(method, &options)?;
    prune::prune(method, &mut model, calibration, &options).map_err(js_error)?;
    let accuracy = evaluate(&model, &data.test).accuracy;
    Ok((SweepPoint::of(method, &options, &model, accuracy), model))
}

#[wasm_bindgen]
impl Comparison {
    #[wasm_bindgen(constructor)]
    pub fn new(store: &ModelStore) -> Comparison {
        Comparison {
            store: Rc::clone(&store.shared),
            healing: Rc::default(),
        }
    }

    /// One point of "Run all": prunes the base model one-shot (no fine-tuning) and tests it.
    #[wasm_bindgen(js_name = sweepPoint)]
    pub fn sweep_point(&self, request: JsValue) -> Result<JsValue, JsValue> {
        let (point, _) = prune_point(&mut self.store.borrow_mut(), request)?;
        to_js(&point)
    }

    /// One healed point: prunes as `sweepPoint` does and sets up fine-tuning of the pruned model
    /// (as long as the walk-through's, on the same engine); `healChunk` then runs it. Returns the
    /// one-shot point and the steps healing takes. A healing in progress is dropped.
    #[wasm_bindgen(js_name = healStart)]
    pub fn heal_start(&self, request: JsValue) -> Result<JsValue, JsValue> {
        let mut store = self.store.borrow_mut();
        if store.progress_validation().is_none() {
            return Err(js_error(
                "healing needs the training images, which are not loaded here",
            ));
        }
        let (point, model) = prune_point(&mut store, request)?;
        let total = finetune_steps(model.kind());
        let config = finetune_config(&model)?;
        let backend = store.finetune_backend(&model);
        let engine =
            Engine::from_backend(&backend, &model, &config, &store.data()?).map_err(js_error)?;
        let started = HealStarted {
            point: point.clone(),
            total,
        };
        *self.healing.borrow_mut() = Some(Healing {
            point,
            engine: Some(engine),
            total,
        });
        to_js(&started)
    }

    /// Runs up to `n` more steps of the healing `healStart` set up. After the last one, resolves
    /// with the healed point: the same pruning, tested after fine-tuning.
    #[wasm_bindgen(js_name = healChunk)]
    pub fn heal_chunk(&self, n: u32) -> js_sys::Promise {
        let healing = Rc::clone(&self.healing);
        future_to_promise(async move {
            let not_started = || js_error("no healing has been started");
            let (mut engine, total) = {
                let mut h = healing.borrow_mut();
                let h = h.as_mut().ok_or_else(not_started)?;
                (h.engine.take().ok_or_else(not_started)?, h.total)
            };
            let n = u64::from(n).min(total.saturating_sub(engine.step()));
            let result = engine.train_steps(n).await;
            let step = engine.step();
            if let Err(e) = result {
                *healing.borrow_mut() = None;
                return Err(js_error(e));
            }
            if step < total {
                // Back into the healing it came from, unless a new one replaced it meanwhile.
                if let Some(h) = healing.borrow_mut().as_mut().filter(|h| h.engine.is_none()) {
                    h.engine = Some(engine);
                }
                return to_js(&HealProgress {
                    step,
                    total,
                    point: None,
                });
            }
            let healed = engine.model().await.map_err(js_error)?;
            let mut point = healing.borrow_mut().take().ok_or_else(not_started)?.point;
            point.accuracy = evaluate(&healed, &engine.data().test).accuracy;
            point.healed_steps = total;
            to_js(&HealProgress {
                step,
                total,
                point: Some(point),
            })
        })
    }

    /// Drops a healing in progress (a Cancel).
    #[wasm_bindgen(js_name = cancelHeal)]
    pub fn cancel_heal(&self) {
        *self.healing.borrow_mut() = None;
    }

    /// How healing fine-tunes a point of the model to prune (the core's training settings, the
    /// seed included), for the card's JSON download.
    #[wasm_bindgen(js_name = healSettings)]
    pub fn heal_settings(&self) -> Result<JsValue, JsValue> {
        let config = finetune_config(self.store.borrow().base()?)?;
        serde_json::to_value(&config)
            .map_err(js_error)?
            .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
            .map_err(js_error)
    }
}
