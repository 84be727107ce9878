//! Random head pruning, the baseline the other head methods must beat: seeded uniform scores.

use ndarray::Array1;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::model::Blocks;

pub fn scores(model: &dyn Blocks, seed: u64) -> Vec<Array1<f32>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    model
        .heads_per_block()
        .iter()
        .map(|&h| Array1::from_shape_simple_fn(h, || rng.random::<f32>()))
        .collect()
}
