//! The engine race: a few training steps on each engine, timed, so that "automatic" can pick the
//! faster one on the machine at hand instead of guessing from the adapter's name.
//!
//! A hardware GPU is usually far ahead, but not always: an integrated GPU with a slow driver, or a
//! model too small to fill it, can lose to the CPU engine. The race costs about a second, once per
//! model shape while the page is open. Software adapters (SwiftShader, lavapipe) never race: they
//! run the kernels on the CPU, several times slower than the CPU engine, and "automatic" skips them
//! outright (see [`crate::gpu::GpuContext::is_software`]).

use std::rc::Rc;

use serde::Serialize;

use crate::data::Mnist;
use crate::engine::{Backend, Engine};
use crate::error::Result;
use crate::gpu::GpuContext;
use crate::train::{Budget, TrainConfig};

/// Each engine's throughput in the race, in training samples per second.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RaceResult {
    pub cpu_sps: f64,
    pub gpu_sps: f64,
}

impl RaceResult {
    /// Whether the GPU won; a tie goes to the GPU, which leaves the CPU free for the page.
    pub fn gpu_wins(&self) -> bool {
        self.gpu_sps >= self.cpu_sps
    }

    /// The winner's lead over the loser, ≥ 1.
    pub fn lead(&self) -> f64 {
        let (hi, lo) = if self.gpu_wins() {
            (self.gpu_sps, self.cpu_sps)
        } else {
            (self.cpu_sps, self.gpu_sps)
        };
        if lo > 0.0 { hi / lo } else { f64::INFINITY }
    }
}

/// Steps taken before timing starts: the GPU engine compiles its pipelines and fills its first
/// submission there, the CPU engine warms its buffers.
const WARMUP_STEPS: u64 = 2;

/// Times `config`'s training step on the CPU engine and on `gpu`, for about `budget_ms`
/// milliseconds in all (half each, after a warm-up), with `clock` giving milliseconds
/// (`performance.now()` in a browser). The models trained are thrown away.
pub async fn race(
    gpu: &Rc<GpuContext>,
    config: &TrainConfig,
    data: &Rc<Mnist>,
    budget_ms: f64,
    clock: &dyn Fn() -> f64,
) -> Result<RaceResult> {
    let config = TrainConfig {
        // Long enough that no schedule or budget ends the race early.
        budget: Budget::Iters(1_000_000),
        ..config.clone()
    };
    let cpu = time_engine(&Backend::Cpu, &config, data, budget_ms / 2.0, clock).await?;
    let gpu = time_engine(
        &Backend::Gpu(Rc::clone(gpu)),
        &config,
        data,
        budget_ms / 2.0,
        clock,
    )
    .await?;
    Ok(RaceResult {
        cpu_sps: cpu,
        gpu_sps: gpu,
    })
}

/// Samples per second of one engine: steps in doubling chunks until `budget_ms` has passed.
async fn time_engine(
    backend: &Backend,
    config: &TrainConfig,
    data: &Rc<Mnist>,
    budget_ms: f64,
    clock: &dyn Fn() -> f64,
) -> Result<f64> {
    let mut engine = Engine::new(backend, config, data)?;
    engine.train_steps(WARMUP_STEPS).await?;
    let start = clock();
    let (mut steps, mut chunk) = (0u64, 1u64);
    loop {
        engine.train_steps(chunk).await?;
        steps += chunk;
        let elapsed = clock() - start;
        if elapsed >= budget_ms {
            return Ok((steps * config.batch as u64) as f64 / (elapsed.max(1e-3) / 1e3));
        }
        chunk = (chunk * 2).min(64);
    }
}

/// Names that mark a software renderer in what an adapter says of itself (vendor, architecture,
/// description): Chromium's SwiftShader, Mesa's llvmpipe and lavapipe and softpipe, and
/// Microsoft's WARP ("Basic Render Driver").
const SOFTWARE_RENDERERS: [(&str, &str); 6] = [
    ("swiftshader", "SwiftShader"),
    ("llvmpipe", "llvmpipe"),
    ("lavapipe", "lavapipe"),
    ("softpipe", "softpipe"),
    ("basic render", "WARP"),
    ("microsoft basic", "WARP"),
];

/// The software renderer named in any of `texts` (case-insensitively), if one is.
pub fn software_adapter(texts: &[&str]) -> Option<&'static str> {
    texts.iter().find_map(|text| {
        let lower = text.to_lowercase();
        SOFTWARE_RENDERERS
            .iter()
            .find(|(needle, _)| lower.contains(needle))
            .map(|&(_, name)| name)
    })
}

/// The key a race result is kept under: the same model shape at the same batch races once.
pub fn race_key(config: &TrainConfig) -> String {
    format!("{}@{}", config.arch, config.batch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn software_renderers_are_recognised_in_any_field() {
        assert_eq!(
            software_adapter(&["google", "swiftshader", ""]),
            Some("SwiftShader")
        );
        assert_eq!(
            software_adapter(&["", "", "llvmpipe (LLVM 15.0.6, 256 bits)"]),
            Some("llvmpipe")
        );
        assert_eq!(
            software_adapter(&["Microsoft Basic Render Driver"]),
            Some("WARP")
        );
        assert_eq!(software_adapter(&["nvidia", "ampere", "NVIDIA H200"]), None);
        assert_eq!(software_adapter(&["intel", "gen-12lp", ""]), None);
        assert_eq!(software_adapter(&[]), None);
    }

    #[test]
    fn the_faster_engine_wins_and_its_lead_is_the_ratio() {
        let r = RaceResult {
            cpu_sps: 1_000.0,
            gpu_sps: 4_000.0,
        };
        assert!(r.gpu_wins());
        assert_eq!(r.lead(), 4.0);
        let r = RaceResult {
            cpu_sps: 3_000.0,
            gpu_sps: 2_000.0,
        };
        assert!(!r.gpu_wins());
        assert_eq!(r.lead(), 1.5);
    }
}
