//! The lottery-ticket experiment as a resumable state machine: each [`LotteryExperiment::advance`]
//! call trains at most a given number of iterations (evaluating, pruning and moving from arm to
//! arm as it goes) and returns, so a browser worker can post progress and notice a Cancel in
//! between, and the CLI can draw a progress bar.
//!
//! Order of runs: round 0 trains the dense network from θ₀ (keeping θ_k when k > 0); every later
//! round r trains the ticket (mask r over θ_k), then the controls on the same mask. Mask r + 1 is
//! magnitude pruning of round r's trained ticket.

use std::rc::Rc;

use ndarray::Array2;
use serde::Serialize;

use super::arms::{masked, random_masks, reinit_weights};
use super::ladder::{Rung, ladder, next_masks};
use super::run::{EvalPoint, Run, RunSpec, Runner};
use super::{Arm, LotterySettings};
use crate::data::Mnist;
use crate::engine::Backend;
use crate::error::{Error, Result};
use crate::model::{Mlp, Network};
use crate::train::BatchOrder;

/// The first layer's mask, for thumbnails.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FirstLayerMask {
    pub outputs: usize,
    pub inputs: usize,
    /// For each input (pixel), how many first-layer units keep their weight from it: a 28×28
    /// picture on MNIST (Han et al.'s figure: the centre kept, the border pruned).
    pub kept_per_input: Vec<u32>,
    /// The whole `[outputs, inputs]` mask, row-major, one bit per weight: weight `i` is kept when
    /// bit `i % 32` of word `i / 32` is set.
    pub bits: Vec<u32>,
}

impl FirstLayerMask {
    fn of(mask: &Array2<f32>) -> Self {
        let (outputs, inputs) = mask.dim();
        let mut kept_per_input = vec![0u32; inputs];
        let mut bits = vec![0u32; (outputs * inputs).div_ceil(32)];
        for (i, &m) in mask.iter().enumerate() {
            if m != 0.0 {
                kept_per_input[i % inputs] += 1;
                bits[i / 32] |= 1 << (i % 32);
            }
        }
        Self {
            outputs,
            inputs,
            kept_per_input,
            bits,
        }
    }
}

/// What one arm of one round gave.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoundResult {
    pub round: u32,
    pub arm: Arm,
    /// Pm, in percent of all weights.
    pub weights_remaining: f64,
    pub kept_per_layer: Vec<usize>,
    /// The iteration the run started at: 0, or k for rewound runs.
    pub start_iter: u64,
    /// The iteration of minimum validation loss.
    pub early_stop_iter: u64,
    pub val_loss_at_early_stop: f32,
    pub test_acc_at_early_stop: f64,
    pub final_test_acc: f64,
    /// Every evaluation point, from `start_iter` to the end.
    pub curve: Vec<EvalPoint>,
    pub first_layer_mask: FirstLayerMask,
}

/// Where an experiment stands after an [`LotteryExperiment::advance`] call.
#[derive(Debug, Clone, Serialize)]
pub struct Progress {
    /// Training iterations done over all the experiment will train, in [0, 1].
    pub fraction: f64,
    pub iters_done: u64,
    pub iters_total: u64,
    /// The run in progress (or next to start); the last one once done.
    pub round: u32,
    pub arm: Arm,
    /// Its iteration.
    pub iter: u64,
    /// Its weights remaining, in percent.
    pub weights_remaining: f64,
    /// Its latest evaluation point.
    pub latest: Option<EvalPoint>,
    /// Results finished since the previous call, in order.
    pub finished: Vec<RoundResult>,
    pub done: bool,
    /// `"cpu"` or `"gpu"`: the engine of the last run; `None` before any.
    pub backend: Option<&'static str>,
}

pub struct LotteryExperiment {
    settings: LotterySettings,
    ladder: Vec<Rung>,
    theta0: Mlp,
    reinit: Mlp,
    /// θ_k; for k = 0, θ₀. `None` until round 0 has passed iteration k.
    rewind: Option<Mlp>,
    order_at_rewind: BatchOrder,
    /// The ticket's masks for round `mask_round`.
    masks: Vec<Array2<f32>>,
    mask_round: u32,
    /// The trained ticket of round `mask_round`, pruned to make the next round's masks.
    last_ticket: Option<Mlp>,
    plan: Vec<(u32, Arm)>,
    next: usize,
    run: Option<Run>,
    runner: Runner,
    results: Vec<RoundResult>,
    /// How many of `results` a [`Progress`] has handed out; the rest wait for the next one
    /// (kept across a failed call).
    reported: usize,
    iters_finished: u64,
    iters_total: u64,
}

