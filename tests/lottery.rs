//! The lottery-ticket lab: the ladder is exact, rewinding restores θ_k bit for bit, the controls
//! are what they claim, early stopping reads the right point, the instability line ends at the
//! two trained copies, and the CLI prints what it promises.

mod common;

use std::process::Output;
use std::rc::Rc;

use ndarray::Array2;
use pruneplay::Error;

use pruneplay::data::Mnist;
use pruneplay::engine::Backend;
use pruneplay::lottery::ladder::next_masks;
use pruneplay::lottery::{
    Arm, InstabilityExperiment, InstabilitySettings, LotteryExperiment, LotterySettings, Progress,
    Strategy, ladder,
};
use pruneplay::model::{Architecture, Init, Mlp};
use pruneplay::train::{Budget, TrainConfig, Trainer, evaluate};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

/// A small learnable problem: 64 "pixels", 4 classes.
fn small_data() -> Rc<Mnist> {
    Rc::new(Mnist {
        train: common::synthetic(1_200, 64, 4, 1),
        validation: common::synthetic(300, 64, 4, 2),
        test: common::synthetic(400, 64, 4, 3),
        rows: 8,
        cols: 8,
    })
}

fn small_settings() -> LotterySettings {
    LotterySettings {
        arch: "64-32-16-4".parse().unwrap(),
        batch: 20,
        iters: 200,
        rounds: 2,
        rewind_iter: 30,
        eval_every: 20,
        seed: 5,
        ..LotterySettings::default()
    }
}

fn advance(e: &mut LotteryExperiment, data: &Rc<Mnist>, iters: u64) -> Progress {
    pollster::block_on(e.advance(&Backend::Cpu, data, iters)).unwrap()
}

/// Runs until `(round, arm)` has just started (loaded on the engine, nothing trained).
fn start_of(e: &mut LotteryExperiment, data: &Rc<Mnist>, round: u32, arm: Arm) -> Progress {
    loop {
        let p = advance(e, data, 0);
        assert!(!p.done, "the experiment ended before round {round} {arm}");
        if (p.round, p.arm) == (round, arm) {
            return p;
        }
        advance(e, data, e.settings().iters - p.iter);
    }
}

fn current_model(e: &LotteryExperiment) -> Mlp {
    pollster::block_on(e.current_model()).unwrap().unwrap()
}

fn bits(a: &Array2<f32>) -> Vec<u32> {
    a.iter().map(|v| v.to_bits()).collect()
}

fn kept(masks: &[Array2<f32>]) -> Vec<usize> {
    masks
        .iter()
        .map(|m| m.iter().filter(|&&v| v != 0.0).count())
        .collect()
}

fn masks_of(model: &Mlp) -> Vec<Array2<f32>> {
    model.layers().iter().map(|l| l.mask.clone()).collect()
}

/// Every weight is `theta`'s where the mask keeps it and +0.0 where it prunes it; biases are
/// `theta`'s; bit for bit.
fn assert_is_masked(model: &Mlp, theta: &Mlp, masks: &[Array2<f32>], what: &str) {
    for (i, ((l, t), m)) in model
        .layers()
        .iter()
        .zip(theta.layers())
        .zip(masks)
        .enumerate()
    {
        assert_eq!(bits(&l.mask), bits(m), "{what}: layer {i} mask");
        let expected = Array2::from_shape_fn(t.weight.dim(), |ix| {
            if m[ix] != 0.0 { t.weight[ix] } else { 0.0 }
        });
        assert_eq!(
            bits(&l.weight),
            bits(&expected),
            "{what}: layer {i} weights"
        );
        assert_eq!(
            l.bias.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            t.bias.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            "{what}: layer {i} biases"
        );
    }
}

