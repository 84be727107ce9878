//! The ViT's shape: what `--dim`, `--depth`, `--heads` and `--mlp-ratio` set, and what its
//! checkpoints record in their metadata.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct VitConfig {
    /// D, the width of the residual stream (`embed_dim`).
    pub dim: usize,
    /// L, the number of blocks.
    pub depth: usize,
    /// H, heads per block; each has `dim / heads` channels.
    pub heads: usize,
    /// r: each block's MLP has `r·D` hidden units (timm: `int(embed_dim * mlp_ratio)`).
    pub mlp_ratio: f64,
}

/// Widths past this are typos on MNIST, and would allocate gigabytes.
const MAX_DIM: usize = 1_024;
const MAX_DEPTH: usize = 24;

impl Default for VitConfig {
    /// The shipped ViT: D = 64, 4 blocks of 4 heads of 16, MLP ratio 2 (about 139k parameters).
    fn default() -> Self {
        Self {
            dim: 64,
            depth: 4,
            heads: 4,
            mlp_ratio: 2.0,
        }
    }
}

impl VitConfig {
    pub fn head_dim(&self) -> usize {
        self.dim / self.heads.max(1)
    }

    pub fn hidden(&self) -> usize {
        (self.dim as f64 * self.mlp_ratio) as usize
    }

    pub fn validate(&self) -> Result<()> {
        let bad = |what: String| Err(Error::Config(format!("ViT: {what}")));
        if self.dim == 0 || self.dim > MAX_DIM {
            return bad(format!("--dim {} is outside 1..={MAX_DIM}", self.dim));
        }
        if self.depth == 0 || self.depth > MAX_DEPTH {
            return bad(format!("--depth {} is outside 1..={MAX_DEPTH}", self.depth));
        }
        if self.heads == 0 || !self.dim.is_multiple_of(self.heads) {
            return bad(format!(
                "--heads {} must divide --dim {} (each head gets dim / heads channels)",
                self.heads, self.dim
            ));
        }
        if !(self.mlp_ratio.is_finite() && self.mlp_ratio > 0.0 && self.mlp_ratio <= 16.0)
            || self.hidden() == 0
        {
            return bad(format!(
                "--mlp-ratio {} must give at least one hidden unit and be at most 16",
                self.mlp_ratio
            ));
        }
        Ok(())
    }
}

impl std::fmt::Display for VitConfig {
    /// The canonical spec: `vit-d64-l4-h4-r2`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "vit-d{}-l{}-h{}-r{}",
            self.dim, self.depth, self.heads, self.mlp_ratio
        )
    }
}
