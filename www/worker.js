// The training worker: downloads and decodes MNIST, finds WebGPU if the browser has it, then
// trains a chunk of steps at a time (WGSL kernels on WebGPU, or Rust compiled to WebAssembly on the
// CPU), reporting progress after each chunk. Heavy work lives here so the page never blocks.
//
// It speaks protocol.js: each request below is {id, op, args}, answered by events, then one
// result, cancelled or error reply with the same id. Each op works on its card's own object over
// one ModelStore (the data, the device, the model to prune): Training, WalkThrough, Comparison,
// LotteryLab and, per demonstration, a fresh Practice and LotteryLab, so no card's run can
// disturb another's.
//
//   op                 args                          events                     result
//   train              {config}                      racing, race-failed {message},
//                                                    started {backend, why, race},
//                                                    progress, evaluating       test report
//   continue-on-cpu    {}                            (as train)                 test report
//   engine-choice      {choice: auto|webgpu|cpu}     -                          -
//   prune-step         {request}                     progress {step, total, backend}
//                                                                               {report, fields, maps, structure}
//   layer-weights      {layer}                       -                          {layer, values}
//   sweep              {methods, levels, settings, axis, heal}
//                                                    point {point, done, total},
//                                                    healing {step, total}      {total}
//   lab                {kind, request}               started, progress          last progress
//   experiment         {name}                        progress {fraction, text}  its result
//   load-data          {dataset: mnist|fashion, which} -                        {summary, dataset}
//                      {dataset: 'own', files}       (files: the picked File objects; the
//                                                    summary then says which file is which)
//   load-model         {which: 'lenet'|'vit'}        -                          the model summary
//   open-model         {name, bytes}                 -                          {what: model|masks, name, model}
//   reopen             {}                            -                          (as open-model)
//   model-file         {form: as-is|compacted}       -                          safetensors bytes
//   model-python       {form, fileName}              -                          the Python text
//   masks-file         {}                            -                          safetensors bytes
//   heal-settings      {}                            -                          Compare's fine-tuning settings
//   use-trained        {}                            -                          the model summary
//   cost-meter         {}                            -                          the meter
//   time-meter         {}                            -                          the timing
//   attention          {index}                       -                          the attention view
//
// Cancelled replies say where the work stopped: train {step}, prune-step {step} (a sweep's card
// counts its own points).
// A training error's detail is {gpuFailed}. Notices (no request): download {loaded, total},
// decoding, engine {webgpu, adapter, reason, software, cpu: {build: threaded|single, threads,
// reason}}, data {summary, dataset} (a data set is in; the page's first load-data also reports
// through these), model {summary, source, which} (the model pruning starts from changed),
// model-error {message}, fatal {message} (the wasm module did not start: nothing can run).

// The wasm module (Comparison, LotteryLab, ModelStore, Practice, Training, WalkThrough, …) is
// loaded in setUp: the threaded build or the single-threaded one (see loadWasm).
import { runExperiment } from './experiments.js';
import { serve } from './protocol.js';

const FILES = [
  'train-images-idx3-ubyte.gz',
  'train-labels-idx1-ubyte.gz',
  't10k-images-idx3-ubyte.gz',
  't10k-labels-idx1-ubyte.gz',
];
// The data sets the server has (dist/data/…), by the data-set control's values.
const DATA_DIRS = {
  mnist: new URL('../data/mnist/', import.meta.url),
  fashion: new URL('../data/fashion/', import.meta.url),
};
const DATASET_NAMES = { mnist: 'MNIST', fashion: 'Fashion-MNIST', own: 'your own data set' };
// Trained at build time by the native CLI (cargo xtask build), so pruning works at once: LeNet
// for each data set the server has, the ViT for MNIST only.
const SHIPPED_MODELS = {
  lenet: new URL('../model/lenet-300-100.safetensors', import.meta.url),
  vit: new URL('../model/vit-mnist.safetensors', import.meta.url),
};
const SHIPPED_FASHION_LENET = new URL('../model/lenet-300-100-fashion.safetensors', import.meta.url);
// Steps between progress reports. Each report reads the model back and evaluates 1,000
// validation images, about as much work as 17 steps of 60, so reporting much more often would
// slow training down.
const STEPS_PER_CHUNK = 50;
// Some browsers expose navigator.gpu but never answer requestAdapter() (headless Chromium without
// a WebGPU adapter does this); after this long the CPU engine takes over.
const WEBGPU_TIMEOUT_MS = 10_000;

