// One PrunePlay view for another site's page: www/embed.html#view=masks&method=wanda&sparsity=0.5
// (the main page's URL settings, validated the same way) in an <iframe>, sandboxed or not.
//
// The host page hears about it through postMessage (see README, "Embedding"):
//   {source: 'pruneplay', event: 'ready', view, settings, bytes}
//   {source: 'pruneplay', event: 'pruned', method, sparsity, pattern, weightsRemaining,
//    accuracyBefore, accuracyAfter}          (accuracies only in views that measure them)
//   {source: 'pruneplay', event: 'answered', question, choice, correct}   (view=practice)
//   {source: 'pruneplay', event: 'error', message}
// and may send {source: 'pruneplay-host', command: 'set', settings: {method?, sparsity?, …}};
// anything else is ignored.

import init from '../pkg/pruneplay.js';
import { drawHistogram, drawSeries } from './charts.js';
import { drawAttention } from './attention-view.js';
import { drawBlockBars, drawHeadGrid } from './heads-view.js';
import {
  CALIBRATED, METHODS, NM_METHODS, familyOf, fillMethodControls, parseLevels, shortName,
} from './methods.js';
import { HOST_KEYS, tell } from './host.js';
import { createPractice } from './practice.js';
import { Cancelled, WorkerFailed, createClient } from './protocol.js';
import { QUESTIONS } from './questions.js';
import { currentHash, readHash } from './state.js';
import {
  drawConfusion, drawDigits, drawFields, drawHeatmap, drawPixelMap, isDark, pct,
} from './views.js';

const $ = (id) => document.getElementById(id);

// Which views measure accuracy (and so load the 10,000 test images).
const VIEWS = {
  masks: { accuracy: false },
  heatmap: { accuracy: false },
  histogram: { accuracy: false },
  pixels: { accuracy: false },
  confusion: { accuracy: true },
  digits: { accuracy: true },
  compare: { accuracy: true },
  practice: { accuracy: true },
  // The ViT's views: a head method's grid, what each head looks at (a calibration digit, so no
  // test set), a layer method's block scores. Another method falls back to the family's first.
  heads: { accuracy: false, vit: 'heads' },
  attention: { accuracy: false, vit: 'heads' },
  layers: { accuracy: false, vit: 'layers' },
};
const VIT_DEFAULT = { heads: 'heads-taylor', layers: 'layers-bi' };
// Demonstrations that fine-tune need the training set, which an embed does not load.
const NEEDS_TRAINING = new Set(['finetune-recovery', 'iterative-vs-oneshot', 'lottery-short', 'layers-heal']);

const settings = () => ({
  method: $('method').value,
  sparsity: Number($('sparsity').value),
  pattern: $('pattern').value,
  outputRate: Number($('output-rate').value),
  calibration: Number($('calibration').value),
  scope: $('scope').value,
  rounds: Number($('head-rounds').value),
  remove: familyOf($('method').value) === 'layers' ? Number($('remove').value) : 0,
});
const view = () => $('view').querySelector('input:checked').value;

/** The embed's worker, or null where the frame may not start one (a sandbox without same-origin). */
function workerClient() {
  let worker;
  try {
    worker = new Worker(new URL('./embed-worker.js', import.meta.url), { type: 'module' });
  } catch {
    return null;
  }
  return { where: 'worker', ...createClient(worker) };
}

/** The same operations on this thread, behind the same `request` and `call`. */
async function mainThreadClient() {
  const { createHandler, progressTick } = await import('./embed-core.js');
  const nextTurn = () => new Promise((resolve) => setTimeout(resolve, 0));
  // A demonstration yields between its pieces too.
  const handle = createHandler(nextTurn);
  async function call(op, args) {
    // Each call gives the frame's event loop a turn first, so input and painting go on
    // between the pieces of work (a sweep is many calls).
    await nextTurn();
    return handle({ ...args, op });
  }
  return {
    where: 'main thread',
    call,
    request(op, args, on = {}) {
      let cancelRequested = false;
      // A stand-in for protocol.js's job, so a demonstration ticks as it does in the worker.
      const job = {
        event: (event, data) => on.event?.(event, data),
        async checkpoint() {
          await nextTurn();
          if (cancelRequested) throw new Cancelled();
        },
      };
      nextTurn().then(() => handle({ ...args, op }, progressTick(job))).then(on.result, (e) => {
        if (e instanceof Cancelled) on.cancelled?.(e.value);
        else on.error?.(e instanceof Error ? e.message : String(e), null);
      });
      return { cancel: () => { cancelRequested = true; } };
    },
    close() {},
  };
}

