// Browser benchmark (not a test): the package in Debian's headless Chromium, as the demo
// page's worker drives it. Measures, per device (WebGPU = SwiftShader without a GPU; the
// CPU backend inside wasm) and batch size: Trainer.create time, the first step (shader
// compilation, autotune-free), then steps/s over timed steps; and the kNN accuracy the
// quick synthetic run reaches in a fixed wall-clock budget. Writes
// web/test-output/bench.json.
//
//   node web/tests/bench.mjs                       (after web/build.sh)
//   BENCH_MODULE=cpu BENCH_DEVICES=cpu node web/tests/bench.mjs   (the CPU-only build)
//   BENCH_DEVICES=cpu,gpu BENCH_BATCHES=64,128 BENCH_STEPS=3 BENCH_KNN_SECONDS=300 node web/tests/bench.mjs
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve, CHROMIUM_ARGS } from './serve.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const webDir = path.resolve(here, '..');
const outDir = path.join(webDir, 'test-output');
fs.mkdirSync(outDir, { recursive: true });
const list = (v, d) => (v || d).split(',').filter(Boolean);
const DEVICES = list(process.env.BENCH_DEVICES, 'cpu,gpu');
const BATCHES = list(process.env.BENCH_BATCHES, '64,128').map(Number);
const STEPS = Number(process.env.BENCH_STEPS || 3);
const KNN_SECONDS = Number(process.env.BENCH_KNN_SECONDS || 300);
const KNN_DEVICE = process.env.BENCH_KNN_DEVICE || 'cpu';
// Which build of the module: webgpu (both devices) or cpu (the CPU-only build).
const MODULE = process.env.BENCH_MODULE || 'webgpu';

const { server, url } = await serve(webDir);
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
const report = { started: new Date().toISOString(), chromium: browser.version(), runs: [] };
try {
  const page = await browser.newPage();
  page.on('console', (m) => console.log(`  page ${m.type()}: ${m.text()}`));
  await page.goto(`${url}/tests/bench.html?module=${MODULE}`);
  await page.waitForFunction(() => window.bench && window.bench.ready, null, { timeout: 120_000 });
  report.module_ms = await page.evaluate(() => window.bench.moduleMs);
  console.log(`module ready in ${report.module_ms.toFixed(0)} ms`);
  for (const device of DEVICES) {
    for (const batch of BATCHES) {
      const r = await page.evaluate((a) => window.bench.throughput(a), { device, batch, steps: STEPS });
      report.runs.push(r);
      console.log(JSON.stringify(r));
    }
  }
  if (KNN_SECONDS > 0) {
    report.knn = await page.evaluate((a) => window.bench.knnWithin(a), { device: KNN_DEVICE, seconds: KNN_SECONDS });
    console.log(JSON.stringify(report.knn));
  }
} finally {
  fs.writeFileSync(path.join(outDir, 'bench.json'), JSON.stringify(report, null, 2));
  await browser.close();
  server.close();
}
console.log('wrote web/test-output/bench.json');
