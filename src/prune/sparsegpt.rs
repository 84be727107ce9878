//! SparseGPT for one linear layer: Frantar & Alistarh, "SparseGPT: Massive Language Models Can Be
//! Accurately Pruned in One-Shot", ICML 2023, following the authors' reference implementation.
//!
//! The layer problem is min over a mask M and weights Ŵ of ‖WX − (M ⊙ Ŵ)X‖², where the columns of
//! X are calibration inputs. Every output row shares H = (2/N) Σ x xᵀ. Removing weight m of a row
//! costs ε_m = w_m² / [H⁻¹]_mm, and the best compensation of the weights still free is
//! δ = −(w_m / [H⁻¹]_mm) · H⁻¹_{:,m}. Taking the inputs left to right and writing H⁻¹ = UᵀU with U
//! upper triangular, the inverse Hessian of the inputs still free after column i is read off U's
//! rows, so for column i:
//!
//! ```text
//! q          = w with the pruned entries set to 0
//! err        = (w − q) / U_ii
//! W[:, i..] −= err ⊗ U[i, i..]        (which turns column i into q)
//! ```
//!
//! and the score of a weight is w² / U_ii². The update of the columns right of the current block
//! is batched (W[:, rest] −= Err_block · U[block, rest]), which changes nothing mathematically but
//! turns it into one matrix product per block.

use ndarray::linalg::general_mat_mul;
use ndarray::{Array1, Array2, ArrayView2, s};

use super::NM;
use super::linalg::upper_cholesky_of_inverse;
use crate::error::{Error, Result};

/// Settings of [`sparsegpt_layer`].
#[derive(Debug, Clone, PartialEq)]
pub struct SparseGptOptions {
    /// Fraction of each block's weights to prune, in [0, 1). Ignored (but still checked) when
    /// `pattern` is set.
    pub sparsity: f64,
    /// Semi-structured N:M pattern (`n` kept of every `m` consecutive inputs of a row) instead of
    /// unstructured sparsity.
    pub pattern: Option<NM>,
    /// Columns per block: the mask of unstructured pruning is chosen per block, and the update of
    /// the columns right of a block is batched.
    pub block: usize,
    /// Damping λ = damp · mean(diag H) added to H's diagonal.
    pub damp: f64,
}

impl Default for SparseGptOptions {
    /// The paper's settings: 50%, block 128, 1% damping.
    fn default() -> Self {
        SparseGptOptions {
            sparsity: 0.5,
            pattern: None,
            block: 128,
            damp: 0.01,
        }
    }
}

/// The result of [`sparsegpt_layer`].
#[derive(Debug, Clone)]
pub struct SparseGptLayer {
    /// The pruned and compensated weight, [out, in]; pruned entries are exactly +0.0.
    pub weight: Array2<f32>,
    /// 1.0 where a weight is kept, 0.0 where it is pruned, [out, in].
    pub mask: Array2<f32>,
    /// diag(H⁻¹) of the damped H, one value per input: how little the calibration data pins an
    /// input down (large for inputs that are rarely active).
    pub hinv_diag: Array1<f32>,
    /// Inputs that were zero in every calibration row; all their weights are pruned.
    pub dead_inputs: usize,
}

const OP: &str = "sparsegpt_layer";

