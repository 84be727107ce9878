//! `cargo xtask build`: the release wasm, its JS bindings, and dist/.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{cmd, data, dist, model};

pub const TARGET: &str = "wasm32-unknown-unknown";

/// dist/'s folder for the single-threaded build, which every browser runs.
pub const PKG: &str = "pkg";
/// dist/'s folder for the threaded build, which the page loads when it is cross-origin isolated.
pub const THREADED_PKG: &str = "pkg-mt";
/// dist/'s file that says which builds there are (see [`builds_json`]).
pub const BUILDS_MANIFEST: &str = "builds.json";
/// The toolchain of the threaded build: shared memory needs the standard library rebuilt with
/// atomics (`-Z build-std`), which only nightly does.
pub const NIGHTLY: &str = "nightly";
/// rustc flags of the threaded build: the single-threaded build's SIMD (set for it in
/// .cargo/config.toml, which these replace) plus atomics and bulk memory, and the linker flags
/// wasm-bindgen's thread support expects (rustc does not add them): a shared memory, imported so
/// that every thread's instance gets the same one, declared up front at most 2 GiB, and the
/// thread-local storage symbols each new thread initialises its own copy with.
const THREADED_RUSTFLAGS: [&str; 16] = [
    "-C",
    "target-feature=+atomics,+bulk-memory,+simd128",
    "-C",
    "link-arg=--shared-memory",
    "-C",
    "link-arg=--import-memory",
    "-C",
    "link-arg=--max-memory=2147483648",
    "-C",
    "link-arg=--export=__wasm_init_tls",
    "-C",
    "link-arg=--export=__tls_size",
    "-C",
    "link-arg=--export=__tls_align",
    "-C",
    "link-arg=--export=__tls_base",
];

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
    let wasm = wasm_output(&target_dir(root))?;
    bindgen_into(&bindgen, &wasm, &dist::dir(root).join(PKG))?;
    build_threaded(root, &bindgen)?;
    dist::assemble(root)?;
    model::ensure_shipped(root)?;
    dist::write_datasets(root)?;
    step!("build: {} is ready", dist::dir(root).display());
    Ok(())
}

/// What dist/builds.json tells the page's worker: where the threaded build is, or why there is
/// none (it then loads the single-threaded build without asking the server for a missing file).
fn builds_json(threaded: std::result::Result<(), String>) -> String {
    let quote = |text: &str| {
        text.chars()
            .map(|c| match c {
                '"' | '\\' => format!("\\{c}"),
                c if c.is_control() => " ".into(),
                c => c.to_string(),
            })
            .collect::<String>()
    };
    match threaded {
        Ok(()) => format!("{{\"threaded\": \"{THREADED_PKG}/pruneplay.js\"}}\n"),
        Err(why) => format!("{{\"threaded\": null, \"why\": \"{}\"}}\n", quote(&why)),
    }
}

/// The threaded build into dist/pkg-mt, when a nightly toolchain can make it; otherwise says so,
/// removes any stale copy and leaves the page its single-threaded build.
fn build_threaded(root: &Path, bindgen: &Path) -> Result<()> {
    let pkg = dist::dir(root).join(THREADED_PKG);
    let manifest = dist::dir(root).join(BUILDS_MANIFEST);
    if let Err(why) = ensure_nightly() {
        step!("build: no threaded build ({why:#}); the page will run the CPU engine on one thread");
        if pkg.exists() {
            fs::remove_dir_all(&pkg)
                .with_context(|| format!("removing stale {}", pkg.display()))?;
        }
        let why = format!("{why:#}");
        return fs::write(&manifest, builds_json(Err(why)))
            .with_context(|| format!("writing {}", manifest.display()));
    }
    step!("build: compiling pruneplay for {TARGET} with threads (release, {NIGHTLY}, build-std)");
    let dir = threaded_target_dir(root);
    cmd::run(nightly_cargo(&dir).args([
        "build",
        "--release",
        "--lib",
        "-p",
        "pruneplay",
        "--features",
        "threads",
        "--target",
        TARGET,
        "-Z",
        "build-std=panic_abort,std",
    ]))?;
    bindgen_into(bindgen, &wasm_output(&dir)?, &pkg)?;
    fs::write(&manifest, builds_json(Ok(())))
        .with_context(|| format!("writing {}", manifest.display()))
}

