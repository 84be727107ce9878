//! Compaction: turning neuron-pruned masks into a smaller dense model with the same outputs.
//!
//! A hidden neuron whose incoming weights are all masked outputs the constant ReLU(b_j). Its
//! effect on the next layer, W_next[:, j] · ReLU(b_j), is folded into the next layer's biases;
//! then row j of W, b_j and column j of W_next are deleted. The result computes exactly what the
//! masked model computed (up to float rounding of the folded bias), with fewer parameters and
//! less work: the speed-up that unstructured masks cannot give.

use ndarray::{Array1, Axis};

use crate::error::Result;
use crate::model::{Layer, Mlp};

/// What compaction did.
#[derive(Debug, Clone)]
pub struct Compacted {
    pub model: Mlp,
    /// Neurons kept in each hidden layer, by their index in the original model.
    pub kept: Vec<Vec<usize>>,
}

pub fn compact(model: &Mlp) -> Result<Compacted> {
    let mut layers: Vec<Layer> = model.layers().to_vec();
    let mut kept_all = Vec::new();
    for l in 0..layers.len() - 1 {
        let layer = &layers[l];
        let kept: Vec<usize> = (0..layer.outputs())
            .filter(|&j| layer.mask.row(j).iter().any(|&m| m != 0.0))
            .collect();
        let dead: Vec<usize> = (0..layer.outputs())
            .filter(|&j| layer.mask.row(j).iter().all(|&m| m == 0.0))
            .collect();
        // Fold the dead neurons' constant outputs into the next layer's biases.
        let constants: Vec<(usize, f32)> =
            dead.iter().map(|&j| (j, layer.bias[j].max(0.0))).collect();
        let next = &mut layers[l + 1];
        for (j, c) in constants {
            if c != 0.0 {
                next.bias.scaled_add(c, &next.weight.column(j));
            }
        }
        let this = &layers[l];
        let shrunk = Layer {
            weight: this.weight.select(Axis(0), &kept),
            bias: Array1::from(kept.iter().map(|&j| this.bias[j]).collect::<Vec<_>>()),
            mask: this.mask.select(Axis(0), &kept),
        };
        let next = &layers[l + 1];
        let next_shrunk = Layer {
            weight: next.weight.select(Axis(1), &kept),
            bias: next.bias.clone(),
            mask: next.mask.select(Axis(1), &kept),
        };
        layers[l] = shrunk;
        layers[l + 1] = next_shrunk;
        kept_all.push(kept);
    }
    Ok(Compacted {
        model: Mlp::from_layers(layers)?,
        kept: kept_all,
    })
}

/// Weights plus biases: the parameter count that compaction reduces.
pub fn parameter_count(model: &Mlp) -> usize {
    model
        .layers()
        .iter()
        .map(|l| l.weight.len() + l.bias.len())
        .sum()
}
