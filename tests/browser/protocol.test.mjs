// The page–worker protocol (www/protocol.js) over a real MessageChannel, in Node: replies reach
// the request they answer, a Cancel stops only its own request, and failures come back as
// messages. The browser tests drive the same module through the page.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MessageChannel } from 'node:worker_threads';

import { Cancelled, RequestFailed, createClient, serve } from '../../www/protocol.js';

/** A client and a server joined by a channel, serving `ops`. */
function connect(ops, options = {}) {
  const { port1, port2 } = new MessageChannel();
  const notices = [];
  const notify = serve(ops, { port: port2, ...options });
  const client = createClient(port1, { onNotice: (event, data) => notices.push([event, data]) });
  const close = () => {
    port1.close();
    port2.close();
  };
  return { client, notify, notices, close };
}

/** Sends a request and collects everything said about it until its one reply. */
function collect(client, op, args) {
  const events = [];
  let handle;
  const reply = new Promise((resolve) => {
    handle = client.request(op, args, {
      event: (event, data) => events.push([event, data]),
      result: (value) => resolve({ kind: 'result', value }),
      cancelled: (value) => resolve({ kind: 'cancelled', value }),
      error: (message, detail) => resolve({ kind: 'error', message, detail }),
    });
  });
  return { events, reply, handle };
}

test('each request gets its own events and result, even when two run at once', async () => {
  const { client, close } = connect({
    async count({ to, label }, job) {
      for (let i = 1; i <= to; i++) {
        job.event('tick', { label, i });
        await job.checkpoint();
      }
      return `${label} counted to ${to}`;
    },
  });
  const a = collect(client, 'count', { to: 3, label: 'a' });
  const b = collect(client, 'count', { to: 5, label: 'b' });
  assert.deepEqual(await a.reply, { kind: 'result', value: 'a counted to 3' });
  assert.deepEqual(await b.reply, { kind: 'result', value: 'b counted to 5' });
  assert.deepEqual(a.events.map(([, d]) => d.i), [1, 2, 3]);
  assert.ok(a.events.every(([event, d]) => event === 'tick' && d.label === 'a'));
  assert.deepEqual(b.events.map(([, d]) => d.i), [1, 2, 3, 4, 5]);
  assert.ok(b.events.every(([, d]) => d.label === 'b'));
  close();
});

test('a Cancel stops only the request it names, with the value its checkpoint gave', async () => {
  let release;
  const started = new Promise((resolve) => { release = resolve; });
  const { client, close } = connect({
    async loop({ label }, job) {
      for (let i = 0; ; i++) {
        if (label === 'stopped' && i === 2) release();
        await job.checkpoint({ label, at: i });
        if (label === 'kept' && i === 20) return 'kept ran to the end';
      }
    },
  });
  const stopped = collect(client, 'loop', { label: 'stopped' });
  const kept = collect(client, 'loop', { label: 'kept' });
  await started;
  stopped.handle.cancel();
  const reply = await stopped.reply;
  assert.equal(reply.kind, 'cancelled');
  assert.equal(reply.value.label, 'stopped');
  assert.ok(reply.value.at >= 2, `cancelled at ${reply.value.at}`);
  assert.deepEqual(await kept.reply, { kind: 'result', value: 'kept ran to the end' });
  close();
});

test('failures come back as error replies: a thrown error, its detail, an unknown op', async () => {
  const { client, close } = connect({
    async fails() {
      throw new Error('the model is not loaded');
    },
    async refuses() {
      throw new RequestFailed('no GPU', { gpuFailed: true });
    },
  }, { detail: () => ({ gpuFailed: false }) });
  assert.deepEqual(await collect(client, 'fails', {}).reply,
    { kind: 'error', message: 'the model is not loaded', detail: { gpuFailed: false } });
  assert.deepEqual(await collect(client, 'refuses', {}).reply,
    { kind: 'error', message: 'no GPU', detail: { gpuFailed: true } });
  const unknown = await collect(client, 'nope', { x: 1 }).reply;
  assert.equal(unknown.kind, 'error');
  assert.match(unknown.message, /unknown request .*"op":"nope"/);
  // An op name that is only an Object property is unknown too.
  assert.equal((await collect(client, 'toString', {}).reply).kind, 'error');
  close();
});

test('call() is the same request as a promise; notices reach onNotice', async () => {
  const { client, notify, notices, close } = connect({
    async double({ n }) {
      return 2 * n;
    },
    async stop(_args, job) {
      for (;;) {
        job.event('tick');
        await job.checkpoint('stopped');
      }
    },
  });
  assert.equal(await client.call('double', { n: 21 }), 42);
  await assert.rejects(client.call('missing'), (e) => e instanceof RequestFailed && /unknown request/.test(e.message));
  notify('model', { kind: 'vit' });
  // The notice travels behind the last reply; one more round trip lets it arrive.
  assert.equal(await client.call('double', { n: 1 }), 2);
  assert.deepEqual(notices, [['model', { kind: 'vit' }]]);
  // A request cancelled at once stops at its first checkpoint.
  const handle = collect(client, 'stop', {});
  handle.handle.cancel();
  assert.deepEqual(await handle.reply, { kind: 'cancelled', value: 'stopped' });
  assert.ok(new Cancelled('x') instanceof Error);
  close();
});
