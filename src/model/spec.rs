//! What `--arch` names: an MLP's widths (`784-300-100-10`) or the ViT (`vit`, or its canonical
//! spec `vit-d64-l4-h4-r2`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{Architecture, Init, Mlp, Model, Vit, VitConfig};
use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum ModelSpec {
    Mlp(Architecture),
    Vit(VitConfig),
}

impl Default for ModelSpec {
    fn default() -> Self {
        ModelSpec::Mlp(Architecture::lenet_300_100())
    }
}

impl From<Architecture> for ModelSpec {
    fn from(a: Architecture) -> Self {
        ModelSpec::Mlp(a)
    }
}

impl From<VitConfig> for ModelSpec {
    fn from(c: VitConfig) -> Self {
        ModelSpec::Vit(c)
    }
}

impl ModelSpec {
    /// The MLP's widths, or an error saying `what` works on MLPs only.
    pub fn mlp(&self, what: &str) -> Result<&Architecture> {
        match self {
            ModelSpec::Mlp(a) => Ok(a),
            ModelSpec::Vit(_) => Err(Error::Config(format!(
                "{what} runs on MLPs such as LeNet-300-100, not on the ViT"
            ))),
        }
    }

    pub fn is_vit(&self) -> bool {
        matches!(self, ModelSpec::Vit(_))
    }

    /// Pixels per image the model takes.
    pub fn inputs(&self) -> usize {
        match self {
            ModelSpec::Mlp(a) => a.inputs(),
            ModelSpec::Vit(_) => 784,
        }
    }

    pub fn outputs(&self) -> usize {
        match self {
            ModelSpec::Mlp(a) => a.outputs(),
            ModelSpec::Vit(_) => 10,
        }
    }

    /// θ₀ for `seed`. `init` applies to MLPs; the ViT is initialised as timm does.
    pub fn seeded(&self, init: Init, seed: u64) -> Model {
        match self {
            ModelSpec::Mlp(a) => Model::Mlp(Mlp::seeded(a, init, seed)),
            ModelSpec::Vit(c) => Model::from(Vit::seeded(c, seed)),
        }
    }
}

impl FromStr for ModelSpec {
    type Err = Error;

    fn from_str(spec: &str) -> Result<Self> {
        let Some(rest) = spec.strip_prefix("vit") else {
            return spec.parse().map(ModelSpec::Mlp);
        };
        if rest.is_empty() {
            return Ok(ModelSpec::Vit(VitConfig::default()));
        }
        let bad = || Error::Architecture {
            spec: spec.to_owned(),
            problem: "a ViT is `vit` or `vit-d<dim>-l<depth>-h<heads>-r<mlp ratio>`".into(),
        };
        let mut config = VitConfig::default();
        for part in rest.strip_prefix('-').ok_or_else(bad)?.split('-') {
            let (key, value) = part.split_at_checked(1).ok_or_else(bad)?;
            let int = || value.parse::<usize>().map_err(|_| bad());
            match key {
                "d" => config.dim = int()?,
                "l" => config.depth = int()?,
                "h" => config.heads = int()?,
                "r" => config.mlp_ratio = value.parse().map_err(|_| bad())?,
                _ => return Err(bad()),
            }
        }
        config.validate()?;
        Ok(ModelSpec::Vit(config))
    }
}

impl TryFrom<String> for ModelSpec {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

impl From<ModelSpec> for String {
    fn from(s: ModelSpec) -> String {
        s.to_string()
    }
}

impl fmt::Display for ModelSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelSpec::Mlp(a) => a.fmt(f),
            ModelSpec::Vit(c) => c.fmt(f),
        }
    }
}

/// A model type that can be made from a spec: what [`crate::train::Trainer::new`] draws θ₀ with.
pub trait FromSpec: super::Network + Sized {
    fn from_spec(spec: &ModelSpec, init: Init, seed: u64) -> Result<Self>;
}

impl FromSpec for Model {
    fn from_spec(spec: &ModelSpec, init: Init, seed: u64) -> Result<Self> {
        Ok(spec.seeded(init, seed))
    }
}

impl FromSpec for Mlp {
    fn from_spec(spec: &ModelSpec, init: Init, seed: u64) -> Result<Self> {
        Ok(Mlp::seeded(spec.mlp("this trainer")?, init, seed))
    }
}

impl FromSpec for Vit {
    fn from_spec(spec: &ModelSpec, _init: Init, seed: u64) -> Result<Self> {
        match spec {
            ModelSpec::Vit(c) => Ok(Vit::seeded(c, seed)),
            ModelSpec::Mlp(a) => Err(Error::Config(format!("{a} is an MLP, not a ViT"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_kinds_and_prints_the_canonical_spec() {
        let lenet: ModelSpec = "784-300-100-10".parse().unwrap();
        assert_eq!(lenet, ModelSpec::Mlp(Architecture::lenet_300_100()));
        let vit: ModelSpec = "vit".parse().unwrap();
        assert_eq!(vit.to_string(), "vit-d64-l4-h4-r2");
        assert_eq!(vit.to_string().parse::<ModelSpec>().unwrap(), vit);
        let small: ModelSpec = "vit-d8-l2-h2-r2".parse().unwrap();
        assert_eq!(small.to_string(), "vit-d8-l2-h2-r2");
        for bad in ["vitx", "vit-d", "vit-d64-q3", "vit-d64-h5", "vit-d0"] {
            assert!(bad.parse::<ModelSpec>().is_err(), "{bad}");
        }
    }
}
