//! Every ViT kernel (`src/gpu/vit_kernels.rs`) on a real wgpu device (lavapipe natively) against
//! the CPU engine's ndarray code in `model::vit`, on shapes that are not multiples of 4 (dim 30,
//! head_dim 5, 6 and 20, 1 and 3 heads), several images, and the shipped size (D 64, 4 heads of
//! 16, 128 images = 2048 token rows). The standalone runners also check that every kernel leaves
//! the padding columns at +0 and overwrites what it must (its outputs start non-zero).
//!
//! Tolerances, each `|gpu − cpu| ≤ atol + rtol·|cpu|`, are stated where they are used. Where the
//! GPU adds the same terms in the same order as the CPU (gather, position embedding, mean pool,
//! axpy) they are at the level of one rounding; sums the GPU splits into vec4 lanes or tree
//! reductions differ by rounding, about 1e-7 relative per term added; GELU differs by its erfc
//! approximation (below 1e-7 in Φ) and the GPU's `exp`. A wrong index is off by O(1), far outside
//! every tolerance. The worst error of each comparison is printed (`--nocapture`).

mod common;

use common::{assert_close, flat, gpu, random};
use ndarray::{Array1, Array2, Axis, s};
use pruneplay::gpu::standalone::vit;
use pruneplay::model::vit::reference::{self, Dims};
use pruneplay::model::vit::{PIXELS, TOKENS};
use pruneplay::model::{Gradients, Layer, LayerNorm, Mlp, Vit};
use pruneplay::train::{Optimizer, OptimizerConfig};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// `assert_close`, after printing the worst absolute error.
fn check(actual: &[f32], expected: &[f32], atol: f32, rtol: f32, what: &str) {
    let worst = actual
        .iter()
        .zip(expected)
        .map(|(a, e)| (a - e).abs())
        .fold(0.0f32, f32::max);
    eprintln!("{what}: max |gpu − cpu| = {worst:.3e}");
    assert_close(actual, expected, atol, rtol, what);
}

/// (images, dim): odd widths, one image, and the shipped size.
const WIDTHS: [(usize, usize); 4] = [(3, 30), (1, 5), (5, 64), (128, 64)];

#[test]
fn patch_gather_matches_reference() {
    let Some((_turn, ctx)) = gpu() else { return };
    let n = 9;
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let pixels: Vec<u8> = (0..n * PIXELS).map(|_| rng.random()).collect();
    let labels: Vec<u8> = (0..n).map(|_| rng.random_range(0..10)).collect();
    let order: Vec<u32> = vec![4, 0, 8, 2, 7, 1, 3, 6, 5];
    let (cursor, batch) = (2, 5);
    let (x, y) = pollster::block_on(vit::patch_gather(
        ctx, &pixels, &labels, &order, cursor, batch,
    ))
    .unwrap();
    // The CPU engine's batch: pixels × (1/255), rows in order, then cut into patches.
    let images = Array2::from_shape_fn((batch, PIXELS), |(b, f)| {
        let sample = order[cursor + b] as usize;
        f32::from(pixels[sample * PIXELS + f]) * (1.0 / 255.0)
    });
    let expected = Vit::patches(images.view());
    // The same product of the same two numbers: exact.
    check(&flat(&x), &flat(&expected), 0.0, 0.0, "patch gather");
    let expected_y: Vec<u32> = order[cursor..cursor + batch]
        .iter()
        .map(|&s| u32::from(labels[s as usize]))
        .collect();
    assert_eq!(y, expected_y);
}

