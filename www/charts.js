// The crate's chart functions (plotters on a <canvas>), safe under a strict Content Security
// Policy.
//
// plotters sizes its labels by measuring a <span> whose style it sets with
// setAttribute('style', …), an inline style that `style-src 'self'` blocks (the span then measures
// wrong and the browser logs a violation). The same declarations set through the CSSOM
// (element.style) are allowed, so while a chart draws, a span's style attribute goes there.

import {
  drawBars as bars, drawCurves as curves, drawHistogram as histogram, drawSeries as series,
} from '../pkg/pruneplay.js';

function styleThroughCssom(draw) {
  const proto = HTMLSpanElement.prototype;
  proto.setAttribute = function setAttribute(name, value) {
    if (name === 'style') this.style.cssText = value;
    else Element.prototype.setAttribute.call(this, name, value);
  };
  try {
    return draw();
  } finally {
    delete proto.setAttribute;
  }
}

export const drawCurves = (...args) => styleThroughCssom(() => curves(...args));
export const drawHistogram = (...args) => styleThroughCssom(() => histogram(...args));
export const drawSeries = (...args) => styleThroughCssom(() => series(...args));
export const drawBars = (...args) => styleThroughCssom(() => bars(...args));

/**
 * Matches a canvas's pixel size to its displayed size, so chart text stays readable on phones:
 * the width it is shown at, and `ratio` times that as height (at least `minHeight`).
 */
export function fitCanvas(canvas, minHeight, ratio) {
  const width = Math.round(canvas.clientWidth);
  if (width > 0 && canvas.width !== width) {
    canvas.width = width;
    canvas.height = Math.max(minHeight, Math.round(width * ratio));
  }
}
