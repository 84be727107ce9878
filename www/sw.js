// The service worker that makes PrunePlay work offline once it has loaded, and cross-origin
// isolated on hosts that cannot send headers. The build copies it to the site's root (a worker
// only controls pages at or below its own folder).
//
// Network first, cache second: online, every visit gets the files as they are on the server (so a
// new build shows at once) and refreshes the cache; offline, the cached copy answers. Install
// fetches everything the page needs up front, data set and model included, because the first
// visit's own requests go out before this worker controls the page.
//
// Isolation: the threaded build of the CPU engine needs SharedArrayBuffer, which a browser gives
// only to a cross-origin isolated page, and that takes response headers. Every response this
// worker hands a page gets them (what the coi-serviceworker project does), so once it controls
// the page the page is isolated, wherever it is hosted; the page reloads itself once when the
// worker first takes control and isolation is missing (app.js).

const CACHE = 'pruneplay-v1';
const FILES = [
  './',
  './index.html',
  './www/app.js',
  './www/charts.js',
  './www/host.js',
  './www/questions.js',
  './www/compare.js',
  './www/methods.js',
  './www/lottery.js',
  './www/practice.js',
  './www/experiments.js',
  './www/prune-panel.js',
  './www/model-files.js',
  './www/downloads.js',
  './www/state.js',
  './www/views.js',
  './www/heads-view.js',
  './www/attention-view.js',
  './www/worker.js',
  './www/protocol.js',
  './www/style.css',
  './www/favicon.svg',
  './www/embed.html',
  './www/embed.js',
  './www/embed-core.js',
  './www/embed-worker.js',
  './www/prune-play.js',
  './data/calibration/calibration-images-idx3-ubyte.gz',
  './data/calibration/calibration-labels-idx1-ubyte.gz',
  './builds.json',
  './pkg/pruneplay.js',
  './pkg/pruneplay_bg.wasm',
  // The threaded build and its thread pool's worker script (absent where the build had no
  // nightly toolchain; install skips what is missing).
  './pkg-mt/pruneplay.js',
  './pkg-mt/pruneplay_bg.wasm',
  // wasm-bindgen names the folder after the crate's version: `cargo xtask build` says when a
  // new version needs this line changed.
  './pkg-mt/snippets/wasm-bindgen-rayon-38edf6e439f6d70d/src/workerHelpers.no-bundler.js',
  './model/lenet-300-100.safetensors',
  './model/vit-mnist.safetensors',
  './data/mnist/train-images-idx3-ubyte.gz',
  './data/mnist/train-labels-idx1-ubyte.gz',
  './data/mnist/t10k-images-idx3-ubyte.gz',
  './data/mnist/t10k-labels-idx1-ubyte.gz',
  // Which data sets the build has, and Fashion-MNIST's model and calibration set where it has
  // them (install skips them where it does not). Its four data files (30 MB) are not fetched up
  // front: most visits never use them, and the fetch handler below caches them the first time
  // the visitor picks Fashion-MNIST, so it works offline from then on.
  './datasets.json',
  './model/lenet-300-100-fashion.safetensors',
  './data/calibration-fashion/calibration-images-idx3-ubyte.gz',
  './data/calibration-fashion/calibration-labels-idx1-ubyte.gz',
];

// What makes a page that this worker serves cross-origin isolated: the opener and embedder
// policies on its documents and scripts, and a resource policy that lets an isolated page (this
// one, or a site embedding a view) load every file.
const ISOLATION = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'cross-origin',
};

/** `response` with the isolation headers (an opaque or redirect response passes as it is). */
function isolated(response) {
  if (response.status === 0) return response;
  const headers = new Headers(response.headers);
  for (const [name, value] of Object.entries(ISOLATION)) headers.set(name, value);
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    // One missing file (say, a build without the model) must not keep the rest from caching.
    await Promise.allSettled(FILES.map((f) => cache.add(new Request(f, { cache: 'no-cache' }))));
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) if (key !== CACHE) await caches.delete(key);
    await self.clients.claim();
  })());
});

self.addEventListener('fetch', (event) => {
  const { request } = event;
  if (request.method !== 'GET' || new URL(request.url).origin !== self.location.origin) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    try {
      const response = await fetch(request);
      // Cached alongside, not before answering: the page reads big files as a stream (its
      // download progress bar) and should not wait for the cache to take the whole body.
      if (response.ok && response.type === 'basic') event.waitUntil(cache.put(request, response.clone()));
      return isolated(response);
    } catch (e) {
      const cached = await cache.match(request, { ignoreSearch: true });
      if (cached) return isolated(cached);
      throw e;
    }
  })());
});
