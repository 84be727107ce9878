//! Splitting the CPU engine's work over the machine's cores, wherever it runs.
//!
//! - Natively: [`run`] puts each part on a scoped std thread, and the matrix products are
//!   ndarray's, which matrixmultiply already splits over the cores (its `threading` feature).
//! - In the threaded wasm build (the `threads` feature, built with atomics; see xtask's wasm.rs):
//!   both go to rayon's pool of Web Workers, which wasm-bindgen-rayon starts when the page calls
//!   `initThreadPool` and the web layer then reports with [`pool_started`]. A matrix product's
//!   output is cut into one block of columns (or rows) per thread, and each block is computed by
//!   matrixmultiply on one thread ([`linear`], [`linear_backward`], [`dot`]); elementwise passes
//!   (the optimizer, the batch gather) are cut into blocks of rows ([`each`]). matrixmultiply
//!   sums every output element over k in the same order whatever the block, and nothing else is
//!   a sum, so LeNet's step equals the single-threaded build's bit for bit. A training chunk or an
//!   evaluation runs inside [`in_pool`], which keeps the other threads polling for parts.
//! - In the single-threaded wasm build, and in the threaded one before its pool has started,
//!   everything runs in one part on the calling thread.
//!
//! Work is cut into contiguous parts and results are combined in part order, so the output does
//! not depend on timing.

use ndarray::linalg::general_mat_mul;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, ArrayViewMut2, Axis, Zip};

#[cfg(not(all(target_arch = "wasm32", feature = "threads")))]
mod imp {
    use std::sync::OnceLock;

    /// The available parallelism (1 in wasm, which has no std threads), at most 8.
    pub fn threads() -> usize {
        static THREADS: OnceLock<usize> = OnceLock::new();
        *THREADS.get_or_init(|| {
            std::thread::available_parallelism()
                .map(|n| n.get().min(8))
                .unwrap_or(1)
        })
    }

    pub fn in_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
        f()
    }

    pub fn each<T: Send>(parts: Vec<T>, f: impl Fn(T) + Sync) {
        parts.into_iter().for_each(f);
    }

    pub fn run<T: Send, R: Send>(parts: Vec<T>, f: impl Fn(T) -> R + Sync) -> Vec<R> {
        let mut parts = parts.into_iter();
        let Some(first) = parts.next() else {
            return Vec::new();
        };
        let f = &f;
        std::thread::scope(|s| {
            let handles: Vec<_> = parts.map(|p| s.spawn(move || f(p))).collect();
            let mut out = vec![f(first)];
            out.extend(
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))),
            );
            out
        })
    }
}

#[cfg(all(target_arch = "wasm32", feature = "threads"))]
mod imp {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use rayon::prelude::*;

    /// Polls for parts (each a look at every thread's queue, well under a microsecond) before a
    /// polling thread starts sleeping between polls: a few milliseconds, longer than any serial
    /// stretch of a step, so that only a thread starved by other programs backs off.
    const SPIN_POLLS: u32 = 20_000;

    /// Threads of rayon's pool once the page has started it; 0 before.
    static POOL: AtomicUsize = AtomicUsize::new(0);

    pub fn pool_started() -> usize {
        // Only after `initThreadPool` has resolved: before, rayon would try to start a pool of
        // its own on std threads, which wasm does not have.
        let n = rayon::current_num_threads();
        POOL.store(n, Ordering::Relaxed);
        n
    }

    pub fn threads() -> usize {
        POOL.load(Ordering::Relaxed).clamp(1, 8)
    }

    pub fn in_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
        if threads() < 2 || rayon::current_thread_index().is_some() {
            return f();
        }
        // `f` runs on a pool thread while this one waits; every other pool thread polls for the
        // parts `f` hands out until it returns. An idle rayon thread would otherwise go to
        // sleep within microseconds, and waking a sleeping Web Worker takes far longer than
        // most parts last (measured: up to milliseconds), so each part would wait for it.
        let done = AtomicBool::new(false);
        rayon::scope(|s| {
            let (owner, done) = (rayon::current_thread_index(), &done);
            for _ in 1..threads() {
                s.spawn(move |_| {
                    // Never on `f`'s own thread, which must get back to `f`.
                    if rayon::current_thread_index() == owner {
                        return;
                    }
                    // Polls hard while parts keep coming (a step's serial stretches are short),
                    // and gives the core away between polls after a quiet while (between
                    // chunks, or when other programs want the core).
                    let mut idle = 0u32;
                    while !done.load(Ordering::Acquire) {
                        if rayon::yield_now() == Some(rayon::Yield::Executed) {
                            idle = 0;
                        } else if idle < SPIN_POLLS {
                            idle += 1;
                            std::hint::spin_loop();
                        } else {
                            std::thread::sleep(std::time::Duration::from_micros(50));
                        }
                    }
                });
            }
            let out = f();
            done.store(true, Ordering::Release);
            out
        })
    }

    pub fn each<T: Send>(parts: Vec<T>, f: impl Fn(T) + Sync) {
        run(parts, f);
    }

    pub fn run<T: Send, R: Send>(parts: Vec<T>, f: impl Fn(T) -> R + Sync) -> Vec<R> {
        if parts.len() <= 1 || threads() == 1 {
            return parts.into_iter().map(f).collect();
        }
        // One task per part; `collect` keeps part order.
        parts.into_par_iter().with_max_len(1).map(&f).collect()
    }
}

