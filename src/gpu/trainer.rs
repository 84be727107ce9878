//! Training on the GPU: the whole step (gather, forward, loss, backward, masked update) runs in
//! WGSL kernels, many steps per submission, with the data set uploaded once as bytes.
//!
//! The host keeps only the data order (the same seeded [`BatchOrder`] as the CPU engine, so both
//! engines see the same batches) and reads metrics back once per submission, never per step.

use std::rc::Rc;

use super::GpuContext;
use super::buffers::{
    floats, pad4, padded_rows, padded_vec, read_back, unpadded_rows, with_contents, words, zeroed,
};
use super::kernels::{self, AdamSettings, Dispatch, encode};
use crate::data::{Dataset, Mnist};
use crate::error::{Error, Result};
use crate::model::{Architecture, Layer, Mlp, ModelSpec, Network};
use crate::train::{
    BatchOrder, Evaluation, OptimizerKind, Split, StepStats, TrainConfig, is_divergent,
};

/// Steps encoded into one submission. More steps per submission means fewer round trips; the cap
/// bounds the metrics buffer (steps × batch × 8 bytes) and how long a Cancel waits.
pub(super) const MAX_STEPS_PER_SUBMIT: usize = 100;

/// Samples per evaluation batch: the validation (5,000) and test (10,000) sets divide evenly, and
/// the activations stay small (1,000 × 784 floats = 3 MB).
const EVAL_BATCH: usize = 1_000;

/// One layer's parameters and optimizer state on the GPU, in the padded row layout (LeNet's
/// layers and the ViT's linear layers alike).
pub(super) struct LayerBuffers {
    pub(super) inputs: usize,
    pub(super) outputs: usize,
    pub(super) w: wgpu::Buffer,
    pub(super) b: wgpu::Buffer,
    pub(super) mask: wgpu::Buffer,
    pub(super) m_w: wgpu::Buffer,
    pub(super) v_w: wgpu::Buffer,
    pub(super) m_b: wgpu::Buffer,
    pub(super) v_b: wgpu::Buffer,
    pub(super) gw: wgpu::Buffer,
    pub(super) gb: wgpu::Buffer,
}

impl LayerBuffers {
    pub(super) fn weight_floats(&self) -> usize {
        self.outputs * pad4(self.inputs)
    }

    /// What a divergence must be able to undo: parameters and optimizer state.
    pub(super) fn state(&self) -> [(&wgpu::Buffer, usize); 6] {
        let (w, b) = (self.weight_floats(), pad4(self.outputs));
        [
            (&self.w, w),
            (&self.b, b),
            (&self.m_w, w),
            (&self.v_w, w),
            (&self.m_b, b),
            (&self.v_b, b),
        ]
    }
}

/// A held-out split on the GPU with its evaluation dispatches.
struct EvalSet {
    len: usize,
    state: wgpu::Buffer,
    predictions: wgpu::Buffer,
    losses: wgpu::Buffer,
    confusion: wgpu::Buffer,
    gather: Dispatch,
    evaluate: Dispatch,
    advance: Dispatch,
}

/// The GPU engine: same configuration, same initial weights and same batches as
/// [`crate::train::Trainer`].
pub struct GpuTrainer {
    ctx: Rc<GpuContext>,
    config: TrainConfig,
    classes: usize,
    layers: Vec<LayerBuffers>,
    /// Copies of every layer's state, taken at the start of each `train_steps` call.
    saved: Vec<wgpu::Buffer>,
    order: BatchOrder,
    order_buffer: wgpu::Buffer,
    /// [cursor, updates, metrics slot, unused], advanced on the GPU.
    state: wgpu::Buffer,
    metrics: wgpu::Buffer,
    step_dispatches: Vec<Dispatch>,
    eval_forward: Vec<Dispatch>,
    validation: EvalSet,
    test: EvalSet,
    step: u64,
    updates: u32,
}

/// Packs images four pixels to a u32, each image padded to whole words (see `gather.wgsl`).
pub(super) fn packed_images(data: &Dataset) -> Vec<u32> {
    let f = data.features();
    let stride = pad4(f);
    let mut bytes = vec![0u8; data.len() * stride];
    for i in 0..data.len() {
        bytes[i * stride..i * stride + f].copy_from_slice(data.image(i));
    }
    bytemuck::pod_collect_to_vec(&bytes)
}