impl LotteryExperiment {
    /// Checks `settings` against `data` and draws θ₀; nothing is trained yet.
    pub fn new(settings: LotterySettings, data: &Rc<Mnist>) -> Result<Self> {
        settings.validate(data)?;
        let s = &settings;
        let theta0 = Mlp::seeded(&s.arch, s.init, s.seed);
        let reinit = reinit_weights(&s.arch, s.init, s.seed);
        let mut order_at_rewind = BatchOrder::new(data.train.len(), s.seed);
        order_at_rewind.skip_batches(s.rewind_iter, s.batch);
        let mut plan = vec![(0, Arm::Ticket)];
        let controls: Vec<Arm> = Arm::CONTROLS
            .into_iter()
            .filter(|a| s.controls.contains(a))
            .collect();
        for round in 1..=s.rounds {
            plan.push((round, Arm::Ticket));
            plan.extend(controls.iter().map(|&a| (round, a)));
        }
        let pruned_runs = plan.len() as u64 - 1;
        let iters_total = s.iters + pruned_runs * (s.iters - s.rewind_iter);
        let masks = theta0.layers().iter().map(|l| l.mask.clone()).collect();
        Ok(Self {
            ladder: ladder(&s.arch, s.strategy, s.rounds),
            rewind: (s.rewind_iter == 0).then(|| theta0.clone()),
            runner: Runner::new(s.train_config(), s.eval_every, s.full_test_curve),
            theta0,
            reinit,
            order_at_rewind,
            masks,
            mask_round: 0,
            last_ticket: None,
            plan,
            next: 0,
            run: None,
            results: Vec::new(),
            reported: 0,
            iters_finished: 0,
            iters_total,
            settings,
        })
    }

    pub fn settings(&self) -> &LotterySettings {
        &self.settings
    }

    /// Weights remaining after each round, known in advance (see [`ladder`]).
    pub fn ladder(&self) -> &[Rung] {
        &self.ladder
    }

    /// Every result so far, in the order they finished.
    pub fn results(&self) -> &[RoundResult] {
        &self.results
    }

    /// Training iterations the whole experiment takes.
    pub fn iters_total(&self) -> u64 {
        self.iters_total
    }

    /// Training iterations done so far.
    pub fn iters_done(&self) -> u64 {
        self.iters_finished + self.run.as_ref().map_or(0, Run::iters_done)
    }

    /// The iteration of the run in progress.
    pub fn current_iter(&self) -> Option<u64> {
        self.run.as_ref().map(|r| r.iter)
    }

    /// The ticket of the round after the last one: the last trained ticket pruned once more, over
    /// θ_k (the instability experiment's pruned starting point). Available once done.
    pub fn next_ticket(&self) -> Result<Mlp> {
        let trained = self
            .last_ticket
            .as_ref()
            .ok_or_else(|| missing("trained ticket"))?;
        let rewind = self.rewind.as_ref().ok_or_else(|| missing("θ_k"))?;
        masked(rewind, &next_masks(trained, self.settings.strategy)?)
    }

    pub fn is_done(&self) -> bool {
        self.next >= self.plan.len()
    }

    /// θ₀, the initialisation.
    pub fn initial_weights(&self) -> &Mlp {
        &self.theta0
    }

    /// θ₀′, the reinit control's weights.
    pub fn reinit_weights(&self) -> &Mlp {
        &self.reinit
    }

    /// θ_k (θ₀ when k = 0); `None` until the dense run has passed iteration k.
    pub fn rewind_weights(&self) -> Option<&Mlp> {
        self.rewind.as_ref()
    }

    /// The ticket's masks for the round of the latest run started.
    pub fn ticket_masks(&self) -> &[Array2<f32>] {
        &self.masks
    }

    /// The weights and masks the run in progress started from.
    pub fn run_start_model(&self) -> Option<&Mlp> {
        self.run.as_ref().map(|r| &r.spec.model)
    }

    /// The model of the run in progress as it is now (read back from the GPU on the GPU engine).
    pub async fn current_model(&self) -> Result<Option<Mlp>> {
        match self.runner.engine() {
            Some(engine) if self.run.is_some() => Ok(Some(engine.mlp().await?)),
            _ => Ok(None),
        }
    }

