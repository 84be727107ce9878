// The "Compare methods" card: "Run all" sweeps the chosen methods over the chosen levels in the
// worker, one point per event, and overlays their accuracy curves. Three things can be
// removed, each with its own x axis: weights (or neurons) against the share of weights left on a
// log scale, attention heads against the share of heads removed (eighths of all heads, ranked
// globally), whole blocks against the number removed (1 … depth − 1). Every curve starts at
// the unpruned model. Points are one-shot; with "Healing" on, each pruned model is also fine-tuned
// (the walk-through's number of steps) and tested again, drawn as a second, dashed curve.

import { fitCanvas } from './charts.js';
import { saveCsv, saveJson } from './downloads.js';
import {
  COMPARED_WHEN_PICKED, applies, familyOf, parseLevels, setCoreMethods, shortName,
} from './methods.js';

const $ = (id) => document.getElementById(id);

// The head sweep's levels: 1/8 … 7/8 of all heads (16 on the shipped ViT: 2, 4, … 14 heads).
const HEAD_LEVELS = [1, 2, 3, 4, 5, 6, 7].map((k) => k / 8);

const AXES = {
  weights: { x: 'weights left (%, log scale)', log: true, level: 'Sparsity', left: 'Weights left' },
  heads: { x: 'attention heads removed (%)', log: false, level: 'Heads asked', left: 'Heads kept' },
  layers: { x: 'blocks removed', log: false, level: 'Blocks asked', left: 'Blocks kept' },
};

/** The family a method belongs to in this card: neurons are plotted with weights. */
const cardFamily = (id) => (familyOf(id) === 'neurons' ? 'weights' : familyOf(id));