// The wasm module's exports, the store and one object per card, made once the module is in.
let wasm = null;
let store = null;
let cards = null;
let modelKind = 'mlp';
let ready = null;
// WebGPU's search, started in setUp: the first data notice waits for it, so the page knows the
// engine by the time it can train.
let engineFound = null;

const errorText = (e) => (e instanceof Error ? e.message : String(e));

/** Downloads the four files from `dir` in parallel, reporting bytes received of the total. */
async function download(dir) {
  const loaded = new Array(FILES.length).fill(0);
  const totals = new Array(FILES.length).fill(0);
  const report = () =>
    notify('download', { loaded: loaded.reduce((a, b) => a + b), total: totals.reduce((a, b) => a + b) });
  return Promise.all(FILES.map(async (name, i) => {
    const url = new URL(name, dir);
    let response;
    try {
      response = await fetch(url);
    } catch (e) {
      throw new Error(`Could not download ${name}: ${errorText(e)}`);
    }
    if (!response.ok) {
      const hint = response.status === 404 ? ' (the server has no data: run `cargo xtask serve` to fetch it)' : '';
      throw new Error(`Could not download ${name}: HTTP ${response.status}${hint}`);
    }
    totals[i] = Number(response.headers.get('Content-Length')) || 0;
    const reader = response.body.getReader();
    const chunks = [];
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      loaded[i] += value.length;
      report();
    }
    const bytes = new Uint8Array(loaded[i]);
    let offset = 0;
    for (const c of chunks) {
      bytes.set(c, offset);
      offset += c.length;
    }
    return bytes;
  }));
}

async function findWebGpu() {
  if (!self.navigator?.gpu) {
    return { webgpu: false, reason: 'this browser has no WebGPU' };
  }
  let timer;
  const timeout = new Promise((resolve) => {
    timer = setTimeout(() => resolve({ webgpu: false, reason: 'WebGPU did not answer' }), WEBGPU_TIMEOUT_MS);
  });
  const status = await Promise.race([store.initGpu(), timeout]);
  clearTimeout(timer);
  if (!status.webgpu) {
    store.disableGpu();
    return status;
  }
  // wgpu passes on only the adapter's description, which browsers often leave empty; the
  // vendor and architecture say more (e.g. "google swiftshader"), and whether it is a software
  // renderer decides what "automatic" trains on.
  let info = {};
  try {
    const adapter = await navigator.gpu.requestAdapter();
    info = {
      vendor: adapter?.info?.vendor ?? '',
      architecture: adapter?.info?.architecture ?? '',
      description: adapter?.info?.description ?? '',
      // Newer browsers put it on the info, older ones on the adapter.
      isFallbackAdapter: Boolean(adapter?.info?.isFallbackAdapter ?? adapter?.isFallbackAdapter),
    };
    const described = [info.vendor, info.architecture, info.description].filter(Boolean).join(' ');
    if (described) status.adapter = described;
  } catch {
    // The description from wgpu stands.
  }
  status.software = store.describeAdapter(info) ?? null;
  return status;
}

// The CPU engine's thread pool: every core, up to what the engine splits its work over.
const MAX_THREADS = 8;
// A pool whose Web Workers have not all started by then is given up for the single thread.
const THREAD_POOL_TIMEOUT_MS = 30_000;

/**
 * Loads the wasm module into `wasm`: the threaded build (the CPU engine's work split over a pool
 * of Web Workers sharing its memory) when the page is cross-origin isolated, which shared memory
 * needs, and the server has one (builds.json, written by `cargo xtask build`); otherwise the
 * single-threaded build. Resolves to what the engine line says: {build, threads, reason}.
 */
async function loadWasm() {
  let reason = 'the page is not cross-origin isolated';
  if (self.crossOriginIsolated) {
    try {
      const builds = await (await fetch(new URL('../builds.json', import.meta.url))).json();
      if (builds.threaded) {
        const module = await import(new URL(`../${builds.threaded}`, import.meta.url));
        await module.default();
        const threads = Math.max(1, Math.min(navigator.hardwareConcurrency || 1, MAX_THREADS));
        let timer;
        await Promise.race([
          module.initThreadPool(threads),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error('its Web Workers did not start')), THREAD_POOL_TIMEOUT_MS);
          }),
        ]).finally(() => clearTimeout(timer));
        wasm = module;
        return { build: 'threaded', threads: module.threadPoolStarted(), reason: null };
      }
      reason = `this server has no threaded build (${builds.why ?? 'none was built'})`;
    } catch (e) {
      reason = `the threaded build did not start: ${errorText(e)}`;
    }
  }
  const module = await import('../pkg/pruneplay.js');
  await module.default();
  wasm = module;
  return { build: 'single', threads: 1, reason };
}

