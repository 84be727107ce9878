//! Instability analysis (Frankle, Dziugaite, Roy & Carbin, "Linear Mode Connectivity and the
//! Lottery Ticket Hypothesis", ICML 2020): from one starting point θ_k, train two copies that see
//! the data in different orders, then measure test error along the straight line between the two
//! results. The barrier is the highest error on the line minus the mean of the two ends; a network
//! is *stable* at k when the barrier is about 0. LeNet on MNIST is stable already at k = 0.
//!
//! The starting point is θ_k of a dense run or, for a pruned network, the winning ticket of the
//! ladder round closest to the weights remaining asked for (found by the lottery experiment's own
//! rounds, rewinding to k). The mask is held along the whole line.

use std::rc::Rc;

use serde::{Deserialize, Serialize};

use super::ladder::{Rung, closest_rung};
use super::run::{Run, RunSpec, Runner};
use super::settings::{MAX_ROUNDS, PAPER_ITERS, check_run, check_strategy};
use super::{LotteryExperiment, LotterySettings, Strategy};
use crate::data::Mnist;
use crate::engine::Backend;
use crate::error::{Error, Result};
use crate::model::{Architecture, Init, Layer, Mlp};
use crate::train::{BatchOrder, OptimizerConfig, Split};

/// ChaCha streams of the seed for the two copies' data orders (0 is θ₀, 1 the usual order, 2 the
/// reinit control's weights).
pub const COPY_STREAMS: [u64; 2] = [3, 4];

/// Test-set evaluations per α are counted as this many training iterations in the progress
/// fraction: 10,000 forward passes cost about as much as 50 steps of 60 samples (forward and
/// backward).
const ALPHA_COST: u64 = 50;

/// The most α values accepted.
pub const MAX_ALPHAS: usize = 101;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InstabilitySettings {
    pub arch: Architecture,
    pub init: Init,
    pub optimizer: OptimizerConfig,
    pub batch: usize,
    /// Iterations of a full run; the copies train from k to here.
    pub iters: u64,
    /// k: where the copies start.
    pub rewind_iter: u64,
    /// Weights remaining (percent) of the network analysed: 100 is dense; anything lower runs the
    /// lottery rounds to the closest rung of the ladder first.
    pub weights_remaining: f64,
    pub strategy: Strategy,
    /// Points on the line, α = 0, 1/(n−1), …, 1.
    pub alphas: usize,
    pub seed: u64,
    /// Validation every this many iterations in the training runs.
    pub eval_every: u64,
}

impl Default for InstabilitySettings {
    fn default() -> Self {
        let lottery = LotterySettings::default();
        Self {
            arch: lottery.arch,
            init: lottery.init,
            optimizer: lottery.optimizer,
            batch: lottery.batch,
            iters: PAPER_ITERS,
            rewind_iter: 0,
            weights_remaining: 100.0,
            strategy: Strategy::PerLayer,
            alphas: 11,
            seed: 0,
            eval_every: lottery.eval_every,
        }
    }
}

impl InstabilitySettings {
    /// The lottery experiment that finds a pruned starting point `rounds` rounds down.
    fn lottery(&self, rounds: u32) -> LotterySettings {
        LotterySettings {
            arch: self.arch.clone(),
            init: self.init,
            optimizer: self.optimizer,
            batch: self.batch,
            iters: self.iters,
            rounds,
            rewind_iter: self.rewind_iter,
            strategy: self.strategy,
            controls: Vec::new(),
            seed: self.seed,
            eval_every: self.eval_every,
            full_test_curve: false,
        }
    }

    pub fn validate(&self, data: &Rc<Mnist>) -> Result<()> {
        let config = self.lottery(0).train_config();
        check_run(&config, self.iters, self.rewind_iter, self.eval_every, data)?;
        check_strategy(&self.arch, self.strategy)?;
        if !(self.weights_remaining > 0.0 && self.weights_remaining <= 100.0) {
            return Err(Error::Config(format!(
                "weights remaining {}% is outside (0, 100]",
                self.weights_remaining
            )));
        }
        if !(3..=MAX_ALPHAS).contains(&self.alphas) {
            return Err(Error::Config(format!(
                "alphas = {} is outside 3..={MAX_ALPHAS} (the paper's curves use 11 or more)",
                self.alphas
            )));
        }
        Ok(())
    }
}

