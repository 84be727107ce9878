// What an embedded view computes, without touching the DOM, so it runs the same in the embed's
// worker or, where a sandboxed frame cannot start one, on the frame's main thread.
//
// An embed loads only what its view needs: the shipped model (LeNet, or the ViT for the views of
// heads and blocks), the 1,024-image calibration set
// (only for methods that calibrate) and the test set (only for views that show accuracy). Never
// the 10 MB training set.

import init, {
  Comparison, LotteryLab, ModelStore, Practice, WalkThrough,
} from '../pkg/pruneplay.js';
import { runExperiment } from './experiments.js';

const MODEL = new URL('../model/lenet-300-100.safetensors', import.meta.url);
// The heads, attention and layers views, and the practice questions about heads, use the ViT.
const VIT = new URL('../model/vit-mnist.safetensors', import.meta.url);
const DATA = new URL('../data/', import.meta.url);
const CALIBRATION = ['calibration/calibration-images-idx3-ubyte.gz', 'calibration/calibration-labels-idx1-ubyte.gz'];
const TEST = ['mnist/t10k-images-idx3-ubyte.gz', 'mnist/t10k-labels-idx1-ubyte.gz'];

async function bytes(url) {
  let response;
  try {
    response = await fetch(url);
  } catch (e) {
    throw new Error(`Could not download ${url.pathname}: ${e.message ?? e}`);
  }
  if (!response.ok) throw new Error(`Could not download ${url.pathname}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

/**
 * Loads the wasm module, the model, and the data `needs` asks for: `calibration` (for methods
 * that calibrate) and `test` (for views that measure accuracy). Returns the embed's cards (over
 * one store), the model summary and the bytes downloaded.
 */
export async function open(needs) {
  await init();
  const store = new ModelStore();
  const cards = {
    walk: new WalkThrough(store), compare: new Comparison(store), practice: new Practice(store), lab: new LotteryLab(store),
  };
  const parts = [[needs.vit ? VIT : MODEL], needs.calibration ? CALIBRATION : [], needs.test ? TEST : []];
  const [model, calibration, test] = await Promise.all(parts.map((files) =>
    Promise.all(files.map((f) => bytes(f instanceof URL ? f : new URL(f, DATA))))));
  store.loadPruningData(calibration[0], calibration[1], test[0], test[1]);
  const loaded = store.loadModel(model[0]);
  const downloaded = [...model, ...calibration, ...test].reduce((n, f) => n + f.length, 0);
  return { cards, loaded, downloaded };
}

/**
 * Prunes the model as `request` says and returns what the views draw; on the ViT (`vit`) also
 * its heads and blocks and what each head looks at for digit `digit`.
 */
export function picture({ walk }, request, {
  accuracy, layer, vit = false, digit = 0,
}) {
  const stages = ['scores', 'select', ...(accuracy ? ['apply'] : [])];
  const reports = {};
  for (const stage of stages) reports[stage] = walk.pruneStep({ ...request, stage });
  return {
    reports,
    fields: walk.layerWeights(0),
    heat: walk.layerWeights(layer),
    maps: walk.pixelMaps(),
    structure: vit ? walk.structure() : null,
    attention: vit ? walk.attention(digit) : null,
  };
}

/** One point of a sweep: one-shot pruning at `request.sparsity`, tested. */
export const sweepPoint = ({ compare }, request) => compare.sweepPoint(request);

/** A practice question's demonstration; `tick` lets the frame breathe between its pieces. */
export function experiment(cards, name, tick) {
  return runExperiment(cards, name, { tick, loadVit: () => bytes(VIT) });
}

/**
 * The embed's operations as one handler, for its worker and its main thread alike:
 * `handle({op: 'open', needs})` first, then `{op: 'picture', request, options}`,
 * `{op: 'sweep-point', request}` or `{op: 'experiment', name}`; anything else is an error.
 * `tick(fraction, text)` runs between a demonstration's pieces (`yieldEach` unless a call
 * brings its own, to report progress or stop at a Cancel).
 */
export function createHandler(yieldEach) {
  let opened = null;
  return async function handle(m, tick = yieldEach) {
    if (m.op === 'open') {
      opened = await open(m.needs);
      return { loaded: opened.loaded, downloaded: opened.downloaded };
    }
    if (!opened) throw new Error('the embed has not opened its model yet');
    switch (m.op) {
      case 'picture':
        return picture(opened.cards, m.request, m.options);
      case 'sweep-point':
        return sweepPoint(opened.cards, m.request);
      case 'experiment':
        return experiment(opened.cards, m.name, tick);
      default:
        throw new Error(`unknown operation ${m.op}`);
    }
  };
}

/**
 * A demonstration's `tick` for `handle` that reports through `job` (a protocol.js job, or the
 * main thread's stand-in with the same `event` and `checkpoint`): its progress, then a stop if a
 * Cancel has come.
 */
export const progressTick = (job) => async (fraction, text) => {
  job.event('progress', { fraction: Math.min(1, fraction), text });
  await job.checkpoint();
};
