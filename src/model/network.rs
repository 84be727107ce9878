//! What the core knows of a model, whatever its type: named parameter tensors, the prunable
//! linear layers among them, a forward and a backward pass, and its structured units.
//!
//! Every pruning method, both optimizers and the CPU trainer are written against [`Network`], so
//! they work on LeNet-300-100 and on the tiny ViT alike and never ask which one they have.

use ndarray::{Array1, Array2, ArrayD, ArrayView2, ArrayViewD, ArrayViewMutD};

use super::{Blocks, Layer};

/// Which kind of model a [`Network`] is: `"mlp"` or `"vit"` in reports and files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    Mlp,
    Vit,
}

impl ModelKind {
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Mlp => "mlp",
            ModelKind::Vit => "vit",
        }
    }
}

/// Gradients of the loss with respect to every trainable parameter: one weight and one bias per
/// prunable linear layer (in [`Network::linears`] order), then the model's other parameters (in
/// [`Network::others`] order).
#[derive(Debug, Clone)]
pub struct Gradients {
    pub weight: Vec<Array2<f32>>,
    pub bias: Vec<Array1<f32>>,
    pub other: Vec<ArrayD<f32>>,
}

/// A group of structured units: the output rows of linear layer `producer` whose matching input
/// columns of layer `consumer` read them (an MLP's hidden neurons; a ViT block's MLP hidden
/// units). Removing unit j removes row j of the producer and column j of the consumer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnitGroup {
    pub producer: usize,
    pub consumer: usize,
    /// Whether removing a unit also zeroes its bias and its consumer column, so that it
    /// contributes exactly nothing (a ViT's MLP units, whose GELU(bias) would otherwise leak
    /// through). An MLP's neuron keeps both: it outputs the constant ReLU(bias), which
    /// compaction folds into the next layer's bias.
    pub whole: bool,
}

/// A model the core can train, prune, save and measure.
///
/// Invariant: every linear layer keeps `weight == weight ⊙ mask` (see [`Layer::set_mask`]), so a
/// forward pass can use the weights as they are. A model is plain data (`Send + Sync`), so the
/// CPU engine may run its steps on any of its threads ([`crate::parallel::in_pool`]).
pub trait Network: Clone + std::fmt::Debug + Send + Sync {
    fn kind(&self) -> ModelKind;

    /// The canonical spec, as `--arch` takes it and reports print it (`784-300-100-10`, or the
    /// ViT's full configuration).
    fn spec(&self) -> String;

    /// Input features per sample (784 for MNIST) and classes.
    fn inputs(&self) -> usize;
    fn classes(&self) -> usize;

    /// The prunable linear layers, in the order `--per-layer` lists them; the last one is the
    /// output layer (the one `--output-rate` applies to).
    fn linears(&self) -> &[Layer];
    fn linears_mut(&mut self) -> &mut [Layer];

    /// Each linear layer's name in the model's checkpoint, without `.weight` (`0`, `2`, … for the
    /// MLP; `patch_embed.proj`, `blocks.0.attn.qkv`, … for the ViT).
    fn linear_names(&self) -> Vec<String>;

    /// The trainable parameters that are not linear layers (LayerNorm weights and biases,
    /// position embeddings), with their checkpoint names and shapes. None of them is pruned or
    /// decayed.
    fn others(&self) -> Vec<(String, ArrayViewD<'_, f32>)>;
    fn others_mut(&mut self) -> Vec<ArrayViewMutD<'_, f32>>;

    /// Logits for a batch `[n, inputs]` of pixels in [0, 1].
    fn logits(&self, x: ArrayView2<f32>) -> Array2<f32>;

    /// Mean softmax cross-entropy on a batch, the logits, and the gradient of every parameter.
    fn loss_and_gradients(
        &self,
        x: ArrayView2<f32>,
        labels: &[u8],
    ) -> (f32, Array2<f32>, Gradients);

    /// What linear layer `layer` sees for the batch `x`, one row per input vector (one per image
    /// for the MLP, one per token for the ViT's blocks): Wanda and SparseGPT calibrate on these.
    fn linear_inputs(&self, x: ArrayView2<f32>, layer: usize) -> Array2<f32>;

    /// The structured units whole-neuron methods may remove.
    fn unit_groups(&self) -> Vec<UnitGroup>;

    /// The model's attention heads and blocks, for head and layer pruning; `None` for a model
    /// without them (an MLP).
    fn blocks(&self) -> Option<&dyn Blocks> {
        None
    }
    fn blocks_mut(&mut self) -> Option<&mut dyn Blocks> {
        None
    }

    /// All linear weights (biases excluded): what sparsity counts.
    fn weight_count(&self) -> usize {
        self.linears().iter().map(|l| l.weight.len()).sum()
    }

    /// Fraction of linear weights the masks keep, "Pm" in the lottery-ticket paper.
    fn weights_remaining(&self) -> f64 {
        let kept: usize = self.linears().iter().map(Layer::kept).sum();
        kept as f64 / self.weight_count().max(1) as f64
    }

    /// Input vectors linear layer `layer` multiplies per sample: 1 for an MLP, one per token for
    /// a ViT's blocks.
    fn rows_per_sample(&self, _layer: usize) -> usize {
        1
    }

    /// FLOPs per sample of the matrix products that are not linear layers (a ViT's attention:
    /// q·kᵀ and P·v); 0 for an MLP.
    fn attention_flops(&self) -> u64 {
        0
    }

    /// Dense forward FLOPs per sample, one count for every model: 2·m·n·k for each matrix
    /// product, attention's two included. A training step is counted as three forward passes.
    fn forward_flops(&self) -> u64 {
        let linear: u64 = self
            .linears()
            .iter()
            .enumerate()
            .map(|(i, l)| (2 * l.weight.len() * self.rows_per_sample(i)) as u64)
            .sum();
        linear + self.attention_flops()
    }

    /// Every trainable parameter, as PyTorch's `sum(p.numel() for p in model.parameters())`.
    fn param_count(&self) -> usize {
        let linear: usize = self
            .linears()
            .iter()
            .map(|l| l.weight.len() + l.bias.len())
            .sum();
        linear + self.others().iter().map(|(_, a)| a.len()).sum::<usize>()
    }
}
