//! The one error type of the core. Messages name the file, tensor or shape involved and, where
//! the fix is not obvious, what to do about it.

use thiserror::Error;

/// Everything that can go wrong in the core (data, model, training, checkpoints).
#[derive(Debug, Error)]
pub enum Error {
    /// An IDX file (MNIST's format) that cannot be read.
    #[error("{file}: {problem}")]
    Idx { file: String, problem: String },

    /// Two data files that do not belong together (e.g. 60,000 images but 10,000 labels).
    #[error("{0}")]
    DataMismatch(String),

    /// A file that cannot be opened or read.
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },

    /// A layer list such as `784-300-100-10` that does not describe a usable MLP.
    #[error("invalid architecture {spec:?}: {problem}")]
    Architecture { spec: String, problem: String },

    /// A training setting out of range (learning rate, batch size, ...).
    #[error("invalid setting: {0}")]
    Config(String),

    /// Training blew up (a loss that is not finite, or far worse than guessing): usually a
    /// learning rate that is too large. The model was put back as it was at step `kept_step`.
    #[error(
        "training diverged at step {step} (loss {loss}); the model was restored to step \
         {kept_step}. Try a smaller learning rate (now {lr})"
    )]
    Diverged {
        step: u64,
        loss: f32,
        lr: f32,
        kept_step: u64,
    },

    /// A checkpoint that cannot be loaded.
    #[error("checkpoint {file}: {problem}")]
    Checkpoint { file: String, problem: String },

    /// No WebGPU / Vulkan adapter, or the GPU refused a request.
    #[error("GPU: {0}")]
    Gpu(String),

    /// The GPU device was lost (driver reset, browser tab backgrounded for long, ...).
    #[error(
        "the GPU device was lost ({0}); the model from the last finished evaluation point is kept \
         and training can continue on the CPU"
    )]
    DeviceLost(String),

    /// A mask that does not follow the pattern a packed format needs (e.g. 2:4).
    #[error("{0}")]
    Pattern(String),

    /// Shapes that do not fit together.
    #[error("shape mismatch in {op}: {detail}")]
    Shape { op: &'static str, detail: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn idx(file: &str, problem: impl Into<String>) -> Self {
        Error::Idx {
            file: file.to_owned(),
            problem: problem.into(),
        }
    }

    pub(crate) fn checkpoint(file: &str, problem: impl Into<String>) -> Self {
        Error::Checkpoint {
            file: file.to_owned(),
            problem: problem.into(),
        }
    }
}
