// Heads and blocks on the tiny ViT, clicked through as a visitor would: heads-taylor through all
// four stages (the grid crosses out as many heads as the core removed, the accuracy matches the
// CLI's), the attention pictures for a picked digit, the cost meter (compacted is smaller), and
// layers-bi removing one block (one bar marked).

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ARTIFACTS, colours, launch, openReady, step } from './chromium.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const VIT = process.env.PRUNEPLAY_VIT_MODEL ?? join(ROOT, 'dist/model/vit-mnist.safetensors');

/** `pruneplay prune` on the shipped ViT; its JSON summary. */
function cliVit(args) {
  const bin = process.env.PRUNEPLAY_CLI ?? join(ROOT, 'target/release/pruneplay');
  const data = process.env.PRUNEPLAY_DATA ?? join(ROOT, 'data/mnist');
  const out = execFileSync(bin, ['prune', ...args, '--model', VIT, '--data', data, '--json'], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').at(-1));
}

async function openVit(page) {
  await openReady(page, /LeNet-300-100 trained/);
  // On LeNet the head and block methods are offered greyed: the core says they do not apply.
  assert.equal(await page.locator('#method option[value="heads-taylor"]').evaluate((o) => o.disabled), true);
  await page.locator('#prune-model').selectOption('vit');
  await page.locator('#model-info', { hasText: /tiny ViT trained.*test accuracy/ }).waitFor({ timeout: 120_000 });
}

async function pick(page, method, fields = {}) {
  await page.locator('#method').selectOption(method);
  for (const [id, value] of Object.entries(fields)) {
    await page.locator(`#${id}`).fill(String(value));
    await page.locator(`#${id}`).dispatchEvent('change');
  }
}

test('heads-taylor on the ViT: four stages, the grid, the attention pictures and the cost meter', { timeout: 900_000 }, async () => {
  const { context, page, errors } = await launch();
  try {
    await openVit(page);
    await pick(page, 'heads-taylor', { sparsity: 0.25 });
    // Scope and rounds for a head method; no block count, no N:M pattern.
    assert.equal(await page.locator('#scope-field').isVisible(), true);
    assert.equal(await page.locator('#rounds-field').isVisible(), true);
    assert.equal(await page.locator('#remove-field').isHidden(), true);
    assert.equal(await page.locator('#pattern-field').isHidden(), true);

    await step(page, 'scores');
    // 4 blocks × 4 heads, each with its score on hover, none crossed out yet.
    assert.equal(await page.locator('#head-grid g.head').count(), 16);
    assert.equal(await page.locator('#head-grid g.head.removed').count(), 0);
    assert.match(await page.locator('#head-grid g.head title').first().textContent(), /^block 0, head 0: score \d/);

    const select = await step(page, 'select');
    const [, removed, total] = select.match(/(\d+) of the (\d+) attention heads removed/).map(Number);
    assert.equal(total, 16);
    assert.equal(removed, 4, 'round(0.25 × 16) heads');
    assert.equal(await page.locator('#head-grid g.head.removed').count(), removed);
    assert.equal(await page.locator('#head-grid g.head.removed .cross').count(), removed);
    await page.locator('#structure-figure').screenshot({ path: join(ARTIFACTS, 'heads-grid.png') });

    const apply = await step(page, 'apply', { timeout: 300_000 });
    const [, before, after] = apply.match(/from (\d+\.\d+)% to (\d+\.\d+)%/).map(Number);
    const reference = cliVit(['--method', 'heads-taylor', '--sparsity', '0.25']);
    assert.ok(Math.abs(before / 100 - reference.test_acc_before) <= 0.0015, `before: page ${before}% vs CLI ${reference.test_acc_before}`);
    assert.ok(Math.abs(after / 100 - reference.test_acc_pruned) <= 0.0015, `after: page ${after}% vs CLI ${reference.test_acc_pruned}`);

    // What each head looks at: digit 7 of the test set, before and after, the removed ones marked.
    await page.locator('input[name="view"][value="attention"]').check();
    await page.locator('#attn-digit').fill('7');
    await page.locator('#attn-digit').dispatchEvent('change');
    await page.locator('#attention[data-index="7"] .after').waitFor({ timeout: 60_000 });
    assert.equal(await page.locator('#attention .before td.head').count(), 16);
    assert.equal(await page.locator('#attention .after td.head.removed').count(), removed);
    assert.ok(await colours(page, '#attention .before td.head canvas >> nth=0') > 8, 'the overlay is drawn');
    assert.match(await page.locator('#attention .before figcaption').textContent(), /test digit 7, a \d/);
    await page.getByRole('button', { name: 'Next digit' }).click();
    await page.locator('#attention[data-index="8"]').waitFor({ timeout: 60_000 });
    await page.locator('#attention').screenshot({ path: join(ARTIFACTS, 'heads-attention.png') });

    // The cost meter: the compacted ViT has fewer parameters and FLOPs; the forward pass is timed.
    await page.locator('input[name="view"][value="cost"]').check();
    await page.locator('#cost tbody[data-kind="vit"]').waitFor({ timeout: 60_000 });
    const [dense, masked, compacted] = JSON.parse(await page.locator('#cost tbody').getAttribute('data-params'));
    assert.equal(masked, dense, 'masking keeps every parameter');
    assert.ok(compacted < dense, `compacted ${compacted} < dense ${dense}`);
    assert.equal(compacted, reference.compacted.parameters_after, 'the CLI compacts to the same size');
    await page.getByRole('button', { name: 'Time the forward pass' }).click();
    await page.locator('#meter-timing[data-done]').waitFor({ timeout: 120_000 });
    const ms = JSON.parse(await page.locator('#meter-timing').getAttribute('data-ms'));
    for (const k of ['dense', 'masked', 'compacted']) assert.ok(ms[k] > 0, `${k} timed: ${ms[k]}`);

    const finetune = await step(page, 'finetune', { timeout: 600_000 });
    assert.match(finetune, /^4\. Healing: .* for 100 more steps/);
    assert.match(finetune, /4 of the 16 attention heads removed/);
    assert.equal(await page.locator('#head-grid g.head.removed').count(), removed, 'fine-tuning keeps the heads removed');
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('layers-bi removing one block on the ViT: one bar marked, the heads of that block gone', { timeout: 600_000 }, async () => {
  const { context, page, errors } = await launch();
  try {
    await openVit(page);
    await pick(page, 'layers-bi', { remove: 1 });
    assert.equal(await page.locator('#remove-field').isVisible(), true);
    assert.equal(await page.locator('#sparsity-field').isHidden(), true);
    await step(page, 'scores');
    assert.equal(await page.locator('#block-bars g.bar').count(), 4);
    assert.equal(await page.locator('#block-bars g.bar.removed').count(), 0);
    const select = await step(page, 'select');
    const reference = cliVit(['--method', 'layers-bi', '--remove', '1']);
    const [, which] = select.match(/block (\d+) removed \(3 of 4 kept\)/);
    assert.deepEqual([Number(which)], reference.removed_blocks);
    assert.equal(await page.locator('#block-bars g.bar.removed').count(), 1);
    assert.equal(await page.locator(`#block-bars g.bar[data-index="${which}"]`).getAttribute('data-removed'), 'true');
    await page.locator('#structure-figure').screenshot({ path: join(ARTIFACTS, 'layers-bars.png') });
    const apply = await step(page, 'apply', { timeout: 300_000 });
    const [, after] = apply.match(/to (\d+\.\d+)%/).map(Number);
    assert.ok(Math.abs(after / 100 - reference.test_acc_pruned) <= 0.0015, `after: page ${after}% vs CLI ${reference.test_acc_pruned}`);
    await page.locator('input[name="view"][value="cost"]').check();
    await page.locator('#cost tbody[data-kind="vit"]').waitFor({ timeout: 60_000 });
    const [dense, , compacted] = JSON.parse(await page.locator('#cost tbody').getAttribute('data-params'));
    assert.equal(compacted, reference.compacted.parameters_after);
    assert.ok(compacted < dense);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});