fn validate(
    weight: &ArrayView2<f32>,
    inputs: &ArrayView2<f32>,
    opts: &SparseGptOptions,
) -> Result<()> {
    let (rows, cols) = weight.dim();
    if rows == 0 || cols == 0 {
        return Err(Error::Shape {
            op: OP,
            detail: format!("weight is {rows}×{cols}; it needs at least one output and one input"),
        });
    }
    if inputs.ncols() != cols {
        return Err(Error::Shape {
            op: OP,
            detail: format!(
                "weight [out, in] is {rows}×{cols} but the calibration inputs [samples, in] are \
                 {}×{}",
                inputs.nrows(),
                inputs.ncols()
            ),
        });
    }
    if inputs.nrows() == 0 {
        return Err(Error::Config(
            "SparseGPT: calibration size 0; it needs at least one calibration input".into(),
        ));
    }
    if !(0.0..1.0).contains(&opts.sparsity) {
        return Err(Error::Config(format!(
            "SparseGPT: sparsity {} is outside [0, 1)",
            opts.sparsity
        )));
    }
    if opts.block == 0 {
        return Err(Error::Config("SparseGPT: block size 0".into()));
    }
    if !(opts.damp >= 0.0 && opts.damp.is_finite()) {
        return Err(Error::Config(format!(
            "SparseGPT: damping {} must be finite and at least 0",
            opts.damp
        )));
    }
    if let Some(NM { n, m }) = opts.pattern {
        if m == 0 || n == 0 || n > m {
            return Err(Error::Config(format!(
                "SparseGPT: pattern {n}:{m} must keep between 1 and {m} of every {m} weights"
            )));
        }
        if !cols.is_multiple_of(m) {
            return Err(Error::Config(format!(
                "SparseGPT: {n}:{m} needs the input count to be a multiple of {m}, got {cols}"
            )));
        }
        if !opts.block.is_multiple_of(m) {
            return Err(Error::Config(format!(
                "SparseGPT: block size {} is not a multiple of M = {m}, so groups would straddle \
                 blocks",
                opts.block
            )));
        }
    }
    if weight.iter().chain(inputs.iter()).any(|v| !v.is_finite()) {
        return Err(Error::Config(
            "SparseGPT: the weight or the calibration inputs contain a value that is not finite"
                .into(),
        ));
    }
    Ok(())
}

/// H = 2XᵀX / samples with the damping λ = damp × mean(diag H) added to the diagonal, and which
/// inputs are dead (zero in every calibration row).
///
/// A dead input gives H a zero row and column, and H would be singular; H_dd = 1 decouples it (the
/// reference implementation does the same).
fn damped_hessian(inputs: ArrayView2<f32>, damp: f64) -> (Array2<f64>, Vec<bool>) {
    let x = inputs.mapv(f64::from);
    let mut h = x.t().dot(&x);
    h *= 2.0 / inputs.nrows() as f64;
    let mut dead = vec![false; h.nrows()];
    for (d, is_dead) in dead.iter_mut().enumerate() {
        if h[[d, d]] == 0.0 {
            *is_dead = true;
            h[[d, d]] = 1.0;
        }
    }
    let lambda = damp * h.diag().mean().unwrap_or(0.0);
    h.diag_mut().mapv_inplace(|v| v + lambda);
    (h, dead)
}

/// diag(H⁻¹) of a layer's calibration inputs, one value per input, without pruning anything: the
/// page draws it for the first layer as a 28×28 picture. Large values are inputs the data hardly
/// constrains (rarely lit pixels), whose weights SparseGPT can remove most cheaply.
pub fn input_hinv_diag(inputs: ArrayView2<f32>, damp: f64) -> Result<Array1<f32>> {
    if inputs.nrows() == 0 || inputs.ncols() == 0 || inputs.iter().any(|v| !v.is_finite()) {
        return Err(Error::Config(
            "SparseGPT: the calibration inputs are empty or contain a value that is not finite"
                .into(),
        ));
    }
    let (h, _) = damped_hessian(inputs, damp);
    let u = upper_cholesky_of_inverse(h.view())?;
    Ok(inverse_diag(&u).mapv(|v| v as f32))
}

/// diag(H⁻¹) from U, the upper Cholesky factor of H⁻¹ (H⁻¹ = UᵀU): column sums of U².
fn inverse_diag(u: &Array2<f64>) -> Array1<f64> {
    let mut diag = Array1::<f64>::zeros(u.ncols());
    for (k, row) in u.outer_iter().enumerate() {
        for (j, v) in row.iter().enumerate().skip(k) {
            diag[j] += v * v;
        }
    }
    diag
}

