//! Every WGSL kernel on a real wgpu device (lavapipe natively) against the CPU engine's ndarray
//! code, on shapes that are not multiples of the workgroup or vec4 sizes.
//!
//! Tolerances: the kernels sum in a different order than matrixmultiply, so results differ by
//! rounding: about 1e-6 relative per product for these sizes. `atol 1e-5 + rtol 1e-4` leaves a
//! wide margin for that and none for a wrong index, which is off by O(1).

mod common;

use common::{assert_close, flat, gpu, random};
use ndarray::{Array1, Array2, Axis};
use pruneplay::gpu::standalone;
use pruneplay::model::{Gradients, Layer, Mlp, argmax_rows, softmax_cross_entropy};
use pruneplay::train::{Optimizer, OptimizerConfig};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// (batch, inputs, outputs): odd sizes, vec4 multiples, and LeNet's first layer.
const SHAPES: [(usize, usize, usize); 4] = [(37, 30, 13), (1, 5, 3), (64, 100, 10), (60, 784, 300)];

#[test]
fn matmul_forward_matches_reference() {
    let Some((_turn, ctx)) = gpu() else { return };
    for (i, &(m, k, n)) in SHAPES.iter().enumerate() {
        let a = random(m, k, 1 + i as u64);
        let w = random(n, k, 10 + i as u64);
        let b = Array1::from(flat(&random(1, n, 20 + i as u64)));
        let reference = a.dot(&w.t()) + &b;
        for relu in [false, true] {
            let got =
                pollster::block_on(standalone::forward(ctx, a.view(), w.view(), &b, relu)).unwrap();
            let expected = if relu {
                reference.mapv(|v| v.max(0.0))
            } else {
                reference.clone()
            };
            assert_close(
                &flat(&got),
                &flat(&expected),
                1e-5,
                1e-4,
                &format!("forward {m}×{k}·{n} relu={relu}"),
            );
        }
    }
}

#[test]
fn input_gradient_matches_reference() {
    let Some((_turn, ctx)) = gpu() else { return };
    for (i, &(m, k, n)) in SHAPES.iter().enumerate() {
        let dz = random(m, n, 30 + i as u64);
        let w = random(n, k, 40 + i as u64);
        // A ReLU output: about half zeros.
        let a = random(m, k, 50 + i as u64).mapv(|v| v.max(0.0));
        let plain = dz.dot(&w);
        // With `relu` the gradient passes only where the input was positive (LeNet's layers);
        // without it (the ViT's), everywhere.
        for relu in [true, false] {
            let expected = if relu {
                &plain * &a.mapv(|v| if v > 0.0 { 1.0 } else { 0.0 })
            } else {
                plain.clone()
            };
            let got = pollster::block_on(standalone::backward_input(
                ctx,
                dz.view(),
                w.view(),
                a.view(),
                relu,
            ))
            .unwrap();
            assert_close(
                &flat(&got),
                &flat(&expected),
                1e-5,
                1e-4,
                &format!("input gradient {m}×{k}·{n} relu={relu}"),
            );
        }
    }
}

#[test]
fn weight_and_bias_gradients_match_reference() {
    let Some((_turn, ctx)) = gpu() else { return };
    for (i, &(m, k, n)) in SHAPES.iter().enumerate() {
        let dz = random(m, n, 60 + i as u64);
        let a = random(m, k, 70 + i as u64);
        let (gw, gb) = pollster::block_on(standalone::weight_and_bias_gradients(
            ctx,
            dz.view(),
            a.view(),
        ))
        .unwrap();
        assert_close(
            &flat(&gw),
            &flat(&dz.t().dot(&a)),
            1e-5,
            1e-4,
            &format!("weight gradient {m}×{k}·{n}"),
        );
        let expected_gb: Vec<f32> = dz.sum_axis(Axis(0)).to_vec();
        assert_close(&gb.to_vec()[..n], &expected_gb, 1e-5, 1e-4, "bias gradient");
    }
}

fn logits_and_labels(m: usize, n: usize, seed: u64) -> (Array2<f32>, Vec<u8>) {
    let logits = random(m, n, seed) * 8.0;
    let mut rng = ChaCha8Rng::seed_from_u64(seed + 1);
    let labels = (0..m).map(|_| rng.random_range(0..n as u8)).collect();
    (logits, labels)
}

