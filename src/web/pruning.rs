//! Pruning in the browser: the step-by-step walk-through (scores → mask → accuracy drop →
//! fine-tuning), the pictures each stage feeds, and one-shot sweep points for "Run all".
//!
//! Every call does a bounded piece of work (at most one method's selection, or one chunk of
//! fine-tuning steps) so the worker can post progress and notice a Cancel between calls.

use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;

use std::rc::Rc;

use super::session::{Inner, Session, js_error, to_js};
use super::structure::StructureCounts;
use crate::data::Mnist;
use crate::engine::{Backend, Engine};
use crate::model::{Mlp, Model, ModelKind, ModelSpec, Network};
use crate::prune::calibration::Calibration;
use crate::prune::sparsegpt::{SparseGptOptions, input_hinv_diag};
use crate::prune::{self, Family, Method, NM, PruneOptions, Scope, Scores, Selection, wanda};
use crate::train::{Budget, Evaluation, TrainConfig, evaluate};
use wasm_bindgen_futures::future_to_promise;

/// The pruning half of the session's state.
#[derive(Default)]
pub(crate) struct PruneState {
    /// The model pruning starts from (a shipped checkpoint, or the last trained model).
    base: Option<Model>,
    /// The base model on the test set, kept: every stage report compares against it.
    base_evaluation: Option<Evaluation>,
    pub(super) walk: Option<Walk>,
    /// Calibration images by sample count: shared by the walk-through and sweeps.
    calibration: Option<Calibration>,
}

/// A step-by-step pruning in progress: what each stage produced so far.
pub(super) struct Walk {
    pub(super) method: Method,
    options: PruneOptions,
    pub(super) scores: Option<Scores>,
    selection: Option<Selection>,
    pub(super) pruned: Option<Model>,
    /// `pruned`'s test accuracy once a stage has measured it, for fine-tuning's "before".
    pruned_accuracy: Option<f64>,
    /// The per-pixel picture of what the method measures, once drawn (see `pixelMaps`).
    input_map: Option<PixelMap>,
    finetune: Option<Finetune>,
}

/// Fine-tuning of the pruned model, run a chunk at a time on an engine. The engine is taken out
/// while a chunk runs (GPU chunks await), so it is an `Option`.
struct Finetune {
    engine: Option<Engine>,
    total: u64,
    accuracy_before: f64,
}

/// What the page sends with each pruning step or sweep point (camelCase JSON).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct PruneRequest {
    method: String,
    sparsity: f64,
    /// "scores", "select", "apply" or "finetune"; absent for a sweep point.
    stage: Option<String>,
    /// "N:M" (e.g. "2:4") instead of a fraction; absent or empty for unstructured.
    pattern: Option<String>,
    /// The output layer prunes `outputRate × sparsity`.
    output_rate: Option<f64>,
    /// Calibration images for Taylor, Wanda and SparseGPT.
    calibration: Option<usize>,
    /// Head methods: "global" or "per-block".
    scope: Option<String>,
    /// Head methods: rounds to reach the target, rescoring in between.
    rounds: Option<usize>,
    /// Layer methods: how many blocks to drop.
    remove: Option<usize>,
}

/// Most rounds the page offers a head method: each round rescores the model.
const MAX_ROUNDS: usize = 8;

/// Most calibration images the page offers: more makes SparseGPT slower for little change.
const MAX_CALIBRATION: usize = 1_024;

