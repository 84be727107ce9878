//! The arms of a round: the winning ticket and the paper's two controls, and the weights each one
//! starts from.
//!
//! - ticket: the round's mask over the rewind point, θ₀ (k = 0) or θ_k, the weights after k
//!   iterations of the first (dense) run;
//! - reinit: the same mask over θ₀′, a fresh draw of the initialisation (Frankle & Carbin's
//!   "randomly reinitialised" control);
//! - random-mask: a uniformly random mask with the ticket's number of weights in every layer, over
//!   the rewind point (their "random pruning" control).
//!
//! Randomness comes from ChaCha streams of the experiment's seed, so nothing here coincides with
//! another seed's weights or data order: stream 0 is θ₀, 1 the data order (see
//! [`crate::train::BatchOrder`]), [`REINIT_STREAM`] θ₀′, and [`RANDOM_MASK_STREAM`] + round the
//! random masks.

use std::fmt;
use std::str::FromStr;

use ndarray::Array2;
use rand::SeedableRng;
use rand::seq::index::sample;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::{Architecture, Init, Mlp};

/// ChaCha stream of the seed that draws θ₀′ for the reinit control.
pub const REINIT_STREAM: u64 = 2;

/// First ChaCha stream of the seed for random masks; round r uses this + r.
pub const RANDOM_MASK_STREAM: u64 = 1 << 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Arm {
    Ticket,
    Reinit,
    RandomMask,
}

impl Arm {
    /// The controls, in the order a round runs them (after the ticket).
    pub const CONTROLS: [Arm; 2] = [Arm::Reinit, Arm::RandomMask];

    pub fn name(self) -> &'static str {
        match self {
            Arm::Ticket => "ticket",
            Arm::Reinit => "reinit",
            Arm::RandomMask => "random-mask",
        }
    }
}

impl fmt::Display for Arm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Arm {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "ticket" => Ok(Arm::Ticket),
            "reinit" => Ok(Arm::Reinit),
            "random-mask" => Ok(Arm::RandomMask),
            other => Err(Error::Config(format!(
                "unknown arm {other:?} (the controls are reinit and random-mask)"
            ))),
        }
    }
}

/// `theta` with `masks` applied: pruned weights become +0.0, kept weights and all biases are
/// `theta`'s bit for bit.
pub fn masked(theta: &Mlp, masks: &[Array2<f32>]) -> Result<Mlp> {
    if masks.len() != theta.layers().len() {
        return Err(Error::Shape {
            op: "lottery::masked",
            detail: format!(
                "{} masks for a model with {} layers",
                masks.len(),
                theta.layers().len()
            ),
        });
    }
    let mut model = theta.clone();
    for (layer, mask) in model.layers_mut().iter_mut().zip(masks) {
        layer.set_mask(mask.clone())?;
    }
    Ok(model)
}

/// θ₀′ for the reinit control: the experiment's initialisation drawn again from another stream.
pub fn reinit_weights(arch: &Architecture, init: Init, seed: u64) -> Mlp {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(REINIT_STREAM);
    Mlp::new(arch, init, &mut rng)
}

/// Uniformly random masks keeping, in every layer, as many weights as `masks` keeps there; the
/// same `seed` and `round` always give the same masks.
pub fn random_masks(masks: &[Array2<f32>], seed: u64, round: u32) -> Vec<Array2<f32>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(RANDOM_MASK_STREAM + u64::from(round));
    masks
        .iter()
        .map(|m| {
            let kept = m.iter().filter(|&&v| v != 0.0).count();
            let mut flat = vec![0.0f32; m.len()];
            for i in sample(&mut rng, m.len(), kept) {
                flat[i] = 1.0;
            }
            Array2::from_shape_vec(m.dim(), flat).unwrap_or_else(|_| m.clone())
        })
        .collect()
}
