//! Block importance by the gradient of its gate: both residual branches of block ℓ are scaled by
//! γ_ℓ, held at 1, and the score is the mean over calibration images x of |∂L_x/∂γ_ℓ|, the
//! first-order change in image x's loss if the block were dropped (γ = 0). The absolute value is
//! taken per image, as for heads (Michel et al. 2019): the gradient of the mean loss sums signed
//! terms that cancel near a minimum.

use ndarray::{Array1, Axis, s};

use super::calibration::Calibration;
use super::heads::BATCH;
use crate::model::Blocks;

pub fn scores(model: &dyn Blocks, calibration: &Calibration) -> Array1<f32> {
    let n = calibration.x.nrows();
    let mut sum = Array1::<f32>::zeros(model.depth());
    for start in (0..n).step_by(BATCH) {
        let end = (start + BATCH).min(n);
        let x = calibration.x.slice(s![start..end, ..]);
        let g = model.gate_gradients(x, &calibration.y[start..end]);
        sum += &g.block_per_image.mapv(f32::abs).sum_axis(Axis(0));
    }
    sum / n.max(1) as f32
}
