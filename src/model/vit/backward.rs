//! The backward pass: the gradient of the mean cross-entropy with respect to every parameter
//! and to the gates ξ (per head) and γ (per block).
//!
//! Gradients of pruned weights are the dense ones, as the MLP's backward pass gives them: the
//! optimizers apply the masks. A head whose `head_mask` is 0 contributes nothing, so its `proj`
//! columns and its `qkv` rows get exactly zero gradient.

use ndarray::{Array1, Array2, ArrayD, ArrayView2, Axis};

use super::attention;
use super::forward::VitActivations;
use super::{TOKENS, Vit, buffers, gelu, layer_norm};
use crate::model::{Gradients, softmax_cross_entropy};
use crate::parallel;

/// Gradients of the loss with respect to the gates, which the model holds at 1.
///
/// ∂L/∂ξ_h is the head importance of Michel et al. 2019 ("Are Sixteen Heads Really Better than
/// One?"), who score a head by |∂L_x/∂ξ_h| averaged over images x; the per-image values are
/// here so that absolute value can be taken before the average.
#[derive(Debug, Clone, PartialEq)]
pub struct GateGradients {
    /// Per block `[H]`: ∂(mean loss over the batch)/∂ξ_h.
    pub head: Vec<Array1<f32>>,
    /// Per block `[n, H]`: ∂L_x/∂ξ_h, with L_x image x's own loss (so `head` is the mean of
    /// these rows).
    pub head_per_image: Vec<Array2<f32>>,
    /// Per block: ∂(mean loss)/∂γ.
    pub block: Vec<f32>,
    /// `[n, L]`: ∂L_x/∂γ_ℓ per image.
    pub block_per_image: Array2<f32>,
}

