//! One training run of an experiment, advanced a budget of iterations at a time on an engine
//! that is reused from run to run: evaluation points, the early-stopping iteration, and the
//! snapshot of θ_k for rewinding.

use std::rc::Rc;

use serde::{Deserialize, Serialize};

use crate::data::Mnist;
use crate::engine::{Backend, Engine};
use crate::error::{Error, Result};
use crate::model::{Mlp, Model};
use crate::train::{BatchOrder, Evaluation, Split, TrainConfig};

/// One evaluation point of a run. `test_*` is `None` where the test set was not evaluated (see
/// [`super::LotterySettings::full_test_curve`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalPoint {
    pub iter: u64,
    pub val_loss: f32,
    pub val_acc: f64,
    pub test_loss: Option<f32>,
    pub test_acc: Option<f64>,
}

/// Where a run starts and ends.
#[derive(Debug, Clone)]
pub(crate) struct RunSpec {
    pub model: Mlp,
    /// The data order as it stands at `start_iter`.
    pub order: BatchOrder,
    pub start_iter: u64,
    pub end_iter: u64,
    /// Keep the weights after this many iterations (θ_k).
    pub snapshot_at: Option<u64>,
}

/// A run in progress.
#[derive(Debug, Clone)]
pub(crate) struct Run {
    pub spec: RunSpec,
    /// Whether the engine holds this run (it was restarted with the start model).
    started: bool,
    pub iter: u64,
    pub curve: Vec<EvalPoint>,
    /// Index in `curve` of the lowest validation loss so far (the first, on ties).
    pub best: Option<usize>,
    pub snapshot: Option<Mlp>,
}

impl Run {
    pub fn new(spec: RunSpec) -> Self {
        Self {
            iter: spec.start_iter,
            spec,
            started: false,
            curve: Vec::new(),
            best: None,
            snapshot: None,
        }
    }

    /// Trained to the end and evaluated there.
    pub fn is_finished(&self) -> bool {
        self.started && self.iter >= self.spec.end_iter
    }

    /// Iterations trained so far.
    pub fn iters_done(&self) -> u64 {
        self.iter - self.spec.start_iter
    }

    pub fn len(&self) -> u64 {
        self.spec.end_iter - self.spec.start_iter
    }

    /// The early-stopping point: the lowest validation loss.
    pub fn early_stop(&self) -> Option<&EvalPoint> {
        self.best.map(|b| &self.curve[b])
    }

    /// Back to the start: what an engine failure leaves.
    fn reset(&mut self) {
        *self = Run::new(self.spec.clone());
    }
}

/// Validation loss ordered with NaN as the worst.
fn loss_key(loss: f32) -> f32 {
    if loss.is_nan() { f32::INFINITY } else { loss }
}

/// The engine an experiment's runs share, made on first use and remade when the caller changes
/// the backend (e.g. to the CPU after the GPU device was lost).
pub(crate) struct Runner {
    engine: Option<Engine>,
    config: TrainConfig,
    eval_every: u64,
    full_test_curve: bool,
}

impl Runner {
    pub fn new(config: TrainConfig, eval_every: u64, full_test_curve: bool) -> Self {
        Self {
            engine: None,
            config,
            eval_every,
            full_test_curve,
        }
    }

