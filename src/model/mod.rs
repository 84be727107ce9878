//! The models: what the core knows of any model ([`Network`]), a multilayer perceptron over any
//! layer list with a mask per weight matrix ([`Mlp`]), and the tiny vision transformer ([`Vit`]).

mod any;
mod arch;
mod blocks;
mod init;
mod mlp;
mod mlp_network;
mod network;
pub mod sparse;
mod spec;
pub mod vit;

pub use any::Model;
pub use arch::Architecture;
pub use blocks::Blocks;
pub use init::Init;
pub use mlp::{Activations, Layer, Mlp, argmax_rows, softmax_cross_entropy};
pub use network::{Gradients, ModelKind, Network, UnitGroup};
pub use spec::{FromSpec, ModelSpec};
pub use vit::{LayerNorm, Vit, VitConfig};
