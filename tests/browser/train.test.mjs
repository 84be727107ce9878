// The first-version page, driven as a visitor drives it: wait for MNIST to download, set a short
// run, press Train, read the test accuracy off the page.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { ARTIFACTS, URL_UNDER_TEST, launch } from './chromium.mjs';

test('on a software adapter, Engine on automatic trains on the CPU and the engine line says why', { timeout: 300_000 }, async () => {
  const { context, page, errors } = await launch();
  try {
    await page.goto(URL_UNDER_TEST);
    await page.locator('#train:enabled').waitFor({ timeout: 120_000 });
    assert.equal(await page.locator('#backend').inputValue(), 'auto');
    // SwiftShader runs the kernels on the CPU, slower than the CPU engine: automatic passes it over.
    const engine = page.locator('#engine');
    await page.locator('#engine[data-backend="cpu"]').waitFor();
    assert.match(await engine.textContent(),
      /^CPU \(WebAssembly, (\d+ threads|one thread)\) in a Web Worker: chosen automatically: WebGPU here is SwiftShader, a software renderer, slower than the CPU engine/);
    await page.getByLabel('Training steps').fill('100');
    await page.getByRole('button', { name: 'Train' }).click();
    const result = page.locator('#test-acc[data-value]');
    await result.waitFor({ timeout: 240_000 });
    assert.equal(await engine.getAttribute('data-backend'), 'cpu');
    assert.match(await engine.textContent(), /chosen automatically: WebGPU here is SwiftShader/);
    assert.ok(Number(await result.getAttribute('data-value')) > 0.85);
    // The visitor can still force WebGPU, and the line follows at once.
    await page.locator('#backend').selectOption('webgpu');
    await page.locator('#engine[data-backend="webgpu"]').waitFor();
    assert.match(await engine.textContent(), /^WebGPU \(.*swiftshader.*\) in a Web Worker: as chosen\.$/i);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('with Engine on WebGPU the page trains LeNet-300-100 on MNIST on WebGPU to over 90% test accuracy', { timeout: 600_000 }, async () => {
  const { context, page, errors, foreign } = await launch();
  try {
    // Long tasks on the page's main thread: training runs in the worker, so there should be none
    // over 200 ms while it trains.
    await page.addInitScript(() => {
      window.longTasks = [];
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) window.longTasks.push({ start: e.startTime, duration: e.duration });
      }).observe({ type: 'longtask', buffered: true });
    });
    await page.goto(`${URL_UNDER_TEST}#engine=webgpu`);
    // The Train button is enabled once the four files are downloaded and decoded.
    await page.locator('#train:enabled').waitFor({ timeout: 120_000 });
    assert.match(await page.locator('#status').textContent(), /55,000 training/);
    // The page found WebGPU (SwiftShader here) and will train on it, as chosen.
    await page.locator('#engine[data-backend="webgpu"]').waitFor();
    assert.match(await page.locator('#engine').textContent(), /^WebGPU \(.*swiftshader.*\)/i);

    await page.getByLabel('Training steps').fill('300');
    // The observer can only report what the browser measures.
    assert.equal(await page.evaluate(() => PerformanceObserver.supportedEntryTypes.includes('longtask')), true);
    const trainStart = await page.evaluate(() => performance.now());
    await page.getByRole('button', { name: 'Train' }).click();
    await page.locator('#cancel:enabled').waitFor();

    const result = page.locator('#test-acc[data-value]');
    await result.waitFor({ timeout: 480_000 });
    const accuracy = Number(await result.getAttribute('data-value'));
    console.log(`test accuracy after 300 steps in the browser: ${(100 * accuracy).toFixed(2)}%`);
    assert.ok(accuracy > 0.9, `test accuracy ${accuracy} is not above 0.9`);
    assert.match(await result.textContent(), /^\d+\.\d\d%$/);
    assert.match(await page.locator('#status').textContent(), /Done: 300 steps/);
    // The run itself went through the WebGPU engine.
    assert.equal(await page.locator('#engine').getAttribute('data-backend'), 'webgpu');
    assert.equal(await page.locator('#error').isHidden(), true);
    // The curves were drawn: the chart canvas is not blank.
    const inked = await page.locator('#acc-chart').evaluate((canvas) => {
      const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
      const colours = new Set();
      for (let i = 0; i < data.length; i += 4 * 97) colours.add(`${data[i]},${data[i + 1]},${data[i + 2]}`);
      return colours.size;
    });
    assert.ok(inked > 3, `the accuracy chart looks blank (${inked} colours)`);
    await page.screenshot({ path: join(ARTIFACTS, 'train.png'), fullPage: true });
    const longTasks = await page.evaluate((t0) => window.longTasks.filter((t) => t.start >= t0), trainStart);
    const longest = Math.max(0, ...longTasks.map((t) => t.duration));
    console.log(`main-thread long tasks while training: ${longTasks.length}, longest ${longest.toFixed(0)} ms`);
    assert.ok(longest <= 200, `a ${longest} ms long task blocked the page while training`);
    assert.deepEqual(foreign, [], 'requests left the origin');
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('without WebGPU the page says so and trains on the CPU', { timeout: 300_000 }, async () => {
  const { context, page, errors } = await launch({ webgpu: false });
  try {
    await page.goto(URL_UNDER_TEST);
    await page.locator('#train:enabled').waitFor({ timeout: 120_000 });
    assert.equal(await page.locator('#engine').getAttribute('data-backend'), 'cpu');
    assert.match(await page.locator('#engine').textContent(), /^CPU \(WebAssembly, (\d+ threads|one thread)\) in a Web Worker: WebGPU is not available in this browser\.$/);
    await page.getByLabel('Training steps').fill('300');
    await page.getByRole('button', { name: 'Train' }).click();
    const result = page.locator('#test-acc[data-value]');
    await result.waitFor({ timeout: 240_000 });
    const accuracy = Number(await result.getAttribute('data-value'));
    console.log(`test accuracy after 300 steps on the CPU path: ${(100 * accuracy).toFixed(2)}%`);
    assert.ok(accuracy > 0.9, `test accuracy ${accuracy}`);
    assert.equal(await page.locator('#engine').getAttribute('data-backend'), 'cpu');
    await page.screenshot({ path: join(ARTIFACTS, 'cpu-fallback.png'), fullPage: true });
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('a corrupt data file is reported on the page, naming the file', { timeout: 120_000 }, async () => {
  const { context, page, errors } = await launch();
  try {
    // The server's real file, cut short: what an interrupted download or a bad mirror gives.
    await page.route('**/train-labels-idx1-ubyte.gz', async (route) => {
      const response = await route.fetch();
      const body = await response.body();
      await route.fulfill({ response, body: body.subarray(0, body.length / 2) });
    });
    await page.goto(URL_UNDER_TEST);
    const error = page.locator('#error');
    await error.waitFor({ state: 'visible', timeout: 60_000 });
    assert.match(await error.textContent(), /train-labels-idx1-ubyte\.gz: corrupt gzip/);
    assert.equal(await page.locator('#train').isDisabled(), true);
    await page.screenshot({ path: join(ARTIFACTS, 'corrupt-data.png') });
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('a diverging learning rate stops training with advice, and Train works again', { timeout: 300_000 }, async () => {
  const { context, page, errors } = await launch();
  try {
    await page.goto(URL_UNDER_TEST);
    await page.locator('#train:enabled').waitFor({ timeout: 120_000 });
    await page.getByLabel('Optimizer').selectOption('sgd');
    await page.getByLabel('Learning rate').fill('10');
    await page.getByLabel('Training steps').fill('300');
    await page.getByRole('button', { name: 'Train' }).click();
    const error = page.locator('#error');
    await error.waitFor({ state: 'visible', timeout: 240_000 });
    assert.match(await error.textContent(), /training diverged at step \d+ .*Try a smaller learning rate \(now 10\)/);
    // Nothing is stuck: the visitor can fix the setting and train again.
    await page.locator('#train:enabled').waitFor();
    assert.equal(await page.locator('#cancel').isDisabled(), true);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('Cancel stops a long run between chunks', { timeout: 300_000 }, async () => {
  const { context, page, errors } = await launch();
  try {
    await page.goto(URL_UNDER_TEST);
    await page.locator('#train:enabled').waitFor({ timeout: 120_000 });
    await page.getByLabel('Training steps').fill('100000');
    await page.getByRole('button', { name: 'Train' }).click();
    await page.locator('#status', { hasText: /^Step \d+ of 100000/ }).waitFor({ timeout: 120_000 });
    await page.locator('#cancel').click();
    await page.locator('#status', { hasText: /^Cancelled after \d+ steps\.$/ }).waitFor({ timeout: 60_000 });
    await page.locator('#train:enabled').waitFor();
    assert.equal(await page.locator('#test-acc').getAttribute('data-value'), null);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});
