//! Every pruning method's rule, on hand-checkable tensors and on a trained LeNet-300-100 with real
//! MNIST.

mod common;

use std::sync::OnceLock;

use ndarray::{Array1, Array2, array};
use pruneplay::engine::Backend;
use pruneplay::model::{Layer, Mlp, Model, Network, argmax_rows};
use pruneplay::prune::calibration::Calibration;
use pruneplay::prune::compaction::compact;
use pruneplay::prune::selection::{count_to_prune, prune_lowest_per_row};
use pruneplay::prune::{self, Method, NM, PruneOptions, Scores};
use pruneplay::train::{Budget, TrainConfig, Trainer};

/// LeNet-300-100 after 300 Adam steps (about 94% test accuracy): enough structure for the
/// data-aware methods to differ, quick to make.
fn trained() -> &'static (Mlp, pruneplay::data::Mnist) {
    static MODEL: OnceLock<(Mlp, pruneplay::data::Mnist)> = OnceLock::new();
    MODEL.get_or_init(|| {
        let mnist = common::mnist();
        let config = TrainConfig {
            budget: Budget::Iters(300),
            ..TrainConfig::default()
        };
        let mut trainer = Trainer::<pruneplay::model::Mlp>::new(&config, &mnist.train).unwrap();
        trainer.train_steps(&mnist.train, 300).unwrap();
        (trainer.into_model(), mnist)
    })
}

fn calibration() -> Calibration {
    Calibration::from_dataset(&trained().1.train, 128).unwrap()
}

fn pruned(method: Method, options: &PruneOptions) -> Mlp {
    let mut model = trained().0.clone();
    let calib = calibration();
    prune::prune(method, &mut model, Some(&calib), options).unwrap();
    model
}

fn layer(weight: Array2<f32>) -> Layer {
    let (o, i) = weight.dim();
    Layer {
        weight,
        bias: Array1::zeros(o),
        mask: Array2::ones((o, i)),
    }
}

#[test]
fn every_unstructured_method_keeps_exactly_the_implied_count_per_layer() {
    let options = PruneOptions {
        sparsity: 0.7,
        ..PruneOptions::default()
    };
    for method in [
        Method::Magnitude,
        Method::Random,
        Method::Taylor,
        Method::Wanda,
        Method::SparseGpt,
    ] {
        let model = pruned(method, &options);
        for (i, l) in model.layers().iter().enumerate() {
            let n = l.weight.len();
            let (rows, cols) = l.weight.dim();
            let expected = match method {
                // Wanda ranks within each output row.
                Method::Wanda => rows * (cols - count_to_prune(0.7, cols)),
                // SparseGPT ranks within each block of 128 columns (all rows).
                Method::SparseGpt => (0..cols)
                    .step_by(128)
                    .map(|b| {
                        let width = (cols - b).min(128);
                        rows * width - count_to_prune(0.7, rows * width)
                    })
                    .sum(),
                _ => n - count_to_prune(0.7, n),
            };
            assert_eq!(l.kept(), expected, "{} layer {i}", method.name());
            let share = l.kept() as f64 / n as f64;
            assert!(
                (share - 0.3).abs() < 0.01,
                "{} layer {i} keeps {share}",
                method.name()
            );
        }
    }
    // Wanda: exactly round(0.7 · 784) pruned in every row of the first layer.
    let wanda = pruned(Method::Wanda, &options);
    for row in wanda.layers()[0].mask.rows() {
        assert_eq!(
            row.iter().filter(|&&m| m == 0.0).count(),
            count_to_prune(0.7, 784)
        );
    }
}

#[test]
fn global_magnitude_prunes_the_exact_total_and_thins_the_big_layer_most() {
    let options = PruneOptions {
        sparsity: 0.9,
        ..PruneOptions::default()
    };
    let model = pruned(Method::GlobalMagnitude, &options);
    let total: usize = model.layers().iter().map(|l| l.weight.len()).sum();
    let kept: usize = model.layers().iter().map(|l| l.kept()).sum();
    assert_eq!(kept, total - count_to_prune(0.9, total));
    let shares: Vec<f64> = model
        .layers()
        .iter()
        .map(|l| l.kept() as f64 / l.weight.len() as f64)
        .collect();
    assert!(shares[0] < shares[1] && shares[1] < shares[2], "{shares:?}");

    // Per layer and global differ as they should on a hand-made model: layer 0's weights are all
    // smaller than layer 1's, so global pruning at 50% takes only layer 0.
    let mut m = Mlp::from_layers(vec![
        layer(array![[0.1f32, 0.2], [0.3, 0.4]]),
        layer(array![[1.0f32, 2.0], [3.0, 4.0]]),
    ])
    .unwrap();
    let per_layer = {
        let mut p = m.clone();
        prune::prune(Method::Magnitude, &mut p, None, &PruneOptions::default()).unwrap();
        p
    };
    prune::prune(
        Method::GlobalMagnitude,
        &mut m,
        None,
        &PruneOptions::default(),
    )
    .unwrap();
    assert_eq!(m.layers()[0].mask, Array2::<f32>::zeros((2, 2)));
    assert_eq!(m.layers()[1].mask, Array2::<f32>::ones((2, 2)));
    assert_eq!(
        per_layer.layers()[0].mask,
        array![[0.0f32, 0.0], [1.0, 1.0]]
    );
    assert_eq!(
        per_layer.layers()[1].mask,
        array![[0.0f32, 0.0], [1.0, 1.0]]
    );
}

