//! What head and layer pruning ask of a model built from attention blocks, whatever its type:
//! its heads and blocks, the masks that remove them, the gradients of the gates that score them,
//! and the residual stream between blocks.
//!
//! A [`Network`](super::Network) that has blocks hands this out through
//! [`Network::blocks`](super::Network::blocks); an MLP has none, and the head and layer methods
//! say so instead of guessing.

use ndarray::{Array1, Array2, ArrayView2};

use super::vit::{GateGradients, Gates};
use crate::error::Result;

pub trait Blocks {
    /// Blocks in the model, removed ones included.
    fn depth(&self) -> usize;

    /// Heads in each block, masked ones included.
    fn heads_per_block(&self) -> Vec<usize>;

    /// Per block, 1 for each head kept and 0 for each one masked.
    fn head_masks(&self) -> Vec<Array1<f32>>;

    /// Masks heads (0) or keeps them (1), every block at once.
    fn set_head_masks(&mut self, masks: &[Array1<f32>]) -> Result<()>;

    /// Which blocks pass their input through unchanged.
    fn removed_blocks(&self) -> Vec<bool>;

    fn set_removed_blocks(&mut self, removed: &[bool]) -> Result<()>;

    /// The gates at 1 for every head and block: the model as it is.
    fn unit_gates(&self) -> Gates;

    /// Per image, ∂L_x/∂ξ_h for every head and ∂L_x/∂γ_ℓ for every block, at the gates the
    /// model holds (1).
    fn gate_gradients(&self, x: ArrayView2<f32>, labels: &[u8]) -> GateGradients;

    /// Mean cross-entropy with the gates set to `gates` (0 drops a head or a block).
    fn loss_with_gates(&self, x: ArrayView2<f32>, labels: &[u8], gates: &Gates) -> f32;

    /// The residual stream `[n·tokens, D]` entering block 0 and leaving each block: `depth + 1`
    /// arrays, the first being block 0's input and the last what the classifier pools.
    fn residual_streams(&self, x: ArrayView2<f32>) -> Vec<Array2<f32>>;

    /// Tokens per image in the residual stream.
    fn tokens(&self) -> usize;

    /// Linear-layer indices of block `block`'s `qkv` and `proj`.
    fn attention_layers(&self, block: usize) -> (usize, usize);

    /// Channels per head.
    fn head_dim(&self) -> usize;
}
