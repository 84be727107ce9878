//! `cargo xtask build`: the release wasm, its JS bindings, and dist/.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{cmd, data, dist, model};

pub const TARGET: &str = "wasm32-unknown-unknown";

pub fn build(root: &Path) -> Result<()> {
    data::ensure(root)?;
    ensure_target()?;
    let bindgen = ensure_wasm_bindgen(root)?;
    step!("build: compiling pruneplay for {TARGET} (release)");
    cmd::run(cmd::cargo().args([
        "build",
        "--release",
        "--lib",
        "-p",
        "pruneplay",
        "--target",
        TARGET,
    ]))?;
    let wasm = target_dir(root)
        .join(TARGET)
        .join("release")
        .join("pruneplay.wasm");
    if !wasm.is_file() {
        bail!(
            "cargo built no {}: the pruneplay lib must have crate-type \"cdylib\"",
            wasm.display()
        );
    }
    let pkg = dist::dir(root).join("pkg");
    let outputs = [pkg.join("pruneplay.js"), pkg.join("pruneplay_bg.wasm")];
    if is_newer_than(&outputs, &wasm) {
        step!("build: dist/pkg is up to date with {}", wasm.display());
    } else {
        cmd::run(
            Command::new(&bindgen)
                .args(["--target", "web", "--no-typescript", "--out-dir"])
                .arg(&pkg)
                .arg(&wasm),
        )?;
    }
    dist::assemble(root)?;
    model::ensure_shipped(root)?;
    step!("build: {} is ready", dist::dir(root).display());
    Ok(())
}

/// Adds the wasm target through rustup when it is missing (fresh machines lack it).
pub fn ensure_target() -> Result<()> {
    if cmd::which("rustup").is_none() {
        // A distro toolchain cannot add targets; cargo will then say the target is missing.
        step!("rustup not found: assuming the {TARGET} target is installed");
        return Ok(());
    }
    let installed = cmd::stdout(Command::new("rustup").args(["target", "list", "--installed"]))?;
    if installed.lines().any(|line| line.trim() == TARGET) {
        return Ok(());
    }
    step!("adding the {TARGET} target");
    cmd::run(Command::new("rustup").args(["target", "add", TARGET]))
}

/// A wasm-bindgen CLI whose version equals the `wasm-bindgen` crate in Cargo.lock: the two
/// share an unversioned ABI, and a mismatch fails at bindgen time or, worse, in the browser.
fn ensure_wasm_bindgen(root: &Path) -> Result<PathBuf> {
    let lock = root.join("Cargo.lock");
    let text = fs::read_to_string(&lock).with_context(|| {
        format!(
            "reading {}: run `cargo generate-lockfile` to create it",
            lock.display()
        )
    })?;
    let want = locked_version(&text, "wasm-bindgen")?;
    let installed = cargo_home()?.join("bin").join("wasm-bindgen");
    let candidates = cmd::which("wasm-bindgen")
        .into_iter()
        .chain([installed.clone()]);
    for candidate in candidates {
        if bindgen_version(&candidate).as_deref() == Some(want.as_str()) {
            step!("wasm-bindgen {want}: {}", candidate.display());
            return Ok(candidate);
        }
    }
    step!(
        "installing wasm-bindgen-cli {want} to match Cargo.lock (builds from source, a few minutes)"
    );
    // No --locked: the CLI's lock file pins a webpki-roots version that the registry reachable
    // here does not serve; resolving afresh works.
    cmd::run(cmd::cargo().args(["install", "wasm-bindgen-cli", "--version", &want]))?;
    match bindgen_version(&installed) {
        Some(got) if got == want => Ok(installed),
        got => bail!(
            "after `cargo install`, {} reports version {}, not {want}",
            installed.display(),
            got.as_deref().unwrap_or("nothing")
        ),
    }
}

/// The one version of `name` in a Cargo.lock.
fn locked_version(lock: &str, name: &str) -> Result<String> {
    let mut versions = Vec::new();
    for block in lock.split("[[package]]").skip(1) {
        let field = |key: &str| {
            block.lines().find_map(|line| {
                let value = line.strip_prefix(key)?.trim_start().strip_prefix('=')?;
                Some(value.trim().trim_matches('"').to_owned())
            })
        };
        if field("name").as_deref() == Some(name)
            && let Some(version) = field("version")
        {
            versions.push(version);
        }
    }
    match versions.as_slice() {
        [one] => Ok(one.clone()),
        [] => {
            bail!("Cargo.lock has no `{name}` package: pruneplay must depend on {name} for wasm32")
        }
        many => bail!(
            "Cargo.lock has several `{name}` versions ({}): pin one with `{name} = \"=X.Y.Z\"`",
            many.join(", ")
        ),
    }
}

/// `wasm-bindgen 0.2.130` → `0.2.130`; None when the binary is missing or prints nothing useful.
fn bindgen_version(binary: &Path) -> Option<String> {
    if !binary.is_file() {
        return None;
    }
    let out = cmd::capture(Command::new(binary).arg("--version")).ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace().nth(1).map(str::to_owned)
}

fn cargo_home() -> Result<PathBuf> {
    if let Some(home) = env::var_os("CARGO_HOME").filter(|h| !h.is_empty()) {
        return Ok(PathBuf::from(home));
    }
    env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|home| PathBuf::from(home).join(".cargo"))
        .context(
            "neither CARGO_HOME nor HOME is set: set one so cargo-installed tools can be found",
        )
}

fn target_dir(root: &Path) -> PathBuf {
    match env::var_os("CARGO_TARGET_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => root.join(dir),
        None => root.join("target"),
    }
}

/// Every output exists and is at least as new as the input.
fn is_newer_than(outputs: &[PathBuf], input: &Path) -> bool {
    let modified = |path: &Path| path.metadata().and_then(|meta| meta.modified()).ok();
    let Some(input_time) = modified(input) else {
        return false;
    };
    outputs
        .iter()
        .all(|out| modified(out).is_some_and(|time| time >= input_time))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCK: &str = r#"
version = 4

[[package]]
name = "wasm-bindgen-macro"
version = "0.2.130"

[[package]]
name = "wasm-bindgen"
version = "0.2.130"
source = "registry+https://github.com/rust-lang/crates.io-index"
dependencies = [
 "cfg-if",
]
"#;

    #[test]
    fn reads_exactly_the_named_package() {
        assert_eq!(
            locked_version(LOCK, "wasm-bindgen").expect("found"),
            "0.2.130"
        );
        assert!(locked_version(LOCK, "js-sys").is_err());
        let twice = format!("{LOCK}\n[[package]]\nname = \"wasm-bindgen\"\nversion = \"0.2.99\"\n");
        assert!(locked_version(&twice, "wasm-bindgen").is_err());
    }
}
