//! Wanda (Pruning by Weights and activations): S_ij = |W_ij| · ‖X_j‖₂, where ‖X_j‖₂ is the norm of
//! input j over the calibration samples, compared within each output row i. No weight update.
//! Layers are pruned in order, each calibrated on the outputs of the already-pruned layers before
//! it. Sun et al., "A Simple and Effective Pruning Approach for Large Language Models", ICLR 2024.
//!
//! On MNIST the always-black border pixels have ‖X_j‖ = 0, so their weights score 0 and go first
//! (ties broken by position, see [`super::selection`]).

use ndarray::{Array1, Array2, Axis};

/// ‖X_j‖₂ over the rows of `inputs` ([samples, in]).
pub fn input_norms(inputs: &Array2<f32>) -> Array1<f32> {
    inputs.map_axis(Axis(0), |c| c.iter().map(|v| v * v).sum::<f32>().sqrt())
}

/// |W_ij| · ‖X_j‖₂ for one layer.
pub fn layer_scores(weight: &Array2<f32>, norms: &Array1<f32>) -> Array2<f32> {
    let mut s = weight.mapv(f32::abs);
    s *= norms;
    s
}
