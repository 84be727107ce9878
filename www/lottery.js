// The "Lottery tickets" card: runs the core's lottery experiment in the worker, round by round,
// and draws the paper's plots as results arrive: test accuracy at early stopping and the
// early-stopping iteration against weights left (ticket, reinit, random mask), the ticket's
// first-layer mask per round, and the instability curve.

import { lotteryLadder } from '../pkg/pruneplay.js';
import { drawSeries, fitCanvas } from './charts.js';
import { saveCsv, saveJson } from './downloads.js';
import { drawMessage, drawPixelMap } from './views.js';

const $ = (id) => document.getElementById(id);
const ARMS = { ticket: 'winning ticket', reinit: 'random reinit', 'random-mask': 'random mask' };
const PAPER = { 'lt-rounds': 18, 'lt-iters': 50000, 'lt-rewind': 0, 'lt-eval': 100, 'lt-strategy': 'per-layer' };
export function createLottery(client, { isDark }) {
  const ui = {
    form: $('lottery-form'),
    run: $('lt-run'),
    cancel: $('lt-cancel'),
    paper: $('lt-paper'),
    note: $('lt-note'),
    progress: $('lt-progress'),
    status: $('lt-status'),
    acc: $('lt-acc'),
    iter: $('lt-iter'),
    masks: $('lt-masks'),
    table: $('lt-table').tBodies[0],
    instForm: $('inst-form'),
    instRun: $('inst-run'),
    instChart: $('inst-chart'),
    instCaption: $('inst-caption'),
    csv: $('lt-csv'),
    json: $('lt-json'),
    instCsv: $('inst-csv'),
    instJson: $('inst-json'),
  };
  // The shape the lab trains (the model to prune's when it is an MLP; see setModel), and what
  // the note says of it.
  let arch = null;
  let shapeNote = '';
  // The core's settings of the last run of each kind, seed included, for the JSON downloads.
  const ran = { lottery: null, instability: null };
  let results = [];
  let instability = null;
  let running = null; // 'lottery' | 'instability' | null
  let ready = false;

  const request = () => ({
    iters: Number($('lt-iters').value),
    rounds: Number($('lt-rounds').value),
    rewindIter: Number($('lt-rewind').value),
    strategy: $('lt-strategy').value,
    controls: Array.from($('lt-controls').querySelectorAll('input:checked'), (b) => b.value),
    seed: Number($('lt-seed').value),
    evalEvery: Number($('lt-eval').value),
    backend: $('lt-backend').value,
  });

  function describeSettings() {
    const r = request();
    const runs = 1 + r.rounds * (1 + r.controls.length);
    // The core's ladder, counted as the rounds will prune (the last rung is after every round).
    let left;
    try {
      const ladder = lotteryLadder(r.rounds, r.strategy, arch ?? undefined);
      left = ladder[ladder.length - 1].toFixed(1);
    } catch {
      left = '?';
    }
    const paper = r.iters >= 50_000 && r.rounds >= 18;
    ui.form.querySelector('small').textContent = `${r.rounds} round${r.rounds === 1 ? '' : 's'}: ${left}% of the weights left`;
    ui.note.textContent = paper
      ? `The paper's protocol: ${runs} runs of ${r.iters.toLocaleString()} iterations (${(runs * r.iters).toLocaleString()} in all). Expect hours on a laptop GPU.`
      : `Shortened for a first look: ${r.iters.toLocaleString()} iterations a round (the paper trains 50,000) and ${r.rounds} rounds, ${runs} runs in all. The numbers show the trends, not the paper's exact figures.`;
    ui.note.dataset.shortened = String(!paper);
    if (shapeNote) ui.note.textContent += ` ${shapeNote}`;
  }

  function setRunning(kind) {
    running = kind;
    ui.run.disabled = !ready || kind !== null;
    ui.instRun.disabled = !ready || kind !== null;
    ui.cancel.disabled = kind === null;
    for (const el of ui.form.querySelectorAll('input, select')) el.disabled = kind !== null;
  }

  const fit = (canvas) => fitCanvas(canvas, 240, 0.55);

  function draw() {
    const dark = isDark();
    const byArm = (y) => Object.entries(ARMS)
      .map(([arm, name]) => {
        const rs = results.filter((r) => r.arm === arm || (arm !== 'ticket' && r.round === 0));
        return { name, x: rs.map((r) => r.weights_remaining), y: rs.map(y) };
      })
      .filter((s) => s.x.length > 1 || s.name === ARMS.ticket);
    fit(ui.acc);
    fit(ui.iter);
    drawSeries(ui.acc, 'weights left (%, log scale)', 'test accuracy at early stop (%)', byArm((r) => 100 * r.test_acc_at_early_stop), true, new Float64Array(0), dark);
    drawSeries(ui.iter, 'weights left (%, log scale)', 'early-stopping iteration', byArm((r) => r.early_stop_iter), true, new Float64Array(0), dark);
    fit(ui.instChart);
    if (instability) {
      const c = instability.curve;
      drawSeries(ui.instChart, 'α (0: copy 1, 1: copy 2)', 'test error (%)',
        [{ name: 'test error', x: c.map((p) => p.alpha), y: c.map((p) => 100 * p.test_error) }], false, new Float64Array(0), dark);
    } else {
      drawMessage(ui.instChart, 'Press “Measure instability”: the error along the path between the two copies appears here.');
    }
  }

  function addResult(r) {
    results.push(r);
    ui.csv.disabled = false;
    ui.json.disabled = false;
    const row = ui.table.insertRow();
    for (const text of [String(r.round), ARMS[r.arm] ?? r.arm, `${r.weights_remaining.toFixed(2)}%`,
      r.early_stop_iter.toLocaleString(), `${(100 * r.test_acc_at_early_stop).toFixed(2)}%`, `${(100 * r.final_test_acc).toFixed(2)}%`]) {
      row.insertCell().textContent = text;
    }
    if (r.arm === 'ticket') {
      const item = document.createElement('li');
      const canvas = document.createElement('canvas');
      canvas.className = 'pixels';
      const mask = r.first_layer_mask;
      canvas.setAttribute('role', 'img');
      canvas.setAttribute('aria-label', `round ${r.round}: share of the ${mask.outputs} first-layer units that keep each pixel`);
      drawPixelMap(canvas, Float32Array.from(mask.kept_per_input, (k) => k / mask.outputs), { range: [0, 1] });
      const caption = document.createElement('p');
      caption.textContent = `round ${r.round}: ${r.weights_remaining.toFixed(1)}%`;
      item.append(canvas, caption);
      ui.masks.append(item);
    }
  }

  function status(text, fraction = null) {
    ui.status.textContent = text;
    if (fraction === null) ui.progress.removeAttribute('value');
    else ui.progress.value = fraction;
  }

  function onProgress(kind, p) {
    const engine = p.backend === 'webgpu' ? 'WebGPU' : 'the CPU';
    if (p.fellBack) ui.note.textContent = `The GPU failed (${p.fellBack}); the run in progress restarted on the CPU.`;
    if (kind === 'instability') {
      status(`Instability: ${p.stage}, iteration ${p.iter.toLocaleString()}${p.alphas_done ? `, ${p.alphas_done} points on the line` : ''} (${engine})`, p.fraction);
      if (p.done && p.result) {
        instability = p.result;
        ui.instCsv.disabled = false;
        ui.instJson.disabled = false;
        ui.instCaption.textContent = `From θ at iteration ${p.result.rewind_iter} of a network with ${p.result.weights_remaining.toFixed(1)}% of its weights: test error ${(100 * p.result.curve[0].test_error).toFixed(2)}% and ${(100 * p.result.curve.at(-1).test_error).toFixed(2)}% at the ends, barrier ${(100 * p.result.barrier).toFixed(2)} points`
          + (p.result.barrier < 0.02 ? ' (under 2 points: stable).' : ' (2 points or more: unstable).');
        ui.instCaption.dataset.barrier = String(p.result.barrier);
        draw();
      }
    } else {
      for (const r of p.finished) addResult(r);
      if (p.finished.length) draw();
      const latest = p.latest ? `, validation accuracy ${(100 * p.latest.val_acc).toFixed(2)}%` : '';
      status(`Round ${p.round}, ${ARMS[p.arm] ?? p.arm} (${p.weights_remaining.toFixed(1)}% left): iteration ${p.iter.toLocaleString()}${latest}. ${results.length} runs done (${engine}).`, p.fraction);
    }
    if (p.done) {
      setRunning(null);
      status(kind === 'instability' ? 'Instability measured.' : `Done: ${results.length} runs.`, 1);
      ui.status.dataset.done = kind;
    }
  }

  // The experiment in progress (its request handle), for Cancel.
  let lab = null;

  /** Runs a lottery experiment or an instability analysis in the worker's lab. */
  function start(kind, labRequest) {
    lab = client.request('lab', { kind, request: labRequest }, {
      event(event, m) {
        if (event === 'started') ran[kind] = { arch: m.started.arch, settings: m.started.settings };
        if (event === 'started') status(`Running on ${m.started.backend === 'webgpu' ? 'WebGPU' : 'the CPU'} (${m.started.why})…`, 0);
        else onProgress(kind, m.progress);
      },
      // The last progress event has already drawn the finished experiment.
      result() {
        lab = null;
      },
      cancelled() {
        lab = null;
        setRunning(null);
        status(`Cancelled; the ${results.length} finished runs stay on the charts.`, 0);
      },
      error(message) {
        lab = null;
        setRunning(null);
        status(`Stopped: ${message}`, 0);
      },
    });
  }

  ui.form.addEventListener('submit', (event) => {
    event.preventDefault();
    results = [];
    ui.csv.disabled = true;
    ui.json.disabled = true;
    ui.table.replaceChildren();
    ui.masks.replaceChildren();
    delete ui.status.dataset.done;
    draw();
    setRunning('lottery');
    status('Starting…');
    start('lottery', request());
  });
  ui.instForm.addEventListener('submit', (event) => {
    event.preventDefault();
    instability = null;
    ui.instCsv.disabled = true;
    ui.instJson.disabled = true;
    delete ui.status.dataset.done;
    setRunning('instability');
    status('Starting the instability analysis…');
    start('instability', { ...request(), rounds: undefined, controls: undefined, weightsRemaining: Number($('inst-remaining').value) });
  });
  ui.cancel.addEventListener('click', () => lab?.cancel());
  ui.paper.addEventListener('click', () => {
    // Boxes first: the change events below then write the whole protocol into the link.
    for (const box of $('lt-controls').querySelectorAll('input')) box.checked = true;
    for (const [id, value] of Object.entries(PAPER)) {
      $(id).value = String(value);
      $(id).dispatchEvent(new Event('change', { bubbles: true }));
    }
  });
  // ---- The runs and the curve as CSV and JSON (the core's numbers and settings) ----
  const RUN_COLUMNS = [
    ['round', (r) => r.round],
    ['run', (r) => r.arm],
    ['weights_remaining_percent', (r) => r.weights_remaining],
    ['early_stop_iteration', (r) => r.early_stop_iter],
    ['test_accuracy_at_early_stop', (r) => r.test_acc_at_early_stop],
    ['final_test_accuracy', (r) => r.final_test_acc],
  ];
  // Each run's own curves and the first-layer mask stay in the JSON only.
  ui.csv.addEventListener('click', () => saveCsv('pruneplay-lottery.csv', RUN_COLUMNS, results));
  ui.json.addEventListener('click', () => saveJson('pruneplay-lottery.json', { table: 'lottery', ...ran.lottery, results }));
  ui.instCsv.addEventListener('click', () => saveCsv('pruneplay-instability.csv',
    [['alpha', (p) => p.alpha], ['test_error', (p) => p.test_error]], instability?.curve ?? []));
  ui.instJson.addEventListener('click', () => saveJson('pruneplay-instability.json', { table: 'instability', ...ran.instability, result: instability }));

  ui.form.addEventListener('change', describeSettings);
  describeSettings();
  draw();

  return {
    redraw: draw,
    /** The model to prune changed: the lab trains its shape when it is an MLP, LeNet's beside the ViT. */
    setModel(m) {
      const mlp = m.kind !== 'vit';
      arch = mlp ? m.arch : null;
      const own = m.source === 'opened' || m.source === 'masks' || m.arch !== '784-300-100-10';
      shapeNote = mlp && own
        ? `The lab trains the shape of the model to prune, ${m.arch}, from a fresh θ₀ drawn from the seed below; its trained weights are not used, since every ticket starts from initial values.`
        : '';
      describeSettings();
    },
    ready() {
      ready = true;
      setRunning(running);
      if (!running) status('Press Run rounds to start.', 0);
    },
  };
}
