//! `pruneplay prune`: one method, one sparsity, on a saved model; optional fine-tuning.

use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Instant;

use clap::Args;
use serde::Serialize;

use super::report::Reporter;
use super::train::{BackendChoice, DatasetName, load_data, resolve_backend};
use pruneplay::checkpoint::{self, Checkpoint};
use pruneplay::data::Mnist;
use pruneplay::engine::{Backend, finetune};
use pruneplay::model::{Model, ModelSpec, Network};
use pruneplay::prune::calibration::Calibration;
use pruneplay::prune::compaction::compact;
use pruneplay::prune::vit_compaction;
use pruneplay::prune::{self, Family, LayerCount, Method, NM, PruneOptions, Scope};
use pruneplay::train::{Budget, TrainConfig, evaluate};

/// The engine that fine-tunes, made only when something is fine-tuned (so a plain prune never
/// starts a GPU), and once.
struct Tuner {
    choice: BackendChoice,
    /// The model's spec, which the fine-tuning settings are made for.
    spec: ModelSpec,
    backend: Option<Backend>,
}

impl Tuner {
    fn new(choice: BackendChoice, model: &impl Network) -> Result<Self, pruneplay::Error> {
        Ok(Self {
            choice,
            spec: model.spec().parse()?,
            backend: None,
        })
    }

    fn backend(&mut self) -> Result<&Backend, pruneplay::Error> {
        if self.backend.is_none() {
            self.backend = Some(resolve_backend(self.choice)?);
        }
        Ok(self.backend.as_ref().expect("just set"))
    }
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// List the methods with one line each, and exit.
    #[arg(long)]
    list: bool,
    /// The trained model: safetensors with PyTorch names (an nn.Sequential or named Linear
    /// modules, with or without torch.nn.utils.prune's masks, or a timm ViT), e.g. from
    /// `pruneplay train --out`.
    #[arg(long, required_unless_present = "list")]
    model: Option<PathBuf>,
    /// A masks file (only `….weight_mask` tensors, under the model's names, e.g. from
    /// --out-masks) put on --model before pruning; with --sparsity 0 the run evaluates the
    /// masked model.
    #[arg(long)]
    masks: Option<PathBuf>,
    #[arg(long, default_value = "magnitude")]
    method: String,
    /// Fraction of the still-unpruned weights to prune (of hidden neurons for structured methods,
    /// of the heads left for head methods).
    #[arg(long, default_value_t = 0.5)]
    sparsity: f64,
    /// Layer methods: the number of blocks to drop.
    #[arg(long, default_value_t = 0)]
    remove: usize,
    /// Head methods: rank all heads together (global) or each block's own (per-block).
    #[arg(long, value_parser = ["global", "per-block"], default_value = "global")]
    scope: String,
    /// Save the compacted model with --out: removed heads, blocks and neurons deleted.
    #[arg(long)]
    compact: bool,
    /// N of an N:M pattern (with --m): keep N of every M consecutive inputs.
    #[arg(long, requires = "m")]
    n: Option<usize>,
    #[arg(long, requires = "n")]
    m: Option<usize>,
    /// Calibration samples for taylor, taylor-neuron, wanda and sparsegpt.
    #[arg(long, default_value_t = prune::calibration::DEFAULT_SAMPLES)]
    calib: usize,
    /// Epochs of fine-tuning with the masks held (0: none).
    #[arg(long, default_value_t = 0)]
    finetune_epochs: u32,
    /// imp: rounds of prune → fine-tune (--finetune-epochs per round, default 1; 5 rounds by
    /// default). Head methods: rounds of scoring → removal to reach --sparsity (1 by default).
    #[arg(long)]
    rounds: Option<u32>,
    /// imp: rank all layers together (global magnitude) instead of per layer.
    #[arg(long)]
    global: bool,
    /// gradual: pruning steps after the first (n in Zhu & Gupta's schedule).
    #[arg(long, default_value_t = 10)]
    gradual_steps: u32,
    /// gradual: training steps between pruning steps (Δt).
    #[arg(long, default_value_t = 100)]
    prune_every: u64,
    /// Per-layer fractions, e.g. 0.8,0.8,0.5 (overrides --sparsity and --output-rate).
    #[arg(long, value_delimiter = ',')]
    per_layer: Option<Vec<f64>>,
    /// The output layer prunes this multiple of the sparsity (0 leaves it alone).
    #[arg(long, default_value_t = 1.0)]
    output_rate: f64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long)]
    data: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "mnist")]
    dataset: DatasetName,
    /// Save the pruned model (weights and masks under the names --model had).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Save the pruned model's masks alone (every layer's `….weight_mask`, under the names
    /// --model had).
    #[arg(long)]
    out_masks: Option<PathBuf>,
    /// The engine that fine-tunes (imp and gradual train on the CPU engine).
    #[arg(long, value_enum, default_value = "auto")]
    backend: BackendChoice,
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Compaction {
    arch: String,
    parameters_before: usize,
    parameters_after: usize,
    neurons_removed: usize,
    /// ViT: heads and blocks deleted.
    #[serde(skip_serializing_if = "Option::is_none")]
    heads_removed: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    blocks_removed: Option<usize>,
    /// Forward pass over the test set: the masked dense model vs the compacted one (median of 5).
    dense_forward_ms: f64,
    compacted_forward_ms: f64,
}

