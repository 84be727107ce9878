//! The pruning ladder: how much each round prunes, the weights remaining after every round
//! (known before any training, since only the counts are fixed in advance), and the next round's
//! masks from a trained ticket.
//!
//! Per-layer (Frankle & Carbin 2019, LeNet): 20% of each hidden layer's remaining weights and 10%
//! of the output layer's per round, so Pm(k) = (265,200·0.8^k + 1,000·0.9^k) / 266,200 for
//! LeNet-300-100 up to the rounding of counts. Global (open_lth's `sparse_global` with its LeNet
//! default of leaving the output layer alone): 20% of the remaining hidden weights, ranked
//! together. Counts follow `torch.nn.utils.prune`: round(amount × remaining), halves to even
//! (open_lth's own global code rounds up instead; the two differ by at most one weight a round).

use std::fmt;
use std::str::FromStr;

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::{Architecture, Mlp};
use crate::prune::selection::count_to_prune;
use crate::prune::{self, Method, PruneOptions};

/// Fraction of the remaining hidden-layer weights each round prunes (both strategies).
pub const PRUNE_FRACTION: f64 = 0.2;

/// The output layer's rate relative to [`PRUNE_FRACTION`] under the per-layer strategy: 10%, as
/// the lottery-ticket paper prunes LeNet's output layer at half the rate of the others.
pub const PER_LAYER_OUTPUT_RATE: f64 = 0.5;

/// How a round chooses which weights go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Each layer ranked on its own: 20% of each hidden layer, 10% of the output layer.
    #[default]
    PerLayer,
    /// The hidden layers ranked together by |w|, 20% a round; the output layer is kept whole.
    Global,
}

impl Strategy {
    pub fn name(self) -> &'static str {
        match self {
            Strategy::PerLayer => "per-layer",
            Strategy::Global => "global",
        }
    }

    fn method(self) -> Method {
        match self {
            Strategy::PerLayer => Method::Magnitude,
            Strategy::Global => Method::GlobalMagnitude,
        }
    }

    /// One round's pruning, in the terms of [`crate::prune`].
    pub fn prune_options(self) -> PruneOptions {
        PruneOptions {
            sparsity: PRUNE_FRACTION,
            output_rate: match self {
                Strategy::PerLayer => PER_LAYER_OUTPUT_RATE,
                Strategy::Global => 0.0,
            },
            ..PruneOptions::default()
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Strategy {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "per-layer" => Ok(Strategy::PerLayer),
            "global" => Ok(Strategy::Global),
            other => Err(Error::Config(format!(
                "unknown pruning strategy {other:?} (use per-layer or global)"
            ))),
        }
    }
}

/// Weights remaining after `round` rounds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rung {
    pub round: u32,
    /// Weights kept, all layers together.
    pub kept: usize,
    /// `kept` as a percentage of all weights (Pm in the paper).
    pub weights_remaining: f64,
    /// Weights kept in each layer; `None` for the global strategy, whose split between the hidden
    /// layers depends on the trained weights.
    pub per_layer: Option<Vec<usize>>,
}

/// The weights remaining after each of rounds 0 (dense) to `rounds`, exactly as the pruning code
/// will count them.
pub fn ladder(arch: &Architecture, strategy: Strategy, rounds: u32) -> Vec<Rung> {
    let options = strategy.prune_options();
    let sizes: Vec<usize> = arch.widths().windows(2).map(|w| w[0] * w[1]).collect();
    let total: usize = sizes.iter().sum();
    let layers = sizes.len();
    let last = layers - 1;
    let mut kept = sizes.clone();
    let mut rungs = Vec::with_capacity(rounds as usize + 1);
    for round in 0..=rounds {
        let sum: usize = kept.iter().sum();
        rungs.push(Rung {
            round,
            kept: sum,
            weights_remaining: 100.0 * sum as f64 / total as f64,
            per_layer: (strategy == Strategy::PerLayer).then(|| kept.clone()),
        });
        match strategy {
            Strategy::PerLayer => {
                for (i, k) in kept.iter_mut().enumerate() {
                    *k -= count_to_prune(options.layer_amount(i, layers), *k);
                }
            }
            Strategy::Global if last > 0 => {
                // Only the total of the hidden layers is known; keep it in the first slot.
                let hidden: usize = kept[..last].iter().sum();
                let next = hidden - count_to_prune(options.sparsity, hidden);
                kept[..last].fill(0);
                kept[0] = next;
            }
            // No hidden layer: global pruning has nothing to rank.
            Strategy::Global => {}
        }
    }
    rungs
}

/// The rung whose weights remaining is closest to `percent` among rounds 0 to `max_rounds`.
pub fn closest_rung(
    arch: &Architecture,
    strategy: Strategy,
    percent: f64,
    max_rounds: u32,
) -> Rung {
    let mut rungs = ladder(arch, strategy, max_rounds);
    let best = (0..rungs.len())
        .min_by(|&a, &b| {
            let da = (rungs[a].weights_remaining - percent).abs();
            let db = (rungs[b].weights_remaining - percent).abs();
            da.total_cmp(&db)
        })
        .unwrap_or(0);
    rungs.swap_remove(best)
}

/// The next round's masks: `strategy`'s magnitude pruning of a trained ticket (its current masks
/// are kept: what was pruned stays pruned).
pub fn next_masks(trained: &Mlp, strategy: Strategy) -> Result<Vec<Array2<f32>>> {
    let options = strategy.prune_options();
    let scores = prune::scores(strategy.method(), trained, None, &options)?;
    Ok(prune::select(strategy.method(), trained, &scores, None, &options)?.masks)
}
