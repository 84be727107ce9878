//! Forward-pass time of whole models on the GPU: the variants of [`crate::prune::variants`]
//! (dense, masked, CSR, compacted, 2:4) over one batch of images, each through its kernel, with
//! its logits checked against the CPU engine so the times can be trusted.
//!
//! Method: every variant's weights, activations and dispatches are made once; then, after
//! `warmup` untimed rounds, each of `reps` rounds times every variant in turn (so a change of
//! machine load hits all alike) as the wall time of one submission of its whole forward pass and
//! the wait for its completion. The clock is the caller's (milliseconds; `performance.now()` in a
//! browser, where `std::time::Instant` does not exist), and waiting is `onSubmittedWorkDone`, which
//! a browser resolves without blocking. The input is uploaded once, in the layout each kernel
//! takes: `[batch, features]` rows for the dense kernel, feature-major for the sparse ones.

use ndarray::ArrayView2;

use super::GpuContext;
use super::buffers::{
    floats, pad4, padded_rows, padded_vec, read_back, unpadded_rows, with_contents, zeroed,
};
use super::kernels::{self, Dispatch, encode};
use super::sparse::{self, feature_major_bytes};
use crate::error::{Error, Result};
use crate::model::Mlp;
use crate::model::sparse::SparseMlp;
use crate::prune::variants::{
    ForwardTimings, Kernel, TimingOptions, Variant, VariantTiming, check_batch, max_abs_diff,
    summarise,
};

/// A variant ready to run: its dispatches (their bind groups keep the buffers they use alive) and
/// the buffer its logits end in.
struct Prepared {
    dispatches: Vec<Dispatch>,
    logits: wgpu::Buffer,
}

/// How a variant's logits lie in their buffer, `(rows, columns)` of the padded row layout:
/// `[batch, classes]` for the dense kernel, feature-major `[classes, batch]` for the sparse ones.
fn logits_shape(v: &Variant, batch: usize) -> (usize, usize) {
    let classes = v.model.architecture().outputs();
    match v.kernel {
        Kernel::Dense => (batch, classes),
        Kernel::Csr | Kernel::TwoFour => (classes, batch),
    }
}

/// Times the variants' forward passes over `x: [batch, inputs]` on the GPU a round at a time,
/// each round running every variant once in turn, so that a caller can report progress or stop
/// between rounds. The first `warmup` rounds are not timed.
pub struct GpuTimer<'a> {
    ctx: &'a GpuContext,
    variants: &'a [Variant],
    x: ArrayView2<'a, f32>,
    prepared: Vec<Prepared>,
    warmup: usize,
    rounds: usize,
    times: Vec<Vec<f64>>,
}

impl<'a> GpuTimer<'a> {
    /// Uploads the input and every variant's weights and makes their dispatches.
    pub fn new(
        ctx: &'a GpuContext,
        variants: &'a [Variant],
        x: ArrayView2<'a, f32>,
        warmup: usize,
    ) -> Result<Self> {
        check_batch(variants, x)?;
        let batch = x.nrows();
        check_fits(ctx, variants, batch)?;
        let needs_rows = variants.iter().any(|v| v.kernel == Kernel::Dense);
        let needs_features = variants.iter().any(|v| v.kernel != Kernel::Dense);
        let x_rows = with_contents(
            ctx,
            "timing input rows",
            &if needs_rows {
                padded_rows(x)
            } else {
                Vec::new()
            },
        );
        let x_features = with_contents(
            ctx,
            "timing input, feature-major",
            &if needs_features {
                padded_rows(x.t())
            } else {
                Vec::new()
            },
        );
        let prepared = variants
            .iter()
            .map(|v| {
                Ok(match v.kernel {
                    Kernel::Dense => prepare_dense(ctx, &v.model, batch, &x_rows),
                    Kernel::Csr => {
                        prepare_sparse(ctx, &SparseMlp::csr(&v.model)?, batch, &x_features)
                    }
                    Kernel::TwoFour => {
                        prepare_sparse(ctx, &SparseMlp::two_four(&v.model)?, batch, &x_features)
                    }
                })
            })
            .collect::<Result<_>>()?;
        ctx.check()?;
        Ok(Self {
            ctx,
            variants,
            x,
            prepared,
            warmup,
            rounds: 0,
            times: vec![Vec::new(); variants.len()],
        })
    }

    /// Runs every variant's forward pass once, each timed from its submission to the GPU's
    /// completion; `clock` returns milliseconds (`performance.now()` in a browser).
    pub async fn round(&mut self, clock: &impl Fn() -> f64) -> Result<()> {
        let ctx = self.ctx;
        for (i, p) in self.prepared.iter().enumerate() {
            let list: Vec<&Dispatch> = p.dispatches.iter().collect();
            let commands = encode(ctx, "timed forward pass", &list);
            let start = clock();
            ctx.queue.submit([commands]);
            finished(ctx).await?;
            let elapsed = clock() - start;
            if self.rounds >= self.warmup {
                self.times[i].push(elapsed);
            }
        }
        self.rounds += 1;
        ctx.check()
    }

    /// Rounds run so far, warm-up included.
    pub fn rounds(&self) -> usize {
        self.rounds
    }

