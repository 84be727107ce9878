// TensorFlow.js's threaded wasm (XNNPACK on Emscripten pthreads), in the benchmark page's frame:
// cross-origin isolated like its parent, so tfjs-backend-wasm picks its threaded SIMD binary, on
// every core. The parent calls `window.benchTfjs`.

import { tfjs } from './timing.js';

// tfjs-backend-wasm caps its thread pool at half of navigator.hardwareConcurrency (it takes
// every core to have two hyperthreads), which on a 2-vCPU machine is one thread whatever
// setThreadsCount asks. Doubling what it reads lets it use every core, as PrunePlay's pool does.
const cores = navigator.hardwareConcurrency || 1;
Object.defineProperty(navigator, 'hardwareConcurrency', { get: () => 2 * cores });
tf.wasm.setWasmPaths(new URL('tfjs/', location.href).href);
tf.wasm.setThreadsCount(cores);

// The parent's arrays are copied into this realm's: TF.js checks `instanceof Float32Array`.
window.benchTfjs = async (images, labels, testImages) => {
  const result = await tfjs('wasm', Float32Array.from(images), Uint8Array.from(labels), Float32Array.from(testImages));
  return { ...result, threads: tf.wasm.getThreadsCount() };
};
window.tfjsReady = true;
