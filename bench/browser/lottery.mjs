// One lottery-ticket round in the browser, on WebGPU and on the CPU engine: opens the main page
// in headless Chromium (WebGPU on SwiftShader, as run.mjs), runs the lab's dense run plus one
// pruned ticket run (no controls) with each engine in turn, alternating, and prints one JSON line
// with the median seconds of each. Run by `cargo xtask bench`, which serves dist/ and sets
// BENCH_PAGE.

import { launchChromium } from './chromium.mjs';

const page0 = process.env.BENCH_PAGE;
const iters = Number(process.env.BENCH_LOTTERY_ITERS ?? 500);
const repeats = Number(process.env.BENCH_ROUNDS ?? 1);
if (!page0) {
  console.error('BENCH_PAGE is not set (run this through `cargo xtask bench`)');
  process.exit(2);
}
const context = await launchChromium();
const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (e) => console.error(`[page error] ${e.message}`));
  const seconds = { webgpu: [], cpu: [] };
  let adapter = null;
  for (let r = 0; r < repeats; r++) {
    for (const engine of ['auto', 'cpu']) {
      await page.goto(`${page0}#rounds=1&rounditers=${iters}&lteval=100&controls=&ltengine=${engine}`);
      await page.reload();
      await page.locator('#lt-run:enabled').waitFor({ timeout: 300_000 });
      const t0 = Date.now();
      await page.locator('#lt-run').click();
      await page.locator('#lt-status[data-done="lottery"]').waitFor({ timeout: 1_800_000 });
      const s = (Date.now() - t0) / 1000;
      const text = await page.locator('#lt-table').innerText();
      const ran = engine === 'auto' ? 'webgpu' : 'cpu';
      if (engine === 'auto') adapter = await page.locator('#engine').textContent();
      console.error(`[lottery] ${ran}: ${s.toFixed(1)} s for two runs of ${iters} iterations\n${text}`);
      seconds[ran].push(s);
    }
  }
  const webgpu = median(seconds.webgpu);
  const cpu = median(seconds.cpu);
  console.log(JSON.stringify({
    lottery_round_iters: iters,
    lottery_round_webgpu_s: Number(webgpu.toFixed(2)),
    lottery_round_cpu_s: Number(cpu.toFixed(2)),
    lottery_round_cpu_over_webgpu: Number((cpu / webgpu).toFixed(3)),
    lottery_adapter: adapter,
  }));
} finally {
  await context.close();
}