#[test]
fn the_ladder_reproduces_the_papers_weights_remaining() {
    let lenet = Architecture::lenet_300_100();
    let rungs = ladder(&lenet, Strategy::PerLayer, 18);
    // REFERENCE.md and issue 6, to the digits they give.
    for (round, text) in [
        (0, "100"),
        (1, "80"),
        (2, "64"),
        (3, "51.3"),
        (7, "21.1"),
        (9, "13.5"),
        (12, "6.95"),
        (15, "3.58"),
        (16, "2.87"),
        (18, "1.85"),
    ] {
        let decimals = text.split('.').nth(1).map_or(0, str::len);
        let got = format!("{:.*}", decimals, rungs[round].weights_remaining);
        assert_eq!(got, text, "round {round}");
    }
    // And every round to 2 decimals against Pm(k) = (265,200·0.8^k + 1,000·0.9^k) / 266,200.
    for r in &rungs {
        let k = r.round as i32;
        let pm = 100.0 * (265_200.0 * 0.8f64.powi(k) + 1_000.0 * 0.9f64.powi(k)) / 266_200.0;
        assert_eq!(
            format!("{:.2}", r.weights_remaining),
            format!("{pm:.2}"),
            "round {k}"
        );
    }
    // Exact counts (computed independently with Python's round(), halves to even).
    let expected: [[usize; 3]; 19] = [
        [235200, 30000, 1000],
        [188160, 24000, 900],
        [150528, 19200, 810],
        [120422, 15360, 729],
        [96338, 12288, 656],
        [77070, 9830, 590],
        [61656, 7864, 531],
        [49325, 6291, 478],
        [39460, 5033, 430],
        [31568, 4026, 387],
        [25254, 3221, 348],
        [20203, 2577, 313],
        [16162, 2062, 282],
        [12930, 1650, 254],
        [10344, 1320, 229],
        [8275, 1056, 206],
        [6620, 845, 185],
        [5296, 676, 167],
        [4237, 541, 150],
    ];
    for (r, e) in rungs.iter().zip(&expected) {
        assert_eq!(r.per_layer.as_deref(), Some(&e[..]), "round {}", r.round);
        assert_eq!(r.kept, e.iter().sum::<usize>());
    }

    // The pruning code itself lands on these counts, round after round.
    let mut model = Mlp::new(&lenet, Init::Glorot, &mut ChaCha8Rng::seed_from_u64(3));
    for e in &expected[1..] {
        let masks = next_masks(&model, Strategy::PerLayer).unwrap();
        assert_eq!(kept(&masks), e.to_vec());
        for (l, m) in model.layers_mut().iter_mut().zip(masks) {
            l.set_mask(m).unwrap();
        }
    }

    // Global: 20% of the remaining hidden weights ranked together, the output layer whole.
    let global = ladder(&lenet, Strategy::Global, 7);
    let totals: Vec<usize> = global.iter().map(|r| r.kept).collect();
    assert_eq!(
        totals,
        [266200, 213160, 170728, 136782, 109626, 87901, 70521, 56617]
    );
    let mut model = Mlp::new(&lenet, Init::Glorot, &mut ChaCha8Rng::seed_from_u64(4));
    for r in &global[1..] {
        let masks = next_masks(&model, Strategy::Global).unwrap();
        let k = kept(&masks);
        assert_eq!(k.iter().sum::<usize>(), r.kept);
        assert_eq!(k[2], 1000, "the output layer is never pruned");
        for (l, m) in model.layers_mut().iter_mut().zip(masks) {
            l.set_mask(m).unwrap();
        }
    }
}

