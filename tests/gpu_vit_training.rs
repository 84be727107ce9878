//! The ViT on the GPU engine against the CPU engine on real MNIST: same seed, same batches, same
//! results up to rounding (the CPU engine is the reference). Runs on lavapipe natively.

mod common;

use std::rc::Rc;

use common::gpu;
use pruneplay::Error;
use pruneplay::data::Mnist;
use pruneplay::engine::{Backend, Engine, finetune};
use pruneplay::gpu::{GpuContext, GpuVitTrainer};
use pruneplay::model::{Model, ModelSpec, Network, Vit, VitConfig};
use pruneplay::prune::{self, Method, PruneOptions, vit_compaction};
use pruneplay::train::{
    BatchOrder, Budget, LrSchedule, OptimizerConfig, Split, StepStats, TrainConfig, Trainer,
    evaluate,
};

/// A context the test can hand to the engine; the shared one stays borrowed by `gpu()`.
fn own_context() -> Rc<GpuContext> {
    Rc::new(pollster::block_on(GpuContext::new()).expect("an adapter exists"))
}

/// A ViT small enough for lavapipe to train hundreds of steps in a test, with the shipped
/// model's structure (patches of 7×7, pre-LN blocks, MLP ratio 2).
fn small() -> VitConfig {
    VitConfig {
        dim: 32,
        depth: 2,
        heads: 2,
        mlp_ratio: 2.0,
    }
}

/// The ViT's own recipe (AdamW, weight decay 0.05, warmup then cosine) for `steps` steps at batch
/// 64.
fn config(vit: VitConfig, steps: u64) -> TrainConfig {
    TrainConfig {
        batch: 64,
        budget: Budget::Iters(steps),
        eval_every: 0,
        ..TrainConfig::defaults_for(ModelSpec::Vit(vit))
    }
}

fn mnist() -> Rc<Mnist> {
    Rc::new(common::mnist())
}

/// Trains both engines `chunks` times `chunk` steps and checks the loss curves: each chunk's mean
/// loss on the GPU within `2%` of the CPU engine's (relative), with the same step and epoch. The
/// engines take the same batches and compute the same sums in another order, so the curves
/// overlap; a wrong kernel, a wrong learning rate or a different batch order moves a chunk by
/// tens of percent.
fn assert_curves_agree(cpu: &mut Engine, gpu: &mut Engine, chunks: usize, chunk: u64) {
    for i in 0..chunks {
        let c: StepStats = pollster::block_on(cpu.train_steps(chunk)).unwrap();
        let g: StepStats = pollster::block_on(gpu.train_steps(chunk)).unwrap();
        let rel = (g.loss - c.loss).abs() / c.loss;
        println!(
            "steps {:>4}: cpu loss {:.6} acc {:.4} | gpu loss {:.6} acc {:.4} | rel diff {:.1e}",
            c.step, c.loss, c.accuracy, g.loss, g.accuracy, rel
        );
        assert_eq!((g.step, g.epoch), (c.step, c.epoch));
        assert!(
            rel <= 0.02,
            "chunk {i}: gpu loss {} vs cpu {} ({:.2}% apart)",
            g.loss,
            c.loss,
            100.0 * rel
        );
    }
}

/// 300 steps of the ViT's recipe (AdamW, a warmup, here over 50 steps, then the cosine down to
/// 0 at step 300) on both engines: the mean loss of every 50-step chunk on the GPU is within 2%
/// of the CPU engine's (relative), and the test accuracies at the end are within half a point.
#[test]
fn gpu_and_cpu_vit_training_agree_over_300_steps() {
    let Some((_turn, _)) = gpu() else { return };
    let mnist = mnist();
    let config = TrainConfig {
        schedule: LrSchedule::WarmupCosine { warmup_steps: 50 },
        ..config(small(), 300)
    };
    let mut cpu = Engine::cpu(&config, &mnist).unwrap();
    let mut gpu = Engine::gpu(own_context(), &config, &mnist).unwrap();
    assert_eq!(gpu.backend(), "gpu");
    assert!(gpu.adapter().is_some());
    // The same seeded initial weights.
    assert_eq!(
        pollster::block_on(gpu.model()).unwrap(),
        pollster::block_on(cpu.model()).unwrap()
    );
    assert_curves_agree(&mut cpu, &mut gpu, 6, 50);
    let c = pollster::block_on(cpu.evaluate(Split::Test)).unwrap();
    let g = pollster::block_on(gpu.evaluate(Split::Test)).unwrap();
    println!(
        "test accuracy after 300 steps: cpu {:.4}, gpu {:.4}",
        c.accuracy, g.accuracy
    );
    assert!((g.accuracy - c.accuracy).abs() <= 0.005);
    assert!(g.accuracy > 0.5, "the ViT learnt ({})", g.accuracy);
}