/// Prunes one linear layer with SparseGPT and compensates the remaining weights.
///
/// weight: [out, in] (PyTorch Linear layout); inputs: [samples, in], the calibration inputs to
/// this layer.
///
/// Unstructured: in each block of `opts.block` columns (the last one may be narrower), exactly
/// k = round(sparsity × out × width) weights are pruned (halves to even), the lowest by
/// w² / U_ii² over the whole block. N:M: in every group of `m` consecutive inputs of a row, the
/// `m − n` lowest are pruned. Weights of dead inputs (zero in every calibration row) are set to 0
/// and score 0, so they are pruned first; the counts stay exact, so where a block or group holds
/// more of them than it prunes, the rest stay in the mask with the value 0.
pub fn sparsegpt_layer(
    weight: ArrayView2<f32>,
    inputs: ArrayView2<f32>,
    opts: &SparseGptOptions,
) -> Result<SparseGptLayer> {
    validate(&weight, &inputs, opts)?;
    let (rows, cols) = weight.dim();

    let (h, dead) = damped_hessian(inputs, opts.damp);

    // Columns are the unit of work, so the weight is held transposed: column i of W is row i.
    let mut wt = Array2::from_shape_fn((cols, rows), |(i, r)| f64::from(weight[[r, i]]));
    let mut keep = Array2::from_elem((cols, rows), true);
    // A dead input's weights never affect the output on the calibration data: zeroed, they score
    // 0 and are pruned first.
    for (d, &is_dead) in dead.iter().enumerate() {
        if is_dead {
            wt.row_mut(d).fill(0.0);
        }
    }
    let dead_inputs = dead.iter().filter(|&&d| d).count();

    let u = upper_cholesky_of_inverse(h.view()).map_err(|e| match e {
        Error::Config(msg) => Error::Config(format!(
            "SparseGPT: {msg}; increase the damping (now {})",
            opts.damp
        )),
        other => other,
    })?;

    let hinv_diag = inverse_diag(&u);

    let mut err = Array2::<f64>::zeros((opts.block.min(cols), rows));
    let mut candidates: Vec<(f64, usize, usize)> = Vec::new();
    let mut group: Vec<(f64, usize)> = Vec::new();

    for b0 in (0..cols).step_by(opts.block) {
        let b1 = b0.saturating_add(opts.block).min(cols);
        if opts.pattern.is_none() {
            select_block(&wt, &u, b0, b1, opts.sparsity, &mut keep, &mut candidates);
        }
        for i in b0..b1 {
            if let Some(nm) = opts.pattern
                && i.is_multiple_of(nm.m)
            {
                // Scored from the weights as already updated by the columns to the left, as the
                // reference does, so the choice sees the compensation made so far.
                select_group(&wt, &u, i, nm, &mut keep, &mut group);
            }
            let uii = u[[i, i]];
            let mut e = err.row_mut(i - b0);
            let mut w = wt.row_mut(i);
            for ((wv, ev), &k) in w.iter_mut().zip(e.iter_mut()).zip(keep.row(i)) {
                if k {
                    *ev = 0.0;
                } else {
                    *ev = *wv / uii;
                    // Set rather than computed as w − err·U_ii, which need not round to 0.
                    *wv = 0.0;
                }
            }
            let e = err.row(i - b0);
            for j in i + 1..b1 {
                let uij = u[[i, j]];
                if uij != 0.0 {
                    wt.row_mut(j).scaled_add(-uij, &e);
                }
            }
        }
        if b1 < cols {
            general_mat_mul(
                -1.0,
                &u.slice(s![b0..b1, b1..]).t(),
                &err.slice(s![..b1 - b0, ..]),
                1.0,
                &mut wt.slice_mut(s![b1.., ..]),
            );
        }
    }

    let weight_out = Array2::from_shape_fn((rows, cols), |(r, i)| {
        if keep[[i, r]] { wt[[i, r]] as f32 } else { 0.0 }
    });
    let mask = Array2::from_shape_fn((rows, cols), |(r, i)| f32::from(u8::from(keep[[i, r]])));
    Ok(SparseGptLayer {
        weight: weight_out,
        mask,
        hinv_diag: hinv_diag.mapv(|v| v as f32),
        dead_inputs,
    })
}