pub(super) fn labels(data: &Dataset) -> Vec<u32> {
    data.labels().iter().map(|&l| u32::from(l)).collect()
}

impl GpuTrainer {
    /// A GPU trainer for a freshly initialised model, seeded like the CPU engine's.
    pub fn new(ctx: Rc<GpuContext>, config: &TrainConfig, data: &Mnist) -> Result<Self> {
        // Checked before the weights are even drawn on the CPU: a network too big for the device
        // should cost nothing.
        config.validate(
            data.train.features(),
            data.train.classes(),
            data.train.len(),
        )?;
        check_limits(&ctx, config, data)?;
        let model = Mlp::seeded(gpu_arch(config)?, config.init, config.seed);
        Self::with_model(ctx, &model, config, data)
    }

    /// A GPU trainer that continues from `model`.
    pub fn with_model(
        ctx: Rc<GpuContext>,
        model: &Mlp,
        config: &TrainConfig,
        data: &Mnist,
    ) -> Result<Self> {
        let train = &data.train;
        config.validate(train.features(), train.classes(), train.len())?;
        if &model.architecture() != gpu_arch(config)? {
            return Err(Error::Config(format!(
                "the model is {} but the configuration says {}",
                model.architecture(),
                config.arch
            )));
        }
        if config.optimizer.kind == OptimizerKind::AdamW
            || config.schedule != crate::train::LrSchedule::Constant
        {
            return Err(Error::Config(
                "the GPU engine trains with sgd or adam at a constant learning rate".into(),
            ));
        }
        check_limits(&ctx, config, data)?;
        ctx.check()?;
        let widths = gpu_arch(config)?.widths().to_vec();
        let batch = config.batch;
        let classes = train.classes();

        let layers: Vec<LayerBuffers> = model
            .layers()
            .iter()
            .map(|l| upload_layer(&ctx, l))
            .collect();
        let saved = layers
            .iter()
            .flat_map(|l| l.state().map(|(_, n)| zeroed(&ctx, "saved state", 4 * n)))
            .collect();

        // Training batch buffers: x, then each layer's output; and a gradient per layer output.
        let acts: Vec<wgpu::Buffer> = widths
            .iter()
            .map(|&w| zeroed(&ctx, "activations", 4 * batch * pad4(w)))
            .collect();
        let dz: Vec<wgpu::Buffer> = widths
            .iter()
            .map(|&w| zeroed(&ctx, "gradients", 4 * batch * pad4(w)))
            .collect();
        let y = zeroed(&ctx, "batch labels", 4 * batch);
        let state = zeroed(&ctx, "train state", 16);
        let metrics = zeroed(&ctx, "metrics", 8 * batch * MAX_STEPS_PER_SUBMIT);
        let images = with_contents(&ctx, "training images", &packed_images(train));
        let train_labels = with_contents(&ctx, "training labels", &labels(train));
        let order_buffer = zeroed(&ctx, "training order", 4 * train.len());

        let mut step_dispatches = vec![kernels::gather(
            &ctx,
            batch,
            train.features(),
            &images,
            &train_labels,
            &order_buffer,
            &state,
            &acts[0],
            &y,
        )];
        let last = layers.len() - 1;
        for (i, l) in layers.iter().enumerate() {
            step_dispatches.push(kernels::forward(
                &ctx,
                (batch, l.inputs, l.outputs),
                i != last,
                &acts[i],
                &l.w,
                &l.b,
                &acts[i + 1],
            ));
        }
        step_dispatches.push(kernels::softmax_xent(
            &ctx,
            (batch, classes),
            &acts[last + 1],
            &y,
            &dz[last + 1],
            &state,
            &metrics,
        ));
        let opt = config.optimizer;
        for (i, l) in layers.iter().enumerate().rev() {
            let dims = (batch, l.inputs, l.outputs);
            step_dispatches.push(kernels::backward_weight(
                &ctx,
                dims,
                &dz[i + 1],
                &acts[i],
                &l.gw,
            ));
            step_dispatches.push(kernels::bias_grad(
                &ctx,
                (batch, l.outputs),
                &dz[i + 1],
                &l.gb,
            ));
            if i > 0 {
                step_dispatches.push(kernels::backward_input(
                    &ctx,
                    dims,
                    true,
                    &dz[i + 1],
                    &l.w,
                    &acts[i],
                    &dz[i],
                ));
            }
            // The update comes after backward_input, which still needs this layer's old weights.
            let (nw, nb) = (l.weight_floats(), pad4(l.outputs));
            match opt.kind {
                OptimizerKind::Sgd => {
                    let h = (opt.lr, opt.momentum);
                    step_dispatches.push(kernels::sgd(
                        &ctx,
                        nw,
                        h,
                        &l.w,
                        &l.m_w,
                        &l.gw,
                        Some(&l.mask),
                        &l.mask,
                    ));
                    step_dispatches.push(kernels::sgd(
                        &ctx, nb, h, &l.b, &l.m_b, &l.gb, None, &l.mask,
                    ));
                }
                // `with_model` refuses AdamW: the Adam kernel has no decoupled decay.
                OptimizerKind::Adam | OptimizerKind::AdamW => {
                    let h = AdamSettings {
                        lr: opt.lr,
                        beta1: opt.beta1,
                        beta2: opt.beta2,
                        eps: opt.eps,
                    };
                    let (w, b) = ((&l.w, &l.m_w, &l.v_w, &l.gw), (&l.b, &l.m_b, &l.v_b, &l.gb));
                    step_dispatches.push(kernels::adam(
                        &ctx,
                        nw,
                        h,
                        w,
                        Some(&l.mask),
                        &l.mask,
                        &state,
                    ));
                    step_dispatches.push(kernels::adam(&ctx, nb, h, b, None, &l.mask, &state));
                }
            }
        }
        step_dispatches.push(kernels::advance(&ctx, batch, &state));

        // Evaluation: its own activations at EVAL_BATCH rows, shared by both splits.
        let eval_acts: Vec<wgpu::Buffer> = widths
            .iter()
            .map(|&w| zeroed(&ctx, "eval activations", 4 * EVAL_BATCH * pad4(w)))
            .collect();
        let eval_y = zeroed(&ctx, "eval labels", 4 * EVAL_BATCH);
        let eval_forward = layers
            .iter()
            .enumerate()
            .map(|(i, l)| {
                kernels::forward(
                    &ctx,
                    (EVAL_BATCH, l.inputs, l.outputs),
                    i != last,
                    &eval_acts[i],
                    &l.w,
                    &l.b,
                    &eval_acts[i + 1],
                )
            })
            .collect();
        let eval_set = |split: &Dataset, name: &str| -> EvalSet {
            let len = split.len();
            // Pad the order to whole batches; the evaluate kernel ignores rows past `len`.
            let padded_len = len.div_ceil(EVAL_BATCH) * EVAL_BATCH;
            let order: Vec<u32> = (0..padded_len)
                .map(|i| if i < len { i as u32 } else { 0 })
                .collect();
            let order = with_contents(&ctx, name, &order);
            let images = with_contents(&ctx, name, &packed_images(split));
            let split_labels = with_contents(&ctx, name, &labels(split));
            let state = zeroed(&ctx, name, 16);
            let predictions = zeroed(&ctx, name, 4 * len);
            let losses = zeroed(&ctx, name, 4 * len);
            let confusion = zeroed(&ctx, name, 4 * classes * classes);
            EvalSet {
                len,
                gather: kernels::gather(
                    &ctx,
                    EVAL_BATCH,
                    split.features(),
                    &images,
                    &split_labels,
                    &order,
                    &state,
                    &eval_acts[0],
                    &eval_y,
                ),
                evaluate: kernels::evaluate(
                    &ctx,
                    (EVAL_BATCH, classes, len),
                    &eval_acts[last + 1],
                    &eval_y,
                    &state,
                    &predictions,
                    &losses,
                    &confusion,
                ),
                advance: kernels::advance(&ctx, EVAL_BATCH, &state),
                state,
                predictions,
                losses,
                confusion,
            }
        };
        let validation = eval_set(&data.validation, "validation set");
        let test = eval_set(&data.test, "test set");
        ctx.check()?;
        Ok(Self {
            config: config.clone(),
            classes,
            layers,
            saved,
            order: BatchOrder::new(train.len(), config.seed),
            order_buffer,
            state,
            metrics,
            step_dispatches,
            eval_forward,
            validation,
            test,
            step: 0,
            updates: 0,
            ctx,
        })
    }

