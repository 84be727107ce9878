//! Attention-head pruning: shared by the four head methods (`heads-taylor`, `heads-magnitude`,
//! `heads-ablation`, `heads-random`), which differ only in their scores.
//!
//! `--sparsity s` is the fraction of the heads the model still has that go, counted as
//! `torch.nn.utils.prune` counts weights: round(s × H), halves to even. Heads are ranked lowest
//! score first, ties to the lower (block, head) index, either across the whole model (global, as
//! Michel et al. 2019 prune) or within each block (per block). With `--rounds R` the target is
//! reached as iterative magnitude pruning reaches its own: each round removes 1 − (1 − s)^(1/R)
//! of the heads still there, with the scores recomputed on the model as pruned so far, and the
//! last round makes the total exactly round(s × H). No fine-tuning happens between rounds.
//!
//! Removing a head sets its `head_mask` entry to 0, which also zeroes its `attn.proj` input
//! columns; a block may lose all its heads, and its attention branch then adds only `proj`'s
//! bias, as the compacted model computes.

use ndarray::Array1;
use serde::Serialize;

use super::calibration::Calibration;
use super::selection::count_to_prune;
use super::{Method, PruneOptions};
use crate::error::{Error, Result};
use crate::model::{Blocks, Network};

/// Where heads compete for removal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    /// All heads of the model ranked together.
    #[default]
    Global,
    /// The same fraction of each block's heads.
    PerBlock,
}

impl Scope {
    pub fn name(self) -> &'static str {
        match self {
            Scope::Global => "global",
            Scope::PerBlock => "per-block",
        }
    }

    pub fn from_name(name: &str) -> Result<Self> {
        match name {
            "global" => Ok(Scope::Global),
            "per-block" => Ok(Scope::PerBlock),
            _ => Err(Error::Config(format!(
                "unknown scope {name:?}; the scopes are global and per-block"
            ))),
        }
    }
}

/// Calibration images per gradient or loss batch.
pub(super) const BATCH: usize = 64;

