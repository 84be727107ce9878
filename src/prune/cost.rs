//! What a model costs to store and to run, per layer and in total: the numbers of the page's cost
//! meter, and the "FLOPs and bytes" beside the forward-pass times of the sparse-inference demo.
//!
//! Counting rules (per image, f32 everywhere):
//! - parameters are weights plus biases; nonzero weights are those the mask keeps;
//! - dense FLOPs are `2 · in · out` per layer (one multiply and one add per weight, as a dense
//!   kernel does whatever the mask says); sparse FLOPs are `2 · nnz` (what a kernel that skips
//!   pruned weights does). Biases and ReLU are not counted;
//! - bytes dense: every weight and bias as f32;
//! - bytes CSR: an f32 value and a u32 column index per kept weight, `out + 1` u32 row pointers,
//!   and the biases;
//! - bytes 2:4: half the weights as f32 values plus 2 bits of position per stored value (NVIDIA's
//!   compressed format), and the biases. Only a mask that keeps at most 2 of every 4 consecutive
//!   inputs fits that format, so it is `None` for a layer that does not (and for the total when
//!   any layer does not);
//! - neurons removed: hidden units with no kept incoming weight (they output a constant, which
//!   compaction folds into the next layer's biases), plus, when a dense architecture is given,
//!   the hidden units the model lacks compared with it (already removed by compaction). Output
//!   units are never removed.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::model::sparse::{GROUP, KEPT_PER_GROUP, is_two_four};
use crate::model::{Architecture, Layer, Mlp};

const F32_BYTES: u64 = 4;
const U32_BYTES: u64 = 4;
/// Bits of position metadata per value stored in the 2:4 format (which of 4 inputs).
const TWO_FOUR_INDEX_BITS: u64 = 2;

/// The counts of one layer, or of a whole model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Counts {
    pub parameters: u64,
    pub weights: u64,
    pub nonzero_weights: u64,
    pub neurons_removed: u64,
    pub dense_flops: u64,
    pub sparse_flops: u64,
    pub bytes_dense: u64,
    pub bytes_csr: u64,
    /// `None` where the mask is not 2:4.
    pub bytes_2_4: Option<u64>,
}

impl Counts {
    fn add(self, o: Counts) -> Counts {
        Counts {
            parameters: self.parameters + o.parameters,
            weights: self.weights + o.weights,
            nonzero_weights: self.nonzero_weights + o.nonzero_weights,
            neurons_removed: self.neurons_removed + o.neurons_removed,
            dense_flops: self.dense_flops + o.dense_flops,
            sparse_flops: self.sparse_flops + o.sparse_flops,
            bytes_dense: self.bytes_dense + o.bytes_dense,
            bytes_csr: self.bytes_csr + o.bytes_csr,
            bytes_2_4: self.bytes_2_4.zip(o.bytes_2_4).map(|(a, b)| a + b),
        }
    }

    /// Fraction of the weights that are pruned (0 for a dense model).
    pub fn sparsity(&self) -> f64 {
        if self.weights == 0 {
            0.0
        } else {
            1.0 - self.nonzero_weights as f64 / self.weights as f64
        }
    }
}

/// One layer's cost, named as in the checkpoint (`0.weight`, `2.weight`, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LayerCost {
    pub name: String,
    pub inputs: usize,
    pub outputs: usize,
    pub counts: Counts,
}

/// A model's cost: every layer and the total.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cost {
    /// The model's architecture, e.g. `784-300-100-10`.
    pub arch: String,
    pub layers: Vec<LayerCost>,
    pub total: Counts,
}

impl Cost {
    /// The cost of `model` as it is (neurons removed: only the dead ones).
    pub fn of(model: &Mlp) -> Cost {
        Self::build(model, None)
    }

    /// The cost of `model`, counting as removed also the hidden units it lacks compared with
    /// `dense` (the architecture it was compacted from). `dense` must have the same inputs,
    /// outputs and depth and no narrower hidden layer.
    pub fn compared_with(model: &Mlp, dense: &Architecture) -> Result<Cost> {
        let widths = model.architecture().widths().to_vec();
        let reference = dense.widths();
        let fits = widths.len() == reference.len()
            && widths.first() == reference.first()
            && widths.last() == reference.last()
            && widths.iter().zip(reference).all(|(w, r)| w <= r);
        if !fits {
            return Err(Error::Shape {
                op: "Cost::compared_with",
                detail: format!(
                    "a {} model cannot come from a dense {dense} by removing hidden units",
                    model.architecture()
                ),
            });
        }
        Ok(Self::build(model, Some(reference)))
    }

