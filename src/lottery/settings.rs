//! What a lottery-ticket experiment runs, with the paper's protocol as the default and a
//! shortened one for a first look in the browser.

use serde::{Deserialize, Serialize};

use super::{Arm, Strategy};
use crate::data::Mnist;
use crate::error::{Error, Result};
use crate::model::{Architecture, Init};
use crate::train::{Budget, LrSchedule, OptimizerConfig, TrainConfig};

/// More rounds than this leave LeNet-300-100 with about 0.01% of its weights (0.8^40); a typo such
/// as `--rounds 4000` should be an error, not a night of training.
pub const MAX_ROUNDS: u32 = 40;

/// Twenty times the paper's 50,000 iterations per round; keeps every count far from overflow.
pub const MAX_ITERS: u64 = 1_000_000;

/// The paper's training length for LeNet-300-100.
pub const PAPER_ITERS: u64 = 50_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LotterySettings {
    pub arch: Architecture,
    pub init: Init,
    pub optimizer: OptimizerConfig,
    pub batch: usize,
    /// Training iterations per round (the paper: 50,000).
    pub iters: u64,
    /// Pruning rounds; results cover rounds 0 (dense) to `rounds`.
    pub rounds: u32,
    /// k: pruned networks restart from the weights after k iterations of the first run and train
    /// the remaining `iters − k` (0: reset to the initialisation θ₀, as in the 2019 paper).
    pub rewind_iter: u64,
    pub strategy: Strategy,
    /// Which controls run beside the ticket in every pruned round.
    pub controls: Vec<Arm>,
    pub seed: u64,
    /// Validation every this many iterations (and at the start and end of every run).
    pub eval_every: u64,
    /// Evaluate the test set at every validation point too. Off, the test set is evaluated only
    /// where validation loss reaches a new minimum and at the end, which is every point the
    /// results can read (the early-stopping iteration is the last new minimum): the same numbers
    /// at a third of the evaluation cost, without a test curve.
    pub full_test_curve: bool,
}

impl Default for LotterySettings {
    /// The protocol of Frankle & Carbin (2019) for LeNet-300-100: Adam 1.2e-3, batch 60, 50,000
    /// iterations a round, evaluation every 100, per-layer pruning down to 1.85% (18 rounds),
    /// both controls.
    fn default() -> Self {
        Self {
            arch: Architecture::lenet_300_100(),
            init: Init::Glorot,
            optimizer: OptimizerConfig::adam(),
            batch: 60,
            iters: PAPER_ITERS,
            rounds: 18,
            rewind_iter: 0,
            strategy: Strategy::PerLayer,
            controls: Arm::CONTROLS.to_vec(),
            seed: 0,
            eval_every: 100,
            full_test_curve: false,
        }
    }
}

impl LotterySettings {
    /// The paper's protocol (the same as `default()`).
    pub fn paper() -> Self {
        Self::default()
    }

    /// A shortened run for a first look: 2,500 iterations a round (a twentieth of the paper's)
    /// and 12 rounds (down to 6.95%), both controls. Label results as shortened.
    pub fn shortened() -> Self {
        Self {
            iters: 2_500,
            rounds: 12,
            ..Self::default()
        }
    }

    /// The training configuration of every run.
    pub fn train_config(&self) -> TrainConfig {
        TrainConfig {
            arch: self.arch.clone().into(),
            init: self.init,
            optimizer: self.optimizer,
            batch: self.batch,
            budget: Budget::Iters(self.iters),
            seed: self.seed,
            eval_every: self.eval_every,
            schedule: LrSchedule::Constant,
        }
    }

    /// Every setting in range and fit for `data`.
    pub fn validate(&self, data: &Mnist) -> Result<()> {
        check_run(
            &self.train_config(),
            self.iters,
            self.rewind_iter,
            self.eval_every,
            data,
        )?;
        check_ladder(&self.arch, self.strategy, self.rounds)?;
        for (i, arm) in self.controls.iter().enumerate() {
            if *arm == Arm::Ticket {
                return Err(Error::Config(
                    "the ticket always runs; the controls are reinit and random-mask".into(),
                ));
            }
            if self.controls[..i].contains(arm) {
                return Err(Error::Config(format!("control {arm} is listed twice")));
            }
        }
        Ok(())
    }
}

/// Checks shared by the lottery and instability experiments.
pub(crate) fn check_run(
    config: &TrainConfig,
    iters: u64,
    rewind_iter: u64,
    eval_every: u64,
    data: &Mnist,
) -> Result<()> {
    if iters == 0 || iters > MAX_ITERS {
        return Err(Error::Config(format!(
            "iters = {iters} is outside 1..={MAX_ITERS}"
        )));
    }
    if rewind_iter >= iters {
        return Err(Error::Config(format!(
            "rewind iteration {rewind_iter} must be below the {iters} training iterations \
             (the rewound network trains the remaining iters − k)"
        )));
    }
    if eval_every == 0 {
        return Err(Error::Config(
            "eval_every = 0: early stopping needs validation points; use at least 1".into(),
        ));
    }
    if data.validation.is_empty() || data.test.is_empty() {
        return Err(Error::Config(
            "the data set needs validation and test images".into(),
        ));
    }
    config.validate(
        data.train.features(),
        data.train.classes(),
        data.train.len(),
    )
}

/// Whether `rounds` rounds of `strategy` make a ladder on `arch`: what both a run and the page's
/// description of one (before any data is loaded) need.
pub fn check_ladder(arch: &Architecture, strategy: Strategy, rounds: u32) -> Result<()> {
    if rounds > MAX_ROUNDS {
        return Err(Error::Config(format!(
            "rounds = {rounds} is more than {MAX_ROUNDS} (0.8^{MAX_ROUNDS} of the weights would be left)"
        )));
    }
    check_strategy(arch, strategy)
}

pub(crate) fn check_strategy(arch: &Architecture, strategy: Strategy) -> Result<()> {
    if strategy == Strategy::Global && arch.widths().len() < 3 {
        return Err(Error::Config(format!(
            "global pruning ranks the hidden layers together, and {arch} has none; use per-layer"
        )));
    }
    Ok(())
}
