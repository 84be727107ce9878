//! Gradual magnitude pruning during training (Zhu & Gupta, "To prune, or not to prune", 2017):
//! the sparsity rises along a cubic from s_i to s_f,
//! s_t = s_f + (s_i − s_f)(1 − (t − t0)/(nΔt))³ for t = t0, t0 + Δt, …, t0 + nΔt,
//! and every Δt steps each layer's smallest weights are masked to reach s_t while training goes
//! on (TF-MOT's `PolynomialDecay(power=3)`, NNI's AGP).

use serde::Serialize;

use super::selection::prune_lowest;
use crate::data::Mnist;
use crate::error::{Error, Result};
use crate::model::Network;
use crate::train::{TrainConfig, Trainer};

/// The schedule's parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    pub initial: f64,
    pub target: f64,
    /// First pruning step.
    pub start: u64,
    /// Pruning steps after the first one.
    pub pruning_steps: u32,
    /// Training steps between pruning steps (Δt).
    pub every: u64,
}

impl Schedule {
    /// s_t at training step `t` (constant before `start` and after the last pruning step).
    pub fn sparsity_at(&self, t: u64) -> f64 {
        let span = (f64::from(self.pruning_steps) * self.every as f64).max(1.0);
        let progress = ((t.saturating_sub(self.start)) as f64 / span).min(1.0);
        self.target + (self.initial - self.target) * (1.0 - progress).powi(3)
    }

    /// The training steps at which masks are updated.
    pub fn pruning_points(&self) -> impl Iterator<Item = u64> + '_ {
        (0..=u64::from(self.pruning_steps)).map(|k| self.start + k * self.every)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Point {
    pub step: u64,
    pub target_sparsity: f64,
    pub weights_remaining: f64,
    pub train_loss: f32,
}

/// Trains `model` (`config` gives the optimizer and batch) through the schedule and
/// `extra_steps` more steps after its last pruning step, masking every layer (the output layer at
/// `output_rate × s_t`) to the schedule's sparsity at each pruning point.
///
/// This runs on the CPU engine: it edits the masks between steps while the optimizer's state
/// carries on, which the GPU engine's restart (a fresh optimizer) would change.
pub fn train_with_gradual_pruning<N: Network>(
    model: N,
    data: &Mnist,
    config: &TrainConfig,
    schedule: &Schedule,
    output_rate: f64,
    extra_steps: u64,
    mut on_point: impl FnMut(&Point),
) -> Result<(N, Vec<Point>)> {
    if !(0.0..1.0).contains(&schedule.target)
        || !(0.0..=schedule.target).contains(&schedule.initial)
    {
        return Err(Error::Config(format!(
            "gradual pruning needs 0 <= initial ({}) <= target ({}) < 1",
            schedule.initial, schedule.target
        )));
    }
    if schedule.every == 0 {
        return Err(Error::Config(
            "the pruning interval must be at least one step".into(),
        ));
    }
    let mut trainer = Trainer::with_model(model, config, &data.train)?;
    let mut points = Vec::new();
    let mut loss = 0.0;
    for t in schedule.pruning_points() {
        if t > trainer.step() {
            loss = trainer.train_steps(&data.train, t - trainer.step())?.loss;
        }
        let s = schedule.sparsity_at(t);
        let layers = trainer.model().linears().len();
        for (i, layer) in trainer.model_mut().linears_mut().iter_mut().enumerate() {
            let goal = if i + 1 == layers { s * output_rate } else { s };
            let n = layer.weight.len() as f64;
            let pruned = n - layer.kept() as f64;
            let want = (goal * n).round_ties_even();
            if want > pruned {
                // The fraction of what is left that must go to reach `goal` overall.
                let amount = (want - pruned) / (n - pruned);
                let mask = prune_lowest(
                    layer.weight.mapv(f32::abs).view(),
                    layer.mask.view(),
                    amount,
                );
                layer.set_mask(mask)?;
            }
        }
        let point = Point {
            step: t,
            target_sparsity: s,
            weights_remaining: trainer.model().weights_remaining(),
            train_loss: loss,
        };
        on_point(&point);
        points.push(point);
    }
    if extra_steps > 0 {
        trainer.train_steps(&data.train, extra_steps)?;
    }
    Ok((trainer.into_model(), points))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cubic_schedule_matches_the_published_values() {
        let s = Schedule {
            initial: 0.0,
            target: 0.9,
            start: 0,
            pruning_steps: 10,
            every: 1,
        };
        let expected = [
            0.0, 0.244, 0.439, 0.591, 0.706, 0.787, 0.842, 0.876, 0.893, 0.899, 0.900,
        ];
        for (t, e) in expected.iter().enumerate() {
            assert!(
                (s.sparsity_at(t as u64) - e).abs() < 5e-4,
                "step {t}: {}",
                s.sparsity_at(t as u64)
            );
        }
        assert_eq!(s.pruning_points().count(), 11);
    }
}
