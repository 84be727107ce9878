//! System packages the checks need, installed with apt where we are allowed to.

use std::path::Path;
use std::process::Command;

use anyhow::{Result, bail};

use crate::cmd;

/// Debian's Chromium; the browser tests drive it with playwright-core, which never downloads
/// a browser of its own (there is no internet here, only package registries).
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// What one missing piece needs from apt.
struct Need {
    what: &'static str,
    packages: &'static [&'static str],
}

/// Debian's Fashion-MNIST: the second data set on the page, and in the browser tests.
pub const FASHION_DEB: &str = "dataset-fashion-mnist";

/// `test` step (a): Chromium and lavapipe (software Vulkan, so native wgpu tests have an
/// adapter), npm/node for the browser tests and the MNIST download, and Fashion-MNIST (the data
/// set tests train on beside MNIST).
pub fn ensure_test_deps() -> Result<()> {
    let needs = missing();
    if needs.is_empty() {
        step!("system: chromium, mesa-vulkan-drivers, npm, node and {FASHION_DEB} are installed");
        return Ok(());
    }
    let what: Vec<&str> = needs.iter().map(|need| need.what).collect();
    let packages: Vec<&str> = needs
        .iter()
        .flat_map(|need| need.packages)
        .copied()
        .collect();
    step!("system: missing {}", what.join(", "));
    if !can_install() {
        bail!(
            "missing {}: install with `{}` (or your distribution's equivalent)",
            what.join(", "),
            apt_install_command(&packages)
        );
    }
    apt_install(&packages)?;
    let still: Vec<&str> = missing().iter().map(|need| need.what).collect();
    if !still.is_empty() {
        bail!(
            "still missing after apt-get install: {} (check the apt output above)",
            still.join(", ")
        );
    }
    Ok(())
}

/// Whether we may install packages ourselves: as root, with apt-get. Anyone else gets the
/// command to run instead (installing behind a user's back through sudo would be a surprise).
pub fn can_install() -> bool {
    is_root() && cmd::which("apt-get").is_some()
}

/// `apt-get update`, then installs `packages` without questions.
pub fn apt_install(packages: &[&str]) -> Result<()> {
    cmd::run(Command::new("apt-get").arg("update"))?;
    cmd::run(
        Command::new("apt-get")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args(["install", "-y"])
            .args(packages),
    )
}

fn missing() -> Vec<Need> {
    let mut needs = Vec::new();
    if !Path::new(CHROMIUM).is_file() || !dpkg_installed("mesa-vulkan-drivers") {
        // Installed together: both are what "a browser and a GPU without a GPU" needs.
        needs.push(Need {
            what: "chromium/mesa-vulkan-drivers",
            packages: &["chromium", "mesa-vulkan-drivers"],
        });
    }
    if cmd::which("npm").is_none() || cmd::which("node").is_none() {
        needs.push(Need {
            what: "npm/node",
            packages: &["npm"],
        });
    }
    if !dpkg_installed(FASHION_DEB) {
        needs.push(Need {
            what: "Fashion-MNIST",
            packages: &[FASHION_DEB],
        });
    }
    needs
}

pub fn dpkg_installed(package: &str) -> bool {
    // `dpkg -s` also succeeds for removed-but-configured packages, so read the status line.
    cmd::capture(Command::new("dpkg-query").args(["-W", "-f=${Status}", package])).is_ok_and(
        |out| out.status.success() && String::from_utf8_lossy(&out.stdout).contains("ok installed"),
    )
}

pub fn is_root() -> bool {
    cmd::stdout(Command::new("id").arg("-u")).is_ok_and(|uid| uid.trim() == "0")
}

/// `apt-get <args>` as the user should type it: with sudo unless already root.
pub fn apt_command(args: &[&str]) -> String {
    let sudo = if is_root() { "" } else { "sudo " };
    format!("{sudo}apt-get {}", args.join(" "))
}

pub fn apt_install_command(packages: &[&str]) -> String {
    let mut args = vec!["install", "-y"];
    args.extend_from_slice(packages);
    apt_command(&args)
}
