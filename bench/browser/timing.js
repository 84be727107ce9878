// The timing protocol every program of the browser benchmark is measured with, shared by the
// page (bench.js), the threaded build's worker (bench-worker.js) and TF.js's isolated frame
// (tfjs-mt.js), so that all of them are timed the same way.

export const BATCH = 128;
// Timed for at least this long per measurement, in chunks of STEPS_PER_SYNC steps.
const MIN_MS = 4_000;
const STEPS_PER_SYNC = 10;
// TF.js trains on the first TF_SAMPLES training images (50 batches), held on its device.
export const TF_SAMPLES = 50 * BATCH;
export const FILES = ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'];

/** The four MNIST files, relative to the benchmark's folder (dist/bench/). */
export async function fetchFiles(base) {
  return Promise.all(FILES.map(async (name) => {
    const response = await fetch(new URL(`../data/mnist/${name}`, base));
    if (!response.ok) throw new Error(`${name}: HTTP ${response.status}`);
    return new Uint8Array(await response.arrayBuffer());
  }));
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

/** PrunePlay's `Bench` on `backend` ("webgpu", "cpu" or "cpu-vit"). */
export async function pruneplay(bench, backend) {
  bench.setUp(backend, BATCH);
  const train = await timeTraining(() => bench.train(STEPS_PER_SYNC));
  const infer = await timeInference(() => bench.infer());
  return { train, infer, gflops: (train * 3 * bench.forwardFlops()) / 1e9 };
}

/** TensorFlow.js (the global `tf` of the realm this module runs in) on `backend`. */
export async function tfjs(backend, images, labels, testImages) {
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
