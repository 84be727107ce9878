// The "Prune it, step by step" card: the controls, the four stages and the pictures each stage
// feeds. The work happens in the worker; this module sends requests and draws what comes back.

import {
  drawConfusion, drawDigits, drawFields, drawHeatmap, drawMessage, drawPixelMap, pct,
} from './views.js';
import { CALIBRATED, METHODS, NM_METHODS } from './methods.js';

const $ = (id) => document.getElementById(id);
const STAGES = ['scores', 'select', 'apply', 'finetune'];
// What the left pixel map shows, by the kind the worker reports.
const INPUT_MAP = {
  'input-norm': {
    log: false,
    caption: (lo, hi) => `Wanda's ‖X_j‖: how strongly each pixel is lit across the calibration images (${lo.toFixed(2)} to ${hi.toFixed(2)}). `
      + 'A weight on a dark pixel scores 0 whatever its size, so the border goes first.',
  },
  'hinv-diag': {
    log: true,
    caption: (lo, hi) => `SparseGPT's diag(H⁻¹), log scale (${lo.toExponential(1)} to ${hi.toExponential(1)}): large where the data barely pins a pixel down. `
      + 'Its score w² / [H⁻¹]ᵢᵢ is smallest there, so those weights cost least to remove.',
  },
  'mean-score': {
    log: false,
    caption: (lo, hi) => `The mean importance score of each pixel's 300 weights (${lo.toPrecision(2)} to ${hi.toPrecision(2)}): bright pixels matter most to this method.`,
  },
};

