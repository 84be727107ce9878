// The training worker: downloads and decodes MNIST, then trains a chunk of steps at a time on the
// CPU engine (Rust compiled to WebAssembly), posting progress after each chunk. Heavy work lives
// here so the page's main thread never blocks.
//
// Messages in:  {type: 'start', config}, {type: 'cancel'}
// Messages out: {type: 'ready'}, {type: 'download', loaded, total},
//               {type: 'data', summary}, {type: 'progress', progress}, {type: 'done', report},
//               {type: 'cancelled', step}, {type: 'error', message}

import init, { Session } from '../pkg/pruneplay.js';

const FILES = [
  'train-images-idx3-ubyte.gz',
  'train-labels-idx1-ubyte.gz',
  't10k-images-idx3-ubyte.gz',
  't10k-labels-idx1-ubyte.gz',
];
const DATA_DIR = new URL('../data/mnist/', import.meta.url);
// Steps between progress reports: each report also evaluates 1,000 validation images, which costs
// about as much as 17 steps of 60, so reporting much more often would slow training down.
const STEPS_PER_CHUNK = 50;

let session = null;
let dataReady = null;
let cancelRequested = false;

const post = (message) => self.postMessage(message);
const errorText = (e) => (e instanceof Error ? e.message : String(e));

/** Downloads every file in parallel, reporting bytes received of the total. */
async function download() {
  const loaded = new Array(FILES.length).fill(0);
  const totals = new Array(FILES.length).fill(0);
  const report = () =>
    post({ type: 'download', loaded: loaded.reduce((a, b) => a + b), total: totals.reduce((a, b) => a + b) });
  return Promise.all(FILES.map(async (name, i) => {
    const url = new URL(name, DATA_DIR);
    let response;
    try {
      response = await fetch(url);
    } catch (e) {
      throw new Error(`Could not download ${name}: ${errorText(e)}`);
    }
    if (!response.ok) {
      const hint = response.status === 404 ? ' (the server has no data: run `cargo xtask serve` to fetch it)' : '';
      throw new Error(`Could not download ${name}: HTTP ${response.status}${hint}`);
    }
    totals[i] = Number(response.headers.get('Content-Length')) || 0;
    const reader = response.body.getReader();
    const chunks = [];
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      loaded[i] += value.length;
      report();
    }
    const bytes = new Uint8Array(loaded[i]);
    let offset = 0;
    for (const c of chunks) {
      bytes.set(c, offset);
      offset += c.length;
    }
    return bytes;
  }));
}

async function loadData() {
  await init();
  session = new Session();
  const [a, b, c, d] = await download();
  post({ type: 'decoding' });
  const summary = session.loadData(a, b, c, d);
  post({ type: 'data', summary });
}

/** Lets queued messages (a Cancel) run between chunks. */
const yieldToEvents = () => new Promise((resolve) => setTimeout(resolve, 0));

async function train(config) {
  cancelRequested = false;
  session.start(config);
  while (!session.finished) {
    const progress = session.trainSteps(STEPS_PER_CHUNK);
    post({ type: 'progress', progress });
    await yieldToEvents();
    if (cancelRequested) {
      post({ type: 'cancelled', step: progress.step });
      return;
    }
  }
  post({ type: 'evaluating' });
  post({ type: 'done', report: session.test() });
}

self.onmessage = async (event) => {
  const message = event.data;
  if (message?.type === 'cancel') {
    cancelRequested = true;
    return;
  }
  if (message?.type === 'start') {
    try {
      if (!(await dataReady)) {
        post({ type: 'error', message: 'The data set could not be loaded; reload the page to try again.', fatal: true });
        return;
      }
      await train(message.config);
    } catch (e) {
      post({ type: 'error', message: errorText(e) });
    }
  }
};

// Resolves to whether the data loaded; a failure is reported once, here, and not rethrown (an
// unhandled rejection would surface as a second, vaguer error on the page).
dataReady = loadData().then(
  () => true,
  (e) => {
    post({ type: 'error', message: errorText(e), fatal: true });
    return false;
  },
);
