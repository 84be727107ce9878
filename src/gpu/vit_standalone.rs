//! Each ViT kernel (`vit_kernels.rs`) run alone on given arrays, through the same binding and
//! dispatch code the ViT trainer uses; reached as `standalone::vit`. The tests compare these
//! against the CPU engine's ViT code (`model::vit`), kernel by kernel.
//!
//! Outputs a kernel overwrites start filled with a non-zero value in their real columns (zero in
//! the padding), so a missed write shows; every result is read back padded and checked to have
//! zero padding, since the kernels must never write anything else there.

use ndarray::{Array1, Array2, ArrayView2};

use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use crate::gpu::buffers::{
    floats, pad4, padded_rows, padded_vec, read_back, with_contents, words, zeroed,
};
use crate::gpu::kernels::{self, Dispatch, encode};
use crate::gpu::vit_kernels::{self as vk, AdamWSettings};
use crate::model::LayerNorm;
use crate::model::vit::{PATCH_PIXELS, PIXELS, TOKENS};
use crate::train::OptimizerConfig;

/// What overwritten outputs hold before the kernel runs.
const STALE: f32 = 1234.5;

async fn run(
    ctx: &GpuContext,
    list: &[&Dispatch],
    out: &[(&wgpu::Buffer, u64)],
) -> Result<Vec<Vec<u8>>> {
    ctx.queue
        .submit([encode(ctx, "standalone ViT kernel", list)]);
    read_back(ctx, out).await
}

/// Bytes of a padded `[rows, cols]` matrix.
fn bytes(rows: usize, cols: usize) -> u64 {
    (4 * rows * pad4(cols)) as u64
}

/// A padded `[rows, cols]` buffer holding [`STALE`] in its real columns, 0 in the padding.
fn stale(ctx: &GpuContext, label: &str, rows: usize, cols: usize) -> wgpu::Buffer {
    let m = Array2::from_elem((rows, cols), STALE);
    with_contents(ctx, label, &padded_rows(m.view()))
}

fn matrix(ctx: &GpuContext, label: &str, m: ArrayView2<'_, f32>) -> wgpu::Buffer {
    with_contents(ctx, label, &padded_rows(m))
}

/// The inverse of `padded_rows`, failing if a kernel left anything but +0 in the padding.
fn unpad(what: &str, data: &[u8], rows: usize, cols: usize) -> Result<Array2<f32>> {
    let data = floats(data);
    let stride = pad4(cols);
    for r in 0..rows {
        for c in cols..stride {
            let v = data[r * stride + c];
            if v.to_bits() != 0 {
                return Err(Error::Gpu(format!(
                    "{what}: padding column {c} of row {r} holds {v}"
                )));
            }
        }
    }
    Ok(Array2::from_shape_fn((rows, cols), |(r, c)| {
        data[r * stride + c]
    }))
}

fn vector(what: &str, data: &[u8], len: usize) -> Result<Array1<f32>> {
    Ok(unpad(what, data, 1, len)?.row(0).to_owned())
}

/// `vit_patch_gather.wgsl`: the patch rows `[batch·16, 49]` and labels of the `batch` samples
/// `order[cursor..]` of a data set of 28×28 `pixels` (one byte each, row-major images).
pub async fn patch_gather(
    ctx: &GpuContext,
    pixels: &[u8],
    labels: &[u8],
    order: &[u32],
    cursor: usize,
    batch: usize,
) -> Result<(Array2<f32>, Vec<u32>)> {
    if pixels.len() != labels.len() * PIXELS || cursor + batch > order.len() {
        return Err(Error::Shape {
            op: "standalone::vit::patch_gather",
            detail: format!(
                "{} pixels for {} labels; {batch} samples from {cursor} of {}",
                pixels.len(),
                labels.len(),
                order.len()
            ),
        });
    }
    // 784 pixels are whole words: the packing of `trainer::packed_images`.
    let images = with_contents(
        ctx,
        "images",
        &bytemuck::pod_collect_to_vec::<u8, u32>(pixels),
    );
    let labels: Vec<u32> = labels.iter().map(|&l| u32::from(l)).collect();
    let labels = with_contents(ctx, "labels", &labels);
    let order = with_contents(ctx, "order", order);
    let state = with_contents(ctx, "state", &[cursor as u32, 0, 0, 0]);
    let rows = batch * TOKENS;
    let x = stale(ctx, "x", rows, PATCH_PIXELS);
    let y = zeroed(ctx, "y", 4 * batch);
    let d = vk::patch_gather(ctx, batch, &images, &labels, &order, &state, &x, &y);
    let out = run(
        ctx,
        &[&d],
        &[(&x, bytes(rows, PATCH_PIXELS)), (&y, (4 * batch) as u64)],
    )
    .await?;
    Ok((
        unpad("patch_gather x", &out[0], rows, PATCH_PIXELS)?,
        words(&out[1]),
    ))
}

