//! The GPU layer: WebGPU compute through wgpu (Vulkan natively, the browser's WebGPU in wasm).
//!
//! [`GpuContext`] is made once and shared; [`GpuTrainer`] trains with every step in WGSL kernels
//! (`shaders/`, one kernel per file) and matches the CPU engine, which is its reference;
//! [`standalone`] runs each kernel alone on given arrays, for the tests that hold every kernel to
//! that reference.

mod buffers;
mod context;
mod kernels;
pub mod standalone;
mod trainer;

pub use context::GpuContext;
pub use trainer::GpuTrainer;
