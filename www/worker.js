// The training worker: downloads and decodes MNIST, finds WebGPU if the browser has it, then
// trains a chunk of steps at a time (WGSL kernels on WebGPU, or Rust compiled to WebAssembly on the
// CPU), posting progress after each chunk. Heavy work lives here so the page never blocks.
//
// Messages in:  {type: 'start', config}, {type: 'cancel'}, {type: 'continue-on-cpu'},
//               {type: 'prune-step', request}, {type: 'prune-cancel'}, {type: 'use-trained'},
//               {type: 'load-model', which: 'lenet'|'vit'},
//               {type: 'layer-weights', layer}, {type: 'sweep', methods, levels, settings},
//               {type: 'sweep-cancel'}, {type: 'experiment', id, name}, {type: 'experiment-cancel'},
//               {type: 'lab', kind: 'lottery'|'instability', request}, {type: 'lab-cancel'},
//               {type: 'cost-meter'}, {type: 'time-meter'}, {type: 'attention', index}
// Messages out: {type: 'download', loaded, total}, {type: 'decoding'}, {type: 'data', summary},
//               {type: 'engine', webgpu, adapter, reason}, {type: 'started', backend},
//               {type: 'progress', progress}, {type: 'evaluating'}, {type: 'done', report},
//               {type: 'cancelled', step}, {type: 'error', message, fatal, gpuFailed},
//               {type: 'model', arch, testAcc, source}, {type: 'prune-stage', report, fields, maps},
//               {type: 'prune-progress', step, total}, {type: 'prune-cancelled', step},
//               {type: 'prune-error', message}, {type: 'layer-weights', layer, values},
//               {type: 'sweep-point', point, done, total}, {type: 'sweep-done', total},
//               {type: 'sweep-cancelled', done, total}, {type: 'sweep-error', message, done, total},
//               {type: 'experiment-progress', id, fraction, text}, {type: 'experiment-result', id, name, result},
//               {type: 'experiment-cancelled', id}, {type: 'experiment-error', id, message},
//               {type: 'lab-started', kind, started}, {type: 'lab-progress', kind, progress},
//               {type: 'lab-cancelled', kind}, {type: 'lab-error', kind, message},
//               {type: 'cost-meter', meter}, {type: 'meter-timing', timing | error},
//               {type: 'attention', attention}, {type: 'attention-error', message}
// A 'prune-stage' on the ViT also carries `structure` (its heads and blocks, structure.rs).

import init, { Session } from '../pkg/pruneplay.js';
import { Cancelled, USES_LAB, runExperiment } from './experiments.js';

const FILES = [
  'train-images-idx3-ubyte.gz',
  'train-labels-idx1-ubyte.gz',
  't10k-images-idx3-ubyte.gz',
  't10k-labels-idx1-ubyte.gz',
];
const DATA_DIR = new URL('../data/mnist/', import.meta.url);
// Trained at build time by the native CLI (cargo xtask build), so pruning works at once.
const SHIPPED_MODELS = {
  lenet: new URL('../model/lenet-300-100.safetensors', import.meta.url),
  vit: new URL('../model/vit-mnist.safetensors', import.meta.url),
};
// Steps between progress reports. Each report reads the model back and evaluates 1,000
// validation images, about as much work as 17 steps of 60, so reporting much more often would
// slow training down.
const STEPS_PER_CHUNK = 50;
// Some browsers expose navigator.gpu but never answer requestAdapter() (headless Chromium without
// a WebGPU adapter does this); after this long the CPU engine takes over.
const WEBGPU_TIMEOUT_MS = 10_000;

let session = null;
let modelKind = 'mlp';
let ready = null;
let cancelRequested = false;
let currentConfig = null;

const post = (message, transfer = []) => self.postMessage(message, transfer);
const errorText = (e) => (e instanceof Error ? e.message : String(e));

