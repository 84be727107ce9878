// Embedding: views in <iframe sandbox="allow-scripts"> under the embed's strict CSP, their
// postMessage events, the host's commands, and what an embed costs to load.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ARTIFACTS, URL_UNDER_TEST, cli, launch } from './chromium.mjs';

const EMBED = new URL('www/embed.html', URL_UNDER_TEST).href;

/** A host page (about:blank, so a foreign origin) with one sandboxed frame; events land in `window.events`. */
async function host(page, hash) {
  // The listener is in place before the frame loads, so no event can be missed.
  await page.setContent(`<!doctype html><body>
    <script>
      window.events = [];
      window.addEventListener('message', (e) => {
        if (e.source === document.getElementById('frame').contentWindow) window.events.push(e.data);
      });
    </script>
    <iframe id="frame" sandbox="allow-scripts" style="width:900px;height:600px" src="${EMBED}${hash}"></iframe>
  </body>`, { waitUntil: 'domcontentloaded' });
}

const events = (page) => page.evaluate(() => window.events);
/** Waits for an event from the frame; a timeout says what the frame was showing. */
async function waitEvent(page, predicate, timeout = 120_000) {
  try {
    await page.waitForFunction(`window.events.some(${predicate})`, null, { timeout });
  } catch (e) {
    const caption = await page.frameLocator('#frame').locator('#caption').textContent().catch(() => '?');
    throw new Error(`no event matching ${predicate} (frame caption: ${caption}; events: ${JSON.stringify(await events(page))})`, { cause: e });
  }
}

