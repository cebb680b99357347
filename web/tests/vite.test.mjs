// The npm package in a fresh Vite project: `npm pack` web/pkg, install the tarball and vite
// (from the npm registry) into a new project, then train a few steps in headless Chromium
// twice: on the page `vite build` made, and on the `vite dev` server (with the package
// excluded from dependency pre-bundling, as web/README.md says); then, from the same
// install, a few steps in Node with the CPU-only build (web/README.md says how).
//
//   node web/tests/vite.test.mjs        (after web/build.sh)
import { chromium } from 'playwright-core';
import { execFileSync, spawn } from 'node:child_process';
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
fs.writeFileSync(path.join(app, 'index.html'), '<!doctype html><title>vite + ring-wgpu</title><link rel="icon" href="data:,"><pre id="out">running</pre><script type="module" src="/main.js"></script>\n');
// Pre-bundling would move the glue away from its .wasm (import.meta.url): keep it out.
fs.writeFileSync(path.join(app, 'vite.config.js'), "export default { optimizeDeps: { exclude: ['ring-wgpu'] } };\n");
fs.writeFileSync(path.join(app, 'main.js'), `import init, { Trainer, version, moduleKind } from 'ring-wgpu';
const out = document.getElementById('out');
try {
  await init();
  const trainer = await Trainer.create({ syntheticPerClass: 4, batch: 10, queue: 20, epochs: 5, knnEvery: 5, knnK: 5 }, undefined, { device: 'cpu' });
  const m = await trainer.step(3);
  const ring = await trainer.ring(0);
  window.result = { version: version(), module: moduleKind(), device: trainer.device, steps: m.steps, loss: m.loss, ring: ring.hi - ring.lo };
  trainer.free();
} catch (e) {
  window.result = { error: e.message };
}
out.textContent = JSON.stringify(window.result);
`);
// Node: the package's CPU-only build, its module passed as bytes.
fs.writeFileSync(path.join(app, 'node-check.mjs'), `import fs from 'node:fs';
import init, { Trainer, moduleKind, wasmUrl } from 'ring-wgpu';
await init({ module: 'cpu', moduleOrPath: fs.readFileSync(wasmUrl('cpu')) });
const trainer = await Trainer.create({ syntheticPerClass: 4, batch: 10, queue: 20, epochs: 5, knnEvery: 5, knnK: 5 }, undefined, { device: 'cpu' });
const m = await trainer.step(3);
const ring = await trainer.ring(0);
console.log(JSON.stringify({ node: process.version, module: moduleKind(), device: trainer.device, steps: m.steps, loss: m.loss, ring: ring.hi - ring.lo }));
`);
console.log(`installing ${tarball} and vite@${VITE} into ${app}`);
run('npm', ['install', '--no-audit', '--no-fund', `vite@${VITE}`, `./${tarball}`], app);
run('npx', ['--no-install', 'vite', 'build'], app);

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
let passed = 0;
let failed = 0;
async function trainsAt(name, url) {
  const page = await browser.newPage();
  page.on('console', (m) => console.log(`  page ${m.type()}: ${m.text()}`));
  try {
    await page.goto(url);
    await page.waitForFunction(() => window.result, null, { timeout: 600_000 });
    const result = await page.evaluate(() => window.result);
    console.log(`${name}: ${JSON.stringify(result)}`);
    const ok = !result.error && result.steps === 3 && Number.isFinite(result.loss) && result.ring > 0 && ['cpu', 'webgpu'].includes(result.module);
    if (ok) passed++; else failed++;
  } catch (e) {
    console.log(`${name}: ${e.message}`);
    failed++;
  } finally {
    await page.close();
  }
}

// 1. vite build, served statically.
const { server, url } = await serve(path.join(app, 'dist'));
try {
  await trainsAt('vite build', `${url}/index.html`);
} finally {
  server.close();
}

// 2. vite dev.
const port = 5173 + Math.floor(Math.random() * 1000);
const dev = spawn(path.join(app, 'node_modules', '.bin', 'vite'), ['--port', String(port), '--strictPort', '--host', '127.0.0.1'], { cwd: app, stdio: ['ignore', 'pipe', 'inherit'] });
try {
  await new Promise((ready, fail) => {
    const timer = setTimeout(() => fail(new Error('vite dev did not start within 60 s')), 60_000);
    dev.stdout.on('data', (chunk) => { if (/Local:|ready in/.test(String(chunk))) { clearTimeout(timer); ready(); } });
    dev.on('exit', (code) => fail(new Error(`vite dev exited with ${code}`)));
  });
  await trainsAt('vite dev', `http://127.0.0.1:${port}/`);
} catch (e) {
  console.log(`vite dev: ${e.message}`);
  failed++;
} finally {
  dev.kill();
  await browser.close();
}

// 3. Node, from the same install.
try {
  const result = JSON.parse(run('node', ['node-check.mjs'], app).trim().split('\n').pop());
  console.log(`node: ${JSON.stringify(result)}`);
  const ok = result.module === 'cpu' && result.steps === 3 && Number.isFinite(result.loss) && result.ring > 0;
  if (ok) passed++; else failed++;
} catch (e) {
  console.log(`node: ${e.message}`);
  failed++;
}
console.log(`vite: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed === 3 ? 0 : 1);
