//! Training the ViT on the GPU: the whole step (patch gather, embedding, blocks, mean pool,
//! `fc_norm`, head, loss, backward, masked AdamW) runs in WGSL kernels, many steps per
//! submission, with the data set uploaded once as bytes. The structure is LeNet's
//! ([`super::GpuTrainer`]): the host keeps the data order (the CPU engine's seeded
//! [`BatchOrder`], so both engines see the same batches), the learning rate of every step of a
//! submission, and reads metrics back once per submission.
//!
//! The computation is [`Vit`]'s forward and backward pass (`model/vit/forward.rs`,
//! `backward.rs`), the reference:
//! - a removed block is skipped: the CPU engine computes it with γ = 0, so it adds nothing and its
//!   parameters' gradients are exactly zero, which its gradient buffers hold (zero from the start,
//!   and zeroed again by [`GpuVitTrainer::restart`]). Its parameters still go through the
//!   optimizer, as on the CPU: AdamW decays its `qkv` and `fc1` weights;
//! - a block compacted to 0 heads (or 0 MLP units) adds only `proj`'s (or `fc2`'s) bias;
//! - a masked head is multiplied by its `head_mask` entry (0) through the attention kernels'
//!   `coef` buffer, so its output and its `qkv` gradient are zero.
//!
//! [`GpuVitTrainer`] is here; `buffers.rs` holds its GPU buffers, `passes.rs` the forward and
//! backward passes' dispatch lists, and `limits.rs` the check against the device's binding limits.

mod buffers;
mod limits;
mod passes;

use std::rc::Rc;

use ndarray::Array1;

use self::buffers::{
    Acts, EvalSet, Grads, POS_EMBED, Params, Shape, fc_norm, norm1, norm2, others_padded, upload,
    write,
};
use self::limits::check_limits;
use self::passes::{backward, forward};
use super::GpuContext;
use super::buffers::{
    floats, pad4, padded_rows, padded_vec, read_back, unpadded_rows, with_contents, words, zeroed,
};
use super::kernels::{self, Dispatch, encode};
use super::trainer::{MAX_STEPS_PER_SUBMIT, labels, packed_images};
use super::vit_kernels::{self as vk, AdamWSettings};
use crate::data::{Dataset, Mnist};
use crate::error::{Error, Result};
use crate::model::vit::{BlockShape, TOKENS};
use crate::model::{Layer, LayerNorm, ModelSpec, Network, Vit, VitConfig};
use crate::train::{
    BatchOrder, Evaluation, LrSchedule, OptimizerKind, Split, StepStats, TrainConfig, is_divergent,
};

/// The GPU engine for the ViT: same configuration, same initial weights and same batches as
/// [`crate::train::Trainer`] on a [`Vit`].
pub struct GpuVitTrainer {
    ctx: Rc<GpuContext>,
    config: TrainConfig,
    vit: VitConfig,
    shape: Shape,
    removed: Vec<bool>,
    head_masks: Vec<Array1<f32>>,
    params: Params,
    /// Copies of every parameter and optimizer state, taken at the start of each `train_steps`.
    saved: Vec<wgpu::Buffer>,
    order: BatchOrder,
    order_buffer: wgpu::Buffer,
    images: wgpu::Buffer,
    train_labels: wgpu::Buffer,
    /// [cursor, updates, metrics slot, unused], advanced on the GPU.
    state: wgpu::Buffer,
    metrics: wgpu::Buffer,
    /// The learning rate of each step of a submission (AdamW reads `lrs[state[2]]`).
    lrs: wgpu::Buffer,
    train: Acts,
    grads: Grads,
    eval: Acts,
    step_dispatches: Vec<Dispatch>,
    eval_forward: Vec<Dispatch>,
    validation: EvalSet,
    test: EvalSet,
    /// The run's length, over which the learning-rate schedule spreads.
    total_steps: u64,
    step: u64,
    updates: u32,
}

/// The ViT configuration `config` trains.
fn vit_config(config: &TrainConfig) -> Result<&VitConfig> {
    match &config.arch {
        ModelSpec::Vit(c) => Ok(c),
        ModelSpec::Mlp(a) => Err(Error::Config(format!(
            "{a} is an MLP: GpuVitTrainer trains the ViT, GpuTrainer MLPs"
        ))),
    }
}

