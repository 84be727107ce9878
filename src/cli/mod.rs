//! Subcommands of the `pruneplay` binary.

mod bench;
mod report;
mod train;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "pruneplay",
    version,
    about = "Train and prune MNIST MLPs, reproducibly."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Train an MLP on MNIST (or Fashion-MNIST) and report validation and test accuracy.
    Train(train::TrainArgs),
    /// Measure training throughput (samples per second) of the CPU engine.
    Bench(bench::BenchArgs),
}

pub fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    match cli.command {
        Command::Train(args) => train::run(args),
        Command::Bench(args) => bench::run(args),
    }
}
