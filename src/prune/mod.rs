//! Pruning methods, each in its own file, exposed in stages so the page and the CLI can show each
//! one: (1) importance scores, per weight or per neuron; (2) the selection: the new masks (and,
//! for SparseGPT, the compensated weights); (3) applying it to the model; (4) fine-tuning with the
//! masks held is ordinary training ([`crate::train::Trainer::with_model`]).
//!
//! Options shared by all methods: the sparsity (the fraction of the still-unpruned weights to
//! prune, as `torch.nn.utils.prune` counts it), optional per-layer amounts, the output layer's rate
//! as a multiplier of the sparsity, an N:M pattern, a seed, and the calibration size. Biases are
//! never pruned. Structured methods prune neurons of hidden layers only, never output units.

pub mod calibration;
pub mod compaction;
pub mod cost;
pub mod global_magnitude;
pub mod gradual;
pub mod heads;
pub mod heads_ablation;
pub mod heads_magnitude;
pub mod heads_random;
pub mod heads_taylor;
pub mod iterative;
pub mod layers;
pub mod layers_ablation;
pub mod layers_angular;
pub mod layers_bi;
pub mod layers_last;
pub mod layers_taylor;
pub mod linalg;
pub mod magnitude;
pub mod pixels;
pub mod random;
pub mod selection;
pub mod sparsegpt;
pub mod structured;
pub mod taylor;
pub mod variants;
pub mod vit_compaction;
pub mod wanda;

pub use heads::Scope;

use ndarray::{Array1, Array2};
use serde::Serialize;

use self::calibration::Calibration;
use self::selection::{n_of_m, prune_lowest, prune_lowest_per_row};
use crate::error::{Error, Result};
use crate::model::{ModelKind, Network};

/// A semi-structured N:M pattern: in every group of `m` consecutive inputs of an output row,
/// `n` weights are kept (2:4 is what NVIDIA Ampere sparse tensor cores accelerate).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NM {
    pub n: usize,
    pub m: usize,
}

/// The one-shot methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Magnitude,
    GlobalMagnitude,
    Random,
    StructuredL1,
    StructuredL2,
    Taylor,
    TaylorNeuron,
    Wanda,
    SparseGpt,
    HeadsTaylor,
    HeadsMagnitude,
    HeadsAblation,
    HeadsRandom,
    LayersBi,
    LayersAngular,
    LayersLast,
    LayersAblation,
    LayersTaylor,
}

/// What a method removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// Single weights (and N:M groups of them).
    Weights,
    /// Whole hidden neurons (an MLP's) or MLP units (a ViT block's).
    Neurons,
    /// Whole attention heads.
    Heads,
    /// Whole blocks.
    Layers,
}

impl Method {
    /// The attention-head methods, `--methods heads-all` in a sweep.
    pub const HEADS: [Method; 4] = [
        Method::HeadsTaylor,
        Method::HeadsMagnitude,
        Method::HeadsAblation,
        Method::HeadsRandom,
    ];

    /// The block methods, `--methods layers-all` in a sweep.
    pub const LAYERS: [Method; 5] = [
        Method::LayersBi,
        Method::LayersAngular,
        Method::LayersLast,
        Method::LayersAblation,
        Method::LayersTaylor,
    ];

    /// Every method: [`Method::ALL`], then the head and the block methods.
    pub fn every() -> impl Iterator<Item = Method> {
        Self::ALL.into_iter().chain(Self::HEADS).chain(Self::LAYERS)
    }

    pub fn family(self) -> Family {
        match self {
            m if m.is_structured() => Family::Neurons,
            m if Self::HEADS.contains(&m) => Family::Heads,
            m if Self::LAYERS.contains(&m) => Family::Layers,
            _ => Family::Weights,
        }
    }

    pub fn is_head(self) -> bool {
        self.family() == Family::Heads
    }

    pub fn is_layer(self) -> bool {
        self.family() == Family::Layers
    }

    pub const ALL: [Method; 9] = [
        Method::Magnitude,
        Method::GlobalMagnitude,
        Method::Random,
        Method::StructuredL1,
        Method::StructuredL2,
        Method::Taylor,
        Method::TaylorNeuron,
        Method::Wanda,
        Method::SparseGpt,
    ];