/// Median wall time of `runs` forward passes over the batch `x` (after `warmup` untimed ones),
/// in milliseconds.
pub(super) fn forward_ms(
    model: &impl Network,
    x: ndarray::ArrayView2<f32>,
    warmup: usize,
    runs: usize,
) -> f64 {
    for _ in 0..warmup {
        std::hint::black_box(model.logits(x));
    }
    let runs = runs.max(1);
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(model.logits(x));
            1e3 * t.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[runs / 2]
}

#[derive(Serialize)]
struct Summary {
    event: &'static str,
    /// How the model file named its tensors (`pruneplay prune` only; not in sweep rows).
    #[serde(skip_serializing_if = "Option::is_none")]
    layout: Option<String>,
    /// The masks file put on the model before pruning, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    masks: Option<String>,
    method: &'static str,
    sparsity: f64,
    n_m: Option<String>,
    /// Layer methods: blocks dropped.
    #[serde(skip_serializing_if = "Option::is_none")]
    remove: Option<usize>,
    /// Head methods: the scope and rounds.
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<Scope>,
    #[serde(skip_serializing_if = "Option::is_none")]
    head_rounds: Option<usize>,
    weights_remaining: f64,
    /// ViT: heads kept in each block, and blocks not removed (null for an MLP).
    heads_per_block: Option<Vec<usize>>,
    blocks_remaining: Option<usize>,
    /// ViT: the indices of the blocks removed (empty when none).
    #[serde(skip_serializing_if = "Option::is_none")]
    removed_blocks: Option<Vec<usize>>,
    layers: Vec<LayerCount>,
    /// The model as loaded (with --masks applied), before pruning.
    test_acc_before: f64,
    test_acc_pruned: f64,
    test_acc_finetuned: Option<f64>,
    compacted: Option<Compaction>,
    /// imp: each round.
    rounds: Option<Vec<pruneplay::prune::iterative::Round>>,
    /// gradual: each pruning point.
    schedule: Option<Vec<pruneplay::prune::gradual::Point>>,
    seconds: f64,
    out: Option<String>,
}

