//! The GPU engine against the CPU engine on real MNIST: same seed, same batches, same results up to
//! rounding. Runs on lavapipe natively.

mod common;

use std::rc::Rc;

use common::gpu;
use ndarray::Array2;
use pruneplay::engine::Engine;
use pruneplay::gpu::GpuTrainer;
use pruneplay::model::{Init, Mlp, Network};
use pruneplay::train::{Budget, OptimizerConfig, Split, TrainConfig, evaluate};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// A context the test can hand to the engine; the shared one stays borrowed by `gpu()`.
fn own_context() -> Rc<pruneplay::gpu::GpuContext> {
    Rc::new(pollster::block_on(pruneplay::gpu::GpuContext::new()).expect("an adapter exists"))
}

fn config(steps: u64) -> TrainConfig {
    TrainConfig {
        budget: Budget::Iters(steps),
        seed: 0,
        ..TrainConfig::default()
    }
}

#[test]
fn gpu_and_cpu_training_agree_over_300_steps() {
    let Some((_turn, _)) = gpu() else { return };
    let mnist = std::rc::Rc::new(common::mnist());
    let config = config(300);
    let mut cpu = Engine::cpu(&config, &mnist).unwrap();
    let mut gpu = Engine::gpu(own_context(), &config, &mnist).unwrap();
    for chunk in 0..6 {
        let c = pollster::block_on(cpu.train_steps(50)).unwrap();
        let g = pollster::block_on(gpu.train_steps(50)).unwrap();
        println!(
            "steps {:>3}: cpu loss {:.5} acc {:.4} | gpu loss {:.5} acc {:.4}",
            c.step, c.loss, c.accuracy, g.loss, g.accuracy
        );
        assert_eq!((g.step, g.epoch), (c.step, c.epoch));
        // Same batches and same arithmetic up to summation order: the curves overlap. Rounding
        // differences grow slowly through training; 2% of the loss is far below what a wrong
        // kernel or a different batch order gives (tens of percent).
        let tolerance = 0.002 + 0.02 * c.loss;
        assert!(
            (g.loss - c.loss).abs() <= tolerance,
            "chunk {chunk}: gpu loss {} vs cpu {}",
            g.loss,
            c.loss
        );
    }
    let c = pollster::block_on(cpu.evaluate(Split::Test)).unwrap();
    let g = pollster::block_on(gpu.evaluate(Split::Test)).unwrap();
    println!(
        "test accuracy after 300 steps: cpu {:.4}, gpu {:.4}",
        c.accuracy, g.accuracy
    );
    assert!(
        (g.accuracy - c.accuracy).abs() <= 0.005,
        "gpu {} vs cpu {}",
        g.accuracy,
        c.accuracy
    );
    assert!(g.accuracy > 0.9);
    assert_eq!(gpu.backend(), "gpu");
    assert!(gpu.adapter().is_some());
}

#[test]
fn gpu_evaluation_matches_cpu_evaluation_of_the_same_model() {
    let Some((_turn, _)) = gpu() else { return };
    let mnist = std::rc::Rc::new(common::mnist());
    let config = config(200);
    let mut engine = Engine::gpu(own_context(), &config, &mnist).unwrap();
    pollster::block_on(engine.train_steps(200)).unwrap();
    let model = pollster::block_on(engine.model()).unwrap();
    for (split, data) in [
        (Split::Validation, &mnist.validation),
        (Split::Test, &mnist.test),
    ] {
        let g = pollster::block_on(engine.evaluate(split)).unwrap();
        let c = evaluate(&model, data);
        // A sample whose top two logits tie to within rounding may flip; allow 0.05% of them.
        let differing = g
            .predictions
            .iter()
            .zip(&c.predictions)
            .filter(|(a, b)| a != b)
            .count();
        assert!(
            differing * 2000 <= data.len(),
            "{differing} predictions differ"
        );
        assert!((g.accuracy - c.accuracy).abs() <= 0.0005);
        common::assert_close(&[g.loss], &[c.loss], 1e-5, 1e-4, "mean loss");
        assert_eq!(
            g.confusion.iter().flatten().sum::<u32>() as usize,
            data.len()
        );
    }
}

