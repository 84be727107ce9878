//! What pruning saves, measured in the browser: the cost meter of the walk-through's pruned model
//! (parameters, nonzeros, FLOPs, bytes, neurons removed) and forward-pass timings of the variants
//! of [`crate::prune::variants`] (dense, masked, CSR, compacted, 2:4) on the visitor's device,
//! WebGPU when the page has it, else the CPU engine.

use std::cell::RefCell;
use std::rc::Rc;

use serde::Serialize;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::practice::Practice;
use super::store::Shared;
use super::vit_costs::{self, MAX_VIT_TIMING_BATCH};
use super::walk_through::{WalkThrough, live, shown};
use super::{js_error, to_js};
use crate::gpu::forward_timing::time_gpu;
use crate::model::{Mlp, Model, Network};
use crate::prune::compaction;
use crate::prune::cost::{Cost, Counts};
use crate::prune::variants::{self, Kernel, TimingOptions, Variant, time_cpu};

/// Most images the page times a forward pass over: the whole test set.
const MAX_BATCH: usize = 10_000;
/// Most timed repetitions a page may ask for.
const MAX_REPS: usize = 50;

/// The browser's high-resolution clock in milliseconds (`performance.now()`), in a window or a
/// worker; `Date.now()` if neither has one.
pub(super) fn clock() -> impl Fn() -> f64 {
    let global = js_sys::global();
    let performance = js_sys::Reflect::get(&global, &"performance".into()).ok();
    let now = performance
        .as_ref()
        .and_then(|p| js_sys::Reflect::get(p, &"now".into()).ok())
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
    move || match (&performance, &now) {
        (Some(p), Some(f)) => f.call0(p).ok().and_then(|v| v.as_f64()).unwrap_or(0.0),
        _ => js_sys::Date::now(),
    }
}

/// The cost meter: the pruned model against the dense one it came from, and its compacted shape.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Meter {
    dense: Counts,
    pruned: Counts,
    compacted_arch: String,
    compacted: Counts,
}

/// One variant's forward-pass time, named as the practice questions name them.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TimedVariant {
    name: &'static str,
    description: String,
    ms: f64,
    /// Per image: what the kernel actually computes (a dense kernel multiplies the zeros too).
    flops: u64,
    /// Bytes of weights (and indices) the kernel reads.
    bytes: u64,
    max_abs_diff: f32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Timings {
    backend: &'static str,
    adapter: Option<String>,
    software: bool,
    batch: usize,
    reps: usize,
    variants: Vec<TimedVariant>,
}

/// The practice questions' names for the variants, with the sparsity they were built at.
fn page_name(core: &str) -> &'static str {
    match core {
        "dense" => "dense",
        "masked" => "masked-80",
        "csr" => "csr-80",
        "compacted" => "compacted",
        "2:4" => "2:4-packed",
        "2:4 masked" => "2:4-dense",
        _ => "other",
    }
}

/// The store's base model and the walk-through's model on show (the base until it has pruned).
fn meter_pair(card: &WalkThrough) -> Result<(Model, Model), JsValue> {
    let store = card.store.borrow();
    let slot = card.walk.borrow();
    let base = store.base()?;
    let shown = shown(&store, live(&slot, &store)).unwrap_or(base);
    Ok((base.clone(), shown.clone()))
}

/// The cost meter's three models: the one pruning started from, the walk-through's pruned one
/// (the dense kernel, zeros and all) and its compacted form (neurons with no incoming weights
/// removed), each costed against the first.
fn meter_variants(base: &Model, shown: &Model) -> Result<[Variant; 3], JsValue> {
    let base = base.mlp("the cost meter").map_err(js_error)?;
    let shown = shown.as_mlp().unwrap_or(base);
    let arch = base.architecture();
    let compacted = compaction::compact(shown).map_err(js_error)?.model;
    let variant = |name, description: &str, model: Mlp| -> Result<Variant, JsValue> {
        Ok(Variant {
            name,
            description: description.into(),
            kernel: Kernel::Dense,
            cost: Cost::compared_with(&model, &arch).map_err(js_error)?,
            model,
        })
    };
    Ok([
        variant("dense", "the model pruning started from", base.clone())?,
        variant("masked", "the pruned model, dense kernel", shown.clone())?,
        variant("compacted", "the pruned model compacted", compacted)?,
    ])
}

#[wasm_bindgen]
impl WalkThrough {
    /// The cost meter of the model on show in the walk-through (the pruned one after the
    /// threshold stage) against the model pruning started from.
    #[wasm_bindgen(js_name = costMeter)]
    pub fn cost_meter(&self) -> Result<JsValue, JsValue> {
        let (base, shown) = meter_pair(self)?;
        if base.as_vit().is_some() {
            return to_js(&vit_costs::meter(&base, &shown)?);
        }
        let [dense, pruned, compacted] = meter_variants(&base, &shown)?;
        to_js(&Meter {
            dense: dense.cost.total,
            pruned: pruned.cost.total,
            compacted_arch: compacted.cost.arch,
            compacted: compacted.cost.total,
        })
    }

