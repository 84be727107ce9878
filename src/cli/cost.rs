//! `pruneplay cost`: what a model costs dense, masked, in CSR, compacted and 2:4 (parameters,
//! nonzeros, FLOPs, bytes) and how long each takes for a forward pass over test images, on the
//! GPU and the CPU: the measurement behind "why 80% unstructured sparsity is not 5× faster".

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use serde::Serialize;

use super::prune::check_fits;
use super::report::Reporter;
use super::train::{BackendChoice, DatasetName, FallbackNote, load_data, resolve_backend_noting};
use pruneplay::engine::Backend;
use pruneplay::gpu::forward_timing::time_gpu;
use pruneplay::prune::cost::Cost;
use pruneplay::prune::variants::{self, ForwardTimings, Kernel, TimingOptions, VariantTiming};
use pruneplay::train::evaluate;

#[derive(Debug, Args)]
pub struct CostArgs {
    /// The trained (dense) model, e.g. from `pruneplay train --out`.
    model: PathBuf,
    /// Fraction pruned: of the weights (magnitude, unstructured) and of the hidden neurons
    /// (structured-l1, then compacted). 2:4 always prunes half.
    #[arg(long, default_value_t = 0.8)]
    sparsity: f64,
    /// Test images in the timed batch.
    #[arg(long, default_value_t = 10_000)]
    batch: usize,
    /// Timed forward passes per variant (their median is reported), after --warmup untimed ones.
    #[arg(long, default_value_t = 20)]
    reps: usize,
    #[arg(long, default_value_t = 2)]
    warmup: usize,
    /// gpu: time on the GPU (lavapipe where there is no GPU) and on the CPU; cpu: the CPU only;
    /// auto: also the GPU when a hardware adapter exists.
    #[arg(long, value_enum, default_value = "auto")]
    backend: BackendChoice,
    #[arg(long)]
    data: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "mnist")]
    dataset: DatasetName,
    /// JSON lines: one `variant` event per variant, then the `summary`.
    #[arg(long)]
    json: bool,
}

/// `auto` times on the GPU only when a hardware adapter exists (lavapipe is a correctness tool,
/// slower than the CPU); `gpu` takes what there is or fails.
const TIMING_ON_THE_CPU: FallbackNote = FallbackNote {
    software: "; timing on the CPU only (--backend gpu times it anyway)",
    no_gpu: "timing on the CPU only",
};

/// Logits further than this from the CPU reference mean the kernel is wrong, not rounded.
const LOGIT_TOLERANCE: f32 = 1e-3;

#[derive(Serialize)]
struct VariantReport {
    event: &'static str,
    name: &'static str,
    description: String,
    kernel: Kernel,
    cost: Cost,
    /// Accuracy on the timed test images.
    accuracy: f64,
    gpu: Option<VariantTiming>,
    /// Dense variant's median over this one's.
    gpu_speedup: Option<f64>,
    cpu: VariantTiming,
    cpu_speedup: f64,
}

#[derive(Serialize)]
struct Summary {
    event: &'static str,
    model: String,
    arch: String,
    sparsity: f64,
    batch: usize,
    reps: usize,
    variants: Vec<VariantReport>,
    gpu: Option<ForwardTimings>,
    cpu: ForwardTimings,
}

pub fn run(args: CostArgs) -> Result<(), Box<dyn std::error::Error>> {
    let model = pruneplay::checkpoint::load_file(&args.model)?;
    let data = load_data(args.data.clone(), args.dataset)?;
    check_fits(&model, &data)?;
    if args.batch == 0 || args.batch > data.test.len() {
        return Err(format!(
            "--batch {} must be between 1 and the {} test images",
            args.batch,
            data.test.len()
        )
        .into());
    }
    let model = match model {
        pruneplay::model::Model::Mlp(m) => m,
        vit => {
            return super::vit_cost::run(
                &vit,
                &data,
                args.sparsity,
                args.batch,
                args.reps,
                args.warmup,
                args.json,
            );
        }
    };
    let test = data.test.slice(0, args.batch);
    let (x, _) = test.batch(0, test.len());
    let built = variants::build(&model, args.sparsity)?;
    let options = TimingOptions {
        reps: args.reps.max(1),
        warmup: args.warmup,
    };
    let started = Instant::now();
    let clock = || 1e3 * started.elapsed().as_secs_f64();

    let gpu = match resolve_backend_noting(args.backend, &TIMING_ON_THE_CPU)? {
        Backend::Gpu(ctx) => {
            if !args.json {
                eprintln!(
                    "timing {} variants × {} passes of {} images on {}…",
                    built.len(),
                    options.warmup + options.reps,
                    args.batch,
                    ctx.adapter_name()
                );
            }
            let t = pollster::block_on(time_gpu(&ctx, &built, x.view(), &options, clock));
            ctx.wait_idle()?;
            Some(t?)
        }
        Backend::Cpu => None,
    };
    if !args.json {
        eprintln!("timing on the CPU…");
    }
    let cpu = variants::time_cpu(&built, x.view(), &options, clock)?;

    let speedup = |t: &ForwardTimings, v: &VariantTiming| {
        t.get("dense")
            .map_or(f64::NAN, |d| d.median_ms / v.median_ms)
    };
    let reports: Vec<VariantReport> = built
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            let g = gpu.as_ref().map(|t| t.variants[i].clone());
            let c = cpu.variants[i].clone();
            for t in g.iter().chain([&c]) {
                if t.max_abs_diff > LOGIT_TOLERANCE {
                    eprintln!(
                        "warning: {} through the {} kernel gives logits {} away from the CPU \
                         reference",
                        v.name,
                        v.kernel.name(),
                        t.max_abs_diff
                    );
                }
            }
            VariantReport {
                event: "variant",
                name: v.name,
                accuracy: evaluate(&v.model, &test).accuracy,
                description: v.description,
                kernel: v.kernel,
                cost: v.cost,
                gpu_speedup: gpu.as_ref().zip(g.as_ref()).map(|(t, g)| speedup(t, g)),
                gpu: g,
                cpu_speedup: speedup(&cpu, &c),
                cpu: c,
            }
        })
        .collect();
    let summary = Summary {
        event: "summary",
        model: args.model.display().to_string(),
        arch: model.architecture().to_string(),
        sparsity: args.sparsity,
        batch: args.batch,
        reps: options.reps,
        variants: reports,
        gpu,
        cpu,
    };
    if args.json {
        for v in &summary.variants {
            println!("{}", serde_json::to_string(v)?);
        }
    }
    Reporter::new(args.json, 1, "cost").summary(&summary, || text(&summary));
    Ok(())
}

