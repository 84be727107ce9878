//! Turning scores into masks, with `torch.nn.utils.prune`'s counting rules.
//!
//! - An amount prunes `round(amount × n)` of the `n` weights still unpruned (PyTorch's
//!   `_compute_nparams_toprune`, where Python's `round` rounds halves to even). Applying a method
//!   twice therefore prunes `amount` of what the first application left, as PyTorch's
//!   `PruningContainer` does.
//! - Already-pruned weights stay pruned.
//! - Ties in score are broken by position (lowest flat index pruned first), so every selection is
//!   deterministic; MNIST's always-black border pixels give many exact ties.

use ndarray::{Array2, ArrayView2};

use super::NM;

/// PyTorch's count of weights to prune: `round(amount × n)`, halves to even.
pub fn count_to_prune(amount: f64, n: usize) -> usize {
    ((amount * n as f64).round_ties_even() as usize).min(n)
}

/// Positions of the `k` lowest scores among `candidates` (flat indices), lowest first, ties by
/// index.
fn lowest(scores: &[f32], candidates: impl Iterator<Item = usize>, k: usize) -> Vec<usize> {
    let mut c: Vec<usize> = candidates.collect();
    c.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]).then(a.cmp(&b)));
    c.truncate(k);
    c
}

/// Prunes `amount` of the still-unpruned entries of one layer: the lowest scores go.
pub fn prune_lowest(scores: ArrayView2<f32>, mask: ArrayView2<f32>, amount: f64) -> Array2<f32> {
    prune_lowest_jointly(&[scores], &[mask], amount).remove(0)
}

/// Prunes `amount` of the still-unpruned entries across several layers ranked together (global
/// pruning).
pub fn prune_lowest_jointly(
    scores: &[ArrayView2<f32>],
    masks: &[ArrayView2<f32>],
    amount: f64,
) -> Vec<Array2<f32>> {
    let flat_scores: Vec<f32> = scores.iter().flat_map(|s| s.iter().copied()).collect();
    let flat_masks: Vec<f32> = masks.iter().flat_map(|m| m.iter().copied()).collect();
    let alive: Vec<usize> = (0..flat_masks.len())
        .filter(|&i| flat_masks[i] != 0.0)
        .collect();
    let k = count_to_prune(amount, alive.len());
    let mut out = flat_masks;
    for i in lowest(&flat_scores, alive.into_iter(), k) {
        out[i] = 0.0;
    }
    let mut start = 0;
    masks
        .iter()
        .map(|m| {
            let n = m.len();
            let part = out[start..start + n].to_vec();
            start += n;
            Array2::from_shape_vec(m.dim(), part).unwrap_or_else(|_| m.to_owned())
        })
        .collect()
}

/// N:M along the input dimension: in every group of `m` consecutive inputs of a row, keep the `n`
/// highest scores (already-pruned weights score lowest). The caller checks `inputs % m == 0`.
pub fn n_of_m(scores: ArrayView2<f32>, mask: ArrayView2<f32>, pattern: NM) -> Array2<f32> {
    let mut out = mask.to_owned();
    for (r, row) in scores.rows().into_iter().enumerate() {
        for g in (0..row.len()).step_by(pattern.m) {
            let mut group: Vec<usize> = (g..g + pattern.m).collect();
            // Pruned first, then lowest score, then position.
            group.sort_by(|&a, &b| {
                let key = |i: usize| (mask[[r, i]] != 0.0, row[i]);
                let (ka, kb) = (key(a), key(b));
                ka.0.cmp(&kb.0).then(ka.1.total_cmp(&kb.1)).then(a.cmp(&b))
            });
            for &i in &group[..pattern.m - pattern.n] {
                out[[r, i]] = 0.0;
            }
        }
    }
    out
}

/// Per output row, prunes `amount` of each row's unpruned entries (Wanda's comparison group).
pub fn prune_lowest_per_row(
    scores: ArrayView2<f32>,
    mask: ArrayView2<f32>,
    amount: f64,
) -> Array2<f32> {
    let mut out = mask.to_owned();
    for (r, row) in scores.rows().into_iter().enumerate() {
        let s: Vec<f32> = row.iter().copied().collect();
        let alive: Vec<usize> = (0..s.len()).filter(|&c| mask[[r, c]] != 0.0).collect();
        let k = count_to_prune(amount, alive.len());
        for c in lowest(&s, alive.into_iter(), k) {
            out[[r, c]] = 0.0;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn counts_round_halves_to_even_like_python() {
        assert_eq!(count_to_prune(0.5, 5), 2); // round(2.5) == 2 in Python
        assert_eq!(count_to_prune(0.5, 7), 4); // round(3.5) == 4
        assert_eq!(count_to_prune(0.3, 10), 3);
        assert_eq!(count_to_prune(0.999, 3), 3);
    }

    #[test]
    fn a_second_application_prunes_a_fraction_of_the_remaining() {
        let scores = array![[1.0f32, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]];
        let once = prune_lowest(scores.view(), Array2::ones((2, 4)).view(), 0.5);
        assert_eq!(once, array![[0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0]]);
        // Half of the 4 remaining, not half of all 8.
        let twice = prune_lowest(scores.view(), once.view(), 0.5);
        assert_eq!(twice, array![[0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]]);
    }

    #[test]
    fn ties_are_broken_by_position() {
        let scores = Array2::zeros((1, 6));
        let m = prune_lowest(scores.view(), Array2::ones((1, 6)).view(), 0.5);
        assert_eq!(m, array![[0.0, 0.0, 0.0, 1.0, 1.0, 1.0]]);
    }

    #[test]
    fn n_of_m_keeps_n_per_group() {
        let scores = array![[4.0f32, 1.0, 3.0, 2.0, 0.1, 0.4, 0.3, 0.2]];
        let m = n_of_m(
            scores.view(),
            Array2::ones((1, 8)).view(),
            NM { n: 2, m: 4 },
        );
        assert_eq!(m, array![[1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0]]);
    }
}
