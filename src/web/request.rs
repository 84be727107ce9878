//! What the page asks of a pruning method (one request shape for the walk-through, Compare and
//! the practice questions), checked before any work starts, and how long the page heals a pruned
//! model.

use serde::Deserialize;
use wasm_bindgen::prelude::*;

use super::js_error;
use crate::data::Mnist;
use crate::model::{Model, ModelKind, ModelSpec, Network};
use crate::prune::{Method, NM, PruneOptions, Scope};
use crate::train::{Budget, TrainConfig};

/// What the page sends with each pruning step or sweep point (camelCase JSON).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct PruneRequest {
    method: String,
    sparsity: f64,
    /// "scores", "select", "apply" or "finetune"; absent for a sweep point.
    pub(super) stage: Option<String>,
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
pub(super) fn need_test(data: &Mnist) -> Result<(), JsValue> {
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

/// How the page fine-tunes a pruned `model` (the walk-through's fourth stage and Compare's
/// healing alike): the training defaults of its shape for [`finetune_steps`] steps, seed 0. The
/// Compare card's JSON download carries it, so a healed curve can be repeated.
pub(super) fn finetune_config(model: &Model) -> Result<TrainConfig, JsValue> {
    let spec: ModelSpec = model.spec().parse().map_err(js_error)?;
    Ok(TrainConfig::finetune(
        spec,
        Budget::Iters(finetune_steps(model.kind())),
        0,
    ))
}