/// The shipped ViT (D64, 4 blocks of 4 heads, MLP ratio 2) at its batch of 128, with AdamW at
/// its peak rate held constant (so the weights move from the first step): 20 steps on both
/// engines give mean losses within 2% per 5-step chunk, and weights whose difference is small
/// beside what training moved them (RMS under 5% of the CPU's update; Adam's normalised step
/// can flip for gradients near zero, so a few weights may differ by up to 2·lr).
#[test]
fn the_shipped_vit_trains_on_the_gpu_as_on_the_cpu() {
    let Some((_turn, _)) = gpu() else { return };
    let mnist = mnist();
    let config = TrainConfig {
        budget: Budget::Iters(20),
        schedule: LrSchedule::Constant,
        ..TrainConfig::vit()
    };
    let mut cpu = Engine::cpu(&config, &mnist).unwrap();
    let initial = pollster::block_on(cpu.model()).unwrap();
    let mut gpu = Engine::gpu(own_context(), &config, &mnist).unwrap();
    assert_curves_agree(&mut cpu, &mut gpu, 4, 5);
    let (c, g) = (
        pollster::block_on(cpu.model()).unwrap(),
        pollster::block_on(gpu.model()).unwrap(),
    );
    let rms = |a: &ndarray::Array2<f32>, b: &ndarray::Array2<f32>| {
        ((a - b)
            .mapv(|d| f64::from(d) * f64::from(d))
            .mean()
            .unwrap_or(0.0))
        .sqrt()
    };
    for (i, ((lc, lg), l0)) in c
        .linears()
        .iter()
        .zip(g.linears())
        .zip(initial.linears())
        .enumerate()
    {
        let (apart, moved) = (rms(&lg.weight, &lc.weight), rms(&lc.weight, &l0.weight));
        println!("linear {i}: gpu − cpu RMS {apart:.3e}, cpu update RMS {moved:.3e}");
        assert!(
            apart <= 0.05 * moved,
            "linear {i}: {apart} apart, moved {moved}"
        );
    }
}

/// The GPU's evaluation equals the CPU engine's evaluation of the model read back from the GPU:
/// accuracy within 0.1 points, mean loss within 1e-3 relative, on both held-out splits.
#[test]
fn gpu_vit_evaluation_matches_cpu_evaluation_of_the_same_model() {
    let Some((_turn, _)) = gpu() else { return };
    let mnist = mnist();
    let config = config(small(), 100);
    let mut engine = Engine::gpu(own_context(), &config, &mnist).unwrap();
    pollster::block_on(engine.train_steps(100)).unwrap();
    let model = pollster::block_on(engine.model()).unwrap();
    for (split, data) in [
        (Split::Validation, &mnist.validation),
        (Split::Test, &mnist.test),
    ] {
        let g = pollster::block_on(engine.evaluate(split)).unwrap();
        let c = evaluate(&model, data);
        println!(
            "{split:?}: gpu acc {:.4} loss {:.6} | cpu acc {:.4} loss {:.6}",
            g.accuracy, g.loss, c.accuracy, c.loss
        );
        assert!((g.accuracy - c.accuracy).abs() <= 0.001);
        assert!((g.loss - c.loss).abs() <= 1e-3 * c.loss);
        assert_eq!(
            g.confusion.iter().flatten().sum::<u32>() as usize,
            data.len()
        );
        let differing = g
            .predictions
            .iter()
            .zip(&c.predictions)
            .filter(|(a, b)| a != b)
            .count();
        assert!(
            differing * 1000 <= data.len(),
            "{differing} predictions differ"
        );
    }
}