/// Unstructured mask of the block [b0, b1): prunes the k lowest scores of the whole block.
#[allow(clippy::too_many_arguments)]
fn select_block(
    wt: &Array2<f64>,
    u: &Array2<f64>,
    b0: usize,
    b1: usize,
    sparsity: f64,
    keep: &mut Array2<bool>,
    candidates: &mut Vec<(f64, usize, usize)>,
) {
    let rows = wt.ncols();
    // k = round(sparsity × rows × width) with halves to even, like Python's `round` and the
    // crate's other methods: a fixed count per block rather than the reference's threshold
    // (`score <= sorted[int(s·numel)]`), which prunes one extra weight and all ties with it.
    let k = (sparsity * (rows * (b1 - b0)) as f64).round_ties_even() as usize;
    candidates.clear();
    for i in b0..b1 {
        let d2 = u[[i, i]] * u[[i, i]];
        candidates.extend(
            wt.row(i)
                .iter()
                .enumerate()
                .map(|(r, w)| (w * w / d2, i, r)),
        );
    }
    let need = k.min(candidates.len());
    if need == 0 {
        return;
    }
    // Ties go to the lowest (column, row), so the result does not depend on the selection order.
    let order = |a: &(f64, usize, usize), b: &(f64, usize, usize)| {
        a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2))
    };
    if need < candidates.len() {
        candidates.select_nth_unstable_by(need - 1, order);
    }
    for &(_, i, r) in &candidates[..need] {
        keep[[i, r]] = false;
    }
}

