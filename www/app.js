// The page: controls, progress and charts. Training runs in ./worker.js; this thread only draws,
// so it never blocks. Charts are drawn by the same Rust crate (plotters on a <canvas>).

import init from '../pkg/pruneplay.js';
import { drawCurves, drawHistogram, drawSeries, fitCanvas } from './charts.js';
import { createCompare } from './compare.js';
import { tell } from './host.js';
import { fillMethodControls } from './methods.js';
import { createClient } from './protocol.js';
import { createLottery } from './lottery.js';
import { createModelFiles } from './model-files.js';
import { createPractice } from './practice.js';
import { createPrunePanel } from './prune-panel.js';
import { currentHash, fallBackDataset, followControls, readHash, writeHash } from './state.js';
import { isDark, pct } from './views.js';

const $ = (id) => document.getElementById(id);
const ui = {
  form: $('settings'),
  train: $('train'),
  cancel: $('cancel'),
  progress: $('progress'),
  status: $('status'),
  error: $('error'),
  errorBox: $('error-box'),
  continueCpu: $('continue-cpu'),
  engine: $('engine'),
  testAcc: $('test-acc'),
  lossChart: $('loss-chart'),
  accChart: $('acc-chart'),
};

const darkScheme = window.matchMedia('(prefers-color-scheme: dark)');
let history = emptyHistory();

function emptyHistory() {
  return { step: [], trainLoss: [], valLoss: [], trainAcc: [], valAcc: [] };
}

const megabytes = (n) => `${(n / 1e6).toFixed(1)} MB`;

function setStatus(text, value = null, max = 1) {
  ui.status.textContent = text;
  if (value === null) {
    ui.progress.removeAttribute('value'); // indeterminate
  } else {
    ui.progress.max = max;
    ui.progress.value = value;
  }
}

function showError(message, offerCpu = false) {
  ui.error.textContent = message;
  ui.continueCpu.hidden = !offerCpu;
  ui.errorBox.hidden = false;
}

function hideError() {
  ui.errorBox.hidden = true;
  ui.continueCpu.hidden = true;
}

/** What the page says about the engine; `data-backend` is what tests read. */
function setEngine(backend, text) {
  ui.engine.textContent = text;
  ui.engine.dataset.backend = backend;
}

let webgpu = { available: false, adapter: null };
// The CPU engine's build in the worker (its `engine` notice): the threaded one, on every core,
// when the page is cross-origin isolated; the single-threaded one otherwise, with the reason.
let cpu = { build: 'single', threads: 1, reason: null };
const cpuName = () => (cpu.build === 'threaded'
  ? `CPU (WebAssembly, ${cpu.threads} threads)`
  : 'CPU (WebAssembly, one thread)');
// The worker's client, once it is made: the engine line asks the store what Engine gives.
let workerClient = null;

/** Shows an engine line from the store: `{backend, why, race}`. */
function showEngine(line) {
  const name = line.backend === 'webgpu' ? `WebGPU (${webgpu.adapter})` : cpuName();
  setEngine(line.backend, `${name} in a Web Worker: ${line.why}.`);
}

/** Tells the store the Engine control's value and shows what it gives. */
async function engineChoiceChanged() {
  if (!workerClient) return;
  try {
    showEngine(await workerClient.call('engine-choice', { choice: $('backend').value }));
  } catch (e) {
    showError(e.message ?? String(e));
  }
}
// The prune and compare cards, created once the wasm module is in.
const panels = {};

function setRunning(running) {
  ui.train.disabled = running;
  ui.cancel.disabled = !running;
  for (const el of ui.form.querySelectorAll('input, select')) el.disabled = running;
}

