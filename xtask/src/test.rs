//! `cargo xtask test`: every check CI runs, in order, stopping at the first failure.

use std::fs;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{cmd, data, dist, npm, serve, system, wasm};

#[derive(clap::Args)]
pub struct TestArgs {
    /// Skip the release wasm builds and the headless-Chromium tests (steps 8 and 10).
    #[arg(long)]
    skip_browser: bool,
    /// Skip `cargo fmt --check` and the clippy runs (steps 2 to 5 and 9).
    #[arg(long)]
    skip_lint: bool,
    /// Extra arguments for the test binaries of `cargo test --workspace`,
    /// e.g. `cargo xtask test -- --skip slow`.
    #[arg(last = true, value_name = "TEST_ARGS")]
    test_args: Vec<String>,
}

/// One step's body; borrowed so the steps can share `root` and `args`.
type Check<'a> = &'a dyn Fn() -> Result<()>;

pub fn run(root: &Path, args: &TestArgs) -> Result<()> {
    let lint = !args.skip_lint;
    let browser = !args.skip_browser;
    let steps: [(&str, bool, Check); 10] = [
        ("system packages", true, &system::ensure_test_deps),
        ("cargo fmt", lint, &|| {
            cmd::run(cmd::cargo().args(["fmt", "--all", "--", "--check"]))
                .context("run `cargo fmt --all` to fix the formatting")
        }),
        ("clippy (native)", lint, &|| {
            cmd::run(cmd::cargo().args([
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ]))
        }),
        // The core and its tests without wgpu: the `gpu` feature must stay a layer on top.
        ("clippy (core without the gpu feature)", lint, &|| {
            cmd::run(cmd::cargo().args([
                "clippy",
                "-p",
                "pruneplay",
                "--no-default-features",
                "--lib",
                "--tests",
                "--",
                "-D",
                "warnings",
            ]))
        }),
        ("clippy (wasm)", lint, &|| {
            wasm::ensure_target()?;
            cmd::run(cmd::cargo().args([
                "clippy",
                "-p",
                "pruneplay",
                "--lib",
                "--target",
                wasm::TARGET,
                "--",
                "-D",
                "warnings",
            ]))
        }),
        // Before the unit tests: the native training tests read data/mnist.
        ("data", true, &|| data::ensure(root)),
        ("cargo test", true, &|| {
            let mut test = cmd::cargo();
            test.args(["test", "--workspace"]);
            // With lavapipe installed there must be an adapter: the GPU tests then fail instead
            // of skipping, so a broken GPU path cannot hide behind a skip.
            if system::dpkg_installed("mesa-vulkan-drivers") {
                test.env("PRUNEPLAY_REQUIRE_GPU", "1");
            }
            if !args.test_args.is_empty() {
                test.arg("--").args(&args.test_args);
            }
            cmd::run(&mut test)
        }),
        ("build (wasm + dist/)", browser, &|| wasm::build(root)),
        // The threaded build's own code (rayon, wasm-bindgen-rayon) only compiles there; where
        // there is no nightly the build ships without it, and so this step passes without it.
        // After the build, whose dependencies (and rebuilt std) it reuses: about half a minute
        // instead of checking them all again first.
        ("clippy (threaded wasm, nightly)", lint, &|| {
            if let Err(why) = wasm::ensure_nightly() {
                step!("no threaded build to lint: {why:#}");
                return Ok(());
            }
            // In release, the threaded build's profile.
            cmd::run(wasm::nightly_cargo(&wasm::threaded_target_dir(root)).args([
                "clippy",
                "--release",
                "-p",
                "pruneplay",
                "--lib",
                "--features",
                "threads",
                "--target",
                wasm::TARGET,
                "-Z",
                "build-std=panic_abort,std",
                "--",
                "-D",
                "warnings",
            ]))
        }),
        ("browser tests", browser, &|| browser_tests(root)),
    ];
    let total = steps.len();
    for (number, (name, enabled, step)) in steps.iter().enumerate() {
        let number = number + 1;
        if !enabled {
            step!("step {number}/{total} {name}: skipped");
            continue;
        }
        step!("step {number}/{total} {name}");
        step().with_context(|| format!("step {number}/{total} failed: {name}"))?;
    }
    eprintln!("xtask test: all steps passed");
    Ok(())
}

