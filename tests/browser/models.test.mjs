// Models in and results out, as a PyTorch user meets them: a checkpoint in each form the loader
// accepts, opened through "Open a model", shows the test accuracy the native CLI computes on the
// same file; a model pruned on the page, downloaded, loads back into the CLI with the same masks
// and accuracy, and so do its masks alone; each bad file gives its message and leaves the model
// as it was; a file dropped on the card opens too; and the tables download as CSV and JSON.
//
// The forms the CLI does not write (a Flatten offset, named modules, torch.nn.utils.prune's
// weight_orig) are made here by rewriting a safetensors header: 8 bytes of little-endian header
// length, the JSON header, then the data, whose offsets do not change when names do.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { ARTIFACTS, launch, openReady, step } from './chromium.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = process.env.PRUNEPLAY_CLI ?? join(ROOT, 'target/release/pruneplay');
const LENET = process.env.PRUNEPLAY_MODEL ?? join(ROOT, 'dist/model/lenet-300-100.safetensors');
const VIT = process.env.PRUNEPLAY_VIT_MODEL ?? join(ROOT, 'dist/model/vit-mnist.safetensors');
const DATA = process.env.PRUNEPLAY_DATA ?? join(ROOT, 'data/mnist');
const WORK = mkdtempSync(join(tmpdir(), 'pruneplay-models-'));
const SHIPPED = /trained for two epochs.*test accuracy/;

