//! The backward pass against central finite differences of the loss.

mod common;

use ndarray::Array2;
use pruneplay::model::{Architecture, Init, Mlp, softmax_cross_entropy};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn loss(model: &Mlp, x: &Array2<f32>, y: &[u8]) -> f64 {
    f64::from(softmax_cross_entropy(&model.logits(x.view()), y).0)
}

#[test]
fn backward_matches_finite_differences() {
    let arch: Architecture = "6-5-4-3".parse().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut model = Mlp::new(&arch, Init::Kaiming, &mut rng);
    for layer in model.layers_mut() {
        layer.bias.mapv_inplace(|_| rng.random_range(-0.1..0.1));
    }
    let x = Array2::from_shape_simple_fn((7, 6), || rng.random_range(-1.0f32..1.0));
    let y = [0u8, 1, 2, 0, 1, 2, 2];

    let acts = model.forward(x.view());
    let (_, d_logits) = softmax_cross_entropy(&acts.logits, &y);
    let grads = model.backward(&acts, d_logits);

    // f32 loss, h = 1e-3: rounding error ≈ 1e-7 / 1e-3 = 1e-4, truncation O(h²).
    let h = 1e-3f32;
    let tolerance = |analytic: f64| 2e-3 + 2e-2 * analytic.abs();
    let mut checked = 0;
    for l in 0..model.layers().len() {
        let (rows, cols) = model.layers()[l].weight.dim();
        for r in 0..rows {
            for c in 0..cols {
                let mut plus = model.clone();
                plus.layers_mut()[l].weight[[r, c]] += h;
                let mut minus = model.clone();
                minus.layers_mut()[l].weight[[r, c]] -= h;
                let numeric = (loss(&plus, &x, &y) - loss(&minus, &x, &y)) / (2.0 * f64::from(h));
                let analytic = f64::from(grads.weight[l][[r, c]]);
                assert!(
                    (numeric - analytic).abs() <= tolerance(analytic),
                    "layer {l} weight [{r},{c}]: numeric {numeric}, analytic {analytic}"
                );
                checked += 1;
            }
            let mut plus = model.clone();
            plus.layers_mut()[l].bias[r] += h;
            let mut minus = model.clone();
            minus.layers_mut()[l].bias[r] -= h;
            let numeric = (loss(&plus, &x, &y) - loss(&minus, &x, &y)) / (2.0 * f64::from(h));
            let analytic = f64::from(grads.bias[l][r]);
            assert!(
                (numeric - analytic).abs() <= tolerance(analytic),
                "layer {l} bias [{r}]: numeric {numeric}, analytic {analytic}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 30 + 20 + 12 + 5 + 4 + 3);
}

#[test]
fn cross_entropy_is_stable_for_large_logits() {
    let logits =
        Array2::from_shape_vec((2, 3), vec![1000.0, 0.0, -1000.0, -500.0, 500.0, 0.0]).unwrap();
    let (loss, grad) = softmax_cross_entropy(&logits, &[2, 1]);
    // Sample 0 puts the true class 2000 below the best: loss 2000 / 2; sample 1 is right: 0.
    assert!((loss - 1000.0).abs() < 1e-3, "{loss}");
    assert!(grad.iter().all(|g| g.is_finite()));
    // Each row of the gradient sums to zero (softmax sums to one, minus the one-hot).
    for row in grad.rows() {
        assert!(row.sum().abs() < 1e-6);
    }
}
