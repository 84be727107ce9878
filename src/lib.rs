//! PrunePlay: learn and try neural-network pruning on an MNIST MLP.
//!
//! Layers, each with its own dependencies:
//! - the core ([`data`], [`model`], [`train`], [`checkpoint`], [`prune`]): ndarray and friends only,
//!   no web or GPU crate, so it runs and is tested natively and is the reference for the other
//!   engines; [`parallel`] splits its work over the cores (rayon's Web Workers only in the
//!   threaded wasm build, feature `threads`);
//! - the GPU layer (`gpu`, behind the `gpu` cargo feature, on by default): wgpu, natively and in
//!   the browser; [`engine`] puts both engines behind one interface (only the CPU engine without
//!   the feature), and [`lottery`] runs its experiments on either;
//! - the web layer (`web`, wasm32 with the `gpu` feature): the only code that touches
//!   wasm-bindgen, web-sys and js-sys.

pub mod checkpoint;
pub mod data;
mod error;
pub mod lottery;
pub mod model;
// Work split over the cores: scoped threads natively, rayon's Web Workers in the threaded wasm.
pub mod parallel;
pub mod prune;
pub mod train;

pub mod engine;
#[cfg(feature = "gpu")]
pub mod gpu;
#[cfg(feature = "gpu")]
pub mod race;

#[cfg(all(target_arch = "wasm32", feature = "gpu"))]
mod web;
// Chart layout without a drawing crate: used by the web layer's charts, tested natively.
#[cfg(any(test, all(target_arch = "wasm32", feature = "gpu")))]
mod plot_layout;

pub use error::{Error, Result};
