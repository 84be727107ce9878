// PrunePlay's threaded build in a Web Worker, for the benchmark page: rayon's pool blocks the
// thread that calls into it while its Web Workers compute, which a page's main thread may not do
// (Atomics.wait), so the threaded build runs here, as it does in the playground's worker.
//
//   page → worker  {op: 'init', pkg, threads}   → {ok, value: threads the pool started}
//                  {op: 'run', backend}         → {ok, value: {train, infer, gflops}}

import { fetchFiles, pruneplay } from './timing.js';

let bench = null;

self.onmessage = async ({ data }) => {
  try {
    if (data.op === 'init') {
      const pkg = await import(new URL(data.pkg, import.meta.url));
      await pkg.default();
      await pkg.initThreadPool(data.threads);
      const threads = pkg.threadPoolStarted();
      bench = new pkg.Bench(...(await fetchFiles(import.meta.url)));
      self.postMessage({ ok: true, value: threads });
    } else if (data.op === 'run') {
      self.postMessage({ ok: true, value: await pruneplay(bench, data.backend) });
    }
  } catch (e) {
    self.postMessage({ ok: false, error: String(e?.message ?? e) });
  }
};