#[test]
fn a_second_magnitude_pass_prunes_a_fraction_of_the_remaining_weights() {
    let mut model = trained().0.clone();
    let options = PruneOptions {
        sparsity: 0.5,
        ..PruneOptions::default()
    };
    prune::prune(Method::Magnitude, &mut model, None, &options).unwrap();
    prune::prune(Method::Magnitude, &mut model, None, &options).unwrap();
    for l in model.layers() {
        let n = l.weight.len();
        let after_first = n - count_to_prune(0.5, n);
        assert_eq!(l.kept(), after_first - count_to_prune(0.5, after_first));
    }
}

#[test]
fn output_rate_scales_the_output_layer() {
    for (rate, expected_share) in [(0.0, 1.0), (0.5, 0.6), (1.0, 0.2)] {
        let options = PruneOptions {
            sparsity: 0.8,
            output_rate: rate,
            ..PruneOptions::default()
        };
        let model = pruned(Method::Magnitude, &options);
        let out = &model.layers()[2];
        let share = out.kept() as f64 / out.weight.len() as f64;
        assert!(
            (share - expected_share).abs() < 1e-9,
            "rate {rate}: {share}"
        );
    }
}

#[test]
fn ln_structured_zeroes_whole_rows_by_the_right_norm() {
    // Row 0: L1 4, L2 2. Row 1: L1 3, L2 3. L1 removes row 1, L2 removes row 0.
    let hidden = layer(array![[1.0f32, 1.0, 1.0, 1.0], [3.0, 0.0, 0.0, 0.0]]);
    let out = layer(array![[1.0f32, 1.0]]);
    let model = Mlp::from_layers(vec![hidden, out]).unwrap();
    let options = PruneOptions {
        sparsity: 0.5,
        ..PruneOptions::default()
    };
    for (method, removed) in [(Method::StructuredL1, 1), (Method::StructuredL2, 0)] {
        let mut m = model.clone();
        prune::prune(method, &mut m, None, &options).unwrap();
        let mask = &m.layers()[0].mask;
        assert!(
            mask.row(removed).iter().all(|&v| v == 0.0),
            "{}",
            method.name()
        );
        assert!(
            mask.row(1 - removed).iter().all(|&v| v == 1.0),
            "{}",
            method.name()
        );
        // Output units are never removed.
        assert_eq!(m.layers()[1].kept(), 2);
    }
}

#[test]
fn structured_methods_remove_the_rounded_share_of_hidden_neurons_only() {
    let options = PruneOptions {
        sparsity: 0.5,
        ..PruneOptions::default()
    };
    for method in [
        Method::StructuredL1,
        Method::StructuredL2,
        Method::TaylorNeuron,
    ] {
        let model = pruned(method, &options);
        for (i, l) in model.layers().iter().enumerate() {
            let dead = (0..l.outputs())
                .filter(|&j| l.mask.row(j).iter().all(|&m| m == 0.0))
                .count();
            let expected = if i == 2 {
                0
            } else {
                count_to_prune(0.5, l.outputs())
            };
            assert_eq!(dead, expected, "{} layer {i}", method.name());
        }
    }
}

#[test]
fn compaction_gives_the_same_outputs_with_fewer_parameters() {
    let (_, mnist) = trained();
    let options = PruneOptions {
        sparsity: 0.5,
        ..PruneOptions::default()
    };
    let model = pruned(Method::StructuredL2, &options);
    let compacted = compact(&model).unwrap();
    assert_eq!(compacted.model.architecture().to_string(), "784-150-50-10");
    let (x, _) = mnist.test.batch(0, mnist.test.len());
    let a = model.logits(x.view());
    let b = compacted.model.logits(x.view());
    common::assert_close(
        &b.iter().copied().collect::<Vec<_>>(),
        &a.iter().copied().collect::<Vec<_>>(),
        1e-4,
        1e-5,
        "logits of the compacted model",
    );
    assert_eq!(argmax_rows(&a), argmax_rows(&b));
}

