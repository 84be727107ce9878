//! The model: a multilayer perceptron over any layer list, with a mask per weight matrix.

mod any;
mod arch;
mod init;
mod mlp;
mod mlp_network;
mod network;
pub mod sparse;
pub mod vit;

pub use any::Model;
pub use arch::Architecture;
pub use init::Init;
pub use mlp::{Activations, Gradients, Layer, Mlp, argmax_rows, softmax_cross_entropy};
pub use network::{ModelKind, Network, UnitGroup};
pub use vit::{LayerNorm, Vit, VitConfig};
