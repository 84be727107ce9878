//! `cargo xtask bench`: training throughput, each program beside its yardstick in one run so the
//! ratios hold on a noisy machine.
//!
//! Natively: the CPU engine vs the same step in NumPy on an optimised BLAS, and the GPU engine
//! (lavapipe where there is no GPU) vs the CPU engine. In headless Chromium (one session, see
//! bench/browser/bench.js): PrunePlay WebGPU and CPU-wasm vs TensorFlow.js WebGPU and wasm, and
//! the two threaded wasm builds on every core (the server makes the page cross-origin isolated).

use std::fs;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{cmd, dist, npm, serve, system, wasm};

#[derive(clap::Args)]
pub struct BenchArgs {
    #[arg(long, default_value_t = 128)]
    batch: usize,
    /// Runs of each program; medians are reported.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Skip the headless-Chromium comparison with TensorFlow.js.
    #[arg(long)]
    no_browser: bool,
    /// End with the summary as one JSON line on stdout.
    #[arg(long)]
    json: bool,
    /// Time only these browser programs (comma-separated summary names, e.g.
    /// `pruneplay_wasm,pruneplay_wasm_mt`), and skip the native and lottery benchmarks: a quick
    /// loop while tuning one program against another.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Threads for the threaded wasm builds' pools (default: every core the browser reports).
    #[arg(long)]
    threads: Option<usize>,
}