/// Test error at one point of the line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InterpolationPoint {
    pub alpha: f64,
    /// Fraction of test images misclassified.
    pub test_error: f64,
    pub test_loss: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstabilityResult {
    pub rewind_iter: u64,
    pub iters: u64,
    /// The ladder round of the network analysed (0: dense).
    pub round: u32,
    /// Its weights remaining, in percent.
    pub weights_remaining: f64,
    /// α from 0 (the first copy) to 1 (the second).
    pub curve: Vec<InterpolationPoint>,
    /// Highest test error on the line minus the mean of the two ends (a fraction, like
    /// `test_error`).
    pub barrier: f64,
}

/// What an [`InstabilityExperiment`] is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    /// Finding θ_k: the dense run to k, or the lottery rounds for a pruned network.
    Rewind,
    CopyA,
    CopyB,
    Interpolate,
    Done,
}

#[derive(Debug, Clone, Serialize)]
pub struct InstabilityProgress {
    /// Work done over all the work, in [0, 1] (an α evaluation counts as 50 iterations).
    pub fraction: f64,
    pub stage: Stage,
    /// The iteration of the run in progress (the lottery's, while it finds a pruned start).
    pub iter: u64,
    pub alphas_done: usize,
    pub done: bool,
    pub result: Option<InstabilityResult>,
    pub backend: Option<&'static str>,
}

/// How the starting point θ_k is found.
enum Rewind {
    /// A dense run from θ₀ to k.
    Dense(Box<Run>),
    /// Lottery rounds down to the ladder round before the target; its next ticket is the start.
    Lottery(Box<LotteryExperiment>),
}

pub struct InstabilityExperiment {
    settings: InstabilitySettings,
    round: u32,
    weights_remaining: f64,
    rewind: Option<Rewind>,
    start: Option<Mlp>,
    copy: Option<Run>,
    endpoints: Vec<Mlp>,
    curve: Vec<InterpolationPoint>,
    runner: Runner,
    work_done: u64,
    work_total: u64,
}

impl InstabilityExperiment {
    pub fn new(settings: InstabilitySettings, data: &Rc<Mnist>) -> Result<Self> {
        settings.validate(data)?;
        let s = &settings;
        let Rung {
            round,
            weights_remaining,
            ..
        } = closest_rung(&s.arch, s.strategy, s.weights_remaining, MAX_ROUNDS);
        let lottery = LotterySettings {
            rounds: round.saturating_sub(1),
            ..s.lottery(0)
        };
        let mut work_total = 2 * (s.iters - s.rewind_iter) + s.alphas as u64 * ALPHA_COST;
        let (rewind, start) = if round > 0 {
            let experiment = LotteryExperiment::new(lottery, data)?;
            work_total += experiment.iters_total();
            (Some(Rewind::Lottery(Box::new(experiment))), None)
        } else if s.rewind_iter > 0 {
            work_total += s.rewind_iter;
            let run = Run::new(RunSpec {
                model: Mlp::seeded(&s.arch, s.init, s.seed),
                order: BatchOrder::new(data.train.len(), s.seed),
                start_iter: 0,
                end_iter: s.rewind_iter,
                snapshot_at: Some(s.rewind_iter),
            });
            (Some(Rewind::Dense(Box::new(run))), None)
        } else {
            (None, Some(Mlp::seeded(&s.arch, s.init, s.seed)))
        };
        Ok(Self {
            runner: Runner::new(s.lottery(0).train_config(), s.eval_every, false),
            settings,
            round,
            weights_remaining,
            rewind,
            start,
            copy: None,
            endpoints: Vec::new(),
            curve: Vec::new(),
            work_done: 0,
            work_total,
        })
    }

