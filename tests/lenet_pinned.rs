//! LeNet-300-100 does not move: values recorded on the code before the core learnt to prune any
//! model (commit dbe8044), held here bit for bit.
//!
//! - the CPU engine's loss after 500 steps (seed 0, every other setting at its default) and a
//!   hash of the weights it ends with;
//! - for every method at 90% on that model (and the N:M forms at 2:4, IMP and gradual pruning):
//!   a hash of each layer's mask, the kept counts and the test accuracy.
//!
//! A change that alters any of these on purpose (a method fixed by a later issue) updates the
//! value here and says so in its commit. `PRUNEPLAY_PRINT_PINS=1` prints the current values in
//! this file's format.

mod common;

use std::sync::OnceLock;

use pruneplay::data::Mnist;
use pruneplay::engine::Backend;
use pruneplay::model::{Mlp, Model};
use pruneplay::prune::calibration::Calibration;
use pruneplay::prune::gradual::{Schedule, train_with_gradual_pruning};
use pruneplay::prune::iterative::iterative_magnitude;
use pruneplay::prune::{self, Method, NM, PruneOptions};
use pruneplay::train::{Budget, TrainConfig, Trainer, evaluate};

/// FNV-1a over bytes: a fixed, dependency-free hash, so the pinned values never change with a
/// library's hasher.
fn fnv(bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn weights_hash(model: &Mlp) -> u64 {
    fnv(model.layers().iter().flat_map(|l| {
        l.weight
            .iter()
            .chain(l.bias.iter())
            .flat_map(|v| v.to_bits().to_le_bytes())
            .collect::<Vec<_>>()
    }))
}

/// One pinned outcome: per layer (mask hash, kept), then the test accuracy's bits.
#[derive(Debug, PartialEq)]
struct Pin {
    layers: Vec<(u64, usize)>,
    test_acc: f64,
}

fn pin(model: &Mlp, data: &Mnist) -> Pin {
    Pin {
        layers: model
            .layers()
            .iter()
            .map(|l| (fnv(l.mask.iter().map(|&m| u8::from(m != 0.0))), l.kept()))
            .collect(),
        test_acc: evaluate(model, &data.test).accuracy,
    }
}

fn trained() -> &'static (Mlp, f32, Mnist) {
    static MODEL: OnceLock<(Mlp, f32, Mnist)> = OnceLock::new();
    MODEL.get_or_init(|| {
        let mnist = common::mnist();
        let config = TrainConfig {
            budget: Budget::Iters(500),
            ..TrainConfig::default()
        };
        let mut trainer = Trainer::<pruneplay::model::Mlp>::new(&config, &mnist.train).unwrap();
        // One call of 499 steps and one of 1: the second's mean loss is the loss of step 500.
        trainer.train_steps(&mnist.train, 499).unwrap();
        let last = trainer.train_steps(&mnist.train, 1).unwrap().loss;
        (trainer.into_model(), last, mnist)
    })
}

fn print_or_check(what: &str, actual: &Pin, expected: &Pin) {
    if std::env::var_os("PRUNEPLAY_PRINT_PINS").is_some() {
        eprintln!("{what}: {actual:?}");
        return;
    }
    assert_eq!(actual, expected, "{what} moved");
}

#[test]
fn five_hundred_cpu_steps_give_the_recorded_loss_and_weights() {
    let (model, loss, _) = trained();
    if std::env::var_os("PRUNEPLAY_PRINT_PINS").is_some() {
        eprintln!(
            "loss bits {:#010x} ({loss}), weights {:#018x}",
            loss.to_bits(),
            weights_hash(model)
        );
        return;
    }
    assert_eq!(loss.to_bits(), LOSS_BITS, "loss at step 500 is {loss}");
    assert_eq!(weights_hash(model), WEIGHTS_HASH);
}

#[test]
fn every_method_at_ninety_percent_gives_the_recorded_masks() {
    let (model, _, data) = trained();
    let calibration = Calibration::from_dataset(&data.train, 128).unwrap();
    let options = PruneOptions {
        sparsity: 0.9,
        ..PruneOptions::default()
    };
    let two_four = PruneOptions {
        pattern: Some(NM { n: 2, m: 4 }),
        ..PruneOptions::default()
    };
    let mut cases: Vec<(String, PruneOptions)> = Method::ALL
        .iter()
        .map(|m| (m.name().to_owned(), options.clone()))
        .collect();
    for m in [Method::Magnitude, Method::Wanda, Method::SparseGpt] {
        cases.push((format!("{} 2:4", m.name()), two_four.clone()));
    }
    let expected = expected_methods();
    let printing = std::env::var_os("PRUNEPLAY_PRINT_PINS").is_some();
    assert!(printing || expected.len() == cases.len());
    for (i, (name, options)) in cases.iter().enumerate() {
        let method = Method::from_name(name.split(' ').next().unwrap()).unwrap();
        let mut pruned = model.clone();
        prune::prune(method, &mut pruned, Some(&calibration), options).unwrap();
        let actual = pin(&pruned, data);
        if printing {
            eprintln!("(\"{name}\", {actual:?}),");
            continue;
        }
        assert_eq!(name, &expected[i].0);
        print_or_check(name, &actual, &expected[i].1);
    }
}

