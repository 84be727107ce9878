//! The prune card: the step-by-step walk-through (scores → mask → accuracy drop → fine-tuning)
//! of the store's model to prune, and the pictures each stage feeds (histogram, heat maps, pixel
//! maps; the head grid and attention in `structure.rs`, the cost meter in `costs.rs`).
//!
//! Every call does a bounded piece of work (at most one method's selection, or one chunk of
//! fine-tuning steps) so the worker can post progress and notice a Cancel between calls.

use std::cell::RefCell;
use std::rc::Rc;

use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::request::{PruneRequest, finetune_config, finetune_steps, need_test};
use super::store::{ModelStore, Shared};
use super::structure::StructureCounts;
use super::{js_error, page_backend_name, to_js};
use crate::data::Mnist;
use crate::engine::Engine;
use crate::model::{Model, ModelKind, Network};
use crate::prune::sparsegpt::{SparseGptOptions, input_hinv_diag};
use crate::prune::{self, Method, PruneOptions, Scores, Selection, wanda};
use crate::train::{Evaluation, evaluate};

/// A step-by-step pruning in progress: what each stage produced so far.
pub(super) struct Walk {
    /// The store's base model this walk prunes (see [`Shared::generation`]).
    generation: u64,
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

/// Bins of the weight-score histogram the page draws.
const HISTOGRAM_BINS: usize = 60;

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

/// What `finetuneChunk` reports.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FinetuneProgress {
    step: u64,
    total: u64,
    loss: f32,
    /// The engine fine-tuning runs on: "webgpu" or "cpu".
    backend: &'static str,
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

/// The prune card's walk-through, over the page's store.
#[wasm_bindgen]
pub struct WalkThrough {
    pub(super) store: Rc<RefCell<Shared>>,
    pub(super) walk: Rc<RefCell<Option<Walk>>>,
}

/// The walk in `slot` if it prunes the store's current base model: loading another model makes
/// the old walk stale, and every call then starts from the new one.
pub(super) fn live<'a>(slot: &'a Option<Walk>, store: &Shared) -> Option<&'a Walk> {
    slot.as_ref().filter(|w| w.generation == store.generation())
}

fn live_mut<'a>(slot: &'a mut Option<Walk>, store: &Shared) -> Result<&'a mut Walk, JsValue> {
    slot.as_mut()
        .filter(|w| w.generation == store.generation())
        .ok_or_else(|| js_error("no pruning in progress; press Step from the start"))
}

/// The model the pictures show: the walk's pruned one once there is one, else the base.
pub(super) fn shown<'a>(store: &'a Shared, walk: Option<&'a Walk>) -> Option<&'a Model> {
    walk.and_then(|w| w.pruned.as_ref()).or(store.base().ok())
}

#[wasm_bindgen]
impl WalkThrough {
    #[wasm_bindgen(constructor)]
    pub fn new(store: &ModelStore) -> WalkThrough {
        WalkThrough {
            store: Rc::clone(&store.shared),
            walk: Rc::default(),
        }
    }

    /// Runs one stage of pruning the base model: "scores", then "select", "apply". Changing the
    /// method or settings starts over from "scores". Returns the stage's numbers. Fine-tuning, the
    /// fourth stage, runs in chunks: `startFinetune`, then `finetuneChunk`.
    #[wasm_bindgen(js_name = pruneStep)]
    pub fn prune_step(&self, request: JsValue) -> Result<JsValue, JsValue> {
        let (request, method, options) = PruneRequest::parse(request)?;
        let mut store = self.store.borrow_mut();
        let mut slot = self.walk.borrow_mut();
        let data = store.data()?;
        let base = store.base()?.clone();
        options.validate(method, &base).map_err(js_error)?;
        let stage = request.stage.as_deref().unwrap_or("scores");
        let fresh = stage == "scores"
            || !live(&slot, &store).is_some_and(|w| w.method == method && w.options == options);
        if fresh {
            *slot = Some(Walk {
                generation: store.generation(),
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
        let before = if stage == "apply" {
            need_test(&data)?;
            Some(store.base_evaluation()?)
        } else {
            None
        };
        let calibration = store.calibration(method, &options)?.cloned();
        let calibration = calibration.as_ref();
        let walk = live_mut(&mut slot, &store)?;
        walk.finetune = None;
        let report = match stage {
            "scores" => {
                let scores =
                    prune::scores(method, &base, calibration, &walk.options).map_err(js_error)?;
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
                let selection = prune::select(method, &base, scores, calibration, &walk.options)
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
        let store = self.store.borrow();
        let mut slot = self.walk.borrow_mut();
        let data = store.data()?;
        need_test(&data)?;
        let walk = live_mut(&mut slot, &store)?;
        let pruned = walk
            .pruned
            .clone()
            .ok_or_else(|| js_error("select the weights first"))?;
        let accuracy_before = walk
            .pruned_accuracy
            .unwrap_or_else(|| evaluate(&pruned, &data.test).accuracy);
        let total = finetune_steps(pruned.kind());
        let config = finetune_config(&pruned)?;
        let backend = store.finetune_backend(&pruned);
        let engine = Engine::from_backend(&backend, &pruned, &config, &data).map_err(js_error)?;
        walk.finetune = Some(Finetune {
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
        let (store, slot) = (Rc::clone(&self.store), Rc::clone(&self.walk));
        future_to_promise(async move {
            let not_started = || js_error("fine-tuning has not been started");
            let (mut engine, total, method) = {
                let s = store.borrow();
                let mut w = slot.borrow_mut();
                let walk = live_mut(&mut w, &s)?;
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
                backend: page_backend_name(engine.backend()),
                report: None,
            };
            if progress.step < total {
                // Put back only into the fine-tuning it came from (a new Step drops that one).
                let s = store.borrow();
                let mut w = slot.borrow_mut();
                if let Some(tune) = live_mut(&mut w, &s)
                    .ok()
                    .and_then(|w| w.finetune.as_mut())
                    .filter(|t| t.engine.is_none())
                {
                    tune.engine = Some(engine);
                }
                return to_js(&progress);
            }
            let tuned = engine.model().await.map_err(js_error)?;
            let before = store.borrow_mut().base_evaluation()?;
            let s = store.borrow();
            let mut w = slot.borrow_mut();
            let walk = live_mut(&mut w, &s)?;
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
        if let Some(walk) = self.walk.borrow_mut().as_mut() {
            walk.finetune = None;
        }
    }

    /// Layer `layer`'s weights `[out, in]` (row-major) of the model on show, NaN where masked:
    /// what the heatmaps and, for layer 0, the receptive fields draw.
    #[wasm_bindgen(js_name = layerWeights)]
    pub fn layer_weights(&self, layer: usize) -> Result<Vec<f32>, JsValue> {
        let store = self.store.borrow();
        let slot = self.walk.borrow();
        let model =
            shown(&store, live(&slot, &store)).ok_or_else(|| js_error("there is no model yet"))?;
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
        let mut store = self.store.borrow_mut();
        let mut slot = self.walk.borrow_mut();
        // The ViT's first layer reads 7×7 patches, not the 784 pixels: no per-pixel picture.
        let vit = store.base().is_ok_and(|m| m.kind() == ModelKind::Vit);
        let Some(walk) = live(&slot, &store).filter(|_| !vit) else {
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
        let calibration = store.calibration(method, &options)?.cloned();
        let walk = live_mut(&mut slot, &store)?;
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
}
