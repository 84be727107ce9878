//! Weight initialisation.

use ndarray::Array2;
use rand::Rng;
use rand_distr::Normal;
use serde::{Deserialize, Serialize};

/// How weights are drawn; biases always start at 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Init {
    /// Gaussian Glorot (Glorot & Bengio 2010): N(0, 2 / (fan_in + fan_out)), the initialisation of
    /// the lottery-ticket paper's LeNet experiments.
    #[default]
    Glorot,
    /// Kaiming / He (He et al. 2015): N(0, 2 / fan_in), made for ReLU networks.
    Kaiming,
}

impl Init {
    /// A `[fan_out, fan_in]` weight matrix.
    pub fn weights(self, fan_out: usize, fan_in: usize, rng: &mut impl Rng) -> Array2<f32> {
        let variance = match self {
            Init::Glorot => 2.0 / (fan_in + fan_out) as f64,
            Init::Kaiming => 2.0 / fan_in as f64,
        };
        // The standard deviation is finite and positive for any non-zero fan, which
        // `Architecture` guarantees, so `Normal::new` cannot fail here.
        let normal = Normal::new(0.0f64, variance.sqrt()).unwrap_or_else(|_| unreachable!());
        Array2::from_shape_simple_fn((fan_out, fan_in), || rng.sample(normal) as f32)
    }
}

impl std::str::FromStr for Init {
    type Err = crate::Error;
    fn from_str(s: &str) -> Result<Self, crate::Error> {
        match s {
            "glorot" => Ok(Init::Glorot),
            "kaiming" => Ok(Init::Kaiming),
            other => Err(crate::Error::Config(format!(
                "unknown initialisation {other:?} (use glorot or kaiming)"
            ))),
        }
    }
}
