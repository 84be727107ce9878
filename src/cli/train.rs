//! `pruneplay train`.

use std::path::PathBuf;
use std::rc::Rc;
use std::time::Instant;

use clap::{Args, ValueEnum};
use serde::Serialize;

use super::report::Reporter;
use pruneplay::data::Mnist;
use pruneplay::engine::{Backend, Engine};
use pruneplay::model::{Init, ModelSpec, Network};
use pruneplay::train::{Budget, LrSchedule, OptimizerConfig, OptimizerKind, Split, TrainConfig};

/// Which engine trains.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum BackendChoice {
    /// WGSL kernels through wgpu (Vulkan; lavapipe where there is no GPU).
    Gpu,
    /// ndarray on the CPU, the reference engine.
    Cpu,
    /// The GPU when a hardware adapter exists, else the CPU (a software adapter such as lavapipe
    /// is slower than the CPU engine).
    Auto,
}

/// What `auto` says on stderr when it falls back to the CPU.
pub struct FallbackNote {
    /// Follows "the only GPU adapter is NAME, a software renderer".
    pub software: &'static str,
    /// Follows the reason there is no GPU.
    pub no_gpu: &'static str,
}

/// The note of the commands that train.
pub const TRAINING_ON_THE_CPU: FallbackNote = FallbackNote {
    software: " slower than the CPU engine; training on the CPU (--backend gpu uses it anyway)",
    no_gpu: "training on the CPU",
};

/// The backend the user asked for; `auto` falls back to the CPU with a note on stderr.
pub fn resolve_backend(choice: BackendChoice) -> Result<Backend, pruneplay::Error> {
    resolve_backend_noting(choice, &TRAINING_ON_THE_CPU)
}

/// [`resolve_backend`] with the given note for `auto`'s fallback to the CPU.
pub fn resolve_backend_noting(
    choice: BackendChoice,
    note: &FallbackNote,
) -> Result<Backend, pruneplay::Error> {
    let context = || pollster::block_on(pruneplay::gpu::GpuContext::new()).map(std::rc::Rc::new);
    match choice {
        BackendChoice::Cpu => Ok(Backend::Cpu),
        BackendChoice::Gpu => Ok(Backend::Gpu(context()?)),
        BackendChoice::Auto => match context() {
            Ok(ctx) if !ctx.is_software() => Ok(Backend::Gpu(ctx)),
            Ok(ctx) => {
                eprintln!(
                    "note: the only GPU adapter is {}, a software renderer{}",
                    ctx.adapter_name(),
                    note.software
                );
                ctx.wait_idle()?;
                Ok(Backend::Cpu)
            }
            Err(e) => {
                eprintln!("note: {e}; {}", note.no_gpu);
                Ok(Backend::Cpu)
            }
        },
    }
}

/// Makes the engine the user asked for (see [`resolve_backend`]): either model trains on
/// either engine.
pub fn make_engine(
    choice: BackendChoice,
    config: &TrainConfig,
    data: &Rc<Mnist>,
) -> Result<Engine, pruneplay::Error> {
    Engine::new(&resolve_backend(choice)?, config, data)
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DatasetName {
    Mnist,
    Fashion,
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// An MLP's layer widths, input first, or `vit` for the tiny vision transformer.
    #[arg(long, default_value = "784-300-100-10")]
    arch: ModelSpec,
    /// ViT only: width of the residual stream (embed_dim) [default: 64].
    #[arg(long)]
    dim: Option<usize>,
    /// ViT only: number of blocks [default: 4].
    #[arg(long)]
    depth: Option<usize>,
    /// ViT only: heads per block; they split --dim evenly [default: 4].
    #[arg(long)]
    heads: Option<usize>,
    /// ViT only: each block's MLP has this many times --dim hidden units [default: 2].
    #[arg(long)]
    mlp_ratio: Option<f64>,
    /// [default: adam for an MLP, adamw for the ViT]
    #[arg(long, value_parser = ["sgd", "adam", "adamw"])]
    optimizer: Option<String>,
    /// Learning rate [default: 1.2e-3 for Adam, 0.05 for SGD, 1e-3 for AdamW].
    #[arg(long)]
    lr: Option<f32>,
    /// SGD momentum.
    #[arg(long, default_value_t = 0.9)]
    momentum: f32,
    /// AdamW's decoupled weight decay (linear weights only) [default: 0.05].
    #[arg(long)]
    weight_decay: Option<f32>,
    /// Steps of linear warmup before a cosine decay of the learning rate [default: the ViT's
    /// 200; an MLP trains at a constant rate unless this is given].
    #[arg(long)]
    warmup_steps: Option<u64>,
    /// [default: 60 for an MLP, 128 for the ViT]
    #[arg(long)]
    batch: Option<usize>,
    /// Passes over the 55,000 training images [default: 2 for an MLP, 8 for the ViT].
    #[arg(long, conflicts_with = "iters")]
    epochs: Option<u32>,
    /// Optimizer steps (batches), instead of --epochs.
    #[arg(long)]
    iters: Option<u64>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// MLP only [default: glorot]; the ViT is initialised as timm does.
    #[arg(long, value_parser = ["glorot", "kaiming"])]
    init: Option<String>,
    /// Evaluate on the validation set every N steps.
    #[arg(long, default_value_t = 100)]
    eval_every: u64,
    /// Folder with the four IDX files [default: data/<dataset>].
    #[arg(long)]
    data: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "mnist")]
    dataset: DatasetName,
    /// Save the trained weights and masks (safetensors, PyTorch names).
    #[arg(long)]
    out: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "auto")]
    backend: BackendChoice,
    /// JSON lines on stdout; the last line is the summary.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Progress {
    event: &'static str,
    step: u64,
    epoch: u64,
    train_loss: f32,
    train_acc: f64,
    val_loss: f32,
    val_acc: f64,
}

