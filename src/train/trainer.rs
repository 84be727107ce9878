//! The training loop on the CPU engine: seeded shuffling, mini-batches, masked updates.

use ndarray::{Array2, s};
use serde::Serialize;

use super::config::LrSchedule;
use super::{BatchOrder, Optimizer, TrainConfig};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::model::{FromSpec, Mlp, Network, argmax_rows};
use crate::parallel;

/// A chunk of steps whose mean loss exceeds this many times the loss of a uniform guess (ln of
/// the number of classes) has diverged: no sensible run gets there, while a too-large learning
/// rate gets there within a few steps (e.g. SGD at lr 10 averages about 3 times ln 10 and ends
/// with every ReLU dead) without ever producing a NaN.
const DIVERGENCE_FACTOR: f32 = 3.0;

/// Whether a chunk's mean loss says training has diverged (see [`DIVERGENCE_FACTOR`]).
pub fn is_divergent(mean_loss: f32, classes: usize) -> bool {
    !mean_loss.is_finite() || mean_loss > DIVERGENCE_FACTOR * (classes as f32).ln()
}

/// Mean loss and accuracy over the batches of one `Trainer::train_steps` call.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct StepStats {
    pub step: u64,
    pub epoch: u64,
    pub loss: f32,
    pub accuracy: f64,
}

/// A model, its optimizer and the data order, advanced a number of steps at a time so callers
/// (the CLI, the web worker) can report progress and stay responsive in between. Any
/// [`Network`] trains here: LeNet, the ViT, or a [`crate::model::Model`] holding either.
pub struct Trainer<N: Network = Mlp> {
    model: N,
    optimizer: Optimizer,
    schedule: LrSchedule,
    /// The schedule's peak rate, and the run's length it spreads over.
    base_lr: f32,
    total_steps: u64,
    batch: usize,
    order: BatchOrder,
    step: u64,
    x: Array2<f32>,
    labels: Vec<u8>,
}

impl<N: FromSpec> Trainer<N> {
    /// A trainer for a freshly initialised model of `config.arch`, seeded by `config.seed`.
    pub fn new(config: &TrainConfig, data: &Dataset) -> Result<Self> {
        config.validate(data.features(), data.classes(), data.len())?;
        let model = N::from_spec(&config.arch, config.init, config.seed)?;
        Self::with_model(model, config, data)
    }
}

impl<N: Network> Trainer<N> {
    /// A trainer that continues from `model` (e.g. a loaded checkpoint or a pruned network).
    pub fn with_model(model: N, config: &TrainConfig, data: &Dataset) -> Result<Self> {
        config.validate(data.features(), data.classes(), data.len())?;
        if model.spec() != config.arch.to_string() {
            return Err(Error::Config(format!(
                "the model is {} but the configuration says {}",
                model.spec(),
                config.arch
            )));
        }
        let optimizer = Optimizer::new(config.optimizer, &model);
        Ok(Self {
            model,
            optimizer,
            schedule: config.schedule,
            base_lr: config.optimizer.lr,
            total_steps: config.total_steps(data.len()),
            batch: config.batch,
            order: BatchOrder::new(data.len(), config.seed),
            step: 0,
            x: Array2::zeros((config.batch, data.features())),
            labels: Vec::with_capacity(config.batch),
        })
    }

    /// Starts a new run on this trainer: `model` with a fresh optimizer, the data order `order`,
    /// and the step counter at `step` (the lottery ticket's rewind to step k continues the data
    /// order from there with a fresh optimizer, as open_lth does).
    pub fn restart(&mut self, model: N, order: BatchOrder, step: u64) -> Result<()> {
        if model.spec() != self.model.spec() {
            return Err(Error::Config(format!(
                "cannot restart a {} trainer with a {} model",
                self.model.spec(),
                model.spec()
            )));
        }
        if order.len() != self.order.len() {
            return Err(Error::Config(format!(
                "the trainer was set up for {} samples but the new data order has {}",
                self.order.len(),
                order.len()
            )));
        }
        self.optimizer = Optimizer::new(*self.optimizer.config(), &model);
        self.model = model;
        self.order = order;
        self.step = step;
        Ok(())
    }

    pub fn model(&self) -> &N {
        &self.model
    }

    pub fn model_mut(&mut self) -> &mut N {
        &mut self.model
    }

    pub fn into_model(self) -> N {
        self.model
    }

    /// Steps taken so far.
    pub fn step(&self) -> u64 {
        self.step
    }

    /// Full passes over the data begun so far.
    pub fn epoch(&self) -> u64 {
        self.order.epoch()
    }

    /// Takes `n` optimizer steps on `data`. If training diverges (a loss that is not finite, or a
    /// mean loss far worse than guessing), returns [`Error::Diverged`] and puts the model and
    /// optimizer back as they were before this call, so nothing already learnt is lost.
    pub fn train_steps(&mut self, data: &Dataset, n: u64) -> Result<StepStats> {
        let saved = (self.model.clone(), self.optimizer.clone(), self.step);
        let result = parallel::in_pool(|| self.train_steps_unchecked(data, n));
        let diverged = match &result {
            Err(Error::Diverged { step, loss, .. }) => Some((*step, *loss)),
            Ok(stats) if is_divergent(stats.loss, data.classes()) => Some((stats.step, stats.loss)),
            _ => None,
        };
        let Some((step, loss)) = diverged else {
            return result;
        };
        (self.model, self.optimizer, self.step) = saved;
        Err(Error::Diverged {
            step,
            loss,
            lr: self.optimizer.config().lr,
            kept_step: self.step,
        })
    }

    fn train_steps_unchecked(&mut self, data: &Dataset, n: u64) -> Result<StepStats> {
        if data.len() != self.order.len() {
            return Err(Error::Config(format!(
                "the trainer was set up for {} samples but got {}",
                self.order.len(),
                data.len()
            )));
        }
        let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0usize, 0usize);
        for _ in 0..n {
            self.order.prepare(self.batch);
            let idx = self.order.take(self.batch);
            data.gather_into(idx, self.x.view_mut(), &mut self.labels);

            if self.schedule != LrSchedule::Constant {
                let lr = self
                    .schedule
                    .lr_at(self.base_lr, self.step, self.total_steps);
                self.optimizer.set_lr(lr);
            }
            let (loss, logits, grads) = self
                .model
                .loss_and_gradients(self.x.slice(s![.., ..]), &self.labels);
            if !loss.is_finite() {
                return Err(Error::Diverged {
                    step: self.step,
                    loss,
                    lr: self.optimizer.config().lr,
                    kept_step: self.step,
                });
            }
            correct += argmax_rows(&logits)
                .iter()
                .zip(&self.labels)
                .filter(|(p, y)| p == y)
                .count();
            self.optimizer.step(&mut self.model, &grads);
            self.step += 1;
            loss_sum += f64::from(loss);
            seen += self.batch;
        }
        Ok(StepStats {
            step: self.step,
            epoch: self.order.epoch(),
            loss: (loss_sum / n.max(1) as f64) as f32,
            accuracy: correct as f64 / seen.max(1) as f64,
        })
    }
}
