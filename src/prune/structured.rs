//! Structured pruning of whole neurons by the Ln norm of their incoming weights, n = 1 or 2:
//! score ‖W[j, :]‖ₙ, and in each hidden layer the given fraction of the remaining neurons with the
//! smallest norms loses all its incoming weights. Output units (classes) are never removed.
//!
//! Same as `torch.nn.utils.prune.ln_structured(module, "weight", amount, n, dim=0)` on the hidden
//! layers. Masking a row leaves a neuron whose output is the constant ReLU(bias);
//! [`super::compaction`] then deletes such neurons for a smaller dense model with the same outputs.
//! Li et al., "Pruning Filters for Efficient ConvNets", ICLR 2017.

use ndarray::{Array1, Array2, Axis};

use super::selection::count_to_prune;
use crate::model::Network;

/// ‖W[j, :]‖ₙ of every neuron of every layer (masked weights are already 0).
pub fn neuron_norms(model: &impl Network, n: u8) -> Vec<Array1<f32>> {
    model
        .linears()
        .iter()
        .map(|l| match n {
            1 => l
                .weight
                .map_axis(Axis(1), |r| r.iter().map(|w| w.abs()).sum()),
            _ => l
                .weight
                .map_axis(Axis(1), |r| r.iter().map(|w| w * w).sum::<f32>().sqrt()),
        })
        .collect()
}

/// Masks that remove `fraction` of each group's remaining units, lowest score first (ties by
/// index); the output layer keeps its mask. For a [`UnitGroup`] marked `whole` (a ViT block's
/// MLP) the unit's consumer column is masked too and its bias zeroed, and the new biases are
/// returned beside the masks; otherwise the biases stay and the second value is `None`.
pub fn select(
    model: &impl Network,
    neuron_scores: &[Array1<f32>],
    fraction: f64,
) -> (Vec<Array2<f32>>, Option<Vec<Array1<f32>>>) {
    let layers = model.linears();
    let mut masks: Vec<Array2<f32>> = layers.iter().map(|l| l.mask.clone()).collect();
    let mut biases: Vec<Array1<f32>> = layers.iter().map(|l| l.bias.clone()).collect();
    let groups = model.unit_groups();
    for g in &groups {
        let (layer, scores) = (&layers[g.producer], &neuron_scores[g.producer]);
        let alive: Vec<usize> = (0..layer.outputs())
            .filter(|&j| layer.mask.row(j).iter().any(|&m| m != 0.0))
            .collect();
        let k = count_to_prune(fraction, alive.len());
        let mut order = alive;
        order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]).then(a.cmp(&b)));
        for &j in &order[..k] {
            masks[g.producer].row_mut(j).fill(0.0);
            if g.whole {
                biases[g.producer][j] = 0.0;
                masks[g.consumer].column_mut(j).fill(0.0);
            }
        }
    }
    let whole = groups.iter().any(|g| g.whole);
    (masks, whole.then_some(biases))
}
