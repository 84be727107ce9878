//! Random unstructured pruning, the baseline every method must beat: scores are seeded uniform
//! random numbers, and each layer loses the given fraction of its unpruned weights.
//! Same as `torch.nn.utils.prune.random_unstructured`.

use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::model::Network;

pub fn scores(model: &impl Network, seed: u64) -> Vec<Array2<f32>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    model
        .linears()
        .iter()
        .map(|l| Array2::from_shape_simple_fn(l.weight.dim(), || rng.random::<f32>()))
        .collect()
}
