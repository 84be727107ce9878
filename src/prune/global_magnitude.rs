//! Global magnitude pruning: score |w|, all prunable layers ranked together, so layers with many
//! small weights (LeNet's first layer) lose more than layers with few large ones.
//!
//! Same as `torch.nn.utils.prune.global_unstructured(params, L1Unstructured, amount)`. Whether the
//! output layer joins the ranking is the output rate's business: rate 1 ranks it with the others,
//! rate 0 leaves it out (open_lth's `sparse_global`), a rate in between prunes it on its own at
//! `rate × sparsity`.

use ndarray::Array2;

use super::selection::{prune_lowest, prune_lowest_jointly};
use crate::model::Network;

/// New masks for `model`: hidden layers (and the output layer when `output_rate` is 1) ranked
/// jointly by |w|.
pub fn select(model: &impl Network, sparsity: f64, output_rate: f64) -> Vec<Array2<f32>> {
    let layers = model.linears();
    let last = layers.len() - 1;
    let joint = if output_rate >= 1.0 {
        layers.len()
    } else {
        last
    };
    let scores: Vec<Array2<f32>> = layers.iter().map(|l| l.weight.mapv(f32::abs)).collect();
    let score_views: Vec<_> = scores[..joint].iter().map(|s| s.view()).collect();
    let mask_views: Vec<_> = layers[..joint].iter().map(|l| l.mask.view()).collect();
    let mut masks = prune_lowest_jointly(&score_views, &mask_views, sparsity);
    if joint == last {
        let out = &layers[last];
        masks.push(prune_lowest(
            scores[last].view(),
            out.mask.view(),
            sparsity * output_rate,
        ));
    }
    masks
}