pub fn run(args: PruneArgs) -> Result<(), Box<dyn std::error::Error>> {
    if args.list {
        for m in Method::every() {
            println!("{:<17} {}", m.name(), m.summary());
        }
        println!(
            "{:<17} iterative magnitude: --rounds of prune → fine-tune, 1 − (1 − s)^(1/n) per round",
            "imp"
        );
        println!(
            "{:<17} magnitude pruning during training on Zhu & Gupta's cubic schedule",
            "gradual"
        );
        return Ok(());
    }
    if args.method == "imp" || args.method == "gradual" {
        return run_schedule(&args);
    }
    let method = Method::from_name(&args.method)?;
    let Some(path) = args.model.as_ref() else {
        return Err("--model is required".into());
    };
    if args.rounds.is_some() && !method.is_head() {
        return Err(format!(
            "--rounds applies to imp and to the head methods, not to {}",
            method.name()
        )
        .into());
    }
    if args.remove > 0 && !method.is_layer() {
        return Err(format!(
            "--remove applies to the layer methods (layers-…), not to {}; use --sparsity",
            method.name()
        )
        .into());
    }
    let options = PruneOptions {
        sparsity: args.sparsity,
        per_layer: args.per_layer.clone(),
        output_rate: args.output_rate,
        pattern: args.n.zip(args.m).map(|(n, m)| NM { n, m }),
        seed: args.seed,
        calibration_samples: args.calib,
        scope: Scope::from_name(&args.scope)?,
        rounds: args.rounds.unwrap_or(1) as usize,
        remove: args.remove,
    };
    let data = load_data(args.data.clone(), args.dataset)?;
    let Checkpoint {
        name,
        mut model,
        layout,
    } = open_model(path, args.masks.as_deref(), &data)?;
    options.validate(method, &model)?;
    let mut tuner = Tuner::new(args.backend, &model)?;
    let summary = prune_and_report(
        method,
        &mut model,
        &data,
        &options,
        After {
            finetune_epochs: args.finetune_epochs,
            seed: args.seed,
            measure_compaction: true,
        },
        &mut tuner,
    )?;
    if let Some(out) = &args.out {
        let saved = if args.compact {
            compacted_model(&model)?
        } else {
            model.clone()
        };
        checkpoint::save_file_with(&saved, &layout, out)?;
    }
    if let Some(out) = &args.out_masks {
        checkpoint::save_masks_file(&model, &layout, out)?;
    }
    let summary = Summary {
        out: args.out.as_ref().map(|p| p.display().to_string()),
        layers: named_layers(summary.layers, &model, &layout)?,
        layout: Some(layout.description()),
        masks: args.masks.as_ref().map(|p| p.display().to_string()),
        ..summary
    };
    let reporter = Reporter::new(args.json, 1, "pruning");
    reporter.summary(&summary, || {
        let mut text = format!("{name}: {}\n", layout.description());
        text += &format!(
            "{} at sparsity {}: {:.2}% of weights remain; test accuracy {:.2}% → {:.2}% pruned",
            summary.method,
            summary
                .n_m
                .clone()
                .unwrap_or_else(|| summary.sparsity.to_string()),
            100.0 * summary.weights_remaining,
            100.0 * summary.test_acc_before,
            100.0 * summary.test_acc_pruned
        );
        if let Some(f) = summary.test_acc_finetuned {
            text.push_str(&format!(" → {:.2}% fine-tuned", 100.0 * f));
        }
        for l in &summary.layers {
            text.push_str(&format!(
                "\n  {:<10} {:>7} of {:>7} weights remain",
                l.name, l.remaining, l.weights
            ));
        }
        if let Some(h) = &summary.heads_per_block {
            let list: Vec<String> = h.iter().map(usize::to_string).collect();
            text.push_str(&format!(
                "\n  heads per block {}; {} blocks remain",
                list.join(","),
                summary.blocks_remaining.unwrap_or(0)
            ));
        }
        if let Some(c) = &summary.compacted {
            text.push_str(&format!(
                "\ncompacted to {} ({} → {} parameters); forward pass over the test set {:.1} ms → {:.1} ms",
                c.arch, c.parameters_before, c.parameters_after, c.dense_forward_ms, c.compacted_forward_ms
            ));
        }
        text.push_str(&format!("\npruning took {:.3} s", summary.seconds));
        text
    });
    Ok(())
}

