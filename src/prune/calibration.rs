//! Calibration data: the samples data-aware methods (Taylor, Wanda, SparseGPT) look at, and the
//! inputs each layer sees when they flow through a (possibly already pruned) model.

use ndarray::Array2;

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::model::Network;

/// Calibration samples used by default, as in the Wanda and SparseGPT papers.
pub const DEFAULT_SAMPLES: usize = 128;

/// Images (scaled to [0, 1]) and labels of the calibration set.
#[derive(Debug, Clone)]
pub struct Calibration {
    pub x: Array2<f32>,
    pub y: Vec<u8>,
}

impl Calibration {
    /// The first `samples` images of `data` (the training split: calibration never sees test
    /// images).
    pub fn from_dataset(data: &Dataset, samples: usize) -> Result<Self> {
        if samples == 0 {
            return Err(Error::Config(
                "calibration size 0: at least one sample is needed".into(),
            ));
        }
        if samples > data.len() {
            return Err(Error::Config(format!(
                "calibration size {samples} is larger than the {} samples available",
                data.len()
            )));
        }
        let (x, y) = data.batch(0, samples);
        Ok(Self { x, y: y.to_vec() })
    }

    /// What linear layer `layer` of `model` sees for the calibration samples: one row per
    /// sample for an MLP (the images for layer 0, else the previous layer's ReLU output), one per
    /// token inside a ViT.
    pub fn layer_inputs(&self, model: &impl Network, layer: usize) -> Array2<f32> {
        model.linear_inputs(self.x.view(), layer)
    }
}
