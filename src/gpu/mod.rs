//! The GPU layer: WebGPU compute through wgpu (Vulkan natively, the browser's WebGPU in wasm).
//!
//! [`GpuContext`] is made once and shared; [`GpuTrainer`] trains with every step in WGSL kernels
//! (`shaders/`, one kernel per file) and matches the CPU engine, which is its reference;
//! [`standalone`] runs each kernel alone on given arrays, for the tests that hold every kernel to
//! that reference. [`forward_timing`] times whole forward passes through the dense, CSR and 2:4
//! kernels (`sparse.rs` holds the sparse layers' buffers and dispatches).

mod buffers;
mod context;
pub mod forward_timing;
mod kernels;
mod sparse;
pub mod standalone;
mod trainer;

pub use context::GpuContext;
pub use trainer::GpuTrainer;
