//! `pruneplay`: the command-line front end. Every subcommand prints JSON lines with `--json`
//! (progress events, then a summary object as the last line) or a progress bar and a readable
//! summary without it. Errors go to stderr with a non-zero exit code.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