    /// Starts a new run on the buffers, pipelines and data already on the GPU: `model`'s
    /// weights, biases and masks, fresh optimizer state, the data order `order` and the step
    /// counter at `step`. Much cheaper than a new trainer, which uploads the data set again.
    pub fn restart(&mut self, model: &Mlp, order: BatchOrder, step: u64) -> Result<()> {
        if model.spec() != self.config.arch.to_string() {
            return Err(Error::Config(format!(
                "cannot restart a {} GPU trainer with a {} model",
                self.config.arch,
                model.architecture()
            )));
        }
        if order.len() != self.order.len() {
            return Err(Error::Config(format!(
                "the GPU trainer holds {} training samples but the new data order has {}",
                self.order.len(),
                order.len()
            )));
        }
        let queue = &self.ctx.queue;
        for (l, b) in model.layers().iter().zip(&self.layers) {
            queue.write_buffer(&b.w, 0, bytemuck::cast_slice(&padded_rows(l.weight.view())));
            queue.write_buffer(&b.b, 0, bytemuck::cast_slice(&padded_vec(&l.bias)));
            queue.write_buffer(
                &b.mask,
                0,
                bytemuck::cast_slice(&padded_rows(l.mask.view())),
            );
            let (w, bias) = (b.weight_floats(), pad4(b.outputs));
            for (moments, n) in [(&b.m_w, w), (&b.v_w, w), (&b.m_b, bias), (&b.v_b, bias)] {
                queue.write_buffer(moments, 0, &vec![0u8; 4 * n]);
            }
        }
        // The kernels read the order from the GPU; a new epoch uploads its own shuffle, but an
        // order taken mid-epoch (a rewind to step k) must be there already.
        self.order = order;
        self.upload_order();
        self.step = step;
        self.updates = 0;
        self.ctx.check()
    }

