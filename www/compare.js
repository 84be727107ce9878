// The "Compare methods" card: "Run all" sweeps the chosen methods over the chosen sparsities in
// the worker, one point per message, and overlays their accuracy-vs-weights-left curves.

import { fitCanvas } from './charts.js';
import { parseLevels, shortName } from './methods.js';

const $ = (id) => document.getElementById(id);

export function createCompare(worker, { drawSeries, isDark, settings }) {
  const ui = {
    form: $('sweep-form'),
    run: $('run-all'),
    cancel: $('sweep-cancel'),
    levels: $('levels'),
    methods: $('compare'),
    progress: $('sweep-progress'),
    status: $('sweep-status'),
    chart: $('sweep-chart'),
    table: $('sweep-table').tBodies[0],
  };
  let points = [];
  let dense = null; // test accuracy of the unpruned model, the curves' common start
  let running = false;

  function setRunning(on) {
    running = on;
    ui.run.disabled = on;
    ui.cancel.disabled = !on;
  }

  function draw() {
    const byMethod = new Map();
    for (const p of points) {
      if (!byMethod.has(p.method)) byMethod.set(p.method, dense == null ? [] : [{ x: 100, y: 100 * dense }]);
      byMethod.get(p.method).push({ x: 100 * p.weightsRemaining, y: 100 * p.accuracy });
    }
    const series = [...byMethod].map(([method, pts]) => ({
      name: shortName(method),
      x: pts.map((p) => p.x),
      y: pts.map((p) => p.y),
    }));
    fitCanvas(ui.chart, 260, 0.45);
    try {
      drawSeries(ui.chart, 'weights left (%, log scale)', 'test accuracy (%)', series, true, new Float64Array(0), isDark());
    } catch (e) {
      ui.status.textContent = `Could not draw the chart: ${e.message ?? e}`;
    }
  }

  function addRow(p) {
    const row = ui.table.insertRow();
    for (const text of [shortName(p.method), p.sparsity.toFixed(2),
      `${(100 * p.weightsRemaining).toFixed(2)}%`, `${(100 * p.accuracy).toFixed(2)}%`]) {
      row.insertCell().textContent = text;
    }
  }

  ui.form.addEventListener('submit', (event) => {
    event.preventDefault();
    const parsed = parseLevels(ui.levels.value);
    const methods = Array.from(ui.methods.querySelectorAll('input:checked'), (c) => c.value);
    if (parsed.error || !methods.length) {
      ui.status.textContent = parsed.error ?? 'Tick at least one method.';
      return;
    }
    points = [];
    ui.table.replaceChildren();
    ui.status.classList.remove('error-text');
    delete ui.status.dataset.done;
    draw();
    setRunning(true);
    ui.progress.max = methods.length * parsed.levels.length;
    ui.progress.value = 0;
    ui.status.textContent = 'Pruning…';
    worker.postMessage({ type: 'sweep', methods, levels: parsed.levels, settings: settings() });
  });
  ui.cancel.addEventListener('click', () => worker.postMessage({ type: 'sweep-cancel' }));

  return {
    redraw: draw,
    /** A model is loaded: sweeps can run; `testAcc` (if known) starts every curve at 100%. */
    ready(testAcc) {
      dense = testAcc;
      if (!running) ui.run.disabled = false;
      ui.status.textContent = 'Pick methods and sparsities, then press Run all.';
    },
    onMessage(m) {
      switch (m.type) {
        case 'sweep-point':
          points.push(m.point);
          addRow(m.point);
          ui.progress.value = m.done;
          ui.status.textContent = `${m.done} of ${m.total}: ${shortName(m.point.method)} at ${m.point.sparsity}, ${(100 * m.point.accuracy).toFixed(2)}%`;
          draw();
          return true;
        case 'sweep-done':
          setRunning(false);
          ui.status.textContent = `Done: ${m.total} pruned networks tested on 10,000 images each.`;
          ui.status.dataset.done = String(m.total);
          return true;
        case 'sweep-cancelled':
          setRunning(false);
          ui.status.textContent = `Cancelled after ${m.done} of ${m.total}.`;
          return true;
        case 'sweep-error':
          setRunning(false);
          ui.status.textContent = `Stopped after ${m.done} of ${m.total}: ${m.message}`;
          ui.status.classList.add('error-text');
          return true;
        default:
          return false;
      }
    },
  };
}
