// The npm package in a fresh Vite project: `npm pack` web/pkg, install the tarball and vite
// (from the npm registry) into a new project, `vite build` it, open the built page in
// headless Chromium and train a few steps there.
//
//   node web/tests/vite.test.mjs        (after web/build.sh)
import { chromium } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve, CHROMIUM_ARGS } from './serve.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const webDir = path.resolve(here, '..');
const app = path.join(webDir, 'test-output', 'vite-app');
const VITE = process.env.VITE_VERSION || '8.4.0';
const run = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });

fs.rmSync(app, { recursive: true, force: true });
fs.mkdirSync(app, { recursive: true });
const tarball = run('npm', ['pack', '--silent', '--pack-destination', app], path.join(webDir, 'pkg')).trim().split('\n').pop();
fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'ring-wgpu-vite-check', private: true, type: 'module', scripts: { build: 'vite build' } }, null, 2));
fs.writeFileSync(path.join(app, 'index.html'), '<!doctype html><title>vite + ring-wgpu</title><pre id="out">running</pre><script type="module" src="/main.js"></script>\n');
fs.writeFileSync(path.join(app, 'main.js'), `import init, { Trainer, version } from 'ring-wgpu';
const out = document.getElementById('out');
try {
  await init();
  const trainer = await Trainer.create({ synthetic_per_class: 4, batch: 10, queue: 20, epochs: 5, knn_every: 5, knn_k: 5 }, undefined, { device: 'cpu' });
  const m = await trainer.step(3);
  const ring = await trainer.ring(0);
  window.result = { version: version(), device: trainer.device, steps: m.steps, loss: m.loss, ring: ring.hi - ring.lo };
  trainer.free();
} catch (e) {
  window.result = { error: e.message };
}
out.textContent = JSON.stringify(window.result);
`);
console.log(`installing ${tarball} and vite@${VITE} into ${app}`);
run('npm', ['install', '--no-audit', '--no-fund', `vite@${VITE}`, `./${tarball}`], app);
run('npx', ['--no-install', 'vite', 'build'], app);

const { server, url } = await serve(path.join(app, 'dist'));
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
let ok = false;
try {
  const page = await browser.newPage();
  page.on('console', (m) => console.log(`  page ${m.type()}: ${m.text()}`));
  await page.goto(`${url}/index.html`);
  await page.waitForFunction(() => window.result, null, { timeout: 600_000 });
  const result = await page.evaluate(() => window.result);
  console.log('result:', JSON.stringify(result));
  ok = !result.error && result.steps === 3 && Number.isFinite(result.loss) && result.ring > 0;
} finally {
  await browser.close();
  server.close();
}
console.log(`vite: ${ok ? 1 : 0} passed, ${ok ? 0 : 1} failed`);
process.exit(ok ? 0 : 1);
