//! The ViT through the one core: training with AdamW (masks exact, divergence restored), and the
//! unstructured methods pruning exactly PyTorch's count of each linear layer.

mod common;

use pruneplay::Error;
use pruneplay::model::{ModelSpec, Network, Vit, VitConfig};
use pruneplay::prune::calibration::Calibration;
use pruneplay::prune::selection::count_to_prune;
use pruneplay::prune::{self, Method, PruneOptions};
use pruneplay::train::{Budget, LrSchedule, OptimizerConfig, TrainConfig, Trainer};

fn tiny() -> VitConfig {
    VitConfig {
        dim: 16,
        depth: 2,
        heads: 2,
        mlp_ratio: 2.0,
    }
}

fn config(steps: u64) -> TrainConfig {
    TrainConfig {
        batch: 16,
        budget: Budget::Iters(steps),
        eval_every: 0,
        ..TrainConfig::defaults_for(ModelSpec::Vit(tiny()))
    }
}

#[test]
fn pruned_weights_stay_exactly_zero_through_a_hundred_adamw_steps() {
    let data = common::synthetic(512, 784, 10, 1);
    let mut model = Vit::seeded(&tiny(), 0);
    prune::prune(
        Method::Magnitude,
        &mut model,
        None,
        &PruneOptions {
            sparsity: 0.6,
            ..PruneOptions::default()
        },
    )
    .unwrap();
    let masks: Vec<_> = model.linears().iter().map(|l| l.mask.clone()).collect();
    let mut trainer = Trainer::with_model(model, &config(100), &data).unwrap();
    trainer.train_steps(&data, 100).unwrap();
    for (layer, mask) in trainer.model().linears().iter().zip(&masks) {
        assert_eq!(&layer.mask, mask, "the mask never changes");
        for (&w, &m) in layer.weight.iter().zip(mask) {
            if m == 0.0 {
                assert_eq!(w.to_bits(), 0, "a pruned weight is exactly +0.0");
            }
        }
    }
    // Training did move the kept weights.
    let fresh = Vit::seeded(&tiny(), 0);
    assert_ne!(trainer.model().linears()[1].bias, fresh.linears()[1].bias);
}

#[test]
fn a_diverging_learning_rate_restores_the_vit_bit_for_bit() {
    let data = common::synthetic(512, 784, 10, 2);
    // AdamW at lr 10 only wanders near chance (its steps are bounded and LayerNorm keeps the
    // activations in range); SGD at lr 10 blows up as it does on LeNet.
    let mut c = config(20);
    c.optimizer = OptimizerConfig {
        lr: 10.0,
        ..OptimizerConfig::sgd()
    };
    // At a constant rate: the ViT's warmup would start far below 10.
    c.schedule = LrSchedule::Constant;
    let mut trainer = Trainer::<Vit>::new(&c, &data).unwrap();
    let before = trainer.model().clone();
    match trainer.train_steps(&data, 20) {
        Err(Error::Diverged { kept_step, .. }) => assert_eq!(kept_step, 0),
        other => panic!("expected divergence, got {other:?}"),
    }
    assert_eq!(trainer.model(), &before);
    assert_eq!(trainer.step(), 0);
}

#[test]
fn adamw_decays_linear_weights_only() {
    // Two runs that differ only in the decay: the decayed one's weights are smaller.
    let data = common::synthetic(256, 784, 10, 3);
    let run = |decay: f32| {
        let mut c = config(5);
        c.optimizer.weight_decay = decay;
        let mut t = Trainer::<Vit>::new(&c, &data).unwrap();
        t.train_steps(&data, 5).unwrap();
        t.into_model()
    };
    let (plain, decayed) = (run(0.0), run(0.5));
    let others = |m: &Vit| -> Vec<f32> {
        m.others()
            .iter()
            .flat_map(|(_, a)| a.iter().copied().collect::<Vec<_>>())
            .collect()
    };
    assert_ne!(plain.linears()[1].weight, decayed.linears()[1].weight);
    assert!(others(&decayed).iter().all(|v| v.is_finite()));
    let norm = |m: &Vit| m.linears()[1].weight.iter().map(|w| w * w).sum::<f32>();
    assert!(norm(&decayed) < norm(&plain));
}