/** `pruneplay prune --model FILE [--masks M] --sparsity 0 --json …`: its summary line. */
function cliPrune(model, extra = []) {
  const out = execFileSync(BIN, ['prune', '--model', model, '--data', DATA, '--sparsity', '0', '--json', ...extra], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').at(-1));
}

/** A safetensors file as {header, data}: the JSON header and the bytes after it. */
function readSafetensors(path) {
  const bytes = readFileSync(path);
  const length = Number(bytes.readBigUInt64LE(0));
  return { header: JSON.parse(bytes.subarray(8, 8 + length).toString('utf8')), data: bytes.subarray(8 + length) };
}

/** Writes `header` and `data` as a safetensors file (header padded with spaces to 8 bytes). */
function writeSafetensors(path, header, data) {
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  writeFileSync(path, Buffer.concat([length, Buffer.from(json, 'utf8'), data]));
  return path;
}

/** A copy of `from` with each tensor renamed by `rename(name)` (and its entry changed by `edit`). */
function rewrite(from, to, rename, edit = (entry) => entry) {
  const { header, data } = readSafetensors(from);
  const out = {};
  for (const [name, entry] of Object.entries(header)) {
    out[name === '__metadata__' ? name : rename(name)] = name === '__metadata__' ? entry : edit({ ...entry }, name);
  }
  return writeSafetensors(join(WORK, to), out, data);
}

/** `pruneplay train --arch 784-256-128-10 --iters 200 --out …`: the glossary's network, briefly trained. */
function train256() {
  const out = join(WORK, 'mlp-256-128.safetensors');
  execFileSync(BIN, ['train', '--arch', '784-256-128-10', '--iters', '200', '--data', DATA, '--out', out], { encoding: 'utf8' });
  return out;
}

/** Opens `path` through the file input, as the visitor picking it would. */
async function openFile(page, path, name = basename(path)) {
  await page.locator('#open-model').setInputFiles({ name, mimeType: 'application/octet-stream', buffer: readFileSync(path) });
}

/** Waits for the model line to name the opened file; returns its numbers. */
async function opened(page, name) {
  await page.waitForFunction((n) => {
    const info = document.querySelector('#model-info');
    return info.dataset.source === 'opened' && info.textContent.startsWith(`${n}:`);
  }, name, { timeout: 120_000 });
  return page.locator('#model-info').evaluate((info) => ({ text: info.textContent, ...info.dataset }));
}

/** The page's region from the model line to the end of the downloads, for close-up screenshots. */
async function panelClip(page) {
  return page.evaluate(() => {
    const top = document.querySelector('#prune-model').closest('p').getBoundingClientRect();
    const bottom = document.querySelector('.model-files').getBoundingClientRect();
    return { x: 0, y: Math.max(0, top.top - 8), width: window.innerWidth, height: Math.min(window.innerHeight, bottom.bottom - top.top + 16) };
  });
}

/** Clicks `button` and saves the download it starts under ARTIFACTS; returns the path. */
async function download(page, button, as) {
  const [file] = await Promise.all([page.waitForEvent('download'), page.locator(button).click()]);
  const path = join(ARTIFACTS, as ?? file.suggestedFilename());
  await file.saveAs(path);
  return path;
}

test('each accepted form opens through "Open a model" with the accuracy the CLI gives the same file', { timeout: 600_000 }, async () => {
  const flatten = rewrite(LENET, 'lenet-flatten.safetensors', (n) => n.replace(/^(\d+)\./, (_, i) => `${Number(i) + 1}.`));
  const named = rewrite(LENET, 'lenet-fc.safetensors', (n) => n.replace(/^(\d+)\./, (_, i) => `fc${Number(i) / 2 + 1}.`));
  // torch.nn.utils.prune's form: the pruned layers as weight_orig + weight_mask. Our own
  // pruned file's weights are already masked, which is a valid weight_orig (weight = orig × mask).
  const pruned = join(WORK, 'lenet-pruned.safetensors');
  execFileSync(BIN, ['prune', '--model', LENET, '--data', DATA, '--sparsity', '0.8', '--out', pruned, '--json']);
  const orig = rewrite(pruned, 'lenet-orig.safetensors', (n) => (n.endsWith('.weight') ? `${n}_orig` : n));
  const forms = [
    [flatten, /^784-300-100-10, .*nn\.Sequential, Linear layers at 1, 3, 5 \(after nn\.Flatten\)/],
    [named, /^784-300-100-10, .*named Linear modules fc1, fc2, fc3/],
    [orig, /^784-300-100-10, .*20\.\d\d% of its weights remaining; .*weight_orig \+ weight_mask/],
    [train256(), /^784-256-128-10, .*100\.00% of its weights remaining; .*nn\.Sequential, Linear layers at 0, 2, 4/],
    [VIT, /timm VisionTransformer/],
  ];
  const { context, page, errors } = await launch();
  try {
    await openReady(page, SHIPPED);
    for (const [path, expected] of forms) {
      const name = basename(path);
      await openFile(page, path);
      const info = await opened(page, name);
      const reference = cliPrune(path);
      assert.match(info.text.slice(name.length + 2), expected, `${name}: ${info.text}`);
      // The same model and test set natively: only float summation order could differ.
      assert.ok(Math.abs(Number(info.testAcc) - reference.test_acc_before) <= 2e-4,
        `${name}: page ${info.testAcc} vs CLI ${reference.test_acc_before}`);
      assert.ok(info.text.includes(`${(100 * reference.test_acc_before).toFixed(2)}% test accuracy`), info.text);
      assert.ok(Math.abs(Number(info.weightsRemaining) - reference.weights_remaining) < 1e-9, `${name}: weights remaining`);
      assert.match(await page.locator('#open-status').textContent(), new RegExp(`^Opened ${name.replace('.', '\\.')}: `));
      // It goes through the walk-through as the shipped model does.
      assert.match(await step(page, 'scores', { timeout: 180_000 }), /^1\. /);
      await page.getByRole('button', { name: 'Start over' }).click();
    }
    // The lab says it trains the opened shape from a fresh θ₀ (the last MLP was 784-256-128-10).
    await page.locator('#prune-model').selectOption('lenet');
    await page.locator('#model-info', { hasText: SHIPPED }).waitFor();
    await openFile(page, forms[3][0]);
    await opened(page, basename(forms[3][0]));
    assert.match(await page.locator('#lt-note').textContent(), /trains the shape of the model to prune, 784-256-128-10, from a fresh θ₀/);
    await page.screenshot({ path: join(ARTIFACTS, 'models-opened.png'), fullPage: true });
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('a model pruned on the page downloads under its own names and loads back into the CLI with the same masks and accuracy', { timeout: 600_000 }, async () => {
  const named = rewrite(LENET, 'lenet-fc.safetensors', (n) => n.replace(/^(\d+)\./, (_, i) => `fc${Number(i) / 2 + 1}.`));
  const { context, page, errors } = await launch();
  try {
    await openReady(page, SHIPPED);
    assert.equal(await page.locator('#downloads').isVisible(), true, 'downloads show once a model is loaded');
    await openFile(page, named);
    await opened(page, 'lenet-fc.safetensors');
    await page.locator('#method').selectOption('magnitude');
    await page.locator('#sparsity').fill('0.9');
    await step(page, 'scores');
    const select = await step(page, 'select');
    assert.match(select, /keeps 23,520 of 235,200/);
    const [, , after] = (await step(page, 'apply')).match(/from (\d+\.\d+)% to (\d+\.\d+)%/);

    // The model as the walk-through has it: weights × mask, masks beside, fc names kept.
    const model = await download(page, '#download-model');
    assert.equal(basename(model), 'lenet-fc-pruneplay.safetensors');
    const names = Object.keys(readSafetensors(model).header).filter((n) => n !== '__metadata__').sort();
    assert.deepEqual(names, ['fc1.bias', 'fc1.weight', 'fc1.weight_mask', 'fc2.bias', 'fc2.weight', 'fc2.weight_mask', 'fc3.bias', 'fc3.weight', 'fc3.weight_mask']);
    const back = cliPrune(model);
    assert.equal((100 * back.test_acc_before).toFixed(2), after, 'the CLI tests the downloaded model as the page did');
    assert.ok(Math.abs(back.weights_remaining - 0.1) < 1e-3, `weights remaining ${back.weights_remaining}`);
    assert.equal(back.layers[0].remaining, 23_520);
    const python = await page.locator('#model-python').textContent();
    assert.match(python, /load_file\("lenet-fc-pruneplay\.safetensors"\)/);
    assert.match(python, /prune\.custom_from_mask\(module, "weight", state\[name \+ "\.weight_mask"\]\)/);

    // The masks alone, put on the dense model by the CLI, give the same masks and accuracy.
    const masks = await download(page, '#download-masks');
    assert.ok(Object.keys(readSafetensors(masks).header).filter((n) => n !== '__metadata__').every((n) => n.endsWith('.weight_mask')));
    const masked = cliPrune(named, ['--masks', masks]);
    assert.deepEqual(masked.layers, back.layers);
    assert.equal(masked.test_acc_before, back.test_acc_before);

    // Compacted: neurons with nothing left deleted, same names, same answers.
    await page.locator('#download-form').selectOption('compacted');
    await page.locator('#model-python', { hasText: 'lenet-fc-compacted.safetensors' }).waitFor();
    const compacted = await download(page, '#download-model');
    const small = cliPrune(compacted);
    assert.ok(Math.abs(small.test_acc_before - back.test_acc_before) <= 2e-4, `compacted ${small.test_acc_before} vs ${back.test_acc_before}`);
    // Magnitude at 90% leaves every hidden unit some weight here, so the shapes stay.
    assert.ok(small.layers[0].weights <= 235_200);

    // A masks file opened on the page goes onto the model on show, and says so.
    await page.locator('#prune-model').selectOption('opened');
    await opened(page, 'lenet-fc.safetensors');
    await openFile(page, masks);
    await page.waitForFunction(() => document.querySelector('#model-info').dataset.source === 'masks');
    assert.match(await page.locator('#model-info').textContent(), /^lenet-fc\.safetensors with the masks of lenet-fc-masks\.safetensors: 784-300-100-10, \d+\.\d\d% test accuracy, 10\.00% of its weights remaining$/);
    assert.match(await page.locator('#open-status').textContent(), /^Applied the masks in lenet-fc-masks\.safetensors to the model above: 10\.\d\d% of its weights remain/);
    const info = await page.locator('#model-info').evaluate((e) => ({ ...e.dataset }));
    assert.equal(Number(info.testAcc), back.test_acc_before);
    await page.screenshot({ path: join(ARTIFACTS, 'models-downloads.png'), fullPage: true });
    // The model line, the control and the downloads, close up.
    await page.locator('#model-info').scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(ARTIFACTS, 'models-files-panel.png'), clip: await panelClip(page) });
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('each bad file gives its message and the model stays; a dropped file opens', { timeout: 600_000 }, async () => {
  const notSafetensors = join(WORK, 'notes.safetensors');
  writeFileSync(notSafetensors, 'this is a text file, not a checkpoint\n');
  // Same bytes, another dtype: the loader names the tensor.
  const ints = rewrite(LENET, 'lenet-ints.safetensors', (n) => n, (e, n) => (n === '2.weight' ? { ...e, dtype: 'I32' } : e));
  // A transposed shape of the same size: 2.weight no longer takes layer 1's 300 outputs.
  const transposed = rewrite(LENET, 'lenet-transposed.safetensors', (n) => n, (e, n) => (n === '2.weight' ? { ...e, shape: [...e.shape].reverse() } : e));
  // A name no Linear layer has.
  const renamed = rewrite(LENET, 'lenet-renamed.safetensors', (n) => n.replace('4.bias', '4.offset'));
  // The ViT without the metadata that says how its width splits into heads.
  const { header: vitHeader, data: vitData } = readSafetensors(VIT);
  delete vitHeader.__metadata__;
  const bareVit = writeSafetensors(join(WORK, 'vit-bare.safetensors'), vitHeader, vitData);
  // 784-5200-10: 4,134,010 parameters, over the limit.
  const wide = { '0.weight': [5200, 784], '0.bias': [5200], '2.weight': [10, 5200], '2.bias': [10] };
  let offset = 0;
  const wideHeader = {};
  for (const [name, shape] of Object.entries(wide)) {
    const size = 4 * shape.reduce((a, b) => a * b, 1);
    wideHeader[name] = { dtype: 'F32', shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  const big = writeSafetensors(join(WORK, 'too-big.safetensors'), wideHeader, Buffer.alloc(offset));
  const bad = [
    [notSafetensors, /not a safetensors file/],
    [ints, /2\.weight is I32; PrunePlay reads float32/],
    [transposed, /2\.bias has shape \[100\] but 2\.weight has 300 rows/],
    [renamed, /unexpected tensor "4\.offset"/],
    [bareVit, /the metadata does not say how the ViT splits embed_dim=64 into heads/],
    [big, /4,134,010 parameters.*at most 4,000,000/],
  ];
  const { context, page, errors } = await launch();
  try {
    await openReady(page, SHIPPED);
    const before = await page.locator('#model-info').textContent();
    for (const [path, message] of bad) {
      const name = basename(path);
      await openFile(page, path);
      await page.locator('#open-status', { hasText: `Could not open ${name}` }).waitFor({ timeout: 60_000 });
      const status = await page.locator('#open-status').textContent();
      assert.match(status, message, status);
      assert.match(status, /The model above is unchanged\.$/);
      assert.equal(await page.locator('#open-status').getAttribute('data-error'), 'true');
      assert.equal(await page.locator('#model-info').textContent(), before, `${name} left the model as it was`);
    }
    // The walk-through still prunes the shipped model.
    assert.match(await step(page, 'scores'), /^1\. /);
    await page.screenshot({ path: join(ARTIFACTS, 'models-bad-file.png'), fullPage: true });
    await page.screenshot({ path: join(ARTIFACTS, 'models-bad-file-panel.png'), clip: await panelClip(page) });

    // Dropping a file on the prune card opens it, as the file input does.
    const named = rewrite(LENET, 'lenet-dropped.safetensors', (n) => n.replace(/^(\d+)\./, (_, i) => `fc${Number(i) / 2 + 1}.`));
    await page.locator('#prune-heading').evaluate((heading, base64) => {
      const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
      const transfer = new DataTransfer();
      transfer.items.add(new File([bytes], 'lenet-dropped.safetensors'));
      const card = heading.closest('section');
      card.dispatchEvent(new DragEvent('dragover', { dataTransfer: transfer, bubbles: true, cancelable: true }));
      card.dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
    }, readFileSync(named).toString('base64'));
    const info = await opened(page, 'lenet-dropped.safetensors');
    assert.equal(Number(info.testAcc), cliPrune(named).test_acc_before);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('Compare\'s points download as CSV and as JSON with the settings', { timeout: 300_000 }, async () => {
  const { context, page, errors } = await launch();
  try {
    await openReady(page, SHIPPED);
    assert.equal(await page.locator('#sweep-csv').isDisabled(), true, 'nothing to download before a run');
    await page.locator('#levels').fill('0.5,0.9');
    for (const box of await page.locator('#compare input').all()) await box.uncheck();
    await page.getByRole('checkbox', { name: 'Magnitude', exact: true }).check();
    await page.locator('#compare-heal').selectOption('healed');
    await page.getByRole('button', { name: 'Run all' }).click();
    await page.locator('#sweep-status[data-done="2"]').waitFor({ timeout: 240_000 });
    const csv = readFileSync(await download(page, '#sweep-csv'), 'utf8').trim().split('\r\n');
    assert.equal(csv[0], 'method,sparsity,blocks_asked,weights_remaining,test_accuracy,finetune_steps,heads_kept,heads_total,blocks_kept');
    assert.equal(csv.length, 5, 'a one-shot and a healed point per sparsity');
    const json = JSON.parse(readFileSync(await download(page, '#sweep-json'), 'utf8'));
    assert.equal(json.table, 'compare');
    assert.deepEqual(json.settings.levels, [0.5, 0.9]);
    assert.deepEqual(json.settings.methods, ['magnitude']);
    assert.equal(json.settings.healing, true);
    // How healing fine-tuned, from the core: its seed and its 200 steps.
    assert.equal(json.settings.finetune.seed, 0);
    assert.deepEqual(json.settings.finetune.budget, { iters: 200 });
    assert.equal(json.model.arch, '784-300-100-10');
    assert.equal(json.points.length, 4);
    // The page's numbers are the CLI's: magnitude at 0.9 on the shipped model, one-shot.
    const reference = JSON.parse(execFileSync(BIN, ['prune', '--model', LENET, '--data', DATA, '--method', 'magnitude', '--sparsity', '0.9', '--json'], { encoding: 'utf8' }).trim().split('\n').at(-1));
    const index = json.points.findIndex((p) => p.sparsity === 0.9 && p.healedSteps === 0);
    assert.ok(Math.abs(json.points[index].accuracy - reference.test_acc_pruned) <= 2e-4);
    assert.equal(csv[index + 1].split(',')[4], String(json.points[index].accuracy));
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('the lottery lab trains the opened shape, and its runs and instability curve download with the settings and seed', { timeout: 600_000 }, async () => {
  const small = train256();
  const { context, page, errors } = await launch();
  try {
    await openReady(page, SHIPPED);
    await openFile(page, small);
    await opened(page, basename(small));
    // The shortest run the form allows: one round of 100 iterations, no controls.
    for (const [id, value] of [['#lt-rounds', '1'], ['#lt-iters', '100'], ['#lt-eval', '50'], ['#lt-seed', '7']]) await page.locator(id).fill(value);
    for (const box of await page.locator('#lt-controls input').all()) await box.uncheck();
    await page.locator('#lt-run').click();
    await page.locator('#lt-status[data-done="lottery"]').waitFor({ timeout: 300_000 });
    const csv = readFileSync(await download(page, '#lt-csv'), 'utf8').trim().split('\r\n');
    assert.equal(csv[0], 'round,run,weights_remaining_percent,early_stop_iteration,test_accuracy_at_early_stop,final_test_accuracy');
    assert.equal(csv.length, 3, 'round 0 and round 1 of the ticket');
    const json = JSON.parse(readFileSync(await download(page, '#lt-json'), 'utf8'));
    assert.equal(json.table, 'lottery');
    assert.equal(json.arch, '784-256-128-10');
    assert.equal(json.settings.seed, 7);
    assert.equal(json.settings.iters, 100);
    assert.equal(json.results.length, 2);

    await page.locator('#inst-run').click();
    await page.locator('#lt-status[data-done="instability"]').waitFor({ timeout: 300_000 });
    const curve = readFileSync(await download(page, '#inst-csv'), 'utf8').trim().split('\r\n');
    assert.equal(curve[0], 'alpha,test_error');
    assert.ok(curve.length > 3);
    const inst = JSON.parse(readFileSync(await download(page, '#inst-json'), 'utf8'));
    assert.equal(inst.table, 'instability');
    assert.equal(inst.arch, '784-256-128-10');
    assert.equal(inst.settings.seed, 7);
    assert.equal(inst.result.curve.length, curve.length - 1);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});