export function createCompare(client, { drawSeries, isDark, settings }) {
  const ui = {
    form: $('sweep-form'),
    run: $('run-all'),
    cancel: $('sweep-cancel'),
    family: $('compare-family'),
    familyNote: $('compare-family-note'),
    levels: $('levels'),
    heal: $('compare-heal'),
    levelsField: $('levels-field'),
    methods: $('compare'),
    progress: $('sweep-progress'),
    status: $('sweep-status'),
    chart: $('sweep-chart'),
    caption: $('sweep-caption'),
    levelHead: $('sweep-level-head'),
    leftHead: $('sweep-left-head'),
    table: $('sweep-table').tBodies[0],
    csv: $('sweep-csv'),
    json: $('sweep-json'),
  };
  let points = [];
  let dense = null; // test accuracy of the unpruned model, the curves' common start
  let running = false;
  let model = { kind: 'mlp', depth: 0 };
  // The model and settings the points on show were made with, for the JSON download.
  let loadedModel = null;
  let run = null;
  let drawn = 'weights'; // the family of the points on show

  function setRunning(on) {
    running = on;
    ui.run.disabled = on;
    ui.cancel.disabled = !on;
  }

  /** Where a point sits on the card's x axis, from the core's counts. */
  function xOf(p) {
    if (drawn === 'heads') return 100 * (p.structure?.headsRemovedFraction ?? NaN);
    if (drawn === 'layers') return p.structure?.removedBlocks.length ?? NaN;
    return 100 * p.weightsRemaining;
  }

  function draw() {
    const start = drawn === 'weights' ? 100 : 0;
    // One curve per method and per kind of point (one-shot, healed); a healed curve takes its
    // method's colour, dashed.
    const methods = [...new Set(points.map((p) => p.method))];
    const curves = new Map();
    for (const p of points) {
      const key = `${p.method} ${p.healedSteps > 0}`;
      if (!curves.has(key)) {
        curves.set(key, {
          name: p.healedSteps > 0 ? `${shortName(p.method)}, healed` : shortName(p.method),
          colour: methods.indexOf(p.method),
          dashed: p.healedSteps > 0,
          pts: dense == null ? [] : [{ x: start, y: 100 * dense }],
        });
      }
      curves.get(key).pts.push({ x: xOf(p), y: 100 * p.accuracy });
    }
    const series = [...curves.values()].map(({ pts, ...curve }) => ({
      ...curve,
      x: pts.map((p) => p.x),
      y: pts.map((p) => p.y),
    }));
    fitCanvas(ui.chart, 260, 0.45);
    const axis = AXES[drawn];
    try {
      drawSeries(ui.chart, axis.x, 'test accuracy (%)', series, axis.log, new Float64Array(0), isDark());
    } catch (e) {
      ui.status.textContent = `Could not draw the chart: ${e.message ?? e}`;
    }
  }

  function addRow(p) {
    const row = ui.table.insertRow();
    const c = p.structure;
    const level = drawn === 'layers' ? String(p.remove) : p.sparsity.toFixed(drawn === 'heads' ? 3 : 2);
    const left = drawn === 'heads' ? `${c.headsKept} of ${c.headsTotal}`
      : drawn === 'layers' ? `${c.blocksKept} of ${c.blocks}` : `${(100 * p.weightsRemaining).toFixed(2)}%`;
    const tuning = p.healedSteps > 0 ? `${p.healedSteps} steps` : 'none';
    for (const text of [shortName(p.method), level, left, `${(100 * p.accuracy).toFixed(2)}%`, tuning]) {
      row.insertCell().textContent = text;
    }
  }

  /** Shows the methods, levels and wording of the family picked, as the model allows. */
  function syncFamily() {
    const vit = model.kind === 'vit';
    for (const option of ui.family.options) option.disabled = option.value !== 'weights' && !vit;
    if (ui.family.selectedOptions[0]?.disabled) ui.family.value = 'weights';
    const family = ui.family.value;
    for (const label of ui.methods.querySelectorAll('label')) {
      const id = label.querySelector('input').value;
      label.hidden = cardFamily(id) !== family;
      label.querySelector('input').disabled = !applies(id);
    }
    ui.levelsField.hidden = family !== 'weights';
    ui.familyNote.textContent = vit
      ? {
        weights: 'one-shot, each at the sparsities below',
        heads: 'one-shot at 1/8 … 7/8 of all heads, ranked across the whole model',
        layers: `one-shot, removing 1 to ${model.depth - 1} of the ${model.depth} blocks`,
      }[family]
      : 'heads and blocks need the tiny ViT as the model to prune';
  }

  ui.family.addEventListener('change', () => {
    const family = ui.family.value;
    const boxes = Array.from(ui.methods.querySelectorAll('input')).filter((b) => cardFamily(b.value) === family);
    if (!boxes.some((b) => b.checked)) {
      for (const b of boxes) b.checked = COMPARED_WHEN_PICKED.has(b.value);
      // The address bar follows the boxes (state.js listens on the fieldset).
      ui.methods.dispatchEvent(new Event('change'));
    }
    syncFamily();
  });

  ui.form.addEventListener('submit', (event) => {
    event.preventDefault();
    const family = ui.family.value;
    const parsed = family === 'weights' ? parseLevels(ui.levels.value)
      : family === 'heads' ? { levels: HEAD_LEVELS }
        : { levels: Array.from({ length: Math.max(0, model.depth - 1) }, (_, i) => i + 1) };
    const methods = Array.from(ui.methods.querySelectorAll('input:checked'), (c) => c.value)
      .filter((id) => cardFamily(id) === family && applies(id));
    if (parsed.error || !methods.length || !parsed.levels.length) {
      ui.status.textContent = parsed.error ?? 'Tick at least one method.';
      return;
    }
    points = [];
    drawn = family;
    ui.levelHead.textContent = AXES[family].level;
    ui.leftHead.textContent = AXES[family].left;
    const heal = ui.heal.value === 'healed';
    const tuned = heal ? 'one-shot, and healed (dashed)' : 'no fine-tuning';
    ui.caption.textContent = {
      weights: `Test accuracy of the pruned network (${tuned}) against the share of weights left.`,
      heads: `Test accuracy of the ViT (${tuned}) against the share of its attention heads removed.`,
      layers: `Test accuracy of the ViT (${tuned}) against the number of blocks removed.`,
    }[family];
    ui.table.replaceChildren();
    ui.status.classList.remove('error-text');
    delete ui.status.dataset.done;
    draw();
    setRunning(true);
    ui.progress.max = methods.length * parsed.levels.length;
    ui.progress.value = 0;
    ui.status.textContent = heal ? 'Pruning and healing…' : 'Pruning…';
    // Heads compete across the whole model, so the levels are shares of all heads.
    const extra = family === 'weights' ? {} : { scope: 'global', rounds: 1 };
    run = {
      model: loadedModel,
      settings: {
        family, methods, levels: parsed.levels, healing: heal, ...settings(), ...extra,
        // How a healed point is fine-tuned, the seed included (the core's settings).
        finetune: null,
      },
    };
    if (heal) client.call('heal-settings').then((f) => { if (run) run.settings.finetune = f; }, () => {});
    ui.csv.disabled = true;
    ui.json.disabled = true;
    let done = 0;
    const total = methods.length * parsed.levels.length;
    sweep = client.request('sweep', {
      methods, levels: parsed.levels, settings: { ...settings(), ...extra }, axis: family === 'layers' ? 'remove' : 'sparsity', heal,
    }, {
      event(event, m) {
        if (event === 'healing') {
          const p = points.at(-1);
          ui.status.textContent = `${done + 1} of ${total}: healing ${shortName(p.method)}, step ${m.step} of ${m.total}`;
          ui.progress.value = done + m.step / m.total;
          return;
        }
        done = m.done;
        points.push(m.point);
        ui.csv.disabled = false;
        ui.json.disabled = false;
        addRow(m.point);
        ui.progress.value = m.done;
        const at = drawn === 'layers' ? `${m.point.remove} block(s)` : m.point.sparsity;
        const healed = m.point.healedSteps > 0 ? ', healed' : '';
        ui.status.textContent = `${m.done} of ${m.total}: ${shortName(m.point.method)}${healed} at ${at}, ${(100 * m.point.accuracy).toFixed(2)}%`;
        draw();
      },
      result() {
        sweep = null;
        setRunning(false);
        ui.status.textContent = heal
          ? `Done: ${total} pruned networks tested on 10,000 images each, before and after fine-tuning.`
          : `Done: ${total} pruned networks tested on 10,000 images each.`;
        ui.status.dataset.done = String(total);
      },
      cancelled() {
        sweep = null;
        setRunning(false);
        ui.status.textContent = `Cancelled after ${done} of ${total}.`;
      },
      error(message) {
        sweep = null;
        setRunning(false);
        ui.status.textContent = `Stopped after ${done} of ${total}: ${message}`;
        ui.status.classList.add('error-text');
      },
    });
  });
  // The sweep in progress (its request handle), for Cancel.
  let sweep = null;

  // ---- The points as CSV and JSON (the core's numbers, unrounded) ----
  const COLUMNS = [
    ['method', (p) => p.method],
    ['sparsity', (p) => p.sparsity],
    ['blocks_asked', (p) => p.remove],
    ['weights_remaining', (p) => p.weightsRemaining],
    ['test_accuracy', (p) => p.accuracy],
    ['finetune_steps', (p) => p.healedSteps],
    ['heads_kept', (p) => p.structure?.headsKept],
    ['heads_total', (p) => p.structure?.headsTotal],
    ['blocks_kept', (p) => p.structure?.blocksKept],
  ];
  ui.csv.addEventListener('click', () => saveCsv('pruneplay-compare.csv', COLUMNS, points));
  ui.json.addEventListener('click', () => saveJson('pruneplay-compare.json', {
    table: 'compare', ...run, denseTestAccuracy: dense, points,
  }));
  ui.cancel.addEventListener('click', () => sweep?.cancel());
  syncFamily();

  return {
    redraw: draw,
    /** A model is loaded: sweeps can run; its test accuracy (if known) starts every curve. */
    ready(loaded) {
      dense = loaded.testAcc ?? null;
      loadedModel = {
        source: loaded.source, name: loaded.name ?? loaded.which ?? null, arch: loaded.arch, layout: loaded.layout,
      };
      setCoreMethods(loaded.methods);
      model = { kind: loaded.kind ?? 'mlp', depth: loaded.headsPerBlock?.length ?? 0 };
      syncFamily();
      if (!running) ui.run.disabled = false;
      ui.status.textContent = 'Pick methods and levels, then press Run all.';
    },
  };
}