async function setUp() {
  const cpu = await loadWasm();
  store = new wasm.ModelStore();
  cards = {
    training: new wasm.Training(store),
    walk: new wasm.WalkThrough(store),
    compare: new wasm.Comparison(store),
    lab: new wasm.LotteryLab(store),
  };
  engineFound = findWebGpu().then((status) => notify('engine', { ...status, cpu }));
}

/** Makes `loaded` the model pruning starts from, and tells every card. */
function modelChanged(loaded, source, which = null, name = null) {
  modelKind = loaded.kind;
  // A model trained here has not been tested on the 10,000 yet when pruning takes it up.
  const testAcc = source === 'trained' ? null : loaded.testAcc ?? null;
  const model = { ...loaded, testAcc, source, which, name };
  notify('model', model);
  return model;
}

/** A shipped checkpoint as the model to prune; LeNet on start, the ViT when picked. */
async function loadShippedModel(which) {
  const url = shippedModel(which);
  const response = await fetch(url);
  if (!response.ok) throw new Error(`the shipped model could not be downloaded (HTTP ${response.status})`);
  return modelChanged(store.loadModel(new Uint8Array(await response.arrayBuffer())), 'shipped', which);
}

// ---- Models in and results out (model-files.js on the page) ----

// The last model file the visitor opened, kept so that "Model to prune" can go back to it.
let openedFile = null;

/**
 * A file from the visitor's disk: a model becomes the one to prune (source 'opened'), a masks
 * file goes onto the current one (source 'masks'). The store keeps the current model on any
 * error, which then reaches the page as this request's error.
 */
function openModel({ name, bytes }) {
  const opened = store.openModel(String(name), bytes);
  if (opened.what === 'model') openedFile = { name: String(name), bytes };
  modelChanged(opened.model, opened.what === 'model' ? 'opened' : 'masks', null, opened.name);
  return opened;
}

/** Bytes as their own transferable buffer in a reply. */
function bytesReply(bytes, job) {
  job.transfer.push(bytes.buffer);
  return bytes;
}

/** What a stage reply carries besides its report: the first layer, the maps, the ViT's structure. */
function stageReply(report, job, { maps = null } = {}) {
  const reply = { report, maps };
  // The first layer's weights (NaN where pruned) travel with the stages that change them.
  if (report.stage !== 'apply') {
    reply.fields = cards.walk.layerWeights(0);
    job.transfer.push(reply.fields.buffer);
  }
  // On the ViT, every stage also reports its heads and blocks (the grid and the bars).
  if (modelKind === 'vit') reply.structure = cards.walk.structure();
  return reply;
}

/** Steps of fine-tuning between progress reports (about a tenth of a second in wasm). */
const FINETUNE_CHUNK = 20;

/** One stage of step-by-step pruning; fine-tuning runs in chunks with progress and Cancel. */
async function pruneStep({ request }, job) {
  if (request?.stage !== 'finetune') {
    const report = cards.walk.pruneStep(request);
    return stageReply(report, job, { maps: cards.walk.pixelMaps() });
  }
  const total = cards.walk.startFinetune();
  for (;;) {
    // A promise: on WebGPU a chunk awaits its read-backs.
    const progress = await cards.walk.finetuneChunk(FINETUNE_CHUNK);
    job.event('progress', { step: progress.step, total, backend: progress.backend });
    if (progress.report) return stageReply(progress.report, job);
    try {
      await job.checkpoint({ step: progress.step });
    } catch (e) {
      cards.walk.cancelFinetune();
      throw e;
    }
  }
}

/**
 * "Run all": one-shot pruning of every (method, level) pair, a point per event. A level is a
 * sparsity (of weights, or of heads), or with `axis: 'remove'` a number of blocks to drop. With
 * `heal`, each pruned model is then fine-tuned in chunks and tested again: a second point.
 */
async function sweep({ methods, levels, settings, axis, heal = false }, job) {
  const { compare } = cards;
  const total = methods.length * levels.length;
  let done = 0;
  for (const method of methods) {
    for (const value of levels) {
      const level = axis === 'remove' ? { remove: value, sparsity: 0 } : { sparsity: value };
      const request = { ...settings, method, ...level };
      if (!heal) {
        done += 1;
        job.event('point', { point: compare.sweepPoint(request), done, total });
        await job.checkpoint();
        continue;
      }
      const started = compare.healStart(request);
      job.event('point', { point: started.point, done, total });
      try {
        for (;;) {
          await job.checkpoint();
          const progress = await compare.healChunk(FINETUNE_CHUNK);
          job.event('healing', { step: progress.step, total: progress.total });
          if (progress.point) {
            done += 1;
            job.event('point', { point: progress.point, done, total });
            break;
          }
        }
      } catch (e) {
        compare.cancelHeal();
        throw e;
      }
    }
  }
  return { total };
}