#[test]
fn position_embedding_and_its_gradient_match_reference() {
    let Some((_turn, ctx)) = gpu() else { return };
    for (i, &(images, dim)) in WIDTHS.iter().enumerate() {
        let rows = images * TOKENS;
        let h = random(rows, dim, 10 + i as u64);
        let pos = random(TOKENS, dim, 20 + i as u64);
        let got = pollster::block_on(vit::add_pos_embed(ctx, h.view(), pos.view())).unwrap();
        // As `Vit::embed` adds it.
        let mut expected = h.clone();
        for mut img in expected.exact_chunks_mut((TOKENS, dim)) {
            img += &pos;
        }
        // One addition: exact.
        check(
            &flat(&got),
            &flat(&expected),
            0.0,
            0.0,
            &format!("pos_embed {rows}×{dim}"),
        );

        let dx = random(rows, dim, 30 + i as u64);
        let got = pollster::block_on(vit::pos_embed_grad(ctx, dx.view())).unwrap();
        // As `Vit::backward` sums it, image by image.
        let mut expected = Array2::<f32>::zeros((TOKENS, dim));
        for img in dx.exact_chunks((TOKENS, dim)) {
            expected += &img;
        }
        // The same additions in the same order; 1e-6 relative allows one rounding of slack.
        check(
            &flat(&got),
            &flat(&expected),
            1e-6,
            1e-6,
            &format!("pos_embed grad {rows}×{dim}"),
        );
    }
}

fn layer_norm(dim: usize, seed: u64) -> LayerNorm {
    LayerNorm {
        weight: Array1::from(flat(&random(1, dim, seed))) + 1.0,
        bias: Array1::from(flat(&random(1, dim, seed + 1))),
    }
}

#[test]
fn layer_norm_forward_matches_reference() {
    let Some((_turn, ctx)) = gpu() else { return };
    for (i, &(images, dim)) in WIDTHS.iter().enumerate() {
        let rows = images * TOKENS;
        // Rows with a mean far from 0 and a spread far from 1, as the residual stream has.
        let x = random(rows, dim, 40 + i as u64) * 3.0 + 0.7;
        let ln = layer_norm(dim, 50 + i as u64);
        let (y, cache) = reference::layer_norm_forward(&x, &ln);
        let (gy, gxhat, grstd) =
            pollster::block_on(vit::layer_norm_forward(ctx, x.view(), &ln)).unwrap();
        // The sums over a row run in four vec4 lanes: a few roundings of O(1) values, ~1e-6.
        let what = format!("layer norm {rows}×{dim}");
        check(
            &flat(&gxhat),
            &flat(&cache.xhat),
            1e-5,
            1e-5,
            &format!("{what} x̂"),
        );
        check(&flat(&gy), &flat(&y), 1e-5, 1e-5, &format!("{what} y"));
        check(&grstd, &cache.rstd, 0.0, 1e-5, &format!("{what} 1/σ"));
    }
}

#[test]
fn layer_norm_backward_matches_reference() {
    let Some((_turn, ctx)) = gpu() else { return };
    for (i, &(images, dim)) in WIDTHS.iter().enumerate() {
        let rows = images * TOKENS;
        let x = random(rows, dim, 60 + i as u64) * 3.0 + 0.7;
        let ln = layer_norm(dim, 70 + i as u64);
        let (_, cache) = reference::layer_norm_forward(&x, &ln);
        let dy = random(rows, dim, 80 + i as u64);
        // The residual gradient the input gradient is added to.
        let dx0 = random(rows, dim, 90 + i as u64);
        let mut dx = dx0.clone();
        let (dw, db) = reference::layer_norm_backward(&dy, &cache, &ln, &mut dx);
        let (gdx, gdw, gdb) = pollster::block_on(vit::layer_norm_backward(
            ctx,
            dy.view(),
            cache.xhat.view(),
            &cache.rstd,
            &ln.weight,
            dx0.view(),
        ))
        .unwrap();
        let what = format!("layer norm backward {rows}×{dim}");
        // Per row as in the forward pass, times 1/σ ≈ 1/3: ~1e-6.
        check(&flat(&gdx), &flat(&dx), 1e-5, 1e-5, &format!("{what} dx"));
        // Column sums over up to 2048 rows, the GPU's in 128 strided partial sums and a tree,
        // the CPU's in one line per thread: each rounds ~2048 additions of partial sums up to
        // ~50 (ulp ~4e-6), so they differ by several ulp of the result (5e-5 seen at 2048 rows).
        // 2e-4 absolute leaves four times that; a wrong row or column is off by O(1).
        check(
            &gdw.to_vec(),
            &dw.to_vec(),
            2e-4,
            1e-5,
            &format!("{what} dweight"),
        );
        check(
            &gdb.to_vec(),
            &db.to_vec(),
            2e-4,
            1e-5,
            &format!("{what} dbias"),
        );
    }
}