#[test]
fn gpu_training_holds_masks_and_round_trips_the_model() {
    let Some((_turn, _)) = gpu() else { return };
    let mnist = std::rc::Rc::new(common::mnist());
    let config = config(100);
    let mut model = Mlp::new(
        config.arch.mlp("this test").unwrap(),
        Init::Glorot,
        &mut ChaCha8Rng::seed_from_u64(4),
    );
    for layer in model.layers_mut() {
        let mask = Array2::from_shape_fn(layer.weight.dim(), |(r, c)| {
            ((r * 7 + c) % 3 != 0) as u8 as f32
        });
        layer.set_mask(mask).unwrap();
    }
    let mut trainer = GpuTrainer::with_model(own_context(), &model, &config, &mnist).unwrap();
    // Upload and download are exact.
    assert_eq!(pollster::block_on(trainer.model()).unwrap(), model);
    pollster::block_on(trainer.train_steps(100)).unwrap();
    let trained = pollster::block_on(trainer.model()).unwrap();
    assert_eq!(trained.weights_remaining(), model.weights_remaining());
    for (layer, before) in trained.layers().iter().zip(model.layers()) {
        assert_eq!(layer.mask, before.mask);
        for (&w, &m) in layer.weight.iter().zip(&layer.mask) {
            if m == 0.0 {
                assert_eq!(w.to_bits(), 0, "a pruned weight became {w} on the GPU");
            }
        }
        assert_ne!(layer.weight, before.weight, "the kept weights trained");
    }
}

#[test]
fn gpu_divergence_is_reported_and_the_model_restored() {
    let Some((_turn, _)) = gpu() else { return };
    let mnist = std::rc::Rc::new(common::mnist());
    let config = TrainConfig {
        optimizer: OptimizerConfig {
            lr: 10.0,
            ..OptimizerConfig::sgd()
        },
        ..config(100)
    };
    let mut trainer = GpuTrainer::new(own_context(), &config, &mnist).unwrap();
    let before = pollster::block_on(trainer.model()).unwrap();
    let err = pollster::block_on(trainer.train_steps(100))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("training diverged") && err.contains("restored to step 0"),
        "{err}"
    );
    assert_eq!(trainer.step(), 0);
    assert_eq!(pollster::block_on(trainer.model()).unwrap(), before);
}

#[test]
fn a_network_too_large_for_the_device_is_refused_before_any_work() {
    let Some((_turn, ctx)) = gpu() else { return };
    let mnist = std::rc::Rc::new(common::mnist());
    // A 16,384 × 16,384 weight matrix is 1 GiB: more than WebGPU lets one binding hold (the
    // default is 128 MiB; lavapipe and browsers report about that).
    let max = ctx.limits().max_storage_buffer_binding_size;
    assert!(
        max < 1 << 30,
        "this device binds {max} bytes; the test needs a smaller limit"
    );
    let config = TrainConfig {
        arch: "784-16384-16384-10".parse().unwrap(),
        ..config(1)
    };
    let err = GpuTrainer::new(own_context(), &config, &mnist)
        .err()
        .expect("refused")
        .to_string();
    assert!(
        err.contains("the largest weight matrix") && err.contains("more than this device can bind"),
        "{err}"
    );
}

#[test]
fn a_lost_device_stops_training_with_a_message_and_the_cpu_can_continue() {
    let Some((_turn, _)) = gpu() else { return };
    let mnist = std::rc::Rc::new(common::mnist());
    let config = config(200);
    let ctx = own_context();
    let mut engine = Engine::gpu(Rc::clone(&ctx), &config, &mnist).unwrap();
    pollster::block_on(engine.train_steps(50)).unwrap();
    // The evaluation point: the model a caller keeps (the page does this at every progress report).
    let kept = pollster::block_on(engine.model()).unwrap();

    ctx.simulate_device_loss();
    let err = pollster::block_on(engine.train_steps(50)).expect_err("training fails");
    assert!(matches!(err, pruneplay::Error::DeviceLost(_)), "{err}");
    assert!(
        err.to_string().contains("training can continue on the CPU"),
        "{err}"
    );

    let mut cpu = Engine::cpu_from(kept.clone(), &config, &mnist).unwrap();
    let before = evaluate(&kept, &mnist.test).accuracy;
    pollster::block_on(cpu.train_steps(100)).unwrap();
    let after = pollster::block_on(cpu.evaluate(Split::Test))
        .unwrap()
        .accuracy;
    assert!(
        after > before,
        "the CPU continued from the kept model ({before} → {after})"
    );
}