impl PruneRequest {
    pub(super) fn parse(request: JsValue) -> Result<(Self, Method, PruneOptions), JsValue> {
        let request: PruneRequest = serde_wasm_bindgen::from_value(request)
            .map_err(|e| js_error(format!("invalid pruning request: {e}")))?;
        let method = Method::from_name(&request.method).map_err(js_error)?;
        let defaults = PruneOptions::default();
        let pattern = match request.pattern.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(parse_pattern(text)?),
        };
        let calibration_samples = request.calibration.unwrap_or(defaults.calibration_samples);
        if !(1..=MAX_CALIBRATION).contains(&calibration_samples) {
            return Err(js_error(format!(
                "calibration size {calibration_samples} is outside 1…{MAX_CALIBRATION}"
            )));
        }
        let scope = match request.scope.as_deref() {
            None | Some("") => defaults.scope,
            Some(name) => Scope::from_name(name).map_err(js_error)?,
        };
        let rounds = request.rounds.unwrap_or(defaults.rounds);
        if !(1..=MAX_ROUNDS).contains(&rounds) {
            return Err(js_error(format!(
                "rounds {rounds} is outside 1…{MAX_ROUNDS}"
            )));
        }
        let options = PruneOptions {
            scope,
            rounds,
            remove: request.remove.unwrap_or(defaults.remove),
            sparsity: match pattern {
                Some(NM { n, m }) => 1.0 - n as f64 / m as f64,
                None => request.sparsity,
            },
            output_rate: request.output_rate.unwrap_or(defaults.output_rate),
            pattern,
            calibration_samples,
            ..defaults
        };
        Ok((request, method, options))
    }
}

/// Accuracy needs the test images, which an embedded picture may not have loaded.
fn need_test(data: &Mnist) -> Result<(), JsValue> {
    if data.test.is_empty() {
        return Err(js_error(
            "no test images are loaded here, so accuracy cannot be measured",
        ));
    }
    Ok(())
}

fn parse_pattern(text: &str) -> Result<NM, JsValue> {
    let bad = || js_error(format!("pattern {text:?} is not of the form N:M, e.g. 2:4"));
    let (n, m) = text.split_once(':').ok_or_else(bad)?;
    let n = n.trim().parse().map_err(|_| bad())?;
    let m = m.trim().parse().map_err(|_| bad())?;
    Ok(NM { n, m })
}

/// Bins of the weight-score histogram the page draws.
const HISTOGRAM_BINS: usize = 60;

/// Steps of fine-tuning in the page's last stage: about a fifth of an epoch, a few seconds in
/// wasm, enough to show the recovery.
const FINETUNE_STEPS: u64 = 200;

/// The ViT's fine-tuning steps: each of its steps costs far more than LeNet's in wasm, and a
/// hundred at its fine-tuning rate already show the recovery.
const VIT_FINETUNE_STEPS: u64 = 100;

pub(super) fn finetune_steps(kind: ModelKind) -> u64 {
    match kind {
        ModelKind::Mlp => FINETUNE_STEPS,
        ModelKind::Vit => VIT_FINETUNE_STEPS,
    }
}

/// The engine fine-tuning runs on: the page's WebGPU device for an MLP when it has a working
/// one; the CPU otherwise (the GPU engine has no ViT kernels).
pub(super) fn finetune_backend(inner: &Inner, model: &Model) -> Backend {
    match (&inner.gpu, model) {
        (Some(ctx), Model::Mlp(_)) if ctx.check().is_ok() => Backend::Gpu(Rc::clone(ctx)),
        _ => Backend::Cpu,
    }
}

