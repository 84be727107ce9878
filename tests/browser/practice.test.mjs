// Practice mode as a learner uses it: answer, check, read the explanation, press the button
// that demonstrates the answer on the model, and find the answers remembered next time.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ARTIFACTS, cli, launch, openReady } from './chromium.mjs';

/** Opens question `id`, runs its experiment, and returns the demonstration's text. */
async function runDemo(page, id) {
  const q = page.locator(`#q-${id}`);
  if (!(await q.locator('details').getAttribute('open'))) await q.locator('summary').click();
  await q.locator('button.run').click();
  await page.waitForFunction((i) => {
    const el = document.querySelector(`#q-${i} .demo-text`);
    return el && el.textContent && !el.textContent.endsWith('…');
  }, id, { timeout: 240_000 });
  return q.locator('.demo-text').textContent();
}

test('answers get feedback and an explanation, and are remembered until reset', { timeout: 120_000 }, async () => {
  const { context, page, errors } = await launch();
  try {
    await openReady(page);
    const count = await page.locator('.question').count();
    assert.ok(count >= 10, `${count} questions`);
    const first = page.locator('.question').first();
    await first.locator('summary').click();
    // The right answer is marked right; pick it by trying each choice until "Right."
    const choices = await first.locator('input[type=radio]').count();
    let right = -1;
    for (let i = 0; i < choices && right < 0; i++) {
      await first.locator('input[type=radio]').nth(i).check();
      await first.getByRole('button', { name: 'Check' }).click();
      const text = await first.locator('.feedback').textContent();
      if (text.startsWith('Right.')) right = i;
      else assert.match(text, /^Not quite: the answer is ".+"\. \S/);
    }
    assert.ok(right >= 0, 'no choice was marked right');
    assert.match(await page.locator('#practice-score').textContent(), /^1 of \d+ answered, 1 right$/);

    await page.reload();
    await page.locator('#practice-score[data-answered="1"]').waitFor();
    await first.locator('summary').click();
    assert.equal(await first.locator('input[type=radio]').nth(right).isChecked(), true);
    assert.equal(await first.locator('.feedback').isHidden(), false);

    await page.getByRole('button', { name: 'Forget my answers' }).click();
    assert.match(await page.locator('#practice-score').textContent(), /^0 of \d+ answered/);
    await page.reload();
    await page.locator('#practice-score[data-answered="0"]').waitFor();
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('every question\'s demonstration runs on the model, with numbers the CLI agrees with', { timeout: 900_000 }, async () => {
  const { context, page, errors } = await launch();
  try {
    await openReady(page);
    const ids = await page.locator('.question').evaluateAll((qs) => qs.map((q) => q.dataset.question));
    const texts = {};
    for (const id of ids) {
      texts[id] = await runDemo(page, id);
      assert.doesNotMatch(texts[id], /stopped|n\/a|NaN|undefined/, `${id}: ${texts[id]}`);
      assert.match(texts[id], /\d/, `${id} shows no numbers`);
      // Every demonstration draws a picture.
      const drawn = await page.locator(`#q-${id} .demo-figure canvas`).count();
      assert.ok(drawn > 0, `${id} drew nothing`);
      await page.locator(`#q-${id}`).screenshot({ path: join(ARTIFACTS, `practice-${id}.png`) });
    }
    // The numbers are the model's: magnitude at 50% and 80% as the CLI prunes it.
    const at50 = cli(['prune', '--method', 'magnitude', '--sparsity', '0.5']);
    assert.match(texts['finetune-recovery'], new RegExp(`to ${(100 * at50.test_acc_pruned).toFixed(2)}%`));
    const at80 = cli(['prune', '--method', 'magnitude', '--sparsity', '0.8']);
    assert.match(texts['random-baseline'], new RegExp(`magnitude pruning kept ${(100 * at80.test_acc_pruned).toFixed(2)}%`));
    // The questions about heads run on the shipped ViT (LeNet is the model on show): a quarter
    // of its heads gone with heads-taylor, and Block Influence's block, as the CLI measures them.
    const vit = process.env.PRUNEPLAY_VIT_MODEL ?? join(fileURLToPath(new URL('../../', import.meta.url)), 'dist/model/vit-mnist.safetensors');
    const quarter = cli(['prune', '--method', 'heads-taylor', '--sparsity', '0.25'], vit);
    assert.match(texts['heads-budget'], new RegExp(`without 4 of 16 heads ${(100 * quarter.test_acc_pruned).toFixed(2)}%`));
    const block = cli(['prune', '--method', 'layers-bi', '--remove', '1'], vit);
    assert.match(texts['layers-heal'], new RegExp(`removed block ${block.removed_blocks[0]} of 4: test accuracy went from ${(100 * block.test_acc_before).toFixed(2)}% to ${(100 * block.test_acc_pruned).toFixed(2)}%`));
    assert.match(texts['heads-speed'], /8 of 16 heads removed/);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('a running demonstration can be cancelled', { timeout: 300_000 }, async () => {
  const { context, page, errors } = await launch();
  try {
    await openReady(page);
    const q = page.locator('#q-iterative-oneshot');
    await q.locator('summary').click();
    await q.locator('button.run').click();
    await q.locator('.demo-text', { hasText: /fine-tuning…$/ }).waitFor({ timeout: 60_000 });
    await q.getByRole('button', { name: 'Cancel' }).click();
    await q.locator('.demo-text', { hasText: /^Cancelled\.$/ }).waitFor({ timeout: 60_000 });
    assert.equal(await q.locator('button.run').isEnabled(), true);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});
