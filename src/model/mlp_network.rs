//! [`Network`] for the MLP: its layers are the linear layers, it has no other parameters, and
//! each hidden layer's neurons are a unit group.

use ndarray::{Array2, ArrayView2, ArrayViewD, ArrayViewMutD};

use super::{Gradients, Layer, Mlp, ModelKind, Network, UnitGroup, softmax_cross_entropy};

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

    /// `0`, `2`, `4`, …: the indices of the `nn.Linear`s in PyTorch's
    /// `nn.Sequential(Linear, ReLU, Linear, ReLU, …)`, which is how the checkpoints name them.
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

    /// The same forward, loss and backward calls the CPU trainer has always made, so LeNet runs
    /// stay bit-identical through the trait.
    fn loss_and_gradients(
        &self,
        x: ArrayView2<f32>,
        labels: &[u8],
    ) -> (f32, Array2<f32>, Gradients) {
        let acts = self.forward(x);
        let (loss, d_logits) = softmax_cross_entropy(&acts.logits, labels);
        let grads = self.backward(&acts, d_logits);
        (loss, acts.logits, grads)
    }

    fn linear_inputs(&self, x: ArrayView2<f32>, layer: usize) -> Array2<f32> {
        self.forward(x).inputs.swap_remove(layer)
    }

    /// Hidden layer i's neurons: rows of layer i, columns of layer i + 1.
    fn unit_groups(&self) -> Vec<UnitGroup> {
        (0..self.layers().len().saturating_sub(1))
            .map(|i| UnitGroup {
                producer: i,
                consumer: i + 1,
            })
            .collect()
    }
}