#[test]
fn rewinding_restores_theta_k_under_the_mask_bit_for_bit() {
    let data = small_data();
    let settings = small_settings();
    let mut e = LotteryExperiment::new(settings.clone(), &data).unwrap();
    // Round 0 to the end: exactly one result, the dense ticket.
    let p = advance(&mut e, &data, settings.iters);
    assert_eq!(p.finished.len(), 1);
    assert_eq!((p.finished[0].round, p.finished[0].arm), (0, Arm::Ticket));
    assert_eq!(p.finished[0].weights_remaining, 100.0);

    // θ_k is the model after k iterations of an ordinary training run from the same seed.
    let config = TrainConfig {
        budget: Budget::Iters(settings.iters),
        ..settings.train_config()
    };
    let mut trainer = Trainer::<pruneplay::model::Mlp>::new(&config, &data.train).unwrap();
    trainer
        .train_steps(&data.train, settings.rewind_iter)
        .unwrap();
    let theta_k = e.rewind_weights().unwrap().clone();
    assert_eq!(&theta_k, trainer.model(), "θ_k");

    // Round 1's ticket starts at iteration k from θ_k under the new mask.
    let p = advance(&mut e, &data, 0);
    assert_eq!(
        (p.round, p.arm, p.iter),
        (1, Arm::Ticket, settings.rewind_iter)
    );
    let masks = e.ticket_masks().to_vec();
    let rung = &e.ladder()[1];
    assert_eq!(Some(kept(&masks)), rung.per_layer);
    assert!(rung.weights_remaining < 100.0);
    assert_is_masked(&current_model(&e), &theta_k, &masks, "the engine's model");
    assert_is_masked(e.run_start_model().unwrap(), &theta_k, &masks, "the start");

    // Later rounds rewind to the same θ_k, with fewer weights.
    let p = start_of(&mut e, &data, 2, Arm::Ticket);
    assert_eq!(p.iter, settings.rewind_iter);
    let masks2 = e.ticket_masks().to_vec();
    assert_eq!(Some(kept(&masks2)), e.ladder()[2].per_layer);
    // Pruned weights stay pruned.
    for (m1, m2) in masks.iter().zip(&masks2) {
        assert!(m1.iter().zip(m2).all(|(&a, &b)| b <= a));
    }
    assert_is_masked(&current_model(&e), &theta_k, &masks2, "round 2");
}

#[test]
fn rewind_zero_resets_to_the_initialisation() {
    let data = small_data();
    let settings = LotterySettings {
        rewind_iter: 0,
        rounds: 1,
        ..small_settings()
    };
    let mut e = LotteryExperiment::new(settings, &data).unwrap();
    let theta0 = e.initial_weights().clone();
    let p = start_of(&mut e, &data, 1, Arm::Ticket);
    assert_eq!(p.iter, 0);
    let masks = e.ticket_masks().to_vec();
    assert_is_masked(&current_model(&e), &theta0, &masks, "θ₀ under the mask");
}

#[test]
fn reinit_keeps_the_mask_and_changes_the_weights() {
    let data = small_data();
    let mut e = LotteryExperiment::new(small_settings(), &data).unwrap();
    start_of(&mut e, &data, 1, Arm::Reinit);
    let masks = e.ticket_masks().to_vec();
    let model = current_model(&e);
    let reinit = e.reinit_weights().clone();
    assert_is_masked(&model, &reinit, &masks, "θ₀′ under the ticket's mask");
    let theta_k = e.rewind_weights().unwrap();
    let theta0 = e.initial_weights();
    for ((l, t), z) in model
        .layers()
        .iter()
        .zip(theta_k.layers())
        .zip(theta0.layers())
    {
        let kept = l.mask.iter().filter(|&&m| m != 0.0).count();
        let same_as_k = l
            .weight
            .iter()
            .zip(&t.weight)
            .zip(&l.mask)
            .filter(|&((a, b), &m)| m != 0.0 && a == b)
            .count();
        let same_as_0 = l
            .weight
            .iter()
            .zip(&z.weight)
            .zip(&l.mask)
            .filter(|&((a, b), &m)| m != 0.0 && a == b)
            .count();
        assert!(kept > 0);
        assert_eq!((same_as_k, same_as_0), (0, 0), "reinit weights are fresh");
    }
}

#[test]
fn random_mask_keeps_the_per_layer_counts() {
    let data = small_data();
    let mut e = LotteryExperiment::new(small_settings(), &data).unwrap();
    for round in 1..=2 {
        start_of(&mut e, &data, round, Arm::RandomMask);
        let ticket = e.ticket_masks().to_vec();
        let model = current_model(&e);
        let random = masks_of(&model);
        assert_eq!(kept(&random), kept(&ticket), "round {round}");
        assert_ne!(
            random, ticket,
            "round {round}: the mask is random, not the ticket's"
        );
        let theta_k = e.rewind_weights().unwrap().clone();
        assert_is_masked(&model, &theta_k, &random, "θ_k under the random mask");
    }
}

