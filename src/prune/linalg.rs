//! Small dense linear algebra on `ndarray::Array2<f64>` for SparseGPT: the Cholesky factor of a
//! symmetric positive-definite matrix, its inverse, and the upper Cholesky factor of the inverse.
//!
//! Written here rather than taken from a LAPACK binding because the crate must build for wasm32
//! (no BLAS or LAPACK there) and stay small. The matrices are at most a few thousand on a side, so
//! plain O(n³) loops suffice as long as their inner loops run along contiguous rows of row-major
//! buffers (784×784 takes a few tens of milliseconds).

use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayView2, ArrayViewMut2, Axis, s};

use crate::error::{Error, Result};

/// Rows and columns per block: the blocked algorithms do almost all their work in
/// `general_mat_mul` (matrixmultiply's packed, vectorised kernels) and leave only the triangles on
/// the diagonal and thin panels to the plain loops below.
const BLOCK: usize = 64;

fn check_square(a: &ArrayView2<f64>, op: &'static str) -> Result<usize> {
    let (rows, cols) = a.dim();
    if rows != cols {
        return Err(Error::Shape {
            op,
            detail: format!("expected a square matrix, got {rows}×{cols}"),
        });
    }
    Ok(rows)
}

fn shape_error(op: &'static str) -> impl Fn(ndarray::ShapeError) -> Error {
    move |e| Error::Shape {
        op,
        detail: e.to_string(),
    }
}

/// Four independent accumulators: one running sum cannot be vectorised, since floating-point
/// addition is not associative and the compiler must keep its order.
fn dot(x: &[f64], y: &[f64]) -> f64 {
    let mut acc = [0.0; 4];
    let xs = x.chunks_exact(4);
    let ys = y.chunks_exact(4);
    let (x_tail, y_tail) = (xs.remainder(), ys.remainder());
    for (a, b) in xs.zip(ys) {
        for ((s, p), q) in acc.iter_mut().zip(a).zip(b) {
            *s += p * q;
        }
    }
    let mut sum = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for (p, q) in x_tail.iter().zip(y_tail) {
        sum += p * q;
    }
    sum
}

/// Overwrites the lower triangle of the row-major n×n `a` with its Cholesky factor and zeroes
/// the upper triangle. A pivot that is not positive fails, named by `pivot_name(index)`.
fn cholesky_in_place(
    a: &mut [f64],
    n: usize,
    op: &'static str,
    pivot_name: impl Fn(usize) -> usize,
) -> Result<()> {
    for k0 in (0..n).step_by(BLOCK) {
        let k1 = (k0 + BLOCK).min(n);
        if k0 > 0 {
            // Left-looking: subtract the contribution of all finished columns from the panel
            // A[k0.., k0..k1] in one product.
            let view = ArrayViewMut2::from_shape((n, n), &mut *a).map_err(shape_error(op))?;
            let (done, mut rest) = view.split_at(Axis(1), k0);
            general_mat_mul(
                -1.0,
                &done.slice(s![k0.., ..]),
                &done.slice(s![k0..k1, ..]).t(),
                1.0,
                &mut rest.slice_mut(s![k0.., ..k1 - k0]),
            );
        }
        for i in k0..n {
            let (above, row) = a.split_at_mut(i * n);
            let row = &mut row[..n];
            for j in k0..i.min(k1) {
                let lj = &above[j * n..j * n + j];
                row[j] = (row[j] - dot(&row[k0..j], &lj[k0..])) / above[j * n + j];
            }
            if i < k1 {
                let d = row[i] - dot(&row[k0..i], &row[k0..i]);
                // Written so that NaN also fails: the factor would otherwise be silently garbage.
                if !(d > 0.0 && d.is_finite()) {
                    return Err(Error::Config(format!(
                        "{op}: the matrix is not positive definite (Cholesky pivot {} is {d:e})",
                        pivot_name(i)
                    )));
                }
                row[i] = d.sqrt();
            }
        }
    }
    for (i, row) in a.chunks_mut(n).enumerate() {
        row[i + 1..].fill(0.0);
    }
    Ok(())
}

