//! The GPU layer: WebGPU compute through wgpu (Vulkan natively, the browser's WebGPU in wasm).
//!
//! [`GpuContext`] is made once and shared; [`GpuTrainer`] (LeNet) and [`GpuVitTrainer`] (the
//! ViT) train with every step in WGSL kernels (`shaders/`, one kernel per file) and match the CPU
//! engine, which is their reference;
//! [`standalone`] runs each kernel alone on given arrays, for the tests that hold every kernel to
//! that reference. [`forward_timing`] times whole forward passes through the dense, CSR and 2:4
//! kernels (`sparse.rs` holds the sparse layers' buffers and dispatches).

mod buffers;
mod context;
pub mod forward_timing;
mod kernels;
#[cfg(not(target_arch = "wasm32"))]
pub mod profile;
mod sparse;
pub mod standalone;
mod trainer;
pub(crate) mod vit_kernels;
mod vit_trainer;

pub use context::GpuContext;
pub use trainer::GpuTrainer;
pub use vit_trainer::GpuVitTrainer;
