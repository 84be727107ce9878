//! A ReLU multilayer perceptron with softmax cross-entropy, its forward and backward passes, and
//! one mask per weight matrix.
//!
//! Masks follow `torch.nn.utils.prune`: 1 keeps a weight, 0 prunes it, biases are never masked.
//! The model keeps the invariant `weight == weight ⊙ mask` at all times (setting a mask zeroes the
//! pruned weights, and the optimizers re-apply it after every update), so the forward pass can use
//! the weight matrix as it is and a pruned weight contributes exactly nothing.

use ndarray::{Array1, Array2, ArrayView2, Zip};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{Architecture, Gradients, Init};
use crate::error::{Error, Result};
use crate::parallel;

/// One fully connected layer, `y = x Wᵀ + b`, with `W` stored `[out, in]` like PyTorch's Linear.
#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    pub weight: Array2<f32>,
    pub bias: Array1<f32>,
    /// 1.0 where the weight is kept, 0.0 where it is pruned.
    pub mask: Array2<f32>,
}

impl Layer {
    pub fn inputs(&self) -> usize {
        self.weight.ncols()
    }

    pub fn outputs(&self) -> usize {
        self.weight.nrows()
    }

    /// Weights the mask keeps.
    pub fn kept(&self) -> usize {
        self.mask.iter().filter(|&&m| m != 0.0).count()
    }

    /// Replaces the mask (values are normalised to exactly 0 or 1) and zeroes the pruned weights.
    pub fn set_mask(&mut self, mask: Array2<f32>) -> Result<()> {
        if mask.dim() != self.weight.dim() {
            return Err(Error::Shape {
                op: "set_mask",
                detail: format!("mask {:?} for weight {:?}", mask.dim(), self.weight.dim()),
            });
        }
        self.mask = mask.mapv(|m| if m != 0.0 { 1.0 } else { 0.0 });
        // Select rather than multiply, so pruned weights are +0.0, never -0.0.
        Zip::from(&mut self.weight)
            .and(&self.mask)
            .for_each(|w, &m| {
                if m == 0.0 {
                    *w = 0.0;
                }
            });
        Ok(())
    }
}

/// The multilayer perceptron: ReLU after every layer but the last, whose outputs are logits.
#[derive(Debug, Clone, PartialEq)]
pub struct Mlp {
    layers: Vec<Layer>,
}

/// What the forward pass keeps for the backward pass: each layer's input (post-ReLU activations;
/// `inputs[0]` is the batch) and the logits.
#[derive(Debug)]
pub struct Activations {
    pub inputs: Vec<Array2<f32>>,
    pub logits: Array2<f32>,
}

impl Mlp {
    /// θ₀ for `seed`: the network `pruneplay train --seed` starts from, on either engine. The
    /// lottery experiments rely on drawing exactly these weights.
    pub fn seeded(arch: &Architecture, init: Init, seed: u64) -> Self {
        Self::new(arch, init, &mut ChaCha8Rng::seed_from_u64(seed))
    }

    /// A freshly initialised, unpruned network.
    pub fn new(arch: &Architecture, init: Init, rng: &mut impl Rng) -> Self {
        let layers = arch
            .widths()
            .windows(2)
            .map(|w| {
                let (fan_in, fan_out) = (w[0], w[1]);
                Layer {
                    weight: init.weights(fan_out, fan_in, rng),
                    bias: Array1::zeros(fan_out),
                    mask: Array2::ones((fan_out, fan_in)),
                }
            })
            .collect();
        Self { layers }
    }

    /// A network from given layers, checking that consecutive widths fit and that every mask has
    /// its weight's shape. Pruned weights are zeroed.
    pub fn from_layers(mut layers: Vec<Layer>) -> Result<Self> {
        if layers.is_empty() {
            return Err(Error::Shape {
                op: "Mlp::from_layers",
                detail: "no layers".into(),
            });
        }
        for (i, l) in layers.iter_mut().enumerate() {
            if l.bias.len() != l.outputs() || l.mask.dim() != l.weight.dim() {
                return Err(Error::Shape {
                    op: "Mlp::from_layers",
                    detail: format!(
                        "layer {i}: weight {:?}, bias {}, mask {:?}",
                        l.weight.dim(),
                        l.bias.len(),
                        l.mask.dim()
                    ),
                });
            }
            let mask = std::mem::take(&mut l.mask);
            l.set_mask(mask)?;
        }
        for (i, pair) in layers.windows(2).enumerate() {
            if pair[0].outputs() != pair[1].inputs() {
                return Err(Error::Shape {
                    op: "Mlp::from_layers",
                    detail: format!(
                        "layer {i} has {} outputs but layer {} takes {} inputs",
                        pair[0].outputs(),
                        i + 1,
                        pair[1].inputs()
                    ),
                });
            }
        }
        Ok(Self { layers })
    }

    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    pub fn layers_mut(&mut self) -> &mut [Layer] {
        &mut self.layers
    }

