//! The browser benchmark's handle on PrunePlay (`cargo xtask bench` drives it in headless
//! Chromium beside TensorFlow.js): set up either engine on decoded MNIST, run training steps and
//! test-set inference for the page to time, and hand the same images to TensorFlow.js.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::data::Mnist;
use crate::engine::Engine;
use crate::gpu::GpuContext;
use crate::model::Network;
use crate::train::{Budget, OptimizerConfig, Split, TrainConfig};

#[derive(Default)]
struct State {
    gpu: Option<Rc<GpuContext>>,
    engine: Option<Engine>,
    /// Dense forward FLOPs per sample of the model set up last.
    flops: u64,
}

#[wasm_bindgen]
pub struct Bench {
    data: Rc<Mnist>,
    state: Rc<RefCell<State>>,
}

fn js_error(e: impl std::fmt::Display) -> JsValue {
    JsError::new(&e.to_string()).into()
}

#[wasm_bindgen]
impl Bench {
    /// Decodes the four MNIST files (same order as `ModelStore.loadData`).
    #[wasm_bindgen(constructor)]
    pub fn new(a: &[u8], b: &[u8], c: &[u8], d: &[u8]) -> Result<Bench, JsValue> {
        let data = Mnist::from_idx(a, b, c, d).map_err(js_error)?;
        Ok(Bench {
            data: Rc::new(data),
            state: Rc::default(),
        })
    }

    /// Opens the WebGPU device; resolves to the adapter's name, or rejects.
    #[wasm_bindgen(js_name = initGpu)]
    pub fn init_gpu(&self) -> js_sys::Promise {
        let state = Rc::clone(&self.state);
        future_to_promise(async move {
            let ctx = GpuContext::new().await.map_err(js_error)?;
            let name = ctx.adapter_name();
            state.borrow_mut().gpu = Some(Rc::new(ctx));
            Ok(JsValue::from_str(&name))
        })
    }

    /// A fresh LeNet-300-100 on `backend` ("webgpu" or "cpu") with SGD (lr 0.05, momentum 0.9),
    /// the settings the TensorFlow.js side uses; or, for "webgpu-vit" and "cpu-vit", the shipped
    /// ViT's shape and optimizer (AdamW) on that engine.
    #[wasm_bindgen(js_name = setUp)]
    pub fn set_up(&self, backend: &str, batch: usize) -> Result<(), JsValue> {
        let mut state = self.state.borrow_mut();
        let data = &self.data;
        let (backend, vit) = match backend.strip_suffix("-vit") {
            Some(engine) => (engine, true),
            None => (backend, false),
        };
        let base = if vit {
            TrainConfig::vit()
        } else {
            TrainConfig {
                optimizer: OptimizerConfig::sgd(),
                ..TrainConfig::default()
            }
        };
        let config = TrainConfig {
            batch,
            budget: Budget::Iters(u64::MAX / 2),
            ..base
        };
        // The same FLOP count as `pruneplay bench` (three dense forward passes a step).
        state.flops = config.arch.seeded(config.init, 0).forward_flops();
        let engine = match (backend, &state.gpu) {
            ("webgpu", Some(ctx)) => Engine::gpu(Rc::clone(ctx), &config, data),
            ("webgpu", None) => return Err(js_error("WebGPU is not initialised")),
            _ => Engine::cpu(&config, data),
        };
        state.engine = Some(engine.map_err(js_error)?);
        Ok(())
    }

    /// Dense forward FLOPs per sample of the model `setUp` made: a training step counts three.
    #[wasm_bindgen(js_name = forwardFlops)]
    pub fn forward_flops(&self) -> f64 {
        self.state.borrow().flops as f64
    }

    /// Runs `steps` training steps; resolves when the GPU has finished them (their metrics are
    /// read back, as in training).
    pub fn train(&self, steps: u32) -> js_sys::Promise {
        let state = Rc::clone(&self.state);
        future_to_promise(async move {
            let mut engine = take(&state)?;
            let result = engine.train_steps(u64::from(steps)).await;
            state.borrow_mut().engine = Some(engine);
            let stats = result.map_err(js_error)?;
            Ok(JsValue::from_f64(f64::from(stats.loss)))
        })
    }

    /// Evaluates the 10,000 test images; resolves to the accuracy.
    pub fn infer(&self) -> js_sys::Promise {
        let state = Rc::clone(&self.state);
        future_to_promise(async move {
            let engine = take(&state)?;
            let result = engine.evaluate(Split::Test).await;
            state.borrow_mut().engine = Some(engine);
            Ok(JsValue::from_f64(result.map_err(js_error)?.accuracy))
        })
    }

    /// The first `n` training images in [0, 1], row-major `[n, 784]`, for TensorFlow.js.
    #[wasm_bindgen(js_name = trainImages)]
    pub fn train_images(&self, n: usize) -> Vec<f32> {
        self.data.train.batch(0, n).0.into_raw_vec_and_offset().0
    }

    #[wasm_bindgen(js_name = trainLabels)]
    pub fn train_labels(&self, n: usize) -> Vec<u8> {
        let labels = self.data.train.labels();
        labels[..n.min(labels.len())].to_vec()
    }

    /// All test images in [0, 1], row-major `[10000, 784]`.
    #[wasm_bindgen(js_name = testImages)]
    pub fn test_images(&self) -> Vec<f32> {
        let test = &self.data.test;
        test.batch(0, test.len()).0.into_raw_vec_and_offset().0
    }
}

/// The engine, out of the state while a future uses it (no borrow is held across an await).
fn take(state: &Rc<RefCell<State>>) -> Result<Engine, JsValue> {
    state
        .borrow_mut()
        .engine
        .take()
        .ok_or_else(|| js_error("call setUp first"))
}
