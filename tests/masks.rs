//! Masks hold through training: pruned weights stay exactly 0 under SGD with momentum and Adam.

mod common;

use ndarray::Array2;
use pruneplay::model::Network;
use pruneplay::train::{Budget, OptimizerConfig, TrainConfig, Trainer};

fn config(optimizer: OptimizerConfig) -> TrainConfig {
    TrainConfig {
        arch: "16-12-8-4".parse().unwrap(),
        optimizer,
        batch: 8,
        budget: Budget::Iters(100),
        seed: 5,
        ..TrainConfig::default()
    }
}

/// Trains a while (so the optimizer's moments are non-zero everywhere), prunes every other weight
/// of every layer, trains 100 more steps, and checks the pruned weights.
fn pruned_weights_stay_zero(optimizer: OptimizerConfig) {
    let data = common::synthetic(256, 16, 4, 1);
    let mut trainer = Trainer::<pruneplay::model::Mlp>::new(&config(optimizer), &data).unwrap();
    trainer.train_steps(&data, 50).unwrap();

    for layer in trainer.model_mut().layers_mut() {
        let mask = Array2::from_shape_fn(layer.weight.dim(), |(r, c)| ((r + c) % 2) as f32);
        layer.set_mask(mask).unwrap();
    }
    let before = trainer.model().clone();
    trainer.train_steps(&data, 100).unwrap();

    let mut kept_changed = 0;
    for (layer, old) in trainer.model().layers().iter().zip(before.layers()) {
        for ((&w, &m), &w0) in layer.weight.iter().zip(&layer.mask).zip(&old.weight) {
            if m == 0.0 {
                assert_eq!(w.to_bits(), 0.0f32.to_bits(), "a pruned weight became {w}");
            } else if w != w0 {
                kept_changed += 1;
            }
        }
    }
    // The kept half did train, so the test is not passing on a frozen model.
    assert!(
        kept_changed > 100,
        "only {kept_changed} kept weights changed"
    );
    assert!((trainer.model().weights_remaining() - 0.5).abs() < 0.01);
}

#[test]
fn adam_keeps_pruned_weights_exactly_zero() {
    pruned_weights_stay_zero(OptimizerConfig::adam());
}

#[test]
fn sgd_momentum_keeps_pruned_weights_exactly_zero() {
    pruned_weights_stay_zero(OptimizerConfig::sgd());
}

#[test]
fn biases_are_never_masked() {
    let data = common::synthetic(64, 16, 4, 2);
    let mut trainer =
        Trainer::<pruneplay::model::Mlp>::new(&config(OptimizerConfig::adam()), &data).unwrap();
    for layer in trainer.model_mut().layers_mut() {
        let zeros = Array2::zeros(layer.weight.dim());
        layer.set_mask(zeros).unwrap();
    }
    trainer.train_steps(&data, 20).unwrap();
    assert_eq!(trainer.model().weights_remaining(), 0.0);
    // With every weight pruned, only the output bias can learn the class frequencies.
    assert!(trainer.model().layers()[2].bias.iter().any(|&b| b != 0.0));
}

#[test]
fn a_mask_of_the_wrong_shape_is_an_error() {
    let data = common::synthetic(16, 16, 4, 3);
    let mut trainer =
        Trainer::<pruneplay::model::Mlp>::new(&config(OptimizerConfig::adam()), &data).unwrap();
    let err = trainer.model_mut().layers_mut()[0]
        .set_mask(Array2::ones((3, 3)))
        .unwrap_err();
    assert!(
        err.to_string().contains("mask (3, 3) for weight (12, 16)"),
        "{err}"
    );
}
