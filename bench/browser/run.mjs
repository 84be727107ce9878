// Opens the benchmark page in Debian's headless Chromium with WebGPU on (SwiftShader, the flags of
// PLATFORM.md), echoes its log to stderr and prints its result as one JSON line on stdout.
// Run by `cargo xtask bench`, which serves dist/ and sets BENCH_URL.

import { launchChromium } from './chromium.mjs';

const url = process.env.BENCH_URL;
if (!url) {
  console.error('BENCH_URL is not set (run this through `cargo xtask bench`)');
  process.exit(2);
}
const context = await launchChromium();
try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('console', (msg) => console.error(`[page] ${msg.text()}`));
  page.on('pageerror', (e) => console.error(`[page error] ${e.message}`));
  await page.goto(url);
  const result = await (await page.waitForFunction(() => window.benchResult, null, { timeout: 1_800_000, polling: 1000 })).jsonValue();
  console.log(JSON.stringify(result));
  process.exitCode = result.error ? 1 : 0;
} finally {
  await context.close();
}
