//! The engine race that "automatic" uses on a hardware adapter, run for real: LeNet's step on the
//! CPU engine against the GPU engine (lavapipe here), each timed on the wall clock.

mod common;

use std::rc::Rc;
use std::time::Instant;

use common::gpu;
use pruneplay::race::race;
use pruneplay::train::TrainConfig;

#[test]
fn the_race_times_both_engines_and_names_the_faster() {
    let Some((_turn, _)) = gpu() else { return };
    let ctx = Rc::new(pollster::block_on(pruneplay::gpu::GpuContext::new()).expect("an adapter"));
    let mnist = Rc::new(common::mnist());
    let start = Instant::now();
    let clock = move || start.elapsed().as_secs_f64() * 1e3;
    let budget_ms = 400.0;
    let result = pollster::block_on(race(
        &ctx,
        &TrainConfig::default(),
        &mnist,
        budget_ms,
        &clock,
    ))
    .expect("both engines train");
    let took = clock();
    println!("race: {result:?} in {took:.0} ms");
    assert!(result.cpu_sps.is_finite() && result.cpu_sps > 0.0);
    assert!(result.gpu_sps.is_finite() && result.gpu_sps > 0.0);
    assert_eq!(result.gpu_wins(), result.gpu_sps >= result.cpu_sps);
    assert!(result.lead() >= 1.0);
    // Each engine stops at the first chunk past its half of the budget; chunks are at most 64
    // steps, so neither runs far over (the warm-up and the data upload come on top).
    assert!(took < 60_000.0, "the race took {took:.0} ms");
    ctx.wait_idle().unwrap();
}
