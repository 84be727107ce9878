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
import { currentHash, followControls, readHash, writeHash } from './state.js';
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
      setStatus(`Downloading MNIST: ${megabytes(m.loaded)}${known ? ` of ${megabytes(m.total)}` : ''}`,
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
      setStatus(`Ready: ${m.summary.train.toLocaleString()} training, ${m.summary.validation.toLocaleString()} validation and ${m.summary.test.toLocaleString()} test images. Press Train.`, 1, 1);
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
      setStatus('The data could not be loaded.', 0, 1);
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

// The training card's heading and first sentence, per network; the rest of the paragraph (where
// the computation runs) is shared.
const NETWORKS = {
  '784-300-100-10': [
    'Train LeNet-300-100 on MNIST',
    'A fully connected network with two hidden layers (300 and 100 units) learns to read',
  ],
  '784-256-128-10': [
    'Train a 784-256-128-10 network on MNIST',
    'A fully connected network with two hidden layers (256 and 128 units) learns to read',
  ],
  vit: [
    'Train a tiny vision transformer on MNIST',
    'A vision transformer (timm’s layout: 16 patches of 7×7 pixels, 4 blocks of 4 attention heads) learns to read',
  ],
};

/** The heading and intro follow the Network control. */
function describeNetwork() {
  const [heading, lead] = NETWORKS[$('arch').value] ?? NETWORKS['784-300-100-10'];
  $('train-heading').textContent = heading;
  const intro = $('train-intro');
  intro.textContent = intro.textContent.replace(/^\s*.*? learns to read/s, `${lead}`);
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

async function main() {
  fillMethodControls($('method'), $('compare'));
  restoreSettings();
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
  setStatus('Downloading MNIST…', null);

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
