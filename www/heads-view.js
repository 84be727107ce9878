// The ViT's structure as pictures: the head grid (a row per block, a cell per head, shaded by the
// head method's score, removed heads crossed out, the score on hover) and the block bars (one
// bar per block score, removed blocks marked). Both are SVG built through the DOM, so every cell
// carries its <title> tooltip and its state as data attributes. The numbers come from the
// worker's `structure` report (src/web/structure.rs); nothing is computed here but the layout.

const SVG = 'http://www.w3.org/2000/svg';
const CELL = 44;
const GAP = 4;
const LEFT = 64;
const TOP = 22;

// Stops of viridis, as views.js uses for sequential values.
const VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
function viridis(f) {
  const x = Math.min(1, Math.max(0, f)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const r = x - i;
  return `rgb(${[0, 1, 2].map((k) => Math.round(VIRIDIS[i][k] + (VIRIDIS[i + 1][k] - VIRIDIS[i][k]) * r)).join(',')})`;
}

function el(name, attributes = {}, text = null) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attributes)) node.setAttribute(k, String(v));
  if (text !== null) node.textContent = text;
  return node;
}

const fmt = (v) => (Number.isFinite(v) ? (Math.abs(v) >= 0.01 || v === 0 ? v.toFixed(4) : v.toExponential(2)) : 'n/a');

/** A cross over a box: what "removed" looks like in both pictures. */
function cross(x, y, w, h) {
  const g = el('g', { class: 'cross' });
  g.append(el('line', { x1: x + 4, y1: y + 4, x2: x + w - 4, y2: y + h - 4 }),
    el('line', { x1: x + w - 4, y1: y + 4, x2: x + 4, y2: y + h - 4 }));
  return g;
}

/**
 * The head grid of `view` (the worker's structure report) into `container`. Cells are shaded by
 * the head scores when the method has them (relative to the largest), else show only kept or
 * removed. Returns the number of crossed-out heads.
 */
export function drawHeadGrid(container, view) {
  const heads = view.headsPerBlock;
  const depth = heads.length;
  const widest = Math.max(1, ...heads);
  const width = LEFT + widest * (CELL + GAP);
  const height = TOP + depth * (CELL + GAP);
  const svg = el('svg', { viewBox: `0 0 ${width} ${height}`, width, height, class: 'heads-svg' });
  for (let h = 0; h < widest; h++) {
    svg.append(el('text', { x: LEFT + h * (CELL + GAP) + CELL / 2, y: TOP - 7, 'text-anchor': 'middle', class: 'axis' }, `head ${h}`));
  }
  const scores = view.headScores;
  let top = 0;
  for (const row of scores ?? []) for (const v of row) if (Number.isFinite(v) && v > top) top = v;
  let crossed = 0;
  for (let b = 0; b < depth; b++) {
    const y = TOP + b * (CELL + GAP);
    const blockGone = Boolean(view.removedBlocks?.[b]);
    svg.append(el('text', { x: LEFT - 8, y: y + CELL / 2 + 4, 'text-anchor': 'end', class: 'axis' }, `block ${b}`));
    for (let h = 0; h < heads[b]; h++) {
      const x = LEFT + h * (CELL + GAP);
      const masked = view.headMasks?.[b]?.[h] === 0;
      const removed = masked || blockGone;
      const score = scores?.[b]?.[h];
      const g = el('g', {
        class: `head${removed ? ' removed' : ''}`, 'data-block': b, 'data-head': h, 'data-removed': String(removed),
      });
      if (Number.isFinite(score)) g.dataset.score = String(score);
      const fill = Number.isFinite(score) ? viridis(top > 0 ? score / top : 0) : 'var(--head-kept)';
      g.append(el('rect', { x, y, width: CELL, height: CELL, rx: 4, fill }));
      const state = blockGone ? 'its block removed' : masked ? 'removed' : 'kept';
      g.append(el('title', {}, `block ${b}, head ${h}: ${Number.isFinite(score) ? `score ${fmt(score)}, ` : ''}${state}`));
      if (removed) {
        g.append(cross(x, y, CELL, CELL));
        crossed += 1;
      }
      svg.append(g);
    }
  }
  container.replaceChildren(svg);
  container.dataset.crossed = String(crossed);
  return crossed;
}

/**
 * The block bars of `view` into `container`: one bar per block score (per window start for
 * layers-angular), removed blocks marked. Returns the number of bars marked removed.
 */
export function drawBlockBars(container, view) {
  const values = view.blockScores ?? [];
  const window = view.window ?? 1;
  const removed = view.removedBlocks ?? [];
  const n = values.length;
  const barW = 56;
  const chartH = 150;
  const width = LEFT + Math.max(1, n) * (barW + 12);
  const height = TOP + chartH + 40;
  const svg = el('svg', { viewBox: `0 0 ${width} ${height}`, width, height, class: 'bars-svg' });
  const top = Math.max(...values.filter(Number.isFinite).map(Math.abs), Number.MIN_VALUE);
  svg.append(el('line', { x1: LEFT - 4, y1: TOP + chartH, x2: width, y2: TOP + chartH, class: 'baseline' }));
  svg.append(el('text', { x: 4, y: TOP - 8, class: 'axis' }, window > 1 ? `distance across ${window} blocks` : 'block score'));
  let marked = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    const x = LEFT + i * (barW + 12);
    const h = Number.isFinite(v) ? (chartH * Math.abs(v)) / top : 0;
    // A bar is marked when every block it stands for was removed.
    const covers = Array.from({ length: window }, (_, k) => i + k);
    const gone = view.selected && covers.every((b) => removed[b]);
    const label = window > 1 ? `blocks ${i}–${i + window - 1}` : `block ${i}`;
    const g = el('g', { class: `bar${gone ? ' removed' : ''}`, 'data-index': i, 'data-removed': String(gone), 'data-score': String(v) });
    g.append(el('rect', { x, y: TOP + chartH - h, width: barW, height: Math.max(1, h) }));
    g.append(el('text', { x: x + barW / 2, y: TOP + chartH + 16, 'text-anchor': 'middle', class: 'axis' }, label));
    g.append(el('text', { x: x + barW / 2, y: TOP + chartH - h - 4, 'text-anchor': 'middle', class: 'value' }, fmt(v)));
    if (gone) {
      g.append(el('text', { x: x + barW / 2, y: TOP + chartH + 32, 'text-anchor': 'middle', class: 'removed-label' }, 'removed'));
      marked += 1;
    }
    g.append(el('title', {}, `${label}: ${fmt(v)}${gone ? ', removed' : ''}`));
    svg.append(g);
  }
  container.replaceChildren(svg);
  container.dataset.marked = String(marked);
  return marked;
}
