//! The models compared by the cost meter and by the practice questions "why is 80% unstructured
//! sparsity not 5× faster on a GPU?" and "why does structured pruning suit production?": built
//! from one model, each with the kernel it runs through, and timed on the CPU here (on the GPU in
//! `gpu::forward_timing`).
//!
//! The variants, for a sparsity s:
//! - `dense`: the model as given, dense kernel;
//! - `masked`: magnitude (per layer, unstructured) at s, still the dense kernel: the zeros are
//!   multiplied, so it costs what `dense` costs;
//! - `csr`: the same masked model through a sparse (CSR) kernel, which skips the zeros but pays
//!   for an index per weight and irregular memory access;
//! - `compacted`: structured-l1 removing s of each hidden layer's neurons, then compaction: a
//!   smaller dense model on the same dense kernel;
//! - `2:4` and `2:4 masked`: magnitude 2:4 (half the weights, at most 2 of every 4 inputs),
//!   through the 2:4 kernel and through the dense kernel. Only when every layer's inputs are a
//!   multiple of 4.
//!
//! Every variant starts from the given model (pruning one that is already pruned prunes s of
//! what is left, as everywhere in PrunePlay).

use ndarray::{Array2, ArrayView2};
use serde::Serialize;

use super::compaction::compact;
use super::cost::Cost;
use super::{Method, NM, PruneOptions, prune};
use crate::error::{Error, Result};
use crate::model::Mlp;
use crate::model::sparse::{GROUP, SparseMlp};

/// The kernel a variant runs through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Kernel {
    /// `a · wᵀ + b` on the whole weight matrix (`forward.wgsl`; ndarray on the CPU).
    #[serde(rename = "dense")]
    Dense,
    /// Compressed sparse rows (`csr_forward.wgsl`).
    #[serde(rename = "csr")]
    Csr,
    /// NVIDIA's 2:4 compressed format (`nm_forward.wgsl`).
    #[serde(rename = "2:4")]
    TwoFour,
}

impl Kernel {
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Dense => "dense",
            Kernel::Csr => "csr",
            Kernel::TwoFour => "2:4",
        }
    }
}

/// One model to time, with the kernel it runs through and what it costs.
#[derive(Debug, Clone)]
pub struct Variant {
    /// `dense`, `masked`, `csr`, `compacted`, `2:4` or `2:4 masked`.
    pub name: &'static str,
    /// How it was made, in a few words.
    pub description: String,
    pub kernel: Kernel,
    pub model: Mlp,
    /// Counted against the given model's architecture (so `compacted` counts its lost neurons).
    pub cost: Cost,
}

/// The variants for `sparsity` in [0, 1).
pub fn build(model: &Mlp, sparsity: f64) -> Result<Vec<Variant>> {
    if !(0.0..1.0).contains(&sparsity) {
        return Err(Error::Config(format!(
            "sparsity {sparsity} is outside [0, 1)"
        )));
    }
    let arch = model.architecture();
    let pct = format!("{:.0}%", 100.0 * sparsity);
    let variant = |name, description: String, kernel, model: Mlp| -> Result<Variant> {
        let cost = Cost::compared_with(&model, &arch)?;
        Ok(Variant {
            name,
            description,
            kernel,
            model,
            cost,
        })
    };
    let pruned = |method, options: &PruneOptions| -> Result<Mlp> {
        let mut m = model.clone();
        prune(method, &mut m, None, options)?;
        Ok(m)
    };
    let unstructured = PruneOptions {
        sparsity,
        ..PruneOptions::default()
    };
    let masked = pruned(Method::Magnitude, &unstructured)?;
    let structured = pruned(Method::StructuredL1, &unstructured)?;
    let compacted = compact(&structured)?.model;
    let mut out = vec![
        variant(
            "dense",
            "the model as given, dense kernel".into(),
            Kernel::Dense,
            model.clone(),
        )?,
        variant(
            "masked",
            format!("magnitude {pct} unstructured, dense kernel (zeros multiplied)"),
            Kernel::Dense,
            masked.clone(),
        )?,
        variant(
            "csr",
            format!("magnitude {pct} unstructured, CSR kernel"),
            Kernel::Csr,
            masked,
        )?,
        variant(
            "compacted",
            format!("structured-l1 {pct} of hidden neurons, compacted, dense kernel"),
            Kernel::Dense,
            compacted,
        )?,
    ];
    if model
        .layers()
        .iter()
        .all(|l| l.inputs().is_multiple_of(GROUP))
    {
        let two_four = pruned(
            Method::Magnitude,
            &PruneOptions {
                pattern: Some(NM { n: 2, m: 4 }),
                ..PruneOptions::default()
            },
        )?;
        out.push(variant(
            "2:4",
            "magnitude 2:4, 2:4 kernel".into(),
            Kernel::TwoFour,
            two_four.clone(),
        )?);
        out.push(variant(
            "2:4 masked",
            "magnitude 2:4, dense kernel".into(),
            Kernel::Dense,
            two_four,
        )?);
    }
    Ok(out)
}

