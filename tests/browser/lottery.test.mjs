// The lottery-ticket lab as a visitor runs it: short rounds with both controls, the curves and
// mask thumbnails filling in round by round, the instability curve, and Cancel.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { ARTIFACTS, URL_UNDER_TEST, colours, launch } from './chromium.mjs';

test('two short rounds with both controls fill the curves, table and mask thumbnails', { timeout: 600_000 }, async () => {
  const { context, page, errors } = await launch();
  try {
    await page.goto(`${URL_UNDER_TEST}#rounds=2&rounditers=200&lteval=50&ltengine=cpu`);
    await page.locator('#lt-run:enabled').waitFor({ timeout: 120_000 });
    assert.match(await page.locator('#lt-note').textContent(), /^Shortened for a first look: 200 iterations a round .* 2 rounds, 7 runs in all/);
    // The card describes a run from the core's ladder: two rounds leave 64.06%, the table's last
    // rung below; 18 global rounds (the output layer left alone) leave 2.17%.
    const described = page.locator('#lottery-form small').first();
    assert.equal(await described.textContent(), '2 rounds: 64.1% of the weights left');
    await page.locator('#lt-rounds').fill('18');
    await page.locator('#lt-strategy').selectOption('global');
    assert.equal(await described.textContent(), '18 rounds: 2.2% of the weights left');
    await page.locator('#lt-strategy').selectOption('per-layer');
    await page.locator('#lt-rounds').fill('2');
    await page.locator('#lt-rounds').dispatchEvent('change');
    assert.equal(await described.textContent(), '2 rounds: 64.1% of the weights left');
    await page.getByRole('button', { name: 'Run rounds' }).click();
    await page.locator('#lt-status[data-done="lottery"]').waitFor({ timeout: 480_000 });

    const rows = await page.locator('#lt-table tbody tr').evaluateAll((trs) => trs.map((tr) => Array.from(tr.cells, (c) => c.textContent)));
    assert.equal(rows.length, 7);
    // The ladder: 100%, then 20% of each hidden layer and 10% of the output layer a round.
    assert.deepEqual([...new Set(rows.map((r) => r[2]))], ['100.00%', '80.04%', '64.06%']);
    assert.deepEqual(rows.map((r) => r[1]), ['winning ticket', 'winning ticket', 'random reinit', 'random mask',
      'winning ticket', 'random reinit', 'random mask']);
    for (const r of rows) {
      assert.ok(Number(r[3].replace(/,/g, '')) <= 200, `early stop ${r[3]}`);
      assert.ok(parseFloat(r[4]) > 80, `accuracy ${r[4]}`);
    }
    // One thumbnail per ticket round, the pruned ones showing the image's border thinned.
    assert.equal(await page.locator('#lt-masks li').count(), 3);
    assert.ok(await colours(page, '#lt-masks li:last-child canvas') > 5);
    assert.ok(await colours(page, '#lt-acc') > 20, 'the accuracy chart looks blank');
    assert.ok(await colours(page, '#lt-iter') > 10, 'the early-stop chart looks blank');

    // Instability from θ₀ of the dense network.
    await page.getByRole('button', { name: 'Measure instability' }).click();
    await page.locator('#lt-status[data-done="instability"]').waitFor({ timeout: 480_000 });
    assert.match(await page.locator('#inst-caption').textContent(), /test error \d+\.\d\d% and \d+\.\d\d% at the ends, barrier -?\d+\.\d\d points/);
    const barrier = Number(await page.locator('#inst-caption').getAttribute('data-barrier'));
    assert.ok(Number.isFinite(barrier) && barrier >= 0, `barrier ${barrier}`);
    await page.locator('#lottery-heading').locator('..').screenshot({ path: join(ARTIFACTS, 'lottery.png') });
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('a round runs on WebGPU, and Cancel keeps the finished runs', { timeout: 600_000 }, async () => {
  const { context, page, errors } = await launch();
  try {
    await page.goto(`${URL_UNDER_TEST}#rounds=3&rounditers=100&lteval=100&controls=&ltengine=webgpu`);
    await page.locator('#lt-run:enabled').waitFor({ timeout: 120_000 });
    await page.getByRole('button', { name: 'Run rounds' }).click();
    await page.locator('#lt-status', { hasText: /\(WebGPU\)/ }).waitFor({ timeout: 120_000 });
    // Two runs done (dense and the first ticket), then Cancel.
    await page.locator('#lt-table tbody tr:nth-child(2)').waitFor({ timeout: 480_000 });
    await page.locator('#lt-cancel').click();
    await page.locator('#lt-status', { hasText: /^Cancelled; the \d+ finished runs stay on the charts\.$/ }).waitFor({ timeout: 120_000 });
    const rows = await page.locator('#lt-table tbody tr').count();
    assert.ok(rows >= 2 && rows < 4, `${rows} runs`);
    assert.equal(await page.locator('#lt-run').isEnabled(), true);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});
