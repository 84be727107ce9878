// Times PrunePlay and TensorFlow.js training the same 784-300-100-10 MLP (SGD, lr 0.05,
// momentum 0.9, batch 128) on the same MNIST images, alternating the four programs in one page:
// PrunePlay WebGPU, TF.js WebGPU, PrunePlay CPU-wasm, TF.js wasm. Also times inference on the
// 10,000 test images. Each program syncs with the device once per 10 steps (PrunePlay reads its
// metrics back, TF.js reads the loss), so neither is timed on work still queued.
//
// The result is left in `window.benchResult` for bench/browser/run.mjs.

import init, { Bench } from '../pkg/pruneplay.js';

const BATCH = 128;
const ROUNDS = Number(new URLSearchParams(location.search).get('rounds') ?? 2);
// Timed for at least this long per measurement, in chunks of STEPS_PER_SYNC steps.
const MIN_MS = 4_000;
const STEPS_PER_SYNC = 10;
// TF.js trains on the first TF_SAMPLES training images (50 batches), held on its device.
const TF_SAMPLES = 50 * BATCH;
const FILES = ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'];

const log = (message) => {
  console.log(message);
  document.getElementById('log').textContent += `${message}\n`;
};

async function fetchBytes(name) {
  const response = await fetch(`../data/mnist/${name}`);
  if (!response.ok) throw new Error(`${name}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

/** Runs `chunk()` (STEPS_PER_SYNC steps, awaited) until MIN_MS have passed; samples per second. */
async function timeTraining(chunk) {
  await chunk(); // warm-up: pipelines, first uploads
  const start = performance.now();
  let steps = 0;
  while (performance.now() - start < MIN_MS) {
    await chunk();
    steps += STEPS_PER_SYNC;
  }
  return (steps * BATCH * 1000) / (performance.now() - start);
}

async function timeInference(infer) {
  await infer(); // warm-up
  const start = performance.now();
  await infer();
  return (10_000 * 1000) / (performance.now() - start);
}

async function pruneplay(bench, backend) {
  bench.setUp(backend, BATCH);
  const train = await timeTraining(() => bench.train(STEPS_PER_SYNC));
  const infer = await timeInference(() => bench.infer());
  return { train, infer, gflops: (train * 3 * bench.forwardFlops()) / 1e9 };
}

async function tfjs(backend, images, labels, testImages) {
  await tf.setBackend(backend);
  await tf.ready();
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [784], units: 300, activation: 'relu' }),
      tf.layers.dense({ units: 100, activation: 'relu' }),
      tf.layers.dense({ units: 10 }),
    ],
  });
  const optimizer = tf.train.momentum(0.05, 0.9);
  const xs = tf.tensor2d(images, [TF_SAMPLES, 784]);
  const ys = tf.oneHot(tf.tensor1d(Int32Array.from(labels), 'int32'), 10).toFloat();
  const testX = tf.tensor2d(testImages, [10_000, 784]);
  let step = 0;
  const chunk = async () => {
    let cost = null;
    for (let i = 0; i < STEPS_PER_SYNC; i++, step++) {
      const start = (step * BATCH) % (TF_SAMPLES - BATCH + 1);
      if (cost) cost.dispose();
      cost = optimizer.minimize(() => {
        const xb = xs.slice([start, 0], [BATCH, 784]);
        const yb = ys.slice([start, 0], [BATCH, 10]);
        return tf.losses.softmaxCrossEntropy(yb, model.apply(xb));
      }, true);
    }
    await cost.data();
    cost.dispose();
  };
  const infer = async () => {
    const predictions = tf.tidy(() => model.predict(testX, { batchSize: 1000 }).argMax(-1));
    await predictions.data();
    predictions.dispose();
  };
  try {
    const train = await timeTraining(chunk);
    const inference = await timeInference(infer);
    return { train, infer: inference };
  } finally {
    tf.dispose([xs, ys, testX]);
    model.dispose();
    optimizer.dispose();
  }
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};

async function main() {
  await init();
  tf.wasm.setWasmPaths(new URL('tfjs/', location.href).href);
  const files = await Promise.all(FILES.map(fetchBytes));
  const bench = new Bench(...files);
  const adapter = await bench.initGpu();
  const gpuAdapter = await navigator.gpu.requestAdapter();
  const info = gpuAdapter?.info;
  const adapterText = [info?.vendor, info?.architecture, info?.description].filter(Boolean).join(' ') || adapter;
  log(`adapter: ${adapterText}`);
  const images = bench.trainImages(TF_SAMPLES);
  const labels = bench.trainLabels(TF_SAMPLES);
  const testImages = bench.testImages();

  const runs = {
    pruneplay_webgpu: [],
    tfjs_webgpu: [],
    pruneplay_wasm: [],
    tfjs_wasm: [],
    pruneplay_wasm_vit: [],
  };
  for (let round = 1; round <= ROUNDS; round++) {
    for (const [name, run] of [
      ['pruneplay_webgpu', () => pruneplay(bench, 'webgpu')],
      ['tfjs_webgpu', () => tfjs('webgpu', images, labels, testImages)],
      ['pruneplay_wasm', () => pruneplay(bench, 'cpu')],
      ['tfjs_wasm', () => tfjs('wasm', images, labels, testImages)],
      ['pruneplay_wasm_vit', () => pruneplay(bench, 'cpu-vit')],
    ]) {
      const result = await run();
      runs[name].push(result);
      log(`round ${round} ${name}: train ${result.train.toFixed(0)} samples/s, inference ${result.infer.toFixed(0)} samples/s`);
    }
  }
  const summary = { adapter: adapterText, batch: BATCH, rounds: ROUNDS };
  for (const [name, results] of Object.entries(runs)) {
    summary[`${name}_train_sps`] = median(results.map((r) => r.train));
    summary[`${name}_infer_sps`] = median(results.map((r) => r.infer));
    if (results[0]?.gflops !== undefined) {
      summary[`${name}_train_gflops`] = median(results.map((r) => r.gflops));
    }
  }
  summary.webgpu_train_ratio = summary.pruneplay_webgpu_train_sps / summary.tfjs_webgpu_train_sps;
  summary.wasm_train_ratio = summary.pruneplay_wasm_train_sps / summary.tfjs_wasm_train_sps;
  summary.webgpu_infer_ratio = summary.pruneplay_webgpu_infer_sps / summary.tfjs_webgpu_infer_sps;
  summary.wasm_infer_ratio = summary.pruneplay_wasm_infer_sps / summary.tfjs_wasm_infer_sps;
  window.benchResult = summary;
}

main().catch((e) => {
  log(`error: ${e?.message ?? e}`);
  window.benchResult = { error: String(e?.message ?? e) };
});
