//! The npm folders of the project (tests/browser, bench/browser): installed from their committed
//! lock files, again only when the lock changed.

use std::path::Path;
use std::process::Command;
use std::time::SystemTime;

use anyhow::{Result, bail};

use crate::cmd;

/// Runs `npm ci` in `dir` unless its node_modules matches its package-lock.json.
pub fn ensure_installed(dir: &Path) -> Result<()> {
    let lock = dir.join("package-lock.json");
    if !dir.join("package.json").is_file() {
        bail!("{} is missing", dir.join("package.json").display());
    }
    if !lock.is_file() {
        bail!(
            "{} is missing: run `npm install` in {} and commit the lock file",
            lock.display(),
            dir.display()
        );
    }
    // npm writes this copy of the lock on every install; older than the lock means stale.
    let installed = dir.join("node_modules").join(".package-lock.json");
    if modified(&installed).is_none_or(|installed| modified(&lock) > Some(installed)) {
        cmd::run(Command::new("npm").arg("ci").current_dir(dir))?;
    }
    Ok(())
}

fn modified(path: &Path) -> Option<SystemTime> {
    path.metadata().and_then(|meta| meta.modified()).ok()
}