    /// The name on the command line and in URLs.
    pub fn name(self) -> &'static str {
        match self {
            Method::Magnitude => "magnitude",
            Method::GlobalMagnitude => "global-magnitude",
            Method::Random => "random",
            Method::StructuredL1 => "structured-l1",
            Method::StructuredL2 => "structured-l2",
            Method::Taylor => "taylor",
            Method::TaylorNeuron => "taylor-neuron",
            Method::Wanda => "wanda",
            Method::SparseGpt => "sparsegpt",
            Method::HeadsTaylor => "heads-taylor",
            Method::HeadsMagnitude => "heads-magnitude",
            Method::HeadsAblation => "heads-ablation",
            Method::HeadsRandom => "heads-random",
            Method::LayersBi => "layers-bi",
            Method::LayersAngular => "layers-angular",
            Method::LayersLast => "layers-last",
            Method::LayersAblation => "layers-ablation",
            Method::LayersTaylor => "layers-taylor",
        }
    }

    /// One line for `pruneplay prune --list`.
    pub fn summary(self) -> &'static str {
        match self {
            Method::Magnitude => {
                "smallest |w| in each layer (PyTorch l1_unstructured); N:M with --n/--m"
            }
            Method::GlobalMagnitude => {
                "smallest |w| across all layers ranked together (global_unstructured)"
            }
            Method::Random => "random weights in each layer: the baseline",
            Method::StructuredL1 => {
                "whole hidden neurons with the smallest L1 norm of incoming weights"
            }
            Method::StructuredL2 => {
                "whole hidden neurons with the smallest L2 norm of incoming weights"
            }
            Method::Taylor => "smallest |w · dL/dw| summed over calibration batches, per layer",
            Method::TaylorNeuron => "whole hidden neurons with the smallest summed Taylor scores",
            Method::Wanda => {
                "smallest |w| · ||x||, per output row, layer by layer; N:M with --n/--m"
            }
            Method::SparseGpt => {
                "OBS saliency w²/[H⁻¹]ᵢᵢ with compensating updates; N:M with --n/--m"
            }
            Method::HeadsTaylor => {
                "ViT heads with the smallest mean |dL/dξ| on their gate (Michel et al. 2019)"
            }
            Method::HeadsMagnitude => "ViT heads with the smallest q/k/v rows and proj columns",
            Method::HeadsAblation => "ViT heads whose removal alone raises the loss least",
            Method::HeadsRandom => "random ViT heads: the baseline",
            Method::LayersBi => "ViT blocks that turn the residual stream least (ShortGPT's BI)",
            Method::LayersAngular => {
                "the N contiguous ViT blocks with the smallest angular distance (Gromov et al.)"
            }
            Method::LayersLast => "the deepest N ViT blocks",
            Method::LayersAblation => "ViT blocks whose removal alone raises the loss least",
            Method::LayersTaylor => "ViT blocks with the smallest mean |dL/dγ| on their gate",
        }
    }

    pub fn from_name(name: &str) -> Result<Self> {
        Self::every().find(|m| m.name() == name).ok_or_else(|| {
            let names: Vec<&str> = Self::every().map(|m| m.name()).collect();
            Error::Config(format!(
                "unknown method {name:?}; the methods are {}",
                names.join(", ")
            ))
        })
    }

    /// Removes whole neurons (then [`compaction::compact`] can shrink the model).
    pub fn is_structured(self) -> bool {
        matches!(
            self,
            Method::StructuredL1 | Method::StructuredL2 | Method::TaylorNeuron
        )
    }

    /// Looks at calibration data.
    pub fn needs_calibration(self) -> bool {
        !matches!(
            self,
            Method::Magnitude
                | Method::GlobalMagnitude
                | Method::Random
                | Method::StructuredL1
                | Method::StructuredL2
                | Method::HeadsMagnitude
                | Method::HeadsRandom
                | Method::LayersLast
        )
    }

    /// Whether the method applies to a model of this kind. Weight and neuron methods apply to
    /// both (a ViT's neurons are its blocks' MLP units); head and block methods need a
    /// transformer.
    pub fn applies_to(self, kind: ModelKind) -> bool {
        match self.family() {
            Family::Weights | Family::Neurons => true,
            Family::Heads | Family::Layers => kind == ModelKind::Vit,
        }
    }

    /// The weight and neuron methods that apply to a model of this kind, in [`Method::ALL`]'s
    /// order (what `sweep --methods all` runs); the head and block methods have their own
    /// groups, [`Method::HEADS`] and [`Method::LAYERS`].
    pub fn all_for(kind: ModelKind) -> Vec<Method> {
        Self::ALL
            .into_iter()
            .filter(|m| m.applies_to(kind))
            .collect()
    }

    /// Every method that applies to a model of this kind.
    pub fn every_for(kind: ModelKind) -> Vec<Method> {
        Self::every().filter(|m| m.applies_to(kind)).collect()
    }

    pub fn supports_n_m(self) -> bool {
        matches!(self, Method::Magnitude | Method::Wanda | Method::SparseGpt)
    }
}

