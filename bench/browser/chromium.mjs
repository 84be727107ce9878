// Debian's headless Chromium with WebGPU on SwiftShader (the flags of PLATFORM.md), for the
// browser benchmarks; a fresh profile every time.

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
      '--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-webgpu-adapter=swiftshader',
    ],
  });
}