    /// Trains at most `max_iters` iterations on `backend`, doing the evaluations, pruning and arm
    /// changes that come up on the way. With `max_iters` = 0 it only starts the next run (loads it
    /// on the engine and evaluates its starting point). After an error (e.g. a lost GPU device)
    /// the run in progress goes back to its start and finished results are kept: call again,
    /// with the CPU backend if the GPU is gone.
    pub async fn advance(
        &mut self,
        backend: &Backend,
        data: &Rc<Mnist>,
        max_iters: u64,
    ) -> Result<Progress> {
        let mut budget = max_iters;
        while !self.is_done() {
            if self.run.is_none() {
                self.run = Some(Run::new(self.prepare(self.next)?));
            }
            let Some(run) = self.run.as_mut() else { break };
            budget -= self.runner.advance(run, backend, data, budget).await?;
            if !run.is_finished() {
                break;
            }
            self.finish().await?;
            if budget == 0 {
                break;
            }
        }
        Ok(self.progress())
    }

    /// The start of run `index` of the plan.
    fn prepare(&mut self, index: usize) -> Result<RunSpec> {
        let (round, arm) = self.plan[index];
        let s = &self.settings;
        if round == 0 {
            return Ok(RunSpec {
                model: self.theta0.clone(),
                order: BatchOrder::new(self.order_at_rewind.len(), s.seed),
                start_iter: 0,
                end_iter: s.iters,
                snapshot_at: (s.rewind_iter > 0).then_some(s.rewind_iter),
            });
        }
        if self.mask_round + 1 == round {
            let trained = self
                .last_ticket
                .take()
                .ok_or_else(|| missing("trained ticket"))?;
            self.masks = next_masks(&trained, s.strategy)?;
            self.mask_round = round;
        }
        let rewind = self.rewind.as_ref().ok_or_else(|| missing("θ_k"))?;
        let model = match arm {
            Arm::Ticket => masked(rewind, &self.masks)?,
            Arm::Reinit => masked(&self.reinit, &self.masks)?,
            Arm::RandomMask => masked(rewind, &random_masks(&self.masks, s.seed, round))?,
        };
        Ok(RunSpec {
            model,
            order: self.order_at_rewind.clone(),
            start_iter: s.rewind_iter,
            end_iter: s.iters,
            snapshot_at: None,
        })
    }

    /// Records the finished run and moves on to the next.
    async fn finish(&mut self) -> Result<()> {
        let Some(run) = self.run.take() else {
            return Ok(());
        };
        let (round, arm) = self.plan[self.next];
        if arm == Arm::Ticket {
            if round == 0 && self.rewind.is_none() {
                self.rewind = run.snapshot.clone();
            }
            let engine = self.runner.engine().ok_or_else(|| missing("engine"))?;
            self.last_ticket = Some(engine.mlp().await?);
        }
        let result = round_result(round, arm, &run)?;
        self.iters_finished += run.len();
        self.results.push(result);
        self.next += 1;
        Ok(())
    }

    fn progress(&mut self) -> Progress {
        let finished = self.results[self.reported..].to_vec();
        self.reported = self.results.len();
        let last = self.plan.len() - 1;
        let (round, arm) = self.plan[self.next.min(last)];
        let run = self.run.as_ref();
        let iters_done = self.iters_done();
        Progress {
            fraction: iters_done as f64 / self.iters_total.max(1) as f64,
            iters_done,
            iters_total: self.iters_total,
            round,
            arm,
            iter: run.map_or_else(
                || {
                    if self.is_done() {
                        self.settings.iters
                    } else {
                        0
                    }
                },
                |r| r.iter,
            ),
            weights_remaining: run.map_or_else(
                || self.ladder[round as usize].weights_remaining,
                |r| 100.0 * r.spec.model.weights_remaining(),
            ),
            latest: run.and_then(|r| r.curve.last().cloned()),
            finished,
            done: self.is_done(),
            backend: self.runner.backend(),
        }
    }
}

fn missing(what: &str) -> Error {
    Error::Config(format!(
        "lottery experiment: the {what} is missing (runs must go in order)"
    ))
}

fn round_result(round: u32, arm: Arm, run: &Run) -> Result<RoundResult> {
    let best = run
        .early_stop()
        .ok_or_else(|| missing("early-stopping point"))?;
    let last = run
        .curve
        .last()
        .ok_or_else(|| missing("final evaluation"))?;
    let model = &run.spec.model;
    Ok(RoundResult {
        round,
        arm,
        weights_remaining: 100.0 * model.weights_remaining(),
        kept_per_layer: model.layers().iter().map(|l| l.kept()).collect(),
        start_iter: run.spec.start_iter,
        early_stop_iter: best.iter,
        val_loss_at_early_stop: best.val_loss,
        test_acc_at_early_stop: best
            .test_acc
            .ok_or_else(|| missing("test accuracy at early stop"))?,
        final_test_acc: last
            .test_acc
            .ok_or_else(|| missing("final test accuracy"))?,
        curve: run.curve.clone(),
        first_layer_mask: FirstLayerMask::of(&model.layers()[0].mask),
    })
}
