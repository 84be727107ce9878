//! SGD with momentum and Adam, both holding pruned weights at exactly zero.
//!
//! Masking only the forward pass is not enough: Adam's moment estimates carry gradient history, so
//! a pruned weight with a non-zero first moment would grow back on the next step (a bug public
//! course code has shipped, turning a sparse-vs-dense comparison into dense vs dense). Here the
//! gradient is masked, the update is computed, and the weight is set to +0 where the mask is 0, in
//! the same pass; the moments of pruned weights are cleared so that un-pruning later starts fresh.

use ndarray::{Array1, Array2, Zip};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::{Gradients, Mlp};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    Sgd,
    Adam,
}

impl std::str::FromStr for OptimizerKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "sgd" => Ok(OptimizerKind::Sgd),
            "adam" => Ok(OptimizerKind::Adam),
            other => Err(Error::Config(format!(
                "unknown optimizer {other:?} (use sgd or adam)"
            ))),
        }
    }
}

/// Hyper-parameters. `momentum` is used by SGD only; `beta1`, `beta2`, `eps` by Adam only.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OptimizerConfig {
    pub kind: OptimizerKind,
    pub lr: f32,
    pub momentum: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
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
        }
    }

    pub fn default_for(kind: OptimizerKind) -> Self {
        match kind {
            OptimizerKind::Sgd => Self::sgd(),
            OptimizerKind::Adam => Self::adam(),
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
        Ok(())
    }
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        Self::adam()
    }
}

/// Per-layer optimizer state: SGD keeps its velocity in `m`; Adam keeps both moments.
#[derive(Debug, Clone)]
struct Moments {
    m_w: Array2<f32>,
    v_w: Array2<f32>,
    m_b: Array1<f32>,
    v_b: Array1<f32>,
}

#[derive(Debug, Clone)]
pub struct Optimizer {
    config: OptimizerConfig,
    state: Vec<Moments>,
    /// Updates taken so far (Adam's bias correction needs it).
    t: u32,
}

impl Optimizer {
    pub fn new(config: OptimizerConfig, model: &Mlp) -> Self {
        let state = model
            .layers()
            .iter()
            .map(|l| Moments {
                m_w: Array2::zeros(l.weight.dim()),
                v_w: Array2::zeros(l.weight.dim()),
                m_b: Array1::zeros(l.bias.len()),
                v_b: Array1::zeros(l.bias.len()),
            })
            .collect();
        Self {
            config,
            state,
            t: 0,
        }
    }

    pub fn config(&self) -> &OptimizerConfig {
        &self.config
    }

    /// Applies one update to `model` from `grads`. Pruned weights end exactly at +0.
    pub fn step(&mut self, model: &mut Mlp, grads: &Gradients) {
        self.t += 1;
        let c = self.config;
        let t = self.t as i32;
        // Adam's bias corrections folded into the step size, as in Kingma & Ba's Algorithm 1
        // (the "efficient version" at the end of section 2).
        let bc1 = 1.0 - c.beta1.powi(t);
        let bc2 = 1.0 - c.beta2.powi(t);
        let adam_step = c.lr * bc2.sqrt() / bc1;
        let adam_eps = c.eps * bc2.sqrt();
        // One scalar rule for weights and biases alike; SGD keeps its velocity in `m`.
        let update = |p: &mut f32, m: &mut f32, v: &mut f32, g: f32| match c.kind {
            OptimizerKind::Sgd => {
                *m = c.momentum * *m + g;
                *p -= c.lr * *m;
            }
            OptimizerKind::Adam => {
                *m = c.beta1 * *m + (1.0 - c.beta1) * g;
                *v = c.beta2 * *v + (1.0 - c.beta2) * g * g;
                *p -= adam_step * *m / (v.sqrt() + adam_eps);
            }
        };
        for ((layer, st), (gw, gb)) in model
            .layers_mut()
            .iter_mut()
            .zip(&mut self.state)
            .zip(grads.weight.iter().zip(&grads.bias))
        {
            Zip::from(&mut layer.weight)
                .and(&mut st.m_w)
                .and(&mut st.v_w)
                .and(gw)
                .and(&layer.mask)
                .for_each(|w, m, v, &g, &keep| {
                    // A select, not `w * keep`: that would leave -0.0 for negative weights.
                    if keep == 0.0 {
                        (*w, *m, *v) = (0.0, 0.0, 0.0);
                    } else {
                        update(w, m, v, g);
                    }
                });
            Zip::from(&mut layer.bias)
                .and(&mut st.m_b)
                .and(&mut st.v_b)
                .and(gb)
                .for_each(|b, m, v, &g| update(b, m, v, g));
        }
    }
}
