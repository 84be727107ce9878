// The step-by-step pruning card, as a visitor uses it: the page opens with the checkpoint the
// build trained, and Step walks through scores, mask, accuracy drop and fine-tuning. The numbers
// the page shows are held against the native CLI's on the same model.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { ARTIFACTS, cli, colours, launch, openReady, step } from './chromium.mjs';

/** Percent from the page and fraction from the CLI agree to within `points` percentage points. */
function assertNear(pagePercent, cliFraction, points, what) {
  const diff = Math.abs(Number(pagePercent) - 100 * cliFraction);
  assert.ok(diff <= points, `${what}: page ${pagePercent}% vs CLI ${(100 * cliFraction).toFixed(2)}%`);
}

// The shipped checkpoint loads once the data is in.
const SHIPPED = /trained for two epochs.*test accuracy/;

test('Step walks magnitude pruning at 90% through its four stages, as the CLI computes it', { timeout: 300_000 }, async () => {
  const { context, page, errors } = await launch();
  try {
    await openReady(page, SHIPPED);
    // Before any Step the receptive fields already show the dense model: every tile inked, no
    // grey (pruned) pixel anywhere.
    await page.waitForFunction(() => {
      const c = document.querySelector('#fields');
      const { data } = c.getContext('2d').getImageData(0, 0, c.width, c.height);
      let white = 0;
      for (let i = 0; i < data.length; i += 4) if (data[i] === 255 && data[i + 1] === 255 && data[i + 2] === 255) white += 1;
      return c.height === 15 * 28 && white < data.length / 4 / 2;
    }, null, { timeout: 30_000 });
    const grey = await page.locator('#fields').evaluate((c) => {
      const { data } = c.getContext('2d').getImageData(0, 0, c.width, c.height);
      let n = 0;
      for (let i = 0; i < data.length; i += 4) if (data[i] === 150 && data[i + 1] === 150 && data[i + 2] === 150) n += 1;
      return n;
    });
    assert.equal(grey, 0, 'the dense model has no pruned weight');
    await page.locator('#method').selectOption('magnitude');
    await page.locator('#sparsity').fill('0.9');

    assert.match(await step(page, 'scores'), /importance score: its absolute value/);
    assert.match(await step(page, 'select'), /10\.00% of the weights remain \(0\.weight keeps 23,520 of 235,200/);

    const [, before, after] = (await step(page, 'apply')).match(/from (\d+\.\d+)% to (\d+\.\d+)%/);
    const reference = cli(['prune', '--method', 'magnitude', '--sparsity', '0.9']);
    // The same model, method and counts natively: only float summation order differs.
    assertNear(before, reference.test_acc_before, 0.05, 'accuracy before pruning');
    assertNear(after, reference.test_acc_pruned, 0.1, 'accuracy after pruning');
    assert.ok(Number(after) < Number(before) - 10, `pruning 90% should cost accuracy (${before} → ${after})`);

    // Fine-tuning runs in chunks with a progress bar.
    const finetuned = step(page, 'finetune');
    await page.locator('#prune-progress-row').waitFor({ state: 'visible' });
    const [, pruned, tuned] = (await finetuned).match(/recovers from (\d+\.\d+)% to (\d+\.\d+)%/);
    assert.equal(pruned, after);
    assert.ok(Number(tuned) > Number(pruned) + 5, `fine-tuning should recover (${pruned} → ${tuned})`);
    assert.equal(await page.locator('#prune-progress-row').isHidden(), true);

    // The receptive fields show pruned (grey) pixels, and the image border is pruned first.
    const corner = await page.locator('#fields').evaluate((canvas) => Array.from(canvas.getContext('2d').getImageData(0, 0, 1, 1).data));
    assert.deepEqual(corner, [150, 150, 150, 255]);
    await page.screenshot({ path: join(ARTIFACTS, 'prune-steps.png'), fullPage: true });
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('every method steps through all four stages, with the sparsity and accuracy the CLI reports', { timeout: 600_000 }, async () => {
  const { context, page, errors } = await launch();
  try {
    await openReady(page, SHIPPED);
    // The core's list for LeNet: the nine weight and neuron methods; the head and block methods
    // are offered greyed.
    const methods = await page.locator('#method option:not([disabled])').evaluateAll((options) => options.map((o) => o.value));
    assert.equal(methods.length, 9);
    const greyed = await page.locator('#method option[disabled]').evaluateAll((options) => options.map((o) => o.value));
    assert.ok(greyed.length === 9 && greyed.every((m) => /^(heads|layers)-/.test(m)), `greyed: ${greyed}`);
    for (const method of methods) {
      await page.locator('#method').selectOption(method);
      await page.locator('#sparsity').fill('0.5');
      await page.locator('#sparsity').dispatchEvent('change');
      await step(page, 'scores');
      const [, remaining] = (await step(page, 'select')).match(/(\d+\.\d+)% of the weights remain/);
      const [, before, after] = (await step(page, 'apply')).match(/accuracy goes from (\d+\.\d+)% to (\d+\.\d+)%/);
      const reference = cli(['prune', '--method', method, '--sparsity', '0.5']);
      assertNear(remaining, reference.weights_remaining, 0.01, `${method} weights remaining`);
      assertNear(before, reference.test_acc_before, 0.05, `${method} accuracy before`);
      assertNear(after, reference.test_acc_pruned, 0.15, `${method} accuracy after`);
      // The last stage: fine-tuning starts from the accuracy just measured.
      const [, pruned, tuned] = (await step(page, 'finetune')).match(/recovers from (\d+\.\d+)% to (\d+\.\d+)%, with (\d+\.\d+)%/);
      assert.equal(pruned, after, method);
      assert.ok(Number(tuned) > 90, `${method} fine-tuned to ${tuned}%`);
      await page.getByRole('button', { name: 'Start over' }).click();
    }
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('a 2:4 pattern keeps half of every row, and fine-tuning can be cancelled', { timeout: 300_000 }, async () => {
  const { context, page, errors } = await launch();
  try {
    await openReady(page, SHIPPED);
    await page.locator('#method').selectOption('sparsegpt');
    await page.locator('#pattern').selectOption('2:4');
    assert.equal(await page.locator('#sparsity').isDisabled(), true);
    await step(page, 'scores');
    assert.match(await step(page, 'select'), /50\.00% of the weights remain/);
    const reference = cli(['prune', '--method', 'sparsegpt', '--n', '2', '--m', '4']);
    const [, , after] = (await step(page, 'apply')).match(/from (\d+\.\d+)% to (\d+\.\d+)%/);
    assertNear(after, reference.test_acc_pruned, 0.15, 'sparsegpt 2:4 accuracy');

    // Methods without an N:M form switch the pattern off.
    await page.locator('#method').selectOption('random');
    assert.equal(await page.locator('#pattern').isDisabled(), true);
    assert.equal(await page.locator('#pattern').inputValue(), '');

    await step(page, 'scores');
    await step(page, 'select');
    await step(page, 'apply');
    await page.getByRole('button', { name: 'Step' }).click();
    await page.locator('#prune-progress-row').waitFor({ state: 'visible' });
    await page.locator('#prune-cancel').click();
    await page.locator('#stage-text', { hasText: /Fine-tuning cancelled after \d+ steps/ }).waitFor({ timeout: 60_000 });
    assert.equal(await page.locator('#step').isEnabled(), true);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('every picture of "Look closer" draws after a pruning, and is saved for a look', { timeout: 300_000 }, async () => {
  const { context, page, errors } = await launch();
  try {
    await openReady(page, SHIPPED);
    await page.locator('#method').selectOption('wanda');
    await page.locator('#sparsity').fill('0.8');
    await step(page, 'scores');
    await step(page, 'select');
    await step(page, 'apply');
    await page.locator('#fields').screenshot({ path: join(ARTIFACTS, 'view-fields.png') });
    await page.locator('#hist-chart').screenshot({ path: join(ARTIFACTS, 'view-histogram.png') });
    const views = { heatmap: ['#heatmap'], pixels: ['#input-map', '#kept-map'], confusion: ['#confusion'], digits: [] };
    for (const [view, canvases] of Object.entries(views)) {
      await page.locator(`input[name="view"][value="${view}"]`).check();
      const panel = page.locator(`.view[data-view="${view}"]`);
      await panel.waitFor({ state: 'visible' });
      for (const canvas of canvases) {
        await page.waitForFunction((s) => {
          const c = document.querySelector(s);
          return c.width > 0 && c.getContext('2d').getImageData(0, 0, c.width, c.height).data.some((v, i) => i % 4 !== 3 && v !== 0);
        }, canvas);
        assert.ok(await colours(page, canvas) > 5, `${canvas} looks blank`);
      }
      assert.match(page.url(), new RegExp(`view=${view}`));
      await panel.screenshot({ path: join(ARTIFACTS, `view-${view}.png`) });
    }
    // The heatmap is the layer at one pixel per weight, and each layer can be chosen.
    assert.deepEqual(await page.locator('#heatmap').evaluate((c) => [c.width, c.height]), [784, 300]);
    await page.getByRole('radio', { name: 'Weight heatmaps' }).check();
    await page.locator('#heat-layer').selectOption('1');
    await page.waitForFunction(() => document.querySelector('#heatmap').width === 300);
    assert.deepEqual(await page.locator('#heatmap').evaluate((c) => [c.width, c.height]), [300, 100]);
    // Twelve digits, each with its before → after answer.
    await page.getByRole('radio', { name: 'Test digits' }).check();
    assert.equal(await page.locator('#digits li').count(), 12);
    assert.match(await page.locator('#digits li').first().textContent(), /^\d [✓✗] → \d [✓✗]$/);
    // The cost meter: dense against pruned against compacted, and a timing of the three.
    await page.getByRole('radio', { name: 'Cost meter' }).check();
    const nonzero = await page.locator('#cost tr', { hasText: 'Nonzero weights' }).locator('td').allTextContents();
    assert.equal(nonzero[0], '266,200');
    const reference = cli(['prune', '--method', 'wanda', '--sparsity', '0.8']);
    const kept = reference.layers.reduce((n, l) => n + l.remaining, 0);
    assert.equal(nonzero[1], kept.toLocaleString('en-US'));
    await page.getByRole('button', { name: 'Time the forward pass' }).click();
    await page.locator('#meter-timing[data-done]').waitFor({ timeout: 300_000 });
    assert.match(await page.locator('#meter-timing').textContent(), /dense \d+\.\d\d ms, pruned \d+\.\d\d ms, compacted \d+\.\d\d ms/);
    await page.locator('.view[data-view="cost"]').screenshot({ path: join(ARTIFACTS, 'view-cost.png') });
    // Wanda's map is the input norm: the always-dark corner pixel has norm 0.
    await page.getByRole('radio', { name: 'Pixel maps' }).check();
    assert.match(await page.locator('#input-map-caption').textContent(), /‖X_j‖/);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});