impl GpuVitTrainer {
    /// A GPU trainer for a freshly initialised ViT, seeded like the CPU engine's.
    pub fn new(ctx: Rc<GpuContext>, config: &TrainConfig, data: &Mnist) -> Result<Self> {
        let train = &data.train;
        config.validate(train.features(), train.classes(), train.len())?;
        let c = vit_config(config)?;
        c.validate()?;
        // Checked before the weights are drawn: a model too big for the device costs nothing.
        check_limits(&ctx, config, &Shape::of_config(c), data)?;
        let model = Vit::seeded(c, config.seed);
        Self::with_model(ctx, &model, config, data)
    }

    /// A GPU trainer that continues from `model` (pruned, head-masked, compacted or with blocks
    /// removed: all as they are).
    pub fn with_model(
        ctx: Rc<GpuContext>,
        model: &Vit,
        config: &TrainConfig,
        data: &Mnist,
    ) -> Result<Self> {
        let train = &data.train;
        config.validate(train.features(), train.classes(), train.len())?;
        let vit = *vit_config(config)?;
        if model.spec() != config.arch.to_string() {
            return Err(Error::Config(format!(
                "the model is {} but the configuration says {}",
                model.spec(),
                config.arch
            )));
        }
        if config.optimizer.kind == OptimizerKind::Sgd && config.schedule != LrSchedule::Constant {
            return Err(Error::Config(
                "the GPU engine trains the ViT with sgd at a constant learning rate only; use \
                 adamw or adam for a schedule, or --backend cpu"
                    .into(),
            ));
        }
        let shape = Shape::of(model);
        let eval_images = check_limits(&ctx, config, &shape, data)?;
        ctx.check()?;
        let batch = config.batch;

        let params = upload(&ctx, model);
        let saved = params
            .state()
            .iter()
            .map(|&(_, n)| zeroed(&ctx, "saved state", 4 * n))
            .collect();
        let state = zeroed(&ctx, "train state", 16);
        let metrics = zeroed(&ctx, "metrics", 8 * batch * MAX_STEPS_PER_SUBMIT);
        let lrs = zeroed(&ctx, "learning rates", 4 * MAX_STEPS_PER_SUBMIT);
        let images = with_contents(&ctx, "training images", &packed_images(train));
        let train_labels = with_contents(&ctx, "training labels", &labels(train));
        let order_buffer = zeroed(&ctx, "training order", 4 * train.len());
        let train_acts = Acts::new(&ctx, &shape, batch, true);
        let grads = Grads::new(&ctx, &shape, batch);
        let eval = Acts::new(&ctx, &shape, eval_images, false);

        let eval_set = |split: &Dataset, name: &str| -> EvalSet {
            let len = split.len();
            // Padded to whole batches; the evaluate kernel ignores rows past `len`.
            let padded_len = len.div_ceil(eval_images) * eval_images;
            let order: Vec<u32> = (0..padded_len)
                .map(|i| if i < len { i as u32 } else { 0 })
                .collect();
            let order = with_contents(&ctx, name, &order);
            let images = with_contents(&ctx, name, &packed_images(split));
            let split_labels = with_contents(&ctx, name, &labels(split));
            let state = zeroed(&ctx, name, 16);
            let predictions = zeroed(&ctx, name, 4 * len);
            let losses = zeroed(&ctx, name, 4 * len);
            let c = shape.classes;
            let confusion = zeroed(&ctx, name, 4 * c * c);
            EvalSet {
                len,
                gather: vk::patch_gather(
                    &ctx,
                    eval_images,
                    &images,
                    &split_labels,
                    &order,
                    &state,
                    &eval.x,
                    &eval.y,
                ),
                evaluate: kernels::evaluate(
                    &ctx,
                    (eval_images, c, len),
                    &eval.logits,
                    &eval.y,
                    &state,
                    &predictions,
                    &losses,
                    &confusion,
                ),
                advance: kernels::advance(&ctx, eval_images, &state),
                state,
                predictions,
                losses,
                confusion,
            }
        };
        let validation = eval_set(&data.validation, "validation set");
        let test = eval_set(&data.test, "test set");
        let mut trainer = Self {
            config: config.clone(),
            vit,
            shape,
            removed: model.removed_blocks().to_vec(),
            head_masks: model.head_masks().to_vec(),
            params,
            saved,
            order: BatchOrder::new(train.len(), config.seed),
            order_buffer,
            images,
            train_labels,
            state,
            metrics,
            lrs,
            train: train_acts,
            grads,
            eval,
            step_dispatches: Vec::new(),
            eval_forward: Vec::new(),
            validation,
            test,
            total_steps: config.total_steps(train.len()),
            step: 0,
            updates: 0,
            ctx,
        };
        trainer.build_dispatches();
        trainer.ctx.check()?;
        Ok(trainer)
    }

