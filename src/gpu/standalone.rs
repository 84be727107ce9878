//! Each kernel run alone on given arrays, through the same binding and dispatch code the trainer
//! uses. The tests compare these against the CPU engine (ndarray), kernel by kernel.

use ndarray::{Array1, Array2, ArrayView2};

use super::GpuContext;
use super::buffers::{
    floats, pad4, padded_rows, padded_vec, read_back, unpadded_rows, with_contents, words, zeroed,
};
use super::kernels::{self, AdamSettings, encode};
use super::sparse::{self, feature_major_bytes};
use crate::error::{Error, Result};
use crate::model::sparse::PackedLayer;
use crate::train::{OptimizerConfig, OptimizerKind};

/// The ViT's kernels, run alone the same way.
#[path = "vit_standalone.rs"]
pub mod vit;

async fn run(
    ctx: &GpuContext,
    list: &[&kernels::Dispatch],
    out: &[(&wgpu::Buffer, u64)],
) -> Result<Vec<Vec<u8>>> {
    ctx.queue.submit([encode(ctx, "standalone kernel", list)]);
    read_back(ctx, out).await
}

/// `forward.wgsl`: `a · wᵀ + b`, then ReLU if asked.
pub async fn forward(
    ctx: &GpuContext,
    a: ArrayView2<'_, f32>,
    w: ArrayView2<'_, f32>,
    b: &Array1<f32>,
    relu: bool,
) -> Result<Array2<f32>> {
    let (m, k, n) = (a.nrows(), a.ncols(), w.nrows());
    let a_buf = with_contents(ctx, "a", &padded_rows(a));
    let w_buf = with_contents(ctx, "w", &padded_rows(w));
    let b_buf = with_contents(ctx, "b", &padded_vec(b));
    let z = zeroed(ctx, "z", 4 * m * pad4(n));
    let d = kernels::forward(ctx, (m, k, n), relu, &a_buf, &w_buf, &b_buf, &z);
    let out = run(ctx, &[&d], &[(&z, (4 * m * pad4(n)) as u64)]).await?;
    Ok(unpadded_rows(&floats(&out[0]), m, n))
}

/// `csr_forward.wgsl` or `nm_forward.wgsl` (as the layer is packed): `x · Wᵀ + b`, then ReLU if
/// asked, for `x: [batch, inputs]` (transposed to the kernels' feature-major layout and back).
pub async fn sparse_forward(
    ctx: &GpuContext,
    x: ArrayView2<'_, f32>,
    layer: &PackedLayer,
    relu: bool,
) -> Result<Array2<f32>> {
    let batch = x.nrows();
    let w = sparse::upload(ctx, layer);
    let x_buf = with_contents(ctx, "x", &padded_rows(x.t()));
    let bytes = feature_major_bytes(w.outputs, batch);
    let z = zeroed(ctx, "z", bytes);
    let d = sparse::forward(ctx, &w, batch, relu, &x_buf, &z);
    let out = run(ctx, &[&d], &[(&z, bytes as u64)]).await?;
    let z = unpadded_rows(&floats(&out[0]), w.outputs, batch);
    Ok(z.t().as_standard_layout().into_owned())
}

/// `backward_input.wgsl`: `(dz · w) ⊙ [a > 0]`, or plain `dz · w` without `relu`.
pub async fn backward_input(
    ctx: &GpuContext,
    dz: ArrayView2<'_, f32>,
    w: ArrayView2<'_, f32>,
    a: ArrayView2<'_, f32>,
    relu: bool,
) -> Result<Array2<f32>> {
    let (m, n, k) = (dz.nrows(), dz.ncols(), w.ncols());
    let dz_buf = with_contents(ctx, "dz", &padded_rows(dz));
    let w_buf = with_contents(ctx, "w", &padded_rows(w));
    let a_buf = with_contents(ctx, "a", &padded_rows(a));
    let da = zeroed(ctx, "da", 4 * m * pad4(k));
    let d = kernels::backward_input(ctx, (m, k, n), relu, &dz_buf, &w_buf, &a_buf, &da);
    let out = run(ctx, &[&d], &[(&da, (4 * m * pad4(k)) as u64)]).await?;
    Ok(unpadded_rows(&floats(&out[0]), m, k))
}

/// `backward_weight.wgsl` and `bias_grad.wgsl`: `(dzᵀ · a, Σ_rows dz)`.
pub async fn weight_and_bias_gradients(
    ctx: &GpuContext,
    dz: ArrayView2<'_, f32>,
    a: ArrayView2<'_, f32>,
) -> Result<(Array2<f32>, Array1<f32>)> {
    let (m, n, k) = (dz.nrows(), dz.ncols(), a.ncols());
    let dz_buf = with_contents(ctx, "dz", &padded_rows(dz));
    let a_buf = with_contents(ctx, "a", &padded_rows(a));
    let gw = zeroed(ctx, "gw", 4 * n * pad4(k));
    let gb = zeroed(ctx, "gb", 4 * pad4(n));
    let d1 = kernels::backward_weight(ctx, (m, k, n), &dz_buf, &a_buf, &gw);
    let d2 = kernels::bias_grad(ctx, (m, n), &dz_buf, &gb);
    let out = run(
        ctx,
        &[&d1, &d2],
        &[(&gw, (4 * n * pad4(k)) as u64), (&gb, (4 * n) as u64)],
    )
    .await?;
    Ok((
        unpadded_rows(&floats(&out[0]), n, k),
        Array1::from(floats(&out[1])),
    ))
}

