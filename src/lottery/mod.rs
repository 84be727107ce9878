//! The lottery-ticket lab (Frankle & Carbin, "The Lottery Ticket Hypothesis: Finding Sparse,
//! Trainable Neural Networks", ICLR 2019; Frankle, Dziugaite, Roy & Carbin, "Linear Mode
//! Connectivity and the Lottery Ticket Hypothesis", ICML 2020).
//!
//! Iterative magnitude pruning in rounds (train, prune, reset the survivors to θ₀ or rewind them
//! to θ_k, repeat) with the paper's controls, early stopping at the minimum of validation loss,
//! and instability analysis. Both experiments are resumable state machines over the engines
//! ([`crate::engine`]): `advance` trains a bounded number of iterations and returns, so the same
//! code runs in a browser worker (which must stay responsive to Cancel) and in the CLI (which
//! blocks on it with `pollster`).
//!
//! Files: [`ladder`] (how much each round prunes, the weights-remaining ladder, the next masks),
//! [`arms`] (ticket, reinit and random-mask starting weights), `settings` (the protocol and its
//! checks), `run` (one training run with its evaluation points), `experiment`
//! ([`LotteryExperiment`]), `instability` ([`InstabilityExperiment`]).

pub mod arms;
mod experiment;
mod instability;
pub mod ladder;
mod run;
mod settings;

pub use arms::Arm;
pub use experiment::{FirstLayerMask, LotteryExperiment, Progress, RoundResult};
pub use instability::{
    COPY_STREAMS, InstabilityExperiment, InstabilityProgress, InstabilityResult,
    InstabilitySettings, InterpolationPoint, MAX_ALPHAS, Stage, interpolate,
};
pub use ladder::{Rung, Strategy, ladder};
pub use run::EvalPoint;
pub use settings::{LotterySettings, MAX_ITERS, MAX_ROUNDS, PAPER_ITERS, check_ladder};
