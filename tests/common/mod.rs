//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test crate uses a different subset

use std::path::PathBuf;
use std::process::{Command, Output};

use ndarray::Array2;
use pruneplay::data::{Dataset, Mnist};
use pruneplay::model::{Network, Vit, VitConfig};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::Normal;

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

/// A seeded ViT whose linear layers are far from timm's initialisation (weights with std 0.3, so
/// attention is far from uniform and GELU far from linear; biases with std 0.1), so that every
/// head, block and unit matters. Returns the generator too, for tests that randomise more.
pub fn random_vit(config: &VitConfig, seed: u64) -> (Vit, ChaCha8Rng) {
    let mut vit = Vit::seeded(config, seed);
    let mut rng = ChaCha8Rng::seed_from_u64(seed + 1);
    let normal = |std: f64| Normal::new(0.0, std).expect("a positive std");
    for layer in vit.linears_mut() {
        layer
            .weight
            .mapv_inplace(|_| rng.sample(normal(0.3)) as f32);
        layer.bias.mapv_inplace(|_| rng.sample(normal(0.1)) as f32);
    }
    (vit, rng)
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

/// The GPU for this test binary: one context, shared, with tests taking turns (one GPU test at a
/// time, as lavapipe prefers). `None` when no adapter exists, after saying why, unless
/// `PRUNEPLAY_REQUIRE_GPU=1` (set by `cargo xtask test` when lavapipe is installed), where a
/// missing adapter is a failure: a silent skip would hide a broken GPU path.
#[cfg(feature = "gpu")]
pub fn gpu() -> Option<(GpuTurn, &'static pruneplay::gpu::GpuContext)> {
    use std::sync::{Mutex, OnceLock};
    static CONTEXT: OnceLock<Result<pruneplay::gpu::GpuContext, String>> = OnceLock::new();
    static TURN: Mutex<()> = Mutex::new(());
    let turn = TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let ctx = CONTEXT.get_or_init(|| {
        pollster::block_on(pruneplay::gpu::GpuContext::new()).map_err(|e| e.to_string())
    });
    match ctx {
        Ok(ctx) => Some((GpuTurn { _turn: turn, ctx }, ctx)),
        Err(e) if std::env::var("PRUNEPLAY_REQUIRE_GPU").as_deref() == Ok("1") => {
            panic!("PRUNEPLAY_REQUIRE_GPU=1 but there is no GPU adapter: {e}")
        }
        Err(e) => {
            eprintln!("skipping: no GPU adapter ({e}); install mesa-vulkan-drivers for lavapipe");
            None
        }
    }
}

/// A `rows × cols` matrix of seeded uniform values in [-1, 1).
pub fn random(rows: usize, cols: usize, seed: u64) -> Array2<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Array2::from_shape_simple_fn((rows, cols), || rng.random_range(-1.0f32..1.0))
}

/// The elements in logical (row-major) order.
pub fn flat(a: &Array2<f32>) -> Vec<f32> {
    a.iter().copied().collect()
}

/// Runs the `pruneplay` binary from the crate's root.
pub fn pruneplay(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pruneplay"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the pruneplay binary runs")
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts that the binary failed with `expected` in its message and no panic.
pub fn assert_clean_failure(out: &Output, expected: &str) {
    let err = stderr(out);
    assert!(
        !out.status.success(),
        "expected a failure, got success: {err}"
    );
    assert!(
        err.contains(expected),
        "stderr does not mention {expected:?}: {err}"
    );
    assert!(!err.contains("panicked"), "a panic reached the user: {err}");
}

/// A test's turn on the GPU. Ending it waits until the device is idle: the shared context lives
/// until the process exits, and lavapipe's threads can crash a process that exits with work in
/// flight.
#[cfg(feature = "gpu")]
pub struct GpuTurn {
    _turn: std::sync::MutexGuard<'static, ()>,
    ctx: &'static pruneplay::gpu::GpuContext,
}

#[cfg(feature = "gpu")]
impl Drop for GpuTurn {
    fn drop(&mut self) {
        if let Err(e) = self.ctx.wait_idle() {
            eprintln!("waiting for the GPU to go idle: {e}");
        }
    }
}

/// Asserts `|actual − expected| ≤ atol + rtol·|expected|` everywhere, naming the worst element.
pub fn assert_close(actual: &[f32], expected: &[f32], atol: f32, rtol: f32, what: &str) {
    assert_eq!(actual.len(), expected.len(), "{what}: lengths differ");
    let mut worst = (0usize, 0.0f32);
    for (i, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        let excess = (a - e).abs() - (atol + rtol * e.abs());
        if excess.is_nan() || (excess > 0.0 && excess > worst.1) {
            worst = (
                i,
                if excess.is_nan() {
                    f32::INFINITY
                } else {
                    excess
                },
            );
        }
    }
    assert!(
        worst.1 == 0.0,
        "{what}: element {} is {} but the reference says {} (atol {atol}, rtol {rtol})",
        worst.0,
        actual[worst.0],
        expected[worst.0]
    );
}