impl Vit {
    /// Backward pass from `d_logits` (∂L/∂logits, e.g. from
    /// [`softmax_cross_entropy`](crate::model::softmax_cross_entropy)): the parameters'
    /// gradients in [`crate::model::Network`] order, and the gates'.
    pub fn backward(
        &self,
        acts: &VitActivations,
        d_logits: &Array2<f32>,
    ) -> (Gradients, GateGradients) {
        let c = self.config;
        let (dim, depth) = (c.dim, c.depth);
        let n = d_logits.nrows();
        let rows = n * TOKENS;
        let count = self.linears.len();
        let mut weight = vec![Array2::zeros((0, 0)); count];
        let mut bias = vec![Array1::zeros(0); count];
        let mut norm_grads = vec![(Array1::zeros(0), Array1::zeros(0)); 2 * depth];
        let mut gates = GateGradients {
            head: (0..depth)
                .map(|b| Array1::zeros(self.heads_in(b)))
                .collect(),
            head_per_image: (0..depth)
                .map(|b| Array2::zeros((n, self.heads_in(b))))
                .collect(),
            block: vec![0.0; depth],
            block_per_image: Array2::zeros((n, depth)),
        };

        // head, fc_norm, mean pool.
        let head = self.head();
        weight[head] = parallel::dot(d_logits.t(), acts.features.view());
        bias[head] = d_logits.sum_axis(Axis(0));
        let d_features = parallel::dot(d_logits.view(), self.linears[head].weight.view());
        let mut d_pooled = Array2::zeros((n, dim));
        let fc_norm = layer_norm::backward(&d_features, &acts.fc_ln, &self.fc_norm, &mut d_pooled);
        let mut dx = buffers::array(rows, dim);
        let inv = 1.0 / TOKENS as f32;
        for (mut img, p) in dx
            .exact_chunks_mut((TOKENS, dim))
            .into_iter()
            .zip(d_pooled.rows())
        {
            for mut tok in img.rows_mut() {
                tok.scaled_add(inv, &p);
            }
        }

        for i in (0..depth).rev() {
            let a = &acts.blocks[i];
            let gamma = self.gamma(i, &acts.gates);

            // MLP branch: h_out = h_mid + γ·fc2(GELU(fc1(norm2(h_mid)))).
            per_image_dot(&dx, &a.mlp_out, gates.block_per_image.column_mut(i));
            let scaled = (gamma != 1.0).then(|| &dx * gamma);
            let dy = scaled.as_ref().unwrap_or(&dx);
            let (fc1, fc2) = (Self::fc1(i), Self::fc2(i));
            weight[fc2] = parallel::dot(dy.t(), a.act.view());
            bias[fc2] = dy.sum_axis(Axis(0));
            let mut d_act = buffers::matmul(dy, &self.linears[fc2].weight);
            gelu::backward(
                d_act.as_slice_mut().unwrap(),
                a.pre.as_slice().unwrap(),
                &a.cdf,
            );
            weight[fc1] = parallel::dot(d_act.t(), a.norm2.view());
            bias[fc1] = d_act.sum_axis(Axis(0));
            let d_norm2 = buffers::matmul(&d_act, &self.linears[fc1].weight);
            buffers::recycle_array(d_act);
            if let Some(s) = scaled {
                buffers::recycle_array(s);
            }
            norm_grads[2 * i + 1] = layer_norm::backward(&d_norm2, &a.ln2, &self.norm2[i], &mut dx);
            buffers::recycle_array(d_norm2);

            // Attention branch: h_mid = h_in + γ·proj(ξ ⊙ m ⊙ attn(norm1(h_in))).
            per_image_dot(&dx, &a.attn_out, gates.block_per_image.column_mut(i));
            let scaled = (gamma != 1.0).then(|| &dx * gamma);
            let dy = scaled.as_ref().unwrap_or(&dx);
            let (qkv, proj) = (Self::qkv(i), Self::proj(i));
            weight[proj] = parallel::dot(dy.t(), a.gated.view());
            bias[proj] = dy.sum_axis(Axis(0));
            let d_gated = buffers::matmul(dy, &self.linears[proj].weight);
            if let Some(s) = scaled {
                buffers::recycle_array(s);
            }
            let coef = self.coef(i, &acts.gates);
            let dims = self.dims(i, n);
            let back = attention::backward(
                a.qkv.as_slice().unwrap(),
                a.heads.as_slice().unwrap(),
                &a.probs,
                d_gated.as_slice().unwrap(),
                dims,
                &coef,
            );
            buffers::recycle_array(d_gated);
            // ∂(gated)/∂ξ_h = head_mask_h · O_h.
            let per_image = &mut gates.head_per_image[i];
            for (mut row, raw) in per_image
                .rows_mut()
                .into_iter()
                .zip(back.gate.chunks_exact(dims.heads.max(1)))
            {
                for (h, (g, &r)) in row.iter_mut().zip(raw).enumerate() {
                    *g = r * self.head_mask[i][h];
                }
            }
            gates.head[i] = per_image.sum_axis(Axis(0));
            *per_image *= n as f32;

            let d_qkv = Array2::from_shape_vec((rows, 3 * dims.heads * dims.head_dim), back.dqkv)
                .unwrap_or_else(|_| unreachable!("attention returns [n·16, 3·H·d]"));
            weight[qkv] = parallel::dot(d_qkv.t(), a.norm1.view());
            bias[qkv] = d_qkv.sum_axis(Axis(0));
            let d_norm1 = buffers::matmul(&d_qkv, &self.linears[qkv].weight);
            buffers::recycle_array(d_qkv);
            norm_grads[2 * i] = layer_norm::backward(&d_norm1, &a.ln1, &self.norm1[i], &mut dx);
            buffers::recycle_array(d_norm1);
        }
        for (i, g) in gates.block.iter_mut().enumerate() {
            *g = gates.block_per_image.column(i).sum();
        }
        gates.block_per_image *= n as f32;

        // Embedding: h = patches·Wᵀ + b + pos_embed[t].
        let mut d_pos = Array2::<f32>::zeros((TOKENS, dim));
        for img in dx.exact_chunks((TOKENS, dim)) {
            d_pos += &img;
        }
        weight[Self::PATCH_EMBED] = parallel::dot(dx.t(), acts.patches.view());
        bias[Self::PATCH_EMBED] = dx.sum_axis(Axis(0));
        buffers::recycle_array(dx);

        let mut other: Vec<ArrayD<f32>> = Vec::with_capacity(2 + 4 * depth);
        other.push(d_pos.insert_axis(Axis(0)).into_dyn());
        for (w, b) in norm_grads {
            other.push(w.into_dyn());
            other.push(b.into_dyn());
        }
        other.push(fc_norm.0.into_dyn());
        other.push(fc_norm.1.into_dyn());
        (
            Gradients {
                weight,
                bias,
                other,
            },
            gates,
        )
    }

    /// Mean loss, logits, parameter gradients and gate gradients for a batch, all gates at 1.
    pub fn loss_and_all_gradients(
        &self,
        x: ArrayView2<f32>,
        labels: &[u8],
    ) -> (f32, Array2<f32>, Gradients, GateGradients) {
        let mut acts = self.forward(x);
        let (loss, d_logits) = softmax_cross_entropy(&acts.logits, labels);
        let (grads, gates) = self.backward(&acts, &d_logits);
        (loss, std::mem::take(&mut acts.logits), grads, gates)
    }

    /// The gates' gradients for a batch (see [`GateGradients`]).
    pub fn gate_gradients(&self, x: ArrayView2<f32>, labels: &[u8]) -> GateGradients {
        self.loss_and_all_gradients(x, labels).3
    }
}

/// Adds Σ over image b's token rows of `dx ⊙ y` to `out[b]`.
fn per_image_dot(dx: &Array2<f32>, y: &Array2<f32>, mut out: ndarray::ArrayViewMut1<f32>) {
    let per = TOKENS * dx.ncols();
    let (dx, y) = (dx.as_slice().unwrap(), y.as_slice().unwrap());
    for ((o, a), b) in out
        .iter_mut()
        .zip(dx.chunks_exact(per))
        .zip(y.chunks_exact(per))
    {
        *o += a.iter().zip(b).map(|(u, v)| u * v).sum::<f32>();
    }
}