#[test]
fn softmax_cross_entropy_matches_reference() {
    let Some((_turn, ctx)) = gpu() else { return };
    for (m, n, seed) in [(37, 10, 80), (128, 10, 81), (5, 3, 82)] {
        let (logits, labels) = logits_and_labels(m, n, seed);
        let (loss, grad) = softmax_cross_entropy(&logits, &labels);
        let correct = argmax_rows(&logits)
            .iter()
            .zip(&labels)
            .filter(|(p, y)| p == y)
            .count();
        let (gpu_loss, gpu_grad, gpu_correct) = pollster::block_on(
            standalone::softmax_cross_entropy(ctx, logits.view(), &labels),
        )
        .unwrap();
        assert_close(&[gpu_loss], &[loss], 1e-5, 1e-5, "loss");
        assert_close(&flat(&gpu_grad), &flat(&grad), 1e-6, 1e-4, "logit gradient");
        assert_eq!(gpu_correct, correct);
    }
}

#[test]
fn evaluation_matches_reference() {
    let Some((_turn, ctx)) = gpu() else { return };
    let (logits, labels) = logits_and_labels(250, 10, 90);
    let (predictions, losses, confusion) =
        pollster::block_on(standalone::evaluate_logits(ctx, logits.view(), &labels)).unwrap();
    let expected: Vec<u32> = argmax_rows(&logits).into_iter().map(u32::from).collect();
    assert_eq!(predictions, expected);
    for (i, row) in logits.rows().into_iter().enumerate() {
        let one = row.to_owned().insert_axis(Axis(0));
        let (loss, _) = softmax_cross_entropy(&one, &labels[i..=i]);
        assert_close(
            &[losses[i]],
            &[loss],
            1e-5,
            1e-5,
            &format!("loss of row {i}"),
        );
    }
    let mut expected_confusion = vec![0u32; 100];
    for (&y, &p) in labels.iter().zip(&expected) {
        expected_confusion[usize::from(y) * 10 + p as usize] += 1;
    }
    assert_eq!(confusion, expected_confusion);
}

/// Runs `steps` updates with the CPU optimizer on a one-layer model.
fn cpu_updates(
    config: OptimizerConfig,
    w: &Array2<f32>,
    mask: &Array2<f32>,
    grads: &[Array2<f32>],
) -> Array2<f32> {
    let layer = Layer {
        weight: w.clone(),
        bias: Array1::zeros(w.nrows()),
        mask: mask.clone(),
    };
    let mut model = Mlp::from_layers(vec![layer]).unwrap();
    let mut optimizer = Optimizer::new(config, &model);
    for g in grads {
        let grads = Gradients {
            weight: vec![g.clone()],
            bias: vec![Array1::zeros(w.nrows())],
            other: Vec::new(),
        };
        optimizer.step(&mut model, &grads);
    }
    model.layers()[0].weight.clone()
}

fn masked_update_matches_reference(config: OptimizerConfig) {
    let Some((_turn, ctx)) = gpu() else { return };
    let (rows, cols) = (13, 30);
    let w = random(rows, cols, 100);
    let mask = random(rows, cols, 101).mapv(|v| if v > -0.3 { 1.0 } else { 0.0 });
    let grads: Vec<Array2<f32>> = (0..5).map(|s| random(rows, cols, 110 + s)).collect();
    let expected = cpu_updates(config, &w, &mask, &grads);
    let got = pollster::block_on(standalone::optimizer_steps(
        ctx,
        config,
        w.view(),
        mask.view(),
        &grads,
    ))
    .unwrap();
    // The GPU's pow/sqrt/division may differ from the CPU's in the last bits; relative to one
    // step (lr ≥ 0.01 here) an error of 1e-5 is 0.1%.
    assert_close(
        &flat(&got),
        &flat(&expected),
        1e-5,
        1e-4,
        &format!("{:?} update", config.kind),
    );
    for (&g, &m) in got.iter().zip(&mask) {
        if m == 0.0 {
            assert_eq!(g.to_bits(), 0, "a masked weight is {g}");
        }
    }
    // The update did something: the kept weights moved.
    assert!(
        got.iter()
            .zip(&w)
            .zip(&mask)
            .any(|((a, b), &m)| m == 1.0 && a != b)
    );
}

#[test]
fn sgd_update_matches_reference_and_keeps_masked_weights_zero() {
    masked_update_matches_reference(OptimizerConfig::sgd());
}

#[test]
fn adam_update_matches_reference_and_keeps_masked_weights_zero() {
    masked_update_matches_reference(OptimizerConfig {
        lr: 0.01,
        ..OptimizerConfig::adam()
    });
}
