// The embed's worker: the same computations as embed-core.js, off the frame's main thread.
//
// Messages in:  {id, op: 'open', needs} | {id, op: 'picture', request, options}
//               | {id, op: 'sweep-point', request} | {id, op: 'experiment', name}
// Messages out: {id, ok: true, value} | {id, ok: false, error}

import { experiment, open, picture, sweepPoint } from './embed-core.js';

let opened = null;

self.onmessage = async ({ data: m }) => {
  try {
    let value;
    if (m.op === 'open') {
      opened = await open(m.needs);
      value = { loaded: opened.loaded, downloaded: opened.downloaded };
    } else if (!opened) {
      throw new Error('the embed has not opened its model yet');
    } else if (m.op === 'picture') {
      value = picture(opened.session, m.request, m.options);
    } else if (m.op === 'sweep-point') {
      value = sweepPoint(opened.session, m.request);
    } else if (m.op === 'experiment') {
      value = await experiment(opened.session, m.name, async () => {});
    } else {
      throw new Error(`unknown operation ${m.op}`);
    }
    self.postMessage({ id: m.id, ok: true, value });
  } catch (e) {
    self.postMessage({ id: m.id, ok: false, error: e instanceof Error ? e.message : String(e) });
  }
};
