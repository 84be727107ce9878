//! The training card: a run in the browser, on WebGPU when the browser has it and on the CPU
//! engine otherwise, a chunk of steps per call so the worker can post progress and notice a Cancel
//! between chunks.
//!
//! Calls that wait on the GPU return promises. The engine is taken out of the card while a chunk
//! runs and put back afterwards, so no borrow is held across an `await`. At every progress point
//! the model read back goes to the store: what "use the trained model" prunes, and what a lost
//! device continues from.

use std::cell::RefCell;
use std::rc::Rc;

use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::engine_choice::Choice;
use super::store::{ModelStore, Shared};
use super::{js_error, page_backend_name, to_js};
use crate::engine::Engine;
use crate::model::{ModelSpec, Network};
use crate::race::{race, race_key};
use crate::train::{
    Budget, LrSchedule, OptimizerConfig, OptimizerKind, Split, TrainConfig, evaluate,
};

/// What the page sends to start a run (camelCase JSON).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RunConfig {
    arch: Option<String>,
    optimizer: Option<String>,
    lr: Option<f32>,
    batch: Option<usize>,
    iters: u64,
    seed: Option<u64>,
    /// The Engine control: "auto", "webgpu" or "cpu" (see [`super::engine_choice`]).
    backend: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Progress {
    step: u64,
    total_steps: u64,
    epoch: u64,
    train_loss: f32,
    train_acc: f64,
    val_loss: f32,
    val_acc: f64,
    weights_remaining: f64,
    backend: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TestReport {
    test_acc: f64,
    test_loss: f32,
    confusion: Vec<Vec<u32>>,
    steps: u64,
    backend: &'static str,
    adapter: Option<String>,
}

/// The run in progress.
#[derive(Default)]
struct Run {
    engine: Option<Engine>,
    config: Option<TrainConfig>,
    total_steps: u64,
    /// Steps taken by an earlier engine of this run (after falling back to the CPU).
    step_offset: u64,
}

impl Run {
    fn steps_done(&self) -> u64 {
        self.step_offset + self.engine.as_ref().map_or(0, Engine::step)
    }
}

/// The training card's run, over the page's store.
#[wasm_bindgen]
pub struct Training {
    store: Rc<RefCell<Shared>>,
    run: Rc<RefCell<Run>>,
}

const NOT_STARTED: &str = "no training run has been started";

#[wasm_bindgen]
impl Training {
    #[wasm_bindgen(constructor)]
    pub fn new(store: &ModelStore) -> Training {
        Training {
            store: Rc::clone(&store.shared),
            run: Rc::default(),
        }
    }

    /// Whether [`Training::race`] would race for `config` (so the page can say it is timing).
    #[wasm_bindgen(js_name = needsRace)]
    pub fn needs_race(&self, config: JsValue) -> Result<bool, JsValue> {
        let (config, choice) = parse_run(config)?;
        Ok(self.store.borrow().needs_race(choice, &race_key(&config)))
    }

    /// Runs the engine race for `config` when its Engine choice is automatic, the adapter is a
    /// hardware one and this model shape has not raced yet (see [`crate::race`]); resolves to the
    /// race's result, or `null` when none was needed. The result is kept while the page is open.
    pub fn race(&self, config: JsValue) -> js_sys::Promise {
        let store = Rc::clone(&self.store);
        future_to_promise(async move {
            let (config, choice) = parse_run(config)?;
            let key = race_key(&config);
            let (gpu, data) = {
                let s = store.borrow();
                if !s.needs_race(choice, &key) {
                    return Ok(JsValue::NULL);
                }
                (s.gpu.clone(), s.data()?)
            };
            let Some(gpu) = gpu else {
                return Ok(JsValue::NULL);
            };
            let clock = super::costs::clock();
            match race(&gpu, &config, &data, RACE_MS, &clock).await {
                Ok(result) => {
                    store.borrow_mut().record_race(key, result);
                    to_js(&result)
                }
                // A GPU that fails its race is not used: the run that follows goes to the CPU.
                Err(e) => {
                    store.borrow_mut().drop_gpu();
                    Err(js_error(format!("WebGPU failed its speed test: {e}")))
                }
            }
        })
    }

    /// Starts a fresh run (the previous one, if any, is dropped) on the engine its Engine choice
    /// gives (see [`super::engine_choice`]). Every value is validated before any work starts.
    /// Returns the engine line: `{backend: "webgpu" | "cpu", why, race}`.
    pub fn start(&self, config: JsValue) -> Result<JsValue, JsValue> {
        let mut store = self.store.borrow_mut();
        let data = store.data()?;
        if store.progress_validation().is_none() {
            return Err(js_error(
                "only the pruning data is loaded here; training needs the full data set",
            ));
        }
        let (config, choice) = parse_run(config)?;
        store.engine_choice = choice;
        let key = race_key(&config);
        let decision = store.decide(choice, &key);
        let engine = Engine::new(&decision.backend, &config, &data).map_err(js_error)?;
        store.trained = None;
        let line = decision.line(store.race_result(&key));
        let mut run = self.run.borrow_mut();
        *run = Run {
            total_steps: config.total_steps(data.train.len()),
            step_offset: 0,
            config: Some(config),
            engine: Some(engine),
        };
        to_js(&line)
    }

    fn backend_name(engine: Option<&Engine>) -> &'static str {
        page_backend_name(engine.map_or("cpu", Engine::backend))
    }

    /// "webgpu" or "cpu": the engine of the current run.
    #[wasm_bindgen(getter)]
    pub fn backend(&self) -> String {
        Self::backend_name(self.run.borrow().engine.as_ref()).to_owned()
    }

    /// Whether the GPU failed (device lost or a rejected command): the page then offers to
    /// continue on the CPU.
    #[wasm_bindgen(getter, js_name = gpuFailed)]
    pub fn gpu_failed(&self) -> bool {
        self.store
            .borrow()
            .gpu
            .as_ref()
            .is_some_and(|ctx| ctx.check().is_err())
    }

    /// True once the run has taken all its steps.
    #[wasm_bindgen(getter)]
    pub fn finished(&self) -> bool {
        let run = self.run.borrow();
        run.engine.is_some() && run.steps_done() >= run.total_steps
    }

    /// Runs up to `n` more steps, reads the model back and evaluates it on the progress
    /// validation subset. Resolves to the progress object.
    #[wasm_bindgen(js_name = trainSteps)]
    pub fn train_steps(&self, n: u32) -> js_sys::Promise {
        let (store, run) = (Rc::clone(&self.store), Rc::clone(&self.run));
        future_to_promise(async move {
            let val = store
                .borrow()
                .progress_validation()
                .ok_or_else(|| js_error(NOT_STARTED))?;
            let (mut engine, total, offset) = {
                let mut r = run.borrow_mut();
                let engine = r.engine.take().ok_or_else(|| js_error(NOT_STARTED))?;
                (engine, r.total_steps, r.step_offset)
            };
            let n = u64::from(n).min(total.saturating_sub(offset + engine.step()));
            let result = async {
                let stats = engine.train_steps(n).await?;
                let model = engine.model().await?;
                Ok::<_, crate::Error>((stats, model))
            }
            .await;
            let backend = Self::backend_name(Some(&engine));
            run.borrow_mut().engine = Some(engine);
            let (stats, model) = result.map_err(js_error)?;
            let eval = evaluate(&model, &val);
            let step = offset + stats.step;
            let progress = Progress {
                step,
                total_steps: total,
                epoch: stats.epoch,
                train_loss: stats.loss,
                train_acc: stats.accuracy,
                val_loss: eval.loss,
                val_acc: eval.accuracy,
                weights_remaining: model.weights_remaining(),
                backend,
            };
            store.borrow_mut().trained = Some((model, step));
            to_js(&progress)
        })
    }

    /// After a GPU failure: continues the run on the CPU engine from the model of the last
    /// progress point (or from the start if there was none).
    #[wasm_bindgen(js_name = continueOnCpu)]
    pub fn continue_on_cpu(&self) -> Result<(), JsValue> {
        let mut store = self.store.borrow_mut();
        let mut run = self.run.borrow_mut();
        let data = store.data().map_err(|_| js_error(NOT_STARTED))?;
        let config = run.config.clone().ok_or_else(|| js_error(NOT_STARTED))?;
        let (engine, offset) = match store.trained.clone() {
            Some((model, step)) => (Engine::cpu_from(model, &config, &data), step),
            None => (Engine::cpu(&config, &data), 0),
        };
        run.engine = Some(engine.map_err(js_error)?);
        run.step_offset = offset;
        store.gpu = None;
        Ok(())
    }

    /// Loss, accuracy and confusion matrix on the 10,000 test images.
    pub fn test(&self) -> js_sys::Promise {
        let run = Rc::clone(&self.run);
        future_to_promise(async move {
            let engine = run
                .borrow_mut()
                .engine
                .take()
                .ok_or_else(|| js_error(NOT_STARTED))?;
            let result = engine.evaluate(Split::Test).await;
            let report = result.map(|eval| TestReport {
                test_acc: eval.accuracy,
                test_loss: eval.loss,
                confusion: eval.confusion,
                steps: run.borrow().step_offset + engine.step(),
                backend: Self::backend_name(Some(&engine)),
                adapter: engine.adapter(),
            });
            run.borrow_mut().engine = Some(engine);
            to_js(&report.map_err(js_error)?)
        })
    }
}