/// node's test runner against dist/, served in-process on a free port.
fn browser_tests(root: &Path) -> Result<()> {
    let dir = root.join("tests").join("browser");
    npm::ensure_installed(&dir)?;
    let tests = test_files(root, &dir)?;
    if tests.is_empty() {
        bail!(
            "no test files in {} (names like *.test.mjs, see `node --test`)",
            dir.display()
        );
    }
    // The browser tests hold the page's numbers against the native CLI's on the same model.
    cmd::run(cmd::cargo().args(["build", "--release", "--quiet", "--bin", "pruneplay"]))?;
    let cli = root.join("target").join("release").join("pruneplay");
    let artifacts = root.join("artifacts");
    fs::create_dir_all(&artifacts).with_context(|| format!("creating {}", artifacts.display()))?;
    // WebGPU needs a secure context: http://127.0.0.1 is one, 0.0.0.0 is not.
    let server = serve::serve_dir(&dist::dir(root), SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
    step!("browser: serving dist/ at {}", server.url());
    let result = cmd::run(
        Command::new("node")
            .args(["--test", "--test-reporter=spec"])
            .args(&tests)
            .env("PRUNEPLAY_URL", server.url())
            .env("CHROMIUM", system::CHROMIUM)
            .env("ARTIFACTS", &artifacts)
            .env("PRUNEPLAY_CLI", &cli)
            .env("PRUNEPLAY_MODEL", crate::model::shipped_path(root))
            .env("PRUNEPLAY_VIT_MODEL", crate::model::shipped_vit_path(root))
            .env("PRUNEPLAY_DATA", crate::data::mnist_dir(root))
            .env("PRUNEPLAY_FASHION_DATA", crate::data::fashion_dir(root)),
    );
    drop(server);
    result
}

/// The files `node --test tests/browser/` would pick, listed explicitly: newer node versions
/// take globs instead of directories, and a list works with every version.
fn test_files(root: &Path, dir: &Path) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    collect_tests(dir, &mut found)?;
    found.sort();
    // Relative to the repo root (our working directory) so the printed command is short.
    Ok(found
        .into_iter()
        .map(|path| {
            path.strip_prefix(root)
                .map(Path::to_path_buf)
                .unwrap_or(path)
        })
        .collect())
}

fn collect_tests(dir: &Path, found: &mut Vec<PathBuf>) -> Result<()> {
    let entries = fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("listing {}", dir.display()))?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            if name != "node_modules" && !name.starts_with('.') {
                collect_tests(&path, found)?;
            }
        } else if is_test_file(&name) {
            found.push(path);
        }
    }
    Ok(())
}

/// node's default test file patterns.
fn is_test_file(name: &str) -> bool {
    let Some(stem) = [".js", ".mjs", ".cjs"]
        .iter()
        .find_map(|ext| name.strip_suffix(ext))
    else {
        return false;
    };
    stem == "test"
        || stem.starts_with("test-")
        || [".test", "-test", "_test"]
            .iter()
            .any(|suffix| stem.ends_with(suffix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_files_node_would() {
        for yes in [
            "app.test.mjs",
            "test.js",
            "test-ui.cjs",
            "x_test.js",
            "x-test.mjs",
        ] {
            assert!(is_test_file(yes), "{yes}");
        }
        for no in [
            "helpers.mjs",
            "package.json",
            "test.ts",
            "contest.js",
            "latest.mjs",
        ] {
            assert!(!is_test_file(no), "{no}");
        }
    }
}
