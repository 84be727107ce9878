//! Block Influence, from ShortGPT (Men et al., "ShortGPT: Layers in Large Language Models are
//! More Redundant Than You Expect", 2024): BI_ℓ = 1 − the mean over tokens and calibration
//! images of cos(x_in, x_out), the cosine between the residual stream entering and leaving block
//! ℓ. A block that barely turns its input does little, and goes first.

use ndarray::{Array1, ArrayView1, s};

use super::calibration::Calibration;
use super::heads::BATCH;
use crate::model::Blocks;

/// cos(a, b), 1 where either vector is zero (nothing changed that a cosine could see).
pub(super) fn cosine(a: ArrayView1<f32>, b: ArrayView1<f32>) -> f64 {
    let (mut ab, mut aa, mut bb) = (0.0f64, 0.0f64, 0.0f64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (f64::from(x), f64::from(y));
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    if aa == 0.0 || bb == 0.0 {
        1.0
    } else {
        (ab / (aa.sqrt() * bb.sqrt())).clamp(-1.0, 1.0)
    }
}

pub fn scores(model: &dyn Blocks, calibration: &Calibration) -> Array1<f32> {
    let depth = model.depth();
    let mut sums = vec![0.0f64; depth];
    let mut rows = 0usize;
    let n = calibration.x.nrows();
    for start in (0..n).step_by(BATCH) {
        let end = (start + BATCH).min(n);
        let streams = model.residual_streams(calibration.x.slice(s![start..end, ..]));
        for (l, sum) in sums.iter_mut().enumerate() {
            for (a, b) in streams[l].rows().into_iter().zip(streams[l + 1].rows()) {
                *sum += cosine(a, b);
            }
        }
        rows += streams[0].nrows();
    }
    Array1::from_iter(sums.iter().map(|s| (1.0 - s / rows.max(1) as f64) as f32))
}
