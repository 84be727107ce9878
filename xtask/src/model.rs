//! The checkpoints the page opens with: LeNet-300-100 and the tiny ViT, trained by the native CLI
//! with a fixed seed at build time (written into dist/, never committed), so a visitor can prune a
//! real trained network the moment the page loads.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::{cmd, data, dist};

/// Where the page fetches LeNet from (relative to dist/).
pub const SHIPPED: &str = "model/lenet-300-100.safetensors";
/// Where the page fetches the ViT from (relative to dist/).
pub const SHIPPED_VIT: &str = "model/vit-mnist.safetensors";

pub fn shipped_path(root: &Path) -> PathBuf {
    dist::dir(root).join(SHIPPED)
}

pub fn shipped_vit_path(root: &Path) -> PathBuf {
    dist::dir(root).join(SHIPPED_VIT)
}

/// Trains the shipped checkpoints unless they are already there: LeNet-300-100 with the CLI's
/// defaults (2 epochs, seed 0: about 97% test accuracy in a few seconds), and the ViT with its own
/// defaults (`--arch vit`: 8 epochs of AdamW, seed 0; about three minutes on two cores).
pub fn ensure_shipped(root: &Path) -> Result<()> {
    train(
        root,
        &shipped_path(root),
        "LeNet-300-100, 2 epochs, seed 0",
        &["--epochs", "2"],
    )?;
    train(
        root,
        &shipped_vit_path(root),
        "the tiny ViT, 8 epochs, seed 0; about three minutes",
        &["--arch", "vit"],
    )
}

fn train(root: &Path, out: &Path, what: &str, args: &[&str]) -> Result<()> {
    if out.is_file() {
        return Ok(());
    }
    let dir = out.parent().context("the checkpoint has a folder")?;
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let partial = out.with_extension("partial");
    step!("model: training the shipped checkpoint ({what})");
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
            .args(args)
            .args([
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
    fs::rename(&partial, out).with_context(|| format!("moving the checkpoint to {}", out.display()))
}