// Iterations of the lottery lab between progress reports: one GPU submission's worth.
const LAB_CHUNK = 100;
let labBusy = false;

/** The lottery card's lab (a lottery experiment or an instability analysis), chunk by chunk. */
async function lab({ kind, request }, job) {
  // The card has one lab; a second run would take over the first one's experiment.
  if (labBusy) throw new Error('the lottery lab is already running; wait for it or cancel it');
  labBusy = true;
  try {
    const started = kind === 'instability' ? cards.lab.instabilityStart(request) : cards.lab.lotteryStart(request);
    job.event('started', { started });
    for (;;) {
      const progress = await cards.lab.labAdvance(LAB_CHUNK);
      job.event('progress', { progress });
      if (progress.done) return progress;
      await job.checkpoint();
    }
  } finally {
    labBusy = false;
  }
}

/**
 * A practice question's live demonstration, with progress and Cancel. Each gets scratch models
 * and a lottery lab of its own, freed when it ends.
 */
async function experiment({ name }, job) {
  const ctx = {
    // The practice questions about heads run on a ViT: the shipped one when LeNet is loaded.
    async loadVit() {
      const response = await fetch(shippedModel('vit'));
      if (!response.ok) throw new Error(`the shipped ViT could not be loaded (HTTP ${response.status})`);
      return new Uint8Array(await response.arrayBuffer());
    },
    async tick(fraction, text) {
      job.event('progress', { fraction: Math.min(1, fraction), text });
      await job.checkpoint();
    },
    // The build this worker runs (the threaded one when isolated), for its free functions.
    bindings: wasm,
  };
  const own = { practice: new wasm.Practice(store), lab: new wasm.LotteryLab(store) };
  try {
    return await runExperiment(own, name, ctx);
  } finally {
    own.practice.free();
    own.lab.free();
  }
}

/** Trains to the end of the current run, reporting each chunk; resolves to the test report. */
async function train(job) {
  while (!cards.training.finished) {
    const progress = await cards.training.trainSteps(STEPS_PER_CHUNK);
    job.event('progress', { progress });
    await job.checkpoint({ step: progress.step });
  }
  job.event('evaluating');
  return cards.training.test();
}

/** Every op waits for the data; without it, nothing can run. */
const needsData = (op) => async (args, job) => {
  if (!(await ready)) throw new Error('The data set could not be loaded; reload the page to try again.');
  await dataLoading;
  if (!dataset) throw new Error('No data set is loaded: pick one on the training card.');
  return op(args, job);
};

// ---- The data set: the training card's data-set control ----

// What the store holds: 'mnist', 'fashion' or 'own' (null until the first load succeeds).
let dataset = null;
// The load in progress, which every other op waits for.
let dataLoading = null;
// Runs in progress that read the data set chunk by chunk (training, sweeps, the lottery lab,
// demonstrations, fine-tuning): the data cannot change under them.
let dataRuns = 0;

/** `op`, counted as a run that reads the data set while it goes. */
const readsData = (op) => async (args, job) => {
  dataRuns += 1;
  try {
    return await op(args, job);
  } finally {
    dataRuns -= 1;
  }
};

/** The shipped checkpoint `which` for the data set loaded; an error where it has none. */
function shippedModel(which) {
  if (!Object.hasOwn(SHIPPED_MODELS, which)) throw new Error(`there is no shipped model called ${JSON.stringify(which)}`);
  if (dataset === 'mnist') return SHIPPED_MODELS[which];
  if (dataset === 'fashion' && which === 'lenet') return SHIPPED_FASHION_LENET;
  const network = which === 'vit' ? 'the tiny ViT' : 'LeNet-300-100';
  throw new Error(`there is no shipped ${network} for ${DATASET_NAMES[dataset] ?? 'this data set'} (the ViT was trained on MNIST only); train one on the training card, then prune it`);
}

/** The four files of `args`: downloaded from the server, or read from the picked File objects. */
async function dataBytes({ dataset: which, files }) {
  if (which === 'own') {
    if (!Array.isArray(files)) throw new Error('no files were picked');
    const bytes = await Promise.all(files.map(async (file) => new Uint8Array(await file.arrayBuffer())));
    return { names: files.map((file) => file.name), bytes };
  }
  const dir = DATA_DIRS[which];
  if (!dir) throw new Error(`there is no data set called ${JSON.stringify(which)}`);
  return { names: FILES, bytes: await download(dir) };
}