    fn build(model: &Mlp, reference: Option<&[usize]>) -> Cost {
        let last = model.layers().len() - 1;
        let layers: Vec<LayerCost> = model
            .layers()
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let lacking = match reference {
                    Some(widths) if i < last => (widths[i + 1] - l.outputs()) as u64,
                    _ => 0,
                };
                LayerCost {
                    name: format!("{}.weight", 2 * i),
                    inputs: l.inputs(),
                    outputs: l.outputs(),
                    counts: layer_counts(l, i < last, lacking),
                }
            })
            .collect();
        let total = layers.iter().fold(
            Counts {
                bytes_2_4: Some(0),
                ..Counts::default()
            },
            |acc, l| acc.add(l.counts),
        );
        Cost {
            arch: model.architecture().to_string(),
            layers,
            total,
        }
    }
}

fn layer_counts(l: &Layer, hidden: bool, lacking: u64) -> Counts {
    let (inputs, outputs) = (l.inputs() as u64, l.outputs() as u64);
    let weights = inputs * outputs;
    let nnz = l.kept() as u64;
    let biases = outputs * F32_BYTES;
    let dead = if hidden {
        l.mask
            .rows()
            .into_iter()
            .filter(|r| r.iter().all(|&m| m == 0.0))
            .count() as u64
    } else {
        0
    };
    let two_four = is_two_four(l.mask.view()).then(|| {
        let stored = weights * KEPT_PER_GROUP as u64 / GROUP as u64;
        stored * F32_BYTES + (stored * TWO_FOUR_INDEX_BITS).div_ceil(8) + biases
    });
    Counts {
        parameters: weights + outputs,
        weights,
        nonzero_weights: nnz,
        neurons_removed: dead + lacking,
        dense_flops: 2 * weights,
        sparse_flops: 2 * nnz,
        bytes_dense: weights * F32_BYTES + biases,
        bytes_csr: nnz * (F32_BYTES + U32_BYTES) + (outputs + 1) * U32_BYTES + biases,
        bytes_2_4: two_four,
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{Array1, Array2, array};

    use super::*;

    fn layer(mask: Array2<f32>) -> Layer {
        let weight = Array2::from_elem(mask.dim(), 0.5);
        Layer {
            bias: Array1::from_elem(mask.nrows(), 0.1),
            weight,
            mask,
        }
    }

    /// 8 → 2 → 4 → 3. Layer 0 keeps 3 weights, all in row 0 (row 1 is dead), and is 2:4;
    /// layer 1 (2 inputs) cannot be 2:4; layer 2 keeps 5 of 12, 2:4.
    fn model() -> Mlp {
        let l0 = layer(array![
            [1., 0., 1., 0., 0., 0., 0., 1.],
            [0., 0., 0., 0., 0., 0., 0., 0.]
        ]);
        let l1 = layer(array![[1., 0.], [1., 1.], [0., 1.], [0., 0.]]);
        let l2 = layer(array![[1., 1., 0., 0.], [0., 1., 0., 1.], [1., 0., 0., 0.]]);
        Mlp::from_layers(vec![l0, l1, l2]).unwrap()
    }

    #[test]
    fn counts_every_layer_by_hand() {
        let cost = Cost::of(&model());
        assert_eq!(cost.arch, "8-2-4-3");
        let l0 = cost.layers[0].counts;
        // 16 weights + 2 biases.
        assert_eq!(l0.parameters, 18);
        assert_eq!(l0.weights, 16);
        assert_eq!(l0.nonzero_weights, 3);
        assert_eq!(l0.neurons_removed, 1);
        assert_eq!(l0.dense_flops, 32);
        assert_eq!(l0.sparse_flops, 6);
        assert_eq!(l0.bytes_dense, 72);
        // 3 values + 3 columns + 3 row pointers + 2 biases, 4 bytes each.
        assert_eq!(l0.bytes_csr, 44);
        // 8 stored values (32 bytes) + 8 × 2 bits (2 bytes) + 2 biases (8 bytes).
        assert_eq!(l0.bytes_2_4, Some(42));

        let l1 = cost.layers[1].counts;
        assert_eq!(l1.parameters, 12);
        assert_eq!(l1.nonzero_weights, 4);
        // Row 3 keeps nothing.
        assert_eq!(l1.neurons_removed, 1);
        // 4 values and 4 columns, 5 row pointers, 4 biases.
        assert_eq!(l1.bytes_csr, 4 * (4 + 4) + 4 * 5 + 4 * 4);
        assert_eq!(l1.bytes_2_4, None);

        let l2 = cost.layers[2].counts;
        assert_eq!(l2.parameters, 15);
        // The output layer never loses units.
        assert_eq!(l2.neurons_removed, 0);
        assert_eq!((l2.dense_flops, l2.sparse_flops), (24, 10));
        assert_eq!(l2.bytes_csr, 4 * (5 + 5) + 4 * 4 + 4 * 3);
        // 12 weights: 6 stored values (24 bytes) + 12 bits (2 bytes) + 3 biases.
        assert_eq!(l2.bytes_2_4, Some(24 + 2 + 12));

        let t = cost.total;
        assert_eq!(t.parameters, 18 + 12 + 15);
        assert_eq!(t.weights, 16 + 8 + 12);
        assert_eq!(t.nonzero_weights, 3 + 4 + 5);
        assert_eq!(t.neurons_removed, 2);
        assert_eq!(t.dense_flops, 2 * 36);
        assert_eq!(t.sparse_flops, 2 * 12);
        assert_eq!(t.bytes_dense, 4 * 45);
        assert_eq!(t.bytes_csr, 44 + 68 + 68);
        // One layer is not 2:4, so the model has no 2:4 size.
        assert_eq!(t.bytes_2_4, None);
        assert!((t.sparsity() - 24.0 / 36.0).abs() < 1e-12);
    }

    #[test]
    fn a_dense_lenet_costs_what_its_shape_says() {
        let arch = Architecture::lenet_300_100();
        let model = Mlp::new(
            &arch,
            crate::model::Init::Glorot,
            &mut <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(0),
        );
        let t = Cost::of(&model).total;
        let weights = 784 * 300 + 300 * 100 + 100 * 10;
        assert_eq!(t.weights, weights);
        assert_eq!(t.parameters, weights + 410);
        assert_eq!(t.nonzero_weights, weights);
        assert_eq!(t.dense_flops, 2 * weights);
        assert_eq!(t.sparse_flops, t.dense_flops);
        assert_eq!(t.bytes_dense, 4 * (weights + 410));
        // CSR of a dense matrix is twice its size, plus row pointers.
        assert_eq!(t.bytes_csr, 8 * weights + 4 * (301 + 101 + 11) + 4 * 410);
        // A dense mask keeps 4 of 4: not 2:4.
        assert_eq!(t.bytes_2_4, None);
        assert_eq!(t.neurons_removed, 0);
    }

    #[test]
    fn a_compacted_model_counts_the_units_it_lost() {
        // 8 → 2 → 4 → 3 compared with 8 → 5 → 6 → 3: 3 + 2 units gone, plus the 2 dead ones.
        let dense: Architecture = "8-5-6-3".parse().unwrap();
        let cost = Cost::compared_with(&model(), &dense).unwrap();
        assert_eq!(cost.layers[0].counts.neurons_removed, 1 + 3);
        assert_eq!(cost.layers[1].counts.neurons_removed, 1 + 2);
        assert_eq!(cost.total.neurons_removed, 7);
        for bad in ["8-1-4-3", "8-5-6-4", "9-5-6-3", "8-5-3"] {
            let bad: Architecture = bad.parse().unwrap();
            assert!(Cost::compared_with(&model(), &bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn serialises_to_json_with_null_for_no_2_4_size() {
        let json = serde_json::to_value(Cost::of(&model())).unwrap();
        assert_eq!(json["total"]["bytes_2_4"], serde_json::Value::Null);
        assert_eq!(json["layers"][0]["counts"]["bytes_2_4"], 42);
        assert_eq!(json["layers"][0]["name"], "0.weight");
    }
}
