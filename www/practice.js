// Practice mode: each question of questions.js with an answer form, immediate feedback and an
// explanation, and a "Run it" button that runs its experiment in the worker on the visitor's
// model and shows the numbers and a picture. Answers are remembered in localStorage when the
// browser allows it (a sandboxed embed does not, and works without).

import { drawBars, drawSeries } from './charts.js';
import { QUESTIONS } from './questions.js';
import { drawHeatmap, drawPixelMap } from './views.js';

const STORAGE_KEY = 'pruneplay.practice.v1';
const pctOf = (x) => 100 * x;

/** localStorage, or a stand-in that forgets, where storage is off limits. */
function storage() {
  try {
    const s = window.localStorage;
    s.getItem(STORAGE_KEY);
    return s;
  } catch {
    const memory = new Map();
    return { getItem: (k) => memory.get(k) ?? null, setItem: (k, v) => memory.set(k, v), removeItem: (k) => memory.delete(k) };
  }
}

/** Draws the picture for an experiment's result into `figure` (replacing what was there). */
function drawResult(figure, name, r, dark) {
  const canvas = () => {
    const c = document.createElement('canvas');
    c.width = Math.max(320, Math.min(720, Math.round(figure.clientWidth) || 560));
    c.height = 240;
    c.setAttribute('role', 'img');
    return c;
  };
  const c = canvas();
  figure.replaceChildren(c);
  const bars = (label, labels, values, unit) => {
    c.setAttribute('aria-label', `${label}: ${labels.map((l, i) => `${l} ${values[i].toFixed(2)} ${unit}`).join(', ')}`);
    c.height = 60 + 36 * labels.length;
    drawBars(c, label, labels, Float64Array.from(values), unit, dark);
  };
  switch (name) {
    case 'forward-timing': {
      const v = r.variants.filter((x) => Number.isFinite(x.ms));
      bars(`forward pass of ${r.batch} images on ${r.backend}`, v.map((x) => x.name), v.map((x) => x.ms), 'ms');
      break;
    }
    case 'structured-compaction':
      bars('forward pass of the 10,000 test images', ['masked 784-300-100-10', `compacted ${r.arch}`], [r.msMasked, r.msCompacted], 'ms');
      break;
    case 'finetune-recovery':
      bars('test accuracy', ['dense', `pruned ${Math.round(100 * r.sparsity)}%`, `fine-tuned ${r.steps} steps`],
        [r.accBefore, r.accPruned, r.accFinetuned].map(pctOf), '%');
      break;
    case 'iterative-vs-oneshot':
      bars(`test accuracy at ${Math.round(100 * r.target)}% sparsity`, ['one shot', `${r.rounds} rounds`],
        [r.oneShotAcc, r.iterativeAcc].map(pctOf), '%');
      break;
    case 'random-baseline':
      bars(`test accuracy at ${Math.round(100 * r.sparsity)}% sparsity`, ['magnitude', 'random'], [r.magnitudeAcc, r.randomAcc].map(pctOf), '%');
      break;
    case 'heads-budget':
      bars('test accuracy, heads-taylor one-shot', ['all heads', ...r.steps.map((x) => `without ${x.headsRemoved} of ${x.headsTotal}`)],
        [r.dense, ...r.steps.map((x) => x.accuracy)].map(pctOf), '%');
      break;
    case 'layers-heal':
      bars('test accuracy', ['all blocks', `without block ${r.removedBlocks.join(', ')}`, `healed ${r.steps} steps`],
        [r.dense, r.accPruned, r.accHealed].map(pctOf), '%');
      break;
    case 'heads-speed':
      bars(`forward pass of ${r.batch} test images`, [`masked, ${r.headsRemoved} heads off`, 'compacted'], [r.msMasked, r.msCompacted], 'ms');
      break;
    case 'global-layers':
      bars('weights kept, per layer', r.layers.map((l) => `${l.name} (${l.weights.toLocaleString()})`),
        r.layers.map((l) => (100 * l.remaining) / l.weights), '%');
      break;
    case 'sparsegpt-vs-magnitude':
    case 'lottery-short': {
      const series = name === 'lottery-short'
        ? [['winning ticket', 'ticketAcc'], ['random reinit', 'reinitAcc']].map(([n, k]) => ({
          name: n, x: r.rounds.map((p) => 100 * p.weightsRemaining), y: r.rounds.map((p) => 100 * p[k]),
        }))
        : ['magnitude', 'wanda', 'sparsegpt'].map((m) => ({
          name: m, x: r.points.map((p) => 100 * (1 - p.sparsity)), y: r.points.map((p) => 100 * p[m]),
        }));
      c.setAttribute('aria-label', 'test accuracy against weights left');
      c.height = 300;
      drawSeries(c, 'weights left (%)', 'test accuracy (%)', series, name === 'lottery-short', new Float64Array(0), dark);
      break;
    }
    case 'wanda-pixels': {
      const maps = [['Wanda', r.keptWanda], ['magnitude', r.keptMagnitude]].map(([label, values]) => {
        const f = document.createElement('figure');
        const m = document.createElement('canvas');
        m.className = 'pixels map small';
        m.setAttribute('role', 'img');
        m.setAttribute('aria-label', `share of units keeping each pixel, ${label}`);
        drawPixelMap(m, values, { range: [0, 1] });
        const cap = document.createElement('figcaption');
        cap.textContent = `${label}: share of units keeping each pixel`;
        f.append(m, cap);
        return f;
      });
      figure.replaceChildren(...maps);
      break;
    }
    case 'nm-row': {
      c.className = 'pixels strip';
      c.setAttribute('aria-label', `16 weights of a row after 2:4 pruning: ${r.row.map((w) => (w === 0 ? '0' : w.toFixed(3))).join(', ')}`);
      drawHeatmap(c, Float32Array.from(r.row, (w) => (w === 0 ? NaN : w)), 1, r.row.length);
      break;
    }
    default:
      figure.replaceChildren();
  }
}

