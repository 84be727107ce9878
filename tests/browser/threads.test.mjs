// The CPU engine on every core: a cross-origin isolated page (the xtask server sends the
// headers) trains on the threaded build, and the same page served without the headers (`?coi=0`,
// as a static host that cannot set them serves it, the service worker kept out) trains on the
// single-threaded one. Both from the same seed, to the same accuracy, and the engine line says
// which build ran.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { ARTIFACTS, URL_UNDER_TEST, launch } from './chromium.mjs';

// The tolerance the browser tests hold wasm against native with: the same model and data,
// only the float summation order may differ.
const TOLERANCE = 0.0015;

/** Trains 300 steps of LeNet on the CPU engine, seed 0; the test accuracy and the engine line. */
async function trainOnCpu(url, { serviceWorkers = 'allow' } = {}) {
  // Without WebGPU "automatic" is the CPU engine, whatever the lead's race decides on a GPU.
  const { context, page, errors, foreign } = await launch({ webgpu: false, serviceWorkers });
  try {
    await page.goto(url);
    await page.locator('#train:enabled').waitFor({ timeout: 120_000 });
    const engine = page.locator('#engine');
    await page.locator('#engine[data-cpu-build]').waitFor({ timeout: 60_000 });
    const isolated = await page.evaluate(() => self.crossOriginIsolated);
    await page.locator('#backend').selectOption('cpu');
    await page.locator('#iters').fill('300');
    await page.locator('#seed').fill('0');
    await page.getByRole('button', { name: 'Train' }).click();
    const result = page.locator('#test-acc[data-value]');
    const started = Date.now();
    await result.waitFor({ timeout: 300_000 });
    const seconds = (Date.now() - started) / 1000;
    const line = {
      build: await engine.getAttribute('data-cpu-build'),
      threads: Number(await engine.getAttribute('data-cpu-threads')),
      text: await engine.textContent(),
    };
    const accuracy = Number(await result.getAttribute('data-value'));
    const loss = (await page.locator('#status').textContent()).match(/loss (\d+\.\d+)/)?.[1];
    await page.screenshot({ path: join(ARTIFACTS, `threads-${line.build}.png`), fullPage: true });
    assert.deepEqual(foreign, [], 'requests left the origin');
    assert.deepEqual(errors, []);
    return { isolated, line, accuracy, loss, seconds };
  } finally {
    await context.close();
  }
}

test('the CPU engine trains on every core when the page is isolated, on one thread when not, to the same accuracy', { timeout: 900_000 }, async () => {
  const threaded = await trainOnCpu(URL_UNDER_TEST);
  const single = await trainOnCpu(new URL('?coi=0', URL_UNDER_TEST).href, { serviceWorkers: 'block' });
  for (const [name, run] of Object.entries({ threaded, single })) {
    console.log(`${name}: isolated ${run.isolated}, ${run.line.build} build on ${run.line.threads} thread(s), `
      + `test accuracy ${(100 * run.accuracy).toFixed(2)}%, test loss ${run.loss}, in ${run.seconds.toFixed(1)} s; "${run.line.text}"`);
  }

  assert.equal(threaded.isolated, true, 'the xtask server sends COOP and COEP');
  assert.equal(threaded.line.build, 'threaded');
  assert.ok(threaded.line.threads >= 2, `${threaded.line.threads} threads`);
  assert.match(threaded.line.text, new RegExp(`^CPU \\(WebAssembly, ${threaded.line.threads} threads\\) in a Web Worker`));

  assert.equal(single.isolated, false, '?coi=0 leaves the isolation headers out');
  assert.equal(single.line.build, 'single');
  assert.equal(single.line.threads, 1);
  assert.match(single.line.text, /^CPU \(WebAssembly, one thread\) in a Web Worker/);

  assert.ok(threaded.accuracy > 0.9, `threaded: ${threaded.accuracy}`);
  assert.ok(Math.abs(threaded.accuracy - single.accuracy) <= TOLERANCE,
    `the same seed gave ${threaded.accuracy} threaded and ${single.accuracy} single-threaded`);
  // LeNet's threaded step splits only outputs and elementwise passes, never a sum, so it is the
  // single-threaded step bit for bit: the test loss agrees to every digit shown.
  assert.equal(threaded.loss, single.loss);
});
