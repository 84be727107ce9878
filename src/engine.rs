//! One training interface over the two engines, so the CLI, the page and every later feature run
//! on either: the CPU engine (ndarray, the reference) and the GPU engine (WGSL kernels).
//!
//! The methods are async because the GPU engine must await its read-backs in a browser; the CPU
//! engine's futures are ready at once, and native callers block on them with `pollster`.

#[cfg(feature = "gpu")]
use std::rc::Rc;

use crate::data::Mnist;
use crate::error::Result;
#[cfg(feature = "gpu")]
use crate::gpu::{GpuContext, GpuTrainer};
use crate::model::{Mlp, Model};
use crate::train::{BatchOrder, Evaluation, Split, StepStats, TrainConfig, Trainer, evaluate};

/// Which engine a caller wants, before there is one: experiments that make (and remake) engines
/// themselves take this.
#[derive(Clone)]
pub enum Backend {
    Cpu,
    #[cfg(feature = "gpu")]
    Gpu(Rc<GpuContext>),
}

impl Backend {
    /// `"cpu"` or `"gpu"`, as [`Engine::backend`] says.
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Cpu => "cpu",
            #[cfg(feature = "gpu")]
            Backend::Gpu(_) => "gpu",
        }
    }
}

pub enum Engine {
    /// Trains either model.
    Cpu(Box<Trainer<Model>>),
    /// Trains MLPs; the ViT has no WGSL kernels yet.
    #[cfg(feature = "gpu")]
    Gpu(Box<GpuTrainer>),
}

impl Engine {
    pub fn cpu(config: &TrainConfig, data: &Mnist) -> Result<Self> {
        Ok(Engine::Cpu(Box::new(Trainer::new(config, &data.train)?)))
    }

    #[cfg(feature = "gpu")]
    /// The GPU engine on `ctx`; the data set is uploaded here, once.
    pub fn gpu(ctx: Rc<GpuContext>, config: &TrainConfig, data: &Mnist) -> Result<Self> {
        Ok(Engine::Gpu(Box::new(GpuTrainer::new(ctx, config, data)?)))
    }

    /// A fresh model of `config.arch` on the engine `backend` names.
    pub fn new(backend: &Backend, config: &TrainConfig, data: &Mnist) -> Result<Self> {
        match backend {
            Backend::Cpu => Self::cpu(config, data),
            #[cfg(feature = "gpu")]
            Backend::Gpu(ctx) => Self::gpu(ctx.clone(), config, data),
        }
    }

    /// Continues from `model` on the CPU engine (e.g. after the GPU device was lost).
    pub fn cpu_from(model: impl Into<Model>, config: &TrainConfig, data: &Mnist) -> Result<Self> {
        Ok(Engine::Cpu(Box::new(Trainer::with_model(
            model.into(),
            config,
            &data.train,
        )?)))
    }

    #[cfg(feature = "gpu")]
    /// Continues from `model` on the GPU engine; the data set is uploaded here, once.
    pub fn gpu_from(
        ctx: Rc<GpuContext>,
        model: &Model,
        config: &TrainConfig,
        data: &Mnist,
    ) -> Result<Self> {
        let mlp = model.mlp("the GPU engine (it has no ViT kernels yet)")?;
        Ok(Engine::Gpu(Box::new(GpuTrainer::with_model(
            ctx, mlp, config, data,
        )?)))
    }

    /// Continues from `model` on the engine `backend` names.
    pub fn from_backend(
        backend: &Backend,
        model: &Model,
        config: &TrainConfig,
        data: &Mnist,
    ) -> Result<Self> {
        match backend {
            Backend::Cpu => Self::cpu_from(model.clone(), config, data),
            #[cfg(feature = "gpu")]
            Backend::Gpu(ctx) => Self::gpu_from(ctx.clone(), model, config, data),
        }
    }

    /// Whether this engine is the one `backend` names (on the GPU, the same context).
    pub fn runs_on(&self, backend: &Backend) -> bool {
        match (self, backend) {
            (Engine::Cpu(_), Backend::Cpu) => true,
            #[cfg(feature = "gpu")]
            (Engine::Gpu(t), Backend::Gpu(ctx)) => std::ptr::eq(t.context(), Rc::as_ptr(ctx)),
            #[cfg(feature = "gpu")]
            _ => false,
        }
    }

    /// Starts a new run on this engine without making a new one: `model` with a fresh optimizer,
    /// the data order `order`, and the step counter at `step`. The GPU engine keeps its data set
    /// and pipelines.
    pub fn restart(&mut self, model: &Model, order: BatchOrder, step: u64) -> Result<()> {
        match self {
            Engine::Cpu(t) => t.restart(model.clone(), order, step),
            #[cfg(feature = "gpu")]
            Engine::Gpu(t) => t.restart(model.mlp("the GPU engine")?, order, step),
        }
    }

    /// `"cpu"` or `"gpu"`.
    pub fn backend(&self) -> &'static str {
        match self {
            Engine::Cpu(_) => "cpu",
            #[cfg(feature = "gpu")]
            Engine::Gpu(_) => "gpu",
        }
    }

    /// The GPU adapter's name; `None` on the CPU engine.
    pub fn adapter(&self) -> Option<String> {
        match self {
            Engine::Cpu(_) => None,
            #[cfg(feature = "gpu")]
            Engine::Gpu(t) => Some(t.context().adapter_name()),
        }
    }

    pub fn step(&self) -> u64 {
        match self {
            Engine::Cpu(t) => t.step(),
            #[cfg(feature = "gpu")]
            Engine::Gpu(t) => t.step(),
        }
    }

    pub fn epoch(&self) -> u64 {
        match self {
            Engine::Cpu(t) => t.epoch(),
            #[cfg(feature = "gpu")]
            Engine::Gpu(t) => t.epoch(),
        }
    }

    /// Takes `n` steps on `data.train` (the GPU engine already holds it).
    pub async fn train_steps(&mut self, data: &Mnist, n: u64) -> Result<StepStats> {
        match self {
            Engine::Cpu(t) => t.train_steps(&data.train, n),
            #[cfg(feature = "gpu")]
            Engine::Gpu(t) => t.train_steps(n).await,
        }
    }

    pub async fn evaluate(&self, data: &Mnist, split: Split) -> Result<Evaluation> {
        match self {
            Engine::Cpu(t) => Ok(evaluate(t.model(), split.of(data))),
            #[cfg(feature = "gpu")]
            Engine::Gpu(t) => t.evaluate(split).await,
        }
    }

    /// The current model as an MLP, for the experiments written for one (the lottery lab).
    pub async fn mlp(&self) -> Result<Mlp> {
        self.model().await?.into_mlp("the lottery lab")
    }

    /// The current model (read back from the GPU on the GPU engine).
    pub async fn model(&self) -> Result<Model> {
        match self {
            Engine::Cpu(t) => Ok(t.model().clone()),
            #[cfg(feature = "gpu")]
            Engine::Gpu(t) => t.model().await.map(Model::Mlp),
        }
    }
}

/// Fine-tuning: trains `model` for `config`'s budget on the engine `backend` names, masks held,
/// and returns the result. Every caller that retrains a pruned model (the CLI's `--finetune-*`,
/// IMP's rounds, the page) goes through here, so a GPU fine-tunes where one is in use.
pub async fn finetune(
    backend: &Backend,
    model: &Model,
    config: &TrainConfig,
    data: &Mnist,
) -> Result<Model> {
    let mut engine = Engine::from_backend(backend, model, config, data)?;
    engine
        .train_steps(data, config.total_steps(data.train.len()))
        .await?;
    engine.model().await
}