/// `vit_add_pos_embed.wgsl`: `h[r, :] + pos[r % 16, :]`.
pub async fn add_pos_embed(
    ctx: &GpuContext,
    h: ArrayView2<'_, f32>,
    pos: ArrayView2<'_, f32>,
) -> Result<Array2<f32>> {
    let (rows, dim) = h.dim();
    let h_buf = matrix(ctx, "h", h);
    let pos = matrix(ctx, "pos", pos);
    let d = vk::add_pos_embed(ctx, rows, dim, &h_buf, &pos);
    let out = run(ctx, &[&d], &[(&h_buf, bytes(rows, dim))]).await?;
    unpad("add_pos_embed", &out[0], rows, dim)
}

/// `vit_pos_embed_grad.wgsl`: `[16, dim]`, the sum of each image's 16 rows of `dx`.
pub async fn pos_embed_grad(ctx: &GpuContext, dx: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
    let (rows, dim) = dx.dim();
    let dx = matrix(ctx, "dx", dx);
    let dpos = stale(ctx, "dpos", TOKENS, dim);
    let d = vk::pos_embed_grad(ctx, rows / TOKENS, dim, &dx, &dpos);
    let out = run(ctx, &[&d], &[(&dpos, bytes(TOKENS, dim))]).await?;
    unpad("pos_embed_grad", &out[0], TOKENS, dim)
}

/// `vit_layer_norm_forward.wgsl`: y, x̂ and 1/σ per row.
pub async fn layer_norm_forward(
    ctx: &GpuContext,
    x: ArrayView2<'_, f32>,
    ln: &LayerNorm,
) -> Result<(Array2<f32>, Array2<f32>, Vec<f32>)> {
    let (rows, dim) = x.dim();
    let x = matrix(ctx, "x", x);
    let weight = with_contents(ctx, "weight", &padded_vec(&ln.weight));
    let bias = with_contents(ctx, "bias", &padded_vec(&ln.bias));
    let y = stale(ctx, "y", rows, dim);
    let xhat = stale(ctx, "xhat", rows, dim);
    let rstd = stale(ctx, "rstd", 1, rows);
    let d = vk::layer_norm_forward(ctx, rows, dim, &x, &weight, &bias, &y, &xhat, &rstd);
    let out = run(
        ctx,
        &[&d],
        &[
            (&y, bytes(rows, dim)),
            (&xhat, bytes(rows, dim)),
            (&rstd, (4 * rows) as u64),
        ],
    )
    .await?;
    Ok((
        unpad("layer_norm_forward y", &out[0], rows, dim)?,
        unpad("layer_norm_forward xhat", &out[1], rows, dim)?,
        floats(&out[2]),
    ))
}

/// `vit_layer_norm_backward_*.wgsl`: `dx` plus the input gradient, and (∂weight, ∂bias).
pub async fn layer_norm_backward(
    ctx: &GpuContext,
    dy: ArrayView2<'_, f32>,
    xhat: ArrayView2<'_, f32>,
    rstd: &[f32],
    weight: &Array1<f32>,
    dx: ArrayView2<'_, f32>,
) -> Result<(Array2<f32>, Array1<f32>, Array1<f32>)> {
    let (rows, dim) = dy.dim();
    let dy = matrix(ctx, "dy", dy);
    let xhat = matrix(ctx, "xhat", xhat);
    let rstd = with_contents(ctx, "rstd", rstd);
    let weight = with_contents(ctx, "weight", &padded_vec(weight));
    let dx_buf = matrix(ctx, "dx", dx);
    let dweight = stale(ctx, "dweight", 1, dim);
    let dbias = stale(ctx, "dbias", 1, dim);
    let ds = vk::layer_norm_backward(
        ctx, rows, dim, &dy, &xhat, &rstd, &weight, &dx_buf, &dweight, &dbias,
    );
    let list: Vec<&Dispatch> = ds.iter().collect();
    let out = run(
        ctx,
        &list,
        &[
            (&dx_buf, bytes(rows, dim)),
            (&dweight, bytes(1, dim)),
            (&dbias, bytes(1, dim)),
        ],
    )
    .await?;
    Ok((
        unpad("layer_norm_backward dx", &out[0], rows, dim)?,
        vector("layer_norm_backward dweight", &out[1], dim)?,
        vector("layer_norm_backward dbias", &out[2], dim)?,
    ))
}

