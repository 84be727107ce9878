//! Drop the deepest N blocks: the baseline Gromov et al. 2024 and ShortGPT compare against, and
//! the one that is competitive once the model is healed. Scores count down with depth, so the
//! deepest block still there scores lowest.

use ndarray::Array1;

use crate::model::Blocks;

pub fn scores(model: &dyn Blocks) -> Array1<f32> {
    let depth = model.depth();
    Array1::from_shape_fn(depth, |l| (depth - l) as f32)
}
