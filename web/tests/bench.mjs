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
//   BENCH_PROFILE=1 ...   also a CPU profile of each measured run (Chrome DevTools Protocol,
//                         after one unmeasured warm-up run; the profile covers the whole run:
//                         Trainer.create, the first step and the timed steps): the functions
//                         with the most self time, in bench.json and printed, and the profile
//                         as web/test-output/*.cpuprofile. Its images/s carry the profiler's
//                         overhead (the run is marked `profiled`). Function names need a
//                         module with its name section: KEEP_NAMES=1 web/build.sh.
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
const PROFILE = process.env.BENCH_PROFILE === '1';
const PROFILE_TOP = 25;

/** Self time by function name from a CDP profile, largest first, as shares of the profiled
 *  time (each sample weighted by the time until the next one). */
function selfTimeShares(profile) {
  const nameOf = new Map(profile.nodes.map((n) => [n.id, n.callFrame.functionName || '(anonymous)']));
  const times = new Map();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i + 1] ?? 0;
    times.set(nameOf.get(id), (times.get(nameOf.get(id)) || 0) + dt);
    total += dt;
  });
  return [...times].sort((a, b) => b[1] - a[1]).slice(0, PROFILE_TOP)
    .map(([name, t]) => ({ share: total > 0 ? t / total : 0, name }));
}

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
      const args = { device, batch, steps: STEPS };
      let cdp = null;
      if (PROFILE) {
        await page.evaluate((a) => window.bench.throughput(a), { ...args, steps: 1 });
        cdp = await page.context().newCDPSession(page);
        await cdp.send('Profiler.enable');
        await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
        await cdp.send('Profiler.start');
      }
      const r = await page.evaluate((a) => window.bench.throughput(a), args);
      if (cdp) {
        const { profile } = await cdp.send('Profiler.stop');
        await cdp.detach();
        const file = `bench-${MODULE}-${device}-${batch}.cpuprofile`;
        fs.writeFileSync(path.join(outDir, file), JSON.stringify(profile));
        r.profiled = true;
        r.profile = { file, self_time: selfTimeShares(profile) };
        for (const { share, name } of r.profile.self_time) console.log(`  ${(100 * share).toFixed(1).padStart(5)}%  ${name.slice(0, 140)}`);
      }
      report.runs.push(r);
      console.log(JSON.stringify({ ...r, profile: r.profile && r.profile.file }));
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
