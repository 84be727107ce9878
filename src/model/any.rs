//! [`Model`]: either model, for the places that hold whichever one a file or a flag named (the
//! CLI, the page, checkpoints, engines). Everything below them is generic over [`Network`].

use ndarray::{Array2, ArrayView2, ArrayViewD, ArrayViewMutD};

use super::network::Gradients;
use super::{Layer, Mlp, ModelKind, Network, UnitGroup, Vit};
use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq)]
pub enum Model {
    Mlp(Mlp),
    Vit(Box<Vit>),
}

impl From<Mlp> for Model {
    fn from(m: Mlp) -> Self {
        Model::Mlp(m)
    }
}

impl From<Vit> for Model {
    fn from(v: Vit) -> Self {
        Model::Vit(Box::new(v))
    }
}

impl Model {
    pub fn as_mlp(&self) -> Option<&Mlp> {
        match self {
            Model::Mlp(m) => Some(m),
            Model::Vit(_) => None,
        }
    }

    pub fn as_vit(&self) -> Option<&Vit> {
        match self {
            Model::Vit(v) => Some(v),
            Model::Mlp(_) => None,
        }
    }

    /// The MLP, or an error naming `what` needs one (the lottery lab, the GPU engine, …).
    pub fn into_mlp(self, what: &str) -> Result<Mlp> {
        match self {
            Model::Mlp(m) => Ok(m),
            Model::Vit(_) => Err(Error::Config(format!(
                "{what} runs on MLPs such as LeNet-300-100, not on the ViT"
            ))),
        }
    }

    pub fn mlp(&self, what: &str) -> Result<&Mlp> {
        self.as_mlp().ok_or_else(|| {
            Error::Config(format!(
                "{what} runs on MLPs such as LeNet-300-100, not on the ViT"
            ))
        })
    }
}

/// Delegates every method to the model inside.
macro_rules! each {
    ($self:expr, $m:ident => $e:expr) => {
        match $self {
            Model::Mlp($m) => $e,
            Model::Vit($m) => $e,
        }
    };
}

impl Network for Model {
    fn kind(&self) -> ModelKind {
        each!(self, m => m.kind())
    }
    fn spec(&self) -> String {
        each!(self, m => m.spec())
    }
    fn inputs(&self) -> usize {
        each!(self, m => m.inputs())
    }
    fn classes(&self) -> usize {
        each!(self, m => m.classes())
    }
    fn linears(&self) -> &[Layer] {
        each!(self, m => m.linears())
    }
    fn linears_mut(&mut self) -> &mut [Layer] {
        each!(self, m => m.linears_mut())
    }
    fn linear_names(&self) -> Vec<String> {
        each!(self, m => m.linear_names())
    }
    fn others(&self) -> Vec<(String, ArrayViewD<'_, f32>)> {
        each!(self, m => m.others())
    }
    fn others_mut(&mut self) -> Vec<ArrayViewMutD<'_, f32>> {
        each!(self, m => m.others_mut())
    }
    fn logits(&self, x: ArrayView2<f32>) -> Array2<f32> {
        each!(self, m => m.logits(x))
    }
    fn loss_and_gradients(
        &self,
        x: ArrayView2<f32>,
        labels: &[u8],
    ) -> (f32, Array2<f32>, Gradients) {
        each!(self, m => m.loss_and_gradients(x, labels))
    }
    fn linear_inputs(&self, x: ArrayView2<f32>, layer: usize) -> Array2<f32> {
        each!(self, m => m.linear_inputs(x, layer))
    }
    fn unit_groups(&self) -> Vec<UnitGroup> {
        each!(self, m => m.unit_groups())
    }
    fn blocks(&self) -> Option<&dyn super::Blocks> {
        each!(self, m => m.blocks())
    }
    fn blocks_mut(&mut self) -> Option<&mut dyn super::Blocks> {
        each!(self, m => m.blocks_mut())
    }
    fn rows_per_sample(&self, layer: usize) -> usize {
        each!(self, m => m.rows_per_sample(layer))
    }
    fn attention_flops(&self) -> u64 {
        each!(self, m => m.attention_flops())
    }
}