/// Settings shared by every method.
#[derive(Debug, Clone, PartialEq)]
pub struct PruneOptions {
    /// Fraction of the still-unpruned weights to prune (of hidden neurons, for structured methods).
    pub sparsity: f64,
    /// Per-layer fractions, overriding `sparsity` and `output_rate`.
    pub per_layer: Option<Vec<f64>>,
    /// The output layer prunes `output_rate × sparsity`: 1 as PyTorch does when every layer is
    /// listed, 0.5 as the lottery-ticket paper, 0 to leave it alone as open_lth does.
    pub output_rate: f64,
    /// N:M instead of a fraction (the sparsity is then 1 − N/M).
    pub pattern: Option<NM>,
    pub seed: u64,
    pub calibration_samples: usize,
    /// Head methods: where heads compete (`--scope`).
    pub scope: Scope,
    /// Head methods: rounds to reach the target, rescoring in between (`--rounds`).
    pub rounds: usize,
    /// Block methods: how many blocks to drop (`--remove`).
    pub remove: usize,
}

impl Default for PruneOptions {
    fn default() -> Self {
        Self {
            sparsity: 0.5,
            per_layer: None,
            output_rate: 1.0,
            pattern: None,
            seed: 0,
            calibration_samples: calibration::DEFAULT_SAMPLES,
            scope: Scope::Global,
            rounds: 1,
            remove: 0,
        }
    }
}

impl PruneOptions {
    pub fn validate(&self, method: Method, model: &impl Network) -> Result<()> {
        let fraction = |what: &str, v: f64| {
            if (0.0..1.0).contains(&v) {
                Ok(())
            } else {
                Err(Error::Config(format!("{what} {v} is outside [0, 1)")))
            }
        };
        if method.needs_calibration() && self.calibration_samples == 0 {
            return Err(Error::Config(
                "calibration size 0: at least one sample is needed".into(),
            ));
        }
        match method.family() {
            Family::Heads => return heads::validate(model, method, self),
            Family::Layers => return layers::validate(model, method, self),
            Family::Weights | Family::Neurons => {}
        }
        fraction("sparsity", self.sparsity)?;
        if !(0.0..=1.0).contains(&self.output_rate) {
            return Err(Error::Config(format!(
                "output rate {} is outside [0, 1]",
                self.output_rate
            )));
        }
        if let Some(per_layer) = &self.per_layer {
            if per_layer.len() != model.linears().len() {
                return Err(Error::Config(format!(
                    "{} per-layer amounts for a model with {} layers",
                    per_layer.len(),
                    model.linears().len()
                )));
            }
            for &a in per_layer {
                fraction("per-layer amount", a)?;
            }
        }
        if let Some(p) = self.pattern {
            if !method.supports_n_m() {
                return Err(Error::Config(format!(
                    "{} has no N:M form (use magnitude, wanda or sparsegpt)",
                    method.name()
                )));
            }
            if p.m == 0 || p.n == 0 || p.n > p.m {
                return Err(Error::Config(format!(
                    "N:M needs 0 < N <= M; got {}:{}",
                    p.n, p.m
                )));
            }
            // Layers whose width is not a multiple of M (the ViT's 49-pixel patch embedding)
            // keep their masks; a pattern that fits no layer is a mistake.
            if model
                .linears()
                .iter()
                .all(|l| !l.inputs().is_multiple_of(p.m))
            {
                let widths: Vec<String> = model
                    .linears()
                    .iter()
                    .map(|l| l.inputs().to_string())
                    .collect();
                return Err(Error::Config(format!(
                    "no layer's input count ({}) is a multiple of M = {}",
                    widths.join(", "),
                    p.m
                )));
            }
        }
        Ok(())
    }