/**
 * Makes `args.dataset` the data set every card works on, then loads its shipped LeNet (or, for
 * the visitor's own files, says there is none yet). On any error the data set loaded before
 * stays, with its models.
 */
async function loadData(args) {
  if (!(await ready)) throw new Error('the page could not start, so no data set can be loaded');
  if (dataLoading) throw new Error('a data set is already loading; wait for it');
  if (dataRuns > 0) {
    throw new Error('something is still running on this data set (training, a sweep, the lottery lab, fine-tuning or a demonstration): wait for it or cancel it, then switch');
  }
  let finish;
  dataLoading = new Promise((resolve) => { finish = resolve; });
  try {
    const { names, bytes } = await dataBytes(args);
    notify('decoding');
    const own = args.dataset === 'own';
    const summary = own ? store.loadOwnData(names, bytes) : store.loadData(...bytes);
    dataset = args.dataset;
    await engineFound;
    const reply = { summary, dataset };
    notify('data', reply);
    if (own) {
      notify('model-error', { message: 'There is no trained model for your own data set yet: train one above, then prune it.' });
      return reply;
    }
    try {
      await loadShippedModel(args.which === 'vit' && dataset === 'mnist' ? 'vit' : 'lenet');
    } catch (e) {
      notify('model-error', { message: `The trained model could not be loaded (${errorText(e)}); train one above, then prune it.` });
    }
    return reply;
  } finally {
    dataLoading = null;
    finish();
  }
}

// Models in and results out (see openModel above).
const fileOps = {
  'open-model': needsData(async (args) => openModel(args)),
  reopen: needsData(async () => {
    if (!openedFile) throw new Error('no model has been opened yet');
    return openModel(openedFile);
  }),
  'model-file': needsData(async ({ form }, job) => bytesReply(cards.walk.modelFile(form), job)),
  'model-python': needsData(async ({ form, fileName }) => cards.walk.modelPython(form, fileName)),
  'masks-file': needsData(async (_args, job) => bytesReply(cards.walk.masksFile(), job)),
  'heal-settings': needsData(async () => cards.compare.healSettings()),
};

const notify = serve({
  'load-data': loadData,
  train: needsData(readsData(async ({ config }, job) => {
    // On a hardware adapter, "automatic" times both engines the first time (about a second).
    if (cards.training.needsRace(config)) {
      job.event('racing');
      try {
        await cards.training.race(config);
      } catch (e) {
        // The store has dropped the GPU; the run goes to the CPU.
        job.event('race-failed', { message: errorText(e) });
      }
    }
    job.event('started', cards.training.start(config));
    return train(job);
  })),
  'continue-on-cpu': needsData(readsData(async (_args, job) => {
    cards.training.continueOnCpu();
    job.event('started', { backend: 'cpu', why: 'WebGPU failed, so the run goes on here', race: null });
    return train(job);
  })),
  'engine-choice': async ({ choice }) => store.setEngineChoice(choice),
  'prune-step': needsData(readsData(pruneStep)),
  'layer-weights': needsData(async ({ layer }, job) => {
    const values = cards.walk.layerWeights(layer);
    job.transfer.push(values.buffer);
    return { layer, values };
  }),
  sweep: needsData(readsData(sweep)),
  lab: needsData(readsData(lab)),
  experiment: needsData(readsData(experiment)),
  'load-model': needsData(({ which }) => loadShippedModel(which)),
  'use-trained': needsData(async () => modelChanged(store.useTrainedModel(), 'trained')),
  'cost-meter': needsData(async () => cards.walk.costMeter()),
  // Dense, masked and compacted forward passes on 2,000 test images (the core caps the ViT at
  // 256, each of its images costing far more).
  'time-meter': needsData(() => cards.walk.timeMeter(2000, 5)),
  attention: needsData(async ({ index }) => cards.walk.attention(index)),
  ...fileOps,
}, {
  // A training error says whether the GPU was lost, so the page can offer the CPU.
  detail: () => ({ gpuFailed: Boolean(cards?.training.gpuFailed) }),
});

// Resolves to whether the module started; a failure is reported once, as a notice, and not
// rethrown (an unhandled rejection would surface as a second, vaguer error on the page). The data
// set comes with the page's first load-data request.
ready = setUp().then(
  () => true,
  (e) => {
    notify('fatal', { message: errorText(e) });
    return false;
  },
);