/// The model's blocks, or the error a head or layer method gives on a model without them.
pub fn blocks_of(model: &impl Network, method: Method) -> Result<&dyn Blocks> {
    model.blocks().ok_or_else(|| {
        Error::Config(format!(
            "{} prunes {} of a transformer; this {} has none (use {})",
            method.name(),
            if method.is_layer() {
                "whole blocks"
            } else {
                "attention heads"
            },
            model.kind().name(),
            Method::all_for(model.kind())
                .iter()
                .map(|m| m.name())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })
}

/// Heads still kept in each block.
fn alive(masks: &[Array1<f32>]) -> Vec<usize> {
    masks
        .iter()
        .map(|m| m.iter().filter(|&&v| v != 0.0).count())
        .collect()
}

/// How many heads `s` removes from heads `alive` (per block): one count for the model (global)
/// or one per block.
pub fn counts(scope: Scope, s: f64, alive: &[usize]) -> Vec<usize> {
    match scope {
        Scope::Global => vec![count_to_prune(s, alive.iter().sum())],
        Scope::PerBlock => alive.iter().map(|&h| count_to_prune(s, h)).collect(),
    }
}

/// Checks that `options` removes at least one head of `model`.
pub fn validate(model: &impl Network, method: Method, options: &PruneOptions) -> Result<()> {
    let blocks = blocks_of(model, method)?;
    let s = options.sparsity;
    if !(0.0..=1.0).contains(&s) {
        return Err(Error::Config(format!(
            "--sparsity {s} is outside [0, 1]: it is the fraction of the heads to remove"
        )));
    }
    if options.rounds == 0 {
        return Err(Error::Config("--rounds must be at least 1".into()));
    }
    let alive = alive(&blocks.head_masks());
    let total: usize = alive.iter().sum();
    let removed: usize = counts(options.scope, s, &alive).iter().sum();
    if removed == 0 {
        // round(s × n) is 0 up to s × n = 0.5 (halves go to even).
        let (n, where_) = match options.scope {
            Scope::Global => (total, ""),
            Scope::PerBlock => (alive.iter().copied().max().unwrap_or(0), " in any block"),
        };
        return Err(Error::Config(if n == 0 {
            "no head is left to remove".to_owned()
        } else {
            format!(
                "--sparsity {s} removes no head{where_}: round({s} × {n}) = 0; it must be above \
                 0.5 / {n} = {:.4}",
                0.5 / n as f64
            )
        }));
    }
    Ok(())
}

/// Stage 1: each head's importance (higher is kept), per block, on the model as it is. Masked
/// heads score 0 and are never selected again.
pub fn scores(
    method: Method,
    model: &impl Network,
    calibration: Option<&Calibration>,
    options: &PruneOptions,
) -> Result<Vec<Array1<f32>>> {
    let blocks = blocks_of(model, method)?;
    let need = || super::calibration_for(method, calibration);
    let mut s = match method {
        Method::HeadsTaylor => super::heads_taylor::scores(blocks, need()?),
        Method::HeadsMagnitude => super::heads_magnitude::scores(model, blocks),
        Method::HeadsAblation => super::heads_ablation::scores(blocks, need()?),
        Method::HeadsRandom => super::heads_random::scores(blocks, options.seed),
        m => {
            return Err(Error::Config(format!("{} is not a head method", m.name())));
        }
    };
    for (s, m) in s.iter_mut().zip(blocks.head_masks()) {
        s.zip_mut_with(&m, |v, &k| {
            if k == 0.0 {
                *v = 0.0;
            }
        });
    }
    Ok(s)
}

/// Marks the `k` lowest-scoring kept heads among `candidates` (block, head) as removed.
fn remove_lowest(
    scores: &[Array1<f32>],
    masks: &mut [Array1<f32>],
    candidates: Vec<(usize, usize)>,
    k: usize,
) {
    let mut order = candidates;
    order.sort_by(|&(ab, ah), &(bb, bh)| {
        scores[ab][ah]
            .total_cmp(&scores[bb][bh])
            .then((ab, ah).cmp(&(bb, bh)))
    });
    for &(b, h) in order.iter().take(k) {
        masks[b][h] = 0.0;
    }
}

/// The kept heads of `masks`, as (block, head), in index order; of block `only` if given.
fn kept(masks: &[Array1<f32>], only: Option<usize>) -> Vec<(usize, usize)> {
    masks
        .iter()
        .enumerate()
        .filter(|(b, _)| only.is_none_or(|o| o == *b))
        .flat_map(|(b, m)| {
            m.iter()
                .enumerate()
                .filter(|(_, v)| **v != 0.0)
                .map(move |(h, _)| (b, h))
        })
        .collect()
}

/// One round's removals from the first-round `scores` and the masks so far.
fn round(scope: Scope, scores: &[Array1<f32>], masks: &mut [Array1<f32>], counts: &[usize]) {
    match scope {
        Scope::Global => remove_lowest(scores, masks, kept(masks, None), counts[0]),
        Scope::PerBlock => {
            for (b, &k) in counts.iter().enumerate() {
                remove_lowest(scores, masks, kept(masks, Some(b)), k);
            }
        }
    }
}

/// Stage 2: the head masks after every round. `first` is stage 1's scores, used by round 1;
/// later rounds rescore a copy of the model with the masks chosen so far.
pub fn select(
    method: Method,
    model: &impl Network,
    first: &[Array1<f32>],
    calibration: Option<&Calibration>,
    options: &PruneOptions,
) -> Result<Vec<Array1<f32>>> {
    validate(model, method, options)?;
    let blocks = blocks_of(model, method)?;
    let mut masks = blocks.head_masks();
    let start = alive(&masks);
    let target = counts(options.scope, options.sparsity, &start);
    let rounds = options.rounds.max(1);
    let per_round = super::iterative::per_round_amount(options.sparsity, rounds as u32);
    let mut done = vec![0usize; target.len()];
    let mut working = model.clone();
    let mut scores = first.to_vec();
    for r in 1..=rounds {
        let now = alive(&masks);
        let want: Vec<usize> = if r == rounds {
            target.iter().zip(&done).map(|(t, d)| t - d).collect()
        } else {
            counts(options.scope, per_round, &now)
                .iter()
                .zip(target.iter().zip(&done))
                .map(|(&k, (&t, &d))| k.min(t - d))
                .collect()
        };
        if r > 1 {
            working
                .blocks_mut()
                .ok_or_else(|| Error::Config("the model lost its blocks".into()))?
                .set_head_masks(&masks)?;
            scores = self::scores(method, &working, calibration, options)?;
        }
        round(options.scope, &scores, &mut masks, &want);
        for (d, w) in done.iter_mut().zip(&want) {
            *d += w;
        }
    }
    Ok(masks)
}

/// Heads left in each block after `masks`.
pub fn heads_per_block(masks: &[Array1<f32>]) -> Vec<usize> {
    alive(masks)
}
