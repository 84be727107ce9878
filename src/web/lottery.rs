//! The lottery-ticket lab in the browser: the core's resumable experiments
//! ([`crate::lottery`]) driven a chunk of iterations per call, on the engine its Engine control gives
//! (see [`super::engine_choice`]).
//!
//! The experiment is taken out of the lab while a chunk runs and put back afterwards, so no
//! borrow is held across an `await`. If the GPU fails mid-chunk, the run in progress restarts on
//! the CPU engine (the core keeps every finished result) and the progress says so.

use std::cell::RefCell;
use std::rc::Rc;

use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::engine_choice::{Choice, Decision};
use super::store::{ModelStore, Shared};
use super::{js_error, page_backend_name};
use crate::engine::Backend;
use crate::lottery::check_ladder;
use crate::lottery::{
    Arm, InstabilityExperiment, InstabilitySettings, LotteryExperiment, LotterySettings, Strategy,
    ladder,
};
use crate::race::race_key;
use crate::train::TrainConfig;

/// The weights remaining (percent) after each of rounds 0 (dense) to `rounds` of the lab's
/// network under `strategy`, counted as the pruning code will count them: the card describes a
/// run before it starts from the core's ladder, not from a formula of its own.
///
/// `arch` is the shape the lab trains (`784-256-128-10`; see `Started::arch`), LeNet-300-100
/// when not given.
#[wasm_bindgen(js_name = lotteryLadder)]
pub fn lottery_ladder(
    rounds: u32,
    strategy: &str,
    arch: Option<String>,
) -> Result<Vec<f64>, JsValue> {
    let strategy: Strategy = strategy.parse().map_err(js_error)?;
    let arch = match arch {
        Some(text) => text.parse().map_err(js_error)?,
        None => LotterySettings::default().arch,
    };
    check_ladder(&arch, strategy, rounds).map_err(js_error)?;
    Ok(ladder(&arch, strategy, rounds)
        .iter()
        .map(|rung| rung.weights_remaining)
        .collect())
}

/// A lottery experiment or an instability analysis in progress, with the engine it runs on.
enum Lab {
    Lottery(Box<LotteryExperiment>),
    Instability(Box<InstabilityExperiment>),
}

/// What the page sends to start a lottery experiment or an instability analysis (camelCase).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct LabRequest {
    iters: u64,
    rounds: Option<u32>,
    rewind_iter: u64,
    strategy: String,
    /// "reinit", "random-mask".
    controls: Option<Vec<String>>,
    seed: u64,
    eval_every: u64,
    /// Instability only: weights remaining (percent) of the network analysed.
    weights_remaining: Option<f64>,
    /// The lab's Engine control: "auto", "webgpu" or "cpu" (see [`super::engine_choice`]); a
    /// practice demonstration sends none and follows the training card's.
    backend: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Started {
    backend: &'static str,
    /// Why that engine (see [`super::engine_choice`]).
    why: String,
    /// The shape trained from a fresh seeded θ₀: the model to prune's when it is an MLP.
    arch: String,
    /// Every setting of the run, the seed included, as the core holds them: what the card's
    /// JSON download carries so the run can be repeated (`pruneplay lottery` takes the same).
    settings: serde_json::Value,
}

impl LabRequest {
    fn parse(request: JsValue) -> Result<Self, JsValue> {
        serde_wasm_bindgen::from_value(request)
            .map_err(|e| js_error(format!("invalid lottery settings: {e}")))
    }

    fn strategy(&self) -> Result<Strategy, JsValue> {
        self.strategy.parse().map_err(js_error)
    }

    /// The engine the lab's Engine control gives: the lab trains LeNet-300-100 at the training
    /// card's default batch, so it shares that shape's engine race.
    fn decision(&self, store: &Shared) -> Result<Decision, JsValue> {
        let choice = match &self.backend {
            Some(value) => Choice::parse(Some(value))?,
            None => store.engine_choice,
        };
        Ok(store.decide(choice, &race_key(&TrainConfig::default())))
    }
}

/// A lottery-ticket lab over the page's store: the lab card has one, and each practice question
/// that runs a lottery experiment has its own, so neither waits for the other.
#[wasm_bindgen]
pub struct LotteryLab {
    store: Rc<RefCell<Shared>>,
    /// The run in progress and the engine it runs on.
    run: Rc<RefCell<Option<(Lab, Backend)>>>,
}

impl LotteryLab {
    /// Makes `lab` this lab's run, on the backend `request` asks for; returns the engine, the
    /// shape and the settings.
    fn install(&self, lab: Lab, request: &LabRequest) -> Result<JsValue, JsValue> {
        let Decision { backend, why } = request.decision(&self.store.borrow())?;
        let (arch, settings) = match &lab {
            Lab::Lottery(e) => (
                e.settings().arch.to_string(),
                serde_json::to_value(e.settings()),
            ),
            Lab::Instability(e) => (
                e.settings().arch.to_string(),
                serde_json::to_value(e.settings()),
            ),
        };
        let started = Started {
            backend: page_backend_name(backend.name()),
            why,
            arch,
            settings: settings.map_err(js_error)?,
        };
        *self.run.borrow_mut() = Some((lab, backend));
        // As plain objects: the default serializer would make the settings' maps JS `Map`s.
        started
            .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
            .map_err(js_error)
    }
}

