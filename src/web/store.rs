//! What the page's cards share: the data set, the WebGPU device, the model pruning starts from
//! and the model of the last training run. Each card ([`super::training::Training`],
//! [`super::walk_through::WalkThrough`], …) is made over one `ModelStore` and keeps only what it
//! made itself, so a card's run never disturbs another's.
//!
//! A card that builds on the model to prune (the walk-through) remembers the store's
//! [`Shared::generation`] it started from, and starts over once another model is loaded.

use std::cell::RefCell;
use std::rc::Rc;

use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::engine_choice::{AdapterInfo, Choice};
use super::{js_error, to_js};
use crate::checkpoint::{Checkpoint, Layout};
use crate::data::{Dataset, IdxPair, Mnist, from_own_files};
use crate::engine::Backend;
use crate::gpu::GpuContext;
use crate::model::{Architecture, Mlp, Model, ModelKind, Network};
use crate::prune::calibration::Calibration;
use crate::prune::{Family, Method, PruneOptions};
use crate::race::race_key;
use crate::train::{Budget, Evaluation, TrainConfig, evaluate};

/// Validation images evaluated at each training progress point, on the CPU from the model just
/// read back. The full 5,000 cost about as much as 80 training steps in wasm; 1,000 give the
/// curve's shape at a fifth of that, and reading the model back is what keeps it safe from a lost
/// device.
const PROGRESS_VALIDATION_SIZE: usize = 1_000;

/// The state every card reads: one per page (or per embed).
#[derive(Default)]
pub(super) struct Shared {
    data: Option<Rc<Mnist>>,
    progress_validation: Option<Rc<Dataset>>,
    pub(super) gpu: Option<Rc<GpuContext>>,
    gpu_disabled: bool,
    /// The model pruning starts from (a shipped checkpoint, an opened file, or the last trained
    /// model).
    base: Option<Model>,
    /// The names the base model's tensors had in its file, so a download keeps them (see
    /// [`super::files`]); PrunePlay's own names for a model made here.
    layout: Option<Layout>,
    /// The base model on the test set, kept: every stage report compares against it.
    base_evaluation: Option<Evaluation>,
    /// Counts the models set as the base: a card's work on an older one is stale.
    generation: u64,
    /// The model of the training run at its last progress point, and that step: what "use the
    /// trained model" takes, and what a lost device falls back to.
    pub(super) trained: Option<(Model, u64)>,
    /// Calibration images by sample count: shared by the walk-through, sweeps and practice.
    calibration: Option<Calibration>,
    /// Why the adapter is a software renderer, when it is one (see [`super::engine_choice`]).
    pub(super) adapter_software: Option<String>,
    /// Engine races run so far, by [`crate::race::race_key`].
    pub(super) races: Vec<(String, crate::race::RaceResult)>,
    /// The training card's Engine control: what fine-tuning and the practice demonstrations
    /// follow.
    pub(super) engine_choice: Choice,
}

impl Shared {
    /// Stops using WebGPU for everything that follows (training, lottery rounds, timing): after
    /// a lost device, or when the adapter answered too late. A late adapter is then ignored.
    pub(super) fn drop_gpu(&mut self) {
        self.gpu_disabled = true;
        self.gpu = None;
    }

    /// The data set, once `loadData` or `loadPruningData` has run.
    pub(super) fn data(&self) -> Result<Rc<Mnist>, JsValue> {
        self.data
            .clone()
            .ok_or_else(|| js_error("the data set is not loaded yet"))
    }

    /// The validation subset training reports on; `None` where only the pruning data is loaded
    /// (an embed), so nothing can train.
    pub(super) fn progress_validation(&self) -> Option<Rc<Dataset>> {
        self.progress_validation.clone()
    }

    pub(super) fn base(&self) -> Result<&Model, JsValue> {
        self.base
            .as_ref()
            .ok_or_else(|| js_error("there is no model to prune yet"))
    }