/// N:M mask of the group of columns [i0, i0 + m): per row, prunes the m − n lowest scores.
fn select_group(
    wt: &Array2<f64>,
    u: &Array2<f64>,
    i0: usize,
    nm: NM,
    keep: &mut Array2<bool>,
    group: &mut Vec<(f64, usize)>,
) {
    let need = nm.m - nm.n;
    if need == 0 {
        return;
    }
    for r in 0..wt.ncols() {
        group.clear();
        group.extend((i0..i0 + nm.m).map(|i| {
            let w = wt[[i, r]];
            (w * w / (u[[i, i]] * u[[i, i]]), i)
        }));
        group.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        for &(_, i) in &group[..need] {
            keep[[i, r]] = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn random(rows: usize, cols: usize, rng: &mut ChaCha8Rng) -> Array2<f32> {
        Array2::from_shape_fn((rows, cols), |_| rng.random_range(-1.0..1.0))
    }

    /// Inputs with correlated features, as real activations have: z·A for a random mixing A.
    fn correlated(samples: usize, features: usize, rng: &mut ChaCha8Rng) -> Array2<f32> {
        let z = random(samples, features, rng);
        let a = random(features, features, rng);
        z.dot(&a)
    }

    fn pruned_count(mask: &Array2<f32>) -> usize {
        mask.iter().filter(|&&m| m == 0.0).count()
    }

    fn assert_mask_matches_weight(layer: &SparseGptLayer) {
        for (w, m) in layer.weight.iter().zip(&layer.mask) {
            assert!(w.is_finite());
            if *m == 0.0 {
                assert_eq!(w.to_bits(), 0.0f32.to_bits(), "pruned entries are +0.0");
            } else {
                assert_eq!(*m, 1.0);
            }
        }
    }

    #[test]
    fn keeps_exactly_the_rounded_count_per_block() {
        let mut rng = ChaCha8Rng::seed_from_u64(10);
        let weight = random(13, 300, &mut rng);
        let inputs = correlated(64, 300, &mut rng);
        for sparsity in [0.0, 0.3, 0.5, 0.77] {
            let opts = SparseGptOptions {
                sparsity,
                ..Default::default()
            };
            let layer = sparsegpt_layer(weight.view(), inputs.view(), &opts).unwrap();
            assert_mask_matches_weight(&layer);
            let mut expected = 0;
            for (b0, b1) in [(0, 128), (128, 256), (256, 300)] {
                let k = (sparsity * (13 * (b1 - b0)) as f64).round_ties_even() as usize;
                let block = layer.mask.slice(s![.., b0..b1]);
                assert_eq!(block.iter().filter(|&&m| m == 0.0).count(), k);
                expected += k;
            }
            assert_eq!(pruned_count(&layer.mask), expected);
        }
    }

    #[test]
    fn input_hinv_diag_is_the_diagonal_pruning_uses() {
        let mut rng = ChaCha8Rng::seed_from_u64(12);
        let weight = random(5, 24, &mut rng);
        let mut inputs = correlated(40, 24, &mut rng);
        inputs.column_mut(3).fill(0.0); // a dead input takes the H_dd = 1 path
        let layer =
            sparsegpt_layer(weight.view(), inputs.view(), &SparseGptOptions::default()).unwrap();
        let diag = input_hinv_diag(inputs.view(), SparseGptOptions::default().damp).unwrap();
        assert_eq!(diag, layer.hinv_diag);
        assert!(input_hinv_diag(inputs.slice(s![..0, ..]), 0.01).is_err());
    }

    #[test]
    fn zero_sparsity_leaves_the_weight_unchanged() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let weight = random(7, 40, &mut rng);
        let inputs = correlated(50, 40, &mut rng);
        let opts = SparseGptOptions {
            sparsity: 0.0,
            block: 16,
            ..Default::default()
        };
        let layer = sparsegpt_layer(weight.view(), inputs.view(), &opts).unwrap();
        assert_eq!(layer.weight, weight);
    }

    #[test]
    fn n_m_keeps_exactly_n_in_every_group() {
        let mut rng = ChaCha8Rng::seed_from_u64(12);
        let weight = random(9, 64, &mut rng);
        let inputs = correlated(100, 64, &mut rng);
        for (n, m) in [(2, 4), (4, 8)] {
            let opts = SparseGptOptions {
                pattern: Some(NM { n, m }),
                block: 16,
                ..Default::default()
            };
            let layer = sparsegpt_layer(weight.view(), inputs.view(), &opts).unwrap();
            assert_mask_matches_weight(&layer);
            for row in layer.mask.outer_iter() {
                for g in row.exact_chunks(m) {
                    assert_eq!(g.sum(), n as f32);
                }
            }
        }
    }

    #[test]
    fn lazy_block_update_matches_column_by_column() {
        // N:M choices do not depend on the block size, so batching the updates must not change
        // the result beyond rounding.
        let mut rng = ChaCha8Rng::seed_from_u64(13);
        let weight = random(11, 96, &mut rng);
        let inputs = correlated(120, 96, &mut rng);
        let run = |block| {
            let opts = SparseGptOptions {
                pattern: Some(NM { n: 2, m: 4 }),
                block,
                ..Default::default()
            };
            sparsegpt_layer(weight.view(), inputs.view(), &opts).unwrap()
        };
        let (a, b) = (run(4), run(128));
        assert_eq!(a.mask, b.mask);
        for (x, y) in a.weight.iter().zip(&b.weight) {
            assert!((x - y).abs() < 1e-4, "{x} vs {y}");
        }
    }

    /// Optimal Brain Surgeon one column at a time, straight from the paper's formulas: for the
    /// inputs F = {i, i+1, ...} still free, δ_F = −((w_i − q_i) / [H_F⁻¹]_ii) · H_F⁻¹[i, F], with
    /// the mask chosen from w² / [H_F⁻¹]_ii at the start of each block or group.
    fn naive_obs(
        weight: &Array2<f32>,
        inputs: &Array2<f32>,
        opts: &SparseGptOptions,
    ) -> Array2<f64> {
        let (rows, cols) = weight.dim();
        let x = inputs.mapv(f64::from);
        let mut h = x.t().dot(&x) * (2.0 / inputs.nrows() as f64);
        let lambda = opts.damp * h.diag().mean().unwrap();
        h.diag_mut().mapv_inplace(|v| v + lambda);
        let tail_inverses: Vec<Array2<f64>> = (0..cols)
            .map(|i| super::super::linalg::spd_inverse(h.slice(s![i.., i..])).unwrap())
            .collect();
        let mut w = weight.mapv(f64::from);
        let mut keep = Array2::from_elem((rows, cols), true);
        for i in 0..cols {
            let score = |w: &Array2<f64>, r: usize, j: usize| {
                w[[r, j]] * w[[r, j]] / tail_inverses[j][[0, 0]]
            };
            match opts.pattern {
                None if i.is_multiple_of(opts.block) => {
                    let b1 = (i + opts.block).min(cols);
                    let mut all: Vec<(f64, usize, usize)> = (i..b1)
                        .flat_map(|j| (0..rows).map(move |r| (j, r)))
                        .map(|(j, r)| (score(&w, r, j), j, r))
                        .collect();
                    all.sort_by(|a, b| a.partial_cmp(b).unwrap());
                    let k = (opts.sparsity * all.len() as f64).round_ties_even() as usize;
                    for &(_, j, r) in &all[..k] {
                        keep[[r, j]] = false;
                    }
                }
                Some(NM { n, m }) if i.is_multiple_of(m) => {
                    for r in 0..rows {
                        let mut g: Vec<(f64, usize)> =
                            (i..i + m).map(|j| (score(&w, r, j), j)).collect();
                        g.sort_by(|a, b| a.partial_cmp(b).unwrap());
                        for &(_, j) in &g[..m - n] {
                            keep[[r, j]] = false;
                        }
                    }
                }
                _ => {}
            }
            let hinv = &tail_inverses[i];
            for r in 0..rows {
                if !keep[[r, i]] {
                    let c = w[[r, i]] / hinv[[0, 0]];
                    for j in i..cols {
                        w[[r, j]] -= c * hinv[[0, j - i]];
                    }
                    w[[r, i]] = 0.0;
                }
            }
        }
        w
    }

    #[test]
    fn matches_the_unbatched_obs_updates() {
        let mut rng = ChaCha8Rng::seed_from_u64(18);
        let weight = random(6, 40, &mut rng);
        let inputs = correlated(80, 40, &mut rng);
        for (pattern, block) in [(None, 40), (None, 16), (Some(NM { n: 2, m: 4 }), 8)] {
            let opts = SparseGptOptions {
                pattern,
                block,
                ..Default::default()
            };
            let layer = sparsegpt_layer(weight.view(), inputs.view(), &opts).unwrap();
            let naive = naive_obs(&weight, &inputs, &opts);
            for (a, b) in layer.weight.iter().zip(&naive) {
                assert!((f64::from(*a) - b).abs() < 1e-4, "{a} vs {b}");
            }
        }
    }

    fn output_error(weight: &Array2<f32>, pruned: &Array2<f32>, inputs: &Array2<f32>) -> f64 {
        let diff = (weight - pruned).mapv(f64::from);
        let x = inputs.mapv(f64::from);
        x.dot(&diff.t()).mapv(|v| v * v).sum().sqrt()
    }

    #[test]
    fn reconstruction_error_beats_magnitude_pruning() {
        for seed in [14, 15, 16] {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let weight = random(32, 64, &mut rng);
            let inputs = correlated(256, 64, &mut rng);
            let opts = SparseGptOptions::default();
            let layer = sparsegpt_layer(weight.view(), inputs.view(), &opts).unwrap();
            assert_eq!(pruned_count(&layer.mask), 32 * 64 / 2);

            let mut magnitudes: Vec<f32> = weight.iter().map(|w| w.abs()).collect();
            magnitudes.sort_by(f32::total_cmp);
            let threshold = magnitudes[32 * 64 / 2];
            let magnitude = weight.mapv(|w| if w.abs() >= threshold { w } else { 0.0 });
            assert_eq!(magnitude.iter().filter(|&&w| w == 0.0).count(), 32 * 64 / 2);
            // SparseGPT's own mask without the compensating update: separates the two effects.
            let mask_only = &weight * &layer.mask;

            let e_sparsegpt = output_error(&weight, &layer.weight, &inputs);
            let e_magnitude = output_error(&weight, &magnitude, &inputs);
            let e_mask_only = output_error(&weight, &mask_only, &inputs);
            println!(
                "seed {seed}: ‖WX − ŴX‖ SparseGPT {e_sparsegpt:.1}, its mask alone \
                 {e_mask_only:.1}, magnitude {e_magnitude:.1}"
            );
            assert!(e_sparsegpt < e_magnitude);
            assert!(e_sparsegpt < e_mask_only);
        }
    }

    #[test]
    fn dead_inputs_are_handled() {
        let mut rng = ChaCha8Rng::seed_from_u64(15);
        let weight = random(10, 48, &mut rng);
        let mut inputs = correlated(64, 48, &mut rng);
        let dead = [0, 1, 2, 17, 30, 46, 47];
        for &d in &dead {
            inputs.column_mut(d).fill(0.0);
        }
        for pattern in [None, Some(NM { n: 2, m: 4 })] {
            let opts = SparseGptOptions {
                pattern,
                block: 16,
                ..Default::default()
            };
            let layer = sparsegpt_layer(weight.view(), inputs.view(), &opts).unwrap();
            assert_eq!(layer.dead_inputs, dead.len());
            assert_mask_matches_weight(&layer);
            for &d in &dead {
                assert!(layer.weight.column(d).iter().all(|&w| w == 0.0));
            }
            if let Some(nm) = pattern {
                for row in layer.mask.rows() {
                    for g in row.as_slice().unwrap().chunks(nm.m) {
                        assert_eq!(g.iter().filter(|&&m| m != 0.0).count(), nm.n);
                    }
                }
            }
            assert!(layer.hinv_diag.iter().all(|v| v.is_finite() && *v > 0.0));
            if pattern.is_none() {
                // No block of 16 holds more than 3 dead columns (30 weights), under k = 80.
                assert_eq!(pruned_count(&layer.mask), 3 * 80);
            }
        }
    }

    #[test]
    fn bad_settings_and_shapes_are_errors() {
        let mut rng = ChaCha8Rng::seed_from_u64(16);
        let weight = random(4, 8, &mut rng);
        let inputs = random(5, 8, &mut rng);
        let run = |w: &Array2<f32>, x: &Array2<f32>, opts: SparseGptOptions| {
            sparsegpt_layer(w.view(), x.view(), &opts)
        };
        let with = |sparsity, pattern, block| SparseGptOptions {
            sparsity,
            pattern,
            block,
            ..Default::default()
        };
        assert!(matches!(
            run(&weight, &inputs, with(1.0, None, 128)),
            Err(Error::Config(_))
        ));
        assert!(matches!(
            run(&weight, &inputs, with(-0.1, None, 128)),
            Err(Error::Config(_))
        ));
        assert!(matches!(
            run(&weight, &inputs, with(0.5, None, 0)),
            Err(Error::Config(_))
        ));
        let nm = |n, m| Some(NM { n, m });
        assert!(matches!(
            run(&weight, &inputs, with(0.5, nm(5, 4), 128)),
            Err(Error::Config(_))
        ));
        assert!(matches!(
            run(&weight, &inputs, with(0.5, nm(0, 4), 128)),
            Err(Error::Config(_))
        ));
        assert!(matches!(
            run(&weight, &inputs, with(0.5, nm(1, 0), 128)),
            Err(Error::Config(_))
        ));
        assert!(matches!(
            run(&weight, &inputs, with(0.5, nm(2, 3), 129)),
            Err(Error::Config(_))
        ));
        assert!(matches!(
            run(&weight, &inputs, with(0.5, nm(2, 4), 130)),
            Err(Error::Config(_))
        ));
        let narrow = random(5, 7, &mut rng);
        assert!(matches!(
            run(&weight, &narrow, with(0.5, None, 128)),
            Err(Error::Shape { .. })
        ));
        let none = Array2::<f32>::zeros((0, 8));
        let err = run(&weight, &none, with(0.5, None, 128)).unwrap_err();
        assert!(err.to_string().contains("calibration size 0"), "{err}");
        let mut opts = with(0.5, None, 128);
        opts.damp = 0.0;
        // 5 samples for 8 inputs: H is singular without damping.
        assert!(matches!(run(&weight, &inputs, opts), Err(Error::Config(_))));
    }

    #[test]
    fn lenet_first_layer_timing() {
        let mut rng = ChaCha8Rng::seed_from_u64(17);
        let weight = random(300, 784, &mut rng).mapv(|w| w * 0.05);
        let mut inputs = Array2::from_shape_fn((128, 784), |_| rng.random_range(0.0f32..1.0));
        // MNIST-like: the 4-pixel border of the 28×28 image is always 0.
        for (p, mut col) in inputs.columns_mut().into_iter().enumerate() {
            let (y, x) = (p / 28, p % 28);
            if !(4..24).contains(&y) || !(4..24).contains(&x) {
                col.fill(0.0);
            }
        }
        let dense = Array2::from_shape_fn((128, 784), |_| rng.random_range(0.0f32..1.0));
        for (what, x, dead) in [("MNIST-like", &inputs, 784 - 400), ("dense", &dense, 0)] {
            let t = std::time::Instant::now();
            let layer =
                sparsegpt_layer(weight.view(), x.view(), &SparseGptOptions::default()).unwrap();
            println!(
                "sparsegpt_layer 300×784, 128 {what} rows: {:?} ({} dead inputs, {} of {} pruned)",
                t.elapsed(),
                layer.dead_inputs,
                pruned_count(&layer.mask),
                300 * 784
            );
            assert_eq!(layer.dead_inputs, dead);
            assert_mask_matches_weight(&layer);
        }
    }
}
