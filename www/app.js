// The page: controls, progress and charts. Training runs in ./worker.js; this thread only draws,
// so it never blocks. Charts are drawn by the same Rust crate (plotters on a <canvas>).

import init, { drawCurves, drawHistogram } from '../pkg/pruneplay.js';
import { currentHash, followControls, readHash, writeHash } from './state.js';

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

const pruneUi = {
  form: $('prune-form'),
  step: $('step'),
  reset: $('prune-reset'),
  method: $('method'),
  sparsity: $('sparsity'),
  modelInfo: $('model-info'),
  useTrained: $('use-trained'),
  stages: $('stages'),
  text: $('stage-text'),
  histogram: $('hist-chart'),
  fields: $('fields'),
};
const STAGES = ['scores', 'select', 'apply', 'finetune'];
// What each method scores, in a sentence.
const SCORE_RULE = {
  magnitude: 'its absolute value |w|; each layer is ranked on its own',
  'global-magnitude': 'its absolute value |w|, with all layers ranked together',
  random: 'a random number: the baseline every real method must beat',
  'structured-l1': "each hidden neuron's sum of |w| over its incoming weights",
  'structured-l2': "each hidden neuron's Euclidean norm of its incoming weights",
  taylor: '|w × ∂loss/∂w| summed over 128 training images: the first-order change in loss if it went',
  'taylor-neuron': "a hidden neuron's Taylor scores summed: how much the loss would move without it",
  wanda: "|w| × the size of the input it reads (over 128 images), compared within each neuron's row",
  sparsegpt: 'w² / [H⁻¹]ᵢᵢ from the inputs\' second moments H, and the kept weights are then updated to make up for the pruned ones',
};
let pruneState = { next: 0, lastReport: null, fields: null, threshold: NaN, histogram: null };

const darkScheme = window.matchMedia('(prefers-color-scheme: dark)');
let history = emptyHistory();

function emptyHistory() {
  return { step: [], trainLoss: [], valLoss: [], trainAcc: [], valAcc: [] };
}

const percent = (x) => `${(100 * x).toFixed(2)}%`;
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

function setRunning(running) {
  ui.train.disabled = running;
  ui.cancel.disabled = !running;
  for (const el of ui.form.querySelectorAll('input, select')) el.disabled = running;
}

/** Matches a canvas's pixel size to its displayed size, so chart text stays readable on phones. */
function fitCanvas(canvas) {
  const width = Math.round(canvas.clientWidth);
  if (width > 0 && canvas.width !== width) {
    canvas.width = width;
    canvas.height = Math.max(220, Math.round(width * 0.55));
  }
}

function drawCharts() {
  fitCanvas(ui.lossChart);
  fitCanvas(ui.accChart);
  const x = Float64Array.from(history.step);
  const dark = darkScheme.matches;
  try {
    drawCurves(ui.lossChart, 'step', 'loss', x, Float64Array.from(history.trainLoss), 'training',
      Float64Array.from(history.valLoss), 'validation', new Float64Array(0), dark);
    drawCurves(ui.accChart, 'step', 'accuracy', x, Float64Array.from(history.trainAcc), 'training',
      Float64Array.from(history.valAcc), 'validation', Float64Array.of(0, 1), dark);
  } catch (e) {
    showError(`Could not draw the charts: ${e.message ?? e}`);
  }
}

/** Draws every hidden unit's incoming weights as a 28×28 tile in one ImageData pass. */
function drawFields(values) {
  const canvas = pruneUi.fields;
  const ctx = canvas.getContext('2d');
  if (!values) return;
  const units = values.length / 784;
  const columns = 20;
  const rows = Math.ceil(units / columns);
  canvas.width = columns * 28;
  canvas.height = rows * 28;
  const image = ctx.createImageData(canvas.width, canvas.height);
  let scale = 0;
  for (const v of values) if (Number.isFinite(v)) scale = Math.max(scale, Math.abs(v));
  scale = scale || 1;
  const data = image.data;
  for (let u = 0; u < units; u++) {
    const ox = (u % columns) * 28;
    const oy = Math.floor(u / columns) * 28;
    for (let p = 0; p < 784; p++) {
      const v = values[u * 784 + p];
      const i = ((oy + Math.floor(p / 28)) * canvas.width + ox + (p % 28)) * 4;
      let rgb;
      if (Number.isNaN(v)) {
        rgb = [150, 150, 150]; // pruned: neutral grey
      } else {
        // Okabe–Ito orange for positive, blue for negative, fading to white at 0.
        const t = Math.sqrt(Math.min(1, Math.abs(v) / scale));
        const c = v >= 0 ? [230, 159, 0] : [0, 114, 178];
        rgb = c.map((x) => Math.round(255 + (x - 255) * t));
      }
      data[i] = rgb[0];
      data[i + 1] = rgb[1];
      data[i + 2] = rgb[2];
      data[i + 3] = 255;
    }
  }
  ctx.putImageData(image, 0, 0);
}