/// `path`'s model with the masks file `masks` put on it, refused unless it fits `data`.
fn open_model(
    path: &Path,
    masks: Option<&Path>,
    data: &Mnist,
) -> Result<Checkpoint, pruneplay::Error> {
    let mut opened = checkpoint::open_file(path)?;
    if let Some(masks) = masks {
        checkpoint::apply_masks_file(&mut opened.model, &opened.layout, masks)?;
    }
    opened.check_fits(data.train.features(), data.train.classes())?;
    Ok(opened)
}

/// The per-layer counts under the names the model file gave its layers.
fn named_layers(
    layers: Vec<LayerCount>,
    model: &Model,
    layout: &checkpoint::Layout,
) -> Result<Vec<LayerCount>, pruneplay::Error> {
    let names = layout.linear_names(model)?;
    Ok(layers
        .into_iter()
        .zip(names)
        .map(|(l, name)| LayerCount {
            name: if name.is_empty() {
                "weight".into()
            } else {
                format!("{name}.weight")
            },
            ..l
        })
        .collect())
}

/// A model trained on other data (other image size or classes) is refused with a message.
pub fn check_fits(model: &impl Network, data: &Mnist) -> Result<(), String> {
    if model.inputs() != data.train.features() || model.classes() != data.train.classes() {
        return Err(format!(
            "the model is {} but the data has {} pixels per image and {} classes",
            model.spec(),
            data.train.features(),
            data.train.classes()
        ));
    }
    Ok(())
}

/// What happens after the pruning itself: fine-tuning (with its seed), and whether a structurally
/// pruned model is compacted and timed.
#[derive(Clone, Copy)]
struct After {
    finetune_epochs: u32,
    seed: u64,
    measure_compaction: bool,
}

/// Prunes `model` in place (and fine-tunes it when asked), measuring what the summary reports.
fn prune_and_report(
    method: Method,
    model: &mut Model,
    data: &Rc<Mnist>,
    options: &PruneOptions,
    after: After,
    tuner: &mut Tuner,
) -> Result<Summary, Box<dyn std::error::Error>> {
    let After {
        finetune_epochs,
        seed,
        measure_compaction,
    } = after;
    let before = evaluate(model, &data.test).accuracy;
    let calibration = if method.needs_calibration() {
        Some(Calibration::from_dataset(
            &data.train,
            options.calibration_samples,
        )?)
    } else {
        None
    };
    let started = Instant::now();
    prune::prune(method, model, calibration.as_ref(), options)?;
    let seconds = started.elapsed().as_secs_f64();
    let pruned = evaluate(model, &data.test).accuracy;
    let finetuned = if finetune_epochs > 0 {
        let config =
            TrainConfig::finetune(tuner.spec.clone(), Budget::Epochs(finetune_epochs), seed);
        *model = pollster::block_on(finetune(tuner.backend()?, model, &config, data))?;
        Some(evaluate(model, &data.test).accuracy)
    } else {
        None
    };
    let compacted = if method.family() == Family::Weights || !measure_compaction {
        None
    } else {
        Some(compaction_report(model, data)?)
    };
    let vit = model.as_vit();
    Ok(Summary {
        event: "summary",
        layout: None,
        masks: None,
        method: method.name(),
        sparsity: options.sparsity,
        n_m: options.pattern.map(|p| format!("{}:{}", p.n, p.m)),
        remove: method.is_layer().then_some(options.remove),
        scope: method.is_head().then_some(options.scope),
        head_rounds: method.is_head().then_some(options.rounds),
        weights_remaining: model.weights_remaining(),
        heads_per_block: vit.map(|v| {
            (0..v.depth())
                .map(|b| v.head_mask(b).iter().filter(|&&m| m != 0.0).count())
                .collect()
        }),
        blocks_remaining: vit.map(|v| v.blocks_remaining()),
        removed_blocks: vit.map(|v| (0..v.depth()).filter(|&b| v.removed_blocks()[b]).collect()),
        layers: prune::layer_counts(model),
        test_acc_before: before,
        test_acc_pruned: pruned,
        test_acc_finetuned: finetuned,
        compacted,
        rounds: None,
        schedule: None,
        seconds,
        out: None,
    })
}