#[test]
fn iterative_and_gradual_pruning_give_the_recorded_masks() {
    let (model, _, data) = trained();
    let finetune = TrainConfig {
        budget: Budget::Iters(50),
        ..TrainConfig::default()
    };
    let options = PruneOptions {
        sparsity: 0.9,
        ..PruneOptions::default()
    };
    let mut imp = Model::Mlp(model.clone());
    // Engines share their data through an Rc, which the static above cannot hold: one copy here.
    let shared = std::rc::Rc::new(data.clone());
    pollster::block_on(iterative_magnitude(
        &mut imp,
        &Backend::Cpu,
        &shared,
        Method::Magnitude,
        &options,
        3,
        &finetune,
        |_| {},
    ))
    .unwrap();
    let imp = imp.into_mlp("the pin").unwrap();
    print_or_check("imp", &pin(&imp, data), &expected_imp());

    let schedule = Schedule {
        initial: 0.0,
        target: 0.9,
        start: 0,
        pruning_steps: 4,
        every: 25,
    };
    let (gradual, _) =
        train_with_gradual_pruning(model.clone(), data, &finetune, &schedule, 1.0, 25, |_| {})
            .unwrap();
    print_or_check("gradual", &pin(&gradual, data), &expected_gradual());
}

// Recorded at dbe8044 (before the core learnt to prune any model) with
// `PRUNEPLAY_PRINT_PINS=1 cargo test --release --test lenet_pinned -- --nocapture --test-threads 1`.
/// The mean loss of step 500: 0.17423742.
const LOSS_BITS: u32 = 0x3e326b4b;
const WEIGHTS_HASH: u64 = 0x25f6c73352ac07f9;

fn expected_methods() -> Vec<(String, Pin)> {
    vec![
        (
            "magnitude".into(),
            Pin {
                layers: vec![
                    (0xa493eb0f386830e5, 23520),
                    (0x5ff3a17d92eadf33, 3000),
                    (0x475336f4496bb90d, 100),
                ],
                test_acc: 0.6028,
            },
        ),
        (
            "global-magnitude".into(),
            Pin {
                layers: vec![
                    (0x44d6741b26ed07f5, 18210),
                    (0xdd523a4ba1863f58, 7849),
                    (0xe78d2bb4e9d0dcf8, 561),
                ],
                test_acc: 0.9273,
            },
        ),
        (
            "random".into(),
            Pin {
                layers: vec![
                    (0x07389c05f6f33f1b, 23520),
                    (0x3854d8cb8889db0b, 3000),
                    (0x4dd1df68d23bd745, 100),
                ],
                test_acc: 0.1166,
            },
        ),
        (
            "structured-l1".into(),
            Pin {
                layers: vec![
                    (0x9eeaca6e7e6ffa05, 23520),
                    (0x1054a1c64a3e549d, 3000),
                    (0xd8e406b8f018c8ad, 1000),
                ],
                test_acc: 0.2007,
            },
        ),
        (
            "structured-l2".into(),
            Pin {
                layers: vec![
                    (0xb9005710cac39605, 23520),
                    (0xbaad02f6d08416dd, 3000),
                    (0xd8e406b8f018c8ad, 1000),
                ],
                test_acc: 0.2298,
            },
        ),
        (
            "taylor".into(),
            Pin {
                layers: vec![
                    (0x3071bc597816bfe5, 23520),
                    (0x2c423c2c939be5fd, 3000),
                    (0x94354dd8e11ad287, 100),
                ],
                test_acc: 0.5008,
            },
        ),
        (
            "taylor-neuron".into(),
            Pin {
                layers: vec![
                    (0x93e4b53ba807d605, 23520),
                    (0x7efcc76026dc8c9d, 3000),
                    (0xd8e406b8f018c8ad, 1000),
                ],
                test_acc: 0.1978,
            },
        ),
        (
            "wanda".into(),
            Pin {
                layers: vec![
                    (0x52512986451a229f, 23400),
                    (0xbc9d5a6e530bb1ad, 3000),
                    (0x31c5ece79eec25c7, 100),
                ],
                test_acc: 0.4253,
            },
        ),
        (
            "sparsegpt".into(),
            Pin {
                layers: vec![
                    (0x16e504a6fda09ebd, 23520),
                    (0x78bde7c60feb400f, 3000),
                    (0x31aa260fd6520f4b, 100),
                ],
                test_acc: 0.7185,
            },
        ),
        (
            "magnitude 2:4".into(),
            Pin {
                layers: vec![
                    (0xe69439456ee8eae7, 117600),
                    (0x743e613dbfa252bb, 15000),
                    (0x7ee94b0d4deeebed, 500),
                ],
                test_acc: 0.9436,
            },
        ),
        (
            "wanda 2:4".into(),
            Pin {
                layers: vec![
                    (0x36b402aa8588c077, 117600),
                    (0x360b5c3936f09687, 15000),
                    (0xf3836c851b7b9819, 500),
                ],
                test_acc: 0.9372,
            },
        ),
        (
            "sparsegpt 2:4".into(),
            Pin {
                layers: vec![
                    (0x10bad2cde7adbd23, 117600),
                    (0x9b96803bae80fcf7, 15000),
                    (0x34079154438b264f, 500),
                ],
                test_acc: 0.9508,
            },
        ),
    ]
}

fn expected_imp() -> Pin {
    Pin {
        layers: vec![
            (0xd47ac6faac890aff, 23520),
            (0x3e3d4874219a22d3, 3000),
            (0x161bcdcd944bc641, 100),
        ],
        test_acc: 0.9275,
    }
}

fn expected_gradual() -> Pin {
    Pin {
        layers: vec![
            (0xbb2ec312c7618771, 23520),
            (0x9f69c7f6caa13515, 3000),
            (0xa6a178575752eb97, 100),
        ],
        test_acc: 0.9055,
    }
}
