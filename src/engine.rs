//! One training interface over the two engines, so the CLI, the page and every later feature run
//! on either: the CPU engine (ndarray, the reference) and the GPU engine (WGSL kernels).
//!
//! The methods are async because the GPU engine must await its read-backs in a browser; the CPU
//! engine's futures are ready at once, and native callers block on them with `pollster`.

use std::rc::Rc;

use crate::data::Mnist;
use crate::error::Result;
#[cfg(feature = "gpu")]
use crate::gpu::{GpuContext, GpuTrainer, GpuVitTrainer};
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

/// A training engine with the data set it trains and evaluates on, bound when it is made (the
/// GPU engine uploads it then, once); the data is shared, never copied.
pub struct Engine {
    data: Rc<Mnist>,
    inner: Inner,
}

enum Inner {
    /// Trains either model.
    Cpu(Box<Trainer<Model>>),
    /// Trains MLPs.
    #[cfg(feature = "gpu")]
    Gpu(Box<GpuTrainer>),
    /// Trains the ViT.
    #[cfg(feature = "gpu")]
    GpuVit(Box<GpuVitTrainer>),
}

impl Engine {
    fn cpu_with(trainer: Trainer<Model>, data: &Rc<Mnist>) -> Self {
        Self {
            data: Rc::clone(data),
            inner: Inner::Cpu(Box::new(trainer)),
        }
    }

    pub fn cpu(config: &TrainConfig, data: &Rc<Mnist>) -> Result<Self> {
        Ok(Self::cpu_with(Trainer::new(config, &data.train)?, data))
    }

    #[cfg(feature = "gpu")]
    /// The GPU engine on `ctx`; the data set is uploaded here, once.
    pub fn gpu(ctx: Rc<GpuContext>, config: &TrainConfig, data: &Rc<Mnist>) -> Result<Self> {
        use crate::model::ModelSpec;
        let inner = match config.arch {
            ModelSpec::Mlp(_) => Inner::Gpu(Box::new(GpuTrainer::new(ctx, config, data)?)),
            ModelSpec::Vit(_) => Inner::GpuVit(Box::new(GpuVitTrainer::new(ctx, config, data)?)),
        };
        Ok(Self {
            data: Rc::clone(data),
            inner,
        })
    }

    /// The data set this engine trains and evaluates on.
    pub fn data(&self) -> &Rc<Mnist> {
        &self.data
    }

    /// A fresh model of `config.arch` on the engine `backend` names.
    pub fn new(backend: &Backend, config: &TrainConfig, data: &Rc<Mnist>) -> Result<Self> {
        match backend {
            Backend::Cpu => Self::cpu(config, data),
            #[cfg(feature = "gpu")]
            Backend::Gpu(ctx) => Self::gpu(ctx.clone(), config, data),
        }
    }

    /// Continues from `model` on the CPU engine (e.g. after the GPU device was lost).
    pub fn cpu_from(
        model: impl Into<Model>,
        config: &TrainConfig,
        data: &Rc<Mnist>,
    ) -> Result<Self> {
        let trainer = Trainer::with_model(model.into(), config, &data.train)?;
        Ok(Self::cpu_with(trainer, data))
    }

    #[cfg(feature = "gpu")]
    /// Continues from `model` on the GPU engine; the data set is uploaded here, once.
    pub fn gpu_from(
        ctx: Rc<GpuContext>,
        model: &Model,
        config: &TrainConfig,
        data: &Rc<Mnist>,
    ) -> Result<Self> {
        let inner = match model {
            Model::Mlp(m) => Inner::Gpu(Box::new(GpuTrainer::with_model(ctx, m, config, data)?)),
            Model::Vit(v) => {
                Inner::GpuVit(Box::new(GpuVitTrainer::with_model(ctx, v, config, data)?))
            }
        };
        Ok(Self {
            data: Rc::clone(data),
            inner,
        })
    }

    /// Continues from `model` on the engine `backend` names.
    pub fn from_backend(
        backend: &Backend,
        model: &Model,
        config: &TrainConfig,
        data: &Rc<Mnist>,
    ) -> Result<Self> {
        match backend {
            Backend::Cpu => Self::cpu_from(model.clone(), config, data),
            #[cfg(feature = "gpu")]
            Backend::Gpu(ctx) => Self::gpu_from(ctx.clone(), model, config, data),
        }
    }

    /// Whether this engine is the one `backend` names (on the GPU, the same context).
    pub fn runs_on(&self, backend: &Backend) -> bool {
        match (&self.inner, backend) {
            (Inner::Cpu(_), Backend::Cpu) => true,
            #[cfg(feature = "gpu")]
            (Inner::Gpu(t), Backend::Gpu(ctx)) => std::ptr::eq(t.context(), Rc::as_ptr(ctx)),
            #[cfg(feature = "gpu")]
            (Inner::GpuVit(t), Backend::Gpu(ctx)) => std::ptr::eq(t.context(), Rc::as_ptr(ctx)),
            #[cfg(feature = "gpu")]
            _ => false,
        }
    }

    /// Starts a new run on this engine without making a new one: `model` with a fresh optimizer,
    /// the data order `order`, and the step counter at `step`. The GPU engine keeps its data set
    /// and pipelines.
    pub fn restart(&mut self, model: &Model, order: BatchOrder, step: u64) -> Result<()> {
        match &mut self.inner {
            Inner::Cpu(t) => t.restart(model.clone(), order, step),
            #[cfg(feature = "gpu")]
            Inner::Gpu(t) => {
                t.restart(model.mlp("this GPU engine (made for an MLP)")?, order, step)
            }
            #[cfg(feature = "gpu")]
            Inner::GpuVit(t) => match model {
                Model::Vit(v) => t.restart(v, order, step),
                Model::Mlp(m) => Err(crate::Error::Config(format!(
                    "cannot restart a ViT GPU engine with the MLP {}",
                    m.architecture()
                ))),
            },
        }
    }

