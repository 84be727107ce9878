//! Training: optimizers that respect masks, the training loop and evaluation.

mod config;
mod eval;
mod optim;
mod trainer;

pub use config::{Budget, TrainConfig};
pub use eval::{Evaluation, evaluate};
pub use optim::{Optimizer, OptimizerConfig, OptimizerKind};
pub use trainer::{StepStats, Trainer};
