//! Training: optimizers that respect masks, the training loop and evaluation.

mod batch_order;
mod config;
mod eval;
mod optim;
mod trainer;

pub use batch_order::BatchOrder;
pub use config::{Budget, LrSchedule, TrainConfig, VIT_FINETUNE_LR, VIT_WARMUP_STEPS};
pub use eval::{Evaluation, Split, evaluate};
pub use optim::{Optimizer, OptimizerConfig, OptimizerKind};
pub use trainer::{StepStats, Trainer, is_divergent};