    pub fn backend(&self) -> Option<&'static str> {
        self.engine.as_ref().map(Engine::backend)
    }

    pub fn engine(&self) -> Option<&Engine> {
        self.engine.as_ref()
    }

    /// The engine on `backend`, holding `model` from step `step` with data order `order`.
    fn load(
        &mut self,
        backend: &Backend,
        data: &Rc<Mnist>,
        model: &Mlp,
        order: BatchOrder,
        step: u64,
    ) -> Result<&mut Engine> {
        let model = Model::Mlp(model.clone());
        let engine = match self.engine.take() {
            Some(engine) if engine.runs_on(backend) => engine,
            _ => Engine::from_backend(backend, &model, &self.config, data)?,
        };
        let engine = self.engine.insert(engine);
        engine.restart(&model, order, step)?;
        Ok(engine)
    }

    fn loaded(&mut self) -> Result<&mut Engine> {
        self.engine
            .as_mut()
            .ok_or_else(|| Error::Config("no engine: a run must be started first".into()))
    }

    /// Evaluates `model` on `split` with the engine (for interpolated models).
    pub async fn evaluate_model(
        &mut self,
        backend: &Backend,
        data: &Rc<Mnist>,
        model: &Mlp,
        split: Split,
    ) -> Result<Evaluation> {
        if matches!(backend, Backend::Cpu) {
            // What the CPU engine would run, without setting up a trainer around `model`.
            return Ok(crate::train::evaluate(model, split.of(data)));
        }
        let order = BatchOrder::new(data.train.len(), self.config.seed);
        let result = async {
            let engine = self.load(backend, data, model, order, 0)?;
            engine.evaluate(split).await
        }
        .await;
        if result.is_err() {
            self.engine = None;
        }
        result
    }

    /// Trains `run` for at most `budget` iterations, evaluating and taking the snapshot as their
    /// iterations come. Returns the iterations trained. On an error the run goes back to its
    /// start and the engine is dropped, so the next call starts the run again (on whatever
    /// backend it is given).
    pub async fn advance(
        &mut self,
        run: &mut Run,
        backend: &Backend,
        data: &Rc<Mnist>,
        budget: u64,
    ) -> Result<u64> {
        let result = self.advance_inner(run, backend, data, budget).await;
        if result.is_err() {
            run.reset();
            self.engine = None;
        }
        result
    }

    async fn advance_inner(
        &mut self,
        run: &mut Run,
        backend: &Backend,
        data: &Rc<Mnist>,
        budget: u64,
    ) -> Result<u64> {
        let mut done = 0;
        let (eval_every, full_test_curve) = (self.eval_every, self.full_test_curve);
        if !run.started || self.engine.as_ref().is_none_or(|e| !e.runs_on(backend)) {
            // A run that has not started is already at its start.
            if run.started {
                run.reset();
            }
            let spec = &run.spec;
            let engine = self.load(
                backend,
                data,
                &spec.model,
                spec.order.clone(),
                spec.start_iter,
            )?;
            run.started = true;
            if run.spec.snapshot_at == Some(run.iter) {
                run.snapshot = Some(run.spec.model.clone());
            }
            evaluate_point(engine, full_test_curve, run).await?;
        }
        let engine = self.loaded()?;
        while run.iter < run.spec.end_iter && done < budget {
            let next_eval = (run.iter / eval_every + 1) * eval_every;
            let mut stop = run.spec.end_iter.min(next_eval);
            if let Some(k) = run.spec.snapshot_at.filter(|&k| k > run.iter) {
                stop = stop.min(k);
            }
            let n = (stop - run.iter).min(budget - done);
            engine.train_steps(n).await?;
            run.iter += n;
            done += n;
            if run.spec.snapshot_at == Some(run.iter) {
                run.snapshot = Some(engine.mlp().await?);
            }
            if run.iter.is_multiple_of(eval_every) || run.iter == run.spec.end_iter {
                evaluate_point(engine, full_test_curve, run).await?;
            }
        }
        Ok(done)
    }
}

/// Validation at this point; the test set too where it can matter (or always, for a full
/// test curve).
async fn evaluate_point(engine: &Engine, full_test_curve: bool, run: &mut Run) -> Result<()> {
    let val = engine.evaluate(Split::Validation).await?;
    let new_best = run
        .early_stop()
        .is_none_or(|best| loss_key(val.loss) < loss_key(best.val_loss));
    let at_end = run.iter >= run.spec.end_iter;
    let test = if full_test_curve || new_best || at_end {
        Some(engine.evaluate(Split::Test).await?)
    } else {
        None
    };
    run.curve.push(EvalPoint {
        iter: run.iter,
        val_loss: val.loss,
        val_acc: val.accuracy,
        test_loss: test.as_ref().map(|t| t.loss),
        test_acc: test.as_ref().map(|t| t.accuracy),
    });
    if new_best {
        run.best = Some(run.curve.len() - 1);
    }
    Ok(())
}