/// Masks every MLP unit in `units` of block `block` (its `fc1` row), as the structured methods
/// do, so compaction deletes them.
fn mask_units(vit: &mut Vit, block: usize, units: std::ops::Range<usize>) {
    let fc1 = &mut vit.linears_mut()[Vit::fc1(block)];
    let mut mask = fc1.mask.clone();
    for u in units {
        mask.row_mut(u).fill(0.0);
        fc1.bias[u] = 0.0;
    }
    fc1.set_mask(mask).unwrap();
}

/// A ViT with every structure the GPU engine must handle: trained briefly on the CPU, then
/// compacted to blocks of [2 heads, 64 units], [0 heads, 64 units], [2 heads, 0 units] and
/// [2 heads, 32 units]; half its weights pruned by magnitude; head 0 of block 0 masked; and the
/// last block removed.
fn structured_vit(mnist: &Mnist) -> Vit {
    let vit = VitConfig {
        depth: 5,
        ..small()
    };
    let mut trainer = Trainer::<Vit>::new(&config(vit, 100), &mnist.train).unwrap();
    trainer.train_steps(&mnist.train, 100).unwrap();
    let mut model = trainer.into_model();
    model.set_head_mask(1, &[0.0, 0.0]).unwrap();
    mask_units(&mut model, 2, 0..64);
    mask_units(&mut model, 3, 0..32);
    model
        .set_removed_blocks(&[false, false, false, false, true])
        .unwrap();
    let mut model = vit_compaction::compact(&model).unwrap().model;
    let shapes: Vec<_> = model
        .block_shapes()
        .iter()
        .map(|s| (s.heads, s.hidden))
        .collect();
    assert_eq!(shapes, [(2, 64), (0, 64), (2, 0), (2, 32)]);
    prune::prune(
        Method::Magnitude,
        &mut model,
        None,
        &PruneOptions {
            sparsity: 0.5,
            ..PruneOptions::default()
        },
    )
    .unwrap();
    model.set_head_mask(0, &[0.0, 1.0]).unwrap();
    model
        .set_removed_blocks(&[false, false, false, true])
        .unwrap();
    model
}

