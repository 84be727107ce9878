//! Reused activation buffers.
//!
//! A training step allocates tens of megabytes of activations and frees them all at its end.
//! The allocator then hands that memory back to the OS, and the next step pays a page fault and
//! a kernel zeroing for every 4 KiB page again: measured, that was over a third of a step's CPU
//! time. Buffers returned here are kept (per thread, up to [`MAX_BYTES`]) and handed out again.

use std::cell::RefCell;

use ndarray::{Array2, ArrayView2};

use crate::parallel;

/// At most this much is kept per thread (a batch of 128 at D = 64 needs about 50 MB).
const MAX_BYTES: usize = 512 << 20;
/// Smaller buffers are left to the allocator, which handles them well.
const MIN_LEN: usize = 1 << 12;

thread_local! {
    static FREE: RefCell<Vec<Vec<f32>>> = const { RefCell::new(Vec::new()) };
}

/// A zeroed buffer of `len` floats, reusing the smallest kept buffer that is large enough.
pub fn zeroed(len: usize) -> Vec<f32> {
    if len >= MIN_LEN {
        let reused = FREE.with(|free| {
            let mut free = free.borrow_mut();
            let best = free
                .iter()
                .enumerate()
                .filter(|(_, v)| v.capacity() >= len)
                .min_by_key(|(_, v)| v.capacity())
                .map(|(i, _)| i)?;
            Some(free.swap_remove(best))
        });
        if let Some(mut v) = reused {
            v.clear();
            v.resize(len, 0.0);
            return v;
        }
    }
    vec![0.0; len]
}

/// A zeroed `[rows, cols]` array.
pub fn array(rows: usize, cols: usize) -> Array2<f32> {
    Array2::from_shape_vec((rows, cols), zeroed(rows * cols))
        .unwrap_or_else(|_| unreachable!("sized to fit"))
}

/// Keeps `v` for reuse, unless the kept buffers would then exceed [`MAX_BYTES`].
pub fn recycle(v: Vec<f32>) {
    if v.capacity() < MIN_LEN {
        return;
    }
    FREE.with(|free| {
        let mut free = free.borrow_mut();
        let kept: usize = free.iter().map(|b| b.capacity() * 4).sum();
        if kept + v.capacity() * 4 <= MAX_BYTES {
            free.push(v);
        }
    });
}

/// Keeps an array's storage for reuse.
pub fn recycle_array(a: Array2<f32>) {
    recycle(a.into_raw_vec_and_offset().0);
}

/// `a · bᵀ` into a reused buffer (`b` is `[out, in]` like a Linear weight).
pub fn matmul_t(a: &Array2<f32>, b: ArrayView2<f32>) -> Array2<f32> {
    let mut out = array(a.nrows(), b.nrows());
    parallel::gemm_into(a.view(), b.t(), &mut out.view_mut());
    out
}

/// `a · b` into a reused buffer.
pub fn matmul(a: &Array2<f32>, b: &Array2<f32>) -> Array2<f32> {
    let mut out = array(a.nrows(), b.ncols());
    parallel::gemm_into(a.view(), b.view(), &mut out.view_mut());
    out
}
