//! Layer lists such as `784-300-100-10`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// Widths of an MLP's layers, input first, classes last.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Architecture(Vec<usize>);

/// A width no sensible MNIST MLP exceeds; rejects typos like `784-30000000-10` before they try to
/// allocate gigabytes.
const MAX_WIDTH: usize = 16_384;

impl Architecture {
    /// LeNet-300-100 (LeCun et al. 1998), the network of the pruning and lottery-ticket papers.
    pub fn lenet_300_100() -> Self {
        Self(vec![784, 300, 100, 10])
    }

    /// The smaller MLP of the glossary this project grew from.
    pub fn mlp_256_128() -> Self {
        Self(vec![784, 256, 128, 10])
    }

    /// Widths read off existing weight matrices: they exist, so they need no range check.
    pub(crate) fn from_existing_widths(widths: Vec<usize>) -> Self {
        Self(widths)
    }

    pub fn widths(&self) -> &[usize] {
        &self.0
    }

    pub fn inputs(&self) -> usize {
        self.0[0]
    }

    pub fn outputs(&self) -> usize {
        self.0[self.0.len() - 1]
    }

    /// Number of weights (biases excluded, as sparsity counts weights only).
    pub fn weight_count(&self) -> usize {
        self.0.windows(2).map(|w| w[0] * w[1]).sum()
    }
}

impl Default for Architecture {
    fn default() -> Self {
        Self::lenet_300_100()
    }
}

impl FromStr for Architecture {
    type Err = Error;

    fn from_str(spec: &str) -> Result<Self, Error> {
        let bad = |problem: String| Error::Architecture {
            spec: spec.to_owned(),
            problem,
        };
        let widths = spec
            .split(['-', ','])
            .map(|w| {
                w.trim()
                    .parse::<usize>()
                    .map_err(|_| bad(format!("{w:?} is not a layer width")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if widths.len() < 2 {
            return Err(bad(
                "needs at least an input and an output width, e.g. 784-10".into(),
            ));
        }
        if let Some(w) = widths.iter().find(|&&w| w == 0 || w > MAX_WIDTH) {
            return Err(bad(format!("width {w} is outside 1..={MAX_WIDTH}")));
        }
        Ok(Self(widths))
    }
}

impl TryFrom<String> for Architecture {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        s.parse()
    }
}

impl From<Architecture> for String {
    fn from(a: Architecture) -> String {
        a.to_string()
    }
}

impl fmt::Display for Architecture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(usize::to_string).collect();
        f.write_str(&parts.join("-"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_layer_lists() {
        let a: Architecture = "784-300-100-10".parse().unwrap();
        assert_eq!(a, Architecture::lenet_300_100());
        assert_eq!(a.to_string(), "784-300-100-10");
        assert_eq!(a.weight_count(), 266_200);
    }

    #[test]
    fn rejects_bad_lists() {
        for bad in ["", "784", "784-x-10", "784-0-10", "784-99999999-10"] {
            assert!(bad.parse::<Architecture>().is_err(), "{bad}");
        }
    }
}
