//! `pruneplay lottery` and `pruneplay instability`: the lottery-ticket lab on the command line,
//! driving the core's resumable experiments a chunk of iterations at a time.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use serde::Serialize;

use super::report::Reporter;
use super::train::{BackendChoice, DatasetName, load_data, resolve_backend};
use pruneplay::lottery::{
    Arm, InstabilityExperiment, InstabilitySettings, LotteryExperiment, LotterySettings,
    RoundResult, Strategy,
};
use pruneplay::model::ModelSpec;

/// Iterations per `advance` call: the progress bar moves this often.
const CHUNK: u64 = 500;

#[derive(Debug, Args)]
pub struct LotteryArgs {
    /// Pruning rounds; results cover round 0 (dense) to R.
    #[arg(long, default_value_t = 18)]
    rounds: u32,
    /// Training iterations per round (the paper: 50,000).
    #[arg(long, default_value_t = pruneplay::lottery::PAPER_ITERS)]
    iters: u64,
    /// Rewind pruned networks to the weights after K iterations of the dense run (0: to θ₀).
    #[arg(long, default_value_t = 0)]
    rewind_iter: u64,
    /// per-layer (20% of each hidden layer, 10% of the output layer a round) or global.
    #[arg(long, default_value = "per-layer")]
    strategy: Strategy,
    /// Controls to run beside the ticket: reinit, random-mask, both (comma-separated) or none.
    #[arg(long, default_value = "reinit,random-mask")]
    controls: String,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Evaluate validation (and, where it matters, test) every E iterations.
    #[arg(long, default_value_t = 100)]
    eval_every: u64,
    /// Evaluate the test set at every validation point (otherwise only where validation loss
    /// reaches a new minimum and at the end: the same results, faster).
    #[arg(long)]
    full_test_curve: bool,
    #[command(flatten)]
    run: RunArgs,
    /// JSON lines: one per round per arm, then a summary.
    #[arg(long)]
    json: bool,
}

/// The network, data and engine, the same for both experiments.
#[derive(Debug, Args)]
struct RunArgs {
    /// An MLP's widths (the ViT is refused: these experiments are LeNet's).
    #[arg(long, default_value = "784-300-100-10")]
    arch: ModelSpec,
    #[arg(long)]
    data: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "mnist")]
    dataset: DatasetName,
    #[arg(long, value_enum, default_value = "auto")]
    backend: BackendChoice,
}

#[derive(Debug, Args)]
pub struct InstabilityArgs {
    /// k: both copies start from the weights after K iterations.
    #[arg(long, default_value_t = 0)]
    rewind_iter: u64,
    /// Iterations of a full run; the copies train from K to N.
    #[arg(long, default_value_t = pruneplay::lottery::PAPER_ITERS)]
    iters: u64,
    /// Weights remaining (percent) of the network: 100 is dense; lower runs the lottery rounds
    /// down to the closest rung of the ladder first.
    #[arg(long, default_value_t = 100.0)]
    weights_remaining: f64,
    /// Points on the line between the two copies.
    #[arg(long, default_value_t = 11)]
    alphas: usize,
    #[arg(long, default_value = "per-layer")]
    strategy: Strategy,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long, default_value_t = 100)]
    eval_every: u64,
    #[command(flatten)]
    run: RunArgs,
    /// JSON lines: one per point of the line, then a summary with the curve and the barrier.
    #[arg(long)]
    json: bool,
}

fn parse_controls(list: &str) -> Result<Vec<Arm>, pruneplay::Error> {
    if list.trim() == "none" || list.trim().is_empty() {
        return Ok(Vec::new());
    }
    list.split(',').map(|a| a.trim().parse()).collect()
}

/// One line per round per arm.
#[derive(Serialize)]
struct RoundLine<'a> {
    event: &'static str,
    round: u32,
    arm: Arm,
    weights_remaining: f64,
    early_stop_iter: u64,
    test_acc_at_early_stop: f64,
    final_test_acc: f64,
    val_loss_at_early_stop: f32,
    start_iter: u64,
    kept_per_layer: &'a [usize],
    elapsed_s: f64,
}

#[derive(Serialize)]
struct LotterySummary {
    event: &'static str,
    runs: usize,
    rounds: u32,
    iters: u64,
    rewind_iter: u64,
    strategy: Strategy,
    controls: Vec<Arm>,
    seed: u64,
    eval_every: u64,
    arch: String,
    ladder: Vec<f64>,
    backend: Option<&'static str>,
    elapsed_s: f64,
}

fn table_row(r: &RoundResult) -> String {
    format!(
        "{:>5}  {:<11} {:>8.2}%  {:>10}  {:>9.2}%  {:>9.2}%",
        r.round,
        r.arm.name(),
        r.weights_remaining,
        r.early_stop_iter,
        100.0 * r.test_acc_at_early_stop,
        100.0 * r.final_test_acc
    )
}

const TABLE_HEADER: &str = "round  arm         remaining  early stop  acc @stop  final acc";