/// How many forward passes to time, after how many untimed ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TimingOptions {
    pub reps: usize,
    pub warmup: usize,
}

impl Default for TimingOptions {
    fn default() -> Self {
        Self {
            reps: 20,
            warmup: 2,
        }
    }
}

/// One variant's forward-pass time over the batch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VariantTiming {
    pub variant: &'static str,
    pub kernel: Kernel,
    pub median_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
    /// Largest |logit − reference| over the batch, the reference being the variant's model run
    /// by the CPU engine (ndarray, dense): how far the timed kernel's answer may be trusted.
    pub max_abs_diff: f32,
}

/// Forward-pass times of every variant on one backend.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ForwardTimings {
    /// `cpu` or `gpu`.
    pub backend: &'static str,
    /// The GPU adapter's name; `None` on the CPU.
    pub adapter: Option<String>,
    /// Whether the adapter is a software renderer (its times say little about real GPUs).
    pub software: bool,
    pub batch: usize,
    pub reps: usize,
    pub variants: Vec<VariantTiming>,
}

impl ForwardTimings {
    /// The timing of the variant named `name`.
    pub fn get(&self, name: &str) -> Option<&VariantTiming> {
        self.variants.iter().find(|v| v.variant == name)
    }
}

/// Median, minimum and maximum of some times (all 0 for none).
pub(crate) fn summarise(times: &mut [f64]) -> (f64, f64, f64) {
    if times.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    times.sort_by(f64::total_cmp);
    let n = times.len();
    let median = if n % 2 == 1 {
        times[n / 2]
    } else {
        0.5 * (times[n / 2 - 1] + times[n / 2])
    };
    (median, times[0], times[n - 1])
}

/// The largest absolute difference (infinite if a value is not finite or the shapes differ).
pub(crate) fn max_abs_diff(a: &Array2<f32>, b: &Array2<f32>) -> f32 {
    if a.dim() != b.dim() {
        return f32::INFINITY;
    }
    a.iter().zip(b).fold(0.0f32, |m, (&x, &y)| {
        let d = (x - y).abs();
        if d.is_nan() { f32::INFINITY } else { m.max(d) }
    })
}

/// What the CPU runs for one variant.
enum CpuRunner<'a> {
    Dense(&'a Mlp),
    /// Packed, on feature-major input (transposed once, outside the timing).
    Sparse(SparseMlp),
}

/// Times the variants' forward passes over `x: [batch, inputs]` on the CPU a round at a time,
/// each round running every variant once in turn (so a change in machine load hits them all
/// alike), so that a caller can report progress or stop between rounds. The first `warmup`
/// rounds are not timed. The dense kernel is the CPU engine's (ndarray, matrixmultiply); CSR and
/// 2:4 run [`SparseMlp`] on feature-major input, transposed once beforehand as the GPU path
/// uploads it.
pub struct CpuTimer<'a> {
    variants: &'a [Variant],
    runners: Vec<CpuRunner<'a>>,
    x: ArrayView2<'a, f32>,
    x_t: Array2<f32>,
    warmup: usize,
    rounds: usize,
    times: Vec<Vec<f64>>,
    last: Vec<Option<Array2<f32>>>,
}