#[test]
fn early_stopping_is_the_minimum_of_validation_loss() {
    let data = small_data();
    let settings = small_settings();
    let mut e = LotteryExperiment::new(settings.clone(), &data).unwrap();
    let mut results = Vec::new();
    let mut last_fraction = 0.0;
    loop {
        // An odd chunk, so chunks straddle evaluation points and runs.
        let p = advance(&mut e, &data, 37);
        assert!(p.fraction >= last_fraction && p.fraction <= 1.0);
        last_fraction = p.fraction;
        results.extend(p.finished);
        if p.done {
            assert_eq!(p.fraction, 1.0);
            break;
        }
    }
    assert_eq!(results.len(), 1 + 2 * 3);
    assert_eq!(results, e.results());
    let arms: Vec<(u32, Arm)> = results.iter().map(|r| (r.round, r.arm)).collect();
    assert_eq!(
        arms,
        [
            (0, Arm::Ticket),
            (1, Arm::Ticket),
            (1, Arm::Reinit),
            (1, Arm::RandomMask),
            (2, Arm::Ticket),
            (2, Arm::Reinit),
            (2, Arm::RandomMask)
        ]
    );
    for r in &results {
        let iters: Vec<u64> = r.curve.iter().map(|p| p.iter).collect();
        let mut expected = vec![r.start_iter];
        expected.extend(
            (1..=settings.iters / settings.eval_every)
                .map(|i| i * settings.eval_every)
                .filter(|&i| i > r.start_iter),
        );
        assert_eq!(iters, expected, "round {} {}", r.round, r.arm);
        // The first point of lowest validation loss.
        let best = r
            .curve
            .iter()
            .enumerate()
            .min_by(|a, b| a.1.val_loss.total_cmp(&b.1.val_loss).then(a.0.cmp(&b.0)))
            .unwrap()
            .1;
        assert_eq!(r.early_stop_iter, best.iter);
        assert_eq!(r.val_loss_at_early_stop, best.val_loss);
        assert_eq!(Some(r.test_acc_at_early_stop), best.test_acc);
        assert_eq!(Some(r.final_test_acc), r.curve.last().unwrap().test_acc);
        assert_eq!(
            r.kept_per_layer,
            e.ladder()[r.round as usize].per_layer.clone().unwrap()
        );
        let m = &r.first_layer_mask;
        assert_eq!((m.outputs, m.inputs), (32, 64));
        assert_eq!(
            m.kept_per_input.iter().sum::<u32>() as usize,
            r.kept_per_layer[0]
        );
        let set_bits: u32 = m.bits.iter().map(|w| w.count_ones()).sum();
        assert_eq!(set_bits as usize, r.kept_per_layer[0]);
    }
    // It learnt: the dense network beats chance (25%, ±2% on 400 images).
    assert!(
        results[0].final_test_acc > 0.35,
        "{}",
        results[0].final_test_acc
    );

    // Evaluating the test set at every point changes none of the numbers.
    let full = LotterySettings {
        full_test_curve: true,
        ..settings
    };
    let mut e = LotteryExperiment::new(full, &data).unwrap();
    while !advance(&mut e, &data, 1_000).done {}
    for (a, b) in results.iter().zip(e.results()) {
        assert!(b.curve.iter().all(|p| p.test_acc.is_some()));
        assert_eq!(
            (
                a.early_stop_iter,
                a.test_acc_at_early_stop,
                a.final_test_acc
            ),
            (
                b.early_stop_iter,
                b.test_acc_at_early_stop,
                b.final_test_acc
            )
        );
    }
}

fn instability(settings: InstabilitySettings, data: &Rc<Mnist>) -> InstabilityExperiment {
    let mut e = InstabilityExperiment::new(settings, data).unwrap();
    loop {
        let p = pollster::block_on(e.advance(&Backend::Cpu, data, 50)).unwrap();
        if p.done {
            assert_eq!(p.fraction, 1.0);
            assert!(p.result.is_some());
            return e;
        }
    }
}