/// Records that rayon's pool is running and returns its threads; from then on the CPU engine
/// uses them. Call it only after `initThreadPool` has resolved.
#[cfg(all(target_arch = "wasm32", feature = "threads"))]
pub fn pool_started() -> usize {
    imp::pool_started()
}

/// Threads to split over: natively the available parallelism, in the threaded wasm build the
/// pool's threads, otherwise 1; at most 8.
pub fn threads() -> usize {
    imp::threads()
}

/// Boundaries cutting `items` into at most `threads()` near-equal contiguous ranges:
/// `[0, b1, …, items]`.
pub fn bounds(items: usize) -> Vec<usize> {
    let parts = threads().min(items).max(1);
    (0..=parts).map(|p| p * items / parts).collect()
}

/// `data` cut at `bounds` (in units of `unit` elements).
pub fn split<'a, T>(mut data: &'a mut [T], bounds: &[usize], unit: usize) -> Vec<&'a mut [T]> {
    let mut out = Vec::with_capacity(bounds.len().saturating_sub(1));
    for w in bounds.windows(2) {
        let (head, tail) = data.split_at_mut((w[1] - w[0]) * unit);
        out.push(head);
        data = tail;
    }
    out
}

/// Runs `f` on every part, in parallel where there are threads, and returns the results in part
/// order.
pub fn run<T: Send, R: Send>(parts: Vec<T>, f: impl Fn(T) -> R + Sync) -> Vec<R> {
    imp::run(parts, f)
}

/// Runs `f` where the parallel parts inside it start fastest: in the threaded wasm build, once
/// the pool runs, on one of the pool's threads while the calling thread waits (a part handed out
/// from a pool thread is taken by the next idle thread; from outside the pool every handing-out
/// would wait for a sleeping thread to wake, and the caller to wake again after). Elsewhere it
/// just calls `f`. The CPU engine's training steps and evaluations run in it.
pub fn in_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    imp::in_pool(f)
}

/// Runs `f` on every part: across the pool in the threaded wasm build, one after the other on
/// the calling thread everywhere else (for elementwise passes, see [`elementwise_parts`]).
pub fn each<T: Send>(parts: Vec<T>, f: impl Fn(T) + Sync) {
    imp::each(parts, f)
}

/// Elementwise passes shorter than this stay on one thread.
#[cfg_attr(
    not(all(target_arch = "wasm32", feature = "threads")),
    allow(dead_code)
)]
const MIN_SPLIT_ELEMENTS: usize = 1 << 15;

/// Parts to cut an elementwise pass over `len` values into (an optimizer update): the pool's
/// threads in the threaded wasm build, for long passes; otherwise 1. Natively such passes are
/// memory-bound and short beside the matrix products, and stay on the calling thread as they
/// always have.
pub fn elementwise_parts(len: usize) -> usize {
    #[cfg(all(target_arch = "wasm32", feature = "threads"))]
    if len >= MIN_SPLIT_ELEMENTS {
        return threads();
    }
    let _ = len;
    1
}

/// Products smaller than this many multiply-adds stay on one thread: handing out the blocks
/// would cost more than it saves.
const MIN_SPLIT_MACS: usize = 1 << 17;

/// matrixmultiply's register block in wasm (8 × 8): blocks are cut at multiples of it, so no
/// thread gets a ragged edge the whole product would not have.
const TILE: usize = 8;

