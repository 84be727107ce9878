//! `pruneplay bench`: training throughput of the CPU engine.
//!
//! Uses seeded random images: the arithmetic of a dense training step does not depend on the
//! pixel values, and the benchmark then runs without the data set.

use std::time::Instant;

use clap::Args;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::report::Reporter;
use super::train::{BackendChoice, make_engine};
use pruneplay::data::{Dataset, Mnist};
use pruneplay::gpu::profile::StepProfile;
use pruneplay::model::{ModelSpec, Network};
use pruneplay::train::{Budget, TrainConfig};

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[arg(long, default_value_t = 128)]
    batch: usize,
    /// An MLP's widths or `vit` (then the shipped ViT's optimizer, AdamW).
    #[arg(long, default_value = "784-300-100-10")]
    arch: ModelSpec,
    /// Timed steps (after 20 warm-up steps).
    #[arg(long, default_value_t = 300)]
    steps: u64,
    #[arg(long, value_enum, default_value = "cpu")]
    backend: BackendChoice,
    /// On the GPU engine, also time each kernel of a step on its own: the dispatches per step
    /// and where the time goes (after the timed steps, so it does not slow them).
    #[arg(long)]
    profile: bool,
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Summary {
    event: &'static str,
    train_samples_per_s: f64,
    /// Training GFLOP/s: samples/s × 3 × the dense forward FLOPs per sample (2·m·n·k per matrix
    /// product, attention's included), one count for every model.
    train_gflops: f64,
    forward_flops_per_sample: u64,
    ms_per_step: f64,
    batch: usize,
    steps: u64,
    arch: String,
    optimizer: &'static str,
    backend: &'static str,
    adapter: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    profile: Option<StepProfile>,
}

/// Repetitions of each kernel when profiling: enough to swamp a submission's fixed cost.
const PROFILE_REPS: usize = 50;

const WARMUP_STEPS: u64 = 20;

pub fn run(args: BenchArgs) -> Result<(), Box<dyn std::error::Error>> {
    let features = args.arch.inputs();
    let classes = args.arch.outputs();
    let n = (args.batch * 64).max(1_000);
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let pixels: Vec<u8> = (0..n * features).map(|_| rng.random()).collect();
    let labels: Vec<u8> = (0..n).map(|_| rng.random_range(0..classes as u8)).collect();
    let train = Dataset::new(pixels, labels, features, classes)?;
    // The GPU engine uploads held-out sets too; small ones keep the set-up short.
    let held_out = train.slice(0, 1_000);
    let side = (features as f64).sqrt() as usize;
    let data = std::rc::Rc::new(Mnist {
        train,
        validation: held_out.clone(),
        test: held_out,
        rows: side,
        cols: side,
    });
    let config = TrainConfig {
        batch: args.batch,
        budget: Budget::Iters(WARMUP_STEPS + args.steps),
        ..TrainConfig::defaults_for(args.arch.clone())
    };
    let mut engine = make_engine(args.backend, &config, &data)?;
    let reporter = Reporter::new(args.json, args.steps, "bench");
    pollster::block_on(engine.train_steps(WARMUP_STEPS))?;
    let started = Instant::now();
    let chunk = 20;
    let mut done = 0;
    while done < args.steps {
        let k = chunk.min(args.steps - done);
        pollster::block_on(engine.train_steps(k))?;
        done += k;
        let rate = (done as usize * args.batch) as f64 / started.elapsed().as_secs_f64();
        #[derive(Serialize)]
        struct Progress {
            event: &'static str,
            step: u64,
            train_samples_per_s: f64,
        }
        reporter.progress(
            done,
            &Progress {
                event: "progress",
                step: done,
                train_samples_per_s: rate,
            },
            || format!("{rate:.0} samples/s"),
        );
    }
    let secs = started.elapsed().as_secs_f64();
    let samples_per_s = (args.steps as usize * args.batch) as f64 / secs;
    let flops = pollster::block_on(engine.model())?.forward_flops();
    let profile = if args.profile {
        let profile = engine.profile(PROFILE_REPS)?;
        if profile.is_none() {
            return Err(
                "--profile times the GPU engine's kernels: use it with --backend gpu".into(),
            );
        }
        profile
    } else {
        None
    };
    let summary = Summary {
        event: "summary",
        train_samples_per_s: samples_per_s,
        train_gflops: samples_per_s * 3.0 * flops as f64 / 1e9,
        forward_flops_per_sample: flops,
        ms_per_step: 1e3 * secs / args.steps as f64,
        batch: args.batch,
        steps: args.steps,
        arch: args.arch.to_string(),
        optimizer: config.optimizer.kind.name(),
        backend: engine.backend(),
        adapter: engine.adapter(),
        profile,
    };
    reporter.summary(&summary, || {
        format!(
            "{:.0} samples/s, {:.2} GFLOP/s ({:.2} ms per step of {} samples, {}, {}, {} backend{})",
            summary.train_samples_per_s,
            summary.train_gflops,
            summary.ms_per_step,
            summary.batch,
            summary.arch,
            summary.optimizer,
            summary.backend,
            summary
                .adapter
                .as_ref()
                .map(|a| format!(" on {a}"))
                .unwrap_or_default()
        ) + &summary.profile.as_ref().map(describe).unwrap_or_default()
    });
    Ok(())
}

/// The profile as lines under the summary: dispatches, then each kernel's share, slowest first.
fn describe(p: &StepProfile) -> String {
    let total: f64 = p.kernels.iter().map(|k| k.ms_per_step).sum();
    let mut out = format!(
        "\n{} dispatches per step, {:.3} ms per step timed whole; each kernel timed alone:",
        p.dispatches_per_step, p.ms_per_step
    );
    for k in &p.kernels {
        out += &format!(
            "\n  {:<32} ×{:<3} {:8.3} ms {:5.1}%",
            k.kernel,
            k.dispatches,
            k.ms_per_step,
            100.0 * k.ms_per_step / total.max(1e-12)
        );
    }
    out
}
