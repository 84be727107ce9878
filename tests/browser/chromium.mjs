// Launches Debian's Chromium headless with the flags PLATFORM.md lists (WebGPU on SwiftShader; no
// background networking, which this machine's closed network would refuse), and collects every
// console error and page error so tests can assert there were none.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const URL_UNDER_TEST = process.env.PRUNEPLAY_URL ?? 'http://127.0.0.1:8000/';
export const ARTIFACTS = process.env.ARTIFACTS ?? join(process.cwd(), 'artifacts');
mkdirSync(ARTIFACTS, { recursive: true });

const FLAGS = [
  '--no-sandbox',
  '--disable-gpu-sandbox',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
// WebGPU on SwiftShader; without the adapter flag requestAdapter() never answers here.
const WEBGPU_FLAGS = ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-webgpu-adapter=swiftshader'];
const NO_WEBGPU_FLAGS = ['--disable-features=WebGPU'];

/**
 * Chromium with WebGPU on (the default) or off (`{ webgpu: false }`), in the light or dark
 * colour scheme, at a given window size; `serviceWorkers: 'block'` keeps the page's service
 * worker out (it would make a page served without isolation headers isolated).
 */
export async function launch({ webgpu = true, colorScheme = 'light', viewport = { width: 1280, height: 900 }, serviceWorkers = 'allow' } = {}) {
  const userDataDir = mkdtempSync(join(tmpdir(), 'pruneplay-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [...FLAGS, ...(webgpu ? WEBGPU_FLAGS : NO_WEBGPU_FLAGS)],
    viewport,
    colorScheme,
    serviceWorkers,
  });
  // A loaded machine (two cores, builds running beside the tests) can take a while to bring up
  // a fresh browser's first page; the tests then wait for what they check with their own limits.
  context.setDefaultNavigationTimeout(120_000);
  const page = context.pages()[0] ?? (await context.newPage());
  // Navigations return once the document is parsed, not at its `load` event (which waits for
  // every image and frame): each test then waits for exactly what it checks.
  for (const name of ['goto', 'reload']) {
    const original = page[name].bind(page);
    page[name] = (...args) => {
      const options = (name === 'goto' ? args[1] : args[0]) ?? {};
      const patched = { waitUntil: 'domcontentloaded', ...options };
      return name === 'goto' ? original(args[0], patched) : original(patched);
    };
  }
  const errors = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`console: ${msg.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`page: ${e.message}`));
  // Every request that leaves the page's origin (there should be none).
  const foreign = [];
  const origin = new URL(URL_UNDER_TEST).origin;
  context.on('request', (request) => {
    const url = new URL(request.url());
    if (url.origin !== origin && !['data:', 'blob:'].includes(url.protocol)) foreign.push(request.url());
  });
  return { context, page, errors, foreign };
}

/**
 * Opens the page and waits (up to two minutes) for a model to be in: #model-info matching
 * `modelInfo`, by default any text with its test accuracy.
 */
export async function openReady(page, modelInfo = /test accuracy/) {
  await page.goto(URL_UNDER_TEST);
  await page.locator('#model-info', { hasText: modelInfo }).waitFor({ timeout: 120_000 });
}

/**
 * Presses the walk-through's button (accessible name `button`) and waits up to `timeout` ms for
 * stage `stage`; returns the stage's text.
 */
export async function step(page, stage, { button = /^(Step|Again)$/, timeout = 120_000 } = {}) {
  await page.getByRole('button', { name: button }).click();
  await page.locator(`#stage-text[data-stage="${stage}"]`).waitFor({ timeout });
  return page.locator('#stage-text').textContent();
}

/** Distinct colours in a canvas: a blank one has a handful at most. */
export const colours = (page, selector) => page.locator(selector).evaluate((canvas) => {
  const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
  const seen = new Set();
  for (let i = 0; i < data.length; i += 4) seen.add(`${data[i]},${data[i + 1]},${data[i + 2]}`);
  return seen.size;
});

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The native CLI on the page's own model and data, for holding the page's numbers against it:
 * runs `pruneplay <args> --model … --data … --json` and returns its summary (the last line);
 * `modelPath` names another checkpoint (the shipped ViT).
 */
export function cli(args, modelPath = null) {
  const bin = process.env.PRUNEPLAY_CLI ?? join(ROOT, 'target/release/pruneplay');
  const model = modelPath ?? process.env.PRUNEPLAY_MODEL ?? join(ROOT, 'dist/model/lenet-300-100.safetensors');
  const data = process.env.PRUNEPLAY_DATA ?? join(ROOT, 'data/mnist');
  const out = execFileSync(bin, [...args, '--model', model, '--data', data, '--json'], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').at(-1));
}
