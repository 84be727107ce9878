//! Everything that determines a training run. Same config + same data = bit-identical result on
//! the CPU engine.

use serde::{Deserialize, Serialize};

use super::OptimizerConfig;
use crate::error::{Error, Result};
use crate::model::{Architecture, Init};

/// How long to train.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Budget {
    Epochs(u32),
    Iters(u64),
}

/// Largest batch accepted; far above anything useful for MNIST, it keeps a typo from allocating
/// gigabytes.
pub const MAX_BATCH: usize = 8_192;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub arch: Architecture,
    pub init: Init,
    pub optimizer: OptimizerConfig,
    pub batch: usize,
    pub budget: Budget,
    pub seed: u64,
    /// Evaluate on the validation set every this many steps (0: only at the end).
    pub eval_every: u64,
}

impl Default for TrainConfig {
    /// LeNet-300-100 with the lottery-ticket paper's Adam settings (lr 1.2e-3, batch 60), two
    /// epochs.
    fn default() -> Self {
        Self {
            arch: Architecture::lenet_300_100(),
            init: Init::Glorot,
            optimizer: OptimizerConfig::adam(),
            batch: 60,
            budget: Budget::Epochs(2),
            seed: 0,
            eval_every: 100,
        }
    }
}

impl TrainConfig {
    /// Checks every setting against the data it will train on.
    pub fn validate(&self, features: usize, classes: usize, train_len: usize) -> Result<()> {
        self.optimizer.validate()?;
        if self.batch == 0 || self.batch > MAX_BATCH {
            return Err(Error::Config(format!(
                "batch = {} is outside 1..={MAX_BATCH}",
                self.batch
            )));
        }
        if self.batch > train_len {
            return Err(Error::Config(format!(
                "batch = {} is larger than the {train_len} training samples",
                self.batch
            )));
        }
        if self.arch.inputs() != features {
            return Err(Error::Config(format!(
                "architecture {} takes {} inputs but the images have {features} pixels",
                self.arch,
                self.arch.inputs()
            )));
        }
        if self.arch.outputs() != classes {
            return Err(Error::Config(format!(
                "architecture {} has {} outputs but the data has {classes} classes",
                self.arch,
                self.arch.outputs()
            )));
        }
        if self.total_steps(train_len) == 0 {
            return Err(Error::Config("the training budget is zero steps".into()));
        }
        Ok(())
    }

    /// Steps (batches) in one pass over `train_len` samples; the incomplete last batch is dropped.
    pub fn steps_per_epoch(&self, train_len: usize) -> u64 {
        (train_len / self.batch.max(1)) as u64
    }

    pub fn total_steps(&self, train_len: usize) -> u64 {
        match self.budget {
            Budget::Epochs(e) => u64::from(e) * self.steps_per_epoch(train_len),
            Budget::Iters(n) => n,
        }
    }
}