/// The model with what structured pruning removed deleted: compacted neurons for an MLP; heads,
/// blocks and MLP units for a ViT.
fn compacted_model(model: &Model) -> Result<Model, pruneplay::Error> {
    Ok(match model {
        Model::Mlp(m) => Model::Mlp(compact(m)?.model),
        Model::Vit(v) => Model::from(vit_compaction::compact(v)?.model),
    })
}

/// Parameters and measured forward time over the test set, the masked model against its
/// compacted form.
fn compaction_report(model: &Model, data: &Mnist) -> Result<Compaction, pruneplay::Error> {
    let (test, _) = data.test.batch(0, data.test.len());
    let small = compacted_model(model)?;
    let (neurons_removed, heads_removed, blocks_removed) = match (model, &small) {
        (Model::Mlp(a), Model::Mlp(b)) => (
            a.layers().iter().map(|l| l.outputs()).sum::<usize>()
                - b.layers().iter().map(|l| l.outputs()).sum::<usize>(),
            None,
            None,
        ),
        (Model::Vit(a), Model::Vit(b)) => {
            let units = |v: &pruneplay::model::Vit| -> usize {
                (0..v.depth()).map(|i| v.hidden_in(i)).sum()
            };
            (
                units(a) - units(b),
                Some(a.total_heads() - b.total_heads()),
                Some(a.depth() - b.depth()),
            )
        }
        _ => unreachable!("compaction keeps the model's kind"),
    };
    let arch = match &small {
        Model::Mlp(m) => m.architecture().to_string(),
        Model::Vit(v) => v.shape_summary(),
    };
    Ok(Compaction {
        arch,
        parameters_before: model.param_count(),
        parameters_after: small.param_count(),
        neurons_removed,
        heads_removed,
        blocks_removed,
        dense_forward_ms: forward_ms(model, test.view(), 1, 5),
        compacted_forward_ms: forward_ms(&small, test.view(), 1, 5),
    })
}