function drawCharts() {
  fitCanvas(ui.lossChart, 220, 0.55);
  fitCanvas(ui.accChart, 220, 0.55);
  const x = Float64Array.from(history.step);
  const dark = isDark();
  try {
    drawCurves(ui.lossChart, 'step', 'loss', x, Float64Array.from(history.trainLoss), 'training',
      Float64Array.from(history.valLoss), 'validation', new Float64Array(0), dark);
    drawCurves(ui.accChart, 'step', 'accuracy', x, Float64Array.from(history.trainAcc), 'training',
      Float64Array.from(history.valAcc), 'validation', Float64Array.of(0, 1), dark);
  } catch (e) {
    showError(`Could not draw the charts: ${e.message ?? e}`);
  }
}

/** Reads the form; the browser's own validation has already checked the ranges. */
function readConfig() {
  return {
    arch: $('arch').value,
    optimizer: $('optimizer').value,
    lr: Number($('lr').value),
    batch: Number($('batch').value),
    iters: Number($('iters').value),
    seed: Number($('seed').value),
    backend: $('backend').value,
  };
}

/** News from the worker no request asked for: loading, the engine, the model pruning starts from. */
function onNotice(event, m) {
  switch (event) {
    case 'download': {
      const known = m.total > 0;
      setStatus(`Downloading ${datasetName(loadingDataset)}: ${megabytes(m.loaded)}${known ? ` of ${megabytes(m.total)}` : ''}`,
        known ? m.loaded : null, known ? m.total : 1);
      break;
    }
    case 'decoding':
      setStatus('Decoding the images…', null);
      break;
    case 'engine':
      webgpu = { available: m.webgpu, adapter: m.adapter, software: m.software };
      cpu = m.cpu ?? cpu;
      // Which build the CPU engine runs, for tests; the line's text says it too.
      ui.engine.dataset.cpuBuild = cpu.build;
      ui.engine.dataset.cpuThreads = String(cpu.threads);
      // The technical reason WebGPU is missing is for the curious, not for the sentence.
      ui.engine.title = m.webgpu ? '' : (m.reason ?? '');
      engineChoiceChanged();
      break;
    case 'data':
      dataLoaded(m);
      setStatus(`Ready: ${m.summary.train.toLocaleString()} training, ${m.summary.validation.toLocaleString()} validation and ${m.summary.test.toLocaleString()} test images of ${datasetName(m.dataset)}${ownFilesText(m)}. Press Train.`, 1, 1);
      ui.train.disabled = false;
      panels.lottery.ready();
      break;
    case 'model':
      // Only now: its install downloads everything again, which should not compete with the
      // first visit's own downloads.
      registerOfflineCache();
      panels.prune.setModel(m);
      panels.files.setModel(m);
      panels.lottery.setModel(m);
      panels.compare.ready(m);
      panels.practice.ready();
      tell('ready', { view: 'page', settings: currentHash() });
      break;
    case 'model-error':
      panels.prune.showError(m.message);
      break;
    case 'fatal':
      showError(m.message);
      setStatus('The worker could not start, so nothing can load.', 0, 1);
      setRunning(false);
      ui.train.disabled = true;
      break;
    default:
      console.warn('unexpected notice from the worker', event, m);
  }
}