    pub fn architecture(&self) -> Architecture {
        let mut widths = vec![self.layers[0].inputs()];
        widths.extend(self.layers.iter().map(Layer::outputs));
        Architecture::from_existing_widths(widths)
    }

    /// Logits for a batch `[n, inputs]`, without keeping activations (evaluation).
    pub fn logits(&self, x: ArrayView2<f32>) -> Array2<f32> {
        let last = self.layers.len() - 1;
        let mut a = self.layers[0].apply(x, last > 0);
        for (i, layer) in self.layers.iter().enumerate().skip(1) {
            a = layer.apply(a.view(), i < last);
        }
        a
    }

    /// Forward pass for training: logits plus every layer's input.
    pub fn forward(&self, x: ArrayView2<f32>) -> Activations {
        let mut inputs = Vec::with_capacity(self.layers.len());
        inputs.push(x.to_owned());
        let last = self.layers.len() - 1;
        for (i, layer) in self.layers.iter().enumerate() {
            let z = layer.apply(inputs[i].view(), i < last);
            if i == last {
                return Activations { inputs, logits: z };
            }
            inputs.push(z);
        }
        unreachable!("a model has at least one layer")
    }

    /// Backward pass from `d_logits` (the gradient of the loss with respect to the logits).
    ///
    /// For layer l with input a and pre-activation gradient dz: dW = dzᵀ a, db = Σ_batch dz, and
    /// the previous layer's dz = (dz W) ⊙ [a > 0] (ReLU's derivative, read off its output). The
    /// first layer's input gradient is never needed, so it is not computed: that saves a third of
    /// the first (largest) layer's backward cost.
    pub fn backward(&self, acts: &Activations, d_logits: Array2<f32>) -> Gradients {
        let n = self.layers.len();
        let mut weight = Vec::with_capacity(n);
        let mut bias = Vec::with_capacity(n);
        let mut dz = d_logits;
        for l in (0..n).rev() {
            let a = acts.inputs[l].view();
            let (dw, db, da) =
                parallel::linear_backward(dz.view(), a, self.layers[l].weight.view(), l > 0);
            weight.push(dw);
            bias.push(db);
            if let Some(da) = da {
                dz = da;
            }
        }
        weight.reverse();
        bias.reverse();
        Gradients {
            weight,
            bias,
            other: Vec::new(),
        }
    }

    /// Per-sample predicted class for a batch.
    pub fn predict(&self, x: ArrayView2<f32>) -> Vec<u8> {
        argmax_rows(&self.logits(x))
    }
}

impl Layer {
    /// `x Wᵀ + b`, through the ReLU when `relu`.
    fn apply(&self, x: ArrayView2<f32>, relu: bool) -> Array2<f32> {
        parallel::linear(x, self.weight.view(), self.bias.view(), relu)
    }
}

/// Index of the largest value of each row (the first one on ties).
pub fn argmax_rows(m: &Array2<f32>) -> Vec<u8> {
    m.rows()
        .into_iter()
        .map(|r| {
            let mut best = 0;
            for (i, &v) in r.iter().enumerate() {
                if v > r[best] {
                    best = i;
                }
            }
            best as u8
        })
        .collect()
}

/// Mean softmax cross-entropy of `logits` against `labels`, and its gradient with respect to the
/// logits, `(softmax − onehot) / n`. Uses the max-shifted log-sum-exp so large logits neither
/// overflow nor lose the true class's probability to underflow.
pub fn softmax_cross_entropy(logits: &Array2<f32>, labels: &[u8]) -> (f32, Array2<f32>) {
    let n = logits.nrows();
    let inv_n = 1.0 / n as f32;
    let mut grad = logits.clone();
    let mut loss = 0.0f64;
    for ((mut row, z), &y) in grad.rows_mut().into_iter().zip(logits.rows()).zip(labels) {
        let y = usize::from(y);
        let max = z.fold(f32::NEG_INFINITY, |m, &v| m.max(v));
        row.mapv_inplace(|v| (v - max).exp());
        let sum: f32 = row.sum();
        loss += f64::from(sum.ln() - (z[y] - max));
        row.mapv_inplace(|e| e / sum * inv_n);
        row[y] -= inv_n;
    }
    ((loss / n as f64) as f32, grad)
}
