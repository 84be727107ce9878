//! [`Network`] for the ViT.

use ndarray::{Array2, ArrayView2, ArrayViewD, ArrayViewMutD, Axis};

use super::{GateGradients, Gates, Vit};
use crate::error::Result;
use crate::model::{
    Blocks, Gradients, Layer, ModelKind, Network, UnitGroup, softmax_cross_entropy,
};

impl Network for Vit {
    fn kind(&self) -> ModelKind {
        ModelKind::Vit
    }
    fn spec(&self) -> String {
        self.config.to_string()
    }
    fn inputs(&self) -> usize {
        super::PIXELS
    }
    fn classes(&self) -> usize {
        self.linears[self.head()].outputs()
    }
    fn linears(&self) -> &[Layer] {
        &self.linears
    }
    fn linears_mut(&mut self) -> &mut [Layer] {
        &mut self.linears
    }
    /// timm's module names: `patch_embed.proj`, `blocks.{i}.attn.qkv`, `blocks.{i}.attn.proj`,
    /// `blocks.{i}.mlp.fc1`, `blocks.{i}.mlp.fc2`, …, `head`.
    fn linear_names(&self) -> Vec<String> {
        (0..self.linears.len())
            .map(|i| Self::linear_name(self.config.depth, i))
            .collect()
    }
    /// `pos_embed` (`[1, 16, D]`), each block's `norm1` and `norm2` weight and bias, then
    /// `fc_norm`'s.
    fn others(&self) -> Vec<(String, ArrayViewD<'_, f32>)> {
        let mut out = vec![(
            "pos_embed".to_string(),
            self.pos_embed.view().insert_axis(Axis(0)).into_dyn(),
        )];
        for (i, (n1, n2)) in self.norm1.iter().zip(&self.norm2).enumerate() {
            out.push((
                format!("blocks.{i}.norm1.weight"),
                n1.weight.view().into_dyn(),
            ));
            out.push((format!("blocks.{i}.norm1.bias"), n1.bias.view().into_dyn()));
            out.push((
                format!("blocks.{i}.norm2.weight"),
                n2.weight.view().into_dyn(),
            ));
            out.push((format!("blocks.{i}.norm2.bias"), n2.bias.view().into_dyn()));
        }
        out.push((
            "fc_norm.weight".into(),
            self.fc_norm.weight.view().into_dyn(),
        ));
        out.push(("fc_norm.bias".into(), self.fc_norm.bias.view().into_dyn()));
        out
    }
    fn others_mut(&mut self) -> Vec<ArrayViewMutD<'_, f32>> {
        let mut out = vec![self.pos_embed.view_mut().insert_axis(Axis(0)).into_dyn()];
        for (n1, n2) in self.norm1.iter_mut().zip(self.norm2.iter_mut()) {
            out.push(n1.weight.view_mut().into_dyn());
            out.push(n1.bias.view_mut().into_dyn());
            out.push(n2.weight.view_mut().into_dyn());
            out.push(n2.bias.view_mut().into_dyn());
        }
        out.push(self.fc_norm.weight.view_mut().into_dyn());
        out.push(self.fc_norm.bias.view_mut().into_dyn());
        out
    }
    fn logits(&self, x: ArrayView2<f32>) -> Array2<f32> {
        self.logits_gated(x, &Gates::of(self))
    }
    /// Gradients of pruned weights are dense (not masked), as the MLP's are; the optimizers
    /// apply the masks.
    fn loss_and_gradients(
        &self,
        x: ArrayView2<f32>,
        labels: &[u8],
    ) -> (f32, Array2<f32>, Gradients) {
        let (loss, logits, grads, _) = self.loss_and_all_gradients(x, labels);
        (loss, logits, grads)
    }
    fn linear_inputs(&self, x: ArrayView2<f32>, layer: usize) -> Array2<f32> {
        self.linear_input(x, layer)
    }
    /// Each block's MLP hidden units: rows of `fc1`, columns of `fc2`.
    fn unit_groups(&self) -> Vec<UnitGroup> {
        (0..self.config.depth)
            .map(|i| UnitGroup {
                whole: true,
                producer: Self::fc1(i),
                consumer: Self::fc2(i),
            })
            .collect()
    }

    /// Every linear layer but the head multiplies each of the 16 tokens.
    fn rows_per_sample(&self, layer: usize) -> usize {
        if layer == self.head() {
            1
        } else {
            super::TOKENS
        }
    }

    /// Per block and head, q·kᵀ ([16, d] × [d, 16]) and P·v ([16, 16] × [16, d]): 2 · 2·16·16·d,
    /// which over H heads of d = D/H channels is 4·16²·D per block.
    fn attention_flops(&self) -> u64 {
        let t = super::TOKENS as u64;
        let channels = (self.total_heads() * self.head_dim()) as u64;
        4 * t * t * channels
    }

    fn blocks(&self) -> Option<&dyn Blocks> {
        Some(self)
    }
    fn blocks_mut(&mut self) -> Option<&mut dyn Blocks> {
        Some(self)
    }
}

impl Blocks for Vit {
    fn depth(&self) -> usize {
        self.config.depth
    }
    fn heads_per_block(&self) -> Vec<usize> {
        (0..self.depth()).map(|b| self.heads_in(b)).collect()
    }
    fn head_masks(&self) -> Vec<ndarray::Array1<f32>> {
        self.head_mask.clone()
    }
    fn set_head_masks(&mut self, masks: &[ndarray::Array1<f32>]) -> Result<()> {
        if masks.len() != self.depth() {
            return Err(crate::error::Error::Shape {
                op: "Vit::set_head_masks",
                detail: format!("{} masks for {} blocks", masks.len(), self.depth()),
            });
        }
        for (b, m) in masks.iter().enumerate() {
            self.set_head_mask(b, &m.to_vec())?;
        }
        Ok(())
    }
    fn removed_blocks(&self) -> Vec<bool> {
        self.removed.clone()
    }
    fn set_removed_blocks(&mut self, removed: &[bool]) -> Result<()> {
        Vit::set_removed_blocks(self, removed)
    }
    fn unit_gates(&self) -> Gates {
        Gates::of(self)
    }
    fn gate_gradients(&self, x: ArrayView2<f32>, labels: &[u8]) -> GateGradients {
        Vit::gate_gradients(self, x, labels)
    }
    fn loss_with_gates(&self, x: ArrayView2<f32>, labels: &[u8], gates: &Gates) -> f32 {
        softmax_cross_entropy(&self.logits_gated(x, gates), labels).0
    }
    fn residual_streams(&self, x: ArrayView2<f32>) -> Vec<Array2<f32>> {
        Vit::residual_streams(self, x)
    }
    fn tokens(&self) -> usize {
        super::TOKENS
    }
    fn attention_layers(&self, block: usize) -> (usize, usize) {
        (Self::qkv(block), Self::proj(block))
    }
    fn head_dim(&self) -> usize {
        Vit::head_dim(self)
    }
}