    /// The base model for the views written for MLPs (the cost meter, practice): an error
    /// naming `what` when it is the ViT.
    pub(super) fn base_mlp(&self, what: &str) -> Result<&Mlp, JsValue> {
        self.base()?.mlp(what).map_err(js_error)
    }

    /// Which base model is current: a card's work on another one is stale.
    pub(super) fn generation(&self) -> u64 {
        self.generation
    }

    /// Makes `model` the one pruning starts from (with its test evaluation, if already made),
    /// under the names of `layout`.
    pub(super) fn set_base(
        &mut self,
        model: Model,
        evaluation: Option<Evaluation>,
        layout: Layout,
    ) {
        self.base = Some(model);
        self.base_evaluation = evaluation;
        self.layout = Some(layout);
        self.generation += 1;
    }

    /// The names the base model is saved under: those of the file it came from.
    pub(super) fn layout(&self) -> Result<Layout, JsValue> {
        match &self.layout {
            Some(layout) => Ok(layout.clone()),
            None => self.base().map(Layout::default_for),
        }
    }

    /// The shape the lottery lab trains: the model to prune's when it is an MLP (a fresh seeded
    /// θ₀ of that shape, not its trained weights), LeNet-300-100 beside the ViT, which the lab's
    /// experiment does not train.
    pub(super) fn lab_arch(&self) -> Architecture {
        self.base
            .as_ref()
            .and_then(Model::as_mlp)
            .map(Mlp::architecture)
            .unwrap_or_else(Architecture::lenet_300_100)
    }

    /// Makes a checkpoint's model the one pruning starts from, once it fits the data set (784
    /// pixels, 10 classes; the error names the layer that does not). Returns what the page shows
    /// of it; on an error the current model stays.
    pub(super) fn set_checkpoint(&mut self, checkpoint: Checkpoint) -> Result<Loaded, JsValue> {
        let data = self.data()?;
        checkpoint
            .check_fits(data.train.features(), data.train.classes())
            .map_err(js_error)?;
        let Checkpoint { model, layout, .. } = checkpoint;
        let evaluation = (!data.test.is_empty()).then(|| evaluate(&model, &data.test));
        let loaded = Loaded::of(&model, evaluation.as_ref().map(|e| e.accuracy), &layout);
        self.set_base(model, evaluation, layout);
        Ok(loaded)
    }

    /// The base model's test evaluation, made on first use.
    pub(super) fn base_evaluation(&mut self) -> Result<Evaluation, JsValue> {
        if let Some(evaluation) = &self.base_evaluation {
            return Ok(evaluation.clone());
        }
        let evaluation = evaluate(self.base()?, &self.data()?.test);
        self.base_evaluation = Some(evaluation.clone());
        Ok(evaluation)
    }

    /// The calibration images `method` needs with `options`, drawn once per sample count.
    pub(super) fn calibration(
        &mut self,
        method: Method,
        options: &PruneOptions,
    ) -> Result<Option<&Calibration>, JsValue> {
        if !method.needs_calibration() {
            return Ok(None);
        }
        let samples = options.calibration_samples;
        if self
            .calibration
            .as_ref()
            .is_none_or(|c| c.y.len() != samples)
        {
            let data = self.data()?;
            self.calibration =
                Some(Calibration::from_dataset(&data.train, samples).map_err(js_error)?);
        }
        Ok(self.calibration.as_ref())
    }