/// GELU inputs: uniform in [-6, 6) plus exact 0 and values deep in both tails.
fn gelu_inputs(rows: usize, cols: usize, seed: u64) -> Array2<f32> {
    let mut pre = random(rows, cols, seed) * 6.0;
    let special = [0.0, -0.0, 1e-4, -1e-4, 9.0, -9.0, 20.0, -20.0, 1e-30];
    for (v, &s) in pre.iter_mut().zip(&special) {
        *v = s;
    }
    pre
}

#[test]
fn gelu_matches_reference() {
    let Some((_turn, ctx)) = gpu() else { return };
    for (i, &(rows, cols)) in [(37, 30), (16, 5), (2048, 128)].iter().enumerate() {
        let pre = gelu_inputs(rows, cols, 100 + i as u64);
        let (act, cdf) = reference::gelu_forward(pre.as_slice().unwrap());
        let got = pollster::block_on(vit::gelu_forward(ctx, pre.view())).unwrap();
        // GELU(x) = x·Φ(x) with Φ off by < 2e-7 (erfc approximation and f32 rounding): at most
        // |x|·2e-7 ≈ 1.2e-6 for |x| ≤ 6, plus relative rounding.
        check(
            &flat(&got),
            &act,
            2e-6,
            1e-6,
            &format!("GELU {rows}×{cols}"),
        );
        assert_eq!(got[[0, 0]].to_bits(), 0, "GELU(0) is +0");

        let d = random(rows, cols, 110 + i as u64);
        let mut expected = flat(&d);
        reference::gelu_backward(&mut expected, pre.as_slice().unwrap(), &cdf);
        let got = pollster::block_on(vit::gelu_backward(ctx, pre.view(), d.view())).unwrap();
        // d·(Φ + x·φ): Φ as above, x·φ(x) through the GPU's exp (a few ulp relative).
        check(
            &flat(&got),
            &expected,
            2e-6,
            1e-5,
            &format!("GELU backward {rows}×{cols}"),
        );
    }
}

/// (images, heads, head_dim, coef): non-multiples of 4, one and three heads, a head_dim over
/// two 16-channel chunks, masked heads (coef 0) and gates other than 1, and the shipped size.
fn attention_cases() -> Vec<(usize, usize, usize, Vec<f32>)> {
    vec![
        (3, 1, 5, vec![1.0]),
        (5, 3, 6, vec![1.0, 0.0, 0.7]),
        (2, 2, 20, vec![1.3, 1.0]),
        (1, 3, 16, vec![0.0, 1.0, 1.0]),
        (128, 4, 16, vec![1.0, 1.0, 0.0, 1.0]),
    ]
}

/// qkv rows with entries in [-2, 2), so attention is far from uniform.
fn qkv_for(images: usize, heads: usize, head_dim: usize, seed: u64) -> Array2<f32> {
    random(images * TOKENS, 3 * heads * head_dim, seed) * 2.0
}

#[test]
fn attention_forward_matches_reference() {
    let Some((_turn, ctx)) = gpu() else { return };
    for (i, (images, heads, head_dim, coef)) in attention_cases().into_iter().enumerate() {
        let qkv = qkv_for(images, heads, head_dim, 120 + i as u64);
        let dims = Dims {
            images,
            heads,
            head_dim,
        };
        let f = reference::attention_forward(qkv.as_slice().unwrap(), dims, &coef);
        let (out, gated, probs) = pollster::block_on(vit::attention_forward(
            ctx,
            qkv.view(),
            heads,
            head_dim,
            &coef,
        ))
        .unwrap();
        let what = format!("attention {images} images × {heads} heads of {head_dim}");
        // Scores are summed in the CPU's order; only the softmax's sum and the GPU's exp
        // differ, a few roundings of probabilities ≤ 1, and O sums 16 of them times |v| < 2.
        check(&probs, &f.probs, 1e-6, 1e-5, &format!("{what}: P"));
        check(&flat(&out), &f.heads, 1e-5, 1e-5, &format!("{what}: O"));
        check(
            &flat(&gated),
            &f.gated,
            1e-5,
            1e-5,
            &format!("{what}: gated O"),
        );
    }
}