function drawScoreHistogram() {
  const h = pruneState.histogram;
  if (!h) return;
  try {
    drawHistogram(pruneUi.histogram, h.perNeuron ? 'score (per neuron)' : 'score (per weight)',
      Float64Array.from(h.counts), h.range[0], h.range[1], pruneState.threshold, darkScheme.matches);
  } catch (e) {
    showPruneError(`Could not draw the histogram: ${e.message ?? e}`);
  }
}

function showPruneError(message) {
  pruneUi.text.textContent = message;
  pruneUi.text.classList.add('error-text');
}

function markStage(index) {
  for (const li of pruneUi.stages.children) {
    const i = STAGES.indexOf(li.dataset.stage);
    li.classList.toggle('done', i < index);
    li.classList.toggle('current', i === index);
  }
}

function pruneRequest(stage) {
  return { method: pruneUi.method.value, sparsity: Number(pruneUi.sparsity.value), stage };
}

function describeStage(r) {
  const pct = (x) => `${(100 * x).toFixed(2)}%`;
  switch (r.stage) {
    case 'scores':
      return `1. Every ${r.perNeuron ? 'hidden neuron' : 'weight'} gets an importance score: ${SCORE_RULE[r.method]}. `
        + 'The histogram shows the first layer: most scores are small, and those are the candidates for removal.';
    case 'select': {
      const layers = r.layers.map((l) => `${l.name} keeps ${l.remaining.toLocaleString()} of ${l.weights.toLocaleString()}`).join(', ');
      const t = r.thresholds?.[0];
      return `2. The method keeps the highest scores and masks the rest: ${pct(r.weightsRemaining)} of the weights remain (${layers}). `
        + (t != null ? `In the first layer everything scoring at or below ${t.toPrecision(3)} (the orange line) goes. ` : '')
        + 'Grey pixels in the pictures are pruned weights: see how the border of the image, which is always blank, goes first.';
    }
    case 'apply':
      return `3. With the pruned weights set to zero the network reads the 10,000 test images again: accuracy goes from ${pct(r.accuracyBefore)} to ${pct(r.accuracyAfter)}.`;
    case 'finetune':
      return `4. The surviving weights train for ${r.finetuneSteps} more steps while the mask holds the pruned ones at exactly zero: accuracy recovers from ${pct(r.accuracyBefore)} to ${pct(r.accuracyAfter)}, with ${pct(r.weightsRemaining)} of the weights.`;
    default:
      return '';
  }
}