/// How long the engine race takes in all, in milliseconds: about a second, what a first press of
/// Train can afford to wait.
const RACE_MS: f64 = 1_000.0;

/// The page's run settings over the model's own recipe (the ViT's: AdamW, batch 128, warmup then
/// cosine), and the Engine choice.
fn parse_run(config: JsValue) -> Result<(TrainConfig, Choice), JsValue> {
    let run: RunConfig = serde_wasm_bindgen::from_value(config)
        .map_err(|e| js_error(format!("invalid training settings: {e}")))?;
    let choice = Choice::parse(run.backend.as_deref())?;
    let kind: OptimizerKind = run
        .optimizer
        .as_deref()
        .unwrap_or("adam")
        .parse()
        .map_err(js_error)?;
    let mut optimizer = OptimizerConfig::default_for(kind);
    if let Some(lr) = run.lr {
        optimizer.lr = lr;
    }
    let spec: ModelSpec = match run.arch {
        Some(spec) => spec.parse().map_err(js_error)?,
        None => ModelSpec::default(),
    };
    let defaults = TrainConfig::defaults_for(spec);
    let schedule = match defaults.schedule {
        // A run too short to leave the warmup behind would spend most of it below the rate
        // asked for: a short ViT run keeps the rate constant instead.
        LrSchedule::WarmupCosine { warmup_steps } if run.iters < 2 * warmup_steps => {
            LrSchedule::Constant
        }
        other => other,
    };
    let config = TrainConfig {
        optimizer,
        batch: run.batch.unwrap_or(defaults.batch),
        budget: Budget::Iters(run.iters),
        seed: run.seed.unwrap_or(0),
        schedule,
        ..defaults
    };
    Ok((config, choice))
}