/// Test digits shown with their predictions before and after pruning.
const DIGITS: usize = 12;

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
    /// apply / finetune: `confusion[true][predicted]` of the pruned model on the test set.
    confusion: Option<Vec<Vec<u32>>>,
    /// apply / finetune: a row of test digits with predictions before and after.
    digits: Option<Digits>,
    /// ViT: heads and blocks kept by the model this stage leaves (see [`Structure::counts`]).
    structure: Option<StructureCounts>,
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
            confusion: None,
            digits: None,
            structure: None,
        }
    }

    /// Accuracy, confusion matrix and digits of `after` against `before`'s evaluation on the
    /// test set.
    fn compare(&mut self, data: &Mnist, b: &Evaluation, after: &Model) {
        let a = evaluate(after, &data.test);
        self.accuracy_before = Some(b.accuracy);
        self.accuracy_after = Some(a.accuracy);
        self.weights_remaining = Some(after.weights_remaining());
        self.digits = Some(Digits::pick(data, &b.predictions, &a.predictions));
        self.confusion = Some(a.confusion);
        self.structure = StructureCounts::of(after);
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Digits {
    /// Indices into the test set.
    index: Vec<usize>,
    /// 28×28 bytes per digit, one after the other.
    pixels: Vec<u8>,
    label: Vec<u8>,
    before: Vec<u8>,
    after: Vec<u8>,
}

impl Digits {
    /// Up to half the row from digits pruning got wrong (the interesting ones), the rest the first
    /// test digits, in test-set order.
    fn pick(data: &Mnist, before: &[u8], after: &[u8]) -> Self {
        let labels = data.test.labels();
        let mut index: Vec<usize> = (0..labels.len())
            .filter(|&i| before[i] == labels[i] && after[i] != labels[i])
            .take(DIGITS / 2)
            .collect();
        for i in 0..labels.len() {
            if index.len() == DIGITS.min(labels.len()) {
                break;
            }
            if !index.contains(&i) {
                index.push(i);
            }
        }
        index.sort_unstable();
        Self {
            pixels: index
                .iter()
                .flat_map(|&i| data.test.image(i))
                .copied()
                .collect(),
            label: index.iter().map(|&i| labels[i]).collect(),
            before: index.iter().map(|&i| before[i]).collect(),
            after: index.iter().map(|&i| after[i]).collect(),
            index,
        }
    }
}

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

impl PruneState {
    pub(super) fn base(&self) -> Result<&Model, JsValue> {
        self.base
            .as_ref()
            .ok_or_else(|| js_error("there is no model to prune yet"))
    }

    /// The base model for the views written for MLPs (the cost meter, practice, the lab):
    /// an error naming `what` when it is the ViT.
    pub(super) fn base_mlp(&self, what: &str) -> Result<&Mlp, JsValue> {
        self.base()?.mlp(what).map_err(js_error)
    }

    /// Makes `model` the one pruning starts from (with its test evaluation, if already made);
    /// any walk-through of the previous one is dropped.
    fn set_base(&mut self, model: Model, evaluation: Option<Evaluation>) {
        self.base = Some(model);
        self.base_evaluation = evaluation;
        self.walk = None;
    }

    /// The base model's test evaluation, made on first use.
    fn base_evaluation(&mut self, data: &Mnist) -> Result<Evaluation, JsValue> {
        if self.base_evaluation.is_none() {
            self.base_evaluation = Some(evaluate(self.base()?, &data.test));
        }
        self.base_evaluation
            .clone()
            .ok_or_else(|| js_error("there is no model to prune yet"))
    }

    /// The calibration images for `options`, drawn once per sample count.
    pub(super) fn calibration(
        &mut self,
        data: &Mnist,
        method: Method,
        options: &PruneOptions,
    ) -> Result<Option<&Calibration>, JsValue> {
        if !method.needs_calibration() {
            return Ok(None);
        }
        let samples = options.calibration_samples;
        if self
            .calibration
            .as_ref()
            .is_none_or(|c| c.y.len() != samples)
        {
            self.calibration =
                Some(Calibration::from_dataset(&data.train, samples).map_err(js_error)?);
        }
        Ok(self.calibration.as_ref())
    }

    /// The model the pictures show: the pruned one once there is one, else the base.
    pub(super) fn shown(&self) -> Option<&Model> {
        self.walk
            .as_ref()
            .and_then(|w| w.pruned.as_ref())
            .or(self.base.as_ref())
    }

    fn walk(&mut self) -> Result<&mut Walk, JsValue> {
        self.walk
            .as_mut()
            .ok_or_else(|| js_error("no pruning in progress; press Step from the start"))
    }
}

/// What `finetuneChunk` reports.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FinetuneProgress {
    step: u64,
    total: u64,
    loss: f32,
    /// The stage report, once the last chunk is done.
    report: Option<StageReport>,
}

