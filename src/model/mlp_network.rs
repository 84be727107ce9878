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
                whole: false,
                producer: i,
                consumer: i + 1,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use ndarray::Array2;

    use super::*;
    use crate::model::Init;

    #[test]
    fn the_mlp_through_the_trait_is_the_mlp() {
        let mlp = Mlp::seeded(&"784-30-20-10".parse().unwrap(), Init::Glorot, 3);
        assert_eq!(mlp.linear_names(), ["0", "2", "4"]);
        assert_eq!(mlp.spec(), "784-30-20-10");
        assert_eq!(
            (mlp.inputs(), mlp.classes(), mlp.kind()),
            (784, 10, ModelKind::Mlp)
        );
        assert_eq!(
            mlp.param_count(),
            784 * 30 + 30 + 30 * 20 + 20 + 20 * 10 + 10
        );
        let groups = mlp.unit_groups();
        assert_eq!(
            groups,
            [
                UnitGroup {
                    whole: false,
                    producer: 0,
                    consumer: 1
                },
                UnitGroup {
                    whole: false,
                    producer: 1,
                    consumer: 2
                }
            ]
        );
        let x = Array2::from_shape_fn((4, 784), |(i, j)| ((i * 7 + j) % 13) as f32 / 13.0);
        let y = [1u8, 2, 3, 4];
        let (loss, logits, grads) = mlp.loss_and_gradients(x.view(), &y);
        let acts = mlp.forward(x.view());
        let (loss2, d) = softmax_cross_entropy(&acts.logits, &y);
        let grads2 = mlp.backward(&acts, d);
        assert_eq!(loss.to_bits(), loss2.to_bits());
        assert_eq!(logits, acts.logits);
        assert_eq!(grads.weight, grads2.weight);
        assert_eq!(grads.bias, grads2.bias);
        assert!(grads.other.is_empty());
        assert_eq!(mlp.linear_inputs(x.view(), 1), acts.inputs[1]);
    }
}