#[derive(Serialize)]
struct Summary {
    event: &'static str,
    test_acc: f64,
    test_loss: f32,
    val_acc: f64,
    val_loss: f32,
    weights_remaining: f64,
    train_samples_per_s: f64,
    steps: u64,
    epochs: u64,
    seed: u64,
    backend: &'static str,
    adapter: Option<String>,
    arch: String,
    model: &'static str,
    params: usize,
    optimizer: OptimizerConfig,
    batch: usize,
    dataset: &'static str,
    elapsed_s: f64,
    out: Option<String>,
}

/// Loads a data set, telling the user how to fetch it when it is missing.
/// Shared, since engines bind it when they are made.
pub fn load_data(dir: Option<PathBuf>, dataset: DatasetName) -> Result<Rc<Mnist>, String> {
    let name = match dataset {
        DatasetName::Mnist => "mnist",
        DatasetName::Fashion => "fashion",
    };
    let dir = dir.unwrap_or_else(|| PathBuf::from("data").join(name));
    if !dir.is_dir() {
        let hint = match dataset {
            DatasetName::Mnist => "run `cargo xtask data` in the repository to fetch MNIST",
            DatasetName::Fashion => {
                "install the Debian package dataset-fashion-mnist, then run `cargo xtask data`"
            }
        };
        return Err(format!(
            "data folder {} does not exist: {hint}, or pass --data DIR",
            dir.display()
        ));
    }
    Mnist::load_dir(&dir)
        .map(Rc::new)
        .map_err(|e| e.to_string())
}

/// The training configuration the flags describe: the model's own defaults (LeNet's or the
/// shipped ViT's) with each given flag on top.
fn config_of(args: &TrainArgs) -> Result<TrainConfig, Box<dyn std::error::Error>> {
    let vit_flags = [
        ("--dim", args.dim.is_some()),
        ("--depth", args.depth.is_some()),
        ("--heads", args.heads.is_some()),
        ("--mlp-ratio", args.mlp_ratio.is_some()),
    ];
    let arch = match args.arch.clone() {
        ModelSpec::Vit(mut c) => {
            if args.init.is_some() {
                return Err("--init applies to MLPs; the ViT is initialised as timm does".into());
            }
            c.dim = args.dim.unwrap_or(c.dim);
            c.depth = args.depth.unwrap_or(c.depth);
            c.heads = args.heads.unwrap_or(c.heads);
            c.mlp_ratio = args.mlp_ratio.unwrap_or(c.mlp_ratio);
            c.validate()?;
            ModelSpec::Vit(c)
        }
        mlp => {
            if let Some((flag, _)) = vit_flags.iter().find(|(_, given)| *given) {
                return Err(format!("{flag} applies to --arch vit only").into());
            }
            mlp
        }
    };
    let mut config = TrainConfig::defaults_for(arch);
    if let Some(name) = &args.optimizer {
        let kind: OptimizerKind = name.parse()?;
        if kind != config.optimizer.kind {
            config.optimizer = OptimizerConfig::default_for(kind);
        }
    }
    if let Some(lr) = args.lr {
        config.optimizer.lr = lr;
    }
    config.optimizer.momentum = args.momentum;
    if let Some(decay) = args.weight_decay {
        if config.optimizer.kind != OptimizerKind::AdamW {
            return Err(format!(
                "--weight-decay applies to adamw only, not {}",
                config.optimizer.kind.name()
            )
            .into());
        }
        config.optimizer.weight_decay = decay;
    }
    if let Some(warmup_steps) = args.warmup_steps {
        config.schedule = LrSchedule::WarmupCosine { warmup_steps };
    }
    if let Some(batch) = args.batch {
        config.batch = batch;
    }
    if let Some(init) = &args.init {
        config.init = init.parse::<Init>()?;
    }
    config.budget = match (args.epochs, args.iters) {
        (_, Some(n)) => Budget::Iters(n),
        (Some(e), None) => Budget::Epochs(e),
        (None, None) => config.budget,
    };
    config.seed = args.seed;
    config.eval_every = args.eval_every;
    Ok(config)
}

