//! Head importance by ablation: the increase in mean calibration loss when that head alone is
//! removed (its gate set to 0), everything else as it is. Exact where the Taylor score is a
//! first-order estimate, at one forward pass over the calibration set per head; Michel et al.
//! 2019 measure heads this way before they approximate it with gradients.

use ndarray::{Array1, s};

use super::calibration::Calibration;
use super::heads::BATCH;
use crate::model::Blocks;
use crate::model::vit::Gates;

/// Mean loss over the calibration set with `gates`.
pub(super) fn loss(model: &dyn Blocks, calibration: &Calibration, gates: &Gates) -> f64 {
    let n = calibration.x.nrows();
    let mut total = 0.0f64;
    for start in (0..n).step_by(BATCH) {
        let end = (start + BATCH).min(n);
        let x = calibration.x.slice(s![start..end, ..]);
        let l = model.loss_with_gates(x, &calibration.y[start..end], gates);
        total += f64::from(l) * (end - start) as f64;
    }
    total / n.max(1) as f64
}

pub fn scores(model: &dyn Blocks, calibration: &Calibration) -> Vec<Array1<f32>> {
    let ones = model.unit_gates();
    let base = loss(model, calibration, &ones);
    let masks = model.head_masks();
    model
        .heads_per_block()
        .iter()
        .enumerate()
        .map(|(b, &heads)| {
            Array1::from_shape_fn(heads, |h| {
                if masks[b][h] == 0.0 {
                    return 0.0;
                }
                let mut gates = ones.clone();
                gates.head[b][h] = 0.0;
                (loss(model, calibration, &gates) - base) as f32
            })
        })
        .collect()
}
