//! Sparse layers on the GPU: packed weights ([`crate::model::sparse`]) uploaded once, and the
//! dispatches of `csr_forward.wgsl` and `nm_forward.wgsl`, built the way `kernels.rs` builds the
//! dense ones.
//!
//! Sparse kernels take activations feature-major, `[features, batch]`, each row padded to whole
//! `vec4`s of samples (see the kernels for why): the padded row layout of `buffers.rs` applied to
//! the transpose of the CPU engine's `[batch, features]` arrays.

use bytemuck::{Pod, Zeroable};

use super::GpuContext;
use super::buffers::{pad4, with_contents};
use super::kernels::{Dispatch, dispatch, groups};
use crate::model::sparse::{Packed, PackedLayer};

/// Samples and output rows per workgroup (see the kernels for why). Rows are the first dispatch
/// dimension, so that the rows of one block of samples run together.
const SAMPLES_PER_WORKGROUP: usize = 256;
const ROWS_PER_WORKGROUP: usize = 4;

/// Bytes of a feature-major activation buffer.
pub fn feature_major_bytes(features: usize, batch: usize) -> usize {
    4 * features * pad4(batch)
}

/// One packed layer on the GPU.
pub struct SparseLayerBuffers {
    pub outputs: usize,
    weights: Weights,
    bias: wgpu::Buffer,
}

enum Weights {
    Csr {
        row_ptr: wgpu::Buffer,
        col_idx: wgpu::Buffer,
        values: wgpu::Buffer,
    },
    TwoFour {
        groups: usize,
        meta_stride: usize,
        positions: wgpu::Buffer,
        values: wgpu::Buffer,
    },
}

/// Uploads a packed layer (its buffers are made once and reused by every dispatch).
pub fn upload(ctx: &GpuContext, layer: &PackedLayer) -> SparseLayerBuffers {
    let weights = match &layer.weights {
        Packed::Csr(m) => Weights::Csr {
            row_ptr: with_contents(ctx, "csr row pointers", &m.row_ptr),
            col_idx: with_contents(ctx, "csr column indices", &m.col_idx),
            values: with_contents(ctx, "csr values", &m.values),
        },
        Packed::TwoFour(m) => Weights::TwoFour {
            groups: m.groups(),
            meta_stride: m.meta_stride(),
            positions: with_contents(ctx, "2:4 positions", &m.meta),
            values: with_contents(ctx, "2:4 values", &m.values),
        },
    };
    SparseLayerBuffers {
        outputs: layer.weights.rows(),
        weights,
        bias: with_contents(ctx, "sparse biases", &layer.bias.to_vec()),
    }
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct CsrParams {
    rows: u32,
    quads: u32,
    relu: u32,
    pad: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct NmParams {
    rows: u32,
    quads: u32,
    groups: u32,
    meta_stride: u32,
    relu: u32,
    pad: [u32; 3],
}

/// `z = relu?(W · x + b)` for feature-major `x: [inputs, batch]`, `z: [outputs, batch]`, through
/// `csr_forward.wgsl` or `nm_forward.wgsl` as the layer's format says.
pub fn forward(
    ctx: &GpuContext,
    layer: &SparseLayerBuffers,
    batch: usize,
    relu: bool,
    x: &wgpu::Buffer,
    z: &wgpu::Buffer,
) -> Dispatch {
    let quads = pad4(batch) / 4;
    let workgroups = [
        groups(layer.outputs, ROWS_PER_WORKGROUP as u32),
        groups(batch, SAMPLES_PER_WORKGROUP as u32),
        1,
    ];
    match &layer.weights {
        Weights::Csr {
            row_ptr,
            col_idx,
            values,
        } => {
            let params = CsrParams {
                rows: layer.outputs as u32,
                quads: quads as u32,
                relu: u32::from(relu),
                pad: 0,
            };
            dispatch(
                ctx,
                &ctx.kernels.csr_forward,
                "csr_forward",
                &params,
                &[row_ptr, col_idx, values, &layer.bias, x, z],
                workgroups,
            )
        }
        Weights::TwoFour {
            groups,
            meta_stride,
            positions,
            values,
        } => {
            let params = NmParams {
                rows: layer.outputs as u32,
                quads: quads as u32,
                groups: *groups as u32,
                meta_stride: *meta_stride as u32,
                relu: u32::from(relu),
                pad: [0; 3],
            };
            dispatch(
                ctx,
                &ctx.kernels.nm_forward,
                "nm_forward",
                &params,
                &[positions, values, &layer.bias, x, z],
                workgroups,
            )
        }
    }
}