    /// `"cpu"` or `"gpu"`.
    pub fn backend(&self) -> &'static str {
        match &self.inner {
            Inner::Cpu(_) => "cpu",
            #[cfg(feature = "gpu")]
            Inner::Gpu(_) | Inner::GpuVit(_) => "gpu",
        }
    }

    /// Where a GPU training step's time goes, kernel by kernel (see [`crate::gpu::profile`]);
    /// `None` on the CPU engine. It runs the step's kernels many times: the model it leaves is
    /// meaningless, so profile a throwaway engine.
    #[cfg(all(feature = "gpu", not(target_arch = "wasm32")))]
    pub fn profile(&self, reps: usize) -> Result<Option<crate::gpu::profile::StepProfile>> {
        match &self.inner {
            Inner::Cpu(_) => Ok(None),
            Inner::Gpu(t) => t.profile(reps).map(Some),
            Inner::GpuVit(t) => t.profile(reps).map(Some),
        }
    }

    /// The GPU adapter's name; `None` on the CPU engine.
    pub fn adapter(&self) -> Option<String> {
        match &self.inner {
            Inner::Cpu(_) => None,
            #[cfg(feature = "gpu")]
            Inner::Gpu(t) => Some(t.context().adapter_name()),
            #[cfg(feature = "gpu")]
            Inner::GpuVit(t) => Some(t.context().adapter_name()),
        }
    }

    pub fn step(&self) -> u64 {
        match &self.inner {
            Inner::Cpu(t) => t.step(),
            #[cfg(feature = "gpu")]
            Inner::Gpu(t) => t.step(),
            #[cfg(feature = "gpu")]
            Inner::GpuVit(t) => t.step(),
        }
    }

    pub fn epoch(&self) -> u64 {
        match &self.inner {
            Inner::Cpu(t) => t.epoch(),
            #[cfg(feature = "gpu")]
            Inner::Gpu(t) => t.epoch(),
            #[cfg(feature = "gpu")]
            Inner::GpuVit(t) => t.epoch(),
        }
    }

    /// Takes `n` steps on the training split.
    pub async fn train_steps(&mut self, n: u64) -> Result<StepStats> {
        match &mut self.inner {
            Inner::Cpu(t) => t.train_steps(&self.data.train, n),
            #[cfg(feature = "gpu")]
            Inner::Gpu(t) => t.train_steps(n).await,
            #[cfg(feature = "gpu")]
            Inner::GpuVit(t) => t.train_steps(n).await,
        }
    }

    pub async fn evaluate(&self, split: Split) -> Result<Evaluation> {
        match &self.inner {
            Inner::Cpu(t) => Ok(evaluate(t.model(), split.of(&self.data))),
            #[cfg(feature = "gpu")]
            Inner::Gpu(t) => t.evaluate(split).await,
            #[cfg(feature = "gpu")]
            Inner::GpuVit(t) => t.evaluate(split).await,
        }
    }

    /// The current model as an MLP, for the experiments written for one (the lottery lab).
    pub async fn mlp(&self) -> Result<Mlp> {
        self.model().await?.into_mlp("the lottery lab")
    }

    /// The current model (read back from the GPU on the GPU engine).
    pub async fn model(&self) -> Result<Model> {
        match &self.inner {
            Inner::Cpu(t) => Ok(t.model().clone()),
            #[cfg(feature = "gpu")]
            Inner::Gpu(t) => t.model().await.map(Model::Mlp),
            #[cfg(feature = "gpu")]
            Inner::GpuVit(t) => t.model().await.map(Model::from),
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
    data: &Rc<Mnist>,
) -> Result<Model> {
    let mut engine = Engine::from_backend(backend, model, config, data)?;
    engine
        .train_steps(config.total_steps(data.train.len()))
        .await?;
    engine.model().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Dataset;
    use crate::train::Budget;

    fn tiny() -> Rc<Mnist> {
        let set = |n: usize| {
            let pixels = (0..n * 16).map(|i| (i * 37 % 251) as u8).collect();
            let labels = (0..n).map(|i| (i % 4) as u8).collect();
            Dataset::new(pixels, labels, 16, 4).unwrap()
        };
        Rc::new(Mnist {
            train: set(64),
            validation: set(16),
            test: set(16),
            rows: 4,
            cols: 4,
        })
    }

    #[test]
    fn an_engine_shares_the_data_it_was_made_with_and_trains_on_it() {
        let data = tiny();
        let config = TrainConfig {
            arch: "16-8-4".parse().unwrap(),
            batch: 8,
            budget: Budget::Iters(4),
            ..TrainConfig::default()
        };
        let mut engine = Engine::cpu(&config, &data).unwrap();
        // The same allocation, not a copy: two handles, one data set.
        assert!(Rc::ptr_eq(engine.data(), &data));
        assert_eq!(Rc::strong_count(&data), 2);
        let stats = pollster::block_on(engine.train_steps(4)).unwrap();
        assert_eq!((stats.step, engine.step()), (4, 4));
        let eval = pollster::block_on(engine.evaluate(Split::Test)).unwrap();
        assert_eq!(eval.confusion.iter().flatten().sum::<u32>(), 16);
        drop(engine);
        assert_eq!(Rc::strong_count(&data), 1);
    }
}