#[test]
fn every_unstructured_method_prunes_pytorchs_count_of_each_vit_layer() {
    let data = common::synthetic(256, 784, 10, 4);
    let calibration = Calibration::from_dataset(&data, 32).unwrap();
    let model = Vit::seeded(&tiny(), 5);
    let options = PruneOptions {
        sparsity: 0.7,
        ..PruneOptions::default()
    };
    for method in [Method::Magnitude, Method::Random, Method::Taylor] {
        let mut pruned = model.clone();
        prune::prune(method, &mut pruned, Some(&calibration), &options).unwrap();
        for (name, l) in pruned.linear_names().iter().zip(pruned.linears()) {
            let n = l.weight.len();
            assert_eq!(
                l.kept(),
                n - count_to_prune(0.7, n),
                "{} on {name}",
                method.name()
            );
        }
    }
    // Wanda compares within each output row.
    let mut pruned = model.clone();
    prune::prune(Method::Wanda, &mut pruned, Some(&calibration), &options).unwrap();
    for l in pruned.linears() {
        let (rows, cols) = l.weight.dim();
        assert_eq!(l.kept(), rows * (cols - count_to_prune(0.7, cols)));
    }
    // Global ranking keeps the total count.
    let mut pruned = model.clone();
    prune::prune(Method::GlobalMagnitude, &mut pruned, None, &options).unwrap();
    let n = pruned.weight_count();
    let kept: usize = pruned.linears().iter().map(|l| l.kept()).sum();
    assert_eq!(kept, n - count_to_prune(0.7, n));
    // SparseGPT runs and keeps 30% of each block of 128 columns (all these layers are narrower).
    let mut pruned = model.clone();
    prune::prune(Method::SparseGpt, &mut pruned, Some(&calibration), &options).unwrap();
    for l in pruned.linears() {
        let (rows, cols) = l.weight.dim();
        let expected: usize = (0..cols)
            .step_by(128)
            .map(|b| {
                let w = (cols - b).min(128);
                rows * w - count_to_prune(0.7, rows * w)
            })
            .sum();
        assert_eq!(l.kept(), expected);
    }
}

#[test]
fn structured_methods_remove_whole_mlp_units_of_every_block() {
    let mut model = Vit::seeded(&tiny(), 0);
    assert!(Method::all_for(model.kind()).contains(&Method::TaylorNeuron));
    let options = PruneOptions {
        sparsity: 0.25,
        ..PruneOptions::default()
    };
    pruneplay::prune::prune(Method::StructuredL1, &mut model, None, &options).unwrap();
    for b in 0..model.depth() {
        let (fc1, fc2) = (&model.linears()[Vit::fc1(b)], &model.linears()[Vit::fc2(b)]);
        let gone: Vec<usize> = (0..fc1.outputs())
            .filter(|&j| fc1.mask.row(j).iter().all(|&m| m == 0.0))
            .collect();
        // round(0.25 × hidden) units, each with its bias and its fc2 column.
        assert_eq!(gone.len(), count_to_prune(0.25, fc1.outputs()));
        for &j in &gone {
            assert_eq!(fc1.bias[j], 0.0);
            assert!(fc2.mask.column(j).iter().all(|&m| m == 0.0));
        }
        // Nothing else: the other rows and columns are whole.
        let kept_rows = fc1.outputs() - gone.len();
        assert_eq!(fc1.kept(), kept_rows * fc1.inputs());
        assert_eq!(fc2.kept(), kept_rows * fc2.outputs());
    }
    // The attention layers and the head are untouched.
    assert_eq!(
        model.linears()[Vit::qkv(0)].kept(),
        model.linears()[Vit::qkv(0)].weight.len()
    );
}
