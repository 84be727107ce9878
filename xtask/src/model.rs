//! The checkpoint the page opens with: LeNet-300-100 trained by the native CLI with a fixed seed
//! at build time (written into dist/, never committed), so a visitor can prune a real trained
//! network the moment the page loads.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::{cmd, data, dist};

/// Where the page fetches it from (relative to dist/).
pub const SHIPPED: &str = "model/lenet-300-100.safetensors";

pub fn shipped_path(root: &Path) -> PathBuf {
    dist::dir(root).join(SHIPPED)
}

/// Trains the shipped checkpoint unless it is already there (two epochs of the CLI's defaults,
/// seed 0: about 97% test accuracy in a few seconds).
pub fn ensure_shipped(root: &Path) -> Result<()> {
    let out = shipped_path(root);
    if out.is_file() {
        return Ok(());
    }
    let dir = out.parent().context("the checkpoint has a folder")?;
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let partial = out.with_extension("partial");
    step!("model: training the shipped checkpoint (LeNet-300-100, 2 epochs, seed 0)");
    cmd::run(
        cmd::cargo()
            .args([
                "run",
                "--release",
                "--quiet",
                "--bin",
                "pruneplay",
                "--",
                "train",
            ])
            .args([
                "--epochs",
                "2",
                "--seed",
                "0",
                "--backend",
                "cpu",
                "--data",
                &data::mnist_dir(root).display().to_string(),
                "--out",
                &partial.display().to_string(),
            ]),
    )?;
    fs::rename(&partial, &out)
        .with_context(|| format!("moving the checkpoint to {}", out.display()))
}
