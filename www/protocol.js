// The one protocol between a page and its worker: the playground's worker.js and the embed's
// embed-worker.js both speak it. Every request carries an id, and everything the worker says about
// it carries the same id, so two cards' requests never read each other's replies and a Cancel
// reaches only the request it was meant for.
//
//   page → worker   {id, op, args}                 start operation `op`
//                   {id, op: 'cancel'}             ask request `id` to stop at its next checkpoint
//   worker → page   {id, kind: 'event', event, data}    zero or more while it runs
//                   then exactly one of
//                   {id, kind: 'result', value}          it finished
//                   {id, kind: 'cancelled', value}       it stopped at a Cancel (`value` says where)
//                   {id, kind: 'error', message, detail} it failed (`detail`: what the op adds)
//                   {id: null, kind: 'notice', event, data}   news no request asked for
//
// Ops are async functions of (args, job); `job.event(name, data)` reports, `await job.checkpoint()`
// yields to the event loop (so a Cancel can arrive) and throws Cancelled once one has.

/** Thrown by `job.checkpoint()` after a Cancel; `value` travels back with the reply. */
export class Cancelled extends Error {
  constructor(value = null) {
    super('cancelled');
    this.value = value;
  }
}

/** A request's error, with whatever the op adds for the page (`detail`). */
export class RequestFailed extends Error {
  constructor(message, detail = null) {
    super(message);
    this.detail = detail;
  }
}

/** The worker itself failed (its script did not load, or it crashed): no reply will come. */
export class WorkerFailed extends Error {}

const errorText = (e) => (e instanceof Error ? e.message : String(e));
const nextTurn = () => new Promise((resolve) => setTimeout(resolve, 0));

/**
 * Serves `ops` (name → async (args, job) => value) on `port` (the worker's global scope by
 * default). `detail(e)` may add fields to an error reply. Returns `notify(event, data, transfer)`
 * for notices.
 */
export function serve(ops, { port = self, detail = () => null } = {}) {
  const running = new Map();
  const post = (message, transfer = []) => port.postMessage(message, transfer);

  port.onmessage = async ({ data: m }) => {
    if (m?.op === 'cancel') {
      const job = running.get(m.id);
      if (job) job.cancelRequested = true;
      return;
    }
    const id = m?.id;
    if (typeof id !== 'number' || !Object.hasOwn(ops, m?.op ?? '')) {
      post({ id: typeof id === 'number' ? id : null, kind: 'error', message: `unknown request ${JSON.stringify(m)}`, detail: null });
      return;
    }
    const job = {
      cancelRequested: false,
      /** Buffers to transfer with the result (typed arrays' `.buffer`). */
      transfer: [],
      event(event, data = null, transfer = []) {
        post({ id, kind: 'event', event, data }, transfer);
      },
      async checkpoint(value = null) {
        await nextTurn();
        if (job.cancelRequested) throw new Cancelled(value);
      },
    };
    running.set(id, job);
    try {
      const value = await ops[m.op](m.args ?? {}, job);
      post({ id, kind: 'result', value: value ?? null }, job.transfer);
    } catch (e) {
      if (e instanceof Cancelled) post({ id, kind: 'cancelled', value: e.value });
      else post({ id, kind: 'error', message: errorText(e), detail: e instanceof RequestFailed ? e.detail : detail(e) });
    } finally {
      running.delete(id);
    }
  };
  return (event, data = null, transfer = []) => post({ id: null, kind: 'notice', event, data }, transfer);
}

/**
 * The page's side. `request(op, args, on)` sends a request; `on` may have `event(name, data)`,
 * `result(value)`, `cancelled(value)` and `error(message, detail)`. It returns a handle whose
 * `cancel()` asks that request, and only that one, to stop. `call(op, args)` is the same as a
 * promise (rejecting with RequestFailed, Cancelled or WorkerFailed). `busy()` says whether any
 * request is still waiting for its reply. Notices go to `onNotice`.
 */
export function createClient(worker, { onNotice = () => {}, onCrash = () => {} } = {}) {
  let next = 1;
  const pending = new Map();

  worker.onmessage = ({ data: m }) => {
    if (m?.kind === 'notice') {
      onNotice(m.event, m.data);
      return;
    }
    const on = pending.get(m?.id);
    if (!on) {
      // A reply to no request of ours: a bug on one side, worth seeing in the console.
      if (m?.kind === 'error') console.warn('the worker refused a request:', m.message);
      return;
    }
    switch (m.kind) {
      case 'event':
        on.event?.(m.event, m.data);
        return;
      case 'result':
        pending.delete(m.id);
        on.result?.(m.value);
        return;
      case 'cancelled':
        pending.delete(m.id);
        on.cancelled?.(m.value);
        return;
      default:
        pending.delete(m.id);
        on.error?.(m.message, m.detail);
    }
  };
  worker.onerror = (e) => {
    e.preventDefault?.();
    const message = e.message ?? 'the worker failed';
    for (const on of pending.values()) {
      if (on.crashed) on.crashed(message);
      else on.error?.(message, null);
    }
    pending.clear();
    onCrash(message);
  };

  function request(op, args = {}, on = {}) {
    const id = next++;
    pending.set(id, on);
    worker.postMessage({ id, op, args });
    return {
      id,
      cancel: () => {
        if (pending.has(id)) worker.postMessage({ id, op: 'cancel' });
      },
    };
  }

  const call = (op, args = {}) => new Promise((resolve, reject) => {
    request(op, args, {
      result: resolve,
      cancelled: (value) => reject(new Cancelled(value)),
      error: (message, detail) => reject(new RequestFailed(message, detail)),
      crashed: (message) => reject(new WorkerFailed(message)),
    });
  });

  return { request, call, busy: () => pending.size > 0, close: () => worker.terminate() };
}