/// `c = a · b` (c's values are overwritten), as ndarray's `general_mat_mul(1, a, b, 0, c)`.
pub fn gemm_into(a: ArrayView2<f32>, b: ArrayView2<f32>, c: &mut ArrayViewMut2<f32>) {
    #[cfg(all(target_arch = "wasm32", feature = "threads"))]
    if split_gemm(a, b, c) {
        return;
    }
    general_mat_mul(1.0, &a, &b, 0.0, c);
}

/// `a · b`, as ndarray's `a.dot(&b)` (and in the same memory order).
pub fn dot(a: ArrayView2<f32>, b: ArrayView2<f32>) -> Array2<f32> {
    #[cfg(all(target_arch = "wasm32", feature = "threads"))]
    {
        use ndarray::ShapeBuilder;
        let (m, n) = (a.nrows(), b.ncols());
        assert_eq!(a.ncols(), b.nrows(), "dot: inner dimensions differ");
        // ndarray's rule: column-major output when both inputs are.
        let column_major = a.strides()[0] == 1 && b.strides()[0] == 1;
        let mut c = Array2::zeros((m, n).set_f(column_major));
        gemm_into(a, b, &mut c.view_mut());
        c
    }
    #[cfg(not(all(target_arch = "wasm32", feature = "threads")))]
    a.dot(&b)
}

/// `[0, b1, …, len]`: `len` cut into at most `parts` blocks whose lengths are multiples of
/// [`TILE`] (but the last).
fn tile_bounds(len: usize, parts: usize) -> Vec<usize> {
    let tiles = len.div_ceil(TILE).max(1);
    let per = tiles.div_ceil(parts.clamp(1, tiles)) * TILE;
    let mut bounds: Vec<usize> = (0..len).step_by(per.max(1)).collect();
    bounds.push(len);
    bounds
}

/// Parts a product of `macs` multiply-adds is split into: 1 unless this is the threaded wasm
/// build with its pool running and the product is big enough.
fn gemm_parts(macs: usize) -> usize {
    if cfg!(all(target_arch = "wasm32", feature = "threads")) && macs >= MIN_SPLIT_MACS {
        threads()
    } else {
        1
    }
}

/// A linear layer's forward pass, `x · wᵀ + b` (`w` is `[out, in]`), then ReLU when `relu`.
/// Split over the threads by blocks of output columns, each block's bias and ReLU applied where
/// it was computed; otherwise exactly ndarray's product, the bias, then the ReLU.
pub fn linear(
    x: ArrayView2<f32>,
    w: ArrayView2<f32>,
    b: ArrayView1<f32>,
    relu: bool,
) -> Array2<f32> {
    let finish = |z: &mut ArrayViewMut2<f32>, b: ArrayView1<f32>| {
        *z += &b;
        if relu {
            z.mapv_inplace(|v| v.max(0.0));
        }
    };
    let (m, k, n) = (x.nrows(), x.ncols(), w.nrows());
    let parts = gemm_parts(m * k * n);
    if parts < 2 || n < 2 * TILE {
        let mut z = x.dot(&w.t());
        finish(&mut z.view_mut(), b);
        return z;
    }
    let mut z = Array2::zeros((m, n));
    let bounds = tile_bounds(n, parts);
    let blocks: Vec<_> = split_views(z.view_mut(), Axis(1), &bounds)
        .into_iter()
        .zip(bounds.windows(2))
        .collect();
    each(blocks, |(mut zb, r)| {
        let (wb, bb) = (
            w.slice(ndarray::s![r[0]..r[1], ..]),
            b.slice(ndarray::s![r[0]..r[1]]),
        );
        general_mat_mul(1.0, &x, &wb.t(), 0.0, &mut zb);
        finish(&mut zb, bb);
    });
    z
}

