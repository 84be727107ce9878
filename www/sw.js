// The service worker that makes PrunePlay work offline once it has loaded. The build copies it to
// the site's root (a worker only controls pages at or below its own folder).
//
// Network first, cache second: online, every visit gets the files as they are on the server (so a
// new build shows at once) and refreshes the cache; offline, the cached copy answers. Install
// fetches everything the page needs up front, data set and model included, because the first
// visit's own requests go out before this worker controls the page.

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
  './pkg/pruneplay.js',
  './pkg/pruneplay_bg.wasm',
  './model/lenet-300-100.safetensors',
  './model/vit-mnist.safetensors',
  './data/mnist/train-images-idx3-ubyte.gz',
  './data/mnist/train-labels-idx1-ubyte.gz',
  './data/mnist/t10k-images-idx3-ubyte.gz',
  './data/mnist/t10k-labels-idx1-ubyte.gz',
];

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
      return response;
    } catch (e) {
      const cached = await cache.match(request, { ignoreSearch: true });
      if (cached) return cached;
      throw e;
    }
  })());
});