/** What the training card does with a run's events and its one reply. */
const training = {
  event(event, m) {
    if (event === 'racing') {
      setStatus('Timing WebGPU against the CPU engine (about a second)…', null);
    } else if (event === 'race-failed') {
      // The line that follows says the run is on the CPU; this says what went wrong.
      ui.engine.title = m.message;
    } else if (event === 'started') {
      showEngine(m);
    } else if (event === 'progress') {
      const p = m.progress;
      history.step.push(p.step);
      history.trainLoss.push(p.trainLoss);
      history.valLoss.push(p.valLoss);
      history.trainAcc.push(p.trainAcc);
      history.valAcc.push(p.valAcc);
      setStatus(`Step ${p.step} of ${p.totalSteps}: loss ${p.trainLoss.toFixed(4)}, validation accuracy ${pct(p.valAcc)}`,
        p.step, p.totalSteps);
      drawCharts();
    } else if (event === 'evaluating') {
      setStatus('Evaluating on the 10,000 test images…', null);
    }
  },
  result(report) {
    run = null;
    tell('trained', { steps: report.steps, testAcc: report.testAcc, backend: report.backend });
    ui.testAcc.textContent = pct(report.testAcc);
    ui.testAcc.dataset.value = String(report.testAcc);
    setStatus(`Done: ${report.steps} steps, test accuracy ${pct(report.testAcc)} (loss ${report.testLoss.toFixed(4)}).`, 1, 1);
    setRunning(false);
    panels.prune.offerTrained();
  },
  cancelled({ step }) {
    run = null;
    ui.testAcc.textContent = 'run cancelled';
    setStatus(`Cancelled after ${step} steps.`, 0, 1);
    setRunning(false);
  },
  error(message, detail) {
    run = null;
    showError(message, Boolean(detail?.gpuFailed));
    ui.testAcc.textContent = 'run stopped';
    setStatus('Training stopped.', 0, 1);
    setRunning(false);
  },
};
// The training run in progress (its request handle), for Cancel.
let run = null;

// Each kind of network starts from its own recipe: the ViT's is AdamW at 1e-3 on batches of
// 128 (how the shipped one was trained), LeNet's Adam at 1.2e-3 on batches of 60.
const RECIPES = {
  vit: { optimizer: 'adamw', lr: '0.001', batch: '128' },
  mlp: { optimizer: 'adam', lr: '0.0012', batch: '60' },
};
const TRAIN_IMAGES = 55_000;
// Below this many steps a ViT run keeps its rate constant (see src/web/training.rs: the warmup is 200).
const VIT_SCHEDULED_STEPS = 400;
let archKind = 'mlp';

/** A switch between an MLP and the ViT loads that network's recipe and one epoch of steps. */
function onArchChange() {
  const kind = $('arch').value === 'vit' ? 'vit' : 'mlp';
  if (kind === archKind) return;
  archKind = kind;
  const recipe = RECIPES[kind];
  $('optimizer').value = recipe.optimizer;
  $('lr').value = recipe.lr;
  $('batch').value = recipe.batch;
  $('iters').value = String(Math.floor(TRAIN_IMAGES / Number(recipe.batch)));
  describeSteps();
  writeHash();
}

function onNetworkChange() {
  describeNetwork();
  onArchChange();
}

// The training card's heading and first sentence, per network; the data set names what it
// learns (see DATASETS), and the rest of the paragraph (where the computation runs) is shared.
const NETWORKS = {
  '784-300-100-10': [
    'Train LeNet-300-100',
    'A fully connected network with two hidden layers (300 and 100 units)',
  ],
  '784-256-128-10': [
    'Train a 784-256-128-10 network',
    'A fully connected network with two hidden layers (256 and 128 units)',
  ],
  vit: [
    'Train a tiny vision transformer',
    'A vision transformer (timm’s layout: 16 patches of 7×7 pixels, 4 blocks of 4 attention heads)',
  ],
};

/** The heading and intro follow the Network control and the data set loaded. */
function describeNetwork() {
  const [heading, lead] = NETWORKS[$('arch').value] ?? NETWORKS['784-300-100-10'];
  const data = loadedDataset ?? 'mnist';
  $('train-heading').textContent = `${heading} on ${data === 'own' ? 'your own data' : datasetName(data)}`;
  $('train-lead').textContent = lead;
  $('train-task').textContent = DATASETS[data].task;
}

/** The note under the steps: how many make one epoch, and the ViT's schedule. */
function describeSteps() {
  archKind = $('arch').value === 'vit' ? 'vit' : 'mlp';
  const batch = Number($('batch').value) || 1;
  let text = `${Math.floor(TRAIN_IMAGES / batch)} steps of ${batch} images = one pass over the training set`;
  if (archKind === 'vit') text += `; from ${VIT_SCHEDULED_STEPS} steps the rate warms up, then decays`;
  $('iters-note').textContent = text;
}

