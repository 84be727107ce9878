// The training card's data-set control: Fashion-MNIST from the server, a visitor's own IDX files
// through the file picker (gzip and raw, under any names), the IDX reader's errors on the page,
// and the data set in a link, held against the native CLI where there is a number to compare.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { ARTIFACTS, URL_UNDER_TEST, launch } from './chromium.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FASHION = process.env.PRUNEPLAY_FASHION_DATA ?? join(ROOT, 'data/fashion');
const FASHION_MODEL = join(ROOT, 'dist/model/lenet-300-100-fashion.safetensors');
const CLI = process.env.PRUNEPLAY_CLI ?? join(ROOT, 'target/release/pruneplay');
const FILES = ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'];
// Short runs: enough to tell a data set learnt from one that was not, in well under a minute.
const STEPS = 300;

/** The CLI's JSON summary (its last line) for `args`. */
function cli(args) {
  const out = execFileSync(CLI, [...args, '--json'], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').at(-1));
}

/** Waits for the status line to say the data set is in, and returns it. */
async function ready(page, dataset) {
  const status = page.locator('#status', { hasText: new RegExp(`^Ready: 55,000 training.*images of ${dataset}`) });
  await status.waitFor({ timeout: 180_000 });
  return status.textContent();
}

/** Trains `steps` steps on the CPU engine with the form as it is; returns the test accuracy. */
async function train(page, steps) {
  await page.locator('#backend').selectOption('cpu');
  await page.getByLabel('Training steps').fill(String(steps));
  await page.locator('#train:enabled').waitFor();
  await page.getByRole('button', { name: 'Train' }).click();
  const result = page.locator('#test-acc[data-value]');
  await result.waitFor({ timeout: 300_000 });
  return Number(await result.getAttribute('data-value'));
}

test('#data=fashion loads Fashion-MNIST and its shipped LeNet, and a training run reaches the CLI\'s accuracy', { timeout: 600_000 }, async () => {
  const { context, page, errors, foreign } = await launch();
  try {
    await page.goto(`${URL_UNDER_TEST}#data=fashion&seed=0`);
    await ready(page, 'Fashion-MNIST');
    assert.equal(await page.getByLabel('Data set').inputValue(), 'fashion');
    assert.equal(await page.locator('#url-note').isHidden(), true);
    assert.match(await page.locator('#train-heading').textContent(), /^Train LeNet-300-100 on Fashion-MNIST$/);
    // The prune card starts from the Fashion-MNIST checkpoint, tested on the same 10,000 images
    // as the CLI tests it.
    const info = page.locator('#model-info', { hasText: /test accuracy/ });
    await info.waitFor({ timeout: 120_000 });
    const shipped = cli(['prune', '--model', FASHION_MODEL, '--dataset', 'fashion', '--data', FASHION, '--method', 'magnitude', '--sparsity', '0.5']);
    assert.match(await info.textContent(), new RegExp(`${(100 * shipped.test_acc_before).toFixed(2)}% test accuracy`));

    const accuracy = await train(page, STEPS);
    const native = cli(['train', '--dataset', 'fashion', '--data', FASHION, '--iters', String(STEPS), '--seed', '0', '--backend', 'cpu']);
    console.log(`Fashion-MNIST, ${STEPS} steps on the CPU: page ${(100 * accuracy).toFixed(2)}%, CLI ${(100 * native.test_acc).toFixed(2)}%`);
    assert.equal(native.dataset, 'fashion');
    // Same seed, batches and engine: the same run, up to the summation order of a threaded build.
    assert.ok(Math.abs(accuracy - native.test_acc) <= 0.005, `page ${accuracy} vs CLI ${native.test_acc}`);
    // The link keeps the data set.
    assert.match(new URL(page.url()).hash, /[#&]data=fashion(&|$)/);
    await page.screenshot({ path: join(ARTIFACTS, 'data-fashion.png'), fullPage: true });
    assert.deepEqual(foreign, [], 'requests left the origin');
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('the visitor\'s own IDX files, gzip and raw under any names, load through the picker and train', { timeout: 600_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pruneplay-idx-'));
  const { context, page, errors, foreign } = await launch();
  try {
    // Gzip under their own names, and raw copies under names that say nothing: the page must
    // sort them by their headers and counts.
    const gz = FILES.map((name) => join(FASHION, name));
    const raw = ['c.idx', 'a.idx', 'd.idx', 'b.idx'].map((name, i) => {
      const path = join(dir, name);
      writeFileSync(path, gunzipSync(readFileSync(gz[i])));
      return path;
    });
    await page.goto(URL_UNDER_TEST);
    await ready(page, 'MNIST');
    await page.getByLabel('Data set').selectOption('own');
    const picker = page.getByLabel(/^IDX files/);
    await picker.waitFor();
    await picker.setInputFiles([gz[3], gz[0], gz[2], gz[1]]);
    let status = await ready(page, 'your own data set');
    assert.match(status, /training images train-images-idx3-ubyte\.gz, training labels train-labels-idx1-ubyte\.gz, test images t10k-images-idx3-ubyte\.gz, test labels t10k-labels-idx1-ubyte\.gz/);
    // No shipped model fits the visitor's data: the prune card says so.
    await page.locator('#stage-text', { hasText: /no trained model for your own data set yet/ }).waitFor();

    await picker.setInputFiles(raw);
    status = await ready(page, 'your own data set');
    assert.match(status, /training images c\.idx, training labels a\.idx, test images d\.idx, test labels b\.idx/);
    assert.match(await page.locator('#train-heading').textContent(), /on your own data$/);
    const accuracy = await train(page, 200);
    console.log(`own files (Fashion-MNIST, raw), 200 steps: ${(100 * accuracy).toFixed(2)}%`);
    assert.ok(accuracy > 0.75, `test accuracy ${accuracy}`);
    // Own files are never part of a link.
    assert.match(new URL(page.url()).hash, /[#&]data=own(&|$)/);
    assert.deepEqual(foreign, [], 'the files went nowhere');
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a bad IDX file shows the reader\'s error, and the data set loaded before stays', { timeout: 300_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pruneplay-idx-bad-'));
  const { context, page, errors } = await launch();
  try {
    const gz = FILES.map((name) => join(FASHION, name));
    // The test labels, one byte short after decompression, and a page of HTML saved as IDX.
    const cut = join(dir, 'labels-test.idx');
    const labels = gunzipSync(readFileSync(gz[3]));
    writeFileSync(cut, labels.subarray(0, labels.length - 1));
    const html = join(dir, 'train-images.idx');
    writeFileSync(html, '<!doctype html><p>Not found</p>');
    const three = join(dir, 'three');
    copyFileSync(gz[0], three);

    await page.goto(URL_UNDER_TEST);
    await ready(page, 'MNIST');
    await page.getByLabel('Data set').selectOption('own');
    const picker = page.getByLabel(/^IDX files/);
    const error = page.locator('#error');
    for (const [files, message] of [
      [[gz[0], gz[1], gz[2], cut], /labels-test\.idx: truncated: the header \[10000\] needs 10000 data bytes, the file has 9999/],
      [[html, gz[1], gz[2], gz[3]], /train-images\.idx: not an IDX or gzip file/],
      [[three, gz[1], gz[3]], /3 files were picked: a data set is four IDX files/],
      [[gz[0], gz[0], gz[2], gz[3]], /these are 3 image files \(train-images-idx3-ubyte\.gz, train-images-idx3-ubyte\.gz, t10k-images-idx3-ubyte\.gz\) and 1 label file \(t10k-labels-idx1-ubyte\.gz\)/],
    ]) {
      await picker.setInputFiles(files);
      await page.locator('#error-box').waitFor({ state: 'visible', timeout: 120_000 });
      const text = await error.textContent();
      assert.match(text, message);
      assert.match(text, /^your own data set could not be loaded, so MNIST stays: /);
      await page.locator('#status', { hasText: /^Ready: MNIST, as before/ }).waitFor();
      await page.locator('#train:enabled').waitFor();
      // Hidden here, so that the next wait sees the next error and not this one.
      await page.evaluate(() => { document.getElementById('error-box').hidden = true; });
    }
    await page.screenshot({ path: join(ARTIFACTS, 'data-bad-idx.png') });
    // MNIST is still what trains.
    assert.match(await page.locator('#train-heading').textContent(), /on MNIST$/);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a link to the visitor\'s own files opens MNIST with the usual note', { timeout: 300_000 }, async () => {
  const { context, page, errors } = await launch();
  try {
    await page.goto(`${URL_UNDER_TEST}#data=own&seed=3`);
    await ready(page, 'MNIST');
    assert.equal(await page.getByLabel('Data set').inputValue(), 'mnist');
    assert.match(await page.locator('#url-note').textContent(), /data "own" names files from another visitor's computer.*opened MNIST/);
    assert.match(new URL(page.url()).hash, /[#&]data=mnist(&|$)/);
    // The rest of the link stands.
    assert.equal(await page.locator('#seed').inputValue(), '3');
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('a build without Fashion-MNIST lists it with the command that adds it, and its links open MNIST', { timeout: 300_000 }, async () => {
  // The build's list routed; no service worker, which would answer before the route could.
  const { context, page, errors } = await launch({ serviceWorkers: 'block' });
  try {
    await page.route('**/datasets.json', (route) => route.fulfill({ contentType: 'application/json', body: '{"datasets": ["mnist"]}' }));
    await page.goto(`${URL_UNDER_TEST}#data=fashion`);
    await ready(page, 'MNIST');
    assert.match(await page.locator('#url-note').textContent(), /data "fashion" is not on this site.*opened MNIST/);
    const option = page.locator('#dataset option[value="fashion"]');
    assert.match(await option.textContent(), /^Fashion-MNIST: not in this build/);
    await page.getByLabel('Data set').selectOption('fashion');
    assert.match(await page.locator('#dataset-note').textContent(), /sudo apt-get install dataset-fashion-mnist.*cargo xtask build/);
    // Nothing was loaded instead: MNIST stays chosen and ready.
    assert.equal(await page.getByLabel('Data set').inputValue(), 'mnist');
    assert.match(await page.locator('#status').textContent(), /^Ready: 55,000 training/);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});
