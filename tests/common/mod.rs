//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test crate uses a different subset

use std::path::PathBuf;

use pruneplay::data::{Dataset, Mnist};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A small seeded data set whose label is a simple function of the pixels, so training has
/// something to learn.
pub fn synthetic(n: usize, features: usize, classes: usize, seed: u64) -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let pixels: Vec<u8> = (0..n * features).map(|_| rng.random()).collect();
    let labels = pixels
        .chunks(features)
        .map(|img| {
            (img.iter()
                .take(classes)
                .enumerate()
                .max_by_key(|&(_, &p)| p)
                .map_or(0, |(i, _)| i)) as u8
        })
        .collect();
    Dataset::new(pixels, labels, features, classes).expect("consistent synthetic data")
}

/// The real MNIST that `cargo xtask data` fetches. A missing data set fails the test with the
/// command to run: a silently skipped accuracy test would hide a broken pipeline.
pub fn mnist() -> Mnist {
    let dir = std::env::var_os("PRUNEPLAY_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/mnist"));
    Mnist::load_dir(&dir).unwrap_or_else(|e| {
        panic!(
            "MNIST is needed at {}: {e}. Run `cargo xtask data` first.",
            dir.display()
        )
    })
}
