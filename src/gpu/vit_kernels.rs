//! The ViT's kernels (one `.wgsl` file each, in `shaders/vit_*.wgsl`) and, for each, a function
//! that binds its buffers and sizes its dispatch, as `kernels.rs` does for LeNet's. The pipelines
//! are compiled on first use ([`GpuContext::vit_kernels`]), so LeNet-only users never pay for
//! them.
//!
//! Layout as everywhere on the GPU: a matrix `[rows, width]` is row-major with rows padded to
//! `pad4(width)` floats, the padding zero; vectors are padded with zeros to whole `vec4`s.

use bytemuck::{Pod, Zeroable};

use super::GpuContext;
use super::buffers::pad4;
use super::kernels::{Dispatch, dispatch, elementwise_groups, groups, pipeline};
use crate::model::vit::{LN_EPS, PATCH_PIXELS, PIXELS, TOKENS};

/// One compiled pipeline per ViT kernel.
pub struct VitKernels {
    patch_gather: wgpu::ComputePipeline,
    add_pos_embed: wgpu::ComputePipeline,
    pos_embed_grad: wgpu::ComputePipeline,
    layer_norm_forward: wgpu::ComputePipeline,
    layer_norm_backward_input: wgpu::ComputePipeline,
    layer_norm_backward_params: wgpu::ComputePipeline,
    gelu_forward: wgpu::ComputePipeline,
    gelu_backward: wgpu::ComputePipeline,
    attention_forward: wgpu::ComputePipeline,
    attention_backward: wgpu::ComputePipeline,
    mean_pool_forward: wgpu::ComputePipeline,
    mean_pool_backward: wgpu::ComputePipeline,
    axpy: wgpu::ComputePipeline,
    scale: wgpu::ComputePipeline,
    adamw: wgpu::ComputePipeline,
}

impl VitKernels {
    pub fn new(device: &wgpu::Device) -> Self {
        macro_rules! kernel {
            ($file:literal) => {
                pipeline(device, wgpu::include_wgsl!(concat!("shaders/", $file)))
            };
        }
        Self {
            patch_gather: kernel!("vit_patch_gather.wgsl"),
            add_pos_embed: kernel!("vit_add_pos_embed.wgsl"),
            pos_embed_grad: kernel!("vit_pos_embed_grad.wgsl"),
            layer_norm_forward: kernel!("vit_layer_norm_forward.wgsl"),
            layer_norm_backward_input: kernel!("vit_layer_norm_backward_input.wgsl"),
            layer_norm_backward_params: kernel!("vit_layer_norm_backward_params.wgsl"),
            gelu_forward: kernel!("vit_gelu_forward.wgsl"),
            gelu_backward: kernel!("vit_gelu_backward.wgsl"),
            attention_forward: kernel!("vit_attention_forward.wgsl"),
            attention_backward: kernel!("vit_attention_backward.wgsl"),
            mean_pool_forward: kernel!("vit_mean_pool_forward.wgsl"),
            mean_pool_backward: kernel!("vit_mean_pool_backward.wgsl"),
            axpy: kernel!("vit_axpy.wgsl"),
            scale: kernel!("vit_scale.wgsl"),
            adamw: kernel!("vit_adamw.wgsl"),
        }
    }
}

/// AdamW's hyper-parameters as [`adamw`] takes them; the learning rate comes per step from a
/// buffer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamWSettings {
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub weight_decay: f32,
}

/// Four u32 parameters, the shape most of these kernels take.
type Quad = [u32; 4];

/// Gathers a batch of `batch` images as `x: [batch·16, 49]` patch rows and `y: [batch]` labels:
/// image b is sample `order[state[0] + b]` of `images` (packed 4 pixels a u32, as for
/// `kernels::gather`). See `vit_patch_gather.wgsl`.
#[allow(clippy::too_many_arguments)]
pub fn patch_gather(
    ctx: &GpuContext,
    batch: usize,
    images: &wgpu::Buffer,
    labels: &wgpu::Buffer,
    order: &wgpu::Buffer,
    state: &wgpu::Buffer,
    x: &wgpu::Buffer,
    y: &wgpu::Buffer,
) -> Dispatch {
    let stride = pad4(PATCH_PIXELS);
    let params: Quad = [batch as u32, (pad4(PIXELS) / 4) as u32, stride as u32, 0];
    dispatch(
        ctx,
        &ctx.vit_kernels().patch_gather,
        "vit_patch_gather",
        &params,
        &[images, labels, order, state, x, y],
        [groups(TOKENS * stride, 64), batch as u32, 1],
    )
}