    /// The times of the timed rounds (all 0 if there were none), and every variant's logits
    /// read back and compared with the CPU engine's forward pass of the same model (infinite if
    /// no round ran).
    pub async fn finish(mut self) -> Result<ForwardTimings> {
        let (ctx, x, batch) = (self.ctx, self.x, self.x.nrows());
        let parts: Vec<(&wgpu::Buffer, u64)> = self
            .variants
            .iter()
            .zip(&self.prepared)
            .map(|(v, p)| {
                let (rows, cols) = logits_shape(v, batch);
                (&p.logits, (4 * rows * pad4(cols)) as u64)
            })
            .collect();
        let bytes = read_back(ctx, &parts).await?;
        let ran = self.rounds > 0;
        let timings = self
            .variants
            .iter()
            .zip(self.times.iter_mut().zip(&bytes))
            .map(|(v, (t, b))| {
                let (rows, cols) = logits_shape(v, batch);
                let logits = unpadded_rows(&floats(b), rows, cols);
                let logits = match v.kernel {
                    Kernel::Dense => logits,
                    Kernel::Csr | Kernel::TwoFour => logits.reversed_axes(),
                };
                let (median_ms, min_ms, max_ms) = summarise(t);
                VariantTiming {
                    variant: v.name,
                    kernel: v.kernel,
                    median_ms,
                    min_ms,
                    max_ms,
                    max_abs_diff: if ran {
                        max_abs_diff(&logits, &v.model.logits(x))
                    } else {
                        f32::INFINITY
                    },
                }
            })
            .collect();
        Ok(ForwardTimings {
            backend: "gpu",
            adapter: Some(ctx.adapter_name()),
            software: ctx.is_software(),
            batch,
            reps: self.rounds.saturating_sub(self.warmup),
            variants: timings,
        })
    }
}

/// Times every variant on the GPU: `options.warmup` untimed rounds, then `options.reps` timed
/// ones (at least 1) of [`GpuTimer`], and checks the logits. `clock` returns milliseconds.
pub async fn time_gpu(
    ctx: &GpuContext,
    variants: &[Variant],
    x: ArrayView2<'_, f32>,
    options: &TimingOptions,
    clock: impl Fn() -> f64,
) -> Result<ForwardTimings> {
    let mut timer = GpuTimer::new(ctx, variants, x, options.warmup)?;
    for _ in 0..options.warmup + options.reps.max(1) {
        timer.round(&clock).await?;
    }
    timer.finish().await
}

/// Refuses, before any buffer is made, a batch whose activations the device cannot bind.
fn check_fits(ctx: &GpuContext, variants: &[Variant], batch: usize) -> Result<()> {
    let widest = variants
        .iter()
        .flat_map(|v| v.model.architecture().widths().to_vec())
        .max()
        .unwrap_or(0);
    let needed = (4 * widest * pad4(batch)) as u64;
    let limit = ctx
        .limits()
        .max_storage_buffer_binding_size
        .min(ctx.limits().max_buffer_size);
    if needed > limit {
        return Err(Error::Config(format!(
            "a batch of {batch} images needs buffers of {needed} bytes, but this GPU binds at \
             most {limit}: time a batch of at most {} images",
            limit / (4 * widest.max(1) as u64 + 16)
        )));
    }
    Ok(())
}

/// The dense kernel (`forward.wgsl`) layer after layer, on `[batch, features]` rows.
fn prepare_dense(ctx: &GpuContext, model: &Mlp, batch: usize, x: &wgpu::Buffer) -> Prepared {
    let last = model.layers().len() - 1;
    let mut dispatches = Vec::new();
    let mut input = x.clone();
    for (i, l) in model.layers().iter().enumerate() {
        let w = with_contents(ctx, "timed weights", &padded_rows(l.weight.view()));
        let b = with_contents(ctx, "timed biases", &padded_vec(&l.bias));
        let z = zeroed(ctx, "timed activations", 4 * batch * pad4(l.outputs()));
        dispatches.push(kernels::forward(
            ctx,
            (batch, l.inputs(), l.outputs()),
            i != last,
            &input,
            &w,
            &b,
            &z,
        ));
        input = z;
    }
    Prepared {
        dispatches,
        logits: input,
    }
}

/// The sparse kernels layer after layer, on feature-major activations.
fn prepare_sparse(ctx: &GpuContext, model: &SparseMlp, batch: usize, x: &wgpu::Buffer) -> Prepared {
    let last = model.layers.len() - 1;
    let mut dispatches = Vec::new();
    let mut input = x.clone();
    for (i, l) in model.layers.iter().enumerate() {
        let layer = sparse::upload(ctx, l);
        let z = zeroed(
            ctx,
            "timed activations, feature-major",
            feature_major_bytes(layer.outputs, batch),
        );
        dispatches.push(sparse::forward(ctx, &layer, batch, i != last, &input, &z));
        input = z;
    }
    Prepared {
        dispatches,
        logits: input,
    }
}

/// Resolves once the GPU has finished everything submitted so far. Natively the device is polled
/// until then (which runs the callback); in a browser the callback comes from the promise of
/// `GPUQueue.onSubmittedWorkDone`.
async fn finished(ctx: &GpuContext) -> Result<()> {
    let (tx, rx) = futures_channel::oneshot::channel();
    ctx.queue.on_submitted_work_done(move || {
        // The receiver only goes away if the caller was dropped; nothing to report then.
        let _ = tx.send(());
    });
    #[cfg(not(target_arch = "wasm32"))]
    ctx.wait_idle()?;
    rx.await.map_err(|_| {
        ctx.check()
            .err()
            .unwrap_or_else(|| Error::Gpu("the GPU dropped a completion callback".into()))
    })
}
