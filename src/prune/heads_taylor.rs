//! Head importance by the gradient of its gate, after Michel, Levy & Neubig, "Are Sixteen Heads
//! Really Better than One?", NeurIPS 2019: each head's output is multiplied by a gate ξ_h held at
//! 1, and I_h = the mean over calibration images x of |∂L_x/∂ξ_h|, the first-order change in
//! image x's loss if the head were removed. As they do, each block's scores are divided by their
//! ℓ2 norm, so blocks whose gradients run larger do not lose all their heads first.

use ndarray::{Array1, Axis, s};

use super::calibration::Calibration;
use super::heads::BATCH;
use crate::model::Blocks;

pub fn scores(model: &dyn Blocks, calibration: &Calibration) -> Vec<Array1<f32>> {
    let n = calibration.x.nrows();
    let mut sums: Vec<Array1<f32>> = model
        .heads_per_block()
        .iter()
        .map(|&h| Array1::zeros(h))
        .collect();
    for start in (0..n).step_by(BATCH) {
        let end = (start + BATCH).min(n);
        let x = calibration.x.slice(s![start..end, ..]);
        let g = model.gate_gradients(x, &calibration.y[start..end]);
        for (sum, per_image) in sums.iter_mut().zip(&g.head_per_image) {
            *sum += &per_image.mapv(f32::abs).sum_axis(Axis(0));
        }
    }
    sums.into_iter()
        .map(|s| {
            let mean = s / n.max(1) as f32;
            let norm = mean.iter().map(|v| v * v).sum::<f32>().sqrt();
            if norm > 0.0 { mean / norm } else { mean }
        })
        .collect()
}