/// `vit_gelu_forward.wgsl`: GELU of every element (over the padded layout, as the trainer runs
/// it).
pub async fn gelu_forward(ctx: &GpuContext, pre: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
    let (rows, cols) = pre.dim();
    let count = rows * pad4(cols);
    let pre = matrix(ctx, "pre", pre);
    let act = stale(ctx, "act", rows, cols);
    let d = vk::gelu_forward(ctx, count, &pre, &act);
    let out = run(ctx, &[&d], &[(&act, bytes(rows, cols))]).await?;
    unpad("gelu_forward", &out[0], rows, cols)
}

/// `vit_gelu_backward.wgsl`: `d ⊙ GELU'(pre)`.
pub async fn gelu_backward(
    ctx: &GpuContext,
    pre: ArrayView2<'_, f32>,
    d: ArrayView2<'_, f32>,
) -> Result<Array2<f32>> {
    let (rows, cols) = pre.dim();
    let count = rows * pad4(cols);
    let pre = matrix(ctx, "pre", pre);
    let d_buf = matrix(ctx, "d", d);
    let k = vk::gelu_backward(ctx, count, &pre, &d_buf);
    let out = run(ctx, &[&k], &[(&d_buf, bytes(rows, cols))]).await?;
    unpad("gelu_backward", &out[0], rows, cols)
}

/// `vit_attention_forward.wgsl` for `qkv: [images·16, 3·heads·head_dim]`: O `[images·16,
/// heads·head_dim]`, O gated by `coef`, and P `[images, heads, 16, 16]` flat.
pub async fn attention_forward(
    ctx: &GpuContext,
    qkv: ArrayView2<'_, f32>,
    heads: usize,
    head_dim: usize,
    coef: &[f32],
) -> Result<(Array2<f32>, Array2<f32>, Vec<f32>)> {
    let rows = qkv.nrows();
    let (images, dim) = (rows / TOKENS, heads * head_dim);
    let qkv = matrix(ctx, "qkv", qkv);
    let coef = with_contents(ctx, "coef", coef);
    let o = stale(ctx, "out", rows, dim);
    let gated = stale(ctx, "gated", rows, dim);
    let probs_len = images * heads * TOKENS * TOKENS;
    let probs = stale(ctx, "probs", 1, probs_len);
    let d = vk::attention_forward(
        ctx, images, heads, head_dim, &qkv, &coef, &o, &gated, &probs,
    );
    let out = run(
        ctx,
        &[&d],
        &[
            (&o, bytes(rows, dim)),
            (&gated, bytes(rows, dim)),
            (&probs, (4 * probs_len) as u64),
        ],
    )
    .await?;
    Ok((
        unpad("attention_forward out", &out[0], rows, dim)?,
        unpad("attention_forward gated", &out[1], rows, dim)?,
        floats(&out[2]),
    ))
}

/// `vit_attention_backward.wgsl`: ∂L/∂qkv from ∂L/∂gated.
#[allow(clippy::too_many_arguments)]
pub async fn attention_backward(
    ctx: &GpuContext,
    qkv: ArrayView2<'_, f32>,
    probs: &[f32],
    d_gated: ArrayView2<'_, f32>,
    heads: usize,
    head_dim: usize,
    coef: &[f32],
) -> Result<Array2<f32>> {
    let rows = qkv.nrows();
    let (images, width) = (rows / TOKENS, 3 * heads * head_dim);
    let qkv = matrix(ctx, "qkv", qkv);
    let probs = with_contents(ctx, "probs", probs);
    let d_gated = matrix(ctx, "d_gated", d_gated);
    let coef = with_contents(ctx, "coef", coef);
    let dqkv = stale(ctx, "dqkv", rows, width);
    let d = vk::attention_backward(
        ctx, images, heads, head_dim, &qkv, &probs, &d_gated, &coef, &dqkv,
    );
    let out = run(ctx, &[&d], &[(&dqkv, bytes(rows, width))]).await?;
    unpad("attention_backward", &out[0], rows, width)
}

