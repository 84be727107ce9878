//! The CPU engine's threads in the page: how many it uses, and in the threaded build (feature
//! `threads`) the pool of Web Workers behind them.
//!
//! The worker loads the threaded build when the page is cross-origin isolated, then calls
//! `await initThreadPool(n)` (wasm-bindgen-rayon: n Web Workers sharing this module's memory) and
//! `threadPoolStarted()`; until then, and always in the single-threaded build, the CPU engine
//! runs on the calling thread.

use wasm_bindgen::prelude::*;

// `initThreadPool(n)`: exported by wasm-bindgen-rayon itself; named here so the crate is linked.
#[cfg(feature = "threads")]
#[allow(unused_imports)]
pub use wasm_bindgen_rayon::init_thread_pool;

/// Tells the CPU engine that `initThreadPool` has resolved; returns the pool's threads.
#[cfg(feature = "threads")]
#[wasm_bindgen(js_name = threadPoolStarted)]
pub fn thread_pool_started() -> usize {
    crate::parallel::pool_started()
}

/// Threads the CPU engine splits its work over: 1 in the single-threaded build.
#[wasm_bindgen(js_name = cpuThreads)]
pub fn cpu_threads() -> usize {
    crate::parallel::threads()
}
