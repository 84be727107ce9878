//! What the Engine controls mean: "automatic", "WebGPU" or "CPU", turned into the engine a card
//! runs on and the one sentence the page says about it.
//!
//! "Automatic" agrees with the CLI's `--backend auto`: a software adapter (SwiftShader in a
//! headless Chromium, llvmpipe) runs the kernels on the CPU, several times slower than the CPU
//! engine, so it is passed over. On a hardware adapter WebGPU is used unless the engine race
//! ([`crate::race`]), run the first time Train is pressed for a model shape, shows the CPU engine
//! faster. Training, fine-tuning, the lottery lab and the practice demonstrations all decide here.

use std::rc::Rc;

use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;

use super::js_error;
use super::store::Shared;
use crate::engine::Backend;
use crate::race::{RaceResult, software_adapter};

/// An Engine control's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) enum Choice {
    #[default]
    Auto,
    WebGpu,
    Cpu,
}

impl Choice {
    /// `"auto"` (or nothing), `"webgpu"` or `"cpu"`.
    pub(super) fn parse(value: Option<&str>) -> Result<Self, JsValue> {
        match value {
            None | Some("auto") => Ok(Self::Auto),
            Some("webgpu") => Ok(Self::WebGpu),
            Some("cpu") => Ok(Self::Cpu),
            Some(other) => Err(js_error(format!(
                "unknown engine {other:?} (use auto, webgpu or cpu)"
            ))),
        }
    }
}

/// What the page learns of the adapter from `GPUAdapterInfo` (wgpu passes on only a description,
/// which browsers often leave empty).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct AdapterInfo {
    vendor: String,
    architecture: String,
    description: String,
    is_fallback_adapter: bool,
}

impl AdapterInfo {
    /// Why this adapter is a software renderer, or `None` for a hardware one.
    pub(super) fn software(&self) -> Option<String> {
        let texts = [
            self.vendor.as_str(),
            self.architecture.as_str(),
            self.description.as_str(),
        ];
        // The renderer's own name says most; a fallback adapter of no known name is still one.
        software_adapter(&texts)
            .map(|name| format!("{name}, a software renderer"))
            .or_else(|| {
                self.is_fallback_adapter
                    .then(|| "the browser's fallback adapter, a software renderer".into())
            })
    }
}

/// The engine a card runs on, and the sentence that says why.
pub(super) struct Decision {
    pub backend: Backend,
    pub why: String,
}

/// The page's answer to "which engine, and why", as the engine line shows it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct EngineLine {
    /// "webgpu" or "cpu".
    pub backend: &'static str,
    pub why: String,
    /// The race behind an automatic choice, when there was one.
    pub race: Option<RaceResult>,
}

impl Decision {
    pub(super) fn line(&self, race: Option<RaceResult>) -> EngineLine {
        EngineLine {
            backend: super::page_backend_name(self.backend.name()),
            why: self.why.clone(),
            race,
        }
    }
}

impl Shared {
    /// The engine `choice` gives for a model trained at `key` (its spec and batch: the race is
    /// run once for each).
    pub(super) fn decide(&self, choice: Choice, key: &str) -> Decision {
        let cpu = |why: String| Decision {
            backend: Backend::Cpu,
            why,
        };
        let gpu = |ctx: &Rc<crate::gpu::GpuContext>, why: String| Decision {
            backend: Backend::Gpu(Rc::clone(ctx)),
            why,
        };
        let usable = self.gpu.as_ref().filter(|ctx| ctx.check().is_ok());
        match (choice, usable) {
            (Choice::Cpu, _) => cpu("as chosen".into()),
            (Choice::WebGpu, Some(ctx)) => gpu(ctx, "as chosen".into()),
            (Choice::WebGpu, None) => cpu("WebGPU is not available here".into()),
            (Choice::Auto, None) => cpu("WebGPU is not available in this browser".into()),
            (Choice::Auto, Some(ctx)) => match (&self.adapter_software, self.race_result(key)) {
                (Some(software), _) => cpu(format!(
                    "chosen automatically: WebGPU here is {software}, slower than the CPU \
                     engine (Engine → WebGPU uses it anyway)"
                )),
                (None, Some(r)) if !r.gpu_wins() => cpu(format!(
                    "chosen automatically: it trained {:.1}× faster than WebGPU in a one-second \
                     race",
                    r.lead()
                )),
                (None, Some(r)) => gpu(
                    ctx,
                    format!(
                        "chosen automatically: it trained {:.1}× faster than the CPU engine in \
                         a one-second race",
                        r.lead()
                    ),
                ),
                (None, None) => gpu(ctx, "a hardware adapter".into()),
            },
        }
    }

    /// Whether an automatic choice for `key` still needs its race: a usable hardware adapter
    /// and no race run yet.
    pub(super) fn needs_race(&self, choice: Choice, key: &str) -> bool {
        choice == Choice::Auto
            && self.adapter_software.is_none()
            && self.gpu.as_ref().is_some_and(|ctx| ctx.check().is_ok())
            && self.race_result(key).is_none()
    }

    /// The race run for `key`, if one was.
    pub(super) fn race_result(&self, key: &str) -> Option<RaceResult> {
        self.races.iter().find(|(k, _)| k == key).map(|(_, r)| *r)
    }

    pub(super) fn record_race(&mut self, key: String, result: RaceResult) {
        self.races.retain(|(k, _)| *k != key);
        self.races.push((key, result));
    }

    /// The engine fine-tuning, the walk-through's and Compare's healing, and the practice
    /// demonstrations run on: the training card's Engine choice for `key`.
    pub(super) fn shared_backend(&self, key: &str) -> Backend {
        self.decide(self.engine_choice, key).backend
    }
}