#[test]
fn instability_line_ends_at_the_two_trained_copies() {
    let data = small_data();
    let s = small_settings();
    let settings = InstabilitySettings {
        arch: s.arch.clone(),
        batch: s.batch,
        iters: 150,
        rewind_iter: 30,
        eval_every: 50,
        seed: 2,
        ..InstabilitySettings::default()
    };
    let e = instability(settings.clone(), &data);
    let result = e.result().unwrap();
    assert_eq!(result.curve.len(), 11);
    for (i, p) in result.curve.iter().enumerate() {
        assert_eq!(p.alpha, i as f64 / 10.0);
        assert!((0.0..=1.0).contains(&p.test_error));
    }
    let (a, b) = e.endpoints().unwrap();
    assert_ne!(a, b, "two data orders give two different networks");
    assert_eq!(
        result.curve[0].test_error,
        1.0 - evaluate(a, &data.test).accuracy
    );
    assert_eq!(
        result.curve[10].test_error,
        1.0 - evaluate(b, &data.test).accuracy
    );
    let ends = (result.curve[0].test_error + result.curve[10].test_error) / 2.0;
    let max = result
        .curve
        .iter()
        .map(|p| p.test_error)
        .fold(0.0, f64::max);
    assert_eq!(result.barrier, max - ends);
    assert!(result.barrier >= 0.0);
    // Both copies started from θ_k, the model after k iterations from θ₀.
    let config = TrainConfig {
        arch: settings.arch.clone().into(),
        batch: settings.batch,
        seed: settings.seed,
        budget: Budget::Iters(settings.iters),
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::<pruneplay::model::Mlp>::new(&config, &data.train).unwrap();
    trainer.train_steps(&data.train, 30).unwrap();
    assert_eq!(e.start_weights().unwrap(), trainer.model());
    assert_eq!((result.round, result.weights_remaining), (0, 100.0));

    // A pruned network: the ladder rung closest to 64%, mask held along the whole line.
    let pruned = instability(
        InstabilitySettings {
            weights_remaining: 64.0,
            ..settings
        },
        &data,
    );
    let result = pruned.result().unwrap();
    let rung = &ladder(&s.arch, Strategy::PerLayer, 2)[2];
    assert_eq!(
        (result.round, result.weights_remaining),
        (2, rung.weights_remaining)
    );
    let (a, b) = pruned.endpoints().unwrap();
    assert_eq!(masks_of(a), masks_of(b));
    assert_eq!(Some(kept(&masks_of(a))), rung.per_layer);
}

#[test]
fn bad_settings_are_config_errors() {
    let data = small_data();
    let base = small_settings();
    let lottery_error = |s: LotterySettings| match LotteryExperiment::new(s, &data) {
        Err(Error::Config(m)) => m,
        Err(other) => panic!("not a Config error: {other}"),
        Ok(_) => panic!("accepted"),
    };
    let cases: Vec<(LotterySettings, &str)> = vec![
        (
            LotterySettings {
                rounds: 41,
                ..base.clone()
            },
            "rounds = 41",
        ),
        (
            LotterySettings {
                iters: 0,
                ..base.clone()
            },
            "iters = 0",
        ),
        (
            LotterySettings {
                rewind_iter: 200,
                ..base.clone()
            },
            "rewind iteration 200",
        ),
        (
            LotterySettings {
                eval_every: 0,
                ..base.clone()
            },
            "eval_every = 0",
        ),
        (
            LotterySettings {
                batch: 0,
                ..base.clone()
            },
            "batch = 0",
        ),
        (
            LotterySettings {
                controls: vec![Arm::Ticket],
                ..base.clone()
            },
            "the ticket always runs",
        ),
        (
            LotterySettings {
                controls: vec![Arm::Reinit, Arm::Reinit],
                ..base.clone()
            },
            "listed twice",
        ),
        (
            LotterySettings {
                arch: "64-4".parse().unwrap(),
                strategy: Strategy::Global,
                ..base.clone()
            },
            "has none",
        ),
        (
            LotterySettings {
                arch: Architecture::lenet_300_100(),
                ..base.clone()
            },
            "784 inputs",
        ),
    ];
    for (s, message) in cases {
        let m = lottery_error(s);
        assert!(m.contains(message), "{m:?} should mention {message:?}");
    }
    let instability_error = |s: InstabilitySettings| match InstabilityExperiment::new(s, &data) {
        Err(Error::Config(m)) => m,
        Err(other) => panic!("not a Config error: {other}"),
        Ok(_) => panic!("accepted"),
    };
    let base = InstabilitySettings {
        arch: base.arch.clone(),
        batch: 20,
        iters: 100,
        ..InstabilitySettings::default()
    };
    for (s, message) in [
        (
            InstabilitySettings {
                alphas: 2,
                ..base.clone()
            },
            "alphas = 2",
        ),
        (
            InstabilitySettings {
                weights_remaining: 0.0,
                ..base.clone()
            },
            "outside (0, 100]",
        ),
        (
            InstabilitySettings {
                weights_remaining: 150.0,
                ..base.clone()
            },
            "outside (0, 100]",
        ),
        (
            InstabilitySettings {
                weights_remaining: f64::NAN,
                ..base.clone()
            },
            "outside (0, 100]",
        ),
        (
            InstabilitySettings {
                rewind_iter: 100,
                ..base.clone()
            },
            "rewind iteration 100",
        ),
    ] {
        let m = instability_error(s);
        assert!(m.contains(message), "{m:?} should mention {message:?}");
    }
}

/// A context the engine can own; the shared one stays borrowed by `gpu()`.
fn own_context() -> Rc<pruneplay::gpu::GpuContext> {
    Rc::new(pollster::block_on(pruneplay::gpu::GpuContext::new()).expect("an adapter exists"))
}

#[test]
fn gpu_runs_the_same_experiment_as_the_cpu() {
    let Some((_turn, _)) = common::gpu() else {
        return;
    };
    let data = small_data();
    let settings = LotterySettings {
        iters: 100,
        rounds: 1,
        rewind_iter: 20,
        ..small_settings()
    };
    let gpu = Backend::Gpu(own_context());
    let mut on_gpu = LotteryExperiment::new(settings.clone(), &data).unwrap();
    // The ticket of round 1 reaches the GPU exactly as it left the CPU.
    let p = pollster::block_on(on_gpu.advance(&gpu, &data, settings.iters)).unwrap();
    assert_eq!(p.backend, Some("gpu"));
    let p = pollster::block_on(on_gpu.advance(&gpu, &data, 0)).unwrap();
    assert_eq!((p.round, p.arm), (1, Arm::Ticket));
    assert_eq!(
        &current_model(&on_gpu),
        on_gpu.run_start_model().unwrap(),
        "the model read back from the GPU"
    );
    while !pollster::block_on(on_gpu.advance(&gpu, &data, 1_000))
        .unwrap()
        .done
    {}
    let mut on_cpu = LotteryExperiment::new(settings, &data).unwrap();
    while !advance(&mut on_cpu, &data, 1_000).done {}
    assert_eq!(on_gpu.results().len(), on_cpu.results().len());
    for (g, c) in on_gpu.results().iter().zip(on_cpu.results()) {
        println!(
            "round {} {}: gpu {:.4} / cpu {:.4} final test accuracy",
            g.round, g.arm, g.final_test_acc, c.final_test_acc
        );
        assert_eq!(
            (g.round, g.arm, g.kept_per_layer.clone()),
            (c.round, c.arm, c.kept_per_layer.clone())
        );
        // Same batches, same arithmetic up to summation order.
        assert!((g.final_test_acc - c.final_test_acc).abs() <= 0.03);
    }
}

#[test]
fn after_a_lost_gpu_device_the_experiment_continues_on_the_cpu() {
    let Some((_turn, _)) = common::gpu() else {
        return;
    };
    let data = small_data();
    let settings = LotterySettings {
        iters: 100,
        rounds: 1,
        rewind_iter: 20,
        ..small_settings()
    };
    let ctx = own_context();
    let gpu = Backend::Gpu(Rc::clone(&ctx));
    let mut e = LotteryExperiment::new(settings.clone(), &data).unwrap();
    // Round 0 finishes on the GPU; round 1's ticket is half-way when the device goes.
    pollster::block_on(e.advance(&gpu, &data, settings.iters + 40)).unwrap();
    ctx.simulate_device_loss();
    let err = pollster::block_on(e.advance(&gpu, &data, 40)).expect_err("the GPU is gone");
    assert!(matches!(err, Error::DeviceLost(_)), "{err}");
    // The finished round is kept; the interrupted run starts again from its start on the CPU.
    assert_eq!(e.results().len(), 1);
    let p = advance(&mut e, &data, 0);
    assert_eq!(
        (p.round, p.arm, p.iter),
        (1, Arm::Ticket, settings.rewind_iter)
    );
    assert_eq!(p.backend, Some("cpu"));
    while !advance(&mut e, &data, 1_000).done {}
    assert_eq!(e.results().len(), 4);
    let ticket = &e.results()[1];
    assert_eq!(ticket.curve.first().unwrap().iter, settings.rewind_iter);
    assert_eq!(ticket.curve.last().unwrap().iter, settings.iters);
}

fn json_lines(out: &Output) -> Vec<Value> {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("every stdout line is JSON"))
        .collect()
}

