//! Subcommands of the `pruneplay` binary.

mod bench;
mod cost;
mod lottery;
mod prune;
mod report;
mod train;
mod vit_cost;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "pruneplay",
    version,
    about = "Train and prune MNIST models (LeNet-300-100, other MLPs, a tiny ViT), reproducibly."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Train an MLP or the ViT on MNIST (or Fashion-MNIST) and report validation and test accuracy.
    Train(train::TrainArgs),
    /// Measure training throughput (samples per second) of the CPU or GPU engine.
    Bench(bench::BenchArgs),
    /// Prune a saved model with one method (--list shows them), optionally fine-tune, report.
    Prune(prune::PruneArgs),
    /// Every (method, sparsity) pair on one model: accuracy-vs-sparsity curves.
    Sweep(prune::SweepArgs),
    /// Lottery tickets: rounds of train, prune, rewind, with the reinit and random-mask controls.
    Lottery(lottery::LotteryArgs),
    /// Instability: two copies from one θ_k on different data orders, test error along the line
    /// between them, and the barrier.
    Instability(lottery::InstabilityArgs),
    /// Parameters, FLOPs, bytes and forward-pass time of a model dense, masked, in CSR,
    /// compacted and 2:4, on the GPU and the CPU.
    Cost(cost::CostArgs),
}

pub fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    match cli.command {
        Command::Train(args) => train::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Prune(args) => prune::run(args),
        Command::Sweep(args) => prune::sweep(args),
        Command::Lottery(args) => lottery::lottery(args),
        Command::Instability(args) => lottery::instability(args),
        Command::Cost(args) => cost::run(args),
    }
}
