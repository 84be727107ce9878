//! The web layer: the only code that touches wasm-bindgen, web-sys, js-sys and
//! serde-wasm-bindgen. It is thin on purpose: `session::Session` wraps the core's data, trainer and
//! evaluation for the Web Worker, and `charts::draw_curves` draws the page's charts with plotters.
//! Every export returns `Result<_, JsError>` so core errors reach the page as messages.

mod bench;
mod charts;
mod costs;
mod lottery;
mod pruning;
mod scratch;
mod session;
mod structure;
mod vit_costs;
mod vit_practice;

use wasm_bindgen::prelude::*;

/// Runs once when the module is instantiated (on the page and in the worker): panics, which
/// should never happen, at least reach the console with their message.
#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
}