/// A linear layer's backward pass from `dz`, the gradient at its output (`[batch, out]`), with
/// `a` its input (`[batch, in]`) and `w` its weight (`[out, in]`): the weight gradient `dzᵀ a`,
/// the bias gradient (`dz` summed over the batch) and, with `input`, the gradient at the input
/// through the ReLU that made `a`, `(dz w) ⊙ [a > 0]`. The two products (and, with more threads,
/// blocks of their input columns) are computed at once on separate threads; otherwise exactly
/// ndarray's products and sums.
pub fn linear_backward(
    dz: ArrayView2<f32>,
    a: ArrayView2<f32>,
    w: ArrayView2<f32>,
    input: bool,
) -> (Array2<f32>, Array1<f32>, Option<Array2<f32>>) {
    let relu_mask = |da: &mut ArrayViewMut2<f32>, a: ArrayView2<f32>| {
        Zip::from(da).and(a).for_each(|g, &x| {
            if x <= 0.0 {
                *g = 0.0;
            }
        });
    };
    let (batch, out, inputs) = (dz.nrows(), dz.ncols(), a.ncols());
    let products = 1 + usize::from(input);
    let parts = gemm_parts(products * batch * out * inputs);
    let bias = dz.sum_axis(Axis(0));
    if parts < 2 {
        let weight = dz.t().dot(&a);
        let da = input.then(|| {
            let mut da = dz.dot(&w);
            relu_mask(&mut da.view_mut(), a);
            da
        });
        return (weight, bias, da);
    }
    // Blocks of input columns, enough of them for every thread.
    let bounds = tile_bounds(inputs, parts.div_ceil(products));
    let mut weight = Array2::zeros((out, inputs));
    let mut da = input.then(|| Array2::zeros((batch, inputs)));
    let mut tasks: Vec<_> = split_views(weight.view_mut(), Axis(1), &bounds)
        .into_iter()
        .zip(bounds.windows(2))
        .map(|(block, r)| (true, block, r))
        .collect();
    if let Some(da) = &mut da {
        tasks.extend(
            split_views(da.view_mut(), Axis(1), &bounds)
                .into_iter()
                .zip(bounds.windows(2))
                .map(|(block, r)| (false, block, r)),
        );
    }
    each(tasks, |(is_weight, mut block, r)| {
        let cols = ndarray::s![.., r[0]..r[1]];
        if is_weight {
            general_mat_mul(1.0, &dz.t(), &a.slice(cols), 0.0, &mut block);
        } else {
            general_mat_mul(1.0, &dz, &w.slice(cols), 0.0, &mut block);
            relu_mask(&mut block, a.slice(cols));
        }
    });
    (weight, bias, da)
}

/// `view` cut along `axis` at `bounds` (`[0, …, len]`) into disjoint views.
fn split_views<'a>(
    mut view: ArrayViewMut2<'a, f32>,
    axis: Axis,
    bounds: &[usize],
) -> Vec<ArrayViewMut2<'a, f32>> {
    let mut out = Vec::with_capacity(bounds.len().saturating_sub(1));
    for w in bounds.windows(2) {
        let (head, tail) = view.split_at(axis, w[1] - w[0]);
        out.push(head);
        view = tail;
    }
    out
}

/// The threaded build's product: `c`'s rows (or columns, when there are more of them) cut into
/// one block per thread. False, having done nothing, when the product is too small to split.
#[cfg(all(target_arch = "wasm32", feature = "threads"))]
fn split_gemm(a: ArrayView2<f32>, b: ArrayView2<f32>, c: &mut ArrayViewMut2<f32>) -> bool {
    use ndarray::Axis;

    let (m, k, n) = (a.nrows(), a.ncols(), b.ncols());
    let threads = threads();
    if threads < 2 || m * k * n < MIN_SPLIT_MACS {
        return false;
    }
    let (axis, len) = if m >= n { (Axis(0), m) } else { (Axis(1), n) };
    let tiles = len.div_ceil(TILE);
    if tiles < 2 {
        return false;
    }
    let chunk = tiles.div_ceil(threads.min(tiles)) * TILE;
    let blocks: Vec<_> = c.axis_chunks_iter_mut(axis, chunk).collect();
    if axis == Axis(0) {
        let parts: Vec<_> = a.axis_chunks_iter(axis, chunk).zip(blocks).collect();
        run(parts, |(a, mut c)| {
            general_mat_mul(1.0, &a, &b, 0.0, &mut c)
        });
    } else {
        let parts: Vec<_> = b.axis_chunks_iter(axis, chunk).zip(blocks).collect();
        run(parts, |(b, mut c)| {
            general_mat_mul(1.0, &a, &b, 0.0, &mut c)
        });
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn products_are_ndarrays() {
        let a = Array2::from_shape_fn((37, 50), |(i, j)| ((i * 7 + j) % 11) as f32 - 5.0);
        let b = Array2::from_shape_fn((50, 29), |(i, j)| ((i + 3 * j) % 13) as f32 / 7.0);
        assert_eq!(dot(a.view(), b.view()), a.dot(&b));
        assert_eq!(dot(b.t(), a.t()), b.t().dot(&a.t()));
        let mut c = Array2::from_elem((37, 29), f32::NAN);
        gemm_into(a.view(), b.view(), &mut c.view_mut());
        assert_eq!(c, a.dot(&b));
    }
}