/** Opens the model and data for `needs`, in a worker when the frame allows one. */
async function connect(needs) {
  const worker = workerClient();
  if (worker) {
    try {
      return { client: worker, ...(await worker.call('open', { needs })) };
    } catch (e) {
      worker.close();
      if (!(e instanceof WorkerFailed)) throw e;
    }
  }
  const local = await mainThreadClient();
  return { client: local, ...(await local.call('open', { needs })) };
}

let connection = null;
let connectedNeeds = null;
let generation = 0; // a newer render makes an older one stop drawing

async function ensureConnected(needs) {
  // The model (LeNet or the ViT) must match; the data sets may be more than asked for.
  needs.vit = Boolean(needs.vit);
  const sameModel = connectedNeeds?.vit === needs.vit;
  const covered = connection && sameModel && Object.keys(needs).every((k) => !needs[k] || connectedNeeds[k]);
  if (covered) return connection;
  // Whatever data the old connection had stays wanted (switching back should not download again).
  if (connectedNeeds) for (const k of Object.keys(connectedNeeds)) if (k !== 'vit') needs[k] ||= connectedNeeds[k];
  connection?.client.close();
  connection = null;
  connection = await connect(needs);
  connectedNeeds = needs;
  return connection;
}

function canvas(className = 'pixels', label = '') {
  const c = document.createElement('canvas');
  c.className = className;
  c.setAttribute('role', 'img');
  c.setAttribute('aria-label', label);
  return c;
}

function describe(name, r, s = settings()) {
  const c = r.select.structure;
  const family = familyOf(s.method);
  const amount = family === 'layers' ? `, ${s.remove} block${s.remove === 1 ? '' : 's'}`
    : family === 'heads' ? ` at ${pct(s.sparsity)} of the heads` : s.pattern ? `, ${s.pattern} pattern` : ` at ${pct(s.sparsity)} sparsity`;
  const what = `${METHODS[s.method]?.label ?? s.method}${amount}`;
  const left = c && family === 'heads' ? `${c.headsRemoved} of ${c.headsTotal} heads removed`
    : c && family === 'layers' ? `block${c.removedBlocks.length === 1 ? '' : 's'} ${c.removedBlocks.join(', ')} removed`
      : `${pct(r.select.weightsRemaining)} of the weights left`;
  const acc = r.apply ? `; test accuracy ${pct(r.apply.accuracyBefore)} → ${pct(r.apply.accuracyAfter)}` : '';
  const captions = {
    masks: 'Each of the 300 first-layer units\' 784 incoming weights as a 28×28 tile: orange positive, blue negative, grey pruned.',
    heatmap: 'The first layer, one pixel per weight: a row per unit, a column per input pixel. Grey is pruned.',
    histogram: 'The first layer\'s importance scores; the orange line is where the method cut.',
    pixels: 'What the method measures for each input pixel (bright = high).',
    confusion: 'Rows: the true digit; columns: what the pruned network answered. Mistakes are orange.',
    digits: 'Test digits with the answer before → after pruning; outlined ones were broken by pruning.',
    heads: 'The tiny ViT\'s attention heads, a row per block, shaded by the method\'s score (hover for it); removed heads are crossed out.',
    attention: 'Each head of the tiny ViT on one digit: its 16 patches tinted by the attention they receive, before and after pruning; removed heads are crossed out.',
    layers: 'The tiny ViT\'s blocks scored by the method; the removed ones are marked.',
  };
  return `${what}: ${left}${acc}. ${captions[name]}`;
}