pub fn lottery(args: LotteryArgs) -> Result<(), Box<dyn std::error::Error>> {
    let settings = LotterySettings {
        arch: args.run.arch.mlp("the lottery experiments")?.clone(),
        iters: args.iters,
        rounds: args.rounds,
        rewind_iter: args.rewind_iter,
        strategy: args.strategy,
        controls: parse_controls(&args.controls)?,
        seed: args.seed,
        eval_every: args.eval_every,
        full_test_curve: args.full_test_curve,
        ..LotterySettings::default()
    };
    let data = load_data(args.run.data, args.run.dataset)?;
    // Checked before looking for a GPU, so a bad setting fails at once.
    let mut experiment = LotteryExperiment::new(settings.clone(), &data)?;
    let backend = resolve_backend(args.run.backend)?;
    let reporter = Reporter::new(args.json, experiment.iters_total(), "lottery");
    reporter.note(TABLE_HEADER);
    let started = Instant::now();
    let mut backend_name = None;
    loop {
        let p = pollster::block_on(experiment.advance(&backend, &data, CHUNK))?;
        backend_name = p.backend.or(backend_name);
        for r in &p.finished {
            let line = RoundLine {
                event: "round",
                round: r.round,
                arm: r.arm,
                weights_remaining: r.weights_remaining,
                early_stop_iter: r.early_stop_iter,
                test_acc_at_early_stop: r.test_acc_at_early_stop,
                final_test_acc: r.final_test_acc,
                val_loss_at_early_stop: r.val_loss_at_early_stop,
                start_iter: r.start_iter,
                kept_per_layer: &r.kept_per_layer,
                elapsed_s: started.elapsed().as_secs_f64(),
            };
            reporter.event(&line, || table_row(r));
        }
        reporter.position(p.iters_done, || {
            format!(
                "round {} {} ({:.2}%), iteration {}",
                p.round,
                p.arm.name(),
                p.weights_remaining,
                p.iter
            )
        });
        if p.done {
            break;
        }
    }
    let summary = LotterySummary {
        event: "summary",
        runs: experiment.results().len(),
        rounds: settings.rounds,
        iters: settings.iters,
        rewind_iter: settings.rewind_iter,
        strategy: settings.strategy,
        controls: settings.controls.clone(),
        seed: settings.seed,
        eval_every: settings.eval_every,
        arch: settings.arch.to_string(),
        ladder: experiment
            .ladder()
            .iter()
            .map(|r| r.weights_remaining)
            .collect(),
        backend: backend_name,
        elapsed_s: started.elapsed().as_secs_f64(),
    };
    reporter.summary(&summary, || {
        format!(
            "{} runs (rounds 0 to {}, {} iterations each, rewinding to iteration {}, {} pruning, seed {}) in {:.1} s on the {} backend",
            summary.runs,
            summary.rounds,
            summary.iters,
            summary.rewind_iter,
            summary.strategy,
            summary.seed,
            summary.elapsed_s,
            summary.backend.unwrap_or("cpu")
        )
    });
    Ok(())
}

#[derive(Serialize)]
struct AlphaLine {
    event: &'static str,
    alpha: f64,
    test_error: f64,
    test_loss: f32,
}

#[derive(Serialize)]
struct InstabilitySummary {
    event: &'static str,
    barrier: f64,
    curve: Vec<pruneplay::lottery::InterpolationPoint>,
    rewind_iter: u64,
    iters: u64,
    round: u32,
    weights_remaining: f64,
    seed: u64,
    backend: Option<&'static str>,
    elapsed_s: f64,
}

pub fn instability(args: InstabilityArgs) -> Result<(), Box<dyn std::error::Error>> {
    let settings = InstabilitySettings {
        arch: args.run.arch.mlp("the lottery experiments")?.clone(),
        iters: args.iters,
        rewind_iter: args.rewind_iter,
        weights_remaining: args.weights_remaining,
        strategy: args.strategy,
        alphas: args.alphas,
        seed: args.seed,
        eval_every: args.eval_every,
        ..InstabilitySettings::default()
    };
    let data = load_data(args.run.data, args.run.dataset)?;
    let mut experiment = InstabilityExperiment::new(settings.clone(), &data)?;
    let backend = resolve_backend(args.run.backend)?;
    let reporter = Reporter::new(args.json, 1_000, "instability");
    let started = Instant::now();
    let mut reported = 0;
    let (result, backend_name) = loop {
        let p = pollster::block_on(experiment.advance(&backend, &data, CHUNK))?;
        reporter.position((1_000.0 * p.fraction) as u64, || {
            format!("{:?}, iteration {}", p.stage, p.iter)
        });
        for point in &experiment.curve()[reported..] {
            let line = AlphaLine {
                event: "alpha",
                alpha: point.alpha,
                test_error: point.test_error,
                test_loss: point.test_loss,
            };
            reporter.event(&line, || {
                format!(
                    "α = {:.2}: test error {:.2}%",
                    point.alpha,
                    100.0 * point.test_error
                )
            });
        }
        reported = experiment.curve().len();
        if let Some(result) = p.result {
            break (result, p.backend);
        }
    };
    let summary = InstabilitySummary {
        event: "summary",
        barrier: result.barrier,
        curve: result.curve,
        rewind_iter: result.rewind_iter,
        iters: result.iters,
        round: result.round,
        weights_remaining: result.weights_remaining,
        seed: settings.seed,
        backend: backend_name,
        elapsed_s: started.elapsed().as_secs_f64(),
    };
    reporter.summary(&summary, || {
        format!(
            "barrier {:.2} points of test error (ends {:.2}% and {:.2}%), {:.2}% of weights, k = {}, {} iterations, seed {}, {:.1} s",
            100.0 * summary.barrier,
            100.0 * summary.curve.first().map_or(0.0, |p| p.test_error),
            100.0 * summary.curve.last().map_or(0.0, |p| p.test_error),
            summary.weights_remaining,
            summary.rewind_iter,
            summary.iters,
            summary.seed,
            summary.elapsed_s
        )
    });
    Ok(())
}