/** Downloads every file in parallel, reporting bytes received of the total. */
async function download() {
  const loaded = new Array(FILES.length).fill(0);
  const totals = new Array(FILES.length).fill(0);
  const report = () =>
    post({ type: 'download', loaded: loaded.reduce((a, b) => a + b), total: totals.reduce((a, b) => a + b) });
  return Promise.all(FILES.map(async (name, i) => {
    const url = new URL(name, DATA_DIR);
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
  const status = await Promise.race([session.initGpu(), timeout]);
  clearTimeout(timer);
  if (!status.webgpu) {
    session.disableGpu();
    return status;
  }
  // wgpu passes on only the adapter's description, which browsers often leave empty; the
  // vendor and architecture say more (e.g. "google swiftshader").
  try {
    const info = (await navigator.gpu.requestAdapter())?.info;
    const described = [info?.vendor, info?.architecture, info?.description].filter(Boolean).join(' ');
    if (described) status.adapter = described;
  } catch {
    // The description from wgpu stands.
  }
  return status;
}

async function setUp() {
  await init();
  session = new Session();
  const engine = findWebGpu().then((status) => post({ type: 'engine', ...status }));
  const [a, b, c, d] = await download();
  post({ type: 'decoding' });
  const summary = session.loadData(a, b, c, d);
  await engine;
  post({ type: 'data', summary });
  await loadShippedModel();
}

/** A shipped checkpoint as the model to prune; LeNet on start, the ViT when picked. */
async function loadShippedModel(which = 'lenet') {
  try {
    const response = await fetch(SHIPPED_MODELS[which]);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const loaded = session.loadModel(new Uint8Array(await response.arrayBuffer()));
    modelKind = loaded.kind;
    post({ type: 'model', ...loaded, source: 'shipped', which });
  } catch (e) {
    post({ type: 'prune-error', message: `The trained model could not be loaded (${errorText(e)}); train one above, then prune it.` });
  }
}

/** The first layer's weights (NaN where pruned) travel with the stages that change them. */
function withFields(message, transfer) {
  message.fields = session.layerWeights(0);
  transfer.push(message.fields.buffer);
}

/** On the ViT, every stage also reports its heads and blocks (the grid and the bars). */
function withStructure(message) {
  if (modelKind === 'vit') message.structure = session.structure();
}

/** Steps of fine-tuning between progress reports (about a tenth of a second in wasm). */
const FINETUNE_CHUNK = 20;
let pruneCancelRequested = false;

/** One stage of step-by-step pruning; fine-tuning runs in chunks with progress and Cancel. */
async function pruneStep(request) {
  try {
    if (request.stage === 'finetune') {
      pruneCancelRequested = false;
      const total = session.startFinetune();
      for (;;) {
        // A promise: on WebGPU a chunk awaits its read-backs.
        const progress = await session.finetuneChunk(FINETUNE_CHUNK);
        post({ type: 'prune-progress', step: progress.step, total });
        if (progress.report) {
          const message = { type: 'prune-stage', report: progress.report };
          const transfer = [];
          withFields(message, transfer);
          withStructure(message);
          post(message, transfer);
          return;
        }
        await yieldToEvents();
        if (pruneCancelRequested) {
          session.cancelFinetune();
          post({ type: 'prune-cancelled', step: progress.step });
          return;
        }
      }
    }
    const report = session.pruneStep(request);
    const message = { type: 'prune-stage', report, maps: session.pixelMaps() };
    const transfer = [];
    if (report.stage !== 'apply') withFields(message, transfer);
    withStructure(message);
    post(message, transfer);
  } catch (e) {
    post({ type: 'prune-error', message: errorText(e) });
  }
}

/** Weights of one layer for the heatmap. */
function layerWeights(layer) {
  try {
    const values = session.layerWeights(layer);
    post({ type: 'layer-weights', layer, values }, [values.buffer]);
  } catch (e) {
    post({ type: 'prune-error', message: errorText(e) });
  }
}

/** The cost meter of the walk-through's model. */
function costMeter() {
  try {
    post({ type: 'cost-meter', meter: session.costMeter() });
  } catch (e) {
    post({ type: 'prune-error', message: errorText(e) });
  }
}

/** What each head looks at for test digit `index`, before and after pruning. */
function attention(index) {
  try {
    post({ type: 'attention', attention: session.attention(index) });
  } catch (e) {
    post({ type: 'attention-error', message: errorText(e) });
  }
}

/**
 * Forward-pass times for the cost meter: dense, masked and compacted, on 2,000 test images
 * (the core caps the ViT at 256, each of its images costing far more).
 */
async function timeMeter() {
  try {
    post({ type: 'meter-timing', timing: await session.timeMeter(2000, 5) });
  } catch (e) {
    post({ type: 'meter-timing', error: errorText(e) });
  }
}

let sweepCancelRequested = false;

/**
 * "Run all": one-shot pruning of every (method, level) pair, a point per message. A level is a
 * sparsity (of weights, or of heads), or with `axis: 'remove'` a number of blocks to drop.
 */
async function sweep({ methods, levels, settings, axis }) {
  sweepCancelRequested = false;
  const total = methods.length * levels.length;
  let done = 0;
  try {
    for (const method of methods) {
      for (const sparsity of levels) {
        const level = axis === 'remove' ? { remove: sparsity, sparsity: 0 } : { sparsity };
        const point = session.sweepPoint({ ...settings, method, ...level });
        done += 1;
        post({ type: 'sweep-point', point, done, total });
        await yieldToEvents();
        if (sweepCancelRequested) {
          post({ type: 'sweep-cancelled', done, total });
          return;
        }
      }
    }
    post({ type: 'sweep-done', total });
  } catch (e) {
    post({ type: 'sweep-error', message: errorText(e), done, total });
  }
}

// Iterations of the lottery lab between progress reports: one GPU submission's worth.
const LAB_CHUNK = 100;
let labCancelRequested = false;

/** The lottery lab (a lottery experiment or an instability analysis), chunk by chunk. */
// The session has one lottery lab; the lab card and a practice demonstration take turns.
let labBusy = false;
const LAB_BUSY = 'the lottery lab is already running (in its card or a practice question); wait for it or cancel it';

async function lab({ kind, request }) {
  if (labBusy) {
    // Refused, so a Cancel meant for the running lab still stands.
    post({ type: 'lab-error', kind, message: LAB_BUSY });
    return;
  }
  labCancelRequested = false;
  labBusy = true;
  try {
    const started = kind === 'instability' ? session.instabilityStart(request) : session.lotteryStart(request);
    post({ type: 'lab-started', kind, started });
    for (;;) {
      const progress = await session.labAdvance(LAB_CHUNK);
      post({ type: 'lab-progress', kind, progress });
      if (progress.done) return;
      await yieldToEvents();
      if (labCancelRequested) {
        post({ type: 'lab-cancelled', kind });
        return;
      }
    }
  } catch (e) {
    post({ type: 'lab-error', kind, message: errorText(e) });
  } finally {
    labBusy = false;
  }
}

let experimentCancelRequested = false;

/** A practice question's live demonstration, with progress and Cancel. */
async function experiment({ id, name }) {
  experimentCancelRequested = false;
  const ctx = {
    // The practice questions about heads run on a ViT: the shipped one when LeNet is loaded.
    async loadVit() {
      const response = await fetch(SHIPPED_MODELS.vit);
      if (!response.ok) throw new Error(`the shipped ViT could not be loaded (HTTP ${response.status})`);
      return new Uint8Array(await response.arrayBuffer());
    },
    async tick(fraction, text) {
      post({ type: 'experiment-progress', id, fraction: Math.min(1, fraction), text });
      await yieldToEvents();
      if (experimentCancelRequested) throw new Cancelled();
    },
  };
  const usesLab = USES_LAB.has(name);
  if (usesLab && labBusy) {
    post({ type: 'experiment-error', id, message: LAB_BUSY });
    return;
  }
  if (usesLab) labBusy = true;
  try {
    const result = await runExperiment(session, name, ctx);
    post({ type: 'experiment-result', id, name, result });
  } catch (e) {
    if (e instanceof Cancelled) post({ type: 'experiment-cancelled', id });
    else post({ type: 'experiment-error', id, message: errorText(e) });
  } finally {
    if (usesLab) labBusy = false;
  }
}

/** Lets queued messages (a Cancel) run between chunks. */
const yieldToEvents = () => new Promise((resolve) => setTimeout(resolve, 0));

/** Trains to the end of the current run, reporting each chunk. */
async function run() {
  cancelRequested = false;
  while (!session.finished) {
    const progress = await session.trainSteps(STEPS_PER_CHUNK);
    post({ type: 'progress', progress });
    await yieldToEvents();
    if (cancelRequested) {
      post({ type: 'cancelled', step: progress.step });
      return;
    }
  }
  post({ type: 'evaluating' });
  post({ type: 'done', report: await session.test() });
}

async function guarded(work) {
  try {
    if (!(await ready)) {
      post({ type: 'error', message: 'The data set could not be loaded; reload the page to try again.', fatal: true });
      return;
    }
    await work();
  } catch (e) {
    post({ type: 'error', message: errorText(e), gpuFailed: Boolean(session?.gpuFailed) });
  }
}

self.onmessage = (event) => {
  const message = event.data;
  switch (message?.type) {
    case 'cancel':
      cancelRequested = true;
      break;
    case 'start':
      currentConfig = message.config;
      guarded(async () => {
        post({ type: 'started', backend: session.start(currentConfig) });
        await run();
      });
      break;
    case 'continue-on-cpu':
      guarded(async () => {
        session.continueOnCpu();
        post({ type: 'started', backend: 'cpu' });
        await run();
      });
      break;
    case 'prune-step':
      ready.then((ok) => ok && pruneStep(message.request));
      break;
    case 'prune-cancel':
      pruneCancelRequested = true;
      break;
    case 'layer-weights':
      ready.then((ok) => ok && layerWeights(message.layer));
      break;
    case 'sweep':
      ready.then((ok) => ok && sweep(message));
      break;
    case 'sweep-cancel':
      sweepCancelRequested = true;
      break;
    case 'cost-meter':
      ready.then((ok) => ok && costMeter());
      break;
    case 'time-meter':
      ready.then((ok) => ok && timeMeter());
      break;
    case 'attention':
      ready.then((ok) => ok && attention(message.index));
      break;
    case 'lab':
      ready.then((ok) => ok && lab(message));
      break;
    case 'lab-cancel':
      labCancelRequested = true;
      break;
    case 'experiment':
      ready.then((ok) => ok && experiment(message));
      break;
    case 'experiment-cancel':
      experimentCancelRequested = true;
      break;
    case 'load-model':
      ready.then((ok) => ok && loadShippedModel(message.which));
      break;
    case 'use-trained':
      try {
        const loaded = session.useTrainedModel();
        modelKind = loaded.kind;
        post({ type: 'model', ...loaded, testAcc: null, source: 'trained' });
      } catch (e) {
        post({ type: 'prune-error', message: errorText(e) });
      }
      break;
    default:
      post({ type: 'error', message: `unexpected message ${JSON.stringify(message)}` });
  }
};

// Resolves to whether the data loaded; a failure is reported once, here, and not rethrown (an
// unhandled rejection would surface as a second, vaguer error on the page).
ready = setUp().then(
  () => true,
  (e) => {
    post({ type: 'error', message: errorText(e), fatal: true });
    return false;
  },
);
