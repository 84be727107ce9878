// Pictures drawn straight from typed arrays: each is one pass over the values into an ImageData,
// so a 784×300 layer costs one putImageData, not 235,200 canvas calls. Charts with axes are drawn
// by plotters (see the Rust crate); these are the pixel pictures.

/** Whether the visitor's system asks for the dark colour scheme (the pictures and charts follow). */
export const isDark = () => window.matchMedia('(prefers-color-scheme: dark)').matches;
/** A fraction as a percentage with two decimals, as the pages write them: 0.9812 → "98.12%". */
export const pct = (x) => `${(100 * x).toFixed(2)}%`;

// Okabe–Ito orange (positive) and blue (negative): a diverging pair that stays distinct with the
// common colour-vision deficiencies. Zero fades to the background; pruned weights are a neutral
// grey that is neither.
const POSITIVE = [230, 159, 0];
const NEGATIVE = [0, 114, 178];
const theme = () => (isDark()
  ? { zero: [24, 26, 31], pruned: [82, 86, 94], text: '#e6e7ea', grid: '#2c3038' }
  : { zero: [255, 255, 255], pruned: [150, 150, 150], text: '#1d2026', grid: '#d9dde3' });

/** Largest |v| over the finite values (1 if there are none), the scale of a diverging map. */
function absMax(values) {
  let m = 0;
  // An indexed loop: the iterator form is several times slower on a 235,200-value typed array.
  for (let i = 0; i < values.length; i++) {
    const a = Math.abs(values[i]);
    if (a > m && a !== Infinity) m = a;
  }
  return m || 1;
}

/**
 * Writes the diverging colour of `v` (NaN = pruned) at byte offset `i` of `data`. It runs once per
 * weight (235,200 for LeNet's first layer, twice per stage), so it allocates nothing.
 */
function divergingPixel(data, i, v, scale, t) {
  if (Number.isNaN(v)) {
    data[i] = t.pruned[0];
    data[i + 1] = t.pruned[1];
    data[i + 2] = t.pruned[2];
  } else {
    // The square root spreads the many small weights over more visible shades.
    const f = Math.sqrt(Math.min(1, Math.abs(v) / scale));
    const c = v >= 0 ? POSITIVE : NEGATIVE;
    const z = t.zero;
    data[i] = Math.round(z[0] + (c[0] - z[0]) * f);
    data[i + 1] = Math.round(z[1] + (c[1] - z[1]) * f);
    data[i + 2] = Math.round(z[2] + (c[2] - z[2]) * f);
  }
  data[i + 3] = 255;
}

/**
 * A weight matrix [rows = outputs, cols = inputs] as an image, one pixel per weight: orange
 * positive, blue negative, grey pruned (NaN).
 */
export function drawHeatmap(canvas, values, rows, cols) {
  canvas.width = cols;
  canvas.height = rows;
  const ctx = canvas.getContext('2d');
  const image = ctx.createImageData(cols, rows);
  const scale = absMax(values);
  const t = theme();
  for (let p = 0; p < rows * cols; p++) divergingPixel(image.data, p * 4, values[p], scale, t);
  ctx.putImageData(image, 0, 0);
}

/**
 * A short message in the middle of a chart that has nothing to show yet, so an empty box says
 * what will fill it.
 */
export function drawMessage(canvas, text) {
  const ctx = canvas.getContext('2d');
  const t = theme();
  ctx.fillStyle = `rgb(${t.zero.join(',')})`;
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.strokeStyle = t.grid;
  ctx.strokeRect(0.5, 0.5, canvas.width - 1, canvas.height - 1);
  ctx.fillStyle = t.text;
  ctx.font = '15px system-ui, sans-serif';
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  ctx.fillText(text, canvas.width / 2, canvas.height / 2, canvas.width - 20);
}

/**
 * Every first-layer unit's incoming weights as a `side`×`side` tile: 784 as 28×28 for an MLP,
 * 49 as 7×7 for the ViT's patch filters. Tiles sit in rows of 20 (28×28) or 16 (7×7, with a 1-pixel
 * gap so the small filters stay apart).
 */
export function drawFields(canvas, values, side = 28) {
  const area = side * side;
  const units = values.length / area;
  const columns = side === 28 ? 20 : 16;
  const gap = side === 28 ? 0 : 1;
  const pitch = side + gap;
  canvas.width = columns * pitch - gap;
  canvas.height = Math.ceil(units / columns) * pitch - gap;
  const ctx = canvas.getContext('2d');
  const image = ctx.createImageData(canvas.width, canvas.height);
  const scale = absMax(values);
  const t = theme();
  for (let p = 0; p < image.data.length; p += 4) {
    image.data[p] = t.zero[0];
    image.data[p + 1] = t.zero[1];
    image.data[p + 2] = t.zero[2];
    image.data[p + 3] = 255;
  }
  for (let u = 0; u < units; u++) {
    const ox = (u % columns) * pitch;
    const oy = Math.floor(u / columns) * pitch;
    for (let p = 0; p < area; p++) {
      const i = ((oy + Math.floor(p / side)) * canvas.width + ox + (p % side)) * 4;
      divergingPixel(image.data, i, values[u * area + p], scale, t);
    }
  }
  ctx.putImageData(image, 0, 0);
}