#[test]
fn cli_lottery_prints_a_line_per_round_and_arm_then_a_summary() {
    common::mnist();
    let out = common::pruneplay(&[
        "lottery",
        "--rounds",
        "2",
        "--iters",
        "100",
        "--rewind-iter",
        "20",
        "--eval-every",
        "50",
        "--controls",
        "reinit,random-mask",
        "--seed",
        "1",
        "--backend",
        "cpu",
        "--json",
    ]);
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 7 + 1);
    let expected = [
        (0, "ticket", 100.0),
        (1, "ticket", 80.0376),
        (1, "reinit", 80.0376),
        (1, "random-mask", 80.0376),
        (2, "ticket", 64.0639),
        (2, "reinit", 64.0639),
        (2, "random-mask", 64.0639),
    ];
    for (line, (round, arm, remaining)) in lines.iter().zip(expected) {
        assert_eq!(line["event"], "round");
        assert_eq!(line["round"], round);
        assert_eq!(line["arm"], arm);
        let w = line["weights_remaining"].as_f64().unwrap();
        assert!((w - remaining).abs() < 1e-4, "{w} vs {remaining}");
        let stop = line["early_stop_iter"].as_u64().unwrap();
        let start = if round == 0 { 0 } else { 20 };
        assert_eq!(line["start_iter"], start);
        assert!([start, 50, 100].contains(&stop), "early stop at {stop}");
        for field in ["test_acc_at_early_stop", "final_test_acc"] {
            let acc = line[field].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&acc), "{field} {acc}");
        }
    }
    assert!(lines[0]["final_test_acc"].as_f64().unwrap() > 0.8);
    let summary = &lines[7];
    assert_eq!(summary["event"], "summary");
    assert_eq!(summary["runs"], 7);
    assert_eq!(summary["backend"], "cpu");
    assert_eq!(summary["ladder"].as_array().unwrap().len(), 3);
}

