//! The models: a multilayer perceptron over any layer list and a tiny vision transformer, each
//! with a mask per linear weight matrix, behind the [`Network`] trait.

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
pub use mlp::{Activations, Layer, Mlp, argmax_rows, softmax_cross_entropy};
pub use network::{Gradients, ModelKind, Network, UnitGroup};
pub use vit::{Vit, VitConfig};