/// `--method imp` and `--method gradual`: magnitude pruning spread over training.
fn run_schedule(args: &PruneArgs) -> Result<(), Box<dyn std::error::Error>> {
    use pruneplay::prune::{gradual, iterative};
    let Some(path) = args.model.as_ref() else {
        return Err("--model is required".into());
    };
    let data = load_data(args.data.clone(), args.dataset)?;
    let Checkpoint {
        name,
        mut model,
        layout,
    } = open_model(path, args.masks.as_deref(), &data)?;
    let mut tuner = Tuner::new(args.backend, &model)?;
    let options = PruneOptions {
        sparsity: args.sparsity,
        per_layer: args.per_layer.clone(),
        output_rate: args.output_rate,
        seed: args.seed,
        ..PruneOptions::default()
    };
    options.validate(Method::Magnitude, &model)?;
    let config = |budget| TrainConfig::finetune(tuner.spec.clone(), budget, args.seed);
    let before = evaluate(&model, &data.test).accuracy;
    let reporter = Reporter::new(args.json, 1, "pruning");
    let started = Instant::now();
    let (rounds, schedule, pruned) = if args.method == "imp" {
        let epochs = args.finetune_epochs.max(1);
        let method = if args.global {
            Method::GlobalMagnitude
        } else {
            Method::Magnitude
        };
        let tuning = config(Budget::Epochs(epochs));
        let rounds = pollster::block_on(iterative::iterative_magnitude(
            &mut model,
            tuner.backend()?,
            &data,
            method,
            &options,
            args.rounds.unwrap_or(5),
            &tuning,
            |r| {
                reporter.progress(u64::from(r.round), r, || {
                    format!("round {}: {:.2}%", r.round, 100.0 * r.test_acc_finetuned)
                })
            },
        ))?;
        let pruned = rounds.last().map_or(before, |r| r.test_acc_pruned);
        (Some(rounds), None, pruned)
    } else {
        let plan = gradual::Schedule {
            initial: 0.0,
            target: args.sparsity,
            start: 0,
            pruning_steps: args.gradual_steps,
            every: args.prune_every,
        };
        let schedule_config = TrainConfig {
            budget: Budget::Iters(u64::MAX / 2),
            ..config(Budget::Iters(1))
        };
        let (tuned, points) = gradual::train_with_gradual_pruning(
            model.clone(),
            &data,
            &schedule_config,
            &plan,
            args.output_rate,
            0,
            |p| {
                reporter.progress(p.step, p, || {
                    format!("step {}: {:.1}% pruned", p.step, 100.0 * p.target_sparsity)
                })
            },
        )?;
        model = tuned;
        let pruned = evaluate(&model, &data.test).accuracy;
        // Then --finetune-epochs of training with the final masks held.
        if args.finetune_epochs > 0 {
            let tuning = config(Budget::Epochs(args.finetune_epochs));
            model = pollster::block_on(finetune(tuner.backend()?, &model, &tuning, &data))?;
        }
        (None, Some(points), pruned)
    };
    let seconds = started.elapsed().as_secs_f64();
    let finetuned = evaluate(&model, &data.test).accuracy;
    if let Some(out) = &args.out {
        checkpoint::save_file_with(&model, &layout, out)?;
    }
    if let Some(out) = &args.out_masks {
        checkpoint::save_masks_file(&model, &layout, out)?;
    }
    let summary = Summary {
        event: "summary",
        layout: Some(layout.description()),
        masks: args.masks.as_ref().map(|p| p.display().to_string()),
        method: if args.method == "imp" {
            "imp"
        } else {
            "gradual"
        },
        sparsity: args.sparsity,
        n_m: None,
        remove: None,
        scope: None,
        head_rounds: None,
        weights_remaining: model.weights_remaining(),
        heads_per_block: None,
        blocks_remaining: None,
        removed_blocks: None,
        layers: named_layers(prune::layer_counts(&model), &model, &layout)?,
        test_acc_before: before,
        test_acc_pruned: pruned,
        test_acc_finetuned: Some(finetuned),
        compacted: None,
        rounds,
        schedule,
        seconds,
        out: args.out.as_ref().map(|p| p.display().to_string()),
    };
    reporter.summary(&summary, || {
        format!(
            "{name}: {}\n{}: {:.2}% of weights remain; test accuracy {:.2}% → {:.2}% ({:.1} s including training)",
            layout.description(),
            summary.method,
            100.0 * summary.weights_remaining,
            100.0 * summary.test_acc_before,
            100.0 * finetuned,
            seconds
        )
    });
    Ok(())
}

#[derive(Debug, Args)]
pub struct SweepArgs {
    /// The trained model every (method, sparsity) starts from.
    #[arg(long)]
    model: PathBuf,
    /// `all` (the weight and neuron methods that apply to the model), `heads-all`,
    /// `layers-all`, or a comma-separated list of method names (groups may be listed too).
    #[arg(long, default_value = "all")]
    methods: String,
    #[arg(long, value_delimiter = ',', default_value = "0.5,0.7,0.9,0.95,0.98")]
    sparsities: Vec<f64>,
    /// Layer methods: the block counts to drop, e.g. 1,2,3.
    #[arg(long, value_delimiter = ',', default_value = "1")]
    remove: Vec<usize>,
    /// Head methods: global or per-block.
    #[arg(long, value_parser = ["global", "per-block"], default_value = "global")]
    scope: String,
    /// Head methods: rounds of scoring → removal.
    #[arg(long, default_value_t = 1)]
    rounds: usize,
    /// Also compact each structurally pruned model (neuron, head and layer methods) and report
    /// its size and measured forward time against the masked model's (12 extra passes over the
    /// test set per run).
    #[arg(long)]
    compact: bool,
    #[arg(long, default_value_t = 0)]
    finetune_epochs: u32,
    #[arg(long, default_value_t = 1.0)]
    output_rate: f64,
    #[arg(long, default_value_t = prune::calibration::DEFAULT_SAMPLES)]
    calib: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long)]
    data: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "mnist")]
    dataset: DatasetName,
    /// The engine that fine-tunes.
    #[arg(long, value_enum, default_value = "auto")]
    backend: BackendChoice,
    #[arg(long)]
    json: bool,
}

