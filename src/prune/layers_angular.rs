//! The angular-distance rule of Gromov et al., "The Unreasonable Ineffectiveness of the Deeper
//! Layers", 2024: for a window of N blocks starting at ℓ, d(ℓ, N) = the mean over calibration
//! images of arccos(cos(x_ℓ, x_ℓ+N)) / π, where x is the representation the classifier reads (here
//! the residual stream averaged over the tokens, as the ViT pools it). The window with the
//! smallest distance changes the representation least, and all N of its blocks go.

use ndarray::{Array1, Array2, Axis, s};

use super::calibration::Calibration;
use super::heads::BATCH;
use super::layers_bi::cosine;
use crate::model::Blocks;

/// d(ℓ, N) for every start ℓ in 0..=depth − N.
pub fn distances(model: &dyn Blocks, calibration: &Calibration, n_blocks: usize) -> Array1<f32> {
    let depth = model.depth();
    let windows = depth + 1 - n_blocks.min(depth);
    let mut sums = vec![0.0f64; windows];
    let n = calibration.x.nrows();
    let tokens = model.tokens();
    for start in (0..n).step_by(BATCH) {
        let end = (start + BATCH).min(n);
        let pooled: Vec<Array2<f32>> = model
            .residual_streams(calibration.x.slice(s![start..end, ..]))
            .into_iter()
            .map(|h| {
                let dim = h.ncols();
                h.into_shape_with_order((end - start, tokens, dim))
                    .unwrap_or_else(|_| unreachable!("the stream has tokens rows per image"))
                    .mean_axis(Axis(1))
                    .unwrap_or_else(|| unreachable!("tokens > 0"))
            })
            .collect();
        for (l, sum) in sums.iter_mut().enumerate() {
            for (a, b) in pooled[l]
                .rows()
                .into_iter()
                .zip(pooled[l + n_blocks].rows())
            {
                *sum += cosine(a, b).acos() / std::f64::consts::PI;
            }
        }
    }
    Array1::from_iter(sums.iter().map(|s| (s / n.max(1) as f64) as f32))
}

/// The start of the window to remove: the smallest distance among windows of blocks not yet
/// removed, ties to the shallower window. Falls back to any window if none is free.
pub fn best_start(distances: &Array1<f32>, removed: &[bool], n_blocks: usize) -> usize {
    let free = |l: usize| removed[l..l + n_blocks].iter().all(|&r| !r);
    let mut starts: Vec<usize> = (0..distances.len()).filter(|&l| free(l)).collect();
    if starts.is_empty() {
        starts = (0..distances.len()).collect();
    }
    starts
        .into_iter()
        .min_by(|&a, &b| distances[a].total_cmp(&distances[b]).then(a.cmp(&b)))
        .unwrap_or(0)
}