/// Per-pixel pictures of the first layer.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PixelMaps {
    /// What the method measures per input pixel (e.g. Wanda's ‖X_j‖), when it has such a thing.
    input: Option<PixelMap>,
    /// The share of the first layer's units that keep each pixel's weight, after the selection.
    kept: Option<Vec<f32>>,
}

#[derive(Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PixelMap {
    /// "input-norm", "hinv-diag" or "mean-score".
    kind: &'static str,
    values: Vec<f32>,
}

/// The share of the first layer's units that keep each input pixel's weight.
pub(super) fn kept_per_pixel(model: &impl Network) -> Vec<f32> {
    let mask = &model.linears()[0].mask;
    let units = mask.nrows().max(1) as f32;
    mask.sum_axis(ndarray::Axis(0)).mapv(|k| k / units).to_vec()
}

/// What the page learns of a model it may prune.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Loaded {
    /// `mlp` or `vit`.
    kind: ModelKind,
    /// The spec (`784-300-100-10`, or the ViT's configuration).
    arch: String,
    /// Each linear layer's checkpoint name and shape, for the heatmap's layer picker.
    layers: Vec<LayerShape>,
    /// The methods that apply to this model, with what each removes, in the core's order.
    methods: Vec<MethodInfo>,
    /// ViT: blocks and heads per block (the head grid's shape); empty for an MLP.
    heads_per_block: Vec<usize>,
    /// None where no test images are loaded (an embedded picture), or for a trained model.
    test_acc: Option<f64>,
}

/// One method as the core describes it: the page labels it, the core says whether it applies.
#[derive(Serialize)]
struct MethodInfo {
    name: &'static str,
    family: Family,
    summary: &'static str,
    calibrated: bool,
    n_m: bool,
}

#[derive(Serialize)]
struct LayerShape {
    name: String,
    rows: usize,
    cols: usize,
}

impl Loaded {
    fn of(model: &Model, test_acc: Option<f64>) -> Self {
        Self {
            kind: model.kind(),
            arch: model.spec(),
            layers: model
                .linear_names()
                .into_iter()
                .zip(model.linears())
                .map(|(name, l)| LayerShape {
                    name,
                    rows: l.weight.nrows(),
                    cols: l.weight.ncols(),
                })
                .collect(),
            methods: Method::every_for(model.kind())
                .into_iter()
                .map(|m| MethodInfo {
                    name: m.name(),
                    family: m.family(),
                    summary: m.summary(),
                    calibrated: m.needs_calibration(),
                    n_m: m.supports_n_m(),
                })
                .collect(),
            heads_per_block: model
                .blocks()
                .map(|b| b.heads_per_block())
                .unwrap_or_default(),
            test_acc,
        }
    }
}

/// One point of an accuracy-vs-sparsity sweep.
#[derive(Serialize)]
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
}

#[wasm_bindgen]
impl Session {
    /// Sets the model pruning starts from (safetensors bytes of either model, e.g. a shipped
    /// checkpoint). Returns what the page shows of it (see [`Loaded`]).
    #[wasm_bindgen(js_name = loadModel)]
    pub fn load_model(&self, bytes: &[u8]) -> Result<JsValue, JsValue> {
        let model = crate::checkpoint::load("the shipped model", bytes).map_err(js_error)?;
        let mut inner = self.inner.borrow_mut();
        let data = inner.data()?;
        if model.inputs() != data.train.features() || model.classes() != data.train.classes() {
            return Err(js_error(format!(
                "the model {} does not fit MNIST",
                model.spec()
            )));
        }
        let evaluation = (!data.test.is_empty()).then(|| evaluate(&model, &data.test));
        let loaded = Loaded::of(&model, evaluation.as_ref().map(|e| e.accuracy));
        inner.pruning.set_base(model, evaluation);
        to_js(&loaded)
    }