    /// The cost meter's timing: the walk-through's pruned model through the dense kernel (zeros
    /// and all) against its compacted form (neurons with no incoming weights removed), and the
    /// dense model it came from, as `Practice.timeForward` times them. The ViT's three models
    /// (dense, masked, compacted) run on the CPU engine.
    #[wasm_bindgen(js_name = timeMeter)]
    pub fn time_meter(&self, batch: usize, reps: usize) -> js_sys::Promise {
        let pair = meter_pair(self);
        let store = Rc::clone(&self.store);
        if pair.as_ref().is_ok_and(|(base, _)| base.as_vit().is_some()) {
            let result = pair.and_then(|(base, shown)| {
                time_vit_meter(&store.borrow(), &base, &shown, batch, reps)
            });
            return future_to_promise(async move { result });
        }
        let variants = pair
            .and_then(|(base, shown)| meter_variants(&base, &shown))
            .map(Vec::from);
        time_variants(store, variants, |name| name, batch, reps)
    }
}

#[wasm_bindgen]
impl Practice {
    /// Times one forward pass over the first `batch` test images for every variant of the base
    /// model at `sparsity` (median of `reps`, after 2 untimed), on WebGPU when the page has it,
    /// else on the CPU engine. Every variant's outputs are checked against the CPU reference.
    #[wasm_bindgen(js_name = timeForward)]
    pub fn time_forward(&self, sparsity: f64, batch: usize, reps: usize) -> js_sys::Promise {
        let variants = self
            .store
            .borrow()
            .base_mlp("timing the forward pass")
            .and_then(|base| variants::build(base, sparsity).map_err(js_error));
        time_variants(Rc::clone(&self.store), variants, page_name, batch, reps)
    }
}

/// The ViT meter's timing: dense, pruned (masked) and compacted through the CPU engine, over
/// the first `batch` test images (at most [`MAX_VIT_TIMING_BATCH`]), median of `reps`.
fn time_vit_meter(
    store: &Shared,
    base: &Model,
    shown: &Model,
    batch: usize,
    reps: usize,
) -> Result<JsValue, JsValue> {
    let data = store.data()?;
    let most = MAX_VIT_TIMING_BATCH.min(data.test.len());
    let batch = batch.min(most);
    if batch == 0 {
        return Err(js_error(
            "no test images are loaded here to time the forward pass",
        ));
    }
    if !(1..=MAX_REPS).contains(&reps) {
        return Err(js_error(format!("reps {reps} is outside 1…{MAX_REPS}")));
    }
    let [dense, pruned, compacted] = vit_costs::meter_models(base, shown)?;
    let (x, _) = data.test.batch(0, batch);
    let models = [&dense, &pruned, &compacted];
    let ms = vit_costs::time_models(&models, x.view(), reps, &clock());
    let diff = vit_costs::max_abs_diff(&pruned, &compacted, x.view());
    let described = [
        ("dense", "the model pruning started from"),
        (
            "masked",
            "the pruned model: masked heads, gated blocks, same shapes",
        ),
        (
            "compacted",
            "the pruned model with its removed parts deleted",
        ),
    ];
    let variants = described
        .iter()
        .zip(models)
        .zip(ms)
        .map(|(((name, description), model), ms)| TimedVariant {
            name,
            description: (*description).into(),
            ms,
            flops: model.forward_flops(),
            bytes: 4 * model.param_count() as u64,
            max_abs_diff: if *name == "compacted" { diff } else { 0.0 },
        })
        .collect();
    to_js(&Timings {
        backend: "cpu",
        adapter: None,
        software: false,
        batch,
        reps,
        variants,
    })
}

/// Times `variants`, reporting each under `rename(its name)`.
fn time_variants(
    store: Rc<RefCell<Shared>>,
    variants: Result<Vec<Variant>, JsValue>,
    rename: fn(&'static str) -> &'static str,
    batch: usize,
    reps: usize,
) -> js_sys::Promise {
    future_to_promise(async move {
        let variants = variants?;
        let (x, gpu) = {
            let i = store.borrow();
            let data = i.data()?;
            let most = MAX_BATCH.min(data.test.len());
            if !(1..=most).contains(&batch) {
                return Err(js_error(format!("batch {batch} is outside 1…{most}")));
            }
            if !(1..=MAX_REPS).contains(&reps) {
                return Err(js_error(format!("reps {reps} is outside 1…{MAX_REPS}")));
            }
            let (x, _) = data.test.batch(0, batch);
            (x, i.gpu.clone())
        };
        let options = TimingOptions { reps, warmup: 2 };
        let timings = match &gpu {
            Some(ctx) => time_gpu(ctx, &variants, x.view(), &options, clock()).await,
            None => time_cpu(&variants, x.view(), &options, clock()),
        }
        .map_err(js_error)?;
        let timed = variants
            .iter()
            .filter_map(|v| {
                let t = timings.get(v.name)?;
                let total = &v.cost.total;
                let (flops, bytes) = match v.kernel {
                    Kernel::Dense => (total.dense_flops, total.bytes_dense),
                    Kernel::Csr => (total.sparse_flops, total.bytes_csr),
                    Kernel::TwoFour => (
                        total.sparse_flops,
                        total.bytes_2_4.unwrap_or(total.bytes_dense),
                    ),
                };
                Some(TimedVariant {
                    name: rename(v.name),
                    description: v.description.clone(),
                    ms: t.median_ms,
                    flops,
                    bytes,
                    max_abs_diff: t.max_abs_diff,
                })
            })
            .collect();
        to_js(&Timings {
            backend: if gpu.is_some() { "webgpu" } else { "cpu" },
            adapter: timings.adapter,
            software: timings.software,
            batch,
            reps,
            variants: timed,
        })
    })
}
