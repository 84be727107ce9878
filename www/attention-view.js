// What each head looks at, for one digit: a small picture per head, the digit in grey with its
// 16 patches (4×4, 7×7 pixels each) tinted by the attention the patch receives from that head
// (src/web/structure.rs, `attention`: Vit::attention_received), before pruning and after.
// Removed heads and blocks are drawn faded and crossed out.

const SIDE = 28;
const PATCH = 7;
const GRID = 4;
// Okabe–Ito orange, the page's highlight colour.
const TINT = [230, 159, 0];

/** One head's picture: the digit, the patches tinted by `received` relative to its largest. */
function headCanvas(pixels, received, removed) {
  const canvas = document.createElement('canvas');
  canvas.width = SIDE;
  canvas.height = SIDE;
  const ctx = canvas.getContext('2d');
  const image = ctx.createImageData(SIDE, SIDE);
  const top = Math.max(...received, Number.MIN_VALUE);
  for (let p = 0; p < SIDE * SIDE; p++) {
    const r = Math.floor(p / SIDE);
    const c = p % SIDE;
    const a = received[Math.floor(r / PATCH) * GRID + Math.floor(c / PATCH)] / top;
    const ink = pixels[p] / 255;
    // White paper, the digit in dark grey, the tint over both in proportion to the attention.
    const grey = 255 - 170 * ink;
    const rgb = [0, 1, 2].map((k) => Math.round(grey + (TINT[k] - grey) * 0.85 * a));
    const faded = removed ? rgb.map((v) => Math.round(200 + (v - 200) * 0.25)) : rgb;
    image.data.set([...faded, 255], p * 4);
  }
  ctx.putImageData(image, 0, 0);
  if (removed) {
    ctx.strokeStyle = '#555';
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    ctx.moveTo(2, 2);
    ctx.lineTo(SIDE - 2, SIDE - 2);
    ctx.moveTo(SIDE - 2, 2);
    ctx.lineTo(2, SIDE - 2);
    ctx.stroke();
  }
  return canvas;
}

/** One side (before or after): a table of blocks × heads. */
function side(title, pixels, attention, masks, removedBlocks) {
  const figure = document.createElement('figure');
  figure.className = 'attention-side';
  const table = document.createElement('table');
  table.className = 'attention-grid';
  let removedCount = 0;
  attention.forEach((heads, b) => {
    const row = table.insertRow();
    const th = document.createElement('th');
    th.scope = 'row';
    th.textContent = `block ${b}`;
    row.append(th);
    heads.forEach((received, h) => {
      const removed = Boolean(removedBlocks?.[b]) || masks?.[b]?.[h] === 0;
      const cell = row.insertCell();
      cell.className = removed ? 'head removed' : 'head';
      cell.dataset.removed = String(removed);
      const canvas = headCanvas(pixels, received, removed);
      const where = received.indexOf(Math.max(...received));
      const label = `block ${b}, head ${h}${removed ? ' (removed)' : ''}: most attention on patch row ${Math.floor(where / GRID)}, column ${where % GRID}`;
      canvas.setAttribute('role', 'img');
      canvas.setAttribute('aria-label', label);
      cell.title = label;
      cell.append(canvas);
      if (removed) removedCount += 1;
    });
  });
  const caption = document.createElement('figcaption');
  caption.textContent = title;
  figure.append(table, caption);
  figure.dataset.removed = String(removedCount);
  return figure;
}

/** Draws the worker's `attention` report into `container`. */
export function drawAttention(container, a) {
  const before = side(`Before pruning: ${a.source} digit ${a.index}, a ${a.label}`, a.pixels, a.before, null, null);
  before.classList.add('before');
  const parts = [before];
  if (a.after) {
    const after = side('After pruning', a.pixels, a.after, a.afterHeadMasks, a.afterRemovedBlocks);
    after.classList.add('after');
    parts.push(after);
  } else {
    const note = document.createElement('p');
    note.className = 'caption';
    note.textContent = 'Step through the threshold stage to see the pruned model beside it.';
    parts.push(note);
  }
  container.replaceChildren(...parts);
  container.dataset.index = String(a.index);
}
