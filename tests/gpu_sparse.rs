//! The sparse forward kernels (`csr_forward.wgsl`, `nm_forward.wgsl`) on a real wgpu device
//! (lavapipe natively) against the CPU engine's dense ndarray forward on the same masked weights;
//! the packed formats against the masks they come from; and the forward-timing function on both
//! backends.
//!
//! Tolerances as in `gpu_kernels.rs`: sums in another order differ by rounding, about 1e-6
//! relative per product; a wrong index is off by O(1).

mod common;

use common::{assert_close, flat, gpu, random};
use ndarray::{Array1, Array2, s};
use pruneplay::Error;
use pruneplay::gpu::{forward_timing, standalone};
use pruneplay::model::sparse::{Csr, Packed, PackedLayer, SparseMlp, TwoFour, is_two_four};
use pruneplay::model::{Architecture, Init, Layer, Mlp};
use pruneplay::prune::variants::{self, Kernel, TimingOptions};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// An unstructured mask keeping about `keep` of the weights, with every third row empty.
fn unstructured_mask(rows: usize, cols: usize, keep: f64, seed: u64) -> Array2<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Array2::from_shape_fn((rows, cols), |(r, _)| {
        let kept = r % 3 != 1 && rng.random_bool(keep);
        f32::from(u8::from(kept))
    })
}

/// A 2:4 mask: in each group of 4, 2 kept at random positions, except that every fifth group
/// keeps 1 and every seventh keeps none (the format then stores zeros).
fn two_four_mask(rows: usize, cols: usize, seed: u64) -> Array2<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut mask = Array2::zeros((rows, cols));
    for r in 0..rows {
        for g in 0..cols / 4 {
            let n = (r * 31 + g) % 35;
            let keep = if n % 7 == 0 {
                0
            } else if n % 5 == 0 {
                1
            } else {
                2
            };
            let mut slots = [0usize, 1, 2, 3];
            for i in (1..4).rev() {
                slots.swap(i, rng.random_range(0..=i));
            }
            for &i in &slots[..keep] {
                mask[[r, 4 * g + i]] = 1.0;
            }
        }
    }
    mask
}

fn masked_layer(w: Array2<f32>, mask: Array2<f32>, seed: u64) -> Layer {
    let bias = Array1::from(flat(&random(1, w.nrows(), seed)));
    let mut layer = Layer {
        mask: Array2::ones(w.dim()),
        weight: w,
        bias,
    };
    layer.set_mask(mask).unwrap();
    layer
}

fn reference(x: &Array2<f32>, layer: &Layer, relu: bool) -> Array2<f32> {
    let z = x.dot(&layer.weight.t()) + &layer.bias;
    if relu { z.mapv(|v| v.max(0.0)) } else { z }
}

fn packed(layer: &Layer, two_four: bool) -> PackedLayer {
    PackedLayer {
        weights: if two_four {
            Packed::TwoFour(TwoFour::from_layer(layer).unwrap())
        } else {
            Packed::Csr(Csr::from_layer(layer).unwrap())
        },
        bias: layer.bias.clone(),
    }
}

/// Runs one packed layer on the CPU (`SparseMlp`) and on the GPU, both against ndarray.
fn check_layer(layer: &Layer, batch: usize, two_four: bool, what: &str) {
    let x = random(batch, layer.inputs(), 7 + batch as u64).mapv(f32::abs);
    let p = packed(layer, two_four);
    let cpu = SparseMlp {
        layers: vec![p.clone()],
    }
    .logits(x.view());
    let expected = reference(&x, layer, false);
    assert_close(
        &flat(&cpu),
        &flat(&expected),
        1e-5,
        1e-4,
        &format!("CPU {what}"),
    );
    let Some((_turn, ctx)) = gpu() else { return };
    for relu in [false, true] {
        let expected = reference(&x, layer, relu);
        let got = pollster::block_on(standalone::sparse_forward(ctx, x.view(), &p, relu)).unwrap();
        let what = format!("GPU {what} batch {batch} relu={relu}");
        assert_close(&flat(&got), &flat(&expected), 1e-5, 1e-4, &what);
    }
}

/// (batch, inputs, outputs): odd sizes, a single sample, vec4 multiples, LeNet's first layer, and
/// a batch over one workgroup's 256 samples (output rows go 4 to a workgroup: 13, 3, 9 leave
/// part of the last one idle).
const SHAPES: [(usize, usize, usize); 5] = [
    (37, 30, 13),
    (1, 5, 3),
    (64, 100, 10),
    (60, 784, 300),
    (300, 33, 9),
];