#[test]
fn n_of_m_keeps_exactly_n_in_every_group() {
    // LeNet's 300-wide layer is not a multiple of 8, so 4:8 runs on the 784-256-128-10 preset.
    let preset = Mlp::new(
        &pruneplay::model::Architecture::mlp_256_128(),
        pruneplay::model::Init::Glorot,
        &mut <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(2),
    );
    let calib = calibration();
    for (pattern, base) in [
        (NM { n: 2, m: 4 }, &trained().0),
        (NM { n: 4, m: 8 }, &preset),
    ] {
        for method in [Method::Magnitude, Method::Wanda, Method::SparseGpt] {
            let options = PruneOptions {
                pattern: Some(pattern),
                ..PruneOptions::default()
            };
            let mut model = base.clone();
            prune::prune(method, &mut model, Some(&calib), &options).unwrap();
            for l in model.layers() {
                for row in l.mask.rows() {
                    for group in row.as_slice().unwrap().chunks(pattern.m) {
                        let kept = group.iter().filter(|&&m| m != 0.0).count();
                        assert_eq!(
                            kept,
                            pattern.n,
                            "{} {}:{}",
                            method.name(),
                            pattern.n,
                            pattern.m
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn wanda_is_per_row_magnitude_when_input_norms_are_equal_and_not_otherwise() {
    let model = trained().0.clone();
    let options = PruneOptions {
        sparsity: 0.5,
        ..PruneOptions::default()
    };
    // Inputs of ±1: every pixel has the same norm over the samples.
    let x = Array2::from_shape_fn(
        (64, 784),
        |(r, c)| if (r * 7 + c * 3) % 2 == 0 { 1.0 } else { -1.0 },
    );
    let equal = Calibration { x, y: vec![0; 64] };
    let Scores::Weights(_) = prune::scores(Method::Wanda, &model, Some(&equal), &options).unwrap()
    else {
        panic!("Wanda scores weights");
    };
    let selection = prune::select(
        Method::Wanda,
        &model,
        &prune::scores(Method::Wanda, &model, Some(&equal), &options).unwrap(),
        Some(&equal),
        &options,
    )
    .unwrap();
    let l0 = &model.layers()[0];
    let by_magnitude = prune_lowest_per_row(l0.weight.mapv(f32::abs).view(), l0.mask.view(), 0.5);
    assert_eq!(selection.masks[0], by_magnitude);

    // Real images: border pixels have norm 0, so Wanda prunes differently.
    let real = calibration();
    let selection = prune::select(
        Method::Wanda,
        &model,
        &prune::scores(Method::Wanda, &model, Some(&real), &options).unwrap(),
        Some(&real),
        &options,
    )
    .unwrap();
    assert_ne!(selection.masks[0], by_magnitude);
    // Pixel (0, 0) is black in every image: its weights score 0 and are all pruned.
    assert!(selection.masks[0].column(0).iter().all(|&m| m == 0.0));
}

/// ‖W X − Ŵ X‖ for the first layer, on the calibration inputs.
fn reconstruction_error(original: &Mlp, pruned: &Mlp, x: &Array2<f32>) -> f32 {
    let w = &original.layers()[0].weight;
    let w_hat = &pruned.layers()[0].weight;
    let diff = x.dot(&w.t()) - x.dot(&w_hat.t());
    diff.iter().map(|d| d * d).sum::<f32>().sqrt()
}

#[test]
fn sparsegpt_reconstructs_the_first_layer_better_than_wanda_and_magnitude() {
    let (model, _) = trained();
    let calib = calibration();
    let options = PruneOptions {
        sparsity: 0.5,
        ..PruneOptions::default()
    };
    let errors: Vec<f32> = [Method::SparseGpt, Method::Wanda, Method::Magnitude]
        .into_iter()
        .map(|method| reconstruction_error(model, &pruned(method, &options), &calib.x))
        .collect();
    println!(
        "first-layer reconstruction error at 50%: sparsegpt {}, wanda {}, magnitude {}",
        errors[0], errors[1], errors[2]
    );
    assert!(errors[0] < errors[1] && errors[0] < errors[2], "{errors:?}");
}

#[test]
fn fine_tuning_after_every_method_keeps_the_masks() {
    let (_, mnist) = trained();
    let options = PruneOptions {
        sparsity: 0.6,
        ..PruneOptions::default()
    };
    for method in Method::ALL {
        let model = pruned(method, &options);
        let config = TrainConfig {
            arch: model.architecture().into(),
            budget: Budget::Iters(30),
            ..TrainConfig::default()
        };
        let mut trainer = Trainer::with_model(model.clone(), &config, &mnist.train).unwrap();
        trainer.train_steps(&mnist.train, 30).unwrap();
        let tuned = trainer.into_model();
        for (a, b) in tuned.layers().iter().zip(model.layers()) {
            assert_eq!(a.mask, b.mask, "{}", method.name());
            assert!(
                a.weight
                    .iter()
                    .zip(&a.mask)
                    .all(|(&w, &m)| m != 0.0 || w.to_bits() == 0),
                "{}",
                method.name()
            );
        }
    }
}

#[test]
fn bad_options_are_clear_errors() {
    let model = trained().0.clone();
    let e = |o: PruneOptions, m: Method| o.validate(m, &model).unwrap_err().to_string();
    assert!(
        e(
            PruneOptions {
                sparsity: 1.0,
                ..Default::default()
            },
            Method::Magnitude
        )
        .contains("outside [0, 1)")
    );
    assert!(
        e(
            PruneOptions {
                pattern: Some(NM { n: 5, m: 4 }),
                ..Default::default()
            },
            Method::Magnitude
        )
        .contains("0 < N <= M")
    );
    assert!(
        e(
            PruneOptions {
                pattern: Some(NM { n: 2, m: 4 }),
                ..Default::default()
            },
            Method::Random
        )
        .contains("no N:M form")
    );
    assert!(
        e(
            PruneOptions {
                calibration_samples: 0,
                ..Default::default()
            },
            Method::Wanda
        )
        .contains("calibration size 0")
    );
    assert!(
        Method::from_name("magnitudes")
            .unwrap_err()
            .to_string()
            .contains("unknown method")
    );
}

#[test]
fn iterative_magnitude_reaches_the_target_through_equal_rounds() {
    use pruneplay::prune::iterative::{iterative_magnitude, per_round_amount};
    let amount = per_round_amount(0.9, 3);
    assert!(((1.0 - amount).powi(3) - 0.1).abs() < 1e-12);
    let (model, mnist) = trained();
    let mut m = Model::Mlp(model.clone());
    let finetune = TrainConfig {
        budget: Budget::Iters(20),
        ..TrainConfig::default()
    };
    let mut seen = Vec::new();
    // Engines share their data through an Rc, which the static model cache cannot hold.
    let shared = std::rc::Rc::new(mnist.clone());
    let rounds = pollster::block_on(iterative_magnitude(
        &mut m,
        &Backend::Cpu,
        &shared,
        Method::Magnitude,
        &PruneOptions {
            sparsity: 0.9,
            ..Default::default()
        },
        3,
        &finetune,
        |r| seen.push(r.round),
    ))
    .unwrap();
    assert_eq!(seen, [1, 2, 3]);
    // Each round keeps (1 − amount) of what was left, with PyTorch's rounding per layer.
    for (l, original) in m.linears().iter().zip(model.layers()) {
        let mut left = original.weight.len();
        for _ in 0..3 {
            left -= count_to_prune(amount, left);
        }
        assert_eq!(l.kept(), left);
    }
    assert!((rounds[2].weights_remaining - 0.1).abs() < 0.001);
}

#[test]
fn gradual_pruning_follows_the_schedule_and_ends_at_the_target() {
    use pruneplay::prune::gradual::{Schedule, train_with_gradual_pruning};
    let (model, mnist) = trained();
    let schedule = Schedule {
        initial: 0.0,
        target: 0.8,
        start: 0,
        pruning_steps: 4,
        every: 10,
    };
    let config = TrainConfig {
        budget: Budget::Iters(1_000),
        ..TrainConfig::default()
    };
    let (pruned, points) =
        train_with_gradual_pruning(model.clone(), mnist, &config, &schedule, 1.0, 10, |_| {})
            .unwrap();
    assert_eq!(
        points.iter().map(|p| p.step).collect::<Vec<_>>(),
        [0, 10, 20, 30, 40]
    );
    for p in &points {
        assert!(
            (1.0 - p.weights_remaining - p.target_sparsity).abs() < 0.001,
            "{p:?}"
        );
    }
    for l in pruned.layers() {
        let n = l.weight.len();
        assert_eq!(n - l.kept(), (0.8 * n as f64).round_ties_even() as usize);
    }
}

#[test]
fn the_selection_stage_reports_each_layers_threshold() {
    // Layer 0 scores 1..8: pruning half takes 1, 2, 3, 4; the threshold is 4.
    let model = Mlp::from_layers(vec![
        layer(array![[1.0f32, -2.0, 3.0, -4.0], [5.0, 6.0, -7.0, 8.0]]),
        layer(array![[1.0f32, 1.0]]),
    ])
    .unwrap();
    let options = PruneOptions {
        sparsity: 0.5,
        output_rate: 0.0,
        ..PruneOptions::default()
    };
    let scores = prune::scores(Method::Magnitude, &model, None, &options).unwrap();
    let selection = prune::select(Method::Magnitude, &model, &scores, None, &options).unwrap();
    assert_eq!(selection.thresholds, [Some(4.0), None]);
    assert_eq!(
        selection.masks[0],
        array![[0.0f32, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0]]
    );
}