/// `h[r, c] += pos[r % 16, c]` for `h: [rows, dim]`, `pos: [16, dim]`. See
/// `vit_add_pos_embed.wgsl`.
pub fn add_pos_embed(
    ctx: &GpuContext,
    rows: usize,
    dim: usize,
    h: &wgpu::Buffer,
    pos: &wgpu::Buffer,
) -> Dispatch {
    let stride4 = pad4(dim) / 4;
    let params: Quad = [(rows * stride4) as u32, stride4 as u32, 0, 0];
    dispatch(
        ctx,
        &ctx.vit_kernels().add_pos_embed,
        "vit_add_pos_embed",
        &params,
        &[h, pos],
        elementwise_groups(rows * stride4),
    )
}

/// `dpos[t, c] = Σ_b dx[b·16 + t, c]` over `images` images (overwrites `dpos: [16, dim]`). See
/// `vit_pos_embed_grad.wgsl`.
pub fn pos_embed_grad(
    ctx: &GpuContext,
    images: usize,
    dim: usize,
    dx: &wgpu::Buffer,
    dpos: &wgpu::Buffer,
) -> Dispatch {
    let stride4 = pad4(dim) / 4;
    let params: Quad = [images as u32, stride4 as u32, 0, 0];
    dispatch(
        ctx,
        &ctx.vit_kernels().pos_embed_grad,
        "vit_pos_embed_grad",
        &params,
        &[dx, dpos],
        [groups(TOKENS * stride4, 64), 1, 1],
    )
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct LayerNormParams {
    rows: u32,
    dim: u32,
    stride4: u32,
    inv_dim: f32,
    eps: f32,
    pad: [u32; 3],
}

/// Row-wise groups: one invocation per row, 64 to a workgroup, folded into a second dimension
/// past WebGPU's limit as the element-wise kernels are.
fn row_groups(rows: usize) -> [u32; 3] {
    elementwise_groups(rows)
}

/// LayerNorm (ε = 1e-6, biased variance) of each row of `x: [rows, dim]`: `y = x̂·weight + bias`,
/// and x̂ into `xhat`, 1/σ into `rstd: [rows]`. See `vit_layer_norm_forward.wgsl`.
#[allow(clippy::too_many_arguments)]
pub fn layer_norm_forward(
    ctx: &GpuContext,
    rows: usize,
    dim: usize,
    x: &wgpu::Buffer,
    weight: &wgpu::Buffer,
    bias: &wgpu::Buffer,
    y: &wgpu::Buffer,
    xhat: &wgpu::Buffer,
    rstd: &wgpu::Buffer,
) -> Dispatch {
    let params = LayerNormParams {
        rows: rows as u32,
        dim: dim as u32,
        stride4: (pad4(dim) / 4) as u32,
        inv_dim: 1.0 / dim as f32,
        eps: LN_EPS,
        pad: [0; 3],
    };
    dispatch(
        ctx,
        &ctx.vit_kernels().layer_norm_forward,
        "vit_layer_norm_forward",
        &params,
        &[x, weight, bias, y, xhat, rstd],
        row_groups(rows),
    )
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct LayerNormBackwardParams {
    rows: u32,
    dim: u32,
    stride4: u32,
    inv_dim: f32,
}

/// Backward through a LayerNorm, two dispatches to record in order: ACCUMULATES the input
/// gradient into `dx` (`dx += (1/σ)(g − mean(g) − x̂·mean(g⊙x̂))`, g = dy⊙weight) and OVERWRITES
/// `dweight = Σ_rows dy⊙x̂`, `dbias = Σ_rows dy`. See `vit_layer_norm_backward_input.wgsl` and
/// `vit_layer_norm_backward_params.wgsl`.
#[allow(clippy::too_many_arguments)]
pub fn layer_norm_backward(
    ctx: &GpuContext,
    rows: usize,
    dim: usize,
    dy: &wgpu::Buffer,
    xhat: &wgpu::Buffer,
    rstd: &wgpu::Buffer,
    weight: &wgpu::Buffer,
    dx: &wgpu::Buffer,
    dweight: &wgpu::Buffer,
    dbias: &wgpu::Buffer,
) -> Vec<Dispatch> {
    let k = ctx.vit_kernels();
    let stride4 = pad4(dim) / 4;
    let input = LayerNormBackwardParams {
        rows: rows as u32,
        dim: dim as u32,
        stride4: stride4 as u32,
        inv_dim: 1.0 / dim as f32,
    };
    let params: Quad = [rows as u32, stride4 as u32, 0, 0];
    vec![
        dispatch(
            ctx,
            &k.layer_norm_backward_input,
            "vit_layer_norm_backward_input",
            &input,
            &[dy, xhat, rstd, weight, dx],
            row_groups(rows),
        ),
        dispatch(
            ctx,
            &k.layer_norm_backward_params,
            "vit_layer_norm_backward_params",
            &params,
            &[dy, xhat, dweight, dbias],
            [stride4 as u32, 1, 1],
        ),
    ]
}

/// `act = pre·Φ(pre)` (exact GELU) over `count` floats. See `vit_gelu_forward.wgsl`.
pub fn gelu_forward(
    ctx: &GpuContext,
    count: usize,
    pre: &wgpu::Buffer,
    act: &wgpu::Buffer,
) -> Dispatch {
    let params: Quad = [count as u32, 0, 0, 0];
    dispatch(
        ctx,
        &ctx.vit_kernels().gelu_forward,
        "vit_gelu_forward",
        &params,
        &[pre, act],
        elementwise_groups(count),
    )
}

/// In place over `count` floats: `d *= Φ(pre) + pre·φ(pre)`. See `vit_gelu_backward.wgsl`.
pub fn gelu_backward(
    ctx: &GpuContext,
    count: usize,
    pre: &wgpu::Buffer,
    d: &wgpu::Buffer,
) -> Dispatch {
    let params: Quad = [count as u32, 0, 0, 0];
    dispatch(
        ctx,
        &ctx.vit_kernels().gelu_backward,
        "vit_gelu_backward",
        &params,
        &[pre, d],
        elementwise_groups(count),
    )
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct AttentionParams {
    images: u32,
    heads: u32,
    head_dim: u32,
    qkv_stride: u32,
    out_stride: u32,
    chunks: u32,
    scale: f32,
    pad: u32,
}

impl AttentionParams {
    fn new(images: usize, heads: usize, head_dim: usize) -> Self {
        let dim = heads * head_dim;
        Self {
            images: images as u32,
            heads: heads as u32,
            head_dim: head_dim as u32,
            qkv_stride: pad4(3 * dim) as u32,
            out_stride: pad4(dim) as u32,
            chunks: head_dim.div_ceil(16) as u32,
            scale: 1.0 / (head_dim as f32).sqrt(),
            pad: 0,
        }
    }
}

/// One workgroup per (head, image), images folded into a third dimension past WebGPU's limit.
fn attention_groups(images: usize, heads: usize) -> [u32; 3] {
    const MAX: usize = 65_535;
    [
        heads as u32,
        images.clamp(1, MAX) as u32,
        images.div_ceil(MAX).max(1) as u32,
    ]
}

/// Attention over each image's 16 tokens for a block of `heads` heads of `head_dim` channels:
/// from `qkv: [images·16, 3·heads·head_dim]` and `coef: [heads]` (gate × mask), writes
/// `out: [images·16, heads·head_dim]` (O), `gated` (O with head h's columns × coef[h]) and
/// `probs: [images, heads, 16, 16]`. See `vit_attention_forward.wgsl`.
#[allow(clippy::too_many_arguments)]
pub fn attention_forward(
    ctx: &GpuContext,
    images: usize,
    heads: usize,
    head_dim: usize,
    qkv: &wgpu::Buffer,
    coef: &wgpu::Buffer,
    out: &wgpu::Buffer,
    gated: &wgpu::Buffer,
    probs: &wgpu::Buffer,
) -> Dispatch {
    dispatch(
        ctx,
        &ctx.vit_kernels().attention_forward,
        "vit_attention_forward",
        &AttentionParams::new(images, heads, head_dim),
        &[qkv, coef, out, gated, probs],
        attention_groups(images, heads),
    )
}

/// Backward through attention from `d_gated` (∂L/∂ of `proj`'s input): OVERWRITES every q, k and
/// v column of `dqkv: [images·16, 3·heads·head_dim]` (exact zeros for a head with coef 0). See
/// `vit_attention_backward.wgsl`.
#[allow(clippy::too_many_arguments)]
pub fn attention_backward(
    ctx: &GpuContext,
    images: usize,
    heads: usize,
    head_dim: usize,
    qkv: &wgpu::Buffer,
    probs: &wgpu::Buffer,
    d_gated: &wgpu::Buffer,
    coef: &wgpu::Buffer,
    dqkv: &wgpu::Buffer,
) -> Dispatch {
    dispatch(
        ctx,
        &ctx.vit_kernels().attention_backward,
        "vit_attention_backward",
        &AttentionParams::new(images, heads, head_dim),
        &[qkv, probs, d_gated, coef, dqkv],
        attention_groups(images, heads),
    )
}

/// `pooled[b] = mean of h's 16 token rows of image b`, `h: [images·16, dim]`. See
/// `vit_mean_pool_forward.wgsl`.
pub fn mean_pool_forward(
    ctx: &GpuContext,
    images: usize,
    dim: usize,
    h: &wgpu::Buffer,
    pooled: &wgpu::Buffer,
) -> Dispatch {
    let stride4 = pad4(dim) / 4;
    let params: Quad = [(images * stride4) as u32, stride4 as u32, 0, 0];
    dispatch(
        ctx,
        &ctx.vit_kernels().mean_pool_forward,
        "vit_mean_pool_forward",
        &params,
        &[h, pooled],
        elementwise_groups(images * stride4),
    )
}

/// OVERWRITES `dx[b·16 + t, c] = d_pooled[b, c] / 16`. See `vit_mean_pool_backward.wgsl`.
pub fn mean_pool_backward(
    ctx: &GpuContext,
    images: usize,
    dim: usize,
    d_pooled: &wgpu::Buffer,
    dx: &wgpu::Buffer,
) -> Dispatch {
    let stride4 = pad4(dim) / 4;
    let count = images * TOKENS * stride4;
    let params: Quad = [count as u32, stride4 as u32, 0, 0];
    dispatch(
        ctx,
        &ctx.vit_kernels().mean_pool_backward,
        "vit_mean_pool_backward",
        &params,
        &[d_pooled, dx],
        elementwise_groups(count),
    )
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct ScaleParams {
    count: u32,
    s: f32,
    pad: [u32; 2],
}

/// `h += s·y` over `count` floats. See `vit_axpy.wgsl`.
pub fn axpy(
    ctx: &GpuContext,
    count: usize,
    s: f32,
    y: &wgpu::Buffer,
    h: &wgpu::Buffer,
) -> Dispatch {
    let params = ScaleParams {
        count: count as u32,
        s,
        pad: [0; 2],
    };
    dispatch(
        ctx,
        &ctx.vit_kernels().axpy,
        "vit_axpy",
        &params,
        &[y, h],
        elementwise_groups(count),
    )
}

/// `dst = s·src` over `count` floats. See `vit_scale.wgsl`.
pub fn scale(
    ctx: &GpuContext,
    count: usize,
    s: f32,
    src: &wgpu::Buffer,
    dst: &wgpu::Buffer,
) -> Dispatch {
    let params = ScaleParams {
        count: count as u32,
        s,
        pad: [0; 2],
    };
    dispatch(
        ctx,
        &ctx.vit_kernels().scale,
        "vit_scale",
        &params,
        &[src, dst],
        elementwise_groups(count),
    )
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct AdamWParams {
    count: u32,
    masked: u32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    weight_decay: f32,
    pad: [u32; 2],
}

/// One AdamW update of `count` parameters: learning rate `lrs[state[2]]`, step number
/// `state[1] + 1`, decay `w *= 1 − lr·weight_decay` on kept entries before Adam's update; `mask`
/// applies when given (masked entries: w, m1, m2 = +0), `any_buffer` standing in for it
/// otherwise (never read then, but bound: it may not be `w`, `m1` or `m2`, which WebGPU forbids
/// to alias). See `vit_adamw.wgsl`.
#[allow(clippy::too_many_arguments)]
pub fn adamw(
    ctx: &GpuContext,
    count: usize,
    s: AdamWSettings,
    (w, m1, m2, g): (&wgpu::Buffer, &wgpu::Buffer, &wgpu::Buffer, &wgpu::Buffer),
    mask: Option<&wgpu::Buffer>,
    any_buffer: &wgpu::Buffer,
    state: &wgpu::Buffer,
    lrs: &wgpu::Buffer,
) -> Dispatch {
    let params = AdamWParams {
        count: count as u32,
        masked: u32::from(mask.is_some()),
        beta1: s.beta1,
        beta2: s.beta2,
        eps: s.eps,
        weight_decay: s.weight_decay,
        pad: [0; 2],
    };
    // An unmasked update never reads the mask binding, but WebGPU needs something bound there.
    let mask = mask.unwrap_or(any_buffer);
    dispatch(
        ctx,
        &ctx.vit_kernels().adamw,
        "vit_adamw",
        &params,
        &[w, m1, m2, g, mask, state, lrs],
        elementwise_groups(count),
    )
}
