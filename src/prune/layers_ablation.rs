//! Block importance by ablation: the increase in mean calibration loss when that block alone is
//! removed (its gate γ set to 0, so it passes its input through).

use ndarray::Array1;

use super::calibration::Calibration;
use super::heads_ablation::loss;
use crate::model::Blocks;

pub fn scores(model: &dyn Blocks, calibration: &Calibration) -> Array1<f32> {
    let ones = model.unit_gates();
    let base = loss(model, calibration, &ones);
    let removed = model.removed_blocks();
    Array1::from_shape_fn(model.depth(), |l| {
        if removed[l] {
            return 0.0;
        }
        let mut gates = ones.clone();
        gates.block[l] = 0.0;
        (loss(model, calibration, &gates) - base) as f32
    })
}