function onPruneStage(report, fields) {
  pruneUi.text.classList.remove('error-text');
  if (report.stage === 'scores') {
    pruneState.histogram = { counts: report.histogram, range: report.range, perNeuron: report.perNeuron };
    pruneState.threshold = NaN;
  }
  if (report.stage === 'select') pruneState.threshold = report.thresholds?.[0] ?? NaN;
  drawScoreHistogram();
  if (fields) {
    pruneState.fields = fields;
    drawFields(fields);
  }
  pruneUi.text.textContent = describeStage(report);
  pruneUi.text.dataset.stage = report.stage;
  const index = STAGES.indexOf(report.stage);
  pruneState.next = index + 1;
  markStage(index);
  pruneUi.step.disabled = false;
  pruneUi.reset.disabled = false;
  pruneUi.step.textContent = pruneState.next < STAGES.length ? 'Step' : 'Again';
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

function onWorkerMessage({ data: m }) {
  switch (m.type) {
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
      webgpu = { available: m.webgpu, adapter: m.adapter };
      if (m.webgpu) {
        setEngine('webgpu', `WebGPU (${m.adapter}) in a Web Worker`);
      } else {
        setEngine('cpu', 'CPU (WebAssembly) in a Web Worker. WebGPU is not available in this browser; training on the CPU.');
        // The technical reason is for the curious, not for the sentence.
        ui.engine.title = m.reason ?? '';
      }
      break;
    case 'started':
      if (m.backend === 'webgpu') {
        setEngine('webgpu', `WebGPU (${webgpu.adapter}) in a Web Worker`);
      } else if (webgpu.available) {
        setEngine('cpu', 'CPU (WebAssembly) in a Web Worker, as chosen; WebGPU is available.');
      } else {
        setEngine('cpu', 'CPU (WebAssembly) in a Web Worker. WebGPU is not available in this browser; training on the CPU.');
      }
      break;
    case 'data':
      setStatus(`Ready: ${m.summary.train.toLocaleString()} training, ${m.summary.validation.toLocaleString()} validation and ${m.summary.test.toLocaleString()} test images. Press Train.`, 1, 1);
      ui.train.disabled = false;
      break;
    case 'progress': {
      const p = m.progress;
      history.step.push(p.step);
      history.trainLoss.push(p.trainLoss);
      history.valLoss.push(p.valLoss);
      history.trainAcc.push(p.trainAcc);
      history.valAcc.push(p.valAcc);
      setStatus(`Step ${p.step} of ${p.totalSteps}: loss ${p.trainLoss.toFixed(4)}, validation accuracy ${percent(p.valAcc)}`,
        p.step, p.totalSteps);
      drawCharts();
      break;
    }
    case 'evaluating':
      setStatus('Evaluating on the 10,000 test images…', null);
      break;
    case 'done':
      ui.testAcc.textContent = percent(m.report.testAcc);
      ui.testAcc.dataset.value = String(m.report.testAcc);
      setStatus(`Done: ${m.report.steps} steps, test accuracy ${percent(m.report.testAcc)} (loss ${m.report.testLoss.toFixed(4)}).`, 1, 1);
      setRunning(false);
      pruneUi.useTrained.hidden = false;
      break;
    case 'cancelled':
      ui.testAcc.textContent = 'run cancelled';
      setStatus(`Cancelled after ${m.step} steps.`, 0, 1);
      setRunning(false);
      break;
    case 'model':
      pruneUi.modelInfo.textContent = m.source === 'shipped'
        ? `LeNet-300-100 trained for two epochs when the site was built, ${percent(m.testAcc)} test accuracy`
        : 'the model you trained above';
      pruneUi.step.disabled = false;
      pruneState.next = 0;
      markStage(-1);
      break;
    case 'prune-stage':
      onPruneStage(m.report, m.fields);
      break;
    case 'prune-error':
      showPruneError(m.message);
      pruneUi.step.disabled = false;
      break;
    case 'error':
      showError(m.message, Boolean(m.gpuFailed));
      if (!m.fatal) ui.testAcc.textContent = 'run stopped';
      setStatus(m.fatal ? 'The data could not be loaded.' : 'Training stopped.', 0, 1);
      setRunning(false);
      ui.train.disabled = Boolean(m.fatal);
      break;
    default:
      console.warn('unexpected message from the worker', m);
  }
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

async function main() {
  restoreSettings();
  await init();
  drawCharts();
  const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  worker.onmessage = onWorkerMessage;
  worker.onerror = (e) => {
    showError(`The training worker failed: ${e.message ?? 'unknown error'}`);
    setRunning(false);
    ui.train.disabled = true;
  };
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
    worker.postMessage({ type: 'start', config: readConfig() });
  });
  ui.cancel.addEventListener('click', () => worker.postMessage({ type: 'cancel' }));
  ui.continueCpu.addEventListener('click', () => {
    hideError();
    setRunning(true);
    setStatus('Continuing on the CPU…', null);
    worker.postMessage({ type: 'continue-on-cpu' });
  });
  darkScheme.addEventListener('change', () => {
    drawCharts();
    drawScoreHistogram();
  });
  pruneUi.form.addEventListener('submit', (event) => {
    event.preventDefault();
    const stage = STAGES[pruneState.next % STAGES.length];
    pruneUi.step.disabled = true;
    pruneUi.text.textContent = stage === 'finetune' ? 'Fine-tuning…' : 'Working…';
    worker.postMessage({ type: 'prune-step', request: pruneRequest(stage) });
  });
  pruneUi.reset.addEventListener('click', () => {
    pruneState.next = 0;
    markStage(-1);
    pruneUi.text.textContent = 'Press Step to compute the importance scores.';
    delete pruneUi.text.dataset.stage;
    pruneUi.step.textContent = 'Step';
  });
  // A new method or sparsity starts the walk-through over.
  for (const control of [pruneUi.method, pruneUi.sparsity]) {
    control.addEventListener('change', () => pruneUi.reset.click());
  }
  pruneUi.useTrained.addEventListener('click', () => {
    worker.postMessage({ type: 'use-trained' });
    pruneUi.reset.click();
  });
  let resizePending = false;
  window.addEventListener('resize', () => {
    if (resizePending) return;
    resizePending = true;
    requestAnimationFrame(() => {
      resizePending = false;
      drawCharts();
    });
  });
  // Keep the learning rate sensible when switching optimizers (Adam and SGD differ by ~40×).
  $('optimizer').addEventListener('change', (e) => {
    $('lr').value = e.target.value === 'sgd' ? '0.05' : '0.0012';
    writeHash();
  });
}

main().catch((e) => {
  showError(`PrunePlay could not start: ${e.message ?? e}`);
  setStatus('Failed to start.', 0, 1);
});
