// The step-by-step pruning panel, as a visitor uses it: the page opens with the checkpoint the
// build trained, and Step walks through scores, mask, accuracy drop and fine-tuning.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { ARTIFACTS, URL_UNDER_TEST, launch } from './chromium.mjs';

test('Step walks magnitude pruning at 90% through its four stages with real numbers', { timeout: 300_000 }, async () => {
  const { context, page, errors } = await launch();
  try {
    await page.goto(URL_UNDER_TEST);
    // The shipped checkpoint loads once the data is in.
    await page.locator('#model-info', { hasText: /trained for two epochs.*test accuracy/ }).waitFor({ timeout: 120_000 });
    await page.locator('#method').selectOption('magnitude');
    await page.locator('#sparsity').fill('0.9');
    const step = page.getByRole('button', { name: 'Step' });
    const text = page.locator('#stage-text');

    await step.click();
    await page.locator('#stage-text[data-stage="scores"]').waitFor({ timeout: 60_000 });
    assert.match(await text.textContent(), /importance score: its absolute value/);

    await step.click();
    await page.locator('#stage-text[data-stage="select"]').waitFor({ timeout: 60_000 });
    assert.match(await text.textContent(), /10\.00% of the weights remain \(0\.weight keeps 23,520 of 235,200/);

    await step.click();
    await page.locator('#stage-text[data-stage="apply"]').waitFor({ timeout: 60_000 });
    const [, before, after] = (await text.textContent()).match(/from (\d+\.\d+)% to (\d+\.\d+)%/);
    assert.ok(Number(after) < Number(before), `pruning 90% should cost accuracy (${before} → ${after})`);

    await step.click();
    await page.locator('#stage-text[data-stage="finetune"]').waitFor({ timeout: 120_000 });
    const [, pruned, tuned] = (await text.textContent()).match(/recovers from (\d+\.\d+)% to (\d+\.\d+)%/);
    assert.equal(pruned, after);
    assert.ok(Number(tuned) > Number(pruned) + 5, `fine-tuning should recover (${pruned} → ${tuned})`);

    // The receptive fields show pruned (grey) pixels, and the image border is pruned first.
    const corner = await page.locator('#fields').evaluate((canvas) => Array.from(canvas.getContext('2d').getImageData(0, 0, 1, 1).data));
    assert.deepEqual(corner, [150, 150, 150, 255]);
    await page.screenshot({ path: join(ARTIFACTS, 'prune-steps.png'), fullPage: true });
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('every method runs its stages on the page', { timeout: 300_000 }, async () => {
  const { context, page, errors } = await launch();
  try {
    await page.goto(URL_UNDER_TEST);
    await page.locator('#model-info', { hasText: /test accuracy/ }).waitFor({ timeout: 120_000 });
    const methods = await page.locator('#method option').evaluateAll((options) => options.map((o) => o.value));
    assert.equal(methods.length, 9);
    for (const method of methods) {
      await page.locator('#method').selectOption(method);
      await page.locator('#sparsity').fill('0.5');
      for (const stage of ['scores', 'select', 'apply']) {
        await page.getByRole('button', { name: 'Step' }).click();
        await page.locator(`#stage-text[data-stage="${stage}"]`).waitFor({ timeout: 60_000 });
      }
      const text = await page.locator('#stage-text').textContent();
      assert.match(text, /accuracy goes from \d+\.\d+% to \d+\.\d+%/, method);
      // Back to the first stage for the next method.
      await page.getByRole('button', { name: 'Start over' }).click();
    }
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});
