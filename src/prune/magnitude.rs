//! Per-layer L1 unstructured magnitude pruning: score |w|, and in each layer the given fraction of
//! the still-unpruned weights with the smallest scores goes.
//!
//! Same as `torch.nn.utils.prune.l1_unstructured(module, "weight", amount)` applied to each layer,
//! including that a second application prunes `amount` of the weights the first one left.
//! Han et al., "Learning both Weights and Connections for Efficient Neural Networks", NeurIPS 2015.

use ndarray::Array2;

use crate::model::Network;

/// |w| for every weight of every layer.
pub fn scores(model: &impl Network) -> Vec<Array2<f32>> {
    model
        .linears()
        .iter()
        .map(|l| l.weight.mapv(f32::abs))
        .collect()
}