/// `vit_mean_pool_forward.wgsl`: `[images, dim]`, the mean of each image's 16 rows of `h`.
pub async fn mean_pool_forward(ctx: &GpuContext, h: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
    let (rows, dim) = h.dim();
    let images = rows / TOKENS;
    let h = matrix(ctx, "h", h);
    let pooled = stale(ctx, "pooled", images, dim);
    let d = vk::mean_pool_forward(ctx, images, dim, &h, &pooled);
    let out = run(ctx, &[&d], &[(&pooled, bytes(images, dim))]).await?;
    unpad("mean_pool_forward", &out[0], images, dim)
}

/// `vit_mean_pool_backward.wgsl`: `[images·16, dim]`, each image's row of `d_pooled` / 16.
pub async fn mean_pool_backward(
    ctx: &GpuContext,
    d_pooled: ArrayView2<'_, f32>,
) -> Result<Array2<f32>> {
    let (images, dim) = d_pooled.dim();
    let rows = images * TOKENS;
    let d_pooled = matrix(ctx, "d_pooled", d_pooled);
    let dx = stale(ctx, "dx", rows, dim);
    let d = vk::mean_pool_backward(ctx, images, dim, &d_pooled, &dx);
    let out = run(ctx, &[&d], &[(&dx, bytes(rows, dim))]).await?;
    unpad("mean_pool_backward", &out[0], rows, dim)
}

/// `vit_axpy.wgsl`: `h + s·y`.
pub async fn axpy(
    ctx: &GpuContext,
    s: f32,
    y: ArrayView2<'_, f32>,
    h: ArrayView2<'_, f32>,
) -> Result<Array2<f32>> {
    let (rows, cols) = h.dim();
    let y = matrix(ctx, "y", y);
    let h = matrix(ctx, "h", h);
    let d = vk::axpy(ctx, rows * pad4(cols), s, &y, &h);
    let out = run(ctx, &[&d], &[(&h, bytes(rows, cols))]).await?;
    unpad("axpy", &out[0], rows, cols)
}

/// `vit_scale.wgsl`: `s·src`.
pub async fn scale(ctx: &GpuContext, s: f32, src: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
    let (rows, cols) = src.dim();
    let src = matrix(ctx, "src", src);
    let dst = stale(ctx, "dst", rows, cols);
    let d = vk::scale(ctx, rows * pad4(cols), s, &src, &dst);
    let out = run(ctx, &[&d], &[(&dst, bytes(rows, cols))]).await?;
    unpad("scale", &out[0], rows, cols)
}

/// `vit_adamw.wgsl` applied to one parameter matrix, once per gradient in `grads`, with
/// `config`'s betas, epsilon and weight decay (its `lr` unused) and step s at learning rate
/// `lrs[s]`, the step count and slot advancing on the GPU (`advance.wgsl`) as in training; the
/// mask applies when given. Returns the parameters.
pub async fn adamw_steps(
    ctx: &GpuContext,
    config: OptimizerConfig,
    lrs: &[f32],
    w: ArrayView2<'_, f32>,
    mask: Option<ArrayView2<'_, f32>>,
    grads: &[Array2<f32>],
) -> Result<Array2<f32>> {
    if lrs.len() != grads.len() {
        return Err(Error::Shape {
            op: "standalone::vit::adamw_steps",
            detail: format!("{} learning rates for {} steps", lrs.len(), grads.len()),
        });
    }
    let (rows, cols) = w.dim();
    let count = rows * pad4(cols);
    let w_buf = matrix(ctx, "w", w);
    let mask_buf = mask.map(|m| matrix(ctx, "mask", m));
    let m1 = zeroed(ctx, "m1", 4 * count);
    let m2 = zeroed(ctx, "m2", 4 * count);
    let state = zeroed(ctx, "state", 16);
    let lrs = with_contents(ctx, "lrs", lrs);
    let g_bufs: Vec<wgpu::Buffer> = grads.iter().map(|g| matrix(ctx, "g", g.view())).collect();
    let s = AdamWSettings {
        beta1: config.beta1,
        beta2: config.beta2,
        eps: config.eps,
        weight_decay: config.weight_decay,
    };
    let mut dispatches = Vec::new();
    for g in &g_bufs {
        dispatches.push(vk::adamw(
            ctx,
            count,
            s,
            (&w_buf, &m1, &m2, g),
            mask_buf.as_ref(),
            g,
            &state,
            &lrs,
        ));
        dispatches.push(kernels::advance(ctx, 1, &state));
    }
    let list: Vec<&Dispatch> = dispatches.iter().collect();
    let out = run(ctx, &list, &[(&w_buf, bytes(rows, cols))]).await?;
    unpad("adamw", &out[0], rows, cols)
}
