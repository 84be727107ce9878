// Once loaded, the page works offline (its service worker keeps a copy of everything it needs),
// and it never asks anything of another origin.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { ARTIFACTS, launch, openReady, step } from './chromium.mjs';

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
    await step(page, 'scores', { button: 'Step', timeout: 60_000 });
    await page.screenshot({ path: join(ARTIFACTS, 'offline.png') });
    assert.deepEqual(foreign, [], 'requests left the origin');
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});
