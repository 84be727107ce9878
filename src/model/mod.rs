//! The model: a multilayer perceptron over any layer list, with a mask per weight matrix.

mod arch;
mod init;
mod mlp;
pub mod sparse;

pub use arch::Architecture;
pub use init::Init;
pub use mlp::{Activations, Gradients, Layer, Mlp, argmax_rows, softmax_cross_entropy};
