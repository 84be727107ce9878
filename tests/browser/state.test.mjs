// Settings live in the link: opening a link reproduces them, bad values are replaced with a
// visible note, and changing a control updates the address bar without new history entries.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { URL_UNDER_TEST, launch } from './chromium.mjs';

test('a link restores its settings and the address bar follows the controls', { timeout: 120_000 }, async () => {
  const { context, page, errors } = await launch();
  try {
    await page.goto(`${URL_UNDER_TEST}#v=1&method=wanda&sparsity=0.7&seed=5&steps=300&opt=sgd&lr=0.01`
      + '&view=confusion&compare=random%2Ctaylor&levels=0.3%2C0.6&calib=256&orate=0.5');
    assert.equal(await page.locator('#method').inputValue(), 'wanda');
    assert.equal(await page.locator('#sparsity').inputValue(), '0.7');
    assert.equal(await page.locator('#seed').inputValue(), '5');
    assert.equal(await page.locator('#iters').inputValue(), '300');
    assert.equal(await page.locator('#optimizer').inputValue(), 'sgd');
    assert.equal(await page.locator('#lr').inputValue(), '0.01');
    assert.equal(await page.locator('#calibration').inputValue(), '256');
    assert.equal(await page.locator('#output-rate').inputValue(), '0.5');
    assert.equal(await page.locator('#levels').inputValue(), '0.3,0.6');
    assert.equal(await page.getByRole('radio', { name: 'Confusion matrix' }).isChecked(), true);
    assert.equal(await page.locator('.view[data-view="confusion"]').isVisible(), true);
    assert.deepEqual(await page.locator('#compare input:checked').evaluateAll((b) => b.map((x) => x.value)), ['random', 'taylor']);
    assert.equal(await page.locator('#url-note').isHidden(), true);

    const entries = await page.evaluate(() => history.length);
    await page.locator('#method').selectOption('sparsegpt');
    await page.locator('#sparsity').fill('0.8');
    await page.locator('#sparsity').dispatchEvent('change');
    const hash = await page.evaluate(() => location.hash);
    assert.match(hash, /method=sparsegpt/);
    assert.match(hash, /sparsity=0\.8/);
    assert.match(hash, /^#v=1&/);
    assert.equal(await page.evaluate(() => history.length), entries, 'no history entry per change');

    await page.getByRole('button', { name: 'Copy link to these settings' }).click();
    await page.locator('#share-status', { hasText: /Link copied\.|#v=1&/ }).waitFor();
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('bad values in a link are replaced by valid ones, with a note', { timeout: 120_000 }, async () => {
  const { context, page, errors } = await launch();
  try {
    await page.goto(`${URL_UNDER_TEST}#v=1&sparsity=1.5&method=bogus&batch=abc&steps=-3&foo=1`
      + '&view=nope&compare=magnitude%2Cbogus&levels=1%2C2&pattern=3:4');
    assert.equal(await page.locator('#sparsity').inputValue(), '0.99');
    assert.equal(await page.locator('#method').inputValue(), 'magnitude');
    assert.equal(await page.locator('#batch').inputValue(), '60');
    assert.equal(await page.locator('#iters').inputValue(), '1');
    const note = page.locator('#url-note');
    await note.waitFor({ state: 'visible' });
    const text = await note.textContent();
    for (const part of [/sparsity 1\.5 is outside 0…0\.99/, /method "bogus" is not one of/, /batch "abc" is not a number/, /"foo" is not a setting/,
      /view "nope" is not one of heatmap/, /compare "magnitude,bogus" is not a list of/, /levels "1,2" is not valid/, /pattern "3:4" is not one of/]) {
      assert.match(text, part);
    }
    // Defaults stand where the link was wrong.
    assert.equal(await page.getByRole('radio', { name: 'Weight heatmaps' }).isChecked(), true);
    assert.equal(await page.locator('#levels').inputValue(), '0.5,0.7,0.8,0.9,0.95');
    // The address bar now holds the valid settings.
    assert.match(await page.evaluate(() => location.hash), /sparsity=0\.99/);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});
