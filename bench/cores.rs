//! Do this machine's cores run floating-point arithmetic side by side at full speed? Two loops,
//! each timed once on one thread and then as two copies on two threads at once:
//! - a latency-bound one (one chain of dependent multiply-adds), which leaves the core's
//!   arithmetic units mostly idle;
//! - a throughput-bound one (64 independent chains, vectorised), which keeps them busy, as a
//!   matrix product's kernel does.
//! Two independent cores give a per-thread slowdown of about 1.00 for both; two hyperthreads of one
//! core (vCPUs a host has placed on SMT siblings) give about 1.00 for the first and well above 1
//! for the second. BENCHMARKS.md explains what that means for the threaded wasm build.
//!
//! rustc -O bench/cores.rs -o target/cores && target/cores

use std::hint::black_box;
use std::time::Instant;

#[inline(never)]
fn latency_bound(n: usize) -> f32 {
    let mut x = 1.0f32;
    for i in 0..n {
        x = x * 1.000_001 + (i as f32) * 1e-9;
    }
    x
}

#[inline(never)]
fn throughput_bound(n: usize) -> f32 {
    let a = [1.0f32; 64];
    let mut acc = [0f32; 64];
    for _ in 0..n {
        for i in 0..64 {
            acc[i] = acc[i] * 0.999 + a[i];
        }
    }
    acc.iter().sum()
}

fn slowdown(name: &str, work: fn(usize) -> f32, n: usize) {
    let t = Instant::now();
    black_box(work(n));
    let one = t.elapsed().as_secs_f64();
    let t = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| black_box(work(n)));
        }
    });
    let two = t.elapsed().as_secs_f64();
    println!("{name}: one thread {one:.3} s, two copies at once {two:.3} s: per-thread slowdown {:.2}", two / one);
}

fn main() {
    for _ in 0..3 {
        slowdown("latency-bound scalar", latency_bound, 300_000_000);
        slowdown("throughput-bound SIMD", throughput_bound, 20_000_000);
    }
}