export function createPrunePanel(worker, { drawHistogram, isDark }) {
  const ui = {
    form: $('prune-form'),
    step: $('step'),
    reset: $('prune-reset'),
    method: $('method'),
    sparsity: $('sparsity'),
    pattern: $('pattern'),
    outputRate: $('output-rate'),
    calibration: $('calibration'),
    modelInfo: $('model-info'),
    model: $('prune-model'),
    modelNote: $('model-note'),
    useTrained: $('use-trained'),
    fieldsCaption: $('fields-caption'),
    pixelsTab: $('pixels-tab'),
    stages: $('stages'),
    text: $('stage-text'),
    histogram: $('hist-chart'),
    fields: $('fields'),
    fieldsFigure: $('fields').closest('figure'),
    progressRow: $('prune-progress-row'),
    progress: $('prune-progress'),
    cancel: $('prune-cancel'),
    views: $('view'),
    heatLayer: $('heat-layer'),
    heatmap: $('heatmap'),
    inputMap: $('input-map'),
    inputCaption: $('input-map-caption'),
    keptMap: $('kept-map'),
    confusion: $('confusion'),
    digits: $('digits'),
    cost: $('cost').tBodies[0],
    timeMeter: $('time-meter'),
    meterTiming: $('meter-timing'),
  };
  const state = {
    next: 0,
    threshold: NaN,
    histogram: null,
    fields: null,
    layers: [], // [{name, rows, cols}] of the model on show
    kind: 'mlp', // 'mlp' or 'vit'
    methods: null, // the methods that apply to the model on show (null: all)
    heat: null, // {layer, values}
    maps: null,
    apply: null, // the last report with a confusion matrix and digits
  };

  const request = (stage) => ({
    method: ui.method.value,
    sparsity: Number(ui.sparsity.value),
    pattern: ui.pattern.value,
    outputRate: Number(ui.outputRate.value),
    calibration: Number(ui.calibration.value),
    stage,
  });

  function showPruneError(message) {
    ui.text.textContent = message;
    ui.text.classList.add('error-text');
  }

  function markStage(index) {
    for (const li of ui.stages.children) {
      const i = STAGES.indexOf(li.dataset.stage);
      li.classList.toggle('done', i < index);
      li.classList.toggle('current', i === index);
    }
  }

  function drawScoreHistogram() {
    const h = state.histogram;
    if (!h) {
      drawMessage(ui.histogram, 'Press Step: the scores stage draws their histogram here.');
      return;
    }
    try {
      drawHistogram(ui.histogram, h.perNeuron ? 'score (per neuron)' : 'score (per weight)',
        Float64Array.from(h.counts), h.range[0], h.range[1], state.threshold, isDark());
    } catch (e) {
      showPruneError(`Could not draw the histogram: ${e.message ?? e}`);
    }
  }

  function describeStage(r) {
    switch (r.stage) {
      case 'scores':
        return `1. Every ${r.perNeuron ? 'hidden neuron' : 'weight'} gets an importance score: ${METHODS[r.method].rule}. `
          + 'The histogram shows the first layer: most scores are small, and those are the candidates for removal.';
      case 'select': {
        const layers = r.layers.map((l) => `${l.name} keeps ${l.remaining.toLocaleString()} of ${l.weights.toLocaleString()}`).join(', ');
        const t = r.thresholds?.[0];
        return `2. The method keeps the highest scores and masks the rest: ${pct(r.weightsRemaining)} of the weights remain (${layers}). `
          + (t != null ? `In the first layer everything scoring at or below ${t.toPrecision(3)} (the orange line) goes. ` : '')
          + (state.kind === 'vit'
            ? 'Grey pixels in the pictures are pruned weights: the patch filters lose their weakest taps.'
            : 'Grey pixels in the pictures are pruned weights: see how the border of the image, which is always blank, goes first.');
      }
      case 'apply':
        return `3. With the pruned weights set to zero the network reads the 10,000 test images again: accuracy goes from ${pct(r.accuracyBefore)} to ${pct(r.accuracyAfter)}. `
          + 'The confusion matrix and the test digits under "Look closer" show which answers changed.';
      case 'finetune':
        return `4. The surviving weights train for ${r.finetuneSteps} more steps while the mask holds the pruned ones at exactly zero: accuracy recovers from ${pct(r.accuracyBefore)} to ${pct(r.accuracyAfter)}, with ${pct(r.weightsRemaining)} of the weights.`;
      default:
        return '';
    }
  }

  function drawMaps() {
    const maps = state.maps;
    const input = maps?.input;
    if (input) {
      const spec = INPUT_MAP[input.kind];
      const [lo, hi] = drawPixelMap(ui.inputMap, input.values, { log: spec.log });
      ui.inputCaption.textContent = spec.caption(lo, hi);
    } else {
      ui.inputMap.getContext('2d').clearRect(0, 0, 28, 28);
      ui.inputCaption.textContent = maps
        ? 'This method scores whole neurons, not single weights, so it has no per-pixel score.'
        : 'Press Step: the scores stage fills this in.';
    }
    if (maps?.kept) drawPixelMap(ui.keptMap, maps.kept, { range: [0, 1] });
    else ui.keptMap.getContext('2d').clearRect(0, 0, 28, 28);
  }

  function drawHeat() {
    if (state.heat) {
      const { rows, cols } = state.layers[state.heat.layer];
      drawHeatmap(ui.heatmap, state.heat.values, rows, cols);
    }
  }

  const heatLayer = () => Number(ui.heatLayer.value);

  function requestHeat() {
    if (state.layers.length) worker.postMessage({ type: 'layer-weights', layer: heatLayer() });
  }

  function drawApply() {
    if (!state.apply) return;
    drawConfusion(ui.confusion, state.apply.confusion);
    drawDigits(ui.digits, state.apply.digits);
  }

  const thousands = (n) => n.toLocaleString('en-US');
  const kb = (n) => `${(n / 1000).toLocaleString('en-US', { maximumFractionDigits: 1 })} kB`;

  /** The cost meter's rows: dense, pruned and compacted counts side by side. */
  function showMeter(m) {
    const rows = [
      ['Shape', '', '', m.compactedArch],
      ['Parameters', ...[m.dense, m.pruned, m.compacted].map((c) => thousands(c.parameters))],
      ['Nonzero weights', ...[m.dense, m.pruned, m.compacted].map((c) => thousands(c.nonzero_weights))],
      ['Neurons removed', ...[m.dense, m.pruned, m.compacted].map((c) => thousands(c.neurons_removed))],
      ['FLOPs, dense kernel', ...[m.dense, m.pruned, m.compacted].map((c) => thousands(c.dense_flops))],
      ['FLOPs, only nonzeros', ...[m.dense, m.pruned, m.compacted].map((c) => thousands(c.sparse_flops))],
      ['Bytes, dense f32', ...[m.dense, m.pruned, m.compacted].map((c) => kb(c.bytes_dense))],
      ['Bytes, CSR', ...[m.dense, m.pruned, m.compacted].map((c) => kb(c.bytes_csr))],
      ['Bytes, 2:4 packed', ...[m.dense, m.pruned, m.compacted].map((c) => (c.bytes_2_4 == null ? 'not 2:4' : kb(c.bytes_2_4)))],
    ];
    rows[0][1] = state.layers.length ? [state.layers[0].cols, ...state.layers.map((l) => l.rows)].join('-') : '';
    rows[0][2] = rows[0][1];
    ui.cost.replaceChildren(...rows.map((cells) => {
      const tr = document.createElement('tr');
      cells.forEach((text, i) => {
        const cell = document.createElement(i === 0 ? 'th' : 'td');
        if (i === 0) cell.scope = 'row';
        cell.textContent = text;
        tr.append(cell);
      });
      return tr;
    }));
    ui.timeMeter.disabled = false;
  }

  function showTiming(t) {
    const ms = Object.fromEntries(t.variants.map((v) => [v.name, v.ms]));
    const engine = t.backend === 'webgpu' ? `WebGPU${t.software ? ', a software renderer' : ''}` : 'the CPU (WebAssembly)';
    ui.meterTiming.textContent = `On ${engine}, ${t.batch.toLocaleString('en-US')} images: dense ${ms.dense.toFixed(2)} ms, `
      + `pruned ${ms.masked.toFixed(2)} ms, compacted ${ms.compacted.toFixed(2)} ms (median of ${t.reps}).`;
    ui.meterTiming.dataset.done = 'true';
  }

  /** The first layer as pictures: 28×28 receptive fields for an MLP, the ViT's 7×7 filters. */
  function drawFirstLayer(values) {
    drawFields(ui.fields, values, state.kind === 'vit' ? 7 : 28);
  }

  function redraw() {
    drawScoreHistogram();
    if (state.fields) drawFirstLayer(state.fields);
    drawHeat();
    drawMaps();
    drawApply();
  }

  function showView(view) {
    for (const panel of document.querySelectorAll('.view')) panel.hidden = panel.dataset.view !== view;
  }

  function onStage(report, fields, maps) {
    ui.text.classList.remove('error-text');
    ui.progressRow.hidden = true;
    if (report.stage === 'scores') {
      state.histogram = { counts: report.histogram, range: report.range, perNeuron: report.perNeuron };
      state.threshold = NaN;
      state.apply = null;
    }
    if (report.stage === 'select') state.threshold = report.thresholds?.[0] ?? NaN;
    if (report.confusion) state.apply = report;
    if (maps) state.maps = maps;
    // Fields come with the stages that change the weights (all but 'apply'). They are the first
    // layer's weights, so a heatmap of layer 0 needs no second fetch; other layers do.
    if (fields) {
      state.fields = fields;
      if (state.layers.length && heatLayer() === 0) state.heat = { layer: 0, values: fields };
    }
    redraw();
    if (fields && heatLayer() !== 0) requestHeat();
    // The cost meter counts an MLP's neurons; the ViT has a line saying so instead.
    if ((report.stage === 'select' || report.stage === 'finetune') && state.kind !== 'vit') worker.postMessage({ type: 'cost-meter' });
    ui.text.textContent = describeStage(report);
    ui.text.dataset.stage = report.stage;
    const index = STAGES.indexOf(report.stage);
    state.next = index + 1;
    markStage(index);
    ui.step.disabled = false;
    ui.reset.disabled = false;
    ui.step.textContent = state.next < STAGES.length ? 'Step' : 'Again';
  }

  function startOver() {
    state.next = 0;
    markStage(-1);
    ui.text.textContent = 'Press Step to compute the importance scores.';
    ui.text.classList.remove('error-text');
    delete ui.text.dataset.stage;
    ui.step.textContent = 'Step';
  }

  /** N:M only for the methods that have it; the pattern then fixes the sparsity. */
  function syncControls() {
    if (ui.method.selectedOptions[0]?.disabled) ui.method.value = 'magnitude';
    const nm = NM_METHODS.has(ui.method.value);
    if (!nm) ui.pattern.value = '';
    ui.pattern.disabled = !nm;
    ui.sparsity.disabled = ui.pattern.value !== '';
    ui.calibration.disabled = !CALIBRATED.has(ui.method.value);
  }

  /** Adapts the card to the model just loaded (the worker's 'model' message). */
  function setModel(m) {
    state.kind = m.kind ?? 'mlp';
    state.methods = m.methods ? new Set(m.methods) : null;
    state.layers = m.layers ?? [];
    ui.heatLayer.replaceChildren(...state.layers.map(({ name, rows, cols }, i) => {
      const option = document.createElement('option');
      option.value = String(i);
      option.textContent = `Layer ${i + 1} (${name}): ${cols} inputs → ${rows} units`;
      return option;
    }));
    // Methods the model has no units for are offered but greyed, with the reason below.
    for (const option of ui.method.options) option.disabled = Boolean(state.methods) && !state.methods.has(option.value);
    const vit = state.kind === 'vit';
    ui.modelNote.hidden = !vit;
    ui.modelNote.textContent = vit
      ? 'The whole-neuron methods are off for the ViT: they remove an MLP\'s hidden neurons. '
        + 'The cost meter, the practice questions, the method comparison and the lottery lab run on LeNet-300-100 and MLPs.'
      : '';
    ui.fieldsCaption.textContent = vit
      ? 'The patch embedding: each of its filters reads a 7×7 patch. Orange positive, blue negative, grey pruned'
      : 'Each hidden unit\'s 784 incoming weights as a 28×28 picture: orange positive, blue negative, grey pruned';
    // A ViT's first layer reads patches, not pixels: the 28×28 maps would mean nothing.
    ui.pixelsTab.hidden = vit;
    const checked = ui.views.querySelector('input:checked');
    if (vit && checked?.value === 'pixels') {
      ui.views.querySelector('input[value="heatmap"]').checked = true;
      showView('heatmap');
    }
    ui.timeMeter.disabled = true;
    const cell = document.createElement('td');
    cell.colSpan = 4;
    cell.textContent = vit
      ? 'The cost meter runs on LeNet-300-100 and MLPs, not on the ViT.'
      : 'Press Step through the threshold stage to fill this in.';
    const row = document.createElement('tr');
    row.append(cell);
    ui.cost.replaceChildren(row);
    state.heat = null;
    state.fields = null;
    syncControls();
    requestHeat();
  }

  /** What the model line says about the model on show. */
  function describeModel(m) {
    if (m.source === 'trained') return `the model you trained above (${m.kind === 'vit' ? 'the tiny ViT' : m.arch})`;
    return m.kind === 'vit'
      ? `the tiny ViT trained when the site was built, ${pct(m.testAcc)} test accuracy`
      : `LeNet-300-100 trained for two epochs when the site was built, ${pct(m.testAcc)} test accuracy`;
  }

  ui.form.addEventListener('submit', (event) => {
    event.preventDefault();
    const stage = STAGES[state.next % STAGES.length];
    ui.step.disabled = true;
    ui.text.classList.remove('error-text');
    ui.text.textContent = stage === 'finetune' ? 'Fine-tuning…' : 'Working…';
    if (stage === 'finetune') {
      ui.progress.value = 0;
      ui.progressRow.hidden = false;
    }
    worker.postMessage({ type: 'prune-step', request: request(stage) });
  });
  ui.reset.addEventListener('click', startOver);
  ui.cancel.addEventListener('click', () => worker.postMessage({ type: 'prune-cancel' }));
  for (const control of [ui.method, ui.sparsity, ui.pattern, ui.outputRate, ui.calibration]) {
    control.addEventListener('change', () => {
      syncControls();
      startOver();
    });
  }
  ui.useTrained.addEventListener('click', () => {
    ui.model.value = 'trained';
    worker.postMessage({ type: 'use-trained' });
    startOver();
  });
  ui.model.addEventListener('change', () => {
    ui.step.disabled = true;
    ui.modelInfo.textContent = 'loading…';
    if (ui.model.value === 'trained') worker.postMessage({ type: 'use-trained' });
    else worker.postMessage({ type: 'load-model', which: ui.model.value });
    startOver();
  });
  ui.heatLayer.addEventListener('change', requestHeat);
  ui.timeMeter.addEventListener('click', () => {
    ui.timeMeter.disabled = true;
    delete ui.meterTiming.dataset.done;
    ui.meterTiming.textContent = 'Timing…';
    worker.postMessage({ type: 'time-meter' });
  });
  // The address bar follows this fieldset like every control (state.js, followControls).
  ui.views.addEventListener('change', () => showView(ui.views.querySelector('input:checked').value));
  showView(ui.views.querySelector('input:checked').value);
  syncControls();
  drawScoreHistogram();

  return {
    redraw,
    offerTrained() {
      ui.useTrained.hidden = false;
      ui.model.querySelector('option[value="trained"]').disabled = false;
    },
    /** Handles the worker's pruning messages; false for anything else. */
    onMessage(m) {
      switch (m.type) {
        case 'model':
          ui.modelInfo.textContent = describeModel(m);
          ui.step.disabled = false;
          setModel(m);
          // A new model's scores are still to be computed.
          state.histogram = null;
          state.maps = null;
          redraw();
          startOver();
          return true;
        case 'prune-stage':
          onStage(m.report, m.fields, m.maps);
          return true;
        case 'prune-progress':
          ui.progress.max = m.total;
          ui.progress.value = m.step;
          ui.text.textContent = `Fine-tuning: step ${m.step} of ${m.total}…`;
          return true;
        case 'prune-cancelled':
          ui.progressRow.hidden = true;
          ui.text.textContent = `Fine-tuning cancelled after ${m.step} steps; the pruned model is as it was before it. Press Step to fine-tune again.`;
          ui.step.disabled = false;
          return true;
        case 'cost-meter':
          showMeter(m.meter);
          return true;
        case 'meter-timing':
          ui.timeMeter.disabled = false;
          if (m.error) ui.meterTiming.textContent = `Could not time it: ${m.error}`;
          else showTiming(m.timing);
          return true;
        case 'layer-weights':
          state.heat = { layer: m.layer, values: m.values };
          drawHeat();
          // The first layer's weights are the receptive fields: before any Step (or after a new
          // model) this shows the dense model's instead of an empty box.
          if (m.layer === 0 && !state.fields) {
            state.fields = m.values;
            drawFirstLayer(m.values);
          }
          return true;
        case 'prune-error':
          ui.progressRow.hidden = true;
          showPruneError(m.message);
          ui.step.disabled = false;
          return true;
        default:
          return false;
      }
    },
  };
}
