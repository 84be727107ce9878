// Debian's headless Chromium with WebGPU on SwiftShader, for the browser benchmarks; a fresh
// profile every time. With BENCH_GPU=hardware (bench/hardware-gpu.sh sets it) Chromium is left to
// find the machine's own GPU through Vulkan instead of being pointed at SwiftShader.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export function launchChromium() {
  return chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'pruneplay-bench-')), {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu-sandbox', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--enable-unsafe-webgpu', '--enable-features=Vulkan',
      ...(process.env.BENCH_GPU === 'hardware' ? ['--ignore-gpu-blocklist'] : ['--use-webgpu-adapter=swiftshader']),
    ],
  });
}
