//! Same seed and arguments → bit-identical results on the CPU engine.

mod common;

use pruneplay::train::{Budget, TrainConfig, Trainer, evaluate};

/// LeNet-300-100's shapes, so the matrix products are large enough to be split across threads:
/// determinism must survive that.
fn train(seed: u64) -> pruneplay::model::Mlp {
    let data = common::synthetic(2_000, 784, 10, 9);
    let config = TrainConfig {
        batch: 128,
        budget: Budget::Iters(60),
        seed,
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::<pruneplay::model::Mlp>::new(&config, &data).unwrap();
    let before = evaluate(trainer.model(), &data).loss;
    trainer.train_steps(&data, 60).unwrap();
    // It did train: comparing two frozen models would prove nothing.
    assert!(evaluate(trainer.model(), &data).loss < before);
    trainer.into_model()
}

fn bits(model: &pruneplay::model::Mlp) -> Vec<u32> {
    model
        .layers()
        .iter()
        .flat_map(|l| l.weight.iter().chain(l.bias.iter()).map(|v| v.to_bits()))
        .collect()
}

#[test]
fn same_seed_gives_bit_identical_weights() {
    assert_eq!(bits(&train(11)), bits(&train(11)));
}

#[test]
fn different_seeds_give_different_weights() {
    assert_ne!(bits(&train(11)), bits(&train(12)));
}