    /// Writes the data order where the kernels read it.
    fn upload_order(&self) {
        let indices: Vec<u32> = self.order.order().iter().map(|&i| i as u32).collect();
        self.ctx
            .queue
            .write_buffer(&self.order_buffer, 0, bytemuck::cast_slice(&indices));
    }

    pub fn step(&self) -> u64 {
        self.step
    }

    pub fn epoch(&self) -> u64 {
        self.order.epoch()
    }

    pub fn context(&self) -> &GpuContext {
        &self.ctx
    }

    /// Where a training step's time goes, kernel by kernel (see [`super::profile`]). The
    /// profile runs the step's kernels `reps` times more than once each: the model it leaves is
    /// meaningless, so profile a throwaway trainer.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn profile(&self, reps: usize) -> Result<super::profile::StepProfile> {
        // Every repetition is a step: the metrics buffer and the epoch's order must hold them.
        let fit = MAX_STEPS_PER_SUBMIT.min(self.order.len() / self.config.batch);
        let reps = reps.clamp(1, fit.max(1));
        let reset = || {
            let state = [0u32, self.updates, 0, 0];
            self.ctx
                .queue
                .write_buffer(&self.state, 0, bytemuck::cast_slice(&state));
        };
        let step: Vec<&Dispatch> = self.step_dispatches.iter().collect();
        super::profile::profile(&self.ctx, &step, reps, &reset)
    }

    /// Copies every layer's state into (`save`) or back from the snapshot buffers.
    fn copy_state(&self, save: bool) {
        let mut encoder = self.ctx.device.create_command_encoder(&Default::default());
        let live = self.layers.iter().flat_map(|l| l.state());
        for ((buffer, n), copy) in live.zip(&self.saved) {
            let bytes = 4 * n as u64;
            if save {
                encoder.copy_buffer_to_buffer(buffer, 0, copy, 0, bytes);
            } else {
                encoder.copy_buffer_to_buffer(copy, 0, buffer, 0, bytes);
            }
        }
        self.ctx.queue.submit([encoder.finish()]);
    }

    /// Takes `n` steps. Like the CPU engine, a diverging chunk returns [`Error::Diverged`] and
    /// leaves the model and optimizer as they were before the call.
    pub async fn train_steps(&mut self, n: u64) -> Result<StepStats> {
        let batch = self.config.batch;
        let (start_step, start_updates) = (self.step, self.updates);
        self.copy_state(true);
        let (mut loss_sum, mut correct, mut rows) = (0.0f64, 0.0f64, 0usize);
        let mut remaining = n as usize;
        let mut bad_step = None;
        while remaining > 0 {
            if self.order.prepare(batch) {
                self.upload_order();
            }
            let steps = remaining
                .min(self.order.batches_left(batch))
                .min(MAX_STEPS_PER_SUBMIT);
            let state = [self.order.cursor() as u32, self.updates, 0, 0];
            self.ctx
                .queue
                .write_buffer(&self.state, 0, bytemuck::cast_slice(&state));
            let mut list = Vec::with_capacity(steps * self.step_dispatches.len());
            for _ in 0..steps {
                list.extend(self.step_dispatches.iter());
            }
            self.ctx
                .queue
                .submit([encode(&self.ctx, "training steps", &list)]);
            let bytes = (8 * steps * batch) as u64;
            let metrics = floats(&read_back(&self.ctx, &[(&self.metrics, bytes)]).await?[0]);
            for (s, step_metrics) in metrics.chunks(2 * batch).enumerate() {
                let step_loss: f64 = step_metrics.iter().step_by(2).map(|&l| f64::from(l)).sum();
                if !step_loss.is_finite() && bad_step.is_none() {
                    bad_step = Some((self.step + s as u64, step_loss as f32));
                }
                loss_sum += step_loss;
                correct += step_metrics
                    .iter()
                    .skip(1)
                    .step_by(2)
                    .map(|&c| f64::from(c))
                    .sum::<f64>();
                rows += batch;
            }
            self.order.advance(steps, batch);
            self.step += steps as u64;
            self.updates += steps as u32;
            remaining -= steps;
            if bad_step.is_some() {
                break;
            }
        }
        let mean_loss = (loss_sum / rows.max(1) as f64) as f32;
        let diverged =
            bad_step.or(is_divergent(mean_loss, self.classes).then_some((self.step, mean_loss)));
        if let Some((step, loss)) = diverged {
            self.copy_state(false);
            self.step = start_step;
            self.updates = start_updates;
            self.ctx.check()?;
            return Err(Error::Diverged {
                step,
                loss,
                lr: self.config.optimizer.lr,
                kept_step: start_step,
            });
        }
        Ok(StepStats {
            step: self.step,
            epoch: self.order.epoch(),
            loss: mean_loss,
            accuracy: correct / rows.max(1) as f64,
        })
    }

    /// Loss, accuracy, confusion matrix and predictions on a held-out split, all computed on the
    /// GPU; one submission and one read-back.
    pub async fn evaluate(&self, split: Split) -> Result<Evaluation> {
        let set = match split {
            Split::Validation => &self.validation,
            Split::Test => &self.test,
        };
        let c = self.classes;
        self.ctx.queue.write_buffer(&set.state, 0, &[0u8; 16]);
        self.ctx
            .queue
            .write_buffer(&set.confusion, 0, &vec![0u8; 4 * c * c]);
        let mut list = Vec::new();
        for _ in 0..set.len.div_ceil(EVAL_BATCH) {
            list.push(&set.gather);
            list.extend(self.eval_forward.iter());
            list.push(&set.evaluate);
            list.push(&set.advance);
        }
        self.ctx
            .queue
            .submit([encode(&self.ctx, "evaluation", &list)]);
        let n = set.len as u64;
        let parts = read_back(
            &self.ctx,
            &[
                (&set.predictions, 4 * n),
                (&set.losses, 4 * n),
                (&set.confusion, (4 * c * c) as u64),
            ],
        )
        .await?;
        let predictions: Vec<u8> = words(&parts[0]).into_iter().map(|p| p as u8).collect();
        let loss_sum: f64 = floats(&parts[1]).iter().map(|&l| f64::from(l)).sum();
        let counts = words(&parts[2]);
        let confusion: Vec<Vec<u32>> = counts.chunks(c).map(<[u32]>::to_vec).collect();
        let correct: u32 = (0..c).map(|i| confusion[i][i]).sum();
        Ok(Evaluation {
            loss: (loss_sum / n.max(1) as f64) as f32,
            accuracy: f64::from(correct) / n.max(1) as f64,
            confusion,
            predictions,
        })
    }

    /// The model as it is on the GPU now (for checkpoints, the CPU engine, and pictures).
    pub async fn model(&self) -> Result<Mlp> {
        let mut parts = Vec::new();
        for l in &self.layers {
            parts.push((&l.w, 4 * l.weight_floats() as u64));
            parts.push((&l.b, 4 * pad4(l.outputs) as u64));
            parts.push((&l.mask, 4 * l.weight_floats() as u64));
        }
        let bytes = read_back(&self.ctx, &parts).await?;
        let layers = self
            .layers
            .iter()
            .zip(bytes.chunks(3))
            .map(|(l, b)| Layer {
                weight: unpadded_rows(&floats(&b[0]), l.outputs, l.inputs),
                bias: ndarray::Array1::from(floats(&b[1])[..l.outputs].to_vec()),
                mask: unpadded_rows(&floats(&b[2]), l.outputs, l.inputs),
            })
            .collect();
        Mlp::from_layers(layers)
    }
}