    pub fn settings(&self) -> &InstabilitySettings {
        &self.settings
    }

    /// θ_k (masked, for a pruned network), where both copies start; `None` until found.
    pub fn start_weights(&self) -> Option<&Mlp> {
        self.start.as_ref()
    }

    /// The two trained copies, the ends of the line (α = 0 and α = 1).
    pub fn endpoints(&self) -> Option<(&Mlp, &Mlp)> {
        match self.endpoints.as_slice() {
            [a, b] => Some((a, b)),
            _ => None,
        }
    }

    pub fn stage(&self) -> Stage {
        if self.start.is_none() {
            Stage::Rewind
        } else if self.endpoints.len() < 2 {
            [Stage::CopyA, Stage::CopyB][self.endpoints.len()]
        } else if self.curve.len() < self.settings.alphas {
            Stage::Interpolate
        } else {
            Stage::Done
        }
    }

    /// The result, once every α is evaluated.
    pub fn result(&self) -> Option<InstabilityResult> {
        if self.stage() != Stage::Done {
            return None;
        }
        let ends = [&self.curve[0], &self.curve[self.curve.len() - 1]];
        let mean_end = (ends[0].test_error + ends[1].test_error) / 2.0;
        let max = self
            .curve
            .iter()
            .map(|p| p.test_error)
            .fold(f64::NEG_INFINITY, f64::max);
        Some(InstabilityResult {
            rewind_iter: self.settings.rewind_iter,
            iters: self.settings.iters,
            round: self.round,
            weights_remaining: self.weights_remaining,
            curve: self.curve.clone(),
            barrier: max - mean_end,
        })
    }

    /// The points of the line evaluated so far, α = 0 first.
    pub fn curve(&self) -> &[InterpolationPoint] {
        &self.curve
    }

    /// α of point `i` of the line.
    pub fn alpha(&self, i: usize) -> f64 {
        i as f64 / (self.settings.alphas - 1) as f64
    }

    /// Trains at most `max_iters` iterations, or evaluates points of the line (at least one per
    /// call once there, each counted as 50 iterations). After an error the run in progress starts
    /// again on the next call (with the CPU backend if the GPU is gone).
    pub async fn advance(
        &mut self,
        backend: &Backend,
        data: &Rc<Mnist>,
        max_iters: u64,
    ) -> Result<InstabilityProgress> {
        let mut budget = max_iters;
        loop {
            match self.stage() {
                Stage::Rewind => {
                    if !self.advance_rewind(backend, data, &mut budget).await? {
                        break;
                    }
                }
                Stage::CopyA | Stage::CopyB => {
                    if !self.advance_copy(backend, data, &mut budget).await? {
                        break;
                    }
                }
                Stage::Interpolate => {
                    if budget == 0 {
                        break;
                    }
                    let i = self.curve.len();
                    let point = self.evaluate_alpha(backend, data, i).await?;
                    self.curve.push(point);
                    self.work_done += ALPHA_COST;
                    budget = budget.saturating_sub(ALPHA_COST);
                }
                Stage::Done => break,
            }
        }
        Ok(self.progress())
    }

    /// Returns whether the stage finished (and the budget allows going on).
    async fn advance_rewind(
        &mut self,
        backend: &Backend,
        data: &Rc<Mnist>,
        budget: &mut u64,
    ) -> Result<bool> {
        match &mut self.rewind {
            Some(Rewind::Dense(run)) => {
                *budget -= self.runner.advance(run, backend, data, *budget).await?;
                if run.is_finished() {
                    self.work_done += run.len();
                    self.start = run.snapshot.clone();
                }
            }
            Some(Rewind::Lottery(lottery)) => {
                let before = lottery.iters_done();
                let progress = lottery.advance(backend, data, *budget).await?;
                *budget -= progress.iters_done.saturating_sub(before).min(*budget);
                if progress.done {
                    self.work_done += progress.iters_done;
                    self.start = Some(lottery.next_ticket()?);
                }
            }
            None => {}
        }
        if self.start.is_none() {
            return Ok(false);
        }
        self.rewind = None;
        Ok(*budget > 0)
    }