    /// The fraction layer `i` of `layers` prunes.
    pub fn layer_amount(&self, i: usize, layers: usize) -> f64 {
        match &self.per_layer {
            Some(a) => a[i],
            None if i + 1 == layers => self.sparsity * self.output_rate,
            None => self.sparsity,
        }
    }

    /// Whether layer `i` of `layers`, with `inputs` inputs, is pruned at all: an output rate of
    /// 0 leaves the output layer alone, and an N:M pattern skips layers it does not divide.
    fn prunes_layer(&self, i: usize, layers: usize, inputs: usize) -> bool {
        let fits = self.pattern.is_none_or(|p| inputs.is_multiple_of(p.m));
        fits && self
            .per_layer
            .as_ref()
            .map_or(i + 1 < layers || self.output_rate > 0.0, |a| a[i] > 0.0)
    }
}

/// Stage 1: importance, one matrix per layer (per weight) or one vector per layer (per neuron).
#[derive(Debug, Clone)]
pub enum Scores {
    Weights(Vec<Array2<f32>>),
    Neurons(Vec<Array1<f32>>),
    /// One score per head, per block.
    Heads(Vec<Array1<f32>>),
    /// One score per block; for `layers-angular`, one distance per window start.
    Blocks(Array1<f32>),
}

/// Stage 2: the new masks, and for SparseGPT the compensated weights.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub masks: Vec<Array2<f32>>,
    pub weights: Option<Vec<Array2<f32>>>,
    /// New biases where the method zeroes some (a ViT MLP unit's `fc1` bias goes with it).
    pub biases: Option<Vec<Array1<f32>>>,
    /// Head methods: every block's head mask afterwards.
    pub head_masks: Option<Vec<Array1<f32>>>,
    /// Block methods: which blocks are removed afterwards.
    pub removed_blocks: Option<Vec<bool>>,
    /// Per layer, the highest score among the weights this selection pruned (everything at or
    /// below it went, ties aside); `None` where nothing new was pruned or scores are per neuron.
    pub thresholds: Vec<Option<f32>>,
}

/// The highest score among the weights newly pruned in each layer.
fn thresholds(scores: &Scores, model: &impl Network, masks: &[Array2<f32>]) -> Vec<Option<f32>> {
    let Scores::Weights(scores) = scores else {
        return vec![None; masks.len()];
    };
    scores
        .iter()
        .zip(model.linears())
        .zip(masks)
        .map(|((s, layer), new)| {
            let newly_pruned = s
                .iter()
                .zip(layer.mask.iter().zip(new))
                .filter(|&(_, (&old, &new))| old != 0.0 && new == 0.0)
                .map(|(&score, _)| score);
            newly_pruned.fold(None, |acc: Option<f32>, v| {
                Some(acc.map_or(v, |a| a.max(v)))
            })
        })
        .collect()
}

/// Weights and survivors of one layer, named as in the checkpoint (`0.weight`, …).
#[derive(Debug, Clone, Serialize)]
pub struct LayerCount {
    pub name: String,
    pub weights: usize,
    pub remaining: usize,
}

pub fn layer_counts(model: &impl Network) -> Vec<LayerCount> {
    model
        .linears()
        .iter()
        .zip(model.linear_names())
        .map(|(l, name)| LayerCount {
            name: format!("{name}.weight"),
            weights: l.weight.len(),
            remaining: l.kept(),
        })
        .collect()
}

pub(super) fn calibration_for(
    method: Method,
    calibration: Option<&Calibration>,
) -> Result<&Calibration> {
    calibration.ok_or_else(|| Error::Config(format!("{} needs calibration data", method.name())))
}