pub(super) fn upload_layer(ctx: &GpuContext, l: &Layer) -> LayerBuffers {
    let (inputs, outputs) = (l.inputs(), l.outputs());
    let weights = outputs * pad4(inputs);
    LayerBuffers {
        inputs,
        outputs,
        w: with_contents(ctx, "weights", &padded_rows(l.weight.view())),
        b: with_contents(ctx, "biases", &padded_vec(&l.bias)),
        // Padding columns get mask 0, so they stay exactly zero.
        mask: with_contents(ctx, "mask", &padded_rows(l.mask.view())),
        m_w: zeroed(ctx, "first moments", 4 * weights),
        v_w: zeroed(ctx, "second moments", 4 * weights),
        m_b: zeroed(ctx, "bias first moments", 4 * pad4(outputs)),
        v_b: zeroed(ctx, "bias second moments", 4 * pad4(outputs)),
        gw: zeroed(ctx, "weight gradients", 4 * weights),
        gb: zeroed(ctx, "bias gradients", 4 * pad4(outputs)),
    }
}

/// The MLP this trainer trains; a ViT trains on [`super::GpuVitTrainer`] (the engine picks it).
pub(crate) fn gpu_arch(config: &TrainConfig) -> Result<&Architecture> {
    match &config.arch {
        ModelSpec::Mlp(a) => Ok(a),
        ModelSpec::Vit(c) => Err(Error::Config(format!(
            "{c} is a ViT: GpuTrainer trains MLPs, GpuVitTrainer the ViT"
        ))),
    }
}

/// Refuses, before any buffer is made, a configuration whose buffers the device cannot bind.
fn check_limits(ctx: &GpuContext, config: &TrainConfig, data: &Mnist) -> Result<()> {
    let max = ctx.limits().max_storage_buffer_binding_size;
    let arch = gpu_arch(config)?;
    let widest = arch.widths().iter().map(|&w| pad4(w)).max().unwrap_or(0);
    let needs = [
        (
            "the training images",
            (data.train.len() * pad4(data.train.features())) as u64,
        ),
        (
            "one batch of activations",
            (4 * config.batch.max(EVAL_BATCH) * widest) as u64,
        ),
        (
            "the metrics of a submission",
            (8 * config.batch * MAX_STEPS_PER_SUBMIT) as u64,
        ),
        (
            "the largest weight matrix",
            arch.widths()
                .windows(2)
                .map(|w| (4 * w[1] * pad4(w[0])) as u64)
                .max()
                .unwrap_or(0),
        ),
    ];
    for (what, bytes) in needs {
        if bytes > max {
            return Err(Error::Config(format!(
                "{what} would take {bytes} bytes on the GPU, more than this device can bind ({max} bytes); use a smaller batch or network, or --backend cpu"
            )));
        }
    }
    Ok(())
}
