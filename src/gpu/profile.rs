//! Where a GPU training step's time goes: each kernel of the step timed on its own, natively.
//!
//! wgpu's timestamp queries are an optional feature that neither lavapipe nor every browser
//! offers, so this times on the host instead: every dispatch of one step is submitted `reps`
//! times in one pass and waited for, and the wall time divided by `reps` is that dispatch's share
//! of a step. Kernels of the same name (the forward pass of each layer, say) are summed. A kernel
//! timed alone misses the overlap a real step may get between neighbours, so the shares add up to
//! a little more than the step, which is timed too, as a whole.

use std::time::Instant;

use serde::Serialize;

use super::GpuContext;
use super::kernels::{Dispatch, encode};
use crate::error::Result;

/// One kernel's share of a step.
#[derive(Debug, Clone, Serialize)]
pub struct KernelTime {
    pub kernel: String,
    /// Dispatches of it in one step.
    pub dispatches: usize,
    pub ms_per_step: f64,
}

/// A step's dispatches and where its time goes, slowest kernel first.
#[derive(Debug, Clone, Serialize)]
pub struct StepProfile {
    pub dispatches_per_step: usize,
    /// The whole step, timed as training runs it (all dispatches in one pass).
    pub ms_per_step: f64,
    pub kernels: Vec<KernelTime>,
}

/// Times `step` (one training step's dispatches, in order) as a whole and kernel by kernel,
/// `reps` times each, calling `reset` before each timing (to put the step counters back where
/// `reps` more steps fit). The dispatches change the buffers they write: profile a throwaway
/// engine.
pub fn profile(
    ctx: &GpuContext,
    step: &[&Dispatch],
    reps: usize,
    reset: &dyn Fn(),
) -> Result<StepProfile> {
    let reps = reps.max(1);
    let time = |list: &[&Dispatch]| -> Result<f64> {
        reset();
        let mut all = Vec::with_capacity(list.len() * reps);
        for _ in 0..reps {
            all.extend_from_slice(list);
        }
        ctx.wait_idle()?;
        let start = Instant::now();
        ctx.queue.submit([encode(ctx, "profile", &all)]);
        ctx.wait_idle()?;
        ctx.check()?;
        Ok(start.elapsed().as_secs_f64() * 1e3 / reps as f64)
    };
    // Once untimed: pipelines and first-use allocations.
    time(step)?;
    let ms_per_step = time(step)?;
    let mut kernels: Vec<KernelTime> = Vec::new();
    for d in step {
        let ms = time(&[*d])?;
        match kernels.iter_mut().find(|k| k.kernel == d.label()) {
            Some(k) => {
                k.dispatches += 1;
                k.ms_per_step += ms;
            }
            None => kernels.push(KernelTime {
                kernel: d.label().to_owned(),
                dispatches: 1,
                ms_per_step: ms,
            }),
        }
    }
    kernels.sort_by(|a, b| b.ms_per_step.total_cmp(&a.ms_per_step));
    Ok(StepProfile {
        dispatches_per_step: step.len(),
        ms_per_step,
        kernels,
    })
}