// Stops of viridis, a sequential map that reads the same in grey and with colour-vision
// deficiencies.
const VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];

function viridis(f) {
  const x = Math.min(1, Math.max(0, f)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const r = x - i;
  return [0, 1, 2].map((k) => Math.round(VIRIDIS[i][k] + (VIRIDIS[i + 1][k] - VIRIDIS[i][k]) * r));
}

/**
 * 784 values as a 28×28 picture on a sequential scale (dark = low, yellow = high). `log` spreads
 * values over orders of magnitude (diag(H⁻¹) spans several); `range` fixes the scale's ends
 * instead of the values' own. Returns the [min, max] drawn.
 */
export function drawPixelMap(canvas, values, { log = false, range = null } = {}) {
  canvas.width = 28;
  canvas.height = 28;
  const ctx = canvas.getContext('2d');
  const image = ctx.createImageData(28, 28);
  const f = (v) => (log ? Math.log10(Math.max(v, 1e-12)) : v);
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  // A fixed range (e.g. shares from 0 to 1) keeps pictures comparable and a uniform map honest.
  if (range) [lo, hi] = range;
  const [a, b] = [f(lo), f(hi)];
  for (let p = 0; p < 784; p++) {
    const rgb = viridis(b > a ? (f(values[p]) - a) / (b - a) : 0);
    image.data.set([...rgb, 255], p * 4);
  }
  ctx.putImageData(image, 0, 0);
  return [lo, hi];
}

/**
 * The confusion matrix: 10×10 cells, the count in each, shaded by its share of the true class's
 * images. Off-diagonal cells (mistakes) use the orange scale, so they stand out.
 */
export function drawConfusion(canvas, matrix) {
  const n = matrix.length;
  const cell = 40;
  const margin = 34;
  canvas.width = margin + n * cell + 4;
  canvas.height = margin + n * cell + 4;
  const ctx = canvas.getContext('2d');
  const t = theme();
  ctx.fillStyle = `rgb(${t.zero.join(',')})`;
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.font = '13px sans-serif';
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  for (let r = 0; r < n; r++) {
    const total = matrix[r].reduce((a, b) => a + b, 0) || 1;
    ctx.fillStyle = t.text;
    ctx.fillText(String(r), margin / 2, margin + r * cell + cell / 2);
    ctx.fillText(String(r), margin + r * cell + cell / 2, margin / 2);
    for (let c = 0; c < n; c++) {
      const share = matrix[r][c] / total;
      const base = r === c ? NEGATIVE : POSITIVE;
      // Mistakes are rare: a square-root scale makes 1% visible.
      const f = r === c ? share : Math.min(1, Math.sqrt(share * 10));
      const rgb = [0, 1, 2].map((k) => Math.round(t.zero[k] + (base[k] - t.zero[k]) * f));
      ctx.fillStyle = `rgb(${rgb.join(',')})`;
      ctx.fillRect(margin + c * cell, margin + r * cell, cell - 1, cell - 1);
      const light = (rgb[0] * 299 + rgb[1] * 587 + rgb[2] * 114) / 1000 > 140;
      ctx.fillStyle = light ? '#1d2026' : '#f4f4f4';
      if (matrix[r][c] > 0) ctx.fillText(String(matrix[r][c]), margin + c * cell + cell / 2, margin + r * cell + cell / 2);
    }
  }
}

/** A row of test digits, each with its label and the predictions before and after pruning. */
export function drawDigits(list, digits) {
  list.replaceChildren();
  for (let k = 0; k < digits.index.length; k++) {
    const item = document.createElement('li');
    const canvas = document.createElement('canvas');
    canvas.width = 28;
    canvas.height = 28;
    const ctx = canvas.getContext('2d');
    const image = ctx.createImageData(28, 28);
    for (let p = 0; p < 784; p++) {
      const v = 255 - digits.pixels[k * 784 + p];
      image.data.set([v, v, v, 255], p * 4);
    }
    ctx.putImageData(image, 0, 0);
    const { label, before, after } = { label: digits.label[k], before: digits.before[k], after: digits.after[k] };
    canvas.setAttribute('role', 'img');
    canvas.setAttribute('aria-label', `test image ${digits.index[k]}: a ${label}`);
    const caption = document.createElement('p');
    const mark = (p) => (p === label ? '✓' : '✗');
    caption.textContent = `${before} ${mark(before)} → ${after} ${mark(after)}`;
    item.classList.toggle('flipped', before === label && after !== label);
    item.append(canvas, caption);
    item.title = `label ${label}; predicted ${before} before pruning, ${after} after`;
    list.append(item);
  }
}
