//! SGD with momentum, Adam and AdamW over any model's parameter tensors, all holding pruned
//! weights at exactly zero.
//!
//! Masking only the forward pass is not enough: Adam's moment estimates carry gradient history, so
//! a pruned weight with a non-zero first moment would grow back on the next step (a bug public
//! course code has shipped, turning a sparse-vs-dense comparison into dense vs dense). Here the
//! gradient is masked, the update is computed, and the weight is set to +0 where the mask is 0, in
//! the same pass; the moments of pruned weights are cleared so that un-pruning later starts fresh.
//!
//! AdamW (Loshchilov & Hutter 2019, PyTorch's `torch.optim.AdamW`) decays the weight by
//! `lr · weight_decay` before the Adam update, apart from the gradient. Following timm's
//! convention the decay applies to the linear layers' weights only: never to biases, LayerNorm
//! parameters or position embeddings (every parameter outside [`Network::linears`]), and never to
//! a pruned entry.

use ndarray::{ArrayViewMut2, Axis, Zip};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::{Gradients, Network};
use crate::parallel;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    Sgd,
    Adam,
    #[serde(rename = "adamw")]
    AdamW,
}

impl std::str::FromStr for OptimizerKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "sgd" => Ok(OptimizerKind::Sgd),
            "adam" => Ok(OptimizerKind::Adam),
            "adamw" => Ok(OptimizerKind::AdamW),
            other => Err(Error::Config(format!(
                "unknown optimizer {other:?} (use sgd, adam or adamw)"
            ))),
        }
    }
}

impl OptimizerKind {
    pub fn name(self) -> &'static str {
        match self {
            OptimizerKind::Sgd => "sgd",
            OptimizerKind::Adam => "adam",
            OptimizerKind::AdamW => "adamw",
        }
    }
}

/// Hyper-parameters. `momentum` is used by SGD only; `beta1`, `beta2`, `eps` by Adam and AdamW;
/// `weight_decay` by AdamW only.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OptimizerConfig {
    pub kind: OptimizerKind,
    pub lr: f32,
    pub momentum: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    #[serde(default)]
    pub weight_decay: f32,
}

impl OptimizerConfig {
    /// Adam at the lottery-ticket paper's learning rate for LeNet-300-100 (1.2e-3) and PyTorch's
    /// default betas and epsilon.
    pub fn adam() -> Self {
        Self {
            kind: OptimizerKind::Adam,
            lr: 1.2e-3,
            momentum: 0.0,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
        }
    }

    /// AdamW as the shipped ViT trains: lr 1e-3, weight decay 0.05, PyTorch's betas and
    /// epsilon.
    pub fn adamw() -> Self {
        Self {
            kind: OptimizerKind::AdamW,
            lr: 1e-3,
            weight_decay: 0.05,
            ..Self::adam()
        }
    }

    /// SGD with Nesterov-free heavy-ball momentum 0.9 (PyTorch semantics: v ← μv + g, w ← w − ηv).
    pub fn sgd() -> Self {
        Self {
            kind: OptimizerKind::Sgd,
            lr: 0.05,
            momentum: 0.9,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
        }
    }

    pub fn default_for(kind: OptimizerKind) -> Self {
        match kind {
            OptimizerKind::Sgd => Self::sgd(),
            OptimizerKind::Adam => Self::adam(),
            OptimizerKind::AdamW => Self::adamw(),
        }
    }

    pub fn validate(&self) -> Result<()> {
        let bad = |what: &str, v: f32| Err(Error::Config(format!("{what} = {v} is out of range")));
        if !(self.lr.is_finite() && self.lr > 0.0 && self.lr <= 10.0) {
            return bad("learning rate (0 < lr <= 10)", self.lr);
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return bad("momentum (0 <= momentum < 1)", self.momentum);
        }
        if !(0.0..1.0).contains(&self.beta1) || !(0.0..1.0).contains(&self.beta2) {
            return bad("Adam beta (0 <= beta < 1)", self.beta1.max(self.beta2));
        }
        if self.eps.is_nan() || self.eps <= 0.0 {
            return bad("Adam epsilon (> 0)", self.eps);
        }
        if !(0.0..1.0).contains(&self.weight_decay) {
            return bad("weight decay (0 <= decay < 1)", self.weight_decay);
        }
        if self.weight_decay != 0.0 && self.kind != OptimizerKind::AdamW {
            return Err(Error::Config(format!(
                "weight decay applies to adamw only, not {}",
                self.kind.name()
            )));
        }
        Ok(())
    }
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        Self::adam()
    }
}

/// Optimizer state of one tensor: SGD keeps its velocity in `m`; Adam keeps both moments.
#[derive(Debug, Clone)]
struct Moments {
    m: Vec<f32>,
    v: Vec<f32>,
}

impl Moments {
    fn zeros(n: usize) -> Self {
        Self {
            m: vec![0.0; n],
            v: vec![0.0; n],
        }
    }
}