/// `softmax_xent.wgsl`: the mean loss, the gradient with respect to the logits, and the number
/// of rows predicted right.
pub async fn softmax_cross_entropy(
    ctx: &GpuContext,
    logits: ArrayView2<'_, f32>,
    labels: &[u8],
) -> Result<(f32, Array2<f32>, usize)> {
    let (m, n) = (logits.nrows(), logits.ncols());
    let z = with_contents(ctx, "logits", &padded_rows(logits));
    let y = with_contents(
        ctx,
        "labels",
        &labels.iter().map(|&l| u32::from(l)).collect::<Vec<_>>(),
    );
    let dz = zeroed(ctx, "dz", 4 * m * pad4(n));
    let state = zeroed(ctx, "state", 16);
    let metrics = zeroed(ctx, "metrics", 8 * m);
    let d = kernels::softmax_xent(ctx, (m, n), &z, &y, &dz, &state, &metrics);
    let out = run(
        ctx,
        &[&d],
        &[(&dz, (4 * m * pad4(n)) as u64), (&metrics, (8 * m) as u64)],
    )
    .await?;
    let metrics = floats(&out[1]);
    let loss = metrics
        .iter()
        .step_by(2)
        .map(|&l| f64::from(l))
        .sum::<f64>()
        / m as f64;
    let correct = metrics
        .iter()
        .skip(1)
        .step_by(2)
        .filter(|&&c| c == 1.0)
        .count();
    Ok((loss as f32, unpadded_rows(&floats(&out[0]), m, n), correct))
}

/// `evaluate.wgsl` over one batch: per-row predictions and losses, and the confusion matrix.
pub async fn evaluate_logits(
    ctx: &GpuContext,
    logits: ArrayView2<'_, f32>,
    labels: &[u8],
) -> Result<(Vec<u32>, Vec<f32>, Vec<u32>)> {
    let (m, n) = (logits.nrows(), logits.ncols());
    let z = with_contents(ctx, "logits", &padded_rows(logits));
    let y = with_contents(
        ctx,
        "labels",
        &labels.iter().map(|&l| u32::from(l)).collect::<Vec<_>>(),
    );
    let state = zeroed(ctx, "state", 16);
    let predictions = zeroed(ctx, "predictions", 4 * m);
    let losses = zeroed(ctx, "losses", 4 * m);
    let confusion = zeroed(ctx, "confusion", 4 * n * n);
    let d = kernels::evaluate(
        ctx,
        (m, n, m),
        &z,
        &y,
        &state,
        &predictions,
        &losses,
        &confusion,
    );
    let out = run(
        ctx,
        &[&d],
        &[
            (&predictions, (4 * m) as u64),
            (&losses, (4 * m) as u64),
            (&confusion, (4 * n * n) as u64),
        ],
    )
    .await?;
    Ok((words(&out[0]), floats(&out[1]), words(&out[2])))
}

/// `sgd.wgsl` or `adam.wgsl` applied to one weight matrix with a mask, once per gradient in
/// `grads` (Adam's step count advancing on the GPU as in training).
pub async fn optimizer_steps(
    ctx: &GpuContext,
    config: OptimizerConfig,
    w: ArrayView2<'_, f32>,
    mask: ArrayView2<'_, f32>,
    grads: &[Array2<f32>],
) -> Result<Array2<f32>> {
    if config.kind == OptimizerKind::AdamW {
        return Err(Error::Config(
            "the GPU kernels have no AdamW (its decoupled decay)".into(),
        ));
    }
    let (rows, cols) = w.dim();
    let count = rows * pad4(cols);
    let w_buf = with_contents(ctx, "w", &padded_rows(w));
    let mask_buf = with_contents(ctx, "mask", &padded_rows(mask));
    let m1 = zeroed(ctx, "m1", 4 * count);
    let m2 = zeroed(ctx, "m2", 4 * count);
    let state = zeroed(ctx, "state", 16);
    let g_bufs: Vec<wgpu::Buffer> = grads
        .iter()
        .map(|g| with_contents(ctx, "g", &padded_rows(g.view())))
        .collect();
    let mut dispatches = Vec::new();
    for g in &g_bufs {
        dispatches.push(match config.kind {
            OptimizerKind::Sgd => kernels::sgd(
                ctx,
                count,
                (config.lr, config.momentum),
                &w_buf,
                &m1,
                g,
                Some(&mask_buf),
                &mask_buf,
            ),
            OptimizerKind::Adam | OptimizerKind::AdamW => {
                let s = AdamSettings {
                    lr: config.lr,
                    beta1: config.beta1,
                    beta2: config.beta2,
                    eps: config.eps,
                };
                kernels::adam(
                    ctx,
                    count,
                    s,
                    (&w_buf, &m1, &m2, g),
                    Some(&mask_buf),
                    &mask_buf,
                    &state,
                )
            }
        });
        dispatches.push(kernels::advance(ctx, 1, &state));
    }
    let list: Vec<&kernels::Dispatch> = dispatches.iter().collect();
    let out = run(ctx, &list, &[(&w_buf, (4 * count) as u64)]).await?;
    Ok(unpadded_rows(&floats(&out[0]), rows, cols))
}