#[test]
fn attention_backward_matches_reference() {
    let Some((_turn, ctx)) = gpu() else { return };
    for (i, (images, heads, head_dim, coef)) in attention_cases().into_iter().enumerate() {
        let qkv = qkv_for(images, heads, head_dim, 130 + i as u64);
        let dims = Dims {
            images,
            heads,
            head_dim,
        };
        let f = reference::attention_forward(qkv.as_slice().unwrap(), dims, &coef);
        let d_gated = random(images * TOKENS, heads * head_dim, 140 + i as u64);
        let b = reference::attention_backward(
            qkv.as_slice().unwrap(),
            &f.heads,
            &f.probs,
            d_gated.as_slice().unwrap(),
            dims,
            &coef,
        );
        let got = pollster::block_on(vit::attention_backward(
            ctx,
            qkv.view(),
            &f.probs,
            d_gated.view(),
            heads,
            head_dim,
            &coef,
        ))
        .unwrap();
        let what = format!("attention backward {images} images × {heads} heads of {head_dim}");
        // Every sum in the CPU's order but rowsum(P ⊙ dP); dP and the gradients are sums of
        // 16–20 products of O(1) values (up to ~10): 1e-5 absolute is tens of roundings.
        check(&flat(&got), &b.dqkv, 1e-5, 1e-4, &format!("{what}: dqkv"));
        // A masked head's q, k and v columns are exactly +0.
        let dim = heads * head_dim;
        for (h, _) in coef.iter().enumerate().filter(|(_, c)| **c == 0.0) {
            for chunk in 0..3 {
                let cols = chunk * dim + h * head_dim..chunk * dim + (h + 1) * head_dim;
                assert!(
                    got.slice(s![.., cols]).iter().all(|v| v.to_bits() == 0),
                    "{what}: masked head {h} has a non-zero gradient"
                );
            }
        }
    }
}

#[test]
fn mean_pool_and_its_gradient_match_reference() {
    let Some((_turn, ctx)) = gpu() else { return };
    for (i, &(images, dim)) in WIDTHS.iter().enumerate() {
        let h = random(images * TOKENS, dim, 150 + i as u64);
        let got = pollster::block_on(vit::mean_pool_forward(ctx, h.view())).unwrap();
        // As `Vit::classify` pools: the token rows added in order, then × 1/16.
        let mut expected = Array2::<f32>::zeros((images, dim));
        for (mut p, img) in expected
            .rows_mut()
            .into_iter()
            .zip(h.exact_chunks((TOKENS, dim)))
        {
            for tok in img.rows() {
                p += &tok;
            }
            p *= 1.0 / TOKENS as f32;
        }
        // The same operations in the same order: one rounding of slack.
        check(
            &flat(&got),
            &flat(&expected),
            1e-7,
            1e-6,
            &format!("mean pool {images}×{dim}"),
        );

        let d_pooled = random(images, dim, 160 + i as u64);
        let got = pollster::block_on(vit::mean_pool_backward(ctx, d_pooled.view())).unwrap();
        // As `Vit::backward` spreads it (0 + d/16·…: one exact product by a power of two).
        let expected = Array2::from_shape_fn((images * TOKENS, dim), |(r, c)| {
            d_pooled[[r / TOKENS, c]] * (1.0 / TOKENS as f32)
        });
        check(
            &flat(&got),
            &flat(&expected),
            0.0,
            0.0,
            &format!("mean pool backward {images}×{dim}"),
        );
    }
}

