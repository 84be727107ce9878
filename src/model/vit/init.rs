//! θ₀ for the ViT, as timm's `VisionTransformer.init_weights(mode='')` leaves it
//! (`init_weights_vit_timm`): `pos_embed` and every `nn.Linear` weight truncated normal with
//! std 0.02, Linear biases 0, LayerNorms at weight 1 and bias 0. The patch embedding is a
//! `Conv2d`, which that function does not touch, so it keeps PyTorch's default
//! `reset_parameters`: kaiming_uniform(a = √5) for the weight and U(±1/√fan_in) for the bias,
//! both U(−1/7, 1/7) for a 1×7×7 kernel.

use ndarray::{Array1, Array2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::Normal;

use super::{LayerNorm, PATCH_PIXELS, TOKENS, Vit, VitConfig};
use crate::model::Layer;

/// timm's `trunc_normal_(std=.02)` cuts at the absolute bounds ±2 (not ±2σ): a no-op at this
/// std, kept so the distribution is exactly the one named.
const TRUNC: f64 = 2.0;
const STD: f64 = 0.02;

/// N(0, std²) truncated to [−2, 2] by resampling.
fn trunc_normal(rows: usize, cols: usize, std: f64, rng: &mut impl Rng) -> Array2<f32> {
    let normal = Normal::new(0.0f64, std).unwrap_or_else(|_| unreachable!("std is positive"));
    Array2::from_shape_simple_fn((rows, cols), || {
        loop {
            let v = rng.sample(normal);
            if (-TRUNC..=TRUNC).contains(&v) {
                break v as f32;
            }
        }
    })
}

/// An `nn.Linear(fan_in, fan_out)` as timm initialises it.
fn linear(fan_out: usize, fan_in: usize, rng: &mut impl Rng) -> Layer {
    Layer {
        weight: trunc_normal(fan_out, fan_in, STD, rng),
        bias: Array1::zeros(fan_out),
        mask: Array2::ones((fan_out, fan_in)),
    }
}

fn layer_norm(dim: usize) -> LayerNorm {
    LayerNorm {
        weight: Array1::ones(dim),
        bias: Array1::zeros(dim),
    }
}

impl Vit {
    /// θ₀ for `seed` (ChaCha8, so the same weights on every platform).
    ///
    /// # Panics
    /// If `config` is invalid ([`VitConfig::validate`]).
    pub fn seeded(config: &VitConfig, seed: u64) -> Self {
        Self::new(config, &mut ChaCha8Rng::seed_from_u64(seed))
    }

    /// A freshly initialised, unpruned ViT. Draws, in order: the patch embedding's weight and
    /// bias, `pos_embed`, each block's qkv, proj, fc1 and fc2 weights, then the head's.
    ///
    /// # Panics
    /// If `config` is invalid ([`VitConfig::validate`]).
    pub fn new(config: &VitConfig, rng: &mut impl Rng) -> Self {
        if let Err(e) = config.validate() {
            panic!("{e}");
        }
        let (dim, hidden) = (config.dim, config.hidden());
        // PyTorch's Conv2d default: kaiming_uniform_(a=√5) gives bound gain·√(3/fan_in) with
        // gain √(2/(1+5)), i.e. 1/√fan_in; the bias bound is 1/√fan_in too.
        let bound = 1.0 / (PATCH_PIXELS as f32).sqrt();
        let mut uniform = |rows, cols| {
            Array2::from_shape_simple_fn((rows, cols), || rng.random_range(-bound..bound))
        };
        let patch_weight = uniform(dim, PATCH_PIXELS);
        let patch_bias = uniform(1, dim).into_shape_with_order(dim).unwrap();
        let mut linears = vec![Layer {
            weight: patch_weight,
            bias: patch_bias,
            mask: Array2::ones((dim, PATCH_PIXELS)),
        }];
        let pos_embed = trunc_normal(TOKENS, dim, STD, rng);
        for _ in 0..config.depth {
            linears.push(linear(3 * dim, dim, rng));
            linears.push(linear(dim, dim, rng));
            linears.push(linear(hidden, dim, rng));
            linears.push(linear(dim, hidden, rng));
        }
        linears.push(linear(super::CLASSES, dim, rng));
        Self {
            config: *config,
            linears,
            pos_embed,
            norm1: vec![layer_norm(dim); config.depth],
            norm2: vec![layer_norm(dim); config.depth],
            fc_norm: layer_norm(dim),
            head_mask: vec![Array1::ones(config.heads); config.depth],
            removed: vec![false; config.depth],
        }
    }
}
