//! Gradient (first-order Taylor) importance: removing weight w changes the loss by about
//! |w · ∂L/∂w|. Weight level: that product's magnitude, summed over calibration batches. Neuron
//! level: the weight-level scores summed over a neuron's incoming weights.
//! Molchanov et al., "Importance Estimation for Neural Network Pruning", CVPR 2019.

use ndarray::{Array1, Array2, Axis, Zip};

use super::calibration::Calibration;
use crate::model::Network;

/// Calibration samples per gradient batch.
const BATCH: usize = 32;

/// Σ_batches |w · ∂L/∂w| for every weight.
pub fn weight_scores(model: &impl Network, calibration: &Calibration) -> Vec<Array2<f32>> {
    let mut scores: Vec<Array2<f32>> = model
        .linears()
        .iter()
        .map(|l| Array2::zeros(l.weight.dim()))
        .collect();
    let n = calibration.x.nrows();
    for start in (0..n).step_by(BATCH) {
        let end = (start + BATCH).min(n);
        let x = calibration.x.slice(ndarray::s![start..end, ..]);
        let (_, _, grads) = model.loss_and_gradients(x, &calibration.y[start..end]);
        for ((s, layer), g) in scores.iter_mut().zip(model.linears()).zip(&grads.weight) {
            Zip::from(s)
                .and(&layer.weight)
                .and(g)
                .for_each(|s, &w, &g| *s += (w * g).abs());
        }
    }
    scores
}

/// Neuron-level scores: the weight-level scores of each neuron's incoming weights, summed.
pub fn neuron_scores(model: &impl Network, calibration: &Calibration) -> Vec<Array1<f32>> {
    weight_scores(model, calibration)
        .iter()
        .map(|s| s.sum_axis(Axis(1)))
        .collect()
}