/** Settings from the link first, so everything after starts from them. */
function restoreSettings() {
  const notes = readHash();
  const note = $('url-note');
  if (notes.length) {
    note.textContent = `Some settings in the link were adjusted: ${notes.join('; ')}.`;
    note.hidden = false;
  }
  writeHash();
  followControls();
  $('share').addEventListener('click', async () => {
    const link = `${location.origin}${location.pathname}${currentHash()}`;
    const status = $('share-status');
    try {
      await navigator.clipboard.writeText(link);
      status.textContent = 'Link copied.';
    } catch {
      // No clipboard permission (or an insecure context): show it to copy by hand.
      status.textContent = link;
    }
  });
}

// Whether the visitor has done anything on the page yet (a reload would undo it).
let touched = false;
for (const type of ['pointerdown', 'keydown', 'input']) {
  document.addEventListener(type, () => { touched = true; }, { capture: true, once: true });
}
// Set once the page has reloaded itself for isolation, so that it never does so twice in a tab.
const ISOLATION_RELOAD_KEY = 'pruneplay-isolation-reload';

/**
 * When the service worker takes control of a page that is not cross-origin isolated (a first
 * visit to a host that sends no isolation headers), reloads it once: served through the worker,
 * which adds the headers, it comes back isolated and with the threaded CPU engine. Never while
 * the visitor is using the page, and at most once per tab (a page framed by a site that is not
 * isolated stays unisolated under the worker too, and must not reload forever).
 */
function reloadForIsolation() {
  if (self.crossOriginIsolated || touched || workerClient?.busy()) return;
  try {
    if (sessionStorage.getItem(ISOLATION_RELOAD_KEY)) return;
    sessionStorage.setItem(ISOLATION_RELOAD_KEY, '1');
  } catch {
    return; // No storage (a sandboxed frame): no guard against a loop, so no reload.
  }
  location.reload();
}

/**
 * Offline use after the first visit, and cross-origin isolation on hosts that cannot send its
 * headers (see sw.js); the page works the same without it.
 */
let offlineRegistered = false;
function registerOfflineCache() {
  if (offlineRegistered) return;
  offlineRegistered = true;
  try {
    const sw = navigator.serviceWorker;
    if (!sw) return;
    if (!self.crossOriginIsolated) sw.addEventListener('controllerchange', reloadForIsolation);
    sw.register(new URL('../sw.js', import.meta.url)).catch(() => {});
  } catch {
    // Sandboxed or opaque-origin frames may not touch service workers at all.
  }
}

// ---- The data set: the training card's data-set control ----

const DATASETS = {
  mnist: {
    name: 'MNIST',
    note: '70,000 pictures of the digits 0 to 9',
    task: 'learns to read handwritten digits from 55,000 training images',
  },
  fashion: {
    name: 'Fashion-MNIST',
    note: '70,000 pictures of ten kinds of clothes, shoes and bags, drawn as MNIST’s digits are (28×28, grey)',
    task: 'learns to tell ten kinds of clothes, shoes and bags apart from 55,000 training images',
  },
  own: {
    name: 'your own data set',
    note: 'four IDX files from your computer, read here and sent nowhere',
    task: 'learns the ten classes of your own data set from its training images, less 5,000 held out for validation',
  },
};
// How a site gets Fashion-MNIST: Debian's package, which `cargo xtask data` installs as root.
const FASHION_HOW = 'install Debian’s dataset-fashion-mnist (`sudo apt-get install dataset-fashion-mnist`, or `cargo xtask data` as root), then run `cargo xtask build`';
// What the site serves (datasets.json, written by `cargo xtask build`).
let servedDatasets = ['mnist'];
// What the worker holds, and what it is loading.
let loadedDataset = null;
let loadingDataset = 'mnist';

const datasetName = (which) => DATASETS[which]?.name ?? 'the data';

