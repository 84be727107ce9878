//! The device's binding limits, checked before the ViT trainer makes a buffer.

use super::buffers::Shape;
use crate::data::Mnist;
use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use crate::gpu::buffers::pad4;
use crate::gpu::trainer::MAX_STEPS_PER_SUBMIT;
use crate::model::vit::PATCH_PIXELS;
use crate::train::TrainConfig;

/// Most images per evaluation batch: the validation (5,000) and test (10,000) sets divide
/// evenly. A wide model takes fewer, so that every activation fits the device's bindings.
pub(super) const MAX_EVAL_BATCH: usize = 1_000;

/// Refuses, before any buffer is made, a configuration whose buffers the device cannot bind;
/// returns the evaluation batch (images) that fits.
pub(super) fn check_limits(
    ctx: &GpuContext,
    config: &TrainConfig,
    shape: &Shape,
    data: &Mnist,
) -> Result<usize> {
    let limits = ctx.limits();
    let max = limits
        .max_storage_buffer_binding_size
        .min(limits.max_buffer_size);
    let per_image = shape.largest_activation(1).max(1);
    let eval_images = (max / per_image).clamp(1, MAX_EVAL_BATCH as u64) as usize;
    // (outputs, inputs) of every linear layer.
    let mut linears = vec![(shape.dim, PATCH_PIXELS), (shape.classes, shape.dim)];
    for (b, s) in shape.blocks.iter().enumerate() {
        let (d, attn) = (shape.dim, shape.attn(b));
        linears.extend([(3 * attn, d), (d, attn), (s.hidden, d), (d, s.hidden)]);
    }
    let needs = [
        (
            "the training images",
            (data.train.len() * pad4(data.train.features())) as u64,
        ),
        (
            "one batch of activations",
            shape.largest_activation(config.batch),
        ),
        (
            "the metrics of a submission",
            (8 * config.batch * MAX_STEPS_PER_SUBMIT) as u64,
        ),
        (
            "the largest weight matrix",
            linears
                .iter()
                .map(|&(out, inp)| (4 * out * pad4(inp)) as u64)
                .max()
                .unwrap_or(0),
        ),
    ];
    for (what, bytes) in needs {
        if bytes > max {
            return Err(Error::Config(format!(
                "{what} would take {bytes} bytes on the GPU, more than this device can bind ({max} bytes); use a smaller batch or model, or --backend cpu"
            )));
        }
    }
    Ok(eval_images)
}
