//! Training in the browser, on WebGPU when the browser has it and on the CPU engine otherwise, a
//! chunk of steps per call so the worker can post progress and notice a Cancel between chunks.
//!
//! Calls that wait on the GPU return promises. The engine is taken out of the session while a
//! chunk runs and put back afterwards, so no borrow is held across an `await`.

use std::cell::RefCell;
use std::rc::Rc;

use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::lottery::Lab;
use super::pruning::PruneState;
use super::scratch::Scratch;
use super::vit_practice::VitPractice;
use crate::data::{Dataset, IdxPair, Mnist};
use crate::engine::Backend;
use crate::engine::Engine;
use crate::gpu::GpuContext;
use crate::model::{Model, ModelSpec, Network};
use crate::train::{
    Budget, LrSchedule, OptimizerConfig, OptimizerKind, Split, TrainConfig, evaluate,
};

/// Validation images evaluated at each progress point, on the CPU from the model just read
/// back. The full 5,000 cost about as much as 80 training steps in wasm; 1,000 give the curve's
/// shape at a fifth of that, and reading the model back is what keeps it safe from a lost device.
const PROGRESS_VALIDATION_SIZE: usize = 1_000;

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
    /// "auto" (WebGPU when available) or "cpu".
    backend: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DataSummary {
    train: usize,
    validation: usize,
    test: usize,
    rows: usize,
    cols: usize,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GpuStatus {
    webgpu: bool,
    adapter: Option<String>,
    reason: Option<String>,
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

/// The page's name for an engine's backend (`"cpu"` or `"gpu"`): "cpu" or "webgpu".
pub(super) fn page_backend_name(core: &str) -> &'static str {
    if core == "gpu" { "webgpu" } else { "cpu" }
}

#[derive(Default)]
pub(super) struct Inner {
    pub(super) data: Option<Rc<Mnist>>,
    progress_validation: Option<Rc<Dataset>>,
    pub(super) gpu: Option<Rc<GpuContext>>,
    pub(super) gpu_disabled: bool,
    engine: Option<Engine>,
    config: Option<TrainConfig>,
    total_steps: u64,
    /// The model at the last progress point, and its step: what a lost device falls back to.
    pub(super) last_good: Option<(Model, u64)>,
    /// Steps taken by an earlier engine of this run (after falling back to the CPU).
    step_offset: u64,
    /// Everything about pruning: the model it starts from, the walk-through, sweeps.
    pub(super) pruning: PruneState,
    /// The practice experiments' model, apart from the walk-through's.
    pub(super) scratch: Scratch,
    /// The lottery-ticket lab's experiment in progress, and the engine it runs on.
    pub(super) lab: Option<(Lab, Backend)>,
    /// The practice questions about heads and blocks: their ViT and its scratch copy.
    pub(super) vit_practice: VitPractice,
}

impl Inner {
    /// Stops using WebGPU for everything that follows (training, lottery rounds, timing): after
    /// a lost device, or when the adapter answered too late. A late adapter is then ignored.
    pub(super) fn drop_gpu(&mut self) {
        self.gpu_disabled = true;
        self.gpu = None;
    }

    /// The data set, once `loadData` or `loadPruningData` has run.
    pub(super) fn data(&self) -> Result<Rc<Mnist>, JsValue> {
        self.data
            .clone()
            .ok_or_else(|| js_error("the data set is not loaded yet"))
    }

    /// Only the pruning data is loaded (an embed): nothing can train here.
    pub(super) fn data_for_training_missing(&self) -> bool {
        self.progress_validation.is_none()
    }

    fn steps_done(&self) -> u64 {
        self.step_offset + self.engine.as_ref().map_or(0, Engine::step)
    }
}

/// The worker's state: the data set once loaded, the GPU if any, and the current run.
#[wasm_bindgen]
pub struct Session {
    pub(super) inner: Rc<RefCell<Inner>>,
}

pub(super) fn js_error(e: impl std::fmt::Display) -> JsValue {
    JsError::new(&e.to_string()).into()
}

pub(super) fn to_js(value: &impl Serialize) -> Result<JsValue, JsValue> {
    serde_wasm_bindgen::to_value(value).map_err(js_error)
}

const NOT_STARTED: &str = "no training run has been started";

#[wasm_bindgen]
impl Session {
    #[wasm_bindgen(constructor)]
    pub fn new() -> Session {
        Session {
            inner: Rc::new(RefCell::new(Inner::default())),
        }
    }

    /// Decodes the four MNIST IDX files (gzip), in the standard order: training images, training
    /// labels, test images, test labels. Returns the split sizes.
    #[wasm_bindgen(js_name = loadData)]
    pub fn load_data(
        &self,
        train_images: &[u8],
        train_labels: &[u8],
        test_images: &[u8],
        test_labels: &[u8],
    ) -> Result<JsValue, JsValue> {
        let mnist = Mnist::from_idx(train_images, train_labels, test_images, test_labels)
            .map_err(js_error)?;
        let summary = DataSummary {
            train: mnist.train.len(),
            validation: mnist.validation.len(),
            test: mnist.test.len(),
            rows: mnist.rows,
            cols: mnist.cols,
        };
        let mut inner = self.inner.borrow_mut();
        inner.progress_validation =
            Some(Rc::new(mnist.validation.slice(0, PROGRESS_VALIDATION_SIZE)));
        inner.data = Some(Rc::new(mnist));
        to_js(&summary)
    }

    /// Decodes only what pruning views need (gzip IDX), each pair only if given: the calibration
    /// images and labels for methods that calibrate, the test images and labels for views that
    /// measure accuracy. Training is not possible after this; `loadData` loads everything.
    #[wasm_bindgen(js_name = loadPruningData)]
    pub fn load_pruning_data(
        &self,
        calibration_images: Option<Vec<u8>>,
        calibration_labels: Option<Vec<u8>>,
        test_images: Option<Vec<u8>>,
        test_labels: Option<Vec<u8>>,
    ) -> Result<JsValue, JsValue> {
        fn pair<'a>(
            what: &str,
            x: &'a Option<Vec<u8>>,
            y: &'a Option<Vec<u8>>,
        ) -> Result<IdxPair<'a>, JsValue> {
            match (x, y) {
                (Some(x), Some(y)) => Ok(Some((x, y))),
                (None, None) => Ok(None),
                _ => Err(js_error(format!("{what} images and labels go together"))),
            }
        }
        let mnist = Mnist::for_pruning(
            pair("calibration", &calibration_images, &calibration_labels)?,
            pair("test", &test_images, &test_labels)?,
        )
        .map_err(js_error)?;
        let summary = DataSummary {
            train: mnist.train.len(),
            validation: 0,
            test: mnist.test.len(),
            rows: mnist.rows,
            cols: mnist.cols,
        };
        let mut inner = self.inner.borrow_mut();
        inner.progress_validation = None;
        inner.data = Some(Rc::new(mnist));
        to_js(&summary)
    }

    /// Asks the browser for a WebGPU adapter and device. Resolves to `{webgpu, adapter, reason}`;
    /// never rejects: no WebGPU simply means the CPU engine.
    #[wasm_bindgen(js_name = initGpu)]
    pub fn init_gpu(&self) -> js_sys::Promise {
        let inner = Rc::clone(&self.inner);
        future_to_promise(async move {
            let status = match GpuContext::new().await {
                Ok(ctx) if !inner.borrow().gpu_disabled => {
                    let adapter = ctx.adapter_name();
                    inner.borrow_mut().gpu = Some(Rc::new(ctx));
                    GpuStatus {
                        webgpu: true,
                        adapter: Some(adapter),
                        reason: None,
                    }
                }
                Ok(_) => GpuStatus {
                    webgpu: false,
                    adapter: None,
                    reason: Some("WebGPU answered too late".into()),
                },
                Err(e) => GpuStatus {
                    webgpu: false,
                    adapter: None,
                    reason: Some(e.to_string()),
                },
            };
            to_js(&status)
        })
    }

    /// Gives up on WebGPU (the page calls this when the adapter request takes too long); a late
    /// answer is then ignored.
    #[wasm_bindgen(js_name = disableGpu)]
    pub fn disable_gpu(&self) {
        self.inner.borrow_mut().drop_gpu();
    }

    /// Starts a fresh run (the previous one, if any, is dropped) on WebGPU when available and not
    /// refused by `backend: "cpu"`. Every value is validated before any work starts. Returns the
    /// engine used: "webgpu" or "cpu".
    pub fn start(&self, config: JsValue) -> Result<String, JsValue> {
        let mut inner = self.inner.borrow_mut();
        let data = inner.data()?;
        if inner.progress_validation.is_none() {
            return Err(js_error(
                "only the pruning data is loaded here; training needs the full data set",
            ));
        }
        let run: RunConfig = serde_wasm_bindgen::from_value(config)
            .map_err(|e| js_error(format!("invalid training settings: {e}")))?;
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
        // The model's own recipe (the ViT's: AdamW, batch 128, warmup then cosine), with the
        // page's settings over it.
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
        // The GPU engine has no ViT kernels yet: the ViT trains on the CPU engine.
        let use_gpu = run.backend.as_deref() != Some("cpu") && !config.arch.is_vit();
        let engine = match (&inner.gpu, use_gpu) {
            (Some(ctx), true) => Engine::gpu(Rc::clone(ctx), &config, &data),
            _ => Engine::cpu(&config, &data),
        }
        .map_err(js_error)?;
        inner.total_steps = config.total_steps(data.train.len());
        inner.last_good = None;
        inner.step_offset = 0;
        inner.config = Some(config);
        inner.engine = Some(engine);
        Ok(Self::backend_name(inner.engine.as_ref()).to_owned())
    }

    fn backend_name(engine: Option<&Engine>) -> &'static str {
        page_backend_name(engine.map_or("cpu", Engine::backend))
    }

    /// "webgpu" or "cpu": the engine of the current run.
    #[wasm_bindgen(getter)]
    pub fn backend(&self) -> String {
        Self::backend_name(self.inner.borrow().engine.as_ref()).to_owned()
    }

    /// Whether the GPU failed (device lost or a rejected command): the page then offers to
    /// continue on the CPU.
    #[wasm_bindgen(getter, js_name = gpuFailed)]
    pub fn gpu_failed(&self) -> bool {
        self.inner
            .borrow()
            .gpu
            .as_ref()
            .is_some_and(|ctx| ctx.check().is_err())
    }

    /// True once the run has taken all its steps.
    #[wasm_bindgen(getter)]
    pub fn finished(&self) -> bool {
        let inner = self.inner.borrow();
        inner.engine.is_some() && inner.steps_done() >= inner.total_steps
    }

    /// Runs up to `n` more steps, reads the model back and evaluates it on the progress
    /// validation subset. Resolves to the progress object.
    #[wasm_bindgen(js_name = trainSteps)]
    pub fn train_steps(&self, n: u32) -> js_sys::Promise {
        let inner = Rc::clone(&self.inner);
        future_to_promise(async move {
            let (mut engine, val, total, offset) = {
                let mut i = inner.borrow_mut();
                let Some(val) = i.progress_validation.clone() else {
                    return Err(js_error(NOT_STARTED));
                };
                let engine = i.engine.take().ok_or_else(|| js_error(NOT_STARTED))?;
                (engine, val, i.total_steps, i.step_offset)
            };
            let n = u64::from(n).min(total.saturating_sub(offset + engine.step()));
            let result = async {
                let stats = engine.train_steps(n).await?;
                let model = engine.model().await?;
                Ok::<_, crate::Error>((stats, model))
            }
            .await;
            let backend = Self::backend_name(Some(&engine));
            inner.borrow_mut().engine = Some(engine);
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
            inner.borrow_mut().last_good = Some((model, step));
            to_js(&progress)
        })
    }

    /// After a GPU failure: continues the run on the CPU engine from the model of the last
    /// progress point (or from the start if there was none).
    #[wasm_bindgen(js_name = continueOnCpu)]
    pub fn continue_on_cpu(&self) -> Result<(), JsValue> {
        let mut inner = self.inner.borrow_mut();
        let data = inner.data.clone().ok_or_else(|| js_error(NOT_STARTED))?;
        let config = inner.config.clone().ok_or_else(|| js_error(NOT_STARTED))?;
        let (engine, offset) = match inner.last_good.take() {
            Some((model, step)) => (Engine::cpu_from(model, &config, &data), step),
            None => (Engine::cpu(&config, &data), 0),
        };
        inner.engine = Some(engine.map_err(js_error)?);
        inner.step_offset = offset;
        inner.gpu = None;
        Ok(())
    }

    /// Loss, accuracy and confusion matrix on the 10,000 test images.
    pub fn test(&self) -> js_sys::Promise {
        let inner = Rc::clone(&self.inner);
        future_to_promise(async move {
            let engine = inner
                .borrow_mut()
                .engine
                .take()
                .ok_or_else(|| js_error(NOT_STARTED))?;
            let result = engine.evaluate(Split::Test).await;
            let report = result.map(|eval| TestReport {
                test_acc: eval.accuracy,
                test_loss: eval.loss,
                confusion: eval.confusion,
                steps: inner.borrow().step_offset + engine.step(),
                backend: Self::backend_name(Some(&engine)),
                adapter: engine.adapter(),
            });
            inner.borrow_mut().engine = Some(engine);
            to_js(&report.map_err(js_error)?)
        })
    }
}

impl Default for Session {
    fn default() -> Self {
        Self::new()
    }
}