    /// Starts a new run on the buffers, pipelines and data already on the GPU: `model`'s
    /// parameters, masks, head masks and removed blocks, fresh optimizer state, the data order
    /// `order` and the step counter at `step`. `model` must have this trainer's block shapes; a
    /// different set of removed blocks rebuilds the dispatch list, nothing is uploaded but the
    /// model.
    pub fn restart(&mut self, model: &Vit, order: BatchOrder, step: u64) -> Result<()> {
        if model.spec() != self.config.arch.to_string() || Shape::of(model) != self.shape {
            return Err(Error::Config(format!(
                "cannot restart a {} GPU trainer with a {} model",
                self.shape_summary(),
                model.shape_summary()
            )));
        }
        if order.len() != self.order.len() {
            return Err(Error::Config(format!(
                "the GPU trainer holds {} training samples but the new data order has {}",
                self.order.len(),
                order.len()
            )));
        }
        let ctx = Rc::clone(&self.ctx);
        let queue = &ctx.queue;
        let zero = |b: &wgpu::Buffer, floats: usize| {
            queue.write_buffer(b, 0, &vec![0u8; 4 * floats.max(4)]);
        };
        for (l, b) in model.linears().iter().zip(&self.params.linears) {
            write(queue, &b.w, &padded_rows(l.weight.view()));
            write(queue, &b.b, &padded_vec(&l.bias));
            write(queue, &b.mask, &padded_rows(l.mask.view()));
            let (w, bias) = (b.weight_floats(), pad4(b.outputs));
            for (buffer, n) in [
                (&b.m_w, w),
                (&b.v_w, w),
                (&b.gw, w),
                (&b.m_b, bias),
                (&b.v_b, bias),
                (&b.gb, bias),
            ] {
                zero(buffer, n);
            }
        }
        for (values, p) in others_padded(model).iter().zip(&self.params.others) {
            write(queue, &p.p, values);
            for buffer in [&p.m, &p.v, &p.g] {
                zero(buffer, p.floats);
            }
        }
        for (mask, coef) in model.head_masks().iter().zip(&self.params.coef) {
            write(queue, coef, &padded_vec(mask));
        }
        // A block removed now keeps no gradient from before: the buffers above are zero, and
        // activation gradients are rewritten by every step (d_pooled is cleared by one).
        self.head_masks = model.head_masks().to_vec();
        if model.removed_blocks() != self.removed.as_slice() {
            self.removed = model.removed_blocks().to_vec();
            self.build_dispatches();
        }
        for b in self.grads.all() {
            queue.write_buffer(b, 0, &vec![0u8; b.size() as usize]);
        }
        self.order = order;
        self.upload_order();
        self.step = step;
        self.updates = 0;
        self.ctx.check()
    }

    fn shape_summary(&self) -> String {
        let list = |f: fn(&BlockShape) -> usize| {
            let v: Vec<String> = self.shape.blocks.iter().map(|s| f(s).to_string()).collect();
            v.join(",")
        };
        format!(
            "{} heads {} mlp {}",
            self.vit,
            list(|s| s.heads),
            list(|s| s.hidden)
        )
    }