#[test]
fn axpy_and_scale_match_reference() {
    let Some((_turn, ctx)) = gpu() else { return };
    for (i, &(rows, cols)) in [(37, 30), (2048, 64)].iter().enumerate() {
        let y = random(rows, cols, 170 + i as u64);
        let h = random(rows, cols, 180 + i as u64);
        for s in [1.0f32, 0.37, 0.0] {
            let got = pollster::block_on(vit::axpy(ctx, s, y.view(), h.view())).unwrap();
            let mut expected = h.clone();
            expected.scaled_add(s, &y);
            // One product and one sum (perhaps fused on the GPU): one rounding of slack.
            check(
                &flat(&got),
                &flat(&expected),
                1e-7,
                1e-6,
                &format!("axpy s={s}"),
            );
            let got = pollster::block_on(vit::scale(ctx, s, y.view())).unwrap();
            check(
                &flat(&got),
                &flat(&(&y * s)),
                0.0,
                0.0,
                &format!("scale s={s}"),
            );
        }
    }
}

#[test]
fn adamw_matches_reference() {
    let Some((_turn, ctx)) = gpu() else { return };
    let (rows, cols) = (13, 30);
    let config = OptimizerConfig {
        weight_decay: 0.05,
        ..OptimizerConfig::adamw()
    };
    // A schedule: a different learning rate every step, as warmup and cosine decay give.
    let lrs = [1e-2f32, 2e-2, 5e-3, 3e-2, 1e-3];
    let w = random(rows, cols, 190);
    let bias = Array1::from(flat(&random(1, rows, 191)));
    let mask = random(rows, cols, 192).mapv(|v| if v > -0.3 { 1.0 } else { 0.0 });
    let grads: Vec<Array2<f32>> = (0..lrs.len() as u64)
        .map(|s| random(rows, cols, 200 + s))
        .collect();
    let bias_grads: Vec<Array2<f32>> = (0..lrs.len() as u64)
        .map(|s| random(1, rows, 210 + s))
        .collect();

    // The CPU optimizer on a one-layer model: the weight decayed and masked, the bias neither.
    let layer = Layer {
        weight: w.clone(),
        bias: bias.clone(),
        mask: mask.clone(),
    };
    let mut model = Mlp::from_layers(vec![layer]).unwrap();
    let mut optimizer = Optimizer::new(config, &model);
    for ((g, gb), &lr) in grads.iter().zip(&bias_grads).zip(&lrs) {
        optimizer.set_lr(lr);
        let grads = Gradients {
            weight: vec![g.clone()],
            bias: vec![gb.row(0).to_owned()],
            other: Vec::new(),
        };
        optimizer.step(&mut model, &grads);
    }
    let expected = &model.layers()[0];

    let got_w = pollster::block_on(vit::adamw_steps(
        ctx,
        config,
        &lrs,
        w.view(),
        Some(mask.view()),
        &grads,
    ))
    .unwrap();
    let no_decay = OptimizerConfig {
        weight_decay: 0.0,
        ..config
    };
    let got_b = pollster::block_on(vit::adamw_steps(
        ctx,
        no_decay,
        &lrs,
        bias.view().insert_axis(Axis(0)),
        None,
        &bias_grads,
    ))
    .unwrap();
    // The same operations as the CPU's (β^t by the same repeated squaring as `powi`): equal on
    // lavapipe; a GPU whose sqrt or division is not correctly rounded may differ in the last
    // bits, and 1e-6 absolute is 0.1% of a step at lr ≥ 1e-3.
    check(
        &flat(&got_w),
        &flat(&expected.weight),
        1e-6,
        1e-5,
        "AdamW weight",
    );
    check(
        &flat(&got_b),
        &expected.bias.to_vec(),
        1e-6,
        1e-5,
        "AdamW bias",
    );
    for (g, &m) in got_w.iter().zip(&mask) {
        if m == 0.0 {
            assert_eq!(g.to_bits(), 0, "a pruned weight is +0");
        }
    }
}
