// Once loaded, the page works offline (its service worker keeps a copy of everything it needs),
// and it never asks anything of another origin. On a host that cannot send the isolation headers
// the same service worker adds them, and the page reloads itself once to run its threaded build.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { ARTIFACTS, URL_UNDER_TEST, launch, openReady, step } from './chromium.mjs';

test('after one visit the page loads, and prunes, with the network off', { timeout: 300_000 }, async () => {
  const { context, page, errors, foreign } = await launch();
  try {
    await openReady(page);
    // Installed means every file is in the cache (install waits for them).
    const active = await page.evaluate(async () => Boolean((await navigator.serviceWorker.ready).active));
    assert.equal(active, true);

    await context.setOffline(true);
    await page.reload();
    await page.locator('#train:enabled').waitFor({ timeout: 120_000 });
    await page.locator('#model-info', { hasText: /trained for two epochs.*test accuracy/ }).waitFor({ timeout: 60_000 });
    assert.match(await page.locator('#status').textContent(), /55,000 training/);
    // The threaded build and its thread pool's worker script came from the cache too.
    await page.locator('#engine[data-cpu-build="threaded"]').waitFor({ timeout: 60_000 });
    await step(page, 'scores', { button: 'Step', timeout: 60_000 });
    await page.screenshot({ path: join(ARTIFACTS, 'offline.png') });
    assert.deepEqual(foreign, [], 'requests left the origin');
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('on a host that sends no isolation headers, the service worker isolates the page after one reload', { timeout: 420_000 }, async () => {
  // `?coi=0`: the xtask server leaves COOP and COEP out, as a static host that cannot set
  // headers does; only the service worker (sw.js) can add them.
  const url = new URL('?coi=0', URL_UNDER_TEST).href;
  const { context, page, errors, foreign } = await launch({ webgpu: false });
  try {
    let loads = 0;
    page.on('load', () => { loads += 1; });
    await page.goto(url);
    const first = await page.evaluate(() => ({ isolated: self.crossOriginIsolated, controlled: Boolean(navigator.serviceWorker.controller) }));
    assert.deepEqual(first, { isolated: false, controlled: false });
    // The worker registers once the model is in, takes control, and the page reloads itself,
    // now served through it: isolated, with the threaded build.
    await page.waitForFunction(() => self.crossOriginIsolated
      && document.querySelector('#engine[data-cpu-build="threaded"]'), null, { timeout: 300_000, polling: 500 });
    await page.locator('#train:enabled').waitFor({ timeout: 120_000 });
    assert.match(await page.locator('#engine').textContent(), /^CPU \(WebAssembly, \d+ threads\) in a Web Worker/);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('pruneplay-isolation-reload')), '1');
    // Once: no further reload follows, and a reload by hand stays isolated without another.
    await page.waitForTimeout(5_000);
    assert.equal(loads, 2, `the page loaded ${loads} times`);
    await page.reload();
    await page.locator('#engine[data-cpu-build="threaded"]').waitFor({ timeout: 120_000 });
    await page.waitForTimeout(5_000);
    assert.equal(loads, 3, `the page loaded ${loads} times`);
    assert.equal(await page.evaluate(() => self.crossOriginIsolated), true);
    await page.screenshot({ path: join(ARTIFACTS, 'isolated-by-service-worker.png') });
    assert.deepEqual(foreign, [], 'requests left the origin');
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});
