//! [`Network`] for the ViT. (Skeleton: the ViT helper fills this in.)

use ndarray::{Array2, ArrayView2, ArrayViewD, ArrayViewMutD};

use super::Vit;
use crate::model::network::Gradients;
use crate::model::{Layer, ModelKind, Network, UnitGroup};

impl Network for Vit {
    fn kind(&self) -> ModelKind {
        ModelKind::Vit
    }
    fn spec(&self) -> String {
        self.config.to_string()
    }
    fn inputs(&self) -> usize {
        784
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
    fn linear_names(&self) -> Vec<String> {
        unimplemented!()
    }
    fn others(&self) -> Vec<(String, ArrayViewD<'_, f32>)> {
        unimplemented!()
    }
    fn others_mut(&mut self) -> Vec<ArrayViewMutD<'_, f32>> {
        unimplemented!()
    }
    fn logits(&self, _x: ArrayView2<f32>) -> Array2<f32> {
        unimplemented!()
    }
    fn loss_and_gradients(
        &self,
        _x: ArrayView2<f32>,
        _labels: &[u8],
    ) -> (f32, Array2<f32>, Gradients) {
        unimplemented!()
    }
    fn linear_inputs(&self, _x: ArrayView2<f32>, _layer: usize) -> Array2<f32> {
        unimplemented!()
    }
    fn unit_groups(&self) -> Vec<UnitGroup> {
        unimplemented!()
    }
}