    async fn advance_copy(
        &mut self,
        backend: &Backend,
        data: &Rc<Mnist>,
        budget: &mut u64,
    ) -> Result<bool> {
        let s = &self.settings;
        let Some(start) = &self.start else {
            return Ok(false);
        };
        let run = self.copy.get_or_insert_with(|| {
            Run::new(RunSpec {
                model: start.clone(),
                order: BatchOrder::with_stream(
                    data.train.len(),
                    s.seed,
                    COPY_STREAMS[self.endpoints.len()],
                ),
                start_iter: s.rewind_iter,
                end_iter: s.iters,
                snapshot_at: None,
            })
        });
        *budget -= self.runner.advance(run, backend, data, *budget).await?;
        if !run.is_finished() {
            return Ok(false);
        }
        self.work_done += run.len();
        self.copy = None;
        let engine = self
            .runner
            .engine()
            .ok_or_else(|| Error::Config("instability: no engine after a run".into()))?;
        self.endpoints.push(engine.mlp().await?);
        Ok(*budget > 0)
    }

    async fn evaluate_alpha(
        &mut self,
        backend: &Backend,
        data: &Rc<Mnist>,
        i: usize,
    ) -> Result<InterpolationPoint> {
        let alpha = self.alpha(i);
        let (a, b) = self
            .endpoints()
            .ok_or_else(|| Error::Config("instability: the copies are not trained".into()))?;
        let model = match i {
            0 => a.clone(),
            _ if i + 1 == self.settings.alphas => b.clone(),
            _ => interpolate(a, b, alpha as f32)?,
        };
        let eval = self
            .runner
            .evaluate_model(backend, data, &model, Split::Test)
            .await?;
        Ok(InterpolationPoint {
            alpha,
            test_error: 1.0 - eval.accuracy,
            test_loss: eval.loss,
        })
    }

    fn progress(&self) -> InstabilityProgress {
        let in_run = self.copy.as_ref().map_or(0, Run::iters_done)
            + match &self.rewind {
                Some(Rewind::Dense(run)) => run.iters_done(),
                _ => 0,
            };
        let lottery_iter = match &self.rewind {
            Some(Rewind::Lottery(l)) => l.current_iter(),
            Some(Rewind::Dense(run)) => Some(run.iter),
            None => None,
        };
        let lottery_done = match &self.rewind {
            Some(Rewind::Lottery(l)) => l.iters_done(),
            _ => 0,
        };
        let done = self.work_done + in_run + lottery_done;
        InstabilityProgress {
            fraction: (done as f64 / self.work_total.max(1) as f64).min(1.0),
            stage: self.stage(),
            iter: self
                .copy
                .as_ref()
                .map(|r| r.iter)
                .or(lottery_iter)
                .unwrap_or(0),
            alphas_done: self.curve.len(),
            done: self.stage() == Stage::Done,
            result: self.result(),
            backend: self.runner.backend(),
        }
    }
}

/// θ₀, drawn as the lottery experiment and `pruneplay train` draw it for the same seed.
/// (1 − α)·a + α·b for every weight and bias, with `a`'s masks (both copies share them).
pub fn interpolate(a: &Mlp, b: &Mlp, alpha: f32) -> Result<Mlp> {
    if a.architecture() != b.architecture() {
        return Err(Error::Shape {
            op: "interpolate",
            detail: format!("{} and {}", a.architecture(), b.architecture()),
        });
    }
    let layers = a
        .layers()
        .iter()
        .zip(b.layers())
        .map(|(la, lb)| Layer {
            weight: &la.weight * (1.0 - alpha) + &lb.weight * alpha,
            bias: &la.bias * (1.0 - alpha) + &lb.bias * alpha,
            mask: la.mask.clone(),
        })
        .collect();
    Mlp::from_layers(layers)
}
