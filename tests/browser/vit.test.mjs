// The tiny ViT on the page: the shipped one prunes as the CLI prunes it, and a ViT trained in
// the worker learns and prunes like any other model.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ARTIFACTS, URL_UNDER_TEST, launch, openReady, step } from './chromium.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const VIT = process.env.PRUNEPLAY_VIT_MODEL ?? join(ROOT, 'dist/model/vit-mnist.safetensors');

/** `pruneplay prune` on the shipped ViT; its JSON summary. */
function cliVit(args) {
  const bin = process.env.PRUNEPLAY_CLI ?? join(ROOT, 'target/release/pruneplay');
  const data = process.env.PRUNEPLAY_DATA ?? join(ROOT, 'data/mnist');
  const out = execFileSync(bin, ['prune', ...args, '--model', VIT, '--data', data, '--json'], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').at(-1));
}

/** Magnitude at 50% on the model on show: [weights remaining, accuracy before, after] in %. */
async function magnitudeHalf(page) {
  await page.locator('#method').selectOption('magnitude');
  await page.locator('#sparsity').fill('0.5');
  await page.locator('#sparsity').dispatchEvent('change');
  await step(page, 'scores');
  const [, remaining] = (await step(page, 'select')).match(/(\d+\.\d+)% of the weights remain/);
  const [, before, after] = (await step(page, 'apply', { timeout: 300_000 })).match(/from (\d+\.\d+)% to (\d+\.\d+)%/);
  return [remaining, before, after].map(Number);
}

test('the shipped ViT prunes with magnitude at 50% as the CLI does, and a ViT trained on the page prunes too', { timeout: 900_000 }, async () => {
  const { context, page, errors } = await launch();
  try {
    await openReady(page, /LeNet-300-100 trained/);
    await page.locator('#prune-model').selectOption('vit');
    await page.locator('#model-info', { hasText: /tiny ViT trained.*test accuracy/ }).waitFor({ timeout: 120_000 });
    // The core's list decides: whole-neuron methods remove the ViT's MLP units, and the head and
    // block methods apply; the note says what each removes.
    for (const method of ['structured-l1', 'heads-taylor', 'layers-bi']) {
      assert.equal(await page.locator(`#method option[value="${method}"]`).evaluate((o) => o.disabled), false, method);
    }
    assert.match(await page.locator('#model-note').textContent(), /whole-neuron methods remove MLP units/);
    // The patch embedding is drawn as its 64 filters of 7×7 (16 to a row, 1-pixel gaps), and
    // the 28×28 pixel maps are hidden.
    await page.waitForFunction(() => document.querySelector('#fields').width === 16 * 8 - 1);
    assert.equal(await page.locator('#fields').evaluate((c) => c.height), 4 * 8 - 1);
    assert.equal(await page.locator('#pixels-tab').isHidden(), true);

    const [remaining, before, after] = await magnitudeHalf(page);
    const reference = cliVit(['--method', 'magnitude', '--sparsity', '0.5']);
    for (const [what, page_, cli] of [['remaining', remaining, reference.weights_remaining],
      ['before', before, reference.test_acc_before], ['after', after, reference.test_acc_pruned]]) {
      assert.ok(Math.abs(page_ / 100 - cli) <= 0.0015, `ViT ${what}: page ${page_}% vs CLI ${(100 * cli).toFixed(2)}%`);
    }

    // Training the ViT in the worker: its recipe fills the form, and it runs on the CPU engine.
    await page.locator('#arch').selectOption('vit');
    assert.equal(await page.locator('#optimizer').inputValue(), 'adamw');
    assert.equal(await page.locator('#batch').inputValue(), '128');
    assert.equal(await page.locator('#iters').inputValue(), '429');
    assert.match(await page.locator('#iters-note').textContent(), /^429 steps of 128 images/);
    await page.getByLabel('Training steps').fill('200');
    await page.getByRole('button', { name: 'Train' }).click();
    const result = page.locator('#test-acc[data-value]');
    await result.waitFor({ timeout: 600_000 });
    const accuracy = Number(await result.getAttribute('data-value'));
    console.log(`ViT test accuracy after 200 steps in the browser: ${(100 * accuracy).toFixed(2)}%`);
    assert.ok(accuracy > 0.8, `ViT test accuracy ${accuracy} is not above 0.8`);
    assert.equal(await page.locator('#engine').getAttribute('data-backend'), 'cpu');

    await page.locator('#prune-model').selectOption('trained');
    await page.locator('#model-info', { hasText: /you trained above \(the tiny ViT\)/ }).waitFor();
    const [trainedRemaining, trainedBefore] = await magnitudeHalf(page);
    // The same architecture as the shipped ViT, so the same counts.
    assert.equal(trainedRemaining, remaining);
    assert.ok(Math.abs(trainedRemaining - 50) < 1, `${trainedRemaining}% of the weights remain`);
    assert.ok(Math.abs(trainedBefore / 100 - accuracy) < 1e-4, `before ${trainedBefore}% vs trained ${accuracy}`);
    await page.screenshot({ path: join(ARTIFACTS, 'vit.png'), fullPage: true });
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('with Engine on WebGPU the ViT trains and fine-tunes on WebGPU, as the CPU engine does', { timeout: 900_000 }, async () => {
  const { context, page, errors } = await launch();
  try {
    await page.goto(`${URL_UNDER_TEST}#engine=webgpu`);
    await page.locator('#train:enabled').waitFor({ timeout: 120_000 });
    await page.locator('#engine[data-backend="webgpu"]').waitFor();
    // Its recipe fills the form: AdamW, batch 128.
    await page.locator('#arch').selectOption('vit');
    assert.equal(await page.locator('#optimizer').inputValue(), 'adamw');
    const trainOn = async (engine) => {
      await page.locator('#backend').selectOption(engine);
      await page.getByLabel('Training steps').fill('30');
      await page.locator('#train').click();
      const result = page.locator('#test-acc[data-value]');
      await result.waitFor({ timeout: 600_000 });
      assert.equal(await page.locator('#engine').getAttribute('data-backend'), engine);
      const accuracy = Number(await result.getAttribute('data-value'));
      await page.locator('#train:enabled').waitFor();
      return accuracy;
    };
    const gpu = await trainOn('webgpu');
    const cpu = await trainOn('cpu');
    console.log(`ViT after 30 steps in the browser: WebGPU ${(100 * gpu).toFixed(2)}%, CPU ${(100 * cpu).toFixed(2)}%`);
    // Same seed, same batches: the engines differ only by rounding (natively within 1e-7 of the
    // loss over 300 steps), so their test accuracies agree to a few images in 10,000.
    assert.ok(Math.abs(gpu - cpu) <= 0.005, `WebGPU ${gpu} vs CPU ${cpu}`);
    assert.ok(gpu > 0.3, `the ViT learnt nothing on WebGPU (${gpu})`);

    // Fine-tuning the shipped ViT after pruning follows the same Engine choice.
    await page.locator('#backend').selectOption('webgpu');
    await page.locator('#prune-model').selectOption('vit');
    await page.locator('#model-info', { hasText: /tiny ViT trained.*test accuracy/ }).waitFor({ timeout: 120_000 });
    await magnitudeHalf(page);
    // A whole fine-tuning (100 steps of 128 images) takes minutes on SwiftShader: the first
    // chunk shows where it runs, then Cancel keeps the pruned model.
    await page.getByRole('button', { name: 'Step' }).click();
    await page.locator('#stage-text', { hasText: /^Fine-tuning on WebGPU: step \d+ of 100/ }).waitFor({ timeout: 300_000 });
    await page.locator('#prune-cancel').click();
    await page.locator('#stage-text', { hasText: /Fine-tuning cancelled after \d+ steps/ }).waitFor({ timeout: 120_000 });
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});