/// Inverse of the row-major lower-triangular n×n `l`. Block row I of X = L⁻¹ solves
/// L_II X[I, J] = −L[I, ..I] X[..I, J] for the blocks J left of I (one product, then a forward
/// substitution on the block), and X[I, I] = L_II⁻¹.
fn lower_inverse(l: &[f64], n: usize) -> Result<Vec<f64>> {
    let op = "lower triangular inverse";
    let lv = ArrayView2::from_shape((n, n), l).map_err(shape_error(op))?;
    let mut x = vec![0.0; n * n];
    for k0 in (0..n).step_by(BLOCK) {
        let k1 = (k0 + BLOCK).min(n);
        if k0 > 0 {
            let view = ArrayViewMut2::from_shape((n, n), &mut x[..]).map_err(shape_error(op))?;
            let (top, mut bottom) = view.split_at(Axis(0), k0);
            general_mat_mul(
                -1.0,
                &lv.slice(s![k0..k1, ..k0]),
                &top.slice(s![.., ..k0]),
                0.0,
                &mut bottom.slice_mut(s![..k1 - k0, ..k0]),
            );
        }
        // Row i of the block is a combination of the block's earlier rows, so every update is a
        // contiguous axpy over columns ..=i.
        for i in k0..k1 {
            let (above, row) = x.split_at_mut(i * n);
            let row = &mut row[..n];
            row[i] = 1.0;
            for p in k0..i {
                let lip = l[i * n + p];
                // Zeros are common (decoupled inputs give block structure); skipping them also
                // keeps exact zeros exact.
                if lip != 0.0 {
                    for (xi, xp) in row[..=p].iter_mut().zip(&above[p * n..=p * n + p]) {
                        *xi -= lip * xp;
                    }
                }
            }
            let d = l[i * n + i];
            for xi in &mut row[..=i] {
                *xi /= d;
            }
        }
    }
    Ok(x)
}

/// The lower-triangular L with A = L Lᵀ. Only the lower triangle of `a` is read.
///
/// Fails with [`Error::Config`] naming the pivot index when `a` is not positive definite.
pub fn cholesky_lower(a: ArrayView2<f64>) -> Result<Array2<f64>> {
    let op = "cholesky_lower";
    let n = check_square(&a, op)?;
    if n == 0 {
        return Ok(Array2::zeros((0, 0)));
    }
    let mut l: Vec<f64> = a.iter().copied().collect();
    cholesky_in_place(&mut l, n, op, |p| p)?;
    Array2::from_shape_vec((n, n), l).map_err(shape_error(op))
}

/// A⁻¹ for a symmetric positive-definite A, as L⁻ᵀ L⁻¹ with A = L Lᵀ. Only the lower triangle
/// of `a` is read; the result is exactly symmetric.
pub fn spd_inverse(a: ArrayView2<f64>) -> Result<Array2<f64>> {
    let op = "spd_inverse";
    let n = check_square(&a, op)?;
    if n == 0 {
        return Ok(Array2::zeros((0, 0)));
    }
    let mut l: Vec<f64> = a.iter().copied().collect();
    cholesky_in_place(&mut l, n, op, |p| p)?;
    let x = Array2::from_shape_vec((n, n), lower_inverse(&l, n)?).map_err(shape_error(op))?;
    // X = L⁻¹ is lower triangular, so block row I of XᵀX only needs the rows of X from I down;
    // only the lower triangle is computed, then mirrored.
    let mut inv = Array2::<f64>::zeros((n, n));
    for k0 in (0..n).step_by(BLOCK) {
        let k1 = (k0 + BLOCK).min(n);
        general_mat_mul(
            1.0,
            &x.slice(s![k0.., k0..k1]).t(),
            &x.slice(s![k0.., ..k1]),
            0.0,
            &mut inv.slice_mut(s![k0..k1, ..k1]),
        );
    }
    for i in 0..n {
        for j in 0..i {
            inv[[j, i]] = inv[[i, j]];
        }
    }
    Ok(inv)
}