/// Fine-tuning a compacted, pruned, head-masked ViT with a removed block (AdamW at the constant
/// fine-tuning rate): the GPU's loss curve matches the CPU engine's within 2% per 50-step chunk;
/// the masks hold (pruned weights exactly +0, head masks and removed blocks as they were, the
/// removed block still the identity); the removed block's decayed weights match the CPU's.
/// Restarting with the block put back rebuilds the step and trains it as the CPU does.
#[test]
fn a_compacted_masked_vit_with_a_removed_block_fine_tunes_on_the_gpu_as_on_the_cpu() {
    let Some((_turn, _)) = gpu() else { return };
    let mnist = mnist();
    let model = structured_vit(&mnist);
    let mut tuning = TrainConfig::finetune(model.spec().parse().unwrap(), Budget::Iters(100), 0);
    tuning.batch = 64;
    assert_eq!(tuning.schedule, LrSchedule::Constant);

    // Upload and read-back are exact.
    let trainer = GpuVitTrainer::with_model(own_context(), &model, &tuning, &mnist).unwrap();
    assert_eq!(pollster::block_on(trainer.model()).unwrap(), model);
    drop(trainer);

    let as_model = Model::from(model.clone());
    let mut cpu = Engine::cpu_from(as_model.clone(), &tuning, &mnist).unwrap();
    let ctx = own_context();
    let mut gpu = Engine::gpu_from(Rc::clone(&ctx), &as_model, &tuning, &mnist).unwrap();
    assert_curves_agree(&mut cpu, &mut gpu, 2, 50);

    let tuned = pollster::block_on(gpu.model()).unwrap();
    let reference = pollster::block_on(cpu.model()).unwrap();
    let (tuned, reference) = (tuned.as_vit().unwrap(), reference.as_vit().unwrap());
    assert_eq!(tuned.block_shapes(), model.block_shapes());
    assert_eq!(tuned.head_masks(), model.head_masks());
    assert_eq!(tuned.removed_blocks(), model.removed_blocks());
    for (i, (layer, before)) in tuned.linears().iter().zip(model.linears()).enumerate() {
        assert_eq!(layer.mask, before.mask, "linear {i}'s mask");
        for (&w, &m) in layer.weight.iter().zip(&layer.mask) {
            if m == 0.0 {
                assert_eq!(w.to_bits(), 0, "a pruned weight of linear {i} became {w}");
            }
        }
    }
    // The masked head's proj columns are still zero (its mask is), and the removed block adds
    // nothing: proj and fc2 all zeros.
    for i in [Vit::proj(3), Vit::fc2(3)] {
        let l = &tuned.linears()[i];
        assert!(l.weight.iter().chain(&l.bias).all(|v| v.to_bits() == 0));
    }
    // The removed block's qkv and fc1 had zero gradients, so only AdamW's decay moved them, on
    // both engines alike; its LayerNorms did not move at all.
    for i in [Vit::qkv(3), Vit::fc1(3)] {
        let (g, c, before) = (
            &tuned.linears()[i],
            &reference.linears()[i],
            &model.linears()[i],
        );
        common::assert_close(
            &common::flat(&g.weight),
            &common::flat(&c.weight),
            1e-7,
            1e-5,
            "a removed block's decayed weights",
        );
        assert_ne!(
            g.weight, before.weight,
            "AdamW decays a removed block's weights"
        );
        assert_eq!(g.bias, before.bias);
    }
    assert_eq!(tuned.norm1()[3], model.norm1()[3]);
    assert_eq!(tuned.norm2()[3], model.norm2()[3]);
    // The kept blocks trained.
    assert_ne!(
        tuned.linears()[Vit::fc1(0)].weight,
        model.linears()[Vit::fc1(0)].weight
    );

    // Put the block back (its proj and fc2 stay zero, so it starts as the identity) and restart
    // both engines on it: the GPU rebuilds its step without re-uploading the data.
    let mut back = model.clone();
    back.set_removed_blocks(&[false; 4]).unwrap();
    let back = Model::from(back);
    let order = || BatchOrder::new(mnist.train.len(), 7);
    cpu.restart(&back, order(), 0).unwrap();
    gpu.restart(&back, order(), 0).unwrap();
    assert!(gpu.runs_on(&Backend::Gpu(Rc::clone(&ctx))));
    assert_curves_agree(&mut cpu, &mut gpu, 1, 50);
    let restarted = pollster::block_on(gpu.model()).unwrap();
    let restarted = restarted.as_vit().unwrap();
    assert_eq!(restarted.removed_blocks(), &[false; 4]);
    assert!(
        restarted.linears()[Vit::fc2(3)]
            .bias
            .iter()
            .any(|&b| b != 0.0),
        "the block put back trains"
    );
}

/// `engine::finetune`, which `prune --finetune-epochs` and `sweep` call, fine-tunes a head-pruned
/// ViT on the GPU backend: the same losses as on the CPU backend (the test accuracy within half a
/// point), the head mask held.
#[test]
fn finetune_runs_a_vit_on_the_gpu_backend() {
    let Some((_turn, _)) = gpu() else { return };
    let mnist = mnist();
    let mut vit = Vit::seeded(&small(), 3);
    vit.set_head_mask(1, &[1.0, 0.0]).unwrap();
    let model = Model::from(vit);
    let mut tuning = TrainConfig::finetune(model.spec().parse().unwrap(), Budget::Iters(40), 0);
    tuning.batch = 64;
    let gpu_backend = Backend::Gpu(own_context());
    let on_gpu = pollster::block_on(finetune(&gpu_backend, &model, &tuning, &mnist)).unwrap();
    let on_cpu = pollster::block_on(finetune(&Backend::Cpu, &model, &tuning, &mnist)).unwrap();
    assert_ne!(on_gpu, model, "the GPU fine-tuned");
    let (g, c) = (
        evaluate(&on_gpu, &mnist.test),
        evaluate(&on_cpu, &mnist.test),
    );
    println!(
        "after fine-tuning: gpu test acc {:.4}, cpu {:.4}",
        g.accuracy, c.accuracy
    );
    assert!((g.accuracy - c.accuracy).abs() <= 0.005);
    assert!((g.loss - c.loss).abs() <= 0.02 * c.loss);
    let vit = on_gpu.as_vit().unwrap();
    assert_eq!(vit.head_mask(1).to_vec(), [1.0, 0.0]);
}