pub fn run(args: TrainArgs) -> Result<(), Box<dyn std::error::Error>> {
    let config = config_of(&args)?;
    let data = load_data(args.data, args.dataset)?;
    let mut engine = make_engine(args.backend, &config, &data)?;
    let total = config.total_steps(data.train.len());
    let chunk = if config.eval_every == 0 {
        total
    } else {
        config.eval_every
    };

    let reporter = Reporter::new(args.json, total, "training");
    let started = Instant::now();
    let mut train_time = 0.0f64;
    while engine.step() < total {
        let n = chunk.min(total - engine.step());
        let t = Instant::now();
        let stats = match pollster::block_on(engine.train_steps(n)) {
            Ok(stats) => stats,
            Err(e) => {
                // Keep what was learnt before the failure: the engine has restored it.
                if let Some(path) = &args.out {
                    pruneplay::checkpoint::save_file(&pollster::block_on(engine.model())?, path)?;
                    return Err(
                        format!("{e}\nsaved the restored model to {}", path.display()).into(),
                    );
                }
                return Err(e.into());
            }
        };
        train_time += t.elapsed().as_secs_f64();
        let val = pollster::block_on(engine.evaluate(Split::Validation))?;
        let event = Progress {
            event: "progress",
            step: stats.step,
            epoch: stats.epoch,
            train_loss: stats.loss,
            train_acc: stats.accuracy,
            val_loss: val.loss,
            val_acc: val.accuracy,
        };
        reporter.progress(stats.step, &event, || {
            format!(
                "loss {:.4}  val acc {:.2}%",
                stats.loss,
                100.0 * val.accuracy
            )
        });
    }

    let val = pollster::block_on(engine.evaluate(Split::Validation))?;
    let test = pollster::block_on(engine.evaluate(Split::Test))?;
    let model = pollster::block_on(engine.model())?;
    if let Some(path) = &args.out {
        pruneplay::checkpoint::save_file(&model, path)?;
    }
    let summary = Summary {
        event: "summary",
        test_acc: test.accuracy,
        test_loss: test.loss,
        val_acc: val.accuracy,
        val_loss: val.loss,
        weights_remaining: model.weights_remaining(),
        train_samples_per_s: (engine.step() as usize * config.batch) as f64 / train_time.max(1e-9),
        steps: engine.step(),
        epochs: engine.epoch(),
        seed: config.seed,
        backend: engine.backend(),
        adapter: engine.adapter(),
        arch: config.arch.to_string(),
        model: model.kind().name(),
        params: model.param_count(),
        optimizer: config.optimizer,
        batch: config.batch,
        dataset: match args.dataset {
            DatasetName::Mnist => "mnist",
            DatasetName::Fashion => "fashion",
        },
        elapsed_s: started.elapsed().as_secs_f64(),
        out: args.out.as_ref().map(|p| p.display().to_string()),
    };
    reporter.summary(&summary, || {
        let mut s = format!(
            "test accuracy {:.2}% (loss {:.4}), validation {:.2}%\n{} steps ({} epochs) of {} in {:.1} s, {:.0} samples/s on the {} backend{}, seed {}",
            100.0 * summary.test_acc,
            summary.test_loss,
            100.0 * summary.val_acc,
            summary.steps,
            summary.epochs,
            summary.arch,
            summary.elapsed_s,
            summary.train_samples_per_s,
            summary.backend,
            summary.adapter.as_ref().map(|a| format!(" ({a})")).unwrap_or_default(),
            summary.seed
        );
        if let Some(out) = &summary.out {
            s.push_str(&format!("\nsaved {out}"));
        }
        s
    });
    Ok(())
}
