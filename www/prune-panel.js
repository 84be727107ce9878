// The "Prune it, step by step" card: the controls, the four stages and the pictures each stage
// feeds. The work happens in the worker; this module sends requests and draws what comes back.

import {
  drawConfusion, drawDigits, drawFields, drawHeatmap, drawMessage, drawPixelMap, pct,
} from './views.js';
import { drawAttention } from './attention-view.js';
import { drawBlockBars, drawHeadGrid } from './heads-view.js';
import {
  applies, familyOf, hasNM, isCalibrated, labelOf, ruleOf, setCoreMethods,
} from './methods.js';

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

export function createPrunePanel(client, { drawHistogram, isDark, onPruned = () => {} }) {
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
    sparsityField: $('sparsity-field'),
    sparsityNote: $('sparsity-note'),
    patternField: $('pattern-field'),
    outputRateField: $('output-rate-field'),
    scope: $('scope'),
    scopeField: $('scope-field'),
    rounds: $('head-rounds'),
    roundsField: $('rounds-field'),
    remove: $('remove'),
    removeField: $('remove-field'),
    histFigure: $('hist-figure'),
    structureFigure: $('structure-figure'),
    headGrid: $('head-grid'),
    blockBars: $('block-bars'),
    structureCaption: $('structure-caption'),
    attentionTab: $('attention-tab'),
    attention: $('attention'),
    attnDigit: $('attn-digit'),
    attnNext: $('attn-next'),
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
    structure: null, // the ViT's heads and blocks as the walk stands (structure.rs)
    attention: null, // what each head looks at for the picked digit
    modelName: 'LeNet-300-100', // the model on show, as a masks file's line names it
  };

  const family = () => familyOf(ui.method.value);
  const structural = () => ['heads', 'layers'].includes(family());

  const request = (stage) => ({
    method: ui.method.value,
    sparsity: Number(ui.sparsity.value),
    pattern: ui.pattern.value,
    outputRate: Number(ui.outputRate.value),
    calibration: Number(ui.calibration.value),
    scope: ui.scope.value,
    rounds: Number(ui.rounds.value),
    remove: family() === 'layers' ? Number(ui.remove.value) : 0,
    stage,
  });

  function showPruneError(message) {
    ui.text.textContent = message;
    ui.text.classList.add('error-text');
  }

  /** A request of this card failed: say why, and let the visitor try again. */
  function showError(message) {
    ui.progressRow.hidden = true;
    showPruneError(message);
    ui.step.disabled = false;
  }

  // The stage in progress (its request handle), for Cancel.
  let running = null;

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

  /** The stage text for a head or layer method, from the core's counts. */
  function describeStructure(r) {
    const c = r.structure;
    const heads = family() === 'heads';
    const what = heads
      ? `${c?.headsRemoved} of the ${c?.headsTotal} attention heads removed (${c?.headsKept} kept)`
      : `block${c?.removedBlocks.length === 1 ? '' : 's'} ${c?.removedBlocks.join(', ')} removed (${c?.blocksKept} of ${c?.blocks} kept)`;
    switch (r.stage) {
      case 'scores':
        return heads
          ? `1. Every attention head gets an importance score: ${ruleOf(r.method)}. The grid shows them, a row per block; hover a cell for its score.`
          : `1. Every block gets a score: ${ruleOf(r.method)}. The bars show them.`;
      case 'select':
        return `2. The lowest-scoring ${heads ? 'heads go' : 'blocks go'}: ${what}. `
          + (heads ? 'The crossed-out cells are the removed heads; their output no longer reaches the residual stream.'
            : 'A removed block passes its input straight through.');
      case 'apply':
        return `3. Without them the network reads the 10,000 test images again: accuracy goes from ${pct(r.accuracyBefore)} to ${pct(r.accuracyAfter)}, with ${what}.`;
      case 'finetune':
        return `4. Healing: the rest of the network trains for ${r.finetuneSteps} more steps with the removed parts held off: accuracy goes from ${pct(r.accuracyBefore)} to ${pct(r.accuracyAfter)}, with ${what}.`;
      default:
        return '';
    }
  }

  function describeStage(r) {
    if (structural()) return describeStructure(r);
    switch (r.stage) {
      case 'scores':
        return `1. Every ${r.perNeuron ? 'hidden neuron' : 'weight'} gets an importance score: ${ruleOf(r.method)}. `
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
    if (!state.layers.length) return;
    client.request('layer-weights', { layer: heatLayer() }, {
      result: showLayerWeights,
      error: (message) => showPruneError(`Could not read the layer's weights: ${message}`),
    });
  }

  function drawApply() {
    if (!state.apply) return;
    drawConfusion(ui.confusion, state.apply.confusion);
    drawDigits(ui.digits, state.apply.digits);
  }

  const thousands = (n) => n.toLocaleString('en-US');
  const kb = (n) => `${(n / 1000).toLocaleString('en-US', { maximumFractionDigits: 1 })} kB`;

  /** The ViT's meter rows: what each of the three models computes with. */
  function vitMeterRows(m) {
    const all = [m.dense, m.pruned, m.compacted];
    return [
      ['Shape', ...all.map((c) => c.shape)],
      ['Parameters', ...all.map((c) => thousands(c.parameters))],
      ['Forward FLOPs per image', ...all.map((c) => thousands(c.forwardFlops))],
      ['Attention heads computing', ...all.map((c) => thousands(c.heads))],
      ['Blocks computing', ...all.map((c) => thousands(c.blocks))],
      ['MLP units computing', ...all.map((c) => thousands(c.mlpUnits))],
    ];
  }

  /** The cost meter's rows: dense, pruned and compacted counts side by side. */
  function showMeter(m) {
    ui.cost.closest('table').caption.textContent = m.kind === 'vit'
      ? 'What the ViT costs per image: dense, pruned (heads masked, blocks gated off, units masked: the same shapes), and compacted (what was removed deleted)'
      : 'What the network costs per image: dense, pruned (the mask kept, zeros and all), and compacted (neurons with no weights left removed)';
    if (m.kind === 'vit') {
      fillMeter(vitMeterRows(m));
      ui.cost.dataset.kind = 'vit';
      ui.cost.dataset.params = JSON.stringify([m.dense.parameters, m.pruned.parameters, m.compacted.parameters]);
      return;
    }
    delete ui.cost.dataset.kind;
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
    fillMeter(rows);
  }

  function fillMeter(rows) {
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
    ui.meterTiming.dataset.ms = JSON.stringify(ms);
    ui.meterTiming.textContent = `On ${engine}, ${t.batch.toLocaleString('en-US')} images: dense ${ms.dense.toFixed(2)} ms, `
      + `pruned ${ms.masked.toFixed(2)} ms, compacted ${ms.compacted.toFixed(2)} ms (median of ${t.reps}).`;
    ui.meterTiming.dataset.done = 'true';
  }

  /** The first layer as pictures: 28×28 receptive fields for an MLP, the ViT's 7×7 filters. */
  function drawFirstLayer(values) {
    drawFields(ui.fields, values, state.kind === 'vit' ? 7 : 28);
  }

  /** The head grid or the block bars, for a head or layer method on the ViT. */
  function drawStructure() {
    const view = state.structure;
    const fam = family();
    const show = state.kind === 'vit' && (fam === 'heads' || fam === 'layers');
    ui.structureFigure.hidden = !show;
    ui.histFigure.hidden = show;
    if (!show) return;
    ui.headGrid.hidden = fam !== 'heads';
    ui.blockBars.hidden = fam !== 'layers';
    if (!view?.method) {
      ui.headGrid.replaceChildren();
      ui.blockBars.replaceChildren();
      ui.structureCaption.textContent = 'Press Step: the scores stage fills this in.';
      return;
    }
    if (fam === 'heads') {
      const crossed = drawHeadGrid(ui.headGrid, view);
      ui.structureCaption.textContent = `Each head's score, a row per block (brighter is more important; hover for the number). `
        + (view.selected ? `${crossed} crossed out: the heads the selection removed.` : 'The selection stage crosses out the heads it removes.');
    } else {
      drawBlockBars(ui.blockBars, view);
      const angular = (view.window ?? 1) > 1;
      ui.structureCaption.textContent = `${angular ? `Angular distance across each run of ${view.window} consecutive blocks; the run with the smallest goes` : 'One bar per block; the lowest go first'}. `
        + (view.selected ? `Removed: block${view.counts.removedBlocks.length === 1 ? '' : 's'} ${view.counts.removedBlocks.join(', ')}.` : 'The selection stage marks the blocks it removes.');
    }
  }

  function drawAttentionView() {
    if (state.attention) drawAttention(ui.attention, state.attention);
  }

  function requestAttention() {
    if (state.kind !== 'vit') return;
    client.request('attention', { index: Number(ui.attnDigit.value) || 0 }, {
      result(attention) {
        state.attention = attention;
        drawAttentionView();
      },
      error(message) {
        const p = document.createElement('p');
        p.className = 'error-text';
        p.textContent = `Could not show the attention: ${message}`;
        ui.attention.replaceChildren(p);
      },
    });
  }

  /** One layer's weights for the heatmap (NaN where pruned). */
  function showLayerWeights({ layer, values }) {
    state.heat = { layer, values };
    drawHeat();
    // The first layer's weights are the receptive fields: before any Step (or after a new
    // model) this shows the dense model's instead of an empty box.
    if (layer === 0 && !state.fields) {
      state.fields = values;
      drawFirstLayer(values);
    }
  }

  function requestMeter() {
    client.request('cost-meter', {}, {
      result: showMeter,
      error: (message) => showPruneError(`Could not fill in the cost meter: ${message}`),
    });
  }

  function redraw() {
    drawStructure();
    drawScoreHistogram();
    if (state.fields) drawFirstLayer(state.fields);
    drawHeat();
    drawMaps();
    drawApply();
  }

  function showView(view) {
    for (const panel of document.querySelectorAll('.view')) panel.hidden = panel.dataset.view !== view;
  }

  function onStage(report, fields, maps, structure) {
    ui.text.classList.remove('error-text');
    if (structure) state.structure = structure;
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
    if (report.stage === 'select' || report.stage === 'finetune') requestMeter();
    // The pruned model changed: what its heads look at, beside the dense model's.
    if (state.kind === 'vit' && report.stage !== 'apply') requestAttention();
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
    if (state.structure) state.structure = { ...state.structure, method: null };
    drawStructure();
    markStage(-1);
    ui.text.textContent = 'Press Step to compute the importance scores.';
    ui.text.classList.remove('error-text');
    delete ui.text.dataset.stage;
    ui.step.textContent = 'Step';
  }

  /** N:M only for the methods that have it; the pattern then fixes the sparsity. */
  function syncControls() {
    if (ui.method.selectedOptions[0]?.disabled) ui.method.value = 'magnitude';
    const nm = hasNM(ui.method.value);
    if (!nm) ui.pattern.value = '';
    ui.pattern.disabled = !nm;
    ui.sparsity.disabled = ui.pattern.value !== '';
    ui.calibration.disabled = !isCalibrated(ui.method.value);
    // Scope and rounds for head methods, a block count for layer methods; sparsity is the share
    // of heads for the former and means nothing to the latter.
    const fam = family();
    ui.scopeField.hidden = fam !== 'heads';
    ui.roundsField.hidden = fam !== 'heads';
    ui.removeField.hidden = fam !== 'layers';
    ui.sparsityField.hidden = fam === 'layers';
    ui.patternField.hidden = fam === 'heads' || fam === 'layers';
    ui.outputRateField.hidden = fam === 'heads' || fam === 'layers';
    ui.sparsityNote.textContent = fam === 'heads'
      ? 'fraction of the attention heads to remove (rounded to whole heads)'
      : 'fraction of weights to remove (of hidden neurons or MLP units for whole-neuron methods)';
    drawStructure();
  }

  /** Adapts the card's controls and pictures to the model just loaded. */
  function adaptTo(m) {
    state.kind = m.kind ?? 'mlp';
    setCoreMethods(m.methods);
    state.methods = m.methods ? new Set(m.methods.map((x) => x.name)) : null;
    // A method the core has and the page has no label for still gets an option.
    for (const x of m.methods ?? []) {
      if (![...ui.method.options].some((o) => o.value === x.name)) ui.method.add(new Option(labelOf(x.name), x.name));
    }
    state.structure = null;
    state.attention = null;
    ui.attention.replaceChildren();
    const depth = m.headsPerBlock?.length ?? 0;
    if (depth > 1) ui.remove.max = String(depth - 1);
    state.layers = m.layers ?? [];
    ui.heatLayer.replaceChildren(...state.layers.map(({ name, rows, cols }, i) => {
      const option = document.createElement('option');
      option.value = String(i);
      option.textContent = `Layer ${i + 1} (${name}): ${cols} inputs → ${rows} units`;
      return option;
    }));
    // Methods the core says do not apply are offered but greyed, with the reason below.
    for (const option of ui.method.options) option.disabled = !applies(option.value);
    const vit = state.kind === 'vit';
    ui.modelNote.hidden = false;
    ui.modelNote.textContent = vit
      ? 'On the ViT the whole-neuron methods remove MLP units of each block, and the head and block methods remove attention heads and whole blocks. '
        + 'The lottery lab and the practice questions about weights run on LeNet-300-100.'
      : `The attention-head and block methods are greyed: ${m.arch === '784-300-100-10' ? 'LeNet-300-100' : `a ${m.arch} network`} has no heads or blocks. Pick the tiny ViT to use them.`;
    ui.attentionTab.hidden = !vit;
    ui.fieldsCaption.textContent = vit
      ? 'The patch embedding: each of its filters reads a 7×7 patch. Orange positive, blue negative, grey pruned'
      : 'Each hidden unit\'s 784 incoming weights as a 28×28 picture: orange positive, blue negative, grey pruned';
    // A ViT's first layer reads patches, not pixels: the 28×28 maps would mean nothing.
    ui.pixelsTab.hidden = vit;
    const checked = ui.views.querySelector('input:checked');
    if ((vit && checked?.value === 'pixels') || (!vit && checked?.value === 'attention')) {
      ui.views.querySelector('input[value="heatmap"]').checked = true;
      showView('heatmap');
    }
    ui.timeMeter.disabled = true;
    const cell = document.createElement('td');
    cell.colSpan = 4;
    cell.textContent = 'Press Step through the threshold stage to fill this in.';
    const row = document.createElement('tr');
    row.append(cell);
    ui.cost.replaceChildren(row);
    state.heat = null;
    state.fields = null;
    syncControls();
    requestHeat();
    requestAttention();
  }

  /** What the model line says about the model on show. */
  function describeModel(m) {
    const accuracy = m.testAcc == null ? 'test accuracy not measured' : `${pct(m.testAcc)} test accuracy`;
    const left = `${pct(m.weightsRemaining)} of its weights remaining`;
    if (m.source === 'opened') return `${m.name}: ${m.arch}, ${accuracy}, ${left}; found ${m.layout}`;
    if (m.source === 'masks') return `${state.modelName} with the masks of ${m.name}: ${m.arch}, ${accuracy}, ${left}`;
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
    running = client.request('prune-step', { request: request(stage) }, {
      event(_event, { step, total, backend }) {
        ui.progress.max = total;
        ui.progress.value = step;
        ui.text.textContent = `Fine-tuning on ${backend === 'webgpu' ? 'WebGPU' : 'the CPU'}: step ${step} of ${total}…`;
      },
      result({ report, fields, maps, structure }) {
        running = null;
        onStage(report, fields, maps, structure);
        if (report.stage !== 'scores') onPruned(report);
      },
      cancelled({ step }) {
        running = null;
        ui.progressRow.hidden = true;
        ui.text.textContent = `Fine-tuning cancelled after ${step} steps; the pruned model is as it was before it. Press Step to fine-tune again.`;
        ui.step.disabled = false;
      },
      error(message) {
        running = null;
        showError(message);
      },
    });
  });
  ui.reset.addEventListener('click', startOver);
  ui.cancel.addEventListener('click', () => running?.cancel());
  for (const control of [ui.method, ui.sparsity, ui.pattern, ui.outputRate, ui.calibration, ui.scope, ui.rounds, ui.remove]) {
    control.addEventListener('change', () => {
      syncControls();
      startOver();
    });
  }
  // The new model arrives as the worker's 'model' notice (setModel below), which every card hears.
  const modelFailed = { error: (message) => showError(`The model could not be loaded: ${message}`) };
  ui.useTrained.addEventListener('click', () => {
    ui.model.value = 'trained';
    client.request('use-trained', {}, modelFailed);
    startOver();
  });
  ui.model.addEventListener('change', () => {
    ui.step.disabled = true;
    ui.modelInfo.textContent = 'loading…';
    if (ui.model.value === 'trained') client.request('use-trained', {}, modelFailed);
    // The file opened last, read again from the bytes the worker kept (no masks applied since).
    else if (ui.model.value === 'opened') client.request('reopen', {}, modelFailed);
    else client.request('load-model', { which: ui.model.value }, modelFailed);
    startOver();
  });
  ui.heatLayer.addEventListener('change', requestHeat);
  ui.attnDigit.addEventListener('change', requestAttention);
  ui.attnNext.addEventListener('click', () => {
    const count = state.attention?.count ?? 10_000;
    ui.attnDigit.value = String(((Number(ui.attnDigit.value) || 0) + 1) % count);
    ui.attnDigit.dispatchEvent(new Event('change'));
  });
  ui.timeMeter.addEventListener('click', () => {
    ui.timeMeter.disabled = true;
    delete ui.meterTiming.dataset.done;
    ui.meterTiming.textContent = 'Timing…';
    client.request('time-meter', {}, {
      result(timing) {
        ui.timeMeter.disabled = false;
        showTiming(timing);
      },
      error(message) {
        ui.timeMeter.disabled = false;
        ui.meterTiming.textContent = `Could not time it: ${message}`;
      },
    });
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
    /** The model pruning starts from changed (the worker's 'model' notice). */
    setModel(m) {
      ui.modelInfo.textContent = describeModel(m);
      // What a masks file opened next goes onto, for its line.
      if (m.source !== 'masks') {
        state.modelName = { opened: m.name, trained: 'the model you trained' }[m.source]
          ?? (m.kind === 'vit' ? 'the tiny ViT' : 'LeNet-300-100');
      }
      // For tests and the curious: the numbers behind the line, unrounded.
      Object.assign(ui.modelInfo.dataset, {
        source: m.source, arch: m.arch, weightsRemaining: String(m.weightsRemaining), testAcc: String(m.testAcc ?? ''),
      });
      ui.step.disabled = false;
      adaptTo(m);
      // A new model's scores are still to be computed.
      state.histogram = null;
      state.maps = null;
      redraw();
      startOver();
    },
    showError,
  };
}