/// The upper-triangular U with H⁻¹ = Uᵀ U, for a symmetric positive-definite H: what SparseGPT's
/// reference code gets from `torch.linalg.cholesky(torch.cholesky_inverse(...), upper=True)`.
///
/// H⁻¹ is never formed. Factoring H with its index order reversed, J H J = L Lᵀ (J the reversal
/// permutation), gives H = V Vᵀ with V = J L J upper triangular, so H⁻¹ = (V⁻¹)ᵀ V⁻¹ and
/// U = V⁻¹ = J L⁻¹ J: one factorisation and one triangular inverse, without the rounding of an
/// explicit inverse. Only the lower triangle of `h` is read.
pub fn upper_cholesky_of_inverse(h: ArrayView2<f64>) -> Result<Array2<f64>> {
    let op = "upper_cholesky_of_inverse";
    let n = check_square(&h, op)?;
    if n == 0 {
        return Ok(Array2::zeros((0, 0)));
    }
    // (J H J)[a, b] = H[n−1−a, n−1−b]; its lower triangle is H's upper one, so it is read through
    // the symmetry from H's lower triangle instead.
    let mut reversed = vec![0.0; n * n];
    for (a, row) in reversed.chunks_mut(n).enumerate() {
        for (b, v) in row[..=a].iter_mut().enumerate() {
            *v = h[[n - 1 - b, n - 1 - a]];
        }
    }
    // The factorisation runs from H's last index up, so pivots are named in H's own order.
    cholesky_in_place(&mut reversed, n, op, |p| n - 1 - p)?;
    let x = lower_inverse(&reversed, n)?;
    let mut u = vec![0.0; n * n];
    for (i, row) in u.chunks_mut(n).enumerate() {
        for (j, v) in row.iter_mut().enumerate().skip(i) {
            *v = x[(n - 1 - i) * n + (n - 1 - j)];
        }
    }
    Array2::from_shape_vec((n, n), u).map_err(shape_error(op))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// B Bᵀ + n·I for a random B: comfortably positive definite. Sizes above `BLOCK` exercise the
    /// blocked paths, including a last partial block.
    fn random_spd(n: usize, seed: u64) -> Array2<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let b = Array2::from_shape_fn((n, n), |_| rng.random_range(-1.0..1.0));
        b.dot(&b.t()) + Array2::<f64>::eye(n) * n as f64
    }

    fn max_abs_diff(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
        a.iter()
            .zip(b.iter())
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max)
    }

    fn is_upper(m: &Array2<f64>) -> bool {
        m.indexed_iter().all(|((i, j), v)| j >= i || *v == 0.0)
    }

    #[test]
    fn cholesky_reconstructs_a_random_spd_matrix() {
        for n in [37, 150] {
            let a = random_spd(n, 1);
            let l = cholesky_lower(a.view()).unwrap();
            assert!(is_upper(&l.t().to_owned()));
            assert!(l.diag().iter().all(|&d| d > 0.0));
            let err = max_abs_diff(&l.dot(&l.t()), &a);
            assert!(err < 1e-9, "n = {n}: {err:e}");
        }
    }

    #[test]
    fn spd_inverse_times_matrix_is_identity() {
        for n in [37, 150] {
            let a = random_spd(n, 2);
            let inv = spd_inverse(a.view()).unwrap();
            let err = max_abs_diff(&a.dot(&inv), &Array2::eye(n));
            assert!(err < 1e-9, "n = {n}: {err:e}");
            assert_eq!(inv, inv.t().to_owned());
        }
    }

    #[test]
    fn upper_factor_of_inverse_reproduces_the_inverse() {
        for n in [37, 150] {
            let h = random_spd(n, 3);
            let u = upper_cholesky_of_inverse(h.view()).unwrap();
            assert!(is_upper(&u));
            assert!(u.diag().iter().all(|&d| d > 0.0));
            let inv = spd_inverse(h.view()).unwrap();
            // Entries of H⁻¹ are about 1/n here, so this is a relative error of about 1e-12.
            assert!(max_abs_diff(&u.t().dot(&u), &inv) < 1e-14);
            // Cholesky factors are unique, so this is the U of factoring H⁻¹ directly.
            let direct = cholesky_lower(inv.view()).unwrap().reversed_axes();
            assert!(max_abs_diff(&u, &direct) < 1e-14);
        }
    }

    #[test]
    fn only_the_lower_triangle_is_read() {
        let a = random_spd(90, 5);
        let mut garbage = a.clone();
        for i in 0..90 {
            for j in i + 1..90 {
                garbage[[i, j]] = 1e6;
            }
        }
        assert_eq!(
            cholesky_lower(a.view()).unwrap(),
            cholesky_lower(garbage.view()).unwrap()
        );
        assert_eq!(
            spd_inverse(a.view()).unwrap(),
            spd_inverse(garbage.view()).unwrap()
        );
        assert_eq!(
            upper_cholesky_of_inverse(a.view()).unwrap(),
            upper_cholesky_of_inverse(garbage.view()).unwrap()
        );
    }

    #[test]
    fn non_positive_definite_matrices_are_rejected() {
        // Eigenvalues 3 and −1; the second pivot is 1 − 4 = −3.
        let a = ndarray::array![[1.0, 2.0], [2.0, 1.0]];
        let err = cholesky_lower(a.view()).unwrap_err().to_string();
        assert!(err.contains("pivot 1"), "{err}");
        assert!(spd_inverse(a.view()).is_err());
        assert!(upper_cholesky_of_inverse(a.view()).is_err());
        // A zero diagonal entry past the first block: the failing pivot is named, in H's order
        // also when factoring from the end.
        let mut b = random_spd(100, 6);
        b.row_mut(70).fill(0.0);
        b.column_mut(70).fill(0.0);
        let err = cholesky_lower(b.view()).unwrap_err().to_string();
        assert!(err.contains("pivot 70"), "{err}");
        let err = upper_cholesky_of_inverse(b.view()).unwrap_err().to_string();
        assert!(err.contains("pivot 70"), "{err}");
        let nan = ndarray::array![[f64::NAN]];
        assert!(cholesky_lower(nan.view()).is_err());
        let not_square = Array2::<f64>::zeros((2, 3));
        assert!(matches!(
            cholesky_lower(not_square.view()),
            Err(Error::Shape { .. })
        ));
        let empty = Array2::<f64>::zeros((0, 0));
        assert_eq!(spd_inverse(empty.view()).unwrap().dim(), (0, 0));
    }

    #[test]
    fn mnist_sized_timings() {
        let h = random_spd(784, 4);
        let t = std::time::Instant::now();
        let l = cholesky_lower(h.view()).unwrap();
        let t_chol = t.elapsed();
        let t = std::time::Instant::now();
        let inv = spd_inverse(h.view()).unwrap();
        let t_inv = t.elapsed();
        let t = std::time::Instant::now();
        let u = upper_cholesky_of_inverse(h.view()).unwrap();
        let t_u = t.elapsed();
        println!("784×784: cholesky {t_chol:?}, spd_inverse {t_inv:?}, upper factor {t_u:?}");
        assert!(max_abs_diff(&l.dot(&l.t()), &h) < 1e-9);
        assert!(max_abs_diff(&h.dot(&inv), &Array2::eye(784)) < 1e-9);
        assert!(max_abs_diff(&u.t().dot(&u), &inv) < 1e-14);
    }
}