#[test]
fn csr_forward_matches_reference() {
    for (i, &(m, k, n)) in SHAPES.iter().enumerate() {
        for keep in [0.2, 0.05] {
            let layer = masked_layer(
                random(n, k, 10 + i as u64),
                unstructured_mask(n, k, keep, 20 + i as u64),
                30 + i as u64,
            );
            check_layer(&layer, m, false, &format!("csr {k}→{n} keep {keep}"));
        }
    }
}

#[test]
fn csr_forward_of_a_fully_pruned_layer_is_its_bias() {
    let layer = masked_layer(random(7, 12, 1), Array2::zeros((7, 12)), 2);
    assert_eq!(Csr::from_layer(&layer).unwrap().nnz(), 0);
    check_layer(&layer, 9, false, "fully pruned csr");
}

/// (batch, inputs, outputs) with inputs a multiple of 4; 36 and 100 inputs put groups in a
/// second and a partial metadata word; 300 samples span two workgroups' 256.
const NM_SHAPES: [(usize, usize, usize); 6] = [
    (37, 32, 13),
    (1, 4, 3),
    (5, 36, 7),
    (64, 100, 10),
    (60, 784, 300),
    (300, 8, 5),
];

#[test]
fn two_four_forward_matches_reference() {
    for (i, &(m, k, n)) in NM_SHAPES.iter().enumerate() {
        let layer = masked_layer(
            random(n, k, 40 + i as u64),
            two_four_mask(n, k, 50 + i as u64),
            60 + i as u64,
        );
        check_layer(&layer, m, true, &format!("2:4 {k}→{n}"));
    }
}

#[test]
fn two_four_forward_of_a_fully_pruned_layer_is_its_bias() {
    let layer = masked_layer(random(5, 8, 3), Array2::zeros((5, 8)), 4);
    check_layer(&layer, 6, true, "fully pruned 2:4");
}

#[test]
fn csr_packing_round_trips() {
    let w = random(9, 14, 70);
    let mask = unstructured_mask(9, 14, 0.3, 71);
    let csr = Csr::from_masked(w.view(), mask.view()).unwrap();
    assert_eq!(csr.row_ptr.len(), 10);
    assert_eq!(csr.nnz(), mask.iter().filter(|&&m| m != 0.0).count());
    assert_eq!(csr.to_dense(), &w * &mask);
    for r in 0..9 {
        let cols = &csr.col_idx[csr.row_ptr[r] as usize..csr.row_ptr[r + 1] as usize];
        assert!(cols.windows(2).all(|c| c[0] < c[1]), "row {r}: {cols:?}");
    }
    // Rows 1, 4 and 7 are empty.
    assert_eq!(csr.row_ptr[1], csr.row_ptr[2]);
    // The mask decides, not the value: a kept zero is stored.
    let zeros = Array2::zeros((2, 3));
    let ones = Array2::ones((2, 3));
    assert_eq!(
        Csr::from_masked(zeros.view(), ones.view()).unwrap().nnz(),
        6
    );
    assert!(Csr::from_masked(w.view(), ones.view()).is_err());
}

#[test]
fn two_four_packing_round_trips() {
    for (rows, cols, seed) in [(3, 4, 80), (7, 36, 81), (11, 100, 82)] {
        let w = random(rows, cols, seed);
        let mask = two_four_mask(rows, cols, seed + 10);
        assert!(is_two_four(mask.view()));
        let p = TwoFour::from_masked(w.view(), mask.view()).unwrap();
        assert_eq!(p.values.len(), rows * cols / 2);
        assert_eq!(p.meta.len(), rows * (cols / 4).div_ceil(8));
        assert_eq!(p.to_dense(), &w * &mask, "{rows}×{cols}");
        for r in 0..rows {
            for g in 0..cols / 4 {
                let [a, b] = p.positions(r, g);
                assert!(a < b && b < 4, "row {r} group {g}: positions {a}, {b}");
            }
        }
    }
}