/// Reads `key` (a number) from a JSON line.
fn number(line: &str, key: &str) -> Option<f64> {
    let pattern = format!("\"{key}\":");
    let rest = &line[line.find(&pattern)? + pattern.len()..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    rest[..end].trim().parse().ok()
}

/// Runs a benchmark program and returns the last line it printed.
fn last_line(command: &mut Command, what: &str) -> Result<String> {
    step!("$ {command:?}");
    let out = command
        .output()
        .with_context(|| format!("starting {what}"))?;
    if !out.status.success() {
        bail!("{what} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let last = text
        .lines()
        .last()
        .with_context(|| format!("{what} printed nothing"))?
        .to_owned();
    step!("{what}: {last}");
    Ok(last)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

pub fn run(root: &Path, args: &BenchArgs) -> Result<()> {
    let rounds = args.rounds.max(1);
    let mut summary: Vec<(String, String)> = vec![
        ("batch".into(), args.batch.to_string()),
        ("rounds".into(), rounds.to_string()),
    ];
    if args.only.is_empty() {
        native(root, args.batch, rounds, &mut summary)?;
    }
    if !args.no_browser {
        browser(root, rounds, args, &mut summary)?;
    }
    for (key, value) in &summary {
        println!("{key:>32}: {value}");
    }
    if args.json {
        let fields: Vec<String> = summary
            .iter()
            .map(|(k, v)| format!("\"{k}\":{v}"))
            .collect();
        println!("{{{}}}", fields.join(","));
    }
    Ok(())
}

fn native(
    root: &Path,
    batch: usize,
    rounds: usize,
    summary: &mut Vec<(String, String)>,
) -> Result<()> {
    cmd::run(cmd::cargo().args(["build", "--release", "--bin", "pruneplay"]))?;
    let venv = root.join("target/bench-venv");
    let python = venv.join("bin/python");
    if !python.exists() {
        cmd::run(Command::new("python3").args(["-m", "venv"]).arg(&venv))
            .context("creating a Python virtual environment (apt-get install -y python3-venv)")?;
        cmd::run(Command::new(&python).args(["-m", "pip", "install", "--quiet", "numpy"]))?;
    }
    let batch = batch.to_string();
    let pruneplay = root.join("target/release/pruneplay");
    let (mut cpu, mut gpu, mut numpy) = (Vec::new(), Vec::new(), Vec::new());
    let (mut vit, mut cpu_gflops, mut gpu_gflops, mut vit_gflops) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut gpu_vit, mut gpu_vit_gflops) = (Vec::new(), Vec::new());
    let mut adapter = None;
    // `pruneplay bench --json --batch B` with `extra` arguments; its summary line.
    let bench = |extra: &[&str], what: &str| {
        last_line(
            Command::new(&pruneplay)
                .args(["bench", "--json", "--batch", &batch])
                .args(extra),
            what,
        )
    };
    // Alternate the programs so drift in machine load hits all alike.
    for _ in 0..rounds {
        let line = bench(&["--backend", "cpu"], "pruneplay bench (cpu)")?;
        cpu.extend(number(&line, "train_samples_per_s"));
        cpu_gflops.extend(number(&line, "train_gflops"));
        // The shipped ViT's shape and optimizer, on the CPU engine (fewer steps: each is ~20×
        // LeNet's arithmetic).
        let line = bench(
            &["--backend", "cpu", "--arch", "vit", "--steps", "60"],
            "pruneplay bench (cpu, vit)",
        )?;
        vit.extend(number(&line, "train_samples_per_s"));
        vit_gflops.extend(number(&line, "train_gflops"));
        // The machine image sets OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE for old OpenBLAS builds;
        // they slow a current NumPy, so they are unset for this command only.
        let line = last_line(
            Command::new(&python)
                .arg(root.join("bench/numpy_step.py"))
                .args(["--batch", &batch])
                .env_remove("OPENBLAS_CORETYPE")
                .env_remove("OPENBLAS_L2_SIZE"),
            "NumPy step",
        )?;
        numpy.extend(number(&line, "train_samples_per_s"));
        match bench(&["--backend", "gpu"], "pruneplay bench (gpu)") {
            Ok(line) => {
                gpu.extend(number(&line, "train_samples_per_s"));
                gpu_gflops.extend(number(&line, "train_gflops"));
                if let Some(start) = line.find("\"adapter\":\"") {
                    let rest = &line[start + 11..];
                    adapter = rest.find('"').map(|end| rest[..end].to_owned());
                }
            }
            Err(e) => step!("no native GPU numbers: {e:#}"),
        }
        // The ViT on the GPU engine (fewer steps still: lavapipe runs it on the CPU).
        match bench(
            &["--backend", "gpu", "--arch", "vit", "--steps", "20"],
            "pruneplay bench (gpu, vit)",
        ) {
            Ok(line) => {
                gpu_vit.extend(number(&line, "train_samples_per_s"));
                gpu_vit_gflops.extend(number(&line, "train_gflops"));
            }
            Err(e) => step!("no native GPU ViT numbers: {e:#}"),
        }
    }
    let (cpu, numpy) = (median(cpu), median(numpy));
    summary.push(("native_cpu_train_sps".into(), format!("{cpu:.0}")));
    let cpu_gflops = median(cpu_gflops);
    summary.push(("native_cpu_train_gflops".into(), format!("{cpu_gflops:.2}")));
    let vit_gflops = median(vit_gflops);
    summary.push((
        "native_cpu_vit_train_sps".into(),
        format!("{:.0}", median(vit)),
    ));
    summary.push((
        "native_cpu_vit_train_gflops".into(),
        format!("{vit_gflops:.2}"),
    ));
    summary.push((
        "native_cpu_vit_vs_lenet_gflops".into(),
        format!("{:.2}", vit_gflops / cpu_gflops),
    ));
    summary.push(("numpy_train_sps".into(), format!("{numpy:.0}")));
    summary.push(("native_cpu_vs_numpy".into(), format!("{:.2}", cpu / numpy)));
    if !gpu.is_empty() {
        let gpu = median(gpu);
        let gpu_gflops = median(gpu_gflops);
        summary.push(("native_gpu_train_sps".into(), format!("{gpu:.0}")));
        summary.push(("native_gpu_train_gflops".into(), format!("{gpu_gflops:.2}")));
        summary.push(("native_gpu_vs_cpu".into(), format!("{:.2}", gpu / cpu)));
        if !gpu_vit.is_empty() {
            let gflops = median(gpu_vit_gflops);
            summary.push((
                "native_gpu_vit_train_sps".into(),
                format!("{:.0}", median(gpu_vit)),
            ));
            summary.push(("native_gpu_vit_train_gflops".into(), format!("{gflops:.2}")));
            summary.push((
                "native_gpu_vit_vs_lenet_gflops".into(),
                format!("{:.2}", gflops / gpu_gflops),
            ));
        }
        summary.push((
            "native_gpu_adapter".into(),
            format!("\"{}\"", adapter.unwrap_or_default()),
        ));
    }
    Ok(())
}

/// Files of the TensorFlow.js packages the page loads (classic scripts and the wasm binaries).
const TFJS_FILES: [&str; 6] = [
    "@tensorflow/tfjs/dist/tf.min.js",
    "@tensorflow/tfjs-backend-webgpu/dist/tf-backend-webgpu.min.js",
    "@tensorflow/tfjs-backend-wasm/dist/tf-backend-wasm.min.js",
    "@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm",
    "@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm",
    "@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm",
];

fn browser(
    root: &Path,
    rounds: usize,
    args: &BenchArgs,
    summary: &mut Vec<(String, String)>,
) -> Result<()> {
    system::ensure_test_deps()?;
    wasm::build(root)?;
    let dir = root.join("bench/browser");
    npm::ensure_installed(&dir)?;
    // dist/bench/: the page, and TensorFlow.js from node_modules (dev-only, never committed).
    let out = dist::dir(root).join("bench");
    fs::create_dir_all(out.join("tfjs")).with_context(|| format!("creating {}", out.display()))?;
    for file in [
        "index.html",
        "bench.js",
        "timing.js",
        "bench-worker.js",
        "tfjs-mt.html",
        "tfjs-mt.js",
    ] {
        fs::copy(dir.join(file), out.join(file)).with_context(|| format!("copying {file}"))?;
    }
    for file in TFJS_FILES {
        let from = dir.join("node_modules").join(file);
        let name = from.file_name().context("a file name")?;
        fs::copy(&from, out.join("tfjs").join(name))
            .with_context(|| format!("copying {}", from.display()))?;
    }
    let server = serve::serve_dir(&dist::dir(root), SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
    let mut url = format!("{}bench/index.html?rounds={rounds}", server.url());
    if !args.only.is_empty() {
        url += &format!("&only={}", args.only.join(","));
    }
    if let Some(threads) = args.threads {
        url += &format!("&threads={threads}");
    }
    let line = last_line(
        Command::new("node")
            .arg(dir.join("run.mjs"))
            .env("BENCH_URL", &url)
            .env("CHROMIUM", system::CHROMIUM)
            .current_dir(&dir),
        "browser benchmark",
    )?;
    let mut lines = vec![line];
    // One lottery-ticket round in the main page, WebGPU vs CPU (bench/browser/lottery.mjs).
    if args.only.is_empty() {
        lines.push(last_line(
            Command::new("node")
                .arg(dir.join("lottery.mjs"))
                .env("BENCH_PAGE", server.url())
                .env("BENCH_ROUNDS", rounds.to_string())
                .env("CHROMIUM", system::CHROMIUM)
                .current_dir(&dir),
            "browser lottery benchmark",
        )?);
    }
    drop(server);
    // Copy every field of the pages' summaries over (each is one flat JSON object).
    for line in lines {
        let body = line.trim().trim_start_matches('{').trim_end_matches('}');
        for field in split_fields(body) {
            if let Some((key, value)) = field.split_once(':') {
                let key = key.trim().trim_matches('"');
                if key != "batch" && key != "rounds" {
                    summary.push((key.to_owned(), value.trim().to_owned()));
                }
            }
        }
    }
    Ok(())
}

/// Splits a flat JSON object's body at the commas between fields (not those inside strings).
fn split_fields(body: &str) -> Vec<&str> {
    let mut fields = Vec::new();
    let (mut start, mut in_string, mut escaped) = (0, false, false);
    for (i, c) in body.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_string => escaped = true,
            '"' => in_string = !in_string,
            ',' if !in_string => {
                fields.push(&body[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    fields.push(&body[start..]);
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_numbers_and_fields_of_a_flat_json_line() {
        let line = r#"{"adapter":"google, swiftshader","x_sps":12.5,"n":3}"#;
        assert_eq!(number(line, "x_sps"), Some(12.5));
        assert_eq!(number(line, "n"), Some(3.0));
        assert_eq!(number(line, "missing"), None);
        let body = line.trim_start_matches('{').trim_end_matches('}');
        assert_eq!(
            split_fields(body),
            vec![
                r#""adapter":"google, swiftshader""#,
                r#""x_sps":12.5"#,
                r#""n":3"#
            ]
        );
    }
}
