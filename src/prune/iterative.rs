//! Iterative magnitude pruning (IMP): several rounds of prune → fine-tune, each round pruning the
//! same fraction of the weights still there, so that n rounds reach the target sparsity s:
//! per-round amount = 1 − (1 − s)^(1/n).
//!
//! This relies on the `torch.nn.utils.prune` rule that a repeated application prunes a fraction
//! of the *remaining* weights (see [`super::selection`]). Han et al., "Learning both Weights and
//! Connections for Efficient Neural Networks", NeurIPS 2015; Frankle & Carbin, ICLR 2019.

use std::rc::Rc;

use serde::Serialize;

use super::{Method, PruneOptions, prune};
use crate::data::Mnist;
use crate::engine::{Backend, finetune};
use crate::error::{Error, Result};
use crate::model::{Model, Network};
use crate::train::{TrainConfig, evaluate};

/// The fraction to prune in each of `rounds` rounds to reach `target` overall.
pub fn per_round_amount(target: f64, rounds: u32) -> f64 {
    1.0 - (1.0 - target).powf(1.0 / f64::from(rounds.max(1)))
}

/// What one round did.
#[derive(Debug, Clone, Serialize)]
pub struct Round {
    pub round: u32,
    pub weights_remaining: f64,
    pub test_acc_pruned: f64,
    pub test_acc_finetuned: f64,
}

/// Runs `rounds` rounds of `method` (magnitude or global-magnitude) pruning on `model`, each
/// followed by fine-tuning on `backend` with `finetune` (its architecture and budget per round),
/// reporting each round to `on_round` as it ends.
#[allow(clippy::too_many_arguments)]
pub async fn iterative_magnitude(
    model: &mut Model,
    backend: &Backend,
    data: &Rc<Mnist>,
    method: Method,
    options: &PruneOptions,
    rounds: u32,
    tuning: &TrainConfig,
    mut on_round: impl FnMut(&Round),
) -> Result<Vec<Round>> {
    if !matches!(method, Method::Magnitude | Method::GlobalMagnitude) {
        return Err(Error::Config(format!(
            "iterative pruning uses magnitude or global-magnitude, not {}",
            method.name()
        )));
    }
    if rounds == 0 {
        return Err(Error::Config(
            "iterative pruning needs at least one round".into(),
        ));
    }
    let per_round = PruneOptions {
        sparsity: per_round_amount(options.sparsity, rounds),
        per_layer: options
            .per_layer
            .as_ref()
            .map(|a| a.iter().map(|&s| per_round_amount(s, rounds)).collect()),
        ..options.clone()
    };
    let mut reports = Vec::new();
    for round in 1..=rounds {
        prune(method, model, None, &per_round)?;
        let test_acc_pruned = evaluate(model, &data.test).accuracy;
        *model = finetune(backend, model, tuning, data).await?;
        let report = Round {
            round,
            weights_remaining: model.weights_remaining(),
            test_acc_pruned,
            test_acc_finetuned: evaluate(model, &data.test).accuracy,
        };
        on_round(&report);
        reports.push(report);
    }
    Ok(reports)
}