#[derive(Debug, Clone)]
pub struct Optimizer {
    config: OptimizerConfig,
    /// Per linear layer: its weight's state, then its bias's.
    linears: Vec<(Moments, Moments)>,
    /// Per other parameter tensor, in [`Network::others`] order.
    others: Vec<Moments>,
    /// Updates taken so far (Adam's bias correction needs it).
    t: u32,
}

impl Optimizer {
    pub fn new(config: OptimizerConfig, model: &impl Network) -> Self {
        let linears = model
            .linears()
            .iter()
            .map(|l| (Moments::zeros(l.weight.len()), Moments::zeros(l.bias.len())))
            .collect();
        let others = model
            .others()
            .iter()
            .map(|(_, a)| Moments::zeros(a.len()))
            .collect();
        Self {
            config,
            linears,
            others,
            t: 0,
        }
    }

    pub fn config(&self) -> &OptimizerConfig {
        &self.config
    }

    /// Sets the learning rate of the next steps (a schedule's warmup and decay).
    pub fn set_lr(&mut self, lr: f32) {
        self.config.lr = lr;
    }

    /// Applies one update to `model` from `grads`. Pruned weights end exactly at +0.
    pub fn step(&mut self, model: &mut impl Network, grads: &Gradients) {
        self.t += 1;
        let c = self.config;
        let t = self.t as i32;
        // Adam's bias corrections folded into the step size, as in Kingma & Ba's Algorithm 1
        // (the "efficient version" at the end of section 2).
        let bc1 = 1.0 - c.beta1.powi(t);
        let bc2 = 1.0 - c.beta2.powi(t);
        let adam_step = c.lr * bc2.sqrt() / bc1;
        let adam_eps = c.eps * bc2.sqrt();
        // One scalar rule for every tensor; SGD keeps its velocity in `m`.
        let update = |p: &mut f32, m: &mut f32, v: &mut f32, g: f32| match c.kind {
            OptimizerKind::Sgd => {
                *m = c.momentum * *m + g;
                *p -= c.lr * *m;
            }
            OptimizerKind::Adam | OptimizerKind::AdamW => {
                *m = c.beta1 * *m + (1.0 - c.beta1) * g;
                *v = c.beta2 * *v + (1.0 - c.beta2) * g * g;
                *p -= adam_step * *m / (v.sqrt() + adam_eps);
            }
        };
        let decay = match c.kind {
            OptimizerKind::AdamW => 1.0 - c.lr * c.weight_decay,
            _ => 1.0,
        };
        // The weights in row blocks, one per thread where an elementwise pass is split (the
        // threaded wasm build; one block per layer otherwise), all updated in one pass over the
        // threads: every entry gets the same update either way.
        let mut blocks = Vec::new();
        for ((layer, (sw, sb)), (gw, gb)) in model
            .linears_mut()
            .iter_mut()
            .zip(&mut self.linears)
            .zip(grads.weight.iter().zip(&grads.bias))
        {
            let (rows, cols) = gw.dim();
            let parts = parallel::elementwise_parts(gw.len()).clamp(1, rows.max(1));
            let cut = rows.div_ceil(parts).max(1);
            let state = (cut * cols).max(1);
            blocks.extend(
                layer
                    .weight
                    .axis_chunks_iter_mut(Axis(0), cut)
                    .zip(layer.mask.axis_chunks_iter(Axis(0), cut))
                    .zip(gw.axis_chunks_iter(Axis(0), cut))
                    .zip(sw.m.chunks_mut(state).zip(sw.v.chunks_mut(state))),
            );
            for (((b, m), v), &g) in layer.bias.iter_mut().zip(&mut sb.m).zip(&mut sb.v).zip(gb) {
                update(b, m, v, g);
            }
        }
        parallel::each(blocks, |(((w, mask), g), (m, v))| {
            let dim = w.dim();
            Zip::from(w)
                .and(mask)
                .and(g)
                .and(ArrayViewMut2::from_shape(dim, m).expect("state fits its weight"))
                .and(ArrayViewMut2::from_shape(dim, v).expect("state fits its weight"))
                .for_each(|w, &keep, &g, m, v| {
                    // A select, not `w * keep`: that would leave -0.0 for negative weights.
                    if keep == 0.0 {
                        (*w, *m, *v) = (0.0, 0.0, 0.0);
                    } else {
                        if decay != 1.0 {
                            *w *= decay;
                        }
                        update(w, m, v, g);
                    }
                });
        });
        for ((mut p, st), g) in model
            .others_mut()
            .into_iter()
            .zip(&mut self.others)
            .zip(&grads.other)
        {
            for (((p, m), v), &g) in p.iter_mut().zip(&mut st.m).zip(&mut st.v).zip(g) {
                update(p, m, v, g);
            }
        }
    }
}
