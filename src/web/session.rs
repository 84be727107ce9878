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

use crate::data::{Dataset, Mnist};
use crate::engine::Engine;
use crate::gpu::GpuContext;
use crate::model::{Architecture, Mlp};
use crate::prune::calibration::Calibration;
use crate::prune::{self, Method, PruneOptions, Scores, Selection};
use crate::train::{Budget, OptimizerConfig, OptimizerKind, Split, TrainConfig, Trainer, evaluate};

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

#[derive(Default)]
struct Inner {
    data: Option<Rc<Mnist>>,
    progress_validation: Option<Rc<Dataset>>,
    gpu: Option<Rc<GpuContext>>,
    gpu_disabled: bool,
    engine: Option<Engine>,
    config: Option<TrainConfig>,
    total_steps: u64,
    /// The model at the last progress point, and its step: what a lost device falls back to.
    last_good: Option<(Mlp, u64)>,
    /// Steps taken by an earlier engine of this run (after falling back to the CPU).
    step_offset: u64,
    /// The model pruning starts from (the shipped checkpoint, or the last trained model).
    base: Option<Mlp>,
    pruning: Option<Pruning>,
}

/// A step-by-step pruning in progress: what each stage produced so far.
struct Pruning {
    method: Method,
    options: PruneOptions,
    calibration: Option<Calibration>,
    scores: Option<Scores>,
    selection: Option<Selection>,
    pruned: Option<Mlp>,
}

/// What the page sends with each pruning step (camelCase JSON).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PruneRequest {
    method: String,
    sparsity: f64,
    /// "scores", "select", "apply" or "finetune".
    stage: String,
}

/// Bins of the weight-score histogram the page draws.
const HISTOGRAM_BINS: usize = 60;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StageReport {
    stage: &'static str,
    method: &'static str,
    /// scores: a histogram of the first layer's scores (per weight or per neuron).
    histogram: Option<Vec<u32>>,
    range: Option<(f32, f32)>,
    per_neuron: bool,
    /// select: the highest pruned score per layer, and what is left.
    thresholds: Option<Vec<Option<f32>>>,
    layers: Option<Vec<prune::LayerCount>>,
    weights_remaining: Option<f64>,
    /// apply / finetune: test accuracy before and after.
    accuracy_before: Option<f64>,
    accuracy_after: Option<f64>,
    finetune_steps: Option<u64>,
}

impl StageReport {
    fn new(stage: &'static str, method: Method) -> Self {
        Self {
            stage,
            method: method.name(),
            histogram: None,
            range: None,
            per_neuron: false,
            thresholds: None,
            layers: None,
            weights_remaining: None,
            accuracy_before: None,
            accuracy_after: None,
            finetune_steps: None,
        }
    }
}

/// Steps of fine-tuning in the page's last stage: about a fifth of an epoch, a few seconds in
/// wasm, enough to show the recovery.
const FINETUNE_STEPS: u64 = 200;

fn histogram(values: &[f32]) -> (Vec<u32>, (f32, f32)) {
    let lo = values.iter().copied().fold(f32::INFINITY, f32::min);
    let hi = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut counts = vec![0u32; HISTOGRAM_BINS];
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
        counts[0] = values.len() as u32;
        return (counts, (lo.min(0.0), hi.max(1.0)));
    }
    let width = (hi - lo) / HISTOGRAM_BINS as f32;
    for &v in values {
        let bin = (((v - lo) / width) as usize).min(HISTOGRAM_BINS - 1);
        counts[bin] += 1;
    }
    (counts, (lo, hi))
}

impl Inner {
    fn steps_done(&self) -> u64 {
        self.step_offset + self.engine.as_ref().map_or(0, Engine::step)
    }
}

/// The worker's state: the data set once loaded, the GPU if any, and the current run.
#[wasm_bindgen]
pub struct Session {
    inner: Rc<RefCell<Inner>>,
}

fn js_error(e: impl std::fmt::Display) -> JsValue {
    JsError::new(&e.to_string()).into()
}