async function renderPicture(name, token) {
  const { accuracy, vit } = VIEWS[name];
  const request = settings();
  // A view of heads or blocks shows a method of that family: the first one if another was set.
  if (vit && familyOf(request.method) !== vit) {
    request.method = VIT_DEFAULT[vit];
    request.remove = vit === 'layers' ? Number($('remove').value) : 0;
  }
  const { client } = await ensureConnected({ test: accuracy, calibration: CALIBRATED.has(request.method), vit: Boolean(vit) });
  const options = {
    accuracy, layer: 0, vit: Boolean(vit), digit: Number($('attn-digit').value) || 0,
  };
  const result = await client.call('picture', { request, options });
  if (token !== generation) return;
  const picture = $('picture');
  const { reports } = result;
  if (name === 'masks') {
    const c = canvas('pixels', 'Receptive fields of the 300 first-layer units');
    picture.replaceChildren(c);
    drawFields(c, result.fields);
  } else if (name === 'heatmap') {
    const c = canvas('pixels wide', 'Heatmap of the first layer\'s weights');
    picture.replaceChildren(c);
    drawHeatmap(c, result.heat, 300, 784);
  } else if (name === 'histogram') {
    const c = canvas('', 'Histogram of the first layer\'s importance scores');
    c.width = 560;
    c.height = 308;
    picture.replaceChildren(c);
    const h = reports.scores;
    drawHistogram(c, h.perNeuron ? 'score (per neuron)' : 'score (per weight)', Float64Array.from(h.histogram),
      h.range[0], h.range[1], reports.select.thresholds?.[0] ?? NaN, isDark());
  } else if (name === 'pixels') {
    const c = canvas('pixels map', 'What the method measures for each input pixel');
    picture.replaceChildren(c);
    if (result.maps.input) drawPixelMap(c, result.maps.input.values, { log: result.maps.input.kind === 'hinv-diag' });
    else drawPixelMap(c, result.maps.kept, { range: [0, 1] });
  } else if (name === 'confusion') {
    const c = canvas('confusion', 'Confusion matrix of the pruned network');
    picture.replaceChildren(c);
    drawConfusion(c, reports.apply.confusion);
  } else if (name === 'heads') {
    const grid = document.createElement('div');
    grid.className = 'head-grid';
    picture.replaceChildren(grid);
    drawHeadGrid(grid, result.structure);
  } else if (name === 'layers') {
    const bars = document.createElement('div');
    bars.className = 'block-bars';
    picture.replaceChildren(bars);
    drawBlockBars(bars, result.structure);
  } else if (name === 'attention') {
    const box = document.createElement('div');
    box.className = 'attention';
    picture.replaceChildren(box);
    drawAttention(box, result.attention);
  } else if (name === 'digits') {
    const list = document.createElement('ol');
    list.className = 'digits';
    picture.replaceChildren(list);
    drawDigits(list, reports.apply.digits);
  }
  $('caption').textContent = describe(name, { select: reports.select, apply: reports.apply }, request);
  tell('pruned', {
    method: request.method,
    sparsity: request.sparsity,
    pattern: request.pattern,
    weightsRemaining: reports.select.weightsRemaining,
    accuracyBefore: reports.apply?.accuracyBefore ?? null,
    accuracyAfter: reports.apply?.accuracyAfter ?? null,
  });
}

async function renderCompare(token) {
  const methods = Array.from($('compare').querySelectorAll('input:checked'), (b) => b.value);
  const { client, loaded } = await ensureConnected({ test: true, calibration: methods.some((m) => CALIBRATED.has(m)) });
  // The field's pattern has passed the list already; unlike the compare card, any sparsity below 1 goes.
  const { levels, error } = parseLevels($('levels').value, 1);
  if (error) throw new Error(error);
  const c = canvas('', 'Test accuracy against weights left, one line per method');
  c.width = Math.max(320, Math.round($('picture').clientWidth) || 640);
  c.height = Math.round(c.width * 0.5);
  $('picture').replaceChildren(c);
  const series = methods.map((m) => ({ name: shortName(m), x: [100], y: [100 * loaded.testAcc] }));
  const draw = () => drawSeries(c, 'weights left (%, log scale)', 'test accuracy (%)', series, true, new Float64Array(0), isDark());
  draw();
  for (const [i, method] of methods.entries()) {
    for (const sparsity of levels) {
      const request = { ...settings(), pattern: '', method, sparsity };
      const p = await client.call('sweep-point', { request });
      if (token !== generation) return;
      series[i].x.push(100 * p.weightsRemaining);
      series[i].y.push(100 * p.accuracy);
      draw();
      $('embed-progress').value = (i * levels.length + levels.indexOf(sparsity) + 1) / (methods.length * levels.length);
    }
  }
  $('caption').textContent = `One-shot pruning, no fine-tuning: test accuracy of ${methods.map(shortName).join(', ')} as the weights thin out.`;
}

let practice = null;
// Each render builds the card afresh; this drops the last one's listener on the frame's
// persistent "Forget my answer" button.
let practiceListeners = null;

