//! Unit tests of the ViT's pieces; the whole model is checked against finite differences and
//! timm's semantics in `tests/vit_gradients.rs`.

use ndarray::{Array1, Array2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::attention::{self, Dims};
use super::{LayerNorm, TOKENS, buffers, gelu, layer_norm, parallel};

fn random(rows: usize, cols: usize, seed: u64) -> Array2<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Array2::from_shape_simple_fn((rows, cols), || rng.random_range(-1.0f32..1.0))
}

#[test]
fn parts_cover_the_work_in_order() {
    for items in [0, 1, 2, 3, 17, 128] {
        let b = parallel::bounds(items);
        assert_eq!((b[0], *b.last().unwrap()), (0, items));
        assert!(b.windows(2).all(|w| w[0] <= w[1]));
        let mut data: Vec<usize> = vec![0; items * 3];
        let parts = parallel::split(&mut data, &b, 3);
        assert_eq!(parts.len(), b.len() - 1);
        let firsts = parallel::run(
            parts.into_iter().zip(b.windows(2)).collect(),
            |(part, w)| {
                for (i, v) in part.iter_mut().enumerate() {
                    *v = w[0] * 3 + i;
                }
                w[0]
            },
        );
        assert_eq!(firsts, b[..b.len() - 1]);
        assert!(data.iter().enumerate().all(|(i, &v)| i == v));
    }
}

#[test]
fn recycled_buffers_come_back_zeroed() {
    let mut v = buffers::zeroed(10_000);
    v.iter_mut().for_each(|x| *x = 3.0);
    buffers::recycle(v);
    let w = buffers::zeroed(9_000);
    assert_eq!(w.len(), 9_000);
    assert!(w.iter().all(|&x| x == 0.0));
}

#[test]
fn gelu_is_the_erf_form_and_its_derivative_matches() {
    let z: Vec<f32> = (-40..=40).map(|i| i as f32 * 0.1).collect();
    let (g, cdf) = gelu::forward(&z);
    // GELU(1) = Φ(1) = 0.841344746…, GELU(−1) = −(1 − Φ(1)).
    assert!((g[50] - 0.841_344_7).abs() < 1e-6);
    assert!((g[30] + 0.158_655_3).abs() < 1e-6);
    let mut dg = vec![1.0f32; z.len()];
    gelu::backward(&mut dg, &z, &cdf);
    let h = 1e-3f32;
    for (i, &v) in z.iter().enumerate() {
        let (p, m) = (gelu::forward(&[v + h]).0[0], gelu::forward(&[v - h]).0[0]);
        let numeric = (p - m) / (2.0 * h);
        assert!(
            (numeric - dg[i]).abs() < 2e-3,
            "z {v}: {numeric} vs {}",
            dg[i]
        );
    }
}

#[test]
fn layer_norm_normalises_and_its_backward_matches() {
    let x = random(5, 8, 1) * 3.0;
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let ln = LayerNorm {
        weight: Array1::from_shape_simple_fn(8, || rng.random_range(0.5f32..1.5)),
        bias: Array1::from_shape_simple_fn(8, || rng.random_range(-0.5f32..0.5)),
    };
    let (_, cache) = layer_norm::forward(&x, &ln);
    for row in cache.xhat.rows() {
        let mean = row.mean().unwrap();
        let var = row.mapv(|v| (v - mean).powi(2)).mean().unwrap();
        assert!(
            mean.abs() < 1e-6 && (var - 1.0).abs() < 1e-4,
            "{mean} {var}"
        );
    }
    // L = Σ y ⊙ r for a fixed random r, so ∂L/∂y = r.
    let r = random(5, 8, 3);
    let loss = |x: &Array2<f32>, ln: &LayerNorm| (layer_norm::forward(x, ln).0 * &r).sum();
    let mut dx = Array2::zeros((5, 8));
    let (dw, db) = layer_norm::backward(&r, &cache, &ln, &mut dx);
    let h = 1e-2f32;
    for i in 0..5 {
        for j in 0..8 {
            let (mut p, mut m) = (x.clone(), x.clone());
            p[[i, j]] += h;
            m[[i, j]] -= h;
            let numeric = (loss(&p, &ln) - loss(&m, &ln)) / (2.0 * h);
            assert!((numeric - dx[[i, j]]).abs() < 2e-3, "dx[{i},{j}]");
        }
    }
    for j in 0..8 {
        let (mut p, mut m) = (ln.clone(), ln.clone());
        p.weight[j] += h;
        m.weight[j] -= h;
        let numeric = (loss(&x, &p) - loss(&x, &m)) / (2.0 * h);
        assert!((numeric - dw[j]).abs() < 2e-3, "dw[{j}]");
        let (mut p, mut m) = (ln.clone(), ln.clone());
        p.bias[j] += h;
        m.bias[j] -= h;
        let numeric = (loss(&x, &p) - loss(&x, &m)) / (2.0 * h);
        assert!((numeric - db[j]).abs() < 2e-3, "db[{j}]");
    }
}

#[test]
fn attention_rows_are_distributions_and_gates_scale_heads() {
    let dims = Dims {
        images: 3,
        heads: 2,
        head_dim: 4,
    };
    let qkv = random(3 * TOKENS, 3 * 8, 4) * 2.0;
    let att = attention::forward(qkv.as_slice().unwrap(), dims, &[0.5, 0.0]);
    for row in att.probs.chunks_exact(TOKENS) {
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        assert!(row.iter().all(|&p| p > 0.0));
    }
    for (r, (o, g)) in att
        .heads
        .chunks_exact(8)
        .zip(att.gated.chunks_exact(8))
        .enumerate()
    {
        for j in 0..4 {
            assert_eq!(g[j], 0.5 * o[j], "row {r}");
            assert_eq!(g[4 + j], 0.0);
        }
    }
    // Each head's output is a convex mix of its values: within their range.
    let v_min = qkv
        .column(16)
        .iter()
        .take(TOKENS)
        .cloned()
        .fold(f32::MAX, f32::min);
    let v_max = qkv
        .column(16)
        .iter()
        .take(TOKENS)
        .cloned()
        .fold(f32::MIN, f32::max);
    for t in 0..TOKENS {
        let o = att.heads[t * 8];
        assert!(o >= v_min - 1e-6 && o <= v_max + 1e-6);
    }
}
