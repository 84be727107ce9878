// The pruning methods as the page names and explains them, in one place for every view.

/** id → { label (for pickers), short (for legends and tables), rule (what it scores, a clause) }. */
export const METHODS = {
  magnitude: {
    label: 'Magnitude, per layer',
    short: 'magnitude',
    rule: 'its absolute value |w|; each layer is ranked on its own',
  },
  'global-magnitude': {
    label: 'Magnitude, global',
    short: 'global magnitude',
    rule: 'its absolute value |w|, with all layers ranked together',
  },
  random: {
    label: 'Random (baseline)',
    short: 'random',
    rule: 'a random number: the baseline every real method must beat',
  },
  'structured-l1': {
    label: 'Whole neurons, L1 norm',
    short: 'neurons, L1',
    rule: "each hidden neuron's sum of |w| over its incoming weights",
  },
  'structured-l2': {
    label: 'Whole neurons, L2 norm',
    short: 'neurons, L2',
    rule: "each hidden neuron's Euclidean norm of its incoming weights",
  },
  taylor: {
    label: 'Gradient × weight (Taylor)',
    short: 'Taylor',
    rule: '|w × ∂loss/∂w| summed over the calibration images: the first-order change in loss if it went',
  },
  'taylor-neuron': {
    label: 'Whole neurons, Taylor',
    short: 'neurons, Taylor',
    rule: "a hidden neuron's Taylor scores summed: how much the loss would move without it",
  },
  wanda: {
    label: 'Wanda (weight × input norm)',
    short: 'Wanda',
    rule: "|w| × the size of the input it reads over the calibration images, compared within each neuron's row",
  },
  sparsegpt: {
    label: 'SparseGPT (with weight updates)',
    short: 'SparseGPT',
    rule: 'w² / [H⁻¹]ᵢᵢ from the inputs\' second moments H, and the kept weights are then updated to make up for the pruned ones',
  },
  'heads-taylor': {
    label: 'Attention heads, Taylor (gate gradient)',
    short: 'heads, Taylor',
    rule: 'the mean over the calibration images of |∂loss/∂ξ| for a gate ξ on the head\'s output (Michel et al. 2019), normalised within each block',
  },
  'heads-magnitude': {
    label: 'Attention heads, weight norm',
    short: 'heads, magnitude',
    rule: 'the ℓ2 norm of the head\'s own q, k and v rows and its columns of the output projection, divided by √(head width)',
  },
  'heads-ablation': {
    label: 'Attention heads, ablation',
    short: 'heads, ablation',
    rule: 'how much the calibration loss rises when that head alone is switched off',
  },
  'heads-random': {
    label: 'Attention heads, random (baseline)',
    short: 'heads, random',
    rule: 'a random number: the baseline the other head scores must beat',
  },
  'layers-bi': {
    label: 'Whole blocks, Block Influence (ShortGPT)',
    short: 'blocks, BI',
    rule: '1 − the mean cosine between the residual stream entering and leaving the block, over tokens and calibration images: how much the block turns it',
  },
  'layers-angular': {
    label: 'Whole blocks, angular distance (contiguous)',
    short: 'blocks, angular',
    rule: 'the angle between the token-averaged residual stream before and after each run of consecutive blocks; the run that changes it least goes',
  },
  'layers-last': {
    label: 'Whole blocks, the deepest first',
    short: 'blocks, last',
    rule: 'its depth alone: the last blocks go first',
  },
  'layers-ablation': {
    label: 'Whole blocks, ablation',
    short: 'blocks, ablation',
    rule: 'how much the calibration loss rises when that block alone is skipped',
  },
  'layers-taylor': {
    label: 'Whole blocks, Taylor (gate gradient)',
    short: 'blocks, Taylor',
    rule: 'the mean |∂loss/∂γ| of a gate γ on the block\'s two branches over the calibration images',
  },
};

/**
 * What the core says about each method of the model on show (the worker's 'model' message:
 * name, family, summary, calibrated, nM). Until a model is in, the static sets below stand in.
 */
