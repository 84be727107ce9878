// The embed's worker: the same computations as embed-core.js, off the frame's main thread. It
// speaks protocol.js; its ops are embed-core.js's: 'open' {needs} first, then 'picture'
// {request, options}, 'sweep-point' {request} and 'experiment' {name}.

import { createHandler, progressTick } from './embed-core.js';
import { serve } from './protocol.js';

const handle = createHandler(async () => {});

// A demonstration reports its progress and stops at a Cancel between its pieces, as on the page.
const op = (name) => (args, job) => handle({ ...args, op: name }, progressTick(job));

serve({
  open: op('open'),
  picture: op('picture'),
  'sweep-point': op('sweep-point'),
  experiment: op('experiment'),
});