#[test]
fn two_four_packing_refuses_other_masks_and_says_where() {
    let w = random(3, 8, 90);
    let mut mask = two_four_mask(3, 8, 91);
    mask.slice_mut(s![2, 4..8])
        .assign(&ndarray::arr1(&[1.0, 1.0, 1.0, 0.0]));
    assert!(!is_two_four(mask.view()));
    let err = TwoFour::from_masked(w.view(), mask.view()).unwrap_err();
    assert!(matches!(err, Error::Pattern(_)), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("row 2") && text.contains("4..8") && text.contains("keep 3"),
        "{text}"
    );

    let ones = Array2::ones((2, 6));
    let err = TwoFour::from_masked(random(2, 6, 92).view(), ones.view()).unwrap_err();
    assert!(err.to_string().contains("divisible by 4"), "{err}");

    // A dense model is not 2:4, and the error names the layer.
    let model = Mlp::new(
        &"8-4-4".parse::<Architecture>().unwrap(),
        Init::Glorot,
        &mut ChaCha8Rng::seed_from_u64(1),
    );
    let err = SparseMlp::two_four(&model).unwrap_err().to_string();
    assert!(err.starts_with("layer 0: the mask is not 2:4"), "{err}");
}

fn small_lenet() -> Mlp {
    Mlp::new(
        &Architecture::lenet_300_100(),
        Init::Glorot,
        &mut ChaCha8Rng::seed_from_u64(5),
    )
}

#[test]
fn forward_timing_gives_positive_times_and_matching_logits() {
    let Some((_turn, ctx)) = gpu() else { return };
    let vs = variants::build(&small_lenet(), 0.8).unwrap();
    let x = random(50, 784, 100).mapv(f32::abs);
    let start = std::time::Instant::now();
    let clock = || 1e3 * start.elapsed().as_secs_f64();
    let options = TimingOptions { reps: 2, warmup: 1 };
    let t = pollster::block_on(forward_timing::time_gpu(
        ctx,
        &vs,
        x.view(),
        &options,
        clock,
    ))
    .unwrap();
    assert_eq!((t.backend, t.batch, t.reps), ("gpu", 50, 2));
    assert!(t.adapter.is_some());
    let kernels: Vec<Kernel> = t.variants.iter().map(|v| v.kernel).collect();
    assert_eq!(
        kernels,
        vs.iter().map(|v| v.kernel).collect::<Vec<_>>(),
        "one timing per variant, in order"
    );
    for v in &t.variants {
        assert!(v.median_ms.is_finite() && v.median_ms > 0.0, "{v:?}");
        assert!(v.min_ms <= v.median_ms && v.median_ms <= v.max_ms, "{v:?}");
        assert!(v.max_abs_diff < 1e-4, "{v:?}");
    }
}

#[test]
fn timers_run_a_round_at_a_time() {
    let vs = variants::build(&small_lenet(), 0.9).unwrap();
    let x = random(9, 784, 101).mapv(f32::abs);
    let start = std::time::Instant::now();
    let clock = || 1e3 * start.elapsed().as_secs_f64();
    let mut cpu = variants::CpuTimer::new(&vs, x.view(), 1).unwrap();
    for _ in 0..3 {
        cpu.round(&clock);
    }
    assert_eq!(cpu.rounds(), 3);
    let t = cpu.finish();
    assert_eq!(t.reps, 2);
    assert!(t.variants.iter().all(|v| v.max_abs_diff < 1e-4));
    // Images of the wrong width are refused with the shapes.
    let wrong = random(3, 783, 102);
    let err = variants::CpuTimer::new(&vs, wrong.view(), 0).err().unwrap();
    assert!(err.to_string().contains("783"), "{err}");

    let Some((_turn, ctx)) = gpu() else { return };
    let mut timer = forward_timing::GpuTimer::new(ctx, &vs, x.view(), 0).unwrap();
    pollster::block_on(timer.round(&clock)).unwrap();
    assert_eq!(timer.rounds(), 1);
    let t = pollster::block_on(timer.finish()).unwrap();
    assert_eq!(t.reps, 1);
    assert!(
        t.variants
            .iter()
            .all(|v| v.max_abs_diff < 1e-4 && v.median_ms > 0.0)
    );
    // Finishing before any round: no times, and no logits to trust.
    let timer = forward_timing::GpuTimer::new(ctx, &vs, x.view(), 0).unwrap();
    let t = pollster::block_on(timer.finish()).unwrap();
    assert!(
        t.variants
            .iter()
            .all(|v| v.median_ms == 0.0 && v.max_abs_diff.is_infinite())
    );
}

#[test]
fn forward_timing_refuses_an_empty_batch() {
    let Some((_turn, ctx)) = gpu() else { return };
    let vs = variants::build(&small_lenet(), 0.5).unwrap();
    let x = Array2::<f32>::zeros((0, 784));
    let result = pollster::block_on(forward_timing::time_gpu(
        ctx,
        &vs,
        x.view(),
        &TimingOptions::default(),
        || 0.0,
    ));
    assert!(matches!(result, Err(Error::Config(_))), "{result:?}");
}
