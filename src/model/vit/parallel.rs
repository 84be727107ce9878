//! Splitting the non-GEMM work (attention, LayerNorm, GELU) over the machine's cores.
//!
//! The GEMMs are already threaded by matrixmultiply; without this the rest of a training step
//! runs on one core and dominates. Work is cut into one contiguous part per core (whole images
//! or rows), each part runs on its own scoped thread, and results are combined in part order,
//! so the output does not depend on timing. Where threads are unavailable (wasm) everything
//! runs in one part on the calling thread.

use std::sync::OnceLock;

/// Threads to split over: the available parallelism, at most 8.
pub fn threads() -> usize {
    static THREADS: OnceLock<usize> = OnceLock::new();
    *THREADS.get_or_init(|| {
        std::thread::available_parallelism()
            .map(|n| n.get().min(8))
            .unwrap_or(1)
    })
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

/// Runs `f` on every part, the first on this thread and the others on scoped threads, and
/// returns the results in part order.
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
