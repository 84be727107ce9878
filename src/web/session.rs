//! Training in the browser on the CPU engine, a chunk of steps per call so the worker can post
//! progress and notice a Cancel between chunks.

use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;

use crate::data::{Dataset, Mnist};
use crate::model::Architecture;
use crate::train::{Budget, OptimizerConfig, OptimizerKind, TrainConfig, Trainer, evaluate};

/// Validation images evaluated at each progress point. The full 5,000 cost about as much as 80
/// training steps in wasm; 1,000 give the curve's shape at a fifth of that.
const PROGRESS_VALIDATION_SIZE: usize = 1_000;

/// What the page sends to start a run (camelCase JSON).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RunConfig {
    arch: Option<String>,
    optimizer: Option<String>,
    lr: Option<f32>,
    batch: Option<usize>,
    iters: u64,
    seed: Option<u64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DataSummary {
    train: usize,
    validation: usize,
    test: usize,
    rows: usize,
    cols: usize,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Progress {
    step: u64,
    total_steps: u64,
    epoch: u64,
    train_loss: f32,
    train_acc: f64,
    val_loss: f32,
    val_acc: f64,
    weights_remaining: f64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TestReport {
    test_acc: f64,
    test_loss: f32,
    confusion: Vec<Vec<u32>>,
    steps: u64,
    backend: &'static str,
}

/// The worker's state: the data set once loaded, and the current run.
#[wasm_bindgen]
pub struct Session {
    data: Option<Mnist>,
    progress_validation: Option<Dataset>,
    trainer: Option<Trainer>,
    total_steps: u64,
}

fn js_error(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

#[wasm_bindgen]
impl Session {
    #[wasm_bindgen(constructor)]
    pub fn new() -> Session {
        Session {
            data: None,
            progress_validation: None,
            trainer: None,
            total_steps: 0,
        }
    }

    /// Decodes the four MNIST IDX files (gzip), in the standard order: training images, training
    /// labels, test images, test labels. Returns the split sizes.
    #[wasm_bindgen(js_name = loadData)]
    pub fn load_data(
        &mut self,
        train_images: &[u8],
        train_labels: &[u8],
        test_images: &[u8],
        test_labels: &[u8],
    ) -> Result<JsValue, JsError> {
        let mnist = Mnist::from_idx(train_images, train_labels, test_images, test_labels)
            .map_err(js_error)?;
        let summary = DataSummary {
            train: mnist.train.len(),
            validation: mnist.validation.len(),
            test: mnist.test.len(),
            rows: mnist.rows,
            cols: mnist.cols,
        };
        self.progress_validation = Some(mnist.validation.slice(0, PROGRESS_VALIDATION_SIZE));
        self.data = Some(mnist);
        serde_wasm_bindgen::to_value(&summary).map_err(js_error)
    }

    /// Starts a fresh run (the previous one, if any, is dropped). Missing fields take the CLI's
    /// defaults; every value is validated before any work starts.
    pub fn start(&mut self, config: JsValue) -> Result<(), JsError> {
        let data = self
            .data
            .as_ref()
            .ok_or_else(|| JsError::new("the data set is not loaded yet"))?;
        let run: RunConfig = serde_wasm_bindgen::from_value(config)
            .map_err(|e| JsError::new(&format!("invalid training settings: {e}")))?;
        let kind: OptimizerKind = run
            .optimizer
            .as_deref()
            .unwrap_or("adam")
            .parse()
            .map_err(js_error)?;
        let mut optimizer = OptimizerConfig::default_for(kind);
        if let Some(lr) = run.lr {
            optimizer.lr = lr;
        }
        let arch: Architecture = match run.arch {
            Some(spec) => spec.parse().map_err(js_error)?,
            None => Architecture::lenet_300_100(),
        };
        let config = TrainConfig {
            arch,
            optimizer,
            batch: run.batch.unwrap_or(60),
            budget: Budget::Iters(run.iters),
            seed: run.seed.unwrap_or(0),
            ..TrainConfig::default()
        };
        self.trainer = Some(Trainer::new(&config, &data.train).map_err(js_error)?);
        self.total_steps = config.total_steps(data.train.len());
        Ok(())
    }

    /// Runs up to `n` more steps, then evaluates on the progress validation subset.
    #[wasm_bindgen(js_name = trainSteps)]
    pub fn train_steps(&mut self, n: u32) -> Result<JsValue, JsError> {
        let (Some(data), Some(val), Some(trainer)) =
            (&self.data, &self.progress_validation, &mut self.trainer)
        else {
            return Err(JsError::new("no training run has been started"));
        };
        let n = u64::from(n).min(self.total_steps.saturating_sub(trainer.step()));
        let stats = trainer.train_steps(&data.train, n).map_err(js_error)?;
        let eval = evaluate(trainer.model(), val);
        let progress = Progress {
            step: stats.step,
            total_steps: self.total_steps,
            epoch: stats.epoch,
            train_loss: stats.loss,
            train_acc: stats.accuracy,
            val_loss: eval.loss,
            val_acc: eval.accuracy,
            weights_remaining: trainer.model().weights_remaining(),
        };
        serde_wasm_bindgen::to_value(&progress).map_err(js_error)
    }

    /// True once the run has taken all its steps.
    #[wasm_bindgen(getter)]
    pub fn finished(&self) -> bool {
        self.trainer
            .as_ref()
            .is_some_and(|t| t.step() >= self.total_steps)
    }

    /// Loss, accuracy and confusion matrix on the 10,000 test images.
    pub fn test(&self) -> Result<JsValue, JsError> {
        let (Some(data), Some(trainer)) = (&self.data, &self.trainer) else {
            return Err(JsError::new("no training run has been started"));
        };
        let eval = evaluate(trainer.model(), &data.test);
        let report = TestReport {
            test_acc: eval.accuracy,
            test_loss: eval.loss,
            confusion: eval.confusion,
            steps: trainer.step(),
            backend: "cpu",
        };
        serde_wasm_bindgen::to_value(&report).map_err(js_error)
    }
}

impl Default for Session {
    fn default() -> Self {
        Self::new()
    }
}
