//! `cargo xtask bench`: the CPU engine's training throughput beside the same step in NumPy on an
//! optimised BLAS, measured in one run so the ratio holds on a noisy machine.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::cmd;

/// Reads `train_samples_per_s` from the last JSON line a benchmark printed.
fn samples_per_s(stdout: &[u8], what: &str) -> Result<f64> {
    let text = String::from_utf8_lossy(stdout);
    let last = text
        .lines()
        .last()
        .with_context(|| format!("{what} printed nothing"))?;
    let key = "\"train_samples_per_s\":";
    let start = last
        .find(key)
        .with_context(|| format!("{what}: no train_samples_per_s in {last}"))?;
    let rest = &last[start + key.len()..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    rest[..end]
        .trim()
        .parse()
        .with_context(|| format!("{what}: bad number in {last}"))
}

fn output(command: &mut Command, what: &str) -> Result<Vec<u8>> {
    step!("$ {command:?}");
    let out = command
        .output()
        .with_context(|| format!("starting {what}"))?;
    if !out.status.success() {
        bail!("{what} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    // Only the summary (the last line); the progress lines before it are noise here.
    if let Some(last) = String::from_utf8_lossy(&out.stdout).lines().last() {
        println!("{last}");
    }
    Ok(out.stdout)
}

pub fn run(root: &Path, batch: usize, rounds: usize) -> Result<()> {
    cmd::run(cmd::cargo().args(["build", "--release", "--bin", "pruneplay"]))?;
    let venv = root.join("target/bench-venv");
    let python = venv.join("bin/python");
    if !python.exists() {
        cmd::run(Command::new("python3").args(["-m", "venv"]).arg(&venv))
            .context("creating a Python virtual environment (apt-get install -y python3-venv)")?;
        cmd::run(Command::new(&python).args(["-m", "pip", "install", "--quiet", "numpy"]))?;
    }
    let batch = batch.to_string();
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    // Alternate the two programs so drift in machine load hits both alike.
    for _ in 0..rounds {
        let out = output(
            Command::new(root.join("target/release/pruneplay"))
                .args(["bench", "--json", "--batch", &batch]),
            "pruneplay bench",
        )?;
        ours.push(samples_per_s(&out, "pruneplay bench")?);
        // The machine image sets OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE for old OpenBLAS builds;
        // they slow a current NumPy, so they are unset for this command only.
        let out = output(
            Command::new(&python)
                .arg(root.join("bench/numpy_step.py"))
                .args(["--batch", &batch])
                .env_remove("OPENBLAS_CORETYPE")
                .env_remove("OPENBLAS_L2_SIZE"),
            "NumPy step",
        )?;
        theirs.push(samples_per_s(&out, "NumPy step")?);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (a, b) = (median(&mut ours), median(&mut theirs));
    println!(
        "batch {batch}, median of {rounds}: pruneplay (ndarray) {a:.0} samples/s, NumPy {b:.0} samples/s, ratio {:.2}",
        a / b
    );
    Ok(())
}