fn to_js(value: &impl Serialize) -> Result<JsValue, JsValue> {
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
        let mut inner = self.inner.borrow_mut();
        inner.gpu_disabled = true;
        inner.gpu = None;
    }

    /// Starts a fresh run (the previous one, if any, is dropped) on WebGPU when available and not
    /// refused by `backend: "cpu"`. Every value is validated before any work starts. Returns the
    /// engine used: "webgpu" or "cpu".
    pub fn start(&self, config: JsValue) -> Result<String, JsValue> {
        let mut inner = self.inner.borrow_mut();
        let data = inner
            .data
            .clone()
            .ok_or_else(|| js_error("the data set is not loaded yet"))?;
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
        let arch: Architecture = match run.arch {
            Some(spec) => spec.parse().map_err(js_error)?,
            None => Architecture::lenet_300_100(),
        };
        let config = TrainConfig {
            arch,
            optimizer,
            batch: run.batch.unwrap_or(60),
            budget: Budget::Iters(run.iters),
            seed: run.seed.unwrap_or(0),
            ..TrainConfig::default()
        };
        let use_gpu = run.backend.as_deref() != Some("cpu");
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
        match engine.map(Engine::backend) {
            Some("gpu") => "webgpu",
            _ => "cpu",
        }
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
            let (mut engine, data, val, total, offset) = {
                let mut i = inner.borrow_mut();
                let (Some(data), Some(val)) = (i.data.clone(), i.progress_validation.clone())
                else {
                    return Err(js_error(NOT_STARTED));
                };
                let engine = i.engine.take().ok_or_else(|| js_error(NOT_STARTED))?;
                (engine, data, val, i.total_steps, i.step_offset)
            };
            let n = u64::from(n).min(total.saturating_sub(offset + engine.step()));
            let result = async {
                let stats = engine.train_steps(&data, n).await?;
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

    /// Sets the model pruning starts from (safetensors bytes, e.g. the shipped checkpoint).
    /// Returns its architecture and test accuracy.
    #[wasm_bindgen(js_name = loadModel)]
    pub fn load_model(&self, bytes: &[u8]) -> Result<JsValue, JsValue> {
        let model =
            crate::checkpoint::from_safetensors("the shipped model", bytes).map_err(js_error)?;
        let mut inner = self.inner.borrow_mut();
        let data = inner
            .data
            .clone()
            .ok_or_else(|| js_error("the data set is not loaded yet"))?;
        if model.architecture().inputs() != data.train.features()
            || model.architecture().outputs() != data.train.classes()
        {
            return Err(js_error(format!(
                "the model {} does not fit MNIST",
                model.architecture()
            )));
        }
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Loaded {
            arch: String,
            test_acc: f64,
        }
        let loaded = Loaded {
            arch: model.architecture().to_string(),
            test_acc: evaluate(&model, &data.test).accuracy,
        };
        inner.base = Some(model);
        inner.pruning = None;
        to_js(&loaded)
    }

    /// Makes the model of the last training run (as of its last progress point) the one pruning
    /// starts from.
    #[wasm_bindgen(js_name = useTrainedModel)]
    pub fn use_trained_model(&self) -> Result<(), JsValue> {
        let mut inner = self.inner.borrow_mut();
        let (model, _) = inner
            .last_good
            .clone()
            .ok_or_else(|| js_error("no model has been trained yet"))?;
        inner.base = Some(model);
        inner.pruning = None;
        Ok(())
    }

    /// Runs one stage of pruning the base model: "scores", then "select", "apply", "finetune".
    /// Changing the method or sparsity starts over from "scores". Returns the stage's numbers.
    #[wasm_bindgen(js_name = pruneStep)]
    pub fn prune_step(&self, request: JsValue) -> Result<JsValue, JsValue> {
        let request: PruneRequest = serde_wasm_bindgen::from_value(request)
            .map_err(|e| js_error(format!("invalid pruning request: {e}")))?;
        let method = Method::from_name(&request.method).map_err(js_error)?;
        let mut inner = self.inner.borrow_mut();
        let data = inner
            .data
            .clone()
            .ok_or_else(|| js_error("the data set is not loaded yet"))?;
        let base = inner
            .base
            .clone()
            .ok_or_else(|| js_error("there is no model to prune yet"))?;
        let options = PruneOptions {
            sparsity: request.sparsity,
            ..PruneOptions::default()
        };
        options.validate(method, &base).map_err(js_error)?;
        let fresh = request.stage == "scores"
            || !inner
                .pruning
                .as_ref()
                .is_some_and(|p| p.method == method && p.options == options);
        if fresh {
            let calibration = if method.needs_calibration() {
                Some(
                    Calibration::from_dataset(&data.train, options.calibration_samples)
                        .map_err(js_error)?,
                )
            } else {
                None
            };
            inner.pruning = Some(Pruning {
                method,
                options,
                calibration,
                scores: None,
                selection: None,
                pruned: None,
            });
        }
        let Some(p) = inner.pruning.as_mut() else {
            return Err(js_error("no pruning in progress"));
        };
        let report = match request.stage.as_str() {
            "scores" => {
                let scores = prune::scores(method, &base, p.calibration.as_ref(), &p.options)
                    .map_err(js_error)?;
                let mut report = StageReport::new("scores", method);
                let (values, per_neuron): (Vec<f32>, bool) = match &scores {
                    Scores::Weights(w) => (w[0].iter().copied().collect(), false),
                    Scores::Neurons(n) => (n[0].to_vec(), true),
                };
                let (counts, range) = histogram(&values);
                report.histogram = Some(counts);
                report.range = Some(range);
                report.per_neuron = per_neuron;
                p.scores = Some(scores);
                report
            }
            "select" => {
                let scores = p
                    .scores
                    .as_ref()
                    .ok_or_else(|| js_error("compute the scores first"))?;
                let selection =
                    prune::select(method, &base, scores, p.calibration.as_ref(), &p.options)
                        .map_err(js_error)?;
                let mut pruned = base.clone();
                prune::apply(&mut pruned, &selection).map_err(js_error)?;
                let mut report = StageReport::new("select", method);
                report.thresholds = Some(selection.thresholds.clone());
                report.layers = Some(prune::layer_counts(&pruned));
                report.weights_remaining = Some(pruned.weights_remaining());
                p.selection = Some(selection);
                p.pruned = Some(pruned);
                report
            }
            "apply" => {
                let pruned = p
                    .pruned
                    .as_ref()
                    .ok_or_else(|| js_error("select the weights first"))?;
                let mut report = StageReport::new("apply", method);
                report.accuracy_before = Some(evaluate(&base, &data.test).accuracy);
                report.accuracy_after = Some(evaluate(pruned, &data.test).accuracy);
                report.weights_remaining = Some(pruned.weights_remaining());
                report
            }
            "finetune" => {
                let pruned = p
                    .pruned
                    .clone()
                    .ok_or_else(|| js_error("select the weights first"))?;
                let config = TrainConfig {
                    arch: pruned.architecture(),
                    budget: Budget::Iters(FINETUNE_STEPS),
                    ..TrainConfig::default()
                };
                let mut report = StageReport::new("finetune", method);
                report.accuracy_before = Some(evaluate(&pruned, &data.test).accuracy);
                let mut trainer =
                    Trainer::with_model(pruned, &config, &data.train).map_err(js_error)?;
                trainer
                    .train_steps(&data.train, FINETUNE_STEPS)
                    .map_err(js_error)?;
                let tuned = trainer.into_model();
                report.accuracy_after = Some(evaluate(&tuned, &data.test).accuracy);
                report.weights_remaining = Some(tuned.weights_remaining());
                report.finetune_steps = Some(FINETUNE_STEPS);
                p.pruned = Some(tuned);
                report
            }
            other => return Err(js_error(format!("unknown pruning stage {other:?}"))),
        };
        to_js(&report)
    }

    /// The first layer's incoming weights of every hidden unit as 28×28 tiles (row-major
    /// `[units, 784]`), NaN where the current pruning has masked them: the receptive fields.
    #[wasm_bindgen(js_name = receptiveFields)]
    pub fn receptive_fields(&self) -> Result<Vec<f32>, JsValue> {
        let inner = self.inner.borrow();
        let model = inner
            .pruning
            .as_ref()
            .and_then(|p| p.pruned.as_ref())
            .or(inner.base.as_ref())
            .ok_or_else(|| js_error("there is no model yet"))?;
        let layer = &model.layers()[0];
        Ok(layer
            .weight
            .iter()
            .zip(&layer.mask)
            .map(|(&w, &m)| if m == 0.0 { f32::NAN } else { w })
            .collect())
    }

    /// Loss, accuracy and confusion matrix on the 10,000 test images.
    pub fn test(&self) -> js_sys::Promise {
        let inner = Rc::clone(&self.inner);
        future_to_promise(async move {
            let (engine, data) = {
                let mut i = inner.borrow_mut();
                let data = i.data.clone().ok_or_else(|| js_error(NOT_STARTED))?;
                (i.engine.take().ok_or_else(|| js_error(NOT_STARTED))?, data)
            };
            let result = engine.evaluate(&data, Split::Test).await;
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
