//! Placeholder [`Network`] for the MLP, only so the crate builds while the checkpoint code is
//! written; the real implementation replaces this file.

use ndarray::{Array2, ArrayView2, ArrayViewD, ArrayViewMutD};

use super::network::Gradients;
use super::{Layer, Mlp, ModelKind, Network, UnitGroup};

impl Network for Mlp {
    fn kind(&self) -> ModelKind {
        ModelKind::Mlp
    }
    fn spec(&self) -> String {
        self.architecture().to_string()
    }
    fn inputs(&self) -> usize {
        self.layers()[0].inputs()
    }
    fn classes(&self) -> usize {
        self.layers()[self.layers().len() - 1].outputs()
    }
    fn linears(&self) -> &[Layer] {
        self.layers()
    }
    fn linears_mut(&mut self) -> &mut [Layer] {
        self.layers_mut()
    }
    fn linear_names(&self) -> Vec<String> {
        (0..self.layers().len())
            .map(|i| (2 * i).to_string())
            .collect()
    }
    fn others(&self) -> Vec<(String, ArrayViewD<'_, f32>)> {
        Vec::new()
    }
    fn others_mut(&mut self) -> Vec<ArrayViewMutD<'_, f32>> {
        Vec::new()
    }
    fn logits(&self, x: ArrayView2<f32>) -> Array2<f32> {
        Mlp::logits(self, x)
    }
    fn loss_and_gradients(
        &self,
        _x: ArrayView2<f32>,
        _labels: &[u8],
    ) -> (f32, Array2<f32>, Gradients) {
        unimplemented!("placeholder")
    }
    fn linear_inputs(&self, _x: ArrayView2<f32>, _layer: usize) -> Array2<f32> {
        unimplemented!("placeholder")
    }
    fn unit_groups(&self) -> Vec<UnitGroup> {
        unimplemented!("placeholder")
    }
}