/**
 * The practice card. `client` runs a demonstration as protocol.js's 'experiment' request
 * (`client.request(op, args, on)`). `only` shows one question, opened (an embed);
 * `unavailable(question)` returns why its demonstration cannot run here, or null. Aborting
 * `signal` removes the card's listener on #practice-reset, a button that outlives the card (for
 * a page that builds the card again).
 */
export function createPractice(client, {
  isDark, onAnswered = () => {}, only = null, unavailable = () => null, signal,
}) {
  const list = document.getElementById('questions');
  const score = document.getElementById('practice-score');
  const store = storage();
  let answers = {};
  try {
    answers = JSON.parse(store.getItem(STORAGE_KEY) ?? '{}') ?? {};
  } catch {
    answers = {};
  }
  const items = new Map(); // question id → its elements
  const results = new Map(); // question id → last experiment result (for redraws)
  let running = null; // id of the question whose experiment runs
  let demonstration = null; // its request handle, for Cancel
  let modelReady = false;

  const save = () => store.setItem(STORAGE_KEY, JSON.stringify(answers));

  function updateScore() {
    const answered = shown.filter((q) => answers[q.id]);
    const right = answered.filter((q) => answers[q.id].correct).length;
    score.textContent = `${answered.length} of ${shown.length} answered, ${right} right`;
    score.dataset.answered = String(answered.length);
  }

  function showFeedback(q, choice) {
    const el = items.get(q.id);
    const correct = choice === q.answer;
    el.feedback.hidden = false;
    el.feedback.classList.toggle('right', correct);
    el.feedback.classList.toggle('wrong', !correct);
    el.feedback.textContent = `${correct ? 'Right.' : `Not quite: the answer is "${q.choices[q.answer]}".`} ${q.explanation}`;
    el.item.classList.toggle('answered', true);
  }

  function setRunning(id) {
    running = id;
    for (const [qid, el] of items) {
      el.run.disabled = !modelReady || (running !== null);
      el.cancel.hidden = qid !== running;
      el.progress.hidden = qid !== running;
    }
  }

  const shown = only ? QUESTIONS.filter((q) => q.id === only) : QUESTIONS;
  for (const [n, q] of shown.entries()) {
    const item = document.createElement('li');
    item.className = 'question';
    item.id = `q-${q.id}`;
    item.dataset.question = q.id;
    // Collapsed to its title until opened: twelve questions fit on a screen.
    const details = document.createElement('details');
    details.open = Boolean(only);
    const title = document.createElement('summary');
    title.textContent = q.title;
    const prompt = document.createElement('p');
    prompt.textContent = q.prompt;
    // Not a <form>: a sandboxed embed may not submit forms, and nothing here is sent anywhere.
    const form = document.createElement('div');
    form.className = 'answer';
    const fieldset = document.createElement('fieldset');
    const legend = document.createElement('legend');
    legend.textContent = 'Your answer';
    fieldset.append(legend);
    for (const [i, choice] of q.choices.entries()) {
      const label = document.createElement('label');
      const input = document.createElement('input');
      input.type = 'radio';
      input.name = `answer-${n}`;
      input.value = String(i);
      label.append(input, ` ${choice}`);
      fieldset.append(label);
    }
    const check = document.createElement('button');
    check.type = 'button';
    check.textContent = 'Check';
    form.append(fieldset, check);
    const feedback = document.createElement('p');
    feedback.className = 'feedback';
    feedback.setAttribute('aria-live', 'polite');
    feedback.hidden = true;
    const demo = document.createElement('div');
    demo.className = 'demo';
    const run = document.createElement('button');
    run.type = 'button';
    run.className = 'run';
    run.textContent = q.runLabel;
    run.disabled = true;
    const cancel = document.createElement('button');
    cancel.type = 'button';
    cancel.textContent = 'Cancel';
    cancel.hidden = true;
    const progress = document.createElement('progress');
    progress.max = 1;
    progress.hidden = true;
    progress.setAttribute('aria-label', `Progress of: ${q.runLabel}`);
    const text = document.createElement('p');
    text.className = 'demo-text';
    text.setAttribute('aria-live', 'polite');
    const figure = document.createElement('div');
    figure.className = 'demo-figure';
    demo.append(run, cancel, progress, text, figure);
    details.append(title, prompt, form, feedback, demo);
    item.append(details);
    list.append(item);
    items.set(q.id, { item, form, feedback, run, cancel, progress, text, figure });

    check.addEventListener('click', () => {
      const picked = fieldset.querySelector('input:checked');
      if (!picked) {
        feedback.hidden = false;
        feedback.classList.remove('right', 'wrong');
        feedback.textContent = 'Pick an answer first.';
        return;
      }
      const choice = Number(picked.value);
      answers[q.id] = { choice, correct: choice === q.answer };
      save();
      showFeedback(q, choice);
      updateScore();
      onAnswered({ question: q.id, choice, correct: choice === q.answer });
    });
    run.addEventListener('click', () => {
      const reason = unavailable(q);
      if (reason) {
        text.textContent = reason;
        return;
      }
      setRunning(q.id);
      progress.removeAttribute('value');
      text.textContent = 'Running on your model…';
      text.classList.remove('error-text');
      const el = items.get(q.id);
      demonstration = client.request('experiment', { name: q.experiment }, {
        event(_event, m) {
          el.progress.value = m.fraction;
          el.text.textContent = `${m.text}…`;
        },
        result(result) {
          demonstration = null;
          setRunning(null);
          el.text.textContent = q.describe(result);
          el.item.dataset.ran = 'true';
          results.set(q.id, { name: q.experiment, result });
          drawResult(el.figure, q.experiment, result, isDark());
        },
        cancelled() {
          demonstration = null;
          setRunning(null);
          el.text.textContent = 'Cancelled.';
        },
        error(message) {
          demonstration = null;
          setRunning(null);
          el.text.textContent = `The experiment stopped: ${message}`;
          el.text.classList.add('error-text');
        },
      });
    });
    cancel.addEventListener('click', () => demonstration?.cancel());

    // A remembered answer shows as answered.
    const saved = answers[q.id];
    if (saved && Number.isInteger(saved.choice) && saved.choice >= 0 && saved.choice < q.choices.length) {
      fieldset.querySelectorAll('input')[saved.choice].checked = true;
      showFeedback(q, saved.choice);
    } else {
      delete answers[q.id];
    }
  }
  updateScore();

  document.getElementById('practice-reset').addEventListener('click', () => {
    answers = {};
    store.removeItem(STORAGE_KEY);
    for (const el of items.values()) {
      for (const input of el.form.querySelectorAll('input')) input.checked = false;
      el.feedback.hidden = true;
      el.item.classList.remove('answered');
    }
    updateScore();
  }, { signal });

  return {
    ready() {
      modelReady = true;
      setRunning(running);
    },
    redraw() {
      for (const [id, { name, result }] of results) drawResult(items.get(id).figure, name, result, isDark());
    },
  };
}
