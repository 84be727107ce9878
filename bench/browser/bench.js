// Times PrunePlay and TensorFlow.js training the same 784-300-100-10 MLP (SGD, lr 0.05,
// momentum 0.9, batch 128) on the same MNIST images, alternating the programs in one page:
// PrunePlay WebGPU, TF.js WebGPU, PrunePlay CPU-wasm, TF.js wasm, and with threads (the page is
// cross-origin isolated) PrunePlay's threaded wasm and TF.js's threaded wasm on every core. Also
// times inference on the 10,000 test images. Each program syncs with the device once per 10
// steps (PrunePlay reads its metrics back, TF.js reads the loss), so neither is timed on work
// still queued (timing.js).
//
// The single-threaded programs run on this page's main thread, as before; PrunePlay's threaded
// build in a worker (bench-worker.js: rayon may not block a main thread), TF.js's threaded wasm
// in a frame of its own (tfjs-mt.html: TF.js picks its binary once per page, and here it is told
// to keep the single-threaded one).
//
// The result is left in `window.benchResult` for bench/browser/run.mjs.

import init, { Bench } from '../pkg/pruneplay.js';
import { TF_SAMPLES, fetchFiles, pruneplay, tfjs } from './timing.js';

const PARAMS = new URLSearchParams(location.search);
const ROUNDS = Number(PARAMS.get('rounds') ?? 2);
// `only=pruneplay_wasm,pruneplay_wasm_mt` times just those programs (for quick comparisons while
// tuning one of them); the summary then has only their keys and the ratios they make.
const ONLY = PARAMS.get('only')?.split(',').filter(Boolean) ?? null;
// `threads=N` sizes the threaded builds' pools (every core by default).
const THREADS = Number(PARAMS.get('threads') ?? (navigator.hardwareConcurrency || 1));

const log = (message) => {
  console.log(message);
  document.getElementById('log').textContent += `${message}\n`;
};

/** The threaded build in its worker: `run(backend)` times it like `pruneplay()` does here. */
async function threadedPruneplay() {
  const builds = await (await fetch('../builds.json')).json();
  if (!builds.threaded) throw new Error(`no threaded build (${builds.why})`);
  const worker = new Worker(new URL('bench-worker.js', location.href), { type: 'module' });
  const ask = (message) => new Promise((resolve, reject) => {
    worker.onmessage = ({ data }) => (data.ok ? resolve(data.value) : reject(new Error(data.error)));
    worker.onerror = (e) => reject(new Error(e.message ?? 'the benchmark worker failed'));
    worker.postMessage(message);
  });
  const threads = await ask({ op: 'init', pkg: `../${builds.threaded}`, threads: THREADS });
  return { threads, run: (backend) => ask({ op: 'run', backend }) };
}