#[test]
fn cli_instability_prints_the_curve_and_the_barrier() {
    common::mnist();
    let out = common::pruneplay(&[
        "instability",
        "--iters",
        "60",
        "--rewind-iter",
        "20",
        "--eval-every",
        "20",
        "--backend",
        "cpu",
        "--json",
    ]);
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 11 + 1);
    assert!(lines[..11].iter().all(|l| l["event"] == "alpha"));
    assert_eq!(lines[0]["alpha"], 0.0);
    assert_eq!(lines[10]["alpha"], 1.0);
    let summary = &lines[11];
    assert_eq!(summary["event"], "summary");
    assert_eq!(summary["curve"].as_array().unwrap().len(), 11);
    let barrier = summary["barrier"].as_f64().unwrap();
    assert!((0.0..1.0).contains(&barrier), "barrier {barrier}");
    assert_eq!(summary["weights_remaining"], 100.0);
}

#[test]
fn cli_rejects_bad_lottery_settings_with_messages() {
    for (args, message) in [
        (
            &["lottery", "--iters", "100", "--rewind-iter", "100"][..],
            "rewind iteration 100",
        ),
        (&["lottery", "--controls", "reinit,shuffle"], "unknown arm"),
        (
            &["lottery", "--strategy", "sideways"],
            "unknown pruning strategy",
        ),
        (&["lottery", "--rounds", "99"], "rounds = 99"),
        (&["instability", "--alphas", "1"], "alphas = 1"),
    ] {
        common::assert_clean_failure(&common::pruneplay(args), message);
    }
}
