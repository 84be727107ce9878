//! The web layer: the only code that touches wasm-bindgen, web-sys, js-sys and
//! serde-wasm-bindgen. It is thin on purpose, one wasm class per card of the page over one shared
//! [`store::ModelStore`] (the data set, the WebGPU device, the model to prune and the last trained
//! model):
//! - [`training::Training`]: the training card, a chunk of steps per call;
//! - [`walk_through::WalkThrough`]: the prune card's four stages, its pictures and cost meter;
//! - [`compare::Comparison`]: "Run all", one point per call, one-shot or healed;
//! - [`lottery::LotteryLab`]: lottery-ticket experiments and instability analyses;
//! - [`practice::Practice`]: the practice questions' scratch models;
//! - [`files`]: "Open a model" (a method of the store) and the prune card's downloads.
//!
//! A card holds only what it made; whatever two cards share lives in the store. `charts` draws
//! the page's charts with plotters. Every export returns `Result<_, JsError>` so core errors reach
//! the page as messages.

mod bench;
mod charts;
mod compare;
mod costs;
mod engine_choice;
mod files;
mod lottery;
mod practice;
mod request;
mod scratch;
mod store;
mod structure;
mod threads;
mod training;
mod vit_costs;
mod vit_practice;
mod walk_through;

use serde::Serialize;
use wasm_bindgen::prelude::*;

/// Runs once when the module is instantiated (on the page and in the worker): panics, which
/// should never happen, at least reach the console with their message.
#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
}

/// A core error (or any message) as the `Error` the page's promise rejects with.
pub(crate) fn js_error(e: impl std::fmt::Display) -> JsValue {
    JsError::new(&e.to_string()).into()
}

/// A reply as a plain JS object (camelCase, as each struct declares).
pub(crate) fn to_js(value: &impl Serialize) -> Result<JsValue, JsValue> {
    serde_wasm_bindgen::to_value(value).map_err(js_error)
}

/// The page's name for an engine's backend (`"cpu"` or `"gpu"`): "cpu" or "webgpu".
pub(crate) fn page_backend_name(core: &str) -> &'static str {
    if core == "gpu" { "webgpu" } else { "cpu" }
}
