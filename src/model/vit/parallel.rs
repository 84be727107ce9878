//! Splitting the non-GEMM work (attention, LayerNorm, GELU) over the machine's cores.
//!
//! The GEMMs are already split (by matrixmultiply natively, by [`crate::parallel`] in the
//! threaded wasm build); without this the rest of a training step runs on one core and
//! dominates. Work is cut into one contiguous part per thread (whole images or rows), each part
//! runs on a thread of its own (scoped std threads natively, rayon's Web Workers in the threaded
//! wasm build), and results are combined in part order, so the output does not depend on timing.
//! Where there are no threads (the single-threaded wasm build) everything runs in one part on
//! the calling thread.

pub use crate::parallel::{bounds, run, split};