/// Stage 1. For Wanda and SparseGPT, layer l's scores are computed on the inputs it sees once the
/// layers before it are pruned (that is how those methods calibrate), so `options` matter here.
pub fn scores(
    method: Method,
    model: &impl Network,
    calibration: Option<&Calibration>,
    options: &PruneOptions,
) -> Result<Scores> {
    options.validate(method, model)?;
    Ok(match method {
        m if m.is_head() => Scores::Heads(heads::scores(m, model, calibration, options)?),
        m if m.is_layer() => Scores::Blocks(layers::scores(m, model, calibration, options)?),
        Method::Magnitude | Method::GlobalMagnitude => Scores::Weights(magnitude::scores(model)),
        Method::Random => Scores::Weights(random::scores(model, options.seed)),
        Method::StructuredL1 => Scores::Neurons(structured::neuron_norms(model, 1)),
        Method::StructuredL2 => Scores::Neurons(structured::neuron_norms(model, 2)),
        Method::Taylor => Scores::Weights(taylor::weight_scores(
            model,
            calibration_for(method, calibration)?,
        )),
        Method::TaylorNeuron => Scores::Neurons(taylor::neuron_scores(
            model,
            calibration_for(method, calibration)?,
        )),
        Method::Wanda => Scores::Weights(
            layer_by_layer(
                method,
                model,
                calibration_for(method, calibration)?,
                options,
            )?
            .0,
        ),
        Method::SparseGpt => Scores::Weights(
            layer_by_layer(
                method,
                model,
                calibration_for(method, calibration)?,
                options,
            )?
            .0,
        ),
        _ => unreachable!("head and layer methods are matched first"),
    })
}

/// Stage 2: the masks (and weights) the scores imply under `options`.
pub fn select(
    method: Method,
    model: &impl Network,
    scores: &Scores,
    calibration: Option<&Calibration>,
    options: &PruneOptions,
) -> Result<Selection> {
    options.validate(method, model)?;
    let layers = model.linears();
    let n = layers.len();
    let unchanged = || layers.iter().map(|l| l.mask.clone()).collect();
    match (method.family(), scores) {
        (Family::Heads, Scores::Heads(s)) => {
            return Ok(Selection {
                masks: unchanged(),
                head_masks: Some(heads::select(method, model, s, calibration, options)?),
                thresholds: vec![None; n],
                ..Selection::default()
            });
        }
        (Family::Layers, Scores::Blocks(s)) => {
            return Ok(Selection {
                masks: unchanged(),
                removed_blocks: Some(layers::select(method, model, s, options)?),
                thresholds: vec![None; n],
                ..Selection::default()
            });
        }
        (Family::Heads | Family::Layers, _) => {
            return Err(Error::Config(format!(
                "{}'s selection needs its own scores, per {}",
                method.name(),
                if method.is_head() { "head" } else { "block" }
            )));
        }
        _ => {}
    }
    if method == Method::SparseGpt {
        let (_, mut selection) = layer_by_layer(
            method,
            model,
            calibration_for(method, calibration)?,
            options,
        )?;
        selection.thresholds = thresholds(scores, model, &selection.masks);
        return Ok(selection);
    }
    let masks = match (method, scores) {
        (Method::GlobalMagnitude, _) if options.per_layer.is_none() => {
            global_magnitude::select(model, options.sparsity, options.output_rate)
        }
        (_, Scores::Neurons(neuron_scores)) => {
            let (masks, biases) = structured::select(model, neuron_scores, options.sparsity);
            let thresholds = thresholds(scores, model, &masks);
            return Ok(Selection {
                masks,
                biases,
                thresholds,
                ..Selection::default()
            });
        }
        (_, Scores::Weights(weight_scores)) => layers
            .iter()
            .zip(weight_scores)
            .enumerate()
            .map(|(i, (l, s))| select_layer(method, s, &l.mask, i, n, options))
            .collect(),
        (_, Scores::Heads(_) | Scores::Blocks(_)) => {
            return Err(Error::Config(format!(
                "{} prunes weights or neurons; it cannot select from head or block scores",
                method.name()
            )));
        }
    };
    let thresholds = thresholds(scores, model, &masks);
    Ok(Selection {
        masks,
        thresholds,
        ..Selection::default()
    })
}

/// One layer's mask from weight-level scores: N:M, per row (Wanda), or per layer.
fn select_layer(
    method: Method,
    scores: &Array2<f32>,
    mask: &Array2<f32>,
    i: usize,
    n: usize,
    o: &PruneOptions,
) -> Array2<f32> {
    if !o.prunes_layer(i, n, mask.ncols()) {
        return mask.clone();
    }
    match (o.pattern, method) {
        (Some(p), _) => n_of_m(scores.view(), mask.view(), p),
        (None, Method::Wanda) => {
            prune_lowest_per_row(scores.view(), mask.view(), o.layer_amount(i, n))
        }
        (None, _) => prune_lowest(scores.view(), mask.view(), o.layer_amount(i, n)),
    }
}