/** One practice question, its demonstration run through the embed's client. */
async function renderPractice() {
  const { client } = await ensureConnected({ test: true, calibration: true });
  $('practice').hidden = false;
  $('picture').replaceChildren();
  const id = $('question').value;
  $('questions').replaceChildren();
  practiceListeners?.abort();
  practiceListeners = new AbortController();
  practice = createPractice(client, {
    isDark,
    signal: practiceListeners.signal,
    only: id,
    onAnswered: (answer) => tell('answered', answer),
    unavailable: (q) => (NEEDS_TRAINING.has(q.experiment)
      ? 'This demonstration fine-tunes the network on the 55,000 training images, which an embedded view does not download: open it in PrunePlay (link below).'
      : null),
  });
  practice.ready();
  $('caption').textContent = `Practice question ${QUESTIONS.findIndex((q) => q.id === id) + 1} of ${QUESTIONS.length}.`;
}

async function render() {
  const token = ++generation;
  const name = view();
  $('embed-progress').hidden = false;
  $('embed-progress').removeAttribute('value');
  $('caption').textContent = 'Working…';
  $('open-full').href = `../index.html${currentHash()}`;
  try {
    $('practice').hidden = true;
    if (name === 'compare') await renderCompare(token);
    else if (name === 'practice') await renderPractice();
    else await renderPicture(name, token);
    if (token === generation) $('embed-progress').hidden = true;
  } catch (e) {
    if (token !== generation) return;
    $('embed-progress').hidden = true;
    $('caption').textContent = `Could not draw this view: ${e.message ?? e}`;
    $('caption').classList.add('error-text');
    tell('error', { message: String(e.message ?? e) });
    return;
  }
  $('caption').classList.remove('error-text');
  document.body.dataset.where = connection.client.where;
  document.body.dataset.rendered = String(token);
}

function applyVisibility() {
  const hidden = new Set(Array.from($('hide').querySelectorAll('input:checked'), (b) => b.value));
  $('embed-controls').hidden = hidden.has('controls') || view() === 'practice';
  $('caption').hidden = hidden.has('caption');
  $('embed-link').hidden = hidden.has('link');
  $('compare').hidden = view() !== 'compare';
  // N:M only where the method has it; the pattern then fixes the sparsity.
  const nm = NM_METHODS.has($('method').value);
  if (!nm) $('pattern').value = '';
  $('pattern').disabled = !nm;
  $('sparsity').disabled = $('pattern').value !== '';
  $('sparsity-value').textContent = `${Math.round(100 * Number($('sparsity').value))}%`;
}

/** Host messages: only `{source: 'pruneplay-host', command: 'set', settings}` with known keys. */
function onHostMessage(event) {
  if (event.source !== window.parent || window.parent === window) return;
  const m = event.data;
  if (!m || typeof m !== 'object' || m.source !== 'pruneplay-host' || m.command !== 'set') return;
  const given = m.settings;
  if (!given || typeof given !== 'object' || Array.isArray(given)) return;
  const entries = Object.entries(given);
  if (!entries.length || entries.some(([k, v]) => !HOST_KEYS.includes(k) || !['string', 'number'].includes(typeof v))) return;
  const notes = readHash(`#${new URLSearchParams(entries.map(([k, v]) => [k, String(v)]))}`);
  if (notes.length) tell('error', { message: `adjusted: ${notes.join('; ')}` });
  applyVisibility();
  render();
}

async function main() {
  fillMethodControls($('method'), $('compare'));
  for (const q of QUESTIONS) $('question').add(new Option(q.title, q.id));
  const notes = readHash();
  if (notes.length) {
    $('url-note').textContent = `Some settings in the link were adjusted: ${notes.join('; ')}.`;
    $('url-note').hidden = false;
  }
  applyVisibility();
  await init();
  let first = true;
  const rerender = async () => {
    applyVisibility();
    await render();
    if (first && document.body.dataset.rendered) {
      first = false;
      tell('ready', { view: view(), settings: currentHash(), bytes: connection?.downloaded ?? 0, where: connection?.client.where });
    }
  };
  $('embed-controls').addEventListener('change', rerender);
  $('sparsity').addEventListener('input', () => {
    $('sparsity-value').textContent = `${Math.round(100 * Number($('sparsity').value))}%`;
  });
  window.addEventListener('message', onHostMessage);
  // A host may also point the frame at a new hash.
  window.addEventListener('hashchange', () => {
    readHash();
    rerender();
  });
  await rerender();
}

main().catch((e) => {
  $('caption').textContent = `PrunePlay could not start: ${e.message ?? e}`;
  tell('error', { message: String(e.message ?? e) });
});