/** Which data sets this site serves; MNIST alone where the build wrote no list. */
async function readServedDatasets() {
  try {
    const response = await fetch(new URL('../datasets.json', import.meta.url));
    if (response.ok) {
      const { datasets } = await response.json();
      if (Array.isArray(datasets)) servedDatasets = datasets;
    }
  } catch {
    // A build from before the list: it surely has MNIST.
  }
  // Fashion-MNIST is always listed, so that a visitor learns it exists and how to add it.
  if (!servedDatasets.includes('fashion')) {
    $('dataset').querySelector('option[value="fashion"]').textContent = 'Fashion-MNIST: not in this build (see below)';
  }
  return servedDatasets;
}

/** Adds a note to the one that says what a link's settings had to change. */
function noteOnLink(text) {
  const note = $('url-note');
  note.textContent = note.hidden
    ? `Some settings in the link were adjusted: ${text}.`
    : `${note.textContent.replace(/\.$/, '')}; ${text}.`;
  note.hidden = false;
}

/** The note under the control and the file picker follow the choice. */
function describeDataset(text = null) {
  const which = $('dataset').value;
  $('idx-field').hidden = which !== 'own';
  $('dataset-note').textContent = text ?? DATASETS[which]?.note ?? '';
}

/** " (training images: a, …)": which picked file turned out to be which. */
function ownFilesText(m) {
  if (m.dataset !== 'own') return '';
  const s = m.summary;
  return ` from your files (training images ${s.trainImages}, training labels ${s.trainLabels}, test images ${s.testImages}, test labels ${s.testLabels})`;
}

/** Disables what would start work on the data while a data set loads. */
function setLoadingData(loading) {
  $('dataset').disabled = loading;
  $('idx-files').disabled = loading;
  if (loading) ui.train.disabled = true;
}

/** A data set is in (the worker's 'data' notice): the training card starts afresh on it. */
function dataLoaded(m) {
  const switched = loadedDataset !== null && (loadedDataset !== m.dataset || m.dataset === 'own');
  loadedDataset = m.dataset;
  $('dataset').value = m.dataset;
  writeHash();
  describeDataset();
  describeNetwork();
  if (switched) {
    // The last run's curves and accuracy were on the other data.
    history = emptyHistory();
    drawCharts();
    ui.testAcc.textContent = 'not trained yet';
    delete ui.testAcc.dataset.value;
  }
  // The worker loads the ViT again only on MNIST; elsewhere the prune card holds LeNet.
  const model = $('prune-model');
  if (m.dataset !== 'mnist' || model.value === 'trained') model.value = 'lenet';
}

/** Asks the worker for data set `which` (with the picked files for 'own'). */
function loadDataset(which, files = undefined) {
  loadingDataset = which;
  hideError();
  setLoadingData(true);
  setStatus(which === 'own' ? 'Reading your files…' : `Downloading ${datasetName(which)}…`, null);
  workerClient.request('load-data', { dataset: which, files, which: $('prune-model').value }, {
    // The 'data' notice has done the rest.
    result() {
      setLoadingData(false);
    },
    error(message) {
      setLoadingData(false);
      const first = loadedDataset === null;
      showError(first ? message : `${datasetName(which)} could not be loaded, so ${datasetName(loadedDataset)} stays: ${message}`);
      if (first) {
        setStatus('The data could not be loaded.', 0, 1);
        ui.train.disabled = true;
        return;
      }
      setStatus(`Ready: ${datasetName(loadedDataset)}, as before. Press Train.`, 1, 1);
      ui.train.disabled = false;
      // Own files stay chosen, so that the visitor can pick others at once.
      if (which !== 'own') $('dataset').value = loadedDataset;
      describeDataset();
      writeHash();
    },
  });
}