/// `cargo` of the nightly toolchain, building into `target_dir` with the threaded build's flags.
pub fn nightly_cargo(target_dir: &Path) -> Command {
    let mut cargo = Command::new("rustup");
    cargo
        .args(["run", NIGHTLY, "cargo"])
        // What the stable cargo that runs xtask set for us would pick the wrong toolchain.
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("RUSTC")
        .env_remove("CARGO")
        // Takes precedence over .cargo/config.toml's target rustflags (and the encoded form,
        // which would take precedence over it, is cleared).
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env("RUSTFLAGS", THREADED_RUSTFLAGS.join(" "))
        .env("CARGO_TARGET_DIR", target_dir);
    cargo
}

/// Its own target folder: other flags and another toolchain would otherwise rebuild the
/// single-threaded build's artifacts every time.
pub fn threaded_target_dir(root: &Path) -> PathBuf {
    target_dir(root).join("threads")
}

/// Makes sure the nightly toolchain has what the threaded build needs (the standard library's
/// source and the wasm target), adding them through rustup; an error says what is missing.
pub fn ensure_nightly() -> Result<()> {
    if cmd::which("rustup").is_none() {
        bail!("rustup was not found, so no {NIGHTLY} toolchain");
    }
    let toolchains = cmd::stdout(Command::new("rustup").args(["toolchain", "list"]))?;
    if !toolchains.lines().any(|line| line.starts_with(NIGHTLY)) {
        bail!("no {NIGHTLY} toolchain: install one with `rustup toolchain install {NIGHTLY}`");
    }
    let components = cmd::stdout(Command::new("rustup").args([
        "component",
        "list",
        "--installed",
        "--toolchain",
        NIGHTLY,
    ]))?;
    if !components.lines().any(|line| line.starts_with("rust-src")) {
        step!("adding rust-src to the {NIGHTLY} toolchain (for -Z build-std)");
        cmd::run(Command::new("rustup").args([
            "component",
            "add",
            "rust-src",
            "--toolchain",
            NIGHTLY,
        ]))?;
    }
    let targets = cmd::stdout(Command::new("rustup").args([
        "target",
        "list",
        "--installed",
        "--toolchain",
        NIGHTLY,
    ]))?;
    if !targets.lines().any(|line| line.trim() == TARGET) {
        step!("adding the {TARGET} target to the {NIGHTLY} toolchain");
        cmd::run(Command::new("rustup").args(["target", "add", TARGET, "--toolchain", NIGHTLY]))?;
    }
    Ok(())
}

/// The cdylib cargo wrote under `target_dir`.
fn wasm_output(target_dir: &Path) -> Result<PathBuf> {
    let wasm = target_dir
        .join(TARGET)
        .join("release")
        .join("pruneplay.wasm");
    if !wasm.is_file() {
        bail!(
            "cargo built no {}: the pruneplay lib must have crate-type \"cdylib\"",
            wasm.display()
        );
    }
    Ok(wasm)
}

/// The JS bindings and the final wasm in `pkg`, unless they are newer than `wasm` already.
fn bindgen_into(bindgen: &Path, wasm: &Path, pkg: &Path) -> Result<()> {
    let outputs = [pkg.join("pruneplay.js"), pkg.join("pruneplay_bg.wasm")];
    if is_newer_than(&outputs, wasm) {
        step!(
            "build: {} is up to date with {}",
            pkg.display(),
            wasm.display()
        );
        return Ok(());
    }
    // A newer dependency's JS snippets land in a new folder; the old one must not linger (the
    // service worker's list is checked against what is here).
    let snippets = pkg.join("snippets");
    if snippets.exists() {
        fs::remove_dir_all(&snippets)
            .with_context(|| format!("removing {}", snippets.display()))?;
    }
    cmd::run(
        Command::new(bindgen)
            .args(["--target", "web", "--no-typescript", "--out-dir"])
            .arg(pkg)
            .arg(wasm),
    )
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
    fn the_manifest_names_the_threaded_build_or_says_why_not() {
        assert_eq!(
            builds_json(Ok(())),
            "{\"threaded\": \"pkg-mt/pruneplay.js\"}\n"
        );
        assert_eq!(
            builds_json(Err("no \"nightly\" \\ here\n".into())),
            "{\"threaded\": null, \"why\": \"no \\\"nightly\\\" \\\\ here \"}\n"
        );
    }

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
