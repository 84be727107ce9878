// "Compare methods": Run all sweeps the ticked methods over the typed sparsities and draws a
// curve per method; the points match the native CLI's sweep of the same model.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ARTIFACTS, URL_UNDER_TEST, cli, launch } from './chromium.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** `pruneplay prune` on the shipped ViT; its JSON summary. */
function cliVit(args) {
  const bin = process.env.PRUNEPLAY_CLI ?? join(ROOT, 'target/release/pruneplay');
  const model = process.env.PRUNEPLAY_VIT_MODEL ?? join(ROOT, 'dist/model/vit-mnist.safetensors');
  const data = process.env.PRUNEPLAY_DATA ?? join(ROOT, 'data/mnist');
  const out = execFileSync(bin, ['prune', ...args, '--model', model, '--data', data, '--json'], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').at(-1));
}

test('Run all sweeps three sparsities for two methods and plots them', { timeout: 300_000 }, async () => {
  const { context, page, errors } = await launch();
  try {
    await page.goto(URL_UNDER_TEST);
    await page.locator('#run-all:enabled').waitFor({ timeout: 120_000 });
    for (const box of await page.locator('#compare input').all()) await box.uncheck();
    await page.getByRole('checkbox', { name: 'Magnitude', exact: true }).check();
    await page.getByRole('checkbox', { name: 'SparseGPT' }).check();
    await page.getByRole('textbox', { name: /^Sparsities/ }).fill('0.9, 0.5,0.8');
    await page.getByRole('button', { name: 'Run all' }).click();
    await page.locator('#sweep-status[data-done="6"]').waitFor({ timeout: 240_000 });

    const rows = await page.locator('#sweep-table tbody tr').evaluateAll((trs) => trs.map((tr) => Array.from(tr.cells, (c) => c.textContent)));
    assert.equal(rows.length, 6);
    // Sorted sparsities, one row per (method, sparsity), with the CLI's numbers.
    assert.deepEqual(rows.map((r) => r[1]), ['0.50', '0.80', '0.90', '0.50', '0.80', '0.90']);
    for (const [name, method] of [['magnitude', 'magnitude'], ['SparseGPT', 'sparsegpt']]) {
      for (const sparsity of ['0.50', '0.80', '0.90']) {
        const row = rows.find((r) => r[0] === name && r[1] === sparsity);
        const reference = cli(['prune', '--method', method, '--sparsity', sparsity]);
        const diff = Math.abs(parseFloat(row[3]) - 100 * reference.test_acc_pruned);
        assert.ok(diff <= 0.15, `${method} at ${sparsity}: page ${row[3]} vs CLI ${reference.test_acc_pruned}`);
      }
    }
    // The chart has both curves: the palette's first two colours appear.
    const inked = await page.locator('#sweep-chart').evaluate((canvas) => {
      const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
      let blue = 0;
      let orange = 0;
      for (let i = 0; i < data.length; i += 4) {
        if (data[i] === 0 && data[i + 1] === 114 && data[i + 2] === 178) blue += 1;
        if (data[i] === 230 && data[i + 1] === 159 && data[i + 2] === 0) orange += 1;
      }
      return { blue, orange };
    });
    assert.ok(inked.blue > 50 && inked.orange > 50, `curves missing: ${JSON.stringify(inked)}`);
    assert.match(page.url(), /compare=magnitude%2Csparsegpt/);
    await page.locator('#sweep-chart').screenshot({ path: join(ARTIFACTS, 'compare.png') });
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('With healing, Run all fine-tunes each pruned network and tests it again', { timeout: 300_000 }, async () => {
  const { context, page, errors } = await launch();
  try {
    await page.goto(URL_UNDER_TEST);
    await page.locator('#run-all:enabled').waitFor({ timeout: 120_000 });
    for (const box of await page.locator('#compare input').all()) await box.uncheck();
    await page.getByRole('checkbox', { name: 'Magnitude', exact: true }).check();
    await page.getByRole('textbox', { name: /^Sparsities/ }).fill('0.9,0.95');
    await page.getByRole('combobox', { name: /^Healing/ }).selectOption('healed');
    await page.getByRole('button', { name: 'Run all' }).click();
    await page.locator('#sweep-status[data-done="2"]').waitFor({ timeout: 240_000 });
    const rows = await page.locator('#sweep-table tbody tr').evaluateAll((trs) => trs.map((tr) => Array.from(tr.cells, (c) => c.textContent)));
    // Each level twice: one-shot, then healed by the walk-through's 200 steps.
    assert.deepEqual(rows.map((r) => [r[1], r[4]]), [['0.90', 'none'], ['0.90', '200 steps'], ['0.95', 'none'], ['0.95', '200 steps']]);
    // Healing keeps the mask: the same weights are left.
    assert.equal(rows[0][2], rows[1][2]);
    assert.equal(rows[2][2], rows[3][2]);
    // The one-shot points are the CLI's, and fine-tuning gives accuracy back at both levels.
    const reference = cli(['prune', '--method', 'magnitude', '--sparsity', '0.95']);
    assert.ok(Math.abs(parseFloat(rows[2][3]) - 100 * reference.test_acc_pruned) <= 0.15, `one-shot ${rows[2][3]} vs CLI ${reference.test_acc_pruned}`);
    for (const [oneShot, healed] of [[rows[0], rows[1]], [rows[2], rows[3]]]) {
      assert.ok(parseFloat(healed[3]) > parseFloat(oneShot[3]), `healed ${healed[3]} vs one-shot ${oneShot[3]}`);
    }
    // At 95% one-shot magnitude is near chance (27.92% on the shipped model); 200 steps bring
    // it back to about 86%.
    assert.ok(parseFloat(rows[3][3]) - parseFloat(rows[2][3]) > 30, `healed at 95%: ${rows[3][3]} from ${rows[2][3]}`);
    assert.match(await page.locator('#sweep-caption').textContent(), /healed \(dashed\)/);
    assert.match(page.url(), /heal=healed/);
    await page.locator('#sweep-chart').screenshot({ path: join(ARTIFACTS, 'compare-healed.png') });
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('Run all can be cancelled, and a bad list of sparsities is refused with a message', { timeout: 300_000 }, async () => {
  const { context, page, errors } = await launch();
  try {
    await page.goto(URL_UNDER_TEST);
    await page.locator('#run-all:enabled').waitFor({ timeout: 120_000 });
    await page.getByRole('textbox', { name: /^Sparsities/ }).fill('0.5,1.5');
    await page.getByRole('button', { name: 'Run all' }).click();
    // The browser's own check on the field stops the form; nothing starts.
    assert.equal(await page.locator('#levels').evaluate((el) => el.validity.valid), false);
    assert.equal(await page.locator('#sweep-table tbody tr').count(), 0);

    await page.getByRole('textbox', { name: /^Sparsities/ }).fill('0.5,0.6,0.7,0.8,0.9,0.95');
    await page.getByRole('button', { name: 'Run all' }).click();
    await page.locator('#sweep-table tbody tr').first().waitFor({ timeout: 120_000 });
    await page.getByRole('button', { name: 'Cancel' }).and(page.locator('#sweep-cancel')).click();
    await page.locator('#sweep-status', { hasText: /Cancelled after \d+ of 24/ }).waitFor({ timeout: 60_000 });
    assert.equal(await page.locator('#run-all').isEnabled(), true);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('On the ViT, Run all sweeps heads in eighths and blocks one by one, healed', { timeout: 900_000 }, async () => {
  const { context, page, errors } = await launch();
  try {
    await page.goto(URL_UNDER_TEST);
    await page.locator('#run-all:enabled').waitFor({ timeout: 120_000 });
    // Heads and blocks need the ViT: greyed on LeNet.
    assert.equal(await page.locator('#compare-family option[value="heads"]').evaluate((o) => o.disabled), true);
    await page.locator('#prune-model').selectOption('vit');
    await page.locator('#model-info', { hasText: /tiny ViT trained.*test accuracy/ }).waitFor({ timeout: 120_000 });
    await page.locator('#compare-family').selectOption('heads');
    assert.equal(await page.locator('#levels-field').isHidden(), true);
    for (const box of await page.locator('#compare label:visible input').all()) await box.uncheck();
    await page.getByRole('checkbox', { name: 'Heads, Taylor' }).check();
    await page.getByRole('button', { name: 'Run all' }).click();
    await page.locator('#sweep-status[data-done="7"]').waitFor({ timeout: 300_000 });
    const rows = await page.locator('#sweep-table tbody tr').evaluateAll((trs) => trs.map((tr) => Array.from(tr.cells, (c) => c.textContent)));
    assert.deepEqual(rows.map((r) => r[2]), ['14 of 16', '12 of 16', '10 of 16', '8 of 16', '6 of 16', '4 of 16', '2 of 16']);
    const quarter = rows.find((r) => r[1] === '0.250');
    const reference = cliVit(['--method', 'heads-taylor', '--sparsity', '0.25']);
    const diff = Math.abs(parseFloat(quarter[3]) - 100 * reference.test_acc_pruned);
    assert.ok(diff <= 0.15, `heads-taylor at 0.25: page ${quarter[3]} vs CLI ${reference.test_acc_pruned}`);
    await page.locator('#sweep-chart').screenshot({ path: join(ARTIFACTS, 'compare-heads.png') });

    await page.locator('#compare-family').selectOption('layers');
    assert.equal(await page.getByRole('checkbox', { name: 'Blocks, BI' }).isChecked(), true);
    for (const box of await page.locator('#compare label:visible input').all()) await box.uncheck();
    await page.getByRole('checkbox', { name: 'Blocks, BI' }).check();
    // Healed too: each block count is fine-tuned (100 steps on the ViT) and tested again.
    await page.getByRole('combobox', { name: /^Healing/ }).selectOption('healed');
    await page.getByRole('button', { name: 'Run all' }).click();
    await page.locator('#sweep-status[data-done="3"]').waitFor({ timeout: 420_000 });
    const blocks = await page.locator('#sweep-table tbody tr').evaluateAll((trs) => trs.map((tr) => Array.from(tr.cells, (c) => c.textContent)));
    assert.deepEqual(blocks.map((r) => r[1]), ['1', '1', '2', '2', '3', '3']);
    assert.deepEqual(blocks.map((r) => r[2]), ['3 of 4', '3 of 4', '2 of 4', '2 of 4', '1 of 4', '1 of 4']);
    assert.deepEqual(blocks.map((r) => r[4]), ['none', '100 steps', 'none', '100 steps', 'none', '100 steps']);
    // Healing gives back what dropping two and three blocks took.
    for (const at of [2, 4]) {
      assert.ok(parseFloat(blocks[at + 1][3]) > parseFloat(blocks[at][3]), `healed ${blocks[at + 1][3]} vs one-shot ${blocks[at][3]}`);
    }
    await page.locator('#sweep-chart').screenshot({ path: join(ARTIFACTS, 'compare-layers.png') });
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});