test('the glossary example embeds three views in sandboxed frames, and they report ready', { timeout: 300_000 }, async () => {
  const { context, page, errors, foreign } = await launch();
  try {
    // What each frame downloads: the bytes of every response it received.
    const bytes = new Map();
    page.on('requestfinished', async (request) => {
      const frame = request.frame();
      if (frame === page.mainFrame()) return;
      const { responseBodySize } = await request.sizes();
      bytes.set(frame.url(), (bytes.get(frame.url()) ?? 0) + responseBodySize);
      if (request.url().includes('train-images')) bytes.set('training set', true);
    });
    // Not waiting for every frame's load: the frames' own work is what the test waits for next.
    await page.goto(new URL('www/examples/glossary.html', URL_UNDER_TEST).href, { waitUntil: 'domcontentloaded' });
    for (const frame of [1, 2, 3]) {
      await page.locator(`#events li[data-event="ready"][data-frame="${frame}"]`).waitFor({ timeout: 180_000 });
    }
    const log = await page.locator('#events li').allTextContents();
    // Frame 1 is magnitude at 90%: the pruned event says 10% of the weights are left.
    const pruned = log.find((l) => l.startsWith('frame 1:') && l.includes('"event":"pruned"'));
    assert.match(pruned, /"weightsRemaining":0\.1\b/);
    // Every picture is drawn at a readable size, not at its 28×28 pixels.
    for (const i of [0, 1]) {
      const width = await page.frameLocator(`iframe >> nth=${i}`).locator('#picture canvas').evaluate((c) => c.clientWidth);
      assert.ok(width >= 200, `frame ${i + 1}'s picture is ${width} px wide`);
    }
    // Frame 3 compares methods: its chart is drawn.
    const frame3 = page.frameLocator('iframe >> nth=2');
    await frame3.locator('#caption', { hasText: /One-shot pruning/ }).waitFor({ timeout: 180_000 });
    assert.equal(bytes.get('training set'), undefined, 'an embed downloaded the training set');
    const sizes = Object.fromEntries([...bytes].map(([url, n]) => [new URL(url).hash, n]));
    writeFileSync(join(ARTIFACTS, 'embed-bytes.json'), `${JSON.stringify(sizes, null, 2)}\n`);
    console.log('bytes per embed (all responses, uncompressed bodies):', sizes);
    // Each frame on its own: a full-page shot can miss what out-of-process frames paint.
    for (const i of [0, 1, 2]) {
      await page.locator('iframe').nth(i).screenshot({ path: join(ARTIFACTS, `embed-glossary-${i + 1}.png`) });
    }
    assert.deepEqual(foreign, []);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('an embed measures what the CLI measures, and obeys only well-formed host commands', { timeout: 300_000 }, async () => {
  const { context, page, errors } = await launch();
  try {
    await host(page, '#view=confusion&method=wanda&sparsity=0.5&hide=controls');
    await waitEvent(page, (e) => e.event === 'ready');
    const first = (await events(page)).find((e) => e.event === 'pruned');
    const reference = cli(['prune', '--method', 'wanda', '--sparsity', '0.5']);
    assert.equal(first.weightsRemaining, reference.weights_remaining);
    assert.ok(Math.abs(first.accuracyAfter - reference.test_acc_pruned) <= 0.0015,
      `embed ${first.accuracyAfter} vs CLI ${reference.test_acc_pruned}`);
    // The frame could not start a worker (no same-origin in the sandbox), so it worked on its
    // own thread, and says so.
    assert.equal((await events(page)).find((e) => e.event === 'ready').where, 'main thread');

    // Malformed or foreign messages are ignored: no new event follows them.
    const frame = page.locator('#frame');
    const send = (message) => frame.evaluate((f, m) => f.contentWindow.postMessage(m, '*'), message);
    const before = (await events(page)).length;
    for (const bad of [
      'set sparsity 0.9',
      { source: 'someone-else', command: 'set', settings: { sparsity: 0.9 } },
      { source: 'pruneplay-host', command: 'explode' },
      { source: 'pruneplay-host', command: 'set', settings: { lr: 5 } },
      { source: 'pruneplay-host', command: 'set', settings: { sparsity: { nested: true } } },
    ]) await send(bad);
    await page.waitForTimeout(1_000);
    assert.equal((await events(page)).length, before, 'a malformed message had an effect');

    // A well-formed one re-prunes.
    await send({ source: 'pruneplay-host', command: 'set', settings: { method: 'magnitude', sparsity: 0.8 } });
    await waitEvent(page, (e) => e.event === 'pruned' && e.method === 'magnitude');
    const second = (await events(page)).filter((e) => e.event === 'pruned').at(-1);
    assert.equal(second.sparsity, 0.8);
    assert.ok(Math.abs(second.weightsRemaining - 0.2) < 1e-9);
    // Out-of-range values are clamped like a link's, and the frame says so.
    await send({ source: 'pruneplay-host', command: 'set', settings: { sparsity: 7 } });
    await waitEvent(page, (e) => e.event === 'error' && /sparsity 7 is outside/.test(e.message));
    await page.screenshot({ path: join(ARTIFACTS, 'embed-confusion.png') });
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('the <prune-play> element embeds a view, follows its attributes and relays events', { timeout: 300_000 }, async () => {
  const { context, page, errors, foreign } = await launch();
  try {
    await page.goto(new URL('www/examples/tutorial.html', URL_UNDER_TEST).href);
    // The element's frame sits in its shadow root, sandboxed like a hand-written embed.
    assert.equal(await page.locator('prune-play iframe').getAttribute('sandbox'), 'allow-scripts');
    const said = page.locator('#said');
    await page.locator('#said[data-accuracy]').waitFor({ timeout: 180_000 });
    const accuracy = async () => Number(await said.getAttribute('data-accuracy'));
    for (const [sparsity, first] of [['0.5', true], ['0.9', false]]) {
      if (!first) {
        // The page's own slider sets the attribute; the element forwards it to the frame.
        await page.locator('#amount').fill(sparsity);
        await page.locator(`#said[data-sparsity="${sparsity}"]`).waitFor({ timeout: 120_000 });
      }
      const reference = cli(['prune', '--method', 'magnitude', '--sparsity', sparsity]);
      assert.ok(Math.abs((await accuracy()) - reference.test_acc_pruned) <= 0.0015,
        `element at ${sparsity}: ${await accuracy()} vs CLI ${reference.test_acc_pruned}`);
    }
    assert.match(await said.textContent(), /With 10\.00% of the weights left, the network reads \d+\.\d+% of the test digits right/);
    // The change went through the host command: the frame did not reload.
    assert.equal(await said.getAttribute('data-ready'), '1');
    await page.locator('prune-play').screenshot({ path: join(ARTIFACTS, 'embed-element.png') });
    assert.deepEqual(foreign, []);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('an embed opened directly runs in a worker under its CSP and shows controls', { timeout: 300_000 }, async () => {
  const { context, page, errors } = await launch();
  try {
    await page.goto(`${EMBED}#view=heatmap&method=sparsegpt&sparsity=0.6`);
    await page.waitForFunction(() => document.body.dataset.rendered, null, { timeout: 120_000 });
    assert.match(await page.locator('#caption').textContent(), /SparseGPT.*60\.00% sparsity: 40\.00% of the weights left/);
    assert.equal(await page.locator('body').getAttribute('data-where'), 'worker');
    assert.equal(await page.locator('#embed-controls').isVisible(), true);
    // Moving the slider re-prunes.
    await page.locator('#sparsity').fill('0.3');
    await page.locator('#sparsity').dispatchEvent('change');
    await page.locator('#caption', { hasText: /70\.00% of the weights left/ }).waitFor({ timeout: 60_000 });
    // The CSP is the strict one the README promises.
    const csp = await page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content');
    assert.equal(csp, "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'");
    await page.screenshot({ path: join(ARTIFACTS, 'embed-heatmap.png') });
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('a practice question embeds on its own and tells the host the answer', { timeout: 300_000 }, async () => {
  const { context, page, errors } = await launch();
  try {
    await host(page, '#view=practice&question=wanda-border');
    await waitEvent(page, (e) => e.event === 'ready');
    const frame = page.frameLocator('#frame');
    assert.equal(await frame.locator('.question').count(), 1);
    // Try the choices in order until one is right, as a learner might.
    const choices = await frame.locator('.question input[type=radio]').count();
    for (let i = 0; i < choices; i++) {
      await frame.locator('.question input[type=radio]').nth(i).check();
      await frame.getByRole('button', { name: 'Check' }).click();
      if ((await frame.locator('.feedback').textContent()).startsWith('Right.')) break;
    }
    const answers = (await events(page)).filter((e) => e.event === 'answered');
    assert.ok(answers.length >= 1);
    assert.equal(answers.at(-1).correct, true);
    assert.equal(answers.at(-1).question, 'wanda-border');
    // Its demonstration runs inside the frame, on the embed's own data.
    await frame.locator('button.run').click();
    await frame.locator('.demo-text', { hasText: /Wanda pruned \d+\.\d% of the first-layer weights/ }).waitFor({ timeout: 120_000 });
    await page.screenshot({ path: join(ARTIFACTS, 'embed-practice.png') });
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('the whole page in a frame tells its host when it has trained and pruned', { timeout: 300_000 }, async () => {
  const { context, page, errors } = await launch();
  try {
    await page.setContent(`<!doctype html><body>
      <script>
        window.events = [];
        window.addEventListener('message', (e) => window.events.push(e.data));
      </script>
      <iframe id="frame" style="width:1200px;height:900px" src="${URL_UNDER_TEST}#steps=100&engine=cpu"></iframe>
    </body>`, { waitUntil: 'domcontentloaded' });
    await waitEvent(page, (e) => e.event === 'ready' && e.view === 'page');
    const frame = page.frameLocator('#frame');
    await frame.locator('#train:enabled').waitFor({ timeout: 120_000 });
    await frame.getByRole('button', { name: 'Train' }).click();
    await waitEvent(page, (e) => e.event === 'trained', 240_000);
    const trained = (await events(page)).find((e) => e.event === 'trained');
    assert.equal(trained.steps, 100);
    assert.ok(trained.testAcc > 0.8, `test accuracy ${trained.testAcc}`);
    await frame.getByRole('button', { name: 'Step' }).click();
    await frame.getByRole('button', { name: 'Step' }).click();
    await waitEvent(page, (e) => e.event === 'pruned' && e.stage === 'select');
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('the ViT views embed: the head grid, the block scores and what each head looks at', { timeout: 300_000 }, async () => {
  const { context, page, errors } = await launch();
  try {
    await host(page, '#view=heads&method=heads-taylor&sparsity=0.25&hide=controls');
    await waitEvent(page, (e) => e.event === 'ready' && e.view === 'heads');
    const frame = page.frameLocator('#frame');
    const pruned = (await events(page)).find((e) => e.event === 'pruned');
    assert.equal(pruned.method, 'heads-taylor');
    assert.equal(await frame.locator('#picture g.head').count(), 16);
    assert.equal(await frame.locator('#picture g.head.removed').count(), 4);
    assert.match(await frame.locator('#caption').textContent(), /4 of 16 heads removed/);
    await frame.locator('#picture').screenshot({ path: join(ARTIFACTS, 'embed-heads.png') });

    // The host switches views with the documented command; each reports `pruned` again.
    const send = (settings) => page.evaluate((s) => document.getElementById('frame').contentWindow
      .postMessage({ source: 'pruneplay-host', command: 'set', settings: s }, '*'), settings);
    await send({ view: 'layers', method: 'layers-bi', remove: 1 });
    await waitEvent(page, (e) => e.event === 'pruned' && e.method === 'layers-bi');
    await frame.locator('#picture g.bar').first().waitFor();
    assert.equal(await frame.locator('#picture g.bar.removed').count(), 1);
    assert.match(await frame.locator('#caption').textContent(), /block \d removed/);
    await frame.locator('#picture').screenshot({ path: join(ARTIFACTS, 'embed-layers.png') });

    // A layer method on the attention view falls back to heads-taylor, as the caption says.
    await send({ view: 'attention', digit: 3 });
    await frame.locator('#picture .attention[data-index="3"] .after').waitFor();
    assert.equal(await frame.locator('#picture .before td.head').count(), 16);
    assert.equal(await frame.locator('#picture .after td.head.removed').count(), 4);
    await frame.locator('#picture').screenshot({ path: join(ARTIFACTS, 'embed-attention.png') });
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});