/// `pruneplay sweep`: one line per (method, sparsity), for accuracy-vs-sparsity curves; the last
/// line is a summary.
pub fn sweep(args: SweepArgs) -> Result<(), Box<dyn std::error::Error>> {
    let model = pruneplay::checkpoint::load_file(&args.model)?;
    // `all` means the weight and neuron methods that apply to this model.
    let mut methods: Vec<Method> = Vec::new();
    for name in args.methods.split(',').map(str::trim) {
        match name {
            "all" => methods.extend(Method::all_for(model.kind())),
            "heads-all" => methods.extend(Method::HEADS),
            "layers-all" => methods.extend(Method::LAYERS),
            name => methods.push(Method::from_name(name)?),
        }
    }
    let scope = Scope::from_name(&args.scope)?;
    let data = load_data(args.data.clone(), args.dataset)?;
    check_fits(&model, &data)?;
    let mut tuner = Tuner::new(args.backend, &model)?;
    // A layer method sweeps --remove; every other one sweeps --sparsities.
    let points = |m: Method| -> Vec<(f64, usize)> {
        if m.is_layer() {
            args.remove.iter().map(|&r| (0.0, r)).collect()
        } else {
            args.sparsities.iter().map(|&s| (s, 0)).collect()
        }
    };
    let total: u64 = methods.iter().map(|&m| points(m).len() as u64).sum();
    let reporter = Reporter::new(args.json, total, "sweeping");
    let mut done = 0;
    for &method in &methods {
        for (sparsity, remove) in points(method) {
            let options = PruneOptions {
                sparsity,
                output_rate: args.output_rate,
                seed: args.seed,
                calibration_samples: args.calib,
                scope,
                rounds: args.rounds,
                remove,
                ..PruneOptions::default()
            };
            options.validate(method, &model)?;
            let mut pruned = model.clone();
            let mut row = prune_and_report(
                method,
                &mut pruned,
                &data,
                &options,
                After {
                    finetune_epochs: args.finetune_epochs,
                    seed: args.seed,
                    measure_compaction: args.compact,
                },
                &mut tuner,
            )?;
            row.event = "result";
            done += 1;
            reporter.progress(done, &row, || {
                format!(
                    "{} {}: {:.2}%",
                    method.name(),
                    if method.is_layer() {
                        format!("remove {remove}")
                    } else {
                        sparsity.to_string()
                    },
                    100.0 * row.test_acc_pruned
                )
            });
            if !args.json {
                println!(
                    "{:<17} {:<14} remaining {:>6.2}%  accuracy {:.2}% → pruned {:.2}%{}",
                    method.name(),
                    if method.is_layer() {
                        format!("remove {remove}")
                    } else {
                        format!("sparsity {sparsity}")
                    },
                    100.0 * row.weights_remaining,
                    100.0 * row.test_acc_before,
                    100.0 * row.test_acc_pruned,
                    row.test_acc_finetuned
                        .map(|f| format!(" → fine-tuned {:.2}%", 100.0 * f))
                        .unwrap_or_default()
                );
            }
        }
    }
    #[derive(Serialize)]
    struct SweepSummary {
        event: &'static str,
        runs: u64,
        methods: Vec<&'static str>,
        sparsities: Vec<f64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        remove: Option<Vec<usize>>,
    }
    let summary = SweepSummary {
        event: "summary",
        runs: done,
        methods: methods.iter().map(|m| m.name()).collect(),
        sparsities: args.sparsities.clone(),
        remove: methods
            .iter()
            .any(|m| m.is_layer())
            .then(|| args.remove.clone()),
    };
    reporter.summary(&summary, || format!("{done} runs"));
    Ok(())
}