impl<'a> CpuTimer<'a> {
    pub fn new(variants: &'a [Variant], x: ArrayView2<'a, f32>, warmup: usize) -> Result<Self> {
        check_batch(variants, x)?;
        let runners = variants
            .iter()
            .map(|v| {
                Ok(match v.kernel {
                    Kernel::Dense => CpuRunner::Dense(&v.model),
                    Kernel::Csr => CpuRunner::Sparse(SparseMlp::csr(&v.model)?),
                    Kernel::TwoFour => CpuRunner::Sparse(SparseMlp::two_four(&v.model)?),
                })
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            variants,
            runners,
            x,
            x_t: x.t().as_standard_layout().into_owned(),
            warmup,
            rounds: 0,
            times: vec![Vec::new(); variants.len()],
            last: vec![None; variants.len()],
        })
    }

    /// Runs every variant once; `clock` returns milliseconds (`performance.now()` in a browser).
    pub fn round(&mut self, clock: &impl Fn() -> f64) {
        for (i, r) in self.runners.iter().enumerate() {
            let start = clock();
            let out = std::hint::black_box(match r {
                CpuRunner::Dense(m) => m.logits(self.x),
                CpuRunner::Sparse(m) => m.logits_t(self.x_t.view()),
            });
            let elapsed = clock() - start;
            if self.rounds >= self.warmup {
                self.times[i].push(elapsed);
            }
            self.last[i] = Some(out);
        }
        self.rounds += 1;
    }

    /// Rounds run so far, warm-up included.
    pub fn rounds(&self) -> usize {
        self.rounds
    }

    /// The times of the timed rounds (all 0 if there were none), and each sparse kernel's logits
    /// of the last round against the dense forward pass of the same model.
    pub fn finish(mut self) -> ForwardTimings {
        let x = self.x;
        let timings = self
            .variants
            .iter()
            .zip(&self.runners)
            .zip(self.times.iter_mut().zip(self.last))
            .map(|((v, r), (t, out))| {
                let (median_ms, min_ms, max_ms) = summarise(t);
                let max_abs_diff = match (r, out) {
                    (_, None) => f32::INFINITY,
                    // The dense kernel is the reference itself.
                    (CpuRunner::Dense(_), Some(_)) => 0.0,
                    (CpuRunner::Sparse(_), Some(out_t)) => {
                        max_abs_diff(&out_t.reversed_axes(), &v.model.logits(x))
                    }
                };
                VariantTiming {
                    variant: v.name,
                    kernel: v.kernel,
                    median_ms,
                    min_ms,
                    max_ms,
                    max_abs_diff,
                }
            })
            .collect();
        ForwardTimings {
            backend: "cpu",
            adapter: None,
            software: false,
            batch: x.nrows(),
            reps: self.rounds.saturating_sub(self.warmup),
            variants: timings,
        }
    }
}

/// Refuses an empty batch, or one whose width is not the models' input.
pub(crate) fn check_batch(variants: &[Variant], x: ArrayView2<f32>) -> Result<()> {
    if x.nrows() == 0 {
        return Err(Error::Config("timing needs at least one image".into()));
    }
    match variants
        .iter()
        .find(|v| v.model.layers()[0].inputs() != x.ncols())
    {
        Some(v) => Err(Error::Shape {
            op: "forward timing",
            detail: format!(
                "images of {} values for the {} model {}",
                x.ncols(),
                v.name,
                v.model.architecture()
            ),
        }),
        None => Ok(()),
    }
}