function followDatasetControl() {
  $('dataset').addEventListener('change', () => {
    const which = $('dataset').value;
    if (which === 'fashion' && !servedDatasets.includes('fashion')) {
      $('dataset').value = loadedDataset ?? 'mnist';
      writeHash();
      describeDataset(`Fashion-MNIST is not in this build. To add it, ${FASHION_HOW}.`);
      return;
    }
    describeDataset();
    // Own files load once picked.
    if (which !== 'own' && which !== loadedDataset) loadDataset(which);
  });
  $('idx-files').addEventListener('change', (event) => {
    const files = Array.from(event.target.files ?? []);
    // Cleared, so that picking the same files again (after fixing one) loads them again.
    event.target.value = '';
    if (files.length) loadDataset('own', files);
  });
}

async function main() {
  fillMethodControls($('method'), $('compare'));
  restoreSettings();
  const served = readServedDatasets();
  await init();
  drawCharts();
  const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  const client = createClient(worker, {
    onNotice,
    onCrash(message) {
      showError(`The training worker failed: ${message}`);
      setRunning(false);
      ui.train.disabled = true;
    },
  });
  workerClient = client;
  $('backend').addEventListener('change', engineChoiceChanged);
  followDatasetControl();
  panels.prune = createPrunePanel(client, {
    drawHistogram,
    isDark,
    onPruned: (r) => {
      tell('pruned', {
        method: r.method, stage: r.stage, weightsRemaining: r.weightsRemaining, accuracyBefore: r.accuracyBefore ?? null, accuracyAfter: r.accuracyAfter ?? null,
      });
      // The model a download would write has changed: so has the Python that loads it.
      panels.files.refresh();
    },
  });
  // Models in and results out: "Open a model" and the downloads, on the prune card.
  panels.files = createModelFiles(client, { card: $('prune-heading').closest('section') });
  panels.compare = createCompare(client, {
    drawSeries,
    isDark,
    // The sweep prunes with the walk-through's output rate and calibration settings (a pattern
    // would fix the sparsity, so sweeps are always fractions).
    settings: () => ({
      outputRate: Number($('output-rate').value),
      calibration: Number($('calibration').value),
    }),
  });
  panels.compare.redraw();
  panels.practice = createPractice(client, { isDark, onAnswered: (answer) => tell('answered', answer) });
  panels.lottery = createLottery(client, { isDark });
  // The link's data set, or MNIST where this visitor cannot have it (say so, as for any setting).
  const note = fallBackDataset(await served);
  if (note) noteOnLink(note);
  describeDataset();
  loadDataset($('dataset').value);

  ui.form.addEventListener('submit', (event) => {
    event.preventDefault();
    hideError();
    history = emptyHistory();
    drawCharts();
    ui.testAcc.textContent = 'training…';
    delete ui.testAcc.dataset.value;
    setRunning(true);
    setStatus('Starting…', 0, 1);
    run = client.request('train', { config: readConfig() }, training);
  });
  ui.cancel.addEventListener('click', () => run?.cancel());
  ui.continueCpu.addEventListener('click', () => {
    hideError();
    setRunning(true);
    setStatus('Continuing on the CPU…', null);
    run = client.request('continue-on-cpu', {}, training);
  });
  darkScheme.addEventListener('change', () => {
    drawCharts();
    panels.prune.redraw();
    panels.compare.redraw();
    panels.practice.redraw();
    panels.lottery.redraw();
  });
  let resizePending = false;
  window.addEventListener('resize', () => {
    if (resizePending) return;
    resizePending = true;
    requestAnimationFrame(() => {
      resizePending = false;
      drawCharts();
      panels.compare.redraw();
      panels.lottery.redraw();
    });
  });
  // Keep the learning rate sensible when switching optimizers (Adam and SGD differ by ~40×).
  $('optimizer').addEventListener('change', (e) => {
    $('lr').value = { sgd: '0.05', adamw: '0.001' }[e.target.value] ?? '0.0012';
    writeHash();
  });
  $('arch').addEventListener('change', onNetworkChange);
  $('batch').addEventListener('change', describeSteps);
  describeNetwork();
  describeSteps();
}

main().catch((e) => {
  showError(`PrunePlay could not start: ${e.message ?? e}`);
  setStatus('Failed to start.', 0, 1);
});