    /// The engine fine-tuning `model` runs on: what the training card's Engine control gives
    /// for its fine-tuning settings (see [`super::engine_choice`]).
    pub(super) fn finetune_backend(&self, model: &Model) -> Backend {
        let key = match model.spec().parse() {
            Ok(spec) => race_key(&TrainConfig::finetune(spec, Budget::Epochs(1), 0)),
            Err(_) => model.spec(),
        };
        self.shared_backend(&key)
    }
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

impl DataSummary {
    fn of(mnist: &Mnist) -> Self {
        Self {
            train: mnist.train.len(),
            validation: mnist.validation.len(),
            test: mnist.test.len(),
            rows: mnist.rows,
            cols: mnist.cols,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GpuStatus {
    webgpu: bool,
    adapter: Option<String>,
    reason: Option<String>,
}

/// What the page learns of a model it may prune.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Loaded {
    /// `mlp` or `vit`.
    kind: ModelKind,
    /// The spec (`784-300-100-10`, or the ViT's configuration).
    arch: String,
    /// Each linear layer's checkpoint name and shape, for the heatmap's layer picker.
    layers: Vec<LayerShape>,
    /// The methods that apply to this model, with what each removes, in the core's order.
    methods: Vec<MethodInfo>,
    /// ViT: blocks and heads per block (the head grid's shape); empty for an MLP.
    heads_per_block: Vec<usize>,
    /// None where no test images are loaded (an embedded picture), or for a trained model.
    test_acc: Option<f64>,
    /// Fraction of the linear weights its masks keep (1 for a dense model).
    weights_remaining: f64,
    /// Which names its file used, in a line ([`Layout::description`]).
    layout: String,
}

/// One method as the core describes it: the page labels it, the core says whether it applies.
#[derive(Serialize)]
struct MethodInfo {
    name: &'static str,
    family: Family,
    summary: &'static str,
    calibrated: bool,
    n_m: bool,
}

#[derive(Serialize)]
struct LayerShape {
    name: String,
    rows: usize,
    cols: usize,
}

impl Loaded {
    pub(super) fn of(model: &Model, test_acc: Option<f64>, layout: &Layout) -> Self {
        Self {
            kind: model.kind(),
            arch: model.spec(),
            layers: model
                .linear_names()
                .into_iter()
                .zip(model.linears())
                .map(|(name, l)| LayerShape {
                    name,
                    rows: l.weight.nrows(),
                    cols: l.weight.ncols(),
                })
                .collect(),
            methods: Method::every_for(model.kind())
                .into_iter()
                .map(|m| MethodInfo {
                    name: m.name(),
                    family: m.family(),
                    summary: m.summary(),
                    calibrated: m.needs_calibration(),
                    n_m: m.supports_n_m(),
                })
                .collect(),
            heads_per_block: model
                .blocks()
                .map(|b| b.heads_per_block())
                .unwrap_or_default(),
            test_acc,
            weights_remaining: model.weights_remaining(),
            layout: layout.description(),
        }
    }
}

/// The data, the device and the models the page's cards share (see the module docs). The worker
/// makes one, then one card object per card over it.
#[wasm_bindgen]
pub struct ModelStore {
    pub(super) shared: Rc<RefCell<Shared>>,
}

#[wasm_bindgen]
impl ModelStore {
    #[wasm_bindgen(constructor)]
    pub fn new() -> ModelStore {
        ModelStore {
            shared: Rc::new(RefCell::new(Shared::default())),
        }
    }

    /// Decodes the four MNIST IDX files (gzip), in the standard order: training images, training
    /// labels, test images, test labels. Returns the split sizes.
    #[wasm_bindgen(js_name = loadData)]
    pub fn load_data(
        &self,
        train_images: &[u8],
        train_labels: &[u8],
        test_images: &[u8],
        test_labels: &[u8],
    ) -> Result<JsValue, JsValue> {
        let mnist = Mnist::from_idx(train_images, train_labels, test_images, test_labels)
            .map_err(js_error)?;
        let summary = DataSummary::of(&mnist);
        self.shared.borrow_mut().replace_data(mnist);
        to_js(&summary)
    }

    /// Decodes only what pruning views need (gzip IDX), each pair only if given: the calibration
    /// images and labels for methods that calibrate, the test images and labels for views that
    /// measure accuracy. Training is not possible after this; `loadData` loads everything.
    #[wasm_bindgen(js_name = loadPruningData)]
    pub fn load_pruning_data(
        &self,
        calibration_images: Option<Vec<u8>>,
        calibration_labels: Option<Vec<u8>>,
        test_images: Option<Vec<u8>>,
        test_labels: Option<Vec<u8>>,
    ) -> Result<JsValue, JsValue> {
        fn pair<'a>(
            what: &str,
            x: &'a Option<Vec<u8>>,
            y: &'a Option<Vec<u8>>,
        ) -> Result<IdxPair<'a>, JsValue> {
            match (x, y) {
                (Some(x), Some(y)) => Ok(Some((x, y))),
                (None, None) => Ok(None),
                _ => Err(js_error(format!("{what} images and labels go together"))),
            }
        }
        let mnist = Mnist::for_pruning(
            pair("calibration", &calibration_images, &calibration_labels)?,
            pair("test", &test_images, &test_labels)?,
        )
        .map_err(js_error)?;
        let summary = DataSummary::of(&mnist);
        let mut shared = self.shared.borrow_mut();
        shared.progress_validation = None;
        shared.data = Some(Rc::new(mnist));
        shared.calibration = None;
        to_js(&summary)
    }