    /// Makes the model of the last training run (as of its last progress point) the one pruning
    /// starts from. Returns what the page shows of it (see [`Loaded`]; no test accuracy).
    #[wasm_bindgen(js_name = useTrainedModel)]
    pub fn use_trained_model(&self) -> Result<JsValue, JsValue> {
        let mut inner = self.inner.borrow_mut();
        let (model, _) = inner
            .last_good
            .clone()
            .ok_or_else(|| js_error("no model has been trained yet"))?;
        let loaded = Loaded::of(&model, None);
        inner.pruning.set_base(model, None);
        to_js(&loaded)
    }

    /// Runs one stage of pruning the base model: "scores", then "select", "apply". Changing the
    /// method or settings starts over from "scores". Returns the stage's numbers. Fine-tuning, the
    /// fourth stage, runs in chunks: `startFinetune`, then `finetuneChunk`.
    #[wasm_bindgen(js_name = pruneStep)]
    pub fn prune_step(&self, request: JsValue) -> Result<JsValue, JsValue> {
        let (request, method, options) = PruneRequest::parse(request)?;
        let mut inner = self.inner.borrow_mut();
        let data = inner.data()?;
        let state = &mut inner.pruning;
        let base = state.base()?.clone();
        options.validate(method, &base).map_err(js_error)?;
        let stage = request.stage.as_deref().unwrap_or("scores");
        let fresh = stage == "scores"
            || !state
                .walk
                .as_ref()
                .is_some_and(|w| w.method == method && w.options == options);
        if fresh {
            state.walk = Some(Walk {
                method,
                options: options.clone(),
                scores: None,
                selection: None,
                pruned: None,
                pruned_accuracy: None,
                input_map: None,
                finetune: None,
            });
        }
        let calibration = state.calibration(&data, method, &options)?.cloned();
        let before = if stage == "apply" {
            need_test(&data)?;
            Some(state.base_evaluation(&data)?)
        } else {
            None
        };
        let walk = state.walk()?;
        walk.finetune = None;
        let report = match stage {
            "scores" => {
                let scores = prune::scores(method, &base, calibration.as_ref(), &walk.options)
                    .map_err(js_error)?;
                let mut report = StageReport::new("scores", method);
                let (values, per_neuron): (Vec<f32>, bool) = match &scores {
                    Scores::Weights(w) => (w[0].iter().copied().collect(), false),
                    Scores::Neurons(n) => (n[0].to_vec(), true),
                    Scores::Heads(h) => (h.iter().flat_map(|a| a.iter().copied()).collect(), false),
                    Scores::Blocks(b) => (b.to_vec(), false),
                };
                let (counts, range) = histogram(&values);
                report.histogram = Some(counts);
                report.range = Some(range);
                report.per_neuron = per_neuron;
                walk.scores = Some(scores);
                report
            }
            "select" => {
                let scores = walk
                    .scores
                    .as_ref()
                    .ok_or_else(|| js_error("compute the scores first"))?;
                let selection =
                    prune::select(method, &base, scores, calibration.as_ref(), &walk.options)
                        .map_err(js_error)?;
                let mut pruned = base.clone();
                prune::apply(&mut pruned, &selection).map_err(js_error)?;
                let mut report = StageReport::new("select", method);
                report.thresholds = Some(selection.thresholds.clone());
                report.layers = Some(prune::layer_counts(&pruned));
                report.weights_remaining = Some(pruned.weights_remaining());
                report.structure = StructureCounts::of(&pruned);
                walk.selection = Some(selection);
                walk.pruned = Some(pruned);
                walk.pruned_accuracy = None;
                report
            }
            "apply" => {
                let pruned = walk
                    .pruned
                    .as_ref()
                    .ok_or_else(|| js_error("select the weights first"))?;
                let before = before.ok_or_else(|| js_error("there is no model to prune yet"))?;
                let mut report = StageReport::new("apply", method);
                report.compare(&data, &before, pruned);
                walk.pruned_accuracy = report.accuracy_after;
                report
            }
            other => return Err(js_error(format!("unknown pruning stage {other:?}"))),
        };
        to_js(&report)
    }