fn kib(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / 1024.0)
}

fn text(s: &Summary) -> String {
    let mut out = format!(
        "{} ({}) at sparsity {}; forward pass over {} test images, median of {}\n\n",
        s.arch, s.model, s.sparsity, s.batch, s.reps
    );
    out.push_str(&format!(
        "{:<11} {:<15} {:>8} {:>7} {:>11} {:>12} {:>10} {:>10} {:>10} {:>8}\n",
        "variant", "arch", "nonzero", "neurons", "dense", "sparse", "dense", "CSR", "2:4", "test"
    ));
    out.push_str(&format!(
        "{:<11} {:<15} {:>8} {:>7} {:>11} {:>12} {:>10} {:>10} {:>10} {:>8}\n",
        "", "", "weights", "removed", "MFLOP/img", "MFLOP/img", "KiB", "KiB", "KiB", "acc."
    ));
    for v in &s.variants {
        let t = &v.cost.total;
        out.push_str(&format!(
            "{:<11} {:<15} {:>8} {:>7} {:>11.3} {:>12.3} {:>10} {:>10} {:>10} {:>7.2}%\n",
            v.name,
            v.cost.arch,
            t.nonzero_weights,
            t.neurons_removed,
            t.dense_flops as f64 / 1e6,
            t.sparse_flops as f64 / 1e6,
            kib(t.bytes_dense),
            kib(t.bytes_csr),
            t.bytes_2_4.map_or("-".into(), kib),
            100.0 * v.accuracy
        ));
    }
    out.push('\n');
    let gpu_name = s.gpu.as_ref().map(|g| {
        format!(
            "GPU: {}{}",
            g.adapter.clone().unwrap_or_default(),
            if g.software { ", software" } else { "" }
        )
    });
    out.push_str(&format!(
        "{:<11} {:<7} {:>10} {:>8} {:>10} {:>10} {:>8} {:>10}\n",
        "variant", "kernel", "GPU ms", "×dense", "max |Δ|", "CPU ms", "×dense", "max |Δ|"
    ));
    for v in &s.variants {
        let (g_ms, g_x, g_d) = match (&v.gpu, v.gpu_speedup) {
            (Some(g), Some(x)) => (
                format!("{:.2}", g.median_ms),
                format!("{x:.2}"),
                format!("{:.1e}", g.max_abs_diff),
            ),
            _ => ("-".into(), "-".into(), "-".into()),
        };
        out.push_str(&format!(
            "{:<11} {:<7} {:>10} {:>8} {:>10} {:>10.2} {:>8.2} {:>10.1e}\n",
            v.name,
            v.kernel.name(),
            g_ms,
            g_x,
            g_d,
            v.cpu.median_ms,
            v.cpu_speedup,
            v.cpu.max_abs_diff
        ));
    }
    out.push_str(&format!(
        "\n×dense: the dense model's median time over this one's (higher is faster). max |Δ|: \
         largest logit difference from the CPU engine's dense forward pass of the same model.\n{}",
        gpu_name.unwrap_or_else(|| "GPU: not timed".into())
    ));
    if s.gpu.as_ref().is_some_and(|g| g.software) {
        out.push_str(
            "\nThis adapter runs the kernels on the CPU: its times compare kernels with each \
             other, not what a graphics card would do.",
        );
    }
    out
}