    /// Asks the browser for a WebGPU adapter and device. Resolves to `{webgpu, adapter, reason}`;
    /// never rejects: no WebGPU simply means the CPU engine.
    #[wasm_bindgen(js_name = initGpu)]
    pub fn init_gpu(&self) -> js_sys::Promise {
        let shared = Rc::clone(&self.shared);
        future_to_promise(async move {
            let status = match GpuContext::new().await {
                Ok(ctx) if !shared.borrow().gpu_disabled => {
                    let adapter = ctx.adapter_name();
                    shared.borrow_mut().gpu = Some(Rc::new(ctx));
                    GpuStatus {
                        webgpu: true,
                        adapter: Some(adapter),
                        reason: None,
                    }
                }
                Ok(_) => GpuStatus {
                    webgpu: false,
                    adapter: None,
                    reason: Some("WebGPU answered too late".into()),
                },
                Err(e) => GpuStatus {
                    webgpu: false,
                    adapter: None,
                    reason: Some(e.to_string()),
                },
            };
            to_js(&status)
        })
    }

    /// Tells the store what the browser says of the adapter (`GPUAdapterInfo`'s vendor,
    /// architecture, description and `isFallbackAdapter`). Returns why it is a software renderer,
    /// or `undefined` for a hardware one.
    #[wasm_bindgen(js_name = describeAdapter)]
    pub fn describe_adapter(&self, info: JsValue) -> Result<Option<String>, JsValue> {
        let info: AdapterInfo = serde_wasm_bindgen::from_value(info)
            .map_err(|e| js_error(format!("invalid adapter description: {e}")))?;
        let mut shared = self.shared.borrow_mut();
        // wgpu's own view counts too: natively and in some browsers it knows the device type.
        let software = info.software().or_else(|| {
            shared
                .gpu
                .as_ref()
                .filter(|ctx| ctx.is_software())
                .map(|ctx| format!("{}, a software renderer", ctx.adapter_name()))
        });
        shared.adapter_software.clone_from(&software);
        Ok(software)
    }

    /// Sets the training card's Engine control (`auto`, `webgpu` or `cpu`), which fine-tuning
    /// and the practice demonstrations follow. Returns the engine line for LeNet's training
    /// settings, `{backend, why, race}`, for the page to show before anything runs.
    #[wasm_bindgen(js_name = setEngineChoice)]
    pub fn set_engine_choice(&self, choice: &str) -> Result<JsValue, JsValue> {
        let mut shared = self.shared.borrow_mut();
        shared.engine_choice = Choice::parse(Some(choice))?;
        let key = race_key(&TrainConfig::default());
        let line = shared
            .decide(shared.engine_choice, &key)
            .line(shared.race_result(&key));
        to_js(&line)
    }

    /// Gives up on WebGPU (the page calls this when the adapter request takes too long); a late
    /// answer is then ignored.
    #[wasm_bindgen(js_name = disableGpu)]
    pub fn disable_gpu(&self) {
        self.shared.borrow_mut().drop_gpu();
    }