#[wasm_bindgen]
impl LotteryLab {
    #[wasm_bindgen(constructor)]
    pub fn new(store: &ModelStore) -> LotteryLab {
        LotteryLab {
            store: Rc::clone(&store.shared),
            run: Rc::default(),
        }
    }

    /// Starts a lottery-ticket experiment (replacing this lab's run in progress). Returns the engine
    /// it runs on.
    #[wasm_bindgen(js_name = lotteryStart)]
    pub fn lottery_start(&self, request: JsValue) -> Result<JsValue, JsValue> {
        let request = LabRequest::parse(request)?;
        let (data, arch) = {
            let store = self.store.borrow();
            (store.data()?, store.lab_arch())
        };
        let controls = request
            .controls
            .iter()
            .flatten()
            .map(|c| c.parse::<Arm>())
            .collect::<crate::Result<Vec<_>>>()
            .map_err(js_error)?;
        let settings = LotterySettings {
            iters: request.iters,
            rounds: request.rounds.unwrap_or(LotterySettings::default().rounds),
            rewind_iter: request.rewind_iter,
            strategy: request.strategy()?,
            controls,
            seed: request.seed,
            eval_every: request.eval_every,
            arch,
            ..LotterySettings::default()
        };
        let experiment = LotteryExperiment::new(settings, &data).map_err(js_error)?;
        self.install(Lab::Lottery(Box::new(experiment)), &request)
    }

    /// Starts an instability analysis: two copies trained from θ_k with different data orders,
    /// and the test error along the line between them.
    #[wasm_bindgen(js_name = instabilityStart)]
    pub fn instability_start(&self, request: JsValue) -> Result<JsValue, JsValue> {
        let request = LabRequest::parse(request)?;
        let (data, arch) = {
            let store = self.store.borrow();
            (store.data()?, store.lab_arch())
        };
        let settings = InstabilitySettings {
            iters: request.iters,
            rewind_iter: request.rewind_iter,
            weights_remaining: request.weights_remaining.unwrap_or(100.0),
            strategy: request.strategy()?,
            seed: request.seed,
            eval_every: request.eval_every,
            arch,
            ..InstabilitySettings::default()
        };
        let experiment = InstabilityExperiment::new(settings, &data).map_err(js_error)?;
        self.install(Lab::Instability(Box::new(experiment)), &request)
    }

    /// Trains the lab run in progress up to `n` more iterations. Resolves to its progress (the
    /// core's `Progress` or `InstabilityProgress`, with `backend` and, after a GPU failure,
    /// `fellBack` set).
    #[wasm_bindgen(js_name = labAdvance)]
    pub fn lab_advance(&self, n: u32) -> js_sys::Promise {
        let (store, run) = (Rc::clone(&self.store), Rc::clone(&self.run));
        future_to_promise(async move {
            let data = store.borrow().data()?;
            let (mut lab, mut backend) = run
                .borrow_mut()
                .take()
                .ok_or_else(|| js_error("no lottery experiment has been started"))?;
            let n = u64::from(n);
            let mut fell_back = None;
            let mut result = advance(&mut lab, &backend, &data, n).await;
            if let (Err(e), Backend::Gpu(_)) = (&result, &backend) {
                // The core restarts the interrupted run; finished results stay.
                fell_back = Some(e.to_string());
                store.borrow_mut().drop_gpu();
                backend = Backend::Cpu;
                result = advance(&mut lab, &backend, &data, n).await;
            }
            let name = page_backend_name(backend.name());
            *run.borrow_mut() = Some((lab, backend));
            let mut progress = result.map_err(js_error)?;
            if let serde_json::Value::Object(map) = &mut progress {
                map.insert("backend".into(), name.into());
                if let Some(reason) = fell_back {
                    map.insert("fellBack".into(), reason.into());
                }
            }
            // As plain objects: the default serializer would make JSON maps into JS `Map`s.
            progress
                .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
                .map_err(js_error)
        })
    }
}

/// One chunk of either experiment, as JSON for the page.
async fn advance(
    lab: &mut Lab,
    backend: &Backend,
    data: &Rc<crate::data::Mnist>,
    n: u64,
) -> crate::Result<serde_json::Value> {
    let value = match lab {
        Lab::Lottery(e) => serde_json::to_value(e.advance(backend, data, n).await?),
        Lab::Instability(e) => serde_json::to_value(e.advance(backend, data, n).await?),
    };
    value.map_err(|e| crate::Error::Config(format!("lottery progress: {e}")))
}
