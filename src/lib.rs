//! PrunePlay: learn and try neural-network pruning on an MNIST MLP.
//!
//! Layers, each with its own dependencies:
//! - the core ([`data`], [`model`], [`train`], [`checkpoint`], [`prune`]): ndarray and friends only,
//!   no web or GPU crate, so it runs and is tested natively and is the reference for the other
//!   engines;
//! - the GPU layer ([`gpu`]): wgpu, natively and in the browser; [`engine`] puts both engines
//!   behind one interface, and [`lottery`] runs its experiments on either;
//! - the web layer (`web`, wasm32 only): the only code that touches wasm-bindgen, web-sys and
//!   js-sys.

pub mod checkpoint;
pub mod data;
mod error;
pub mod lottery;
pub mod model;
pub mod prune;
pub mod train;

pub mod engine;
pub mod gpu;

#[cfg(target_arch = "wasm32")]
mod web;

pub use error::{Error, Result};