const core = new Map();

/** Records the core's method list for the model just loaded. */
export function setCoreMethods(methods) {
  core.clear();
  for (const m of methods ?? []) core.set(m.name, m);
}

/** Whether the core says the method applies to the model on show (all, before any model). */
export const applies = (id) => core.size === 0 || core.has(id);
/** 'weights', 'neurons', 'heads' or 'layers', as the core says; by name before any model. */
export function familyOf(id) {
  if (core.has(id)) return core.get(id).family;
  if (id.startsWith('heads-')) return 'heads';
  if (id.startsWith('layers-')) return 'layers';
  return ['structured-l1', 'structured-l2', 'taylor-neuron'].includes(id) ? 'neurons' : 'weights';
}
export const isCalibrated = (id) => core.get(id)?.calibrated ?? CALIBRATED.has(id);
export const hasNM = (id) => core.get(id)?.nM ?? NM_METHODS.has(id);
/** The picker's label: the page's own, else the core's one-line summary. */
export const labelOf = (id) => METHODS[id]?.label ?? core.get(id)?.summary ?? id;
/** The clause a stage text uses for what the method scores. */
export const ruleOf = (id) => METHODS[id]?.rule ?? core.get(id)?.summary ?? 'the method\'s score';

/** Methods with an N:M form. */
export const NM_METHODS = new Set(['magnitude', 'wanda', 'sparsegpt']);
/**
 * Methods that look at calibration images, for deciding what to download before the core has
 * said (an embed fetches the calibration set only for these); `isCalibrated` asks the core.
 */
export const CALIBRATED = new Set(['taylor', 'taylor-neuron', 'wanda', 'sparsegpt',
  'heads-taylor', 'heads-ablation', 'layers-bi', 'layers-angular', 'layers-ablation', 'layers-taylor']);

export const shortName = (id) => METHODS[id]?.short ?? id;

/**
 * The sparsities of a comma-separated list, distinct and ascending, or {error} (the reason) if
 * they are not all fractions in [0, `max`]. The compare card allows up to 0.99; an embed, whose
 * list has passed its field's pattern, takes any fraction below 1 as it always has.
 */
export function parseLevels(text, max = 0.99) {
  const parts = text.split(',').map((s) => s.trim()).filter(Boolean);
  const levels = parts.map(Number);
  if (!levels.length) return { error: 'type at least one sparsity, e.g. 0.5,0.9' };
  const bad = parts.find((p, i) => !(levels[i] >= 0 && levels[i] <= max) || p === '');
  if (bad !== undefined) return { error: `"${bad}" is not a sparsity between 0 and ${max}` };
  return { levels: [...new Set(levels)].sort((a, b) => a - b) };
}

/** Methods ticked in "Compare methods" until the visitor or a link says otherwise. */
const COMPARED_BY_DEFAULT = new Set(['magnitude', 'random', 'wanda', 'sparsegpt']);
/**
 * Ticked when the compare card switches to heads or blocks with none of them ticked (they start
 * unticked, so a link that names only weight methods stays as it was).
 */
export const COMPARED_WHEN_PICKED = new Set(['heads-taylor', 'heads-magnitude', 'heads-random', 'layers-bi', 'layers-angular', 'layers-last']);

/**
 * Fills a method <select> and a fieldset of "compare" checkboxes from METHODS, so every page
 * offers the same methods under the same names. Runs before a link's settings are read.
 */
export function fillMethodControls(select, fieldset) {
  for (const [id, m] of Object.entries(METHODS)) select?.add(new Option(m.label, id, id === 'magnitude', id === 'magnitude'));
  if (!fieldset) return;
  for (const [id, m] of Object.entries(METHODS)) {
    const label = document.createElement('label');
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.name = 'compare';
    box.value = id;
    box.checked = COMPARED_BY_DEFAULT.has(id);
    label.dataset.family = familyOf(id);
    label.append(box, ` ${m.short[0].toUpperCase()}${m.short.slice(1)}`);
    fieldset.append(label);
  }
}