/// Wanda and SparseGPT: layer by layer, each scored (and for SparseGPT, solved) on the inputs
/// that flow through the layers already pruned. Returns every layer's scores and the selection.
fn layer_by_layer(
    method: Method,
    model: &impl Network,
    calibration: &Calibration,
    o: &PruneOptions,
) -> Result<(Vec<Array2<f32>>, Selection)> {
    let mut working = model.clone();
    let n = model.linears().len();
    let mut all_scores = Vec::with_capacity(n);
    let mut weights = Vec::with_capacity(n);
    for i in 0..n {
        let inputs = calibration.layer_inputs(&working, i);
        let layer = &working.linears()[i];
        let (scores, mask, weight) = match method {
            Method::SparseGpt if o.prunes_layer(i, n, layer.inputs()) => {
                let opts = sparsegpt::SparseGptOptions {
                    sparsity: o.layer_amount(i, n),
                    pattern: o.pattern,
                    ..Default::default()
                };
                let solved = sparsegpt::sparsegpt_layer(layer.weight.view(), inputs.view(), &opts)?;
                // The saliency SparseGPT starts from: w² / [H⁻¹]_jj.
                let mut s = layer.weight.mapv(|w| w * w);
                s /= &solved.hinv_diag.mapv(|d| d.max(f32::MIN_POSITIVE));
                // Keep what was pruned before pruned.
                let mask = &solved.mask * &layer.mask;
                (s, mask, solved.weight)
            }
            Method::SparseGpt => (
                layer.weight.mapv(|w| w * w),
                layer.mask.clone(),
                layer.weight.clone(),
            ),
            _ => {
                let s = wanda::layer_scores(&layer.weight, &wanda::input_norms(&inputs));
                let mask = select_layer(method, &s, &layer.mask, i, n, o);
                (s, mask, layer.weight.clone())
            }
        };
        let layer = &mut working.linears_mut()[i];
        layer.weight = weight.clone();
        layer.set_mask(mask)?;
        weights.push(layer.weight.clone());
        all_scores.push(scores);
    }
    let masks = working.linears().iter().map(|l| l.mask.clone()).collect();
    let weights = (method == Method::SparseGpt).then_some(weights);
    Ok((
        all_scores,
        Selection {
            masks,
            weights,
            ..Selection::default()
        },
    ))
}

/// Stage 3: writes the selection into the model (pruned weights become exactly 0).
pub fn apply(model: &mut impl Network, selection: &Selection) -> Result<()> {
    for (i, (layer, mask)) in model
        .linears_mut()
        .iter_mut()
        .zip(&selection.masks)
        .enumerate()
    {
        if let Some(weights) = &selection.weights {
            if weights[i].dim() != layer.weight.dim() {
                return Err(Error::Shape {
                    op: "prune::apply",
                    detail: format!("layer {i}"),
                });
            }
            layer.weight = weights[i].clone();
        }
        if let Some(biases) = &selection.biases {
            if biases[i].len() != layer.bias.len() {
                return Err(Error::Shape {
                    op: "prune::apply",
                    detail: format!("layer {i}'s bias"),
                });
            }
            layer.bias = biases[i].clone();
        }
        layer.set_mask(mask.clone())?;
    }
    let structural = selection.head_masks.is_some() || selection.removed_blocks.is_some();
    if structural {
        let kind = model.kind().name();
        let blocks = model.blocks_mut().ok_or_else(|| {
            Error::Config(format!(
                "this selection removes heads or blocks; the {kind} has none"
            ))
        })?;
        if let Some(masks) = &selection.head_masks {
            blocks.set_head_masks(masks)?;
        }
        if let Some(removed) = &selection.removed_blocks {
            blocks.set_removed_blocks(removed)?;
        }
    }
    Ok(())
}

/// All three stages at once.
pub fn prune(
    method: Method,
    model: &mut impl Network,
    calibration: Option<&Calibration>,
    options: &PruneOptions,
) -> Result<Selection> {
    let s = scores(method, model, calibration, options)?;
    let selection = select(method, model, &s, calibration, options)?;
    apply(model, &selection)?;
    Ok(selection)
}