    /// (Re)builds the step's and the evaluation's dispatch lists for the current removed blocks.
    fn build_dispatches(&mut self) {
        let ctx = &*self.ctx;
        let batch = self.config.batch;
        let p = &self.params;
        let mut step = vec![vk::patch_gather(
            ctx,
            batch,
            &self.images,
            &self.train_labels,
            &self.order_buffer,
            &self.state,
            &self.train.x,
            &self.train.y,
        )];
        step.extend(forward(ctx, &self.shape, &self.removed, p, &self.train));
        step.push(kernels::softmax_xent(
            ctx,
            (batch, self.shape.classes),
            &self.train.logits,
            &self.train.y,
            &self.grads.d_logits,
            &self.state,
            &self.metrics,
        ));
        step.extend(backward(
            ctx,
            &self.shape,
            &self.removed,
            p,
            &self.train,
            &self.grads,
        ));
        step.extend(self.updates_dispatches());
        step.push(kernels::advance(ctx, batch, &self.state));
        self.step_dispatches = step;
        self.eval_forward = forward(ctx, &self.shape, &self.removed, p, &self.eval);
    }

    /// The optimizer's update of every parameter, after the whole backward pass (which still
    /// needs the old weights). Removed blocks' parameters are updated too, with their zero
    /// gradients, exactly as on the CPU engine: AdamW's decay still shrinks their weights.
    fn updates_dispatches(&self) -> Vec<Dispatch> {
        let ctx = &*self.ctx;
        let opt = self.config.optimizer;
        let p = &self.params;
        // The binding an unmasked update never reads.
        let any = &self.grads.zeros;
        let mut out = Vec::new();
        let mut update =
            |count: usize,
             (w, m1, m2, g): (&wgpu::Buffer, &wgpu::Buffer, &wgpu::Buffer, &wgpu::Buffer),
             mask: Option<&wgpu::Buffer>,
             decays: bool| {
                if count == 0 {
                    return;
                }
                out.push(match opt.kind {
                    OptimizerKind::Sgd => {
                        kernels::sgd(ctx, count, (opt.lr, opt.momentum), w, m1, g, mask, any)
                    }
                    OptimizerKind::Adam | OptimizerKind::AdamW => {
                        let settings = AdamWSettings {
                            beta1: opt.beta1,
                            beta2: opt.beta2,
                            eps: opt.eps,
                            // Adam's configuration has weight_decay 0 (validated); AdamW's
                            // applies to the linear layers' weights only, as timm's parameter
                            // groups do.
                            weight_decay: if decays { opt.weight_decay } else { 0.0 },
                        };
                        vk::adamw(
                            ctx,
                            count,
                            settings,
                            (w, m1, m2, g),
                            mask,
                            any,
                            &self.state,
                            &self.lrs,
                        )
                    }
                });
            };
        for l in &p.linears {
            update(
                l.weight_floats(),
                (&l.w, &l.m_w, &l.v_w, &l.gw),
                Some(&l.mask),
                true,
            );
            update(pad4(l.outputs), (&l.b, &l.m_b, &l.v_b, &l.gb), None, false);
        }
        for o in &p.others {
            update(o.floats, (&o.p, &o.m, &o.v, &o.g), None, false);
        }
        out
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

    /// Where a training step's time goes, kernel by kernel (see [`super::profile`]); as
    /// [`super::GpuTrainer::profile`], it leaves a meaningless model behind.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn profile(&self, reps: usize) -> Result<super::profile::StepProfile> {
        let fit = MAX_STEPS_PER_SUBMIT.min(self.order.len() / self.config.batch);
        let reps = reps.clamp(1, fit.max(1));
        let lrs = vec![self.config.optimizer.lr; MAX_STEPS_PER_SUBMIT];
        self.ctx
            .queue
            .write_buffer(&self.lrs, 0, bytemuck::cast_slice(&lrs));
        let reset = || {
            let state = [0u32, self.updates, 0, 0];
            self.ctx
                .queue
                .write_buffer(&self.state, 0, bytemuck::cast_slice(&state));
        };
        let step: Vec<&Dispatch> = self.step_dispatches.iter().collect();
        super::profile::profile(&self.ctx, &step, reps, &reset)
    }

