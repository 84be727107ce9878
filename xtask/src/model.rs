//! The checkpoints the page opens with: LeNet-300-100 and the tiny ViT, trained by the native CLI
//! with a fixed seed at build time (written into dist/, never committed), so a visitor can prune a
//! real trained network the moment the page loads.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};

use crate::{cmd, data, dist, system};

/// Where the page fetches LeNet from (relative to dist/).
pub const SHIPPED: &str = "model/lenet-300-100.safetensors";
/// Where the page fetches the ViT from (relative to dist/).
pub const SHIPPED_VIT: &str = "model/vit-mnist.safetensors";
/// Where the page fetches LeNet trained on Fashion-MNIST from (relative to dist/).
pub const SHIPPED_FASHION: &str = "model/lenet-300-100-fashion.safetensors";

pub fn shipped_path(root: &Path) -> PathBuf {
    dist::dir(root).join(SHIPPED)
}

pub fn shipped_vit_path(root: &Path) -> PathBuf {
    dist::dir(root).join(SHIPPED_VIT)
}

pub fn shipped_fashion_path(root: &Path) -> PathBuf {
    dist::dir(root).join(SHIPPED_FASHION)
}

/// Trains the shipped checkpoints unless they are already there: LeNet-300-100 with the CLI's
/// defaults (2 epochs, seed 0: about 97% test accuracy in a few seconds), and the ViT with its own
/// defaults (`--arch vit`: 8 epochs of AdamW, seed 0; about three minutes on two cores). Where
/// data/fashion/ is there, LeNet-300-100 on Fashion-MNIST too, with MNIST's recipe (about 86%);
/// where it is not, the build says how to get it and goes on (the page then offers MNIST only).
pub fn ensure_shipped(root: &Path) -> Result<()> {
    let mnist = data::mnist_dir(root);
    train(
        &shipped_path(root),
        "LeNet-300-100, 2 epochs, seed 0",
        &["--epochs", "2"],
        &mnist,
    )?;
    train(
        &shipped_vit_path(root),
        "the tiny ViT, 8 epochs, seed 0; about three minutes",
        &["--arch", "vit"],
        &mnist,
    )?;
    let fashion = data::fashion_dir(root);
    if !data::has_all(&fashion) {
        step!(
            "model: no Fashion-MNIST checkpoint, as data/fashion/ is missing (`cargo xtask data` as root installs {}, or `{}`; then rerun `cargo xtask build`)",
            system::FASHION_DEB,
            system::apt_install_command(&[system::FASHION_DEB])
        );
        return Ok(());
    }
    train(
        &shipped_fashion_path(root),
        "LeNet-300-100 on Fashion-MNIST, 2 epochs, seed 0",
        &["--epochs", "2", "--dataset", "fashion"],
        &fashion,
    )
}

fn train(out: &Path, what: &str, args: &[&str], data_dir: &Path) -> Result<()> {
    if out.is_file() {
        return Ok(());
    }
    let dir = out.parent().context("the checkpoint has a folder")?;
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let partial = out.with_extension("partial");
    step!("model: training the shipped checkpoint ({what})");
    let started = Instant::now();
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
                &data_dir.display().to_string(),
                "--out",
                &partial.display().to_string(),
            ]),
    )?;
    fs::rename(&partial, out)
        .with_context(|| format!("moving the checkpoint to {}", out.display()))?;
    step!(
        "model: {} trained in {:.0} s",
        out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