    /// Sets up fine-tuning of the pruned model (the masks held) on the page's engine (the CPU
    /// for the ViT); `finetuneChunk` then runs it. Returns the number of steps it will take.
    #[wasm_bindgen(js_name = startFinetune)]
    pub fn start_finetune(&self) -> Result<u32, JsValue> {
        let mut inner = self.inner.borrow_mut();
        let data = inner.data()?;
        need_test(&data)?;
        let walk = inner.pruning.walk()?;
        let pruned = walk
            .pruned
            .clone()
            .ok_or_else(|| js_error("select the weights first"))?;
        let accuracy_before = walk
            .pruned_accuracy
            .unwrap_or_else(|| evaluate(&pruned, &data.test).accuracy);
        let total = finetune_steps(pruned.kind());
        let spec: ModelSpec = pruned.spec().parse().map_err(js_error)?;
        let config = TrainConfig::finetune(spec, Budget::Iters(total), 0);
        let backend = finetune_backend(&inner, &pruned);
        let engine = Engine::from_backend(&backend, &pruned, &config, &data).map_err(js_error)?;
        inner.pruning.walk()?.finetune = Some(Finetune {
            engine: Some(engine),
            total,
            accuracy_before,
        });
        Ok(total as u32)
    }

    /// Runs up to `n` more fine-tuning steps; resolves to the progress. After the last one, the
    /// fine-tuned model becomes the pruned model and the progress carries the stage report.
    #[wasm_bindgen(js_name = finetuneChunk)]
    pub fn finetune_chunk(&self, n: u32) -> js_sys::Promise {
        let inner = Rc::clone(&self.inner);
        future_to_promise(async move {
            let not_started = || js_error("fine-tuning has not been started");
            let (mut engine, total, method) = {
                let mut i = inner.borrow_mut();
                let walk = i.pruning.walk()?;
                let method = walk.method;
                let tune = walk.finetune.as_mut().ok_or_else(not_started)?;
                let engine = tune.engine.take().ok_or_else(not_started)?;
                (engine, tune.total, method)
            };
            let n = u64::from(n).min(total.saturating_sub(engine.step()));
            let stats = engine.train_steps(n).await.map_err(js_error)?;
            let mut progress = FinetuneProgress {
                step: engine.step(),
                total,
                loss: stats.loss,
                report: None,
            };
            if progress.step < total {
                // Put back only into the fine-tuning it came from (a new Step drops that one).
                if let Some(tune) = inner
                    .borrow_mut()
                    .pruning
                    .walk
                    .as_mut()
                    .and_then(|w| w.finetune.as_mut())
                    .filter(|t| t.engine.is_none())
                {
                    tune.engine = Some(engine);
                }
                return to_js(&progress);
            }
            let tuned = engine.model().await.map_err(js_error)?;
            let mut i = inner.borrow_mut();
            let before = i.pruning.base_evaluation(engine.data())?;
            let walk = i.pruning.walk()?;
            let done = walk.finetune.take().ok_or_else(not_started)?;
            let mut report = StageReport::new("finetune", method);
            report.compare(engine.data(), &before, &tuned);
            // Before, here, is the pruned model: the recovery is what this stage shows.
            report.accuracy_before = Some(done.accuracy_before);
            report.finetune_steps = Some(total);
            walk.pruned = Some(tuned);
            walk.pruned_accuracy = report.accuracy_after;
            progress.report = Some(report);
            to_js(&progress)
        })
    }

    /// Drops a fine-tuning in progress; the pruned model stays as it was before it.
    #[wasm_bindgen(js_name = cancelFinetune)]
    pub fn cancel_finetune(&self) {
        if let Some(walk) = self.inner.borrow_mut().pruning.walk.as_mut() {
            walk.finetune = None;
        }
    }

