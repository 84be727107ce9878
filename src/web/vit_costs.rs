//! The cost meter on the ViT: parameters, forward FLOPs and measured forward time of the model
//! pruning started from, the walk-through's pruned model (heads masked, blocks gated off, units
//! masked: the same shapes) and its compacted form (`vit_compaction::compact`: those deleted).
//!
//! Timing runs the CPU engine in wasm (the GPU's timed forward passes are written for MLPs) over
//! the first test images, rounds alternating between the three models so a slow moment hits all
//! alike.

use serde::Serialize;

use super::js_error;
use crate::model::{Model, Network, Vit};
use crate::prune::vit_compaction;
use wasm_bindgen::JsValue;

/// Most test images one ViT forward pass is timed over: a ViT image costs about as much as 16
/// LeNet images in wasm, and 256 keep the meter's timing to a few seconds.
pub(super) const MAX_VIT_TIMING_BATCH: usize = 256;

/// One model's row of the ViT meter.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct VitCounts {
    shape: String,
    parameters: usize,
    /// Dense forward FLOPs per image: what the kernels multiply, masked entries included.
    forward_flops: u64,
    heads: usize,
    blocks: usize,
    mlp_units: usize,
}

impl VitCounts {
    /// Heads, blocks and MLP units the model computes with: masked or removed ones are left
    /// out, so the pruned and the compacted model agree.
    fn of(vit: &Vit) -> Self {
        let kept_blocks: Vec<usize> = (0..vit.depth())
            .filter(|&b| !vit.removed_blocks()[b])
            .collect();
        let units = kept_blocks
            .iter()
            .map(|&b| {
                let fc1 = &vit.linears()[Vit::fc1(b)];
                (0..fc1.outputs())
                    .filter(|&j| fc1.mask.row(j).iter().any(|&m| m != 0.0))
                    .count()
            })
            .sum();
        let heads = kept_blocks
            .iter()
            .map(|&b| vit.head_mask(b).iter().filter(|&&m| m != 0.0).count())
            .sum();
        Self {
            shape: vit.shape_summary(),
            parameters: vit.param_count(),
            forward_flops: vit.forward_flops(),
            heads,
            blocks: kept_blocks.len(),
            mlp_units: units,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct VitMeter {
    kind: &'static str,
    dense: VitCounts,
    pruned: VitCounts,
    compacted: VitCounts,
}

/// The three models the ViT meter compares: dense, pruned (masked), compacted.
/// `base` is the model pruning started from, `shown` the walk-through's model on show.
pub(super) fn meter_models(base: &Model, shown: &Model) -> Result<[Vit; 3], JsValue> {
    let base = base
        .as_vit()
        .ok_or_else(|| js_error("the ViT cost meter needs the ViT"))?;
    let shown = shown.as_vit().unwrap_or(base);
    let compacted = vit_compaction::compact(shown).map_err(js_error)?.model;
    Ok([base.clone(), shown.clone(), compacted])
}

pub(super) fn meter(base: &Model, shown: &Model) -> Result<VitMeter, JsValue> {
    let [dense, pruned, compacted] = meter_models(base, shown)?;
    Ok(VitMeter {
        kind: "vit",
        dense: VitCounts::of(&dense),
        pruned: VitCounts::of(&pruned),
        compacted: VitCounts::of(&compacted),
    })
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Median forward milliseconds of each model over `x`, after one untimed pass each.
pub(super) fn time_models(
    models: &[&Vit],
    x: ndarray::ArrayView2<f32>,
    reps: usize,
    clock: &impl Fn() -> f64,
) -> Vec<f64> {
    for m in models {
        std::hint::black_box(m.logits(x));
    }
    let mut times = vec![Vec::with_capacity(reps); models.len()];
    for _ in 0..reps.max(1) {
        for (m, t) in models.iter().zip(&mut times) {
            let start = clock();
            let out = m.logits(x);
            t.push(clock() - start);
            // Keep the result alive, so the pass cannot be optimised away.
            std::hint::black_box(out);
        }
    }
    times.into_iter().map(median).collect()
}

/// Largest |logit difference| between two models over `x`: compaction must not change outputs.
pub(super) fn max_abs_diff(a: &Vit, b: &Vit, x: ndarray::ArrayView2<f32>) -> f32 {
    let (a, b) = (a.logits(x), b.logits(x));
    a.iter()
        .zip(b.iter())
        .map(|(p, q)| (p - q).abs())
        .fold(0.0, f32::max)
}