/// SGD at lr 10 (constant) blows the ViT up; the GPU engine reports the divergence and puts the
/// model back as it was before the call, bit for bit.
#[test]
fn gpu_vit_divergence_is_reported_and_the_model_restored() {
    let Some((_turn, _)) = gpu() else { return };
    let mnist = mnist();
    let config = TrainConfig {
        optimizer: OptimizerConfig {
            lr: 10.0,
            ..OptimizerConfig::sgd()
        },
        schedule: LrSchedule::Constant,
        ..config(small(), 100)
    };
    let mut trainer = GpuVitTrainer::new(own_context(), &config, &mnist).unwrap();
    let before = pollster::block_on(trainer.model()).unwrap();
    match pollster::block_on(trainer.train_steps(100)) {
        Err(e @ Error::Diverged { kept_step: 0, .. }) => {
            assert!(e.to_string().contains("restored to step 0"), "{e}");
        }
        other => panic!("expected a divergence, got {other:?}"),
    }
    assert_eq!(trainer.step(), 0);
    assert_eq!(pollster::block_on(trainer.model()).unwrap(), before);
    // SGD with a schedule is the one combination the GPU engine refuses, with advice.
    let scheduled = TrainConfig {
        schedule: LrSchedule::WarmupCosine { warmup_steps: 10 },
        ..config
    };
    let err = GpuVitTrainer::new(own_context(), &scheduled, &mnist)
        .err()
        .expect("refused")
        .to_string();
    assert!(err.contains("constant learning rate"), "{err}");
}

/// A ViT whose activations are larger than the device binds is refused before any work, with the
/// buffer named.
#[test]
fn a_vit_too_large_for_the_device_is_refused_before_any_work() {
    let Some((_turn, ctx)) = gpu() else { return };
    let mnist = mnist();
    let max = ctx.limits().max_storage_buffer_binding_size;
    // 1,024 images × 16 tokens × 16,384 MLP units × 4 bytes = 1 GiB for one activation.
    assert!(max < 1 << 30, "this device binds {max} bytes");
    let config = TrainConfig {
        batch: 1_024,
        ..config(
            VitConfig {
                dim: 1_024,
                depth: 1,
                heads: 1,
                mlp_ratio: 16.0,
            },
            1,
        )
    };
    let err = GpuVitTrainer::new(own_context(), &config, &mnist)
        .err()
        .expect("refused")
        .to_string();
    assert!(
        err.contains("one batch of activations") && err.contains("more than this device can bind"),
        "{err}"
    );
}

/// A lost device stops ViT training with [`Error::DeviceLost`]; the model kept at the last
/// evaluation point continues on the CPU engine, as LeNet's does.
#[test]
fn a_lost_device_stops_vit_training_and_the_cpu_can_continue() {
    let Some((_turn, _)) = gpu() else { return };
    let mnist = mnist();
    let config = config(small(), 200);
    let ctx = own_context();
    let mut engine = Engine::gpu(Rc::clone(&ctx), &config, &mnist).unwrap();
    pollster::block_on(engine.train_steps(50)).unwrap();
    let kept = pollster::block_on(engine.model()).unwrap();

    ctx.simulate_device_loss();
    let err = pollster::block_on(engine.train_steps(50)).expect_err("training fails");
    assert!(matches!(err, Error::DeviceLost(_)), "{err}");
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