/** TF.js's threaded wasm in its frame (same origin, so isolated like this page). */
async function threadedTfjs() {
  const frame = document.createElement('iframe');
  frame.src = 'tfjs-mt.html';
  frame.hidden = true;
  document.body.append(frame);
  const started = performance.now();
  while (!frame.contentWindow?.tfjsReady) {
    if (performance.now() - started > 60_000) throw new Error('the TF.js frame did not load');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  if (!frame.contentWindow.crossOriginIsolated) throw new Error('the TF.js frame is not cross-origin isolated');
  return (images, labels, testImages) => frame.contentWindow.benchTfjs(images, labels, testImages);
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};

async function main() {
  if (!crossOriginIsolated) throw new Error('the benchmark page is not cross-origin isolated: serve it with `cargo xtask bench`');
  await init();
  tf.wasm.setWasmPaths(new URL('tfjs/', location.href).href);
  // This page's TF.js wasm stays single-threaded, as it is on a page without isolation; its
  // threaded binary runs in the frame.
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  const files = await fetchFiles(location.href);
  const bench = new Bench(...files);
  const adapter = await bench.initGpu();
  const gpuAdapter = await navigator.gpu.requestAdapter();
  const info = gpuAdapter?.info;
  const adapterText = [info?.vendor, info?.architecture, info?.description].filter(Boolean).join(' ') || adapter;
  log(`adapter: ${adapterText}`);
  const images = bench.trainImages(TF_SAMPLES);
  const labels = bench.trainLabels(TF_SAMPLES);
  const testImages = bench.testImages();
  const mt = await threadedPruneplay();
  const tfjsMt = await threadedTfjs();
  log(`threads: ${THREADS} cores, PrunePlay's pool ${mt.threads}`);

  const runs = {
    pruneplay_webgpu: [],
    tfjs_webgpu: [],
    pruneplay_wasm: [],
    tfjs_wasm: [],
    pruneplay_wasm_mt: [],
    tfjs_wasm_mt: [],
    pruneplay_wasm_vit: [],
    pruneplay_wasm_mt_vit: [],
    pruneplay_webgpu_vit: [],
  };
  let tfjsThreads = null;
  for (let round = 1; round <= ROUNDS; round++) {
    for (const [name, run] of [
      ['pruneplay_webgpu', () => pruneplay(bench, 'webgpu')],
      ['tfjs_webgpu', () => tfjs('webgpu', images, labels, testImages)],
      ['pruneplay_wasm', () => pruneplay(bench, 'cpu')],
      ['tfjs_wasm', () => tfjs('wasm', images, labels, testImages)],
      ['pruneplay_wasm_mt', () => mt.run('cpu')],
      ['tfjs_wasm_mt', () => tfjsMt(images, labels, testImages)],
      ['pruneplay_wasm_vit', () => pruneplay(bench, 'cpu-vit')],
      ['pruneplay_wasm_mt_vit', () => mt.run('cpu-vit')],
      ['pruneplay_webgpu_vit', () => pruneplay(bench, 'webgpu-vit')],
    ].filter(([name]) => !ONLY || ONLY.includes(name))) {
      const result = await run();
      runs[name].push(result);
      if (result.threads) tfjsThreads = result.threads;
      log(`round ${round} ${name}: train ${result.train.toFixed(0)} samples/s, inference ${result.infer.toFixed(0)} samples/s`);
    }
  }
  const summary = { adapter: adapterText, batch: 128, rounds: ROUNDS, wasm_threads: mt.threads, tfjs_wasm_threads: tfjsThreads };
  for (const [name, results] of Object.entries(runs)) {
    if (!results.length) continue;
    summary[`${name}_train_sps`] = median(results.map((r) => r.train));
    summary[`${name}_infer_sps`] = median(results.map((r) => r.infer));
    if (results[0]?.gflops !== undefined) {
      summary[`${name}_train_gflops`] = median(results.map((r) => r.gflops));
    }
  }
  summary.webgpu_train_ratio = summary.pruneplay_webgpu_train_sps / summary.tfjs_webgpu_train_sps;
  summary.wasm_train_ratio = summary.pruneplay_wasm_train_sps / summary.tfjs_wasm_train_sps;
  summary.wasm_mt_train_ratio = summary.pruneplay_wasm_mt_train_sps / summary.tfjs_wasm_mt_train_sps;
  summary.webgpu_infer_ratio = summary.pruneplay_webgpu_infer_sps / summary.tfjs_webgpu_infer_sps;
  summary.wasm_infer_ratio = summary.pruneplay_wasm_infer_sps / summary.tfjs_wasm_infer_sps;
  summary.wasm_mt_infer_ratio = summary.pruneplay_wasm_mt_infer_sps / summary.tfjs_wasm_mt_infer_sps;
  // What the threads buy, each program against its own single-threaded build.
  summary.wasm_mt_speedup = summary.pruneplay_wasm_mt_train_sps / summary.pruneplay_wasm_train_sps;
  summary.tfjs_wasm_mt_speedup = summary.tfjs_wasm_mt_train_sps / summary.tfjs_wasm_train_sps;
  summary.wasm_mt_vit_speedup = summary.pruneplay_wasm_mt_vit_train_sps / summary.pruneplay_wasm_vit_train_sps;
  // The ViT's kernels against LeNet's on the same adapter, in useful GFLOP/s.
  summary.webgpu_vit_lenet_gflops_ratio = summary.pruneplay_webgpu_vit_train_gflops / summary.pruneplay_webgpu_train_gflops;
  window.benchResult = summary;
}

main().catch((e) => {
  log(`error: ${e?.message ?? e}`);
  window.benchResult = { error: String(e?.message ?? e) };
});
