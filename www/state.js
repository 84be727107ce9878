// The page's settings in the address bar, TensorFlow Playground style: the link reproduces what
// you see. The hash holds a version key and one entry per setting; every change replaces the
// current history entry (no new entry per change). Ranges and choices come from the controls
// themselves (min, max, step and <option>s), so there is one place to change a limit.

export const VERSION = 1;

// URL key → control id.
const KEYS = {
  data: 'dataset',
  arch: 'arch',
  opt: 'optimizer',
  lr: 'lr',
  batch: 'batch',
  steps: 'iters',
  engine: 'backend',
  seed: 'seed',
  method: 'method',
  sparsity: 'sparsity',
  pattern: 'pattern',
  orate: 'output-rate',
  calib: 'calibration',
  scope: 'scope',
  hrounds: 'head-rounds',
  remove: 'remove',
  digit: 'attn-digit',
  view: 'view',
  compare: 'compare',
  cfamily: 'compare-family',
  heal: 'compare-heal',
  levels: 'levels',
  rounds: 'lt-rounds',
  rounditers: 'lt-iters',
  rewind: 'lt-rewind',
  strategy: 'lt-strategy',
  controls: 'lt-controls',
  lteval: 'lt-eval',
  ltseed: 'lt-seed',
  ltengine: 'lt-backend',
  // Embeds only: parts of the frame to leave out, and the practice question to show.
  hide: 'hide',
  question: 'question',
};

const control = (key) => document.getElementById(KEYS[key]);
// A page holds some of the settings (an embed has no training controls); the rest are not
// settings there.
const present = () => Object.keys(KEYS).filter((key) => control(key));

const boxes = (el) => Array.from(el.querySelectorAll('input'));

/** The control's current value as the hash writes it. */
function valueOf(el) {
  if (el instanceof HTMLFieldSetElement) {
    const checked = boxes(el).filter((b) => b.checked).map((b) => b.value);
    return checked.join(',');
  }
  return el.value;
}

/** Sets a control to a value that `validate` accepted. */
function setValue(el, value) {
  if (el instanceof HTMLFieldSetElement) {
    const chosen = new Set(value.split(','));
    for (const b of boxes(el)) b.checked = chosen.has(b.value);
  } else {
    el.value = value;
  }
}

/** Checks one value against its control; returns [value to use, note or null]. */
function validate(key, raw) {
  const el = control(key);
  const kept = valueOf(el);
  if (el instanceof HTMLFieldSetElement) {
    // Radio buttons take one choice, checkboxes a comma-separated set of them.
    const choices = boxes(el).map((b) => b.value);
    const radio = boxes(el)[0]?.type === 'radio';
    const given = radio ? [raw] : raw.split(',').filter(Boolean);
    const bad = given.filter((v) => !choices.includes(v));
    if (bad.length || (radio && given.length !== 1)) {
      return [kept, `${key} "${raw}" is not ${radio ? 'one' : 'a list'} of ${choices.join(', ')}; kept ${kept}`];
    }
    return [given.join(','), null];
  }
  if (el instanceof HTMLSelectElement) {
    const choices = Array.from(el.options, (o) => o.value);
    return choices.includes(raw) ? [raw, null] : [kept, `${key} "${raw}" is not one of ${choices.filter(Boolean).join(', ')}; kept ${kept || 'the default'}`];
  }
  if (el.type === 'text') {
    // Free text checked by the control's own pattern (e.g. the sweep's list of sparsities).
    const ok = new RegExp(`^(?:${el.pattern})$`, 'v').test(raw);
    return ok ? [raw, null] : [kept, `${key} "${raw}" is not valid here; kept ${kept}`];
  }
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n)) return [kept, `${key} "${raw}" is not a number; kept ${kept}`];
  const min = el.min === '' ? -Infinity : Number(el.min);
  const max = el.max === '' ? Infinity : Number(el.max);
  let v = Math.min(max, Math.max(min, n));
  if (el.step === '1') v = Math.round(v);
  return v === n ? [String(v), null] : [String(v), `${key} ${raw} is outside ${el.min}…${el.max}; used ${v}`];
}

/** Applies the hash to the controls. Returns notes about anything that had to change. */
export function readHash(hash = location.hash) {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const notes = [];
  const version = params.get('v');
  if (version !== null && version !== String(VERSION)) {
    notes.push(`this link is from another version of PrunePlay (v=${version}); settings that still exist were kept`);
  }
  for (const [key, raw] of params) {
    if (key === 'v') continue;
    if (!(key in KEYS) || !control(key)) {
      notes.push(`"${key}" is not a setting${key in KEYS ? ' here' : ''}; ignored`);
      continue;
    }
    const [value, note] = validate(key, raw);
    setValue(control(key), value);
    if (note) notes.push(note);
  }
  return notes;
}

/** The current settings as a hash. */
export function currentHash() {
  const params = new URLSearchParams({ v: String(VERSION) });
  for (const key of present()) params.set(key, valueOf(control(key)));
  return `#${params}`;
}

/** Writes the settings into the address bar without adding a history entry. */
export function writeHash() {
  history.replaceState(null, '', currentHash());
}

/** Keeps the address bar in step with every control. */
export function followControls() {
  for (const key of present()) control(key).addEventListener('change', writeHash);
}

/**
 * The data set a link names is one of the control's choices (readHash checked that), but the
 * visitor may not have it: their own IDX files never travel in a link, and a build without
 * Fashion-MNIST cannot load it. Then MNIST opens instead; returns the note saying so (or null when
 * the data set chosen is among `available`).
 */
export function fallBackDataset(available) {
  const el = control('data');
  if (!el || available.includes(el.value)) return null;
  const was = el.value;
  el.value = 'mnist';
  writeHash();
  return was === 'own'
    ? 'data "own" names files from another visitor\'s computer, which never leave it; opened MNIST'
    : `data "${was}" is not on this site (it was built without it); opened MNIST`;
}