    /// Copies every parameter and optimizer state into (`save`) or back from the snapshot.
    fn copy_state(&self, save: bool) {
        let mut encoder = self.ctx.device.create_command_encoder(&Default::default());
        for ((buffer, n), copy) in self.params.state().into_iter().zip(&self.saved) {
            let bytes = 4 * n as u64;
            if bytes == 0 {
                continue;
            }
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
        let base_lr = self.config.optimizer.lr;
        while remaining > 0 {
            if self.order.prepare(batch) {
                self.upload_order();
            }
            let steps = remaining
                .min(self.order.batches_left(batch))
                .min(MAX_STEPS_PER_SUBMIT);
            let state = [self.order.cursor() as u32, self.updates, 0, 0];
            let queue = &self.ctx.queue;
            queue.write_buffer(&self.state, 0, bytemuck::cast_slice(&state));
            // Each step's rate as the CPU engine's trainer computes it.
            let lrs: Vec<f32> = (0..steps as u64)
                .map(|s| {
                    self.config
                        .schedule
                        .lr_at(base_lr, self.step + s, self.total_steps)
                })
                .collect();
            queue.write_buffer(&self.lrs, 0, bytemuck::cast_slice(&lrs));
            let mut list = Vec::with_capacity(steps * self.step_dispatches.len());
            for _ in 0..steps {
                list.extend(self.step_dispatches.iter());
            }
            queue.submit([encode(&self.ctx, "ViT training steps", &list)]);
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
        let diverged = bad_step
            .or(is_divergent(mean_loss, self.shape.classes).then_some((self.step, mean_loss)));
        if let Some((step, loss)) = diverged {
            self.copy_state(false);
            self.step = start_step;
            self.updates = start_updates;
            self.ctx.check()?;
            return Err(Error::Diverged {
                step,
                loss,
                lr: base_lr,
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
        let c = self.shape.classes;
        self.ctx.queue.write_buffer(&set.state, 0, &[0u8; 16]);
        self.ctx
            .queue
            .write_buffer(&set.confusion, 0, &vec![0u8; 4 * c * c]);
        let mut list = Vec::new();
        for _ in 0..set.len.div_ceil(self.eval.images) {
            list.push(&set.gather);
            list.extend(self.eval_forward.iter());
            list.push(&set.evaluate);
            list.push(&set.advance);
        }
        self.ctx
            .queue
            .submit([encode(&self.ctx, "ViT evaluation", &list)]);
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

    /// The model as it is on the GPU now, with its masks, head masks and removed blocks.
    pub async fn model(&self) -> Result<Vit> {
        let mut parts = Vec::new();
        // Empty tensors (a block compacted to nothing) still read their 16-byte buffer.
        let bytes = |floats: usize| 4 * floats.max(4) as u64;
        for l in &self.params.linears {
            parts.push((&l.w, bytes(l.weight_floats())));
            parts.push((&l.b, bytes(pad4(l.outputs))));
            parts.push((&l.mask, bytes(l.weight_floats())));
        }
        for o in &self.params.others {
            parts.push((&o.p, bytes(o.floats)));
        }
        let data = read_back(&self.ctx, &parts).await?;
        let (linear_data, other_data) = data.split_at(3 * self.params.linears.len());
        let linears: Vec<Layer> = self
            .params
            .linears
            .iter()
            .zip(linear_data.chunks(3))
            .map(|(l, b)| Layer {
                weight: unpadded_rows(&floats(&b[0]), l.outputs, l.inputs),
                bias: Array1::from(floats(&b[1])[..l.outputs].to_vec()),
                mask: unpadded_rows(&floats(&b[2]), l.outputs, l.inputs),
            })
            .collect();
        let d = self.shape.dim;
        let vector = |i: usize| Array1::from(floats(&other_data[i])[..d].to_vec());
        let norm = |(w, b): (usize, usize)| LayerNorm {
            weight: vector(w),
            bias: vector(b),
        };
        let depth = self.shape.blocks.len();
        let mut vit = Vit::from_shaped_parts(
            self.vit,
            &self.shape.blocks,
            linears,
            unpadded_rows(&floats(&other_data[POS_EMBED]), TOKENS, d),
            (0..depth).map(|b| norm(norm1(b))).collect(),
            (0..depth).map(|b| norm(norm2(b))).collect(),
            norm(fc_norm(depth)),
            self.head_masks.clone(),
        )?;
        vit.set_removed_blocks(&self.removed)?;
        Ok(vit)
    }
}