    /// Sets the model pruning starts from (safetensors bytes of either model, e.g. a shipped
    /// checkpoint). Returns what the page shows of it (see [`Loaded`]). Every card working on
    /// the previous one starts over.
    #[wasm_bindgen(js_name = loadModel)]
    pub fn load_model(&self, bytes: &[u8]) -> Result<JsValue, JsValue> {
        let checkpoint = crate::checkpoint::open("the shipped model", bytes).map_err(js_error)?;
        to_js(&self.shared.borrow_mut().set_checkpoint(checkpoint)?)
    }

    /// Makes the model of the last training run (as of its last progress point) the one pruning
    /// starts from. Returns what the page shows of it (see [`Loaded`]; no test accuracy).
    #[wasm_bindgen(js_name = useTrainedModel)]
    pub fn use_trained_model(&self) -> Result<JsValue, JsValue> {
        let mut shared = self.shared.borrow_mut();
        let (model, _) = shared
            .trained
            .clone()
            .ok_or_else(|| js_error("no model has been trained yet"))?;
        let layout = Layout::default_for(&model);
        let loaded = Loaded::of(&model, None, &layout);
        shared.set_base(model, None, layout);
        to_js(&loaded)
    }
}

// The data-set control: switching data sets, and the visitor's own IDX files.

impl Shared {
    /// Makes `mnist` the data set every card works on. The models of the last one go: the model
    /// to prune was measured on it (and a shipped one was trained on it), and the last trained
    /// model learnt it. Cards working on the old base start over (the generation moves on).
    fn replace_data(&mut self, mnist: Mnist) {
        self.progress_validation =
            Some(Rc::new(mnist.validation.slice(0, PROGRESS_VALIDATION_SIZE)));
        self.data = Some(Rc::new(mnist));
        self.calibration = None;
        self.trained = None;
        self.base = None;
        self.base_evaluation = None;
        self.generation += 1;
    }
}

/// What the page learns of the visitor's own files: the split sizes, and which file turned out
/// to be which.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OwnSummary {
    // The split sizes as `DataSummary` gives them; spelt out, since a flattened struct reaches
    // JavaScript as a Map rather than an object.
    train: usize,
    validation: usize,
    test: usize,
    rows: usize,
    cols: usize,
    train_images: String,
    train_labels: String,
    test_images: String,
    test_labels: String,
}

#[wasm_bindgen]
impl ModelStore {
    /// Decodes the visitor's own four IDX files (raw or gzip), given in any order with their
    /// names: each is told apart by its header and its count (see [`crate::data::from_own_files`]).
    /// Returns the split sizes and which file is which; on an error the data set loaded before
    /// stays.
    #[wasm_bindgen(js_name = loadOwnData)]
    pub fn load_own_data(
        &self,
        names: Vec<String>,
        files: Vec<js_sys::Uint8Array>,
    ) -> Result<JsValue, JsValue> {
        if names.len() != files.len() {
            return Err(js_error(format!(
                "{} names for {} files",
                names.len(),
                files.len()
            )));
        }
        let bytes: Vec<Vec<u8>> = files.iter().map(js_sys::Uint8Array::to_vec).collect();
        let named: Vec<(&str, &[u8])> = names
            .iter()
            .map(String::as_str)
            .zip(bytes.iter().map(Vec::as_slice))
            .collect();
        let own = from_own_files(&named).map_err(js_error)?;
        let [train_images, train_labels, test_images, test_labels] = own.roles;
        let DataSummary {
            train,
            validation,
            test,
            rows,
            cols,
        } = DataSummary::of(&own.mnist);
        let summary = OwnSummary {
            train,
            validation,
            test,
            rows,
            cols,
            train_images,
            train_labels,
            test_images,
            test_labels,
        };
        self.shared.borrow_mut().replace_data(own.mnist);
        to_js(&summary)
    }
}

impl Default for ModelStore {
    fn default() -> Self {
        Self::new()
    }
}