    /// Layer `layer`'s weights `[out, in]` (row-major) of the model on show, NaN where masked:
    /// what the heatmaps and, for layer 0, the receptive fields draw.
    #[wasm_bindgen(js_name = layerWeights)]
    pub fn layer_weights(&self, layer: usize) -> Result<Vec<f32>, JsValue> {
        let inner = self.inner.borrow();
        let model = inner
            .pruning
            .shown()
            .ok_or_else(|| js_error("there is no model yet"))?;
        let layer = model.linears().get(layer).ok_or_else(|| {
            js_error(format!(
                "the model has {} layers, not {}",
                model.linears().len(),
                layer + 1
            ))
        })?;
        Ok(layer
            .weight
            .iter()
            .zip(&layer.mask)
            .map(|(&w, &m)| if m == 0.0 { f32::NAN } else { w })
            .collect())
    }

    /// Per-pixel pictures of the first layer for the walk-through's method: what it measures per
    /// input (Wanda's ‖X_j‖, SparseGPT's diag(H⁻¹), else the mean score of the pixel's weights),
    /// and after the selection the share of units that keep each pixel.
    #[wasm_bindgen(js_name = pixelMaps)]
    pub fn pixel_maps(&self) -> Result<JsValue, JsValue> {
        let mut inner = self.inner.borrow_mut();
        let data = inner.data()?;
        let state = &mut inner.pruning;
        // The ViT's first layer reads 7×7 patches, not the 784 pixels: no per-pixel picture.
        let vit = state
            .base
            .as_ref()
            .is_some_and(|m| m.kind() == ModelKind::Vit);
        let Some(walk) = state.walk.as_ref().filter(|_| !vit) else {
            return to_js(&PixelMaps {
                input: None,
                kept: None,
            });
        };
        let (method, options) = (walk.method, walk.options.clone());
        if let Some(input) = walk.input_map.clone() {
            let kept = walk.pruned.as_ref().map(kept_per_pixel);
            return to_js(&PixelMaps {
                input: Some(input),
                kept,
            });
        }
        let calibration = state.calibration(&data, method, &options)?.cloned();
        let walk = state.walk()?;
        let input = match (method, calibration.as_ref(), walk.scores.as_ref()) {
            (Method::Wanda, Some(c), _) => Some(PixelMap {
                kind: "input-norm",
                values: wanda::input_norms(&c.x).to_vec(),
            }),
            (Method::SparseGpt, Some(c), _) => Some(PixelMap {
                kind: "hinv-diag",
                values: input_hinv_diag(c.x.view(), SparseGptOptions::default().damp)
                    .map_err(js_error)?
                    .to_vec(),
            }),
            (_, _, Some(Scores::Weights(w))) => Some(PixelMap {
                kind: "mean-score",
                values: w[0]
                    .mean_axis(ndarray::Axis(0))
                    .map(|m| m.to_vec())
                    .unwrap_or_default(),
            }),
            _ => None,
        };
        // Every later stage of the walk asks again; the map depends only on what made the walk.
        walk.input_map.clone_from(&input);
        let kept = walk.pruned.as_ref().map(kept_per_pixel);
        to_js(&PixelMaps { input, kept })
    }

    /// One point of "Run all": prunes the base model one-shot (no fine-tuning) and tests it.
    #[wasm_bindgen(js_name = sweepPoint)]
    pub fn sweep_point(&self, request: JsValue) -> Result<JsValue, JsValue> {
        let (_, method, options) = PruneRequest::parse(request)?;
        let mut inner = self.inner.borrow_mut();
        let data = inner.data()?;
        need_test(&data)?;
        let state = &mut inner.pruning;
        let mut model = state.base()?.clone();
        options.validate(method, &model).map_err(js_error)?;
        let calibration = state.calibration(&data, method, &options)?;
        prune::prune(method, &mut model, calibration, &options).map_err(js_error)?;
        to_js(&SweepPoint {
            method: method.name(),
            sparsity: options.sparsity,
            remove: options.remove,
            weights_remaining: model.weights_remaining(),
            accuracy: evaluate(&model, &data.test).accuracy,
            structure: StructureCounts::of(&model),
        })
    }
}
