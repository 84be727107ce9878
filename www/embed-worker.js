// The embed's worker: the same computations as embed-core.js, off the frame's main thread.
//
// Messages in:  {id, op: 'open', needs} | {id, op: 'picture', request, options}
//               | {id, op: 'sweep-point', request} | {id, op: 'experiment', name}
// Messages out: {id, ok: true, value} | {id, ok: false, error}

import { createHandler } from './embed-core.js';

// Nothing else shares this thread, so a demonstration need not yield.
const handle = createHandler(async () => {});

self.onmessage = async ({ data: m }) => {
  try {
    const value = await handle(m);
    self.postMessage({ id: m.id, ok: true, value });
  } catch (e) {
    self.postMessage({ id: m.id, ok: false, error: e instanceof Error ? e.message : String(e) });
  }
};