/// Times every variant on the CPU: `options.warmup` untimed rounds, then `options.reps` timed
/// ones (at least 1) of [`CpuTimer`]. `clock` returns milliseconds.
pub fn time_cpu(
    variants: &[Variant],
    x: ArrayView2<f32>,
    options: &TimingOptions,
    clock: impl Fn() -> f64,
) -> Result<ForwardTimings> {
    let mut timer = CpuTimer::new(variants, x, options.warmup)?;
    for _ in 0..options.warmup + options.reps.max(1) {
        timer.round(&clock);
    }
    Ok(timer.finish())
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::model::{Architecture, Init};

    fn lenet() -> Mlp {
        let arch: Architecture = "784-300-100-10".parse().unwrap();
        Mlp::new(&arch, Init::Glorot, &mut ChaCha8Rng::seed_from_u64(3))
    }

    #[test]
    fn builds_every_variant_with_the_sparsity_asked() {
        let vs = build(&lenet(), 0.8).unwrap();
        let names: Vec<_> = vs.iter().map(|v| v.name).collect();
        assert_eq!(
            names,
            ["dense", "masked", "csr", "compacted", "2:4", "2:4 masked"]
        );
        let total = |name: &str| vs.iter().find(|v| v.name == name).unwrap().cost.total;
        let dense = total("dense");
        assert!((total("masked").sparsity() - 0.8).abs() < 1e-3);
        assert_eq!(total("masked"), total("csr"));
        // 80% of the 300 and of the 100 hidden neurons go: 784-60-20-10.
        let compacted = vs.iter().find(|v| v.name == "compacted").unwrap();
        assert_eq!(compacted.cost.arch, "784-60-20-10");
        assert_eq!(compacted.cost.total.neurons_removed, 240 + 80);
        assert_eq!(
            compacted.cost.total.dense_flops,
            2 * (784 * 60 + 60 * 20 + 20 * 10)
        );
        assert_eq!(total("2:4").nonzero_weights * 2, dense.weights);
        assert!(total("2:4").bytes_2_4.is_some());
        assert_eq!(dense.bytes_2_4, None);
    }

    #[test]
    fn no_2_4_variants_when_inputs_are_not_multiples_of_4() {
        let arch: Architecture = "10-7-3".parse().unwrap();
        let model = Mlp::new(&arch, Init::Glorot, &mut ChaCha8Rng::seed_from_u64(1));
        let vs = build(&model, 0.5).unwrap();
        assert!(vs.iter().all(|v| v.kernel != Kernel::TwoFour));
        assert_eq!(vs.len(), 4);
        assert!(build(&model, 1.0).is_err());
    }

    #[test]
    fn cpu_timing_is_finite_and_every_kernel_matches_the_reference() {
        let vs = build(&lenet(), 0.8).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let x = Array2::from_shape_simple_fn((37, 784), || {
            rand::Rng::random_range(&mut rng, 0.0f32..1.0)
        });
        let start = std::time::Instant::now();
        let clock = || 1e3 * start.elapsed().as_secs_f64();
        let options = TimingOptions { reps: 3, warmup: 1 };
        let t = time_cpu(&vs, x.view(), &options, clock).unwrap();
        assert_eq!(t.variants.len(), vs.len());
        assert_eq!((t.batch, t.reps, t.backend), (37, 3, "cpu"));
        for v in &t.variants {
            assert!(v.median_ms.is_finite() && v.median_ms > 0.0, "{v:?}");
            assert!(v.min_ms <= v.median_ms && v.median_ms <= v.max_ms, "{v:?}");
            assert!(v.max_abs_diff < 1e-4, "{v:?}");
        }
        assert!(t.get("csr").is_some() && t.get("nothing").is_none());
    }

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(summarise(&mut [3.0, 1.0, 2.0]), (2.0, 1.0, 3.0));
        assert_eq!(summarise(&mut [4.0, 1.0, 2.0, 3.0]), (2.5, 1.0, 4.0));
        assert_eq!(summarise(&mut []), (0.0, 0.0, 0.0));
    }
}
