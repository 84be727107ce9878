// What a phone visitor in dark mode sees: nothing wider than the screen, the pictures drawn in
// the dark theme's colours, every control reachable by keyboard and named.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { ARTIFACTS, launch, openReady, step } from './chromium.mjs';

test('a 375 px phone in dark mode gets the whole page without sideways scrolling', { timeout: 300_000 }, async () => {
  const { context, page, errors } = await launch({ colorScheme: 'dark', viewport: { width: 375, height: 812 } });
  try {
    await openReady(page);
    await page.locator('#method').selectOption('magnitude');
    for (const stage of ['scores', 'select', 'apply']) await step(page, stage, { button: 'Step', timeout: 60_000 });
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 375, `the page is ${width} px wide on a 375 px screen`);
    // Pruned weights are the dark theme's grey, not the light theme's.
    const corner = await page.locator('#fields').evaluate((c) => Array.from(c.getContext('2d').getImageData(0, 0, 1, 1).data));
    assert.deepEqual(corner, [82, 86, 94, 255]);
    await page.screenshot({ path: join(ARTIFACTS, 'phone-dark.png'), fullPage: true });
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('every control has a name and Tab reaches all of them', { timeout: 120_000 }, async () => {
  const { context, page, errors } = await launch();
  try {
    await openReady(page);
    // Every visible control has a label, an aria label or (buttons) text. Controls inside a
    // closed <details> are not rendered, so checkVisibility() leaves them out.
    const unnamed = await page.evaluate(() => Array.from(document.querySelectorAll('input, select, button, canvas'))
      .filter((el) => el.checkVisibility())
      .filter((el) => {
        const label = el.labels?.length ? el.labels[0].textContent : '';
        return !(label.trim() || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby') || (el.tagName === 'BUTTON' && el.textContent.trim()));
      })
      .map((el) => el.id || el.outerHTML.slice(0, 60)));
    assert.deepEqual(unnamed, []);
    // Tabbing through the page visits every enabled, visible control once.
    const controls = await page.evaluate(() => Array.from(document.querySelectorAll('input, select, button'))
      .filter((el) => el.checkVisibility() && !el.disabled).length);
    const visited = new Set();
    for (let i = 0; i < controls * 2 && visited.size < controls; i++) {
      await page.keyboard.press('Tab');
      const id = await page.evaluate(() => {
        // Form controls only: question titles (<summary>) are focusable too, and not counted.
        const el = document.activeElement;
        return el?.matches('input, select, button') ? el.id || `${el.name}=${el.value}` : null;
      });
      if (id) visited.add(id);
    }
    // Radio groups are one tab stop (arrow keys move within them), so count them once.
    const radioExtras = await page.evaluate(() => {
      const groups = new Map();
      for (const r of document.querySelectorAll('input[type=radio]')) if (r.checkVisibility()) groups.set(r.name, (groups.get(r.name) ?? 0) + 1);
      return [...groups.values()].reduce((a, n) => a + n - 1, 0);
    });
    assert.equal(visited.size, controls - radioExtras);
    // The picture tabs answer the arrow keys.
    await page.getByRole('radio', { name: 'Weight heatmaps' }).focus();
    await page.keyboard.press('ArrowRight');
    assert.equal(await page.getByRole('radio', { name: 'Pixel maps' }).isChecked(), true);
    assert.equal(await page.locator('.view[data-view="pixels"]').isVisible(), true);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});
