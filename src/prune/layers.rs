//! Layer (block) pruning: shared by the five block methods (`layers-bi`, `layers-angular`,
//! `layers-last`, `layers-ablation`, `layers-taylor`).
//!
//! `--remove N` drops N whole blocks; a dropped block passes its input through (its branches'
//! gate is held at 0 and its `attn.proj` and `mlp.fc2` are zeroed, so a timm model loading the
//! file computes the same). Every method but `layers-angular` scores each block (lower means
//! more redundant) and removes the N lowest among the blocks still there, ties to the lower
//! index; `layers-angular` removes the N contiguous blocks across which the representation
//! changes least.

use ndarray::Array1;

use super::calibration::Calibration;
use super::heads::blocks_of;
use super::{Method, PruneOptions};
use crate::error::{Error, Result};
use crate::model::Network;

pub fn validate(model: &impl Network, method: Method, options: &PruneOptions) -> Result<()> {
    let blocks = blocks_of(model, method)?;
    let depth = blocks.depth();
    let left = blocks.removed_blocks().iter().filter(|&&r| !r).count();
    let n = options.remove;
    if n == 0 {
        return Err(Error::Config(format!(
            "{} needs --remove N, the number of blocks to drop (1 to {})",
            method.name(),
            depth.saturating_sub(1)
        )));
    }
    if n >= depth {
        return Err(Error::Config(format!(
            "--remove {n} is at least the depth ({depth}): at most {} of the {depth} blocks can go",
            depth - 1
        )));
    }
    if n >= left {
        return Err(Error::Config(format!(
            "--remove {n}: only {left} of the {depth} blocks are left, and one must stay"
        )));
    }
    Ok(())
}

/// Stage 1: one score per block (lower goes first). For `layers-angular`, entry ℓ is instead
/// the angular distance across the N blocks from ℓ (`depth − N + 1` entries).
pub fn scores(
    method: Method,
    model: &impl Network,
    calibration: Option<&Calibration>,
    options: &PruneOptions,
) -> Result<Array1<f32>> {
    validate(model, method, options)?;
    let blocks = blocks_of(model, method)?;
    let need = || super::calibration_for(method, calibration);
    Ok(match method {
        Method::LayersBi => super::layers_bi::scores(blocks, need()?),
        Method::LayersAngular => super::layers_angular::distances(blocks, need()?, options.remove),
        Method::LayersLast => super::layers_last::scores(blocks),
        Method::LayersAblation => super::layers_ablation::scores(blocks, need()?),
        Method::LayersTaylor => super::layers_taylor::scores(blocks, need()?),
        m => {
            return Err(Error::Config(format!("{} is not a layer method", m.name())));
        }
    })
}

/// Stage 2: which blocks are removed once the method has chosen (those removed before stay so).
pub fn select(
    method: Method,
    model: &impl Network,
    scores: &Array1<f32>,
    options: &PruneOptions,
) -> Result<Vec<bool>> {
    validate(model, method, options)?;
    let mut removed = blocks_of(model, method)?.removed_blocks();
    let n = options.remove;
    if method == Method::LayersAngular {
        let start = super::layers_angular::best_start(scores, &removed, n);
        for r in &mut removed[start..start + n] {
            *r = true;
        }
        return Ok(removed);
    }
    let mut order: Vec<usize> = (0..removed.len()).filter(|&b| !removed[b]).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]).then(a.cmp(&b)));
    for &b in order.iter().take(n) {
        removed[b] = true;
    }
    Ok(removed)
}
