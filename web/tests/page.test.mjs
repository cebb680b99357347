// The demo page in a real headless Chromium (Debian's, driven by playwright-core; WebGPU
// through --enable-unsafe-webgpu, i.e. SwiftShader without a GPU). Asserts on numbers read
// from the page (window.ringDemo), not on pixels; writes a report and a screenshot of the
// trained page with a ring shown into web/test-output/.
//
//   node web/tests/page.test.mjs        (after web/build.sh)
//
// Environment: CHROMIUM (default /usr/bin/chromium), PAGE_STEPS (training steps of the
// learning check, default 60), PAGE_DEVICE (device of the learning check: cpu | gpu, default cpu).
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve, CHROMIUM_ARGS } from './serve.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const webDir = path.resolve(here, '..');
const outDir = path.join(webDir, 'test-output');
fs.mkdirSync(outDir, { recursive: true });
const STEPS = Number(process.env.PAGE_STEPS || 60);
const DEVICE = process.env.PAGE_DEVICE || 'cpu';

const report = { started: new Date().toISOString(), checks: [] };
let failed = 0;
function check(name, ok, detail = '') {
  report.checks.push({ name, ok, detail });
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? `: ${detail}` : ''}`);
  if (!ok) failed++;
}

const { server, url } = await serve(webDir);
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
const page = await browser.newPage({ viewport: { width: 1400, height: 1100 }, acceptDownloads: true });
const consoleLines = [];
page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
const demo = (expr) => page.evaluate(expr);
const waitFor = async (what, predicate, timeoutMs, arg) => {
  const start = Date.now();
  for (;;) {
    const value = await page.evaluate(predicate, arg).catch(() => undefined);
    if (value) return value;
    const error = await demo(() => window.ringDemo && window.ringDemo.error);
    if (error) throw new Error(`${what}: the page shows an error: ${error}`);
    if (Date.now() - start > timeoutMs) throw new Error(`${what}: timed out after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
};
const setSettings = (values) => page.evaluate((v) => window.ringDemo.setConfig(v), values);
const dismissError = () => page.evaluate(() => { window.ringDemo.error = null; document.getElementById('error').hidden = true; });

try {
  const loadStart = Date.now();
  await page.goto(`${url}/www/index.html`);
  await waitFor('module load', () => window.ringDemo && window.ringDemo.ready, 120_000);
  report.load_ms = Date.now() - loadStart;
  check('the page loads and finds WebGPU', await demo(() => window.ringDemo.webgpu), `module ready in ${report.load_ms} ms`);
  const loading = await demo(() => ({ progress: window.ringDemo.loadProgress, barHidden: document.getElementById('load-progress').hidden }));
  check('a progress bar follows the module download, then goes', loading.progress && loading.progress.received > 1e6 && loading.progress.total >= loading.progress.received && loading.barHidden,
    JSON.stringify(loading));
  // SwiftShader is a software adapter: init() picks the CPU-only build (the smaller download).
  const built = await demo(() => window.ringDemo.module);
  check('where WebGPU is a software one, the page loads the CPU-only build', built === 'cpu', built);

  // A warm-cache visit: the module from the cache (a 304), compiled, and a trainer created.
  const warmStart = Date.now();
  await page.reload();
  await waitFor('module load (warm cache)', () => window.ringDemo && window.ringDemo.ready, 120_000);
  report.warm_load_ms = Date.now() - warmStart;
  await setSettings({ dataset: 'synthetic', 'per-class': '4', batch: '10', queue: '20', epochs: '1', device: 'cpu' });
  await page.click('#start');
  await waitFor('trainer created (warm cache)', () => window.ringDemo.created, 120_000);
  await page.click('#pause');
  report.warm_create_ms = await demo(() => window.ringDemo.createMs);
  await page.waitForFunction(() => !window.ringDemo.running, null, { timeout: 300_000 });
  await page.click('#reset');
  await waitFor('reset', () => !window.ringDemo.created, 60_000);
  console.log(`warm-cache visit: module ready in ${report.warm_load_ms} ms, trainer created in ${report.warm_create_ms.toFixed(0)} ms`);
  const intro = await demo(() => ({ open: document.getElementById('intro').open, text: document.getElementById('intro').textContent, diagram: !!document.querySelector('#intro svg') }));
  check('an introduction explains contrastive learning, the ring, l, u, annealing and the methods',
    intro.open && intro.diagram && ['Contrastive learning', 'Ring', 'l%', 'u%', 'Annealing', 'queue', 'MoCo', 'IR', 'CMC', 'SimCLR'].every((w) => intro.text.includes(w)), `${intro.text.length} characters`);

  // Bad input: l >= u is refused with a message, and the page keeps working.
  await setSettings({ lower: '10', upper: '5' });
  await page.click('#start');
  await page.waitForFunction(() => window.ringDemo.error !== null, null, { timeout: 120_000 });
  const badRing = await demo(() => window.ringDemo.error);
  check('l >= u shows a message', /lower = 10/.test(badRing) && /smaller than u/.test(badRing), badRing);
  await dismissError();

  // A corrupt dataset file: an Error with a message, not a trap.
  await setSettings({ lower: '1', upper: '10', dataset: 'synthetic' });
  await page.setInputFiles('#cifar-file', { name: 'cifar-10-binary.tar.gz', mimeType: 'application/gzip', buffer: Buffer.from([0x1f, 0x8b, 1, 2, 3, 4, 5]) });
  const picked = await demo(() => document.getElementById('dataset').value);
  check('choosing a CIFAR-10 archive selects the CIFAR-10 dataset', picked === 'cifar10', picked);
  await page.click('#start');
  await page.waitForFunction(() => window.ringDemo.error !== null, null, { timeout: 120_000 });
  const badFile = await demo(() => window.ringDemo.error);
  check('a corrupt CIFAR-10 archive shows a message', /not a gzip file|corrupt/.test(badFile), badFile);
  check('no Rust panic reached the page', !consoleLines.some((l) => /internal error|unreachable|RuntimeError/.test(l)), consoleLines.filter((l) => /error/i.test(l)).slice(0, 3).join(' | '));
  // A bad file is an error message, not an uncaught exception: any `pageerror` so far fails.
  const uncaught = consoleLines.filter((l) => l.startsWith('pageerror:'));
  check('no uncaught exception on the page', uncaught.length === 0, uncaught.slice(0, 3).join(' | '));
  await dismissError();

  // WebGPU: a short run (SwiftShader is slow), finite loss, and the ring of the GPU kernel
  // equal to the plain-Rust reference for the same similarities.
  // SwiftShader runs a step of the small ResNet at about 1 image/s: a tiny problem.
  await setSettings({ dataset: 'synthetic', 'per-class': '2', batch: '4', queue: '8', epochs: '40', lr: '0.06', device: 'gpu', method: 'mocoring', upper: '50', lower: '5' });
  const gpuStart = Date.now();
  await page.click('#start');
  await waitFor('WebGPU training', () => window.ringDemo.steps.length >= 3, 600_000);
  await page.click('#pause');
  report.webgpu = await demo(() => ({ device: window.ringDemo.device, steps: window.ringDemo.steps, first_step_ms: window.ringDemo.firstStepMs, create_ms: window.ringDemo.createMs }));
  report.webgpu.wall_ms = Date.now() - gpuStart;
  check('training runs on WebGPU', /WebGPU/.test(report.webgpu.device), report.webgpu.device);
  check('WebGPU losses are finite', report.webgpu.steps.every((s) => Number.isFinite(s.loss)), JSON.stringify(report.webgpu.steps.map((s) => s.loss)));
  await page.waitForFunction(() => !window.ringDemo.running, null, { timeout: 300_000 });
  await page.evaluate(() => window.ringDemo.checkRing(3));
  await waitFor('ring check', () => window.ringDemo.ringCheck, 300_000);
  const ringCheck = await demo(() => window.ringDemo.ringCheck);
  check('ring(i) on WebGPU equals the reference ring for the same similarities', ringCheck.mismatches === 0 && ringCheck.ring > 0, JSON.stringify(ringCheck));

  // While a run trains: a changed setting is announced as waiting for the next run, and
  // Reset stops the run, the step in flight not repainting the cleared page.
  await page.click('#reset');
  await setSettings({ device: 'cpu', 'per-class': '4', batch: '8', queue: '16', epochs: '50', upper: '10', lower: '1' });
  await page.click('#start');
  await waitFor('a small CPU run', () => window.ringDemo.steps.length >= 2, 300_000);
  await page.evaluate(() => { const b = document.getElementById('batch'); b.value = '6'; b.dispatchEvent(new Event('change')); });
  const notice = await demo(() => document.getElementById('status').textContent);
  check('a setting changed during a run is announced for the next run', /applies to the next run/.test(notice), notice);
  await page.click('#reset');
  await new Promise((r) => setTimeout(r, 5000));
  const afterReset = await demo(() => ({ steps: window.ringDemo.steps.length, knn: window.ringDemo.knn.length, points: !!window.ringDemo.points, running: window.ringDemo.running, created: window.ringDemo.created }));
  check('Reset stops the run and the step in flight does not repaint the page', afterReset.steps === 0 && afterReset.knn === 0 && !afterReset.points && !afterReset.running && !afterReset.created, JSON.stringify(afterReset));

  // Learning: a fixed number of steps on the chosen device; loss falls, kNN beats chance.
  await setSettings({ device: DEVICE, 'per-class': '50', batch: '50', queue: '250', epochs: '10', lr: '0.03', upper: '10', lower: '1' });
  const learnStart = Date.now();
  await page.click('#start');
  await waitFor(`${STEPS} training steps`, (n) => window.ringDemo.globalStep >= n, 1_800_000, STEPS);
  await page.click('#pause');
  report.learning = await demo(() => ({ device: window.ringDemo.device, steps: window.ringDemo.steps, knn: window.ringDemo.knn, epochs: window.ringDemo.epochs }));
  report.learning.wall_ms = Date.now() - learnStart;
  const losses = report.learning.steps.map((s) => s.loss);
  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const peak = Math.max(...losses.slice(0, Math.ceil(losses.length / 3)));
  const last = mean(losses.slice(-5));
  check('losses are finite', losses.every(Number.isFinite), `${losses.length} steps`);
  check('the loss falls', last < peak - 0.3, `peak of the first third ${peak.toFixed(3)}, mean of the last 5 ${last.toFixed(3)}`);
  const knn = report.learning.knn.filter((k) => !k.untrained).map((k) => k.top1);
  const best = Math.max(...knn);
  check('kNN beats chance clearly (10 classes: 10%)', best >= 0.3 && knn[knn.length - 1] > knn[0], `kNN ${knn.map((v) => (100 * v).toFixed(1)).join(' -> ')}%`);
  const untrained = report.learning.knn.filter((k) => k.untrained);
  check('the kNN curve starts at the untrained network', untrained.length === 1 && untrained[0].step === 0 && report.learning.knn[0] === untrained[0] && untrained[0].top1 > 0,
    `untrained ${untrained.map((k) => (100 * k.top1).toFixed(1)).join(', ')}%`);
  // The baseline that counts: at lr 0.06 (the page's default until 2026-12-04) this run ended
  // below it (40.0% untrained -> 31.6%); natively at lr 0.03 it reaches 49.6%.
  check('kNN ends above the untrained network', untrained.length === 1 && knn[knn.length - 1] > untrained[0].top1,
    `untrained ${untrained.length ? (100 * untrained[0].top1).toFixed(1) : '?'}% -> ${(100 * knn[knn.length - 1]).toFixed(1)}%`);
  report.learning.steps_per_s = report.learning.steps.length / (report.learning.wall_ms / 1000);

  // Clicking a point shows its ring.
  await page.waitForFunction(() => !window.ringDemo.running && window.ringDemo.points, null, { timeout: 300_000 });
  // Mouse positions are in the viewport: bring the view into it first.
  // The canvas's drawing area, inside its border.
  const viewBox = async () => {
    await page.locator('#embedding').scrollIntoViewIfNeeded();
    return page.evaluate(() => { const c = document.getElementById('embedding'); const r = c.getBoundingClientRect(); return { x: r.left + c.clientLeft, y: r.top + c.clientTop, width: c.clientWidth, height: c.clientHeight }; });
  };
  await page.evaluate(() => window.ringDemo.selectAnchor(7));
  await waitFor('ring shown', () => window.ringDemo.ring && window.ringDemo.ring.anchor === 7, 300_000);
  const ring = await demo(() => ({ anchor: window.ringDemo.ring.anchor, lo: window.ringDemo.ring.lo, hi: window.ringDemo.ring.hi, places: Array.from(window.ringDemo.ring.places), text: document.getElementById('anchor-text').textContent, neighbours: document.querySelectorAll('#neighbours figure').length }));
  const counts = [0, 1, 2].map((p) => ring.places.filter((x) => x === p).length);
  check('selecting a point shows its ring', counts[1] === ring.hi - ring.lo && counts[0] === ring.lo && ring.neighbours === 8 && /in the ring/.test(ring.text), `too close ${counts[0]}, ring ${counts[1]}, too far ${counts[2]}`);
  // And by a real click on the canvas, at the drawn position of test image 11.
  const at = await demo(() => window.ringDemo.screenPosition(11));
  let box = await viewBox();
  await page.mouse.click(box.x + at.x * box.width, box.y + at.y * box.height);
  await waitFor('ring of the clicked point', () => window.ringDemo.ring && window.ringDemo.ring.anchor === 11, 300_000);
  check('a click on a point selects it and shows its ring', true);

  // The keyboard: Tab-reachable view, an arrow key moves to a neighbouring point and shows its ring.
  await page.focus('#embedding');
  // Towards the middle, where there are points.
  await page.keyboard.press(at.x > 0.5 ? 'ArrowLeft' : 'ArrowRight');
  await waitFor('ring of the point chosen by keyboard', () => window.ringDemo.ring && window.ringDemo.anchor !== 11 && window.ringDemo.ring.anchor === window.ringDemo.anchor, 300_000);
  const keyed = await demo(() => window.ringDemo.anchor);
  check('an arrow key chooses a neighbouring point and shows its ring', keyed !== 11, `anchor ${keyed}`);
  // Zoom with the wheel about the cursor: the point under it stays put, and a click there
  // (inverting the zoom) still selects it.
  const before = await demo(() => window.ringDemo.screenPosition(11));
  box = await viewBox();
  await page.mouse.move(box.x + before.x * box.width, box.y + before.y * box.height);
  await page.mouse.wheel(0, -600);
  await page.waitForFunction(() => window.ringDemo.view.scale > 1, null, { timeout: 10_000 });
  const after = await demo(() => ({ at: window.ringDemo.screenPosition(11), scale: window.ringDemo.view.scale }));
  await page.mouse.click(box.x + after.at.x * box.width, box.y + after.at.y * box.height);
  await waitFor('ring of the clicked point after zooming', () => window.ringDemo.ring && window.ringDemo.ring.anchor === 11, 300_000);
  check('the wheel zooms about the cursor and a click still selects the point under it',
    // A wheel event's position is in whole pixels: within 3 pixels after a 3x zoom.
    after.scale > 1.5 && Math.abs(after.at.x - before.x) * box.width < 3 && Math.abs(after.at.y - before.y) * box.height < 3,
    `scale ${after.scale.toFixed(2)}, point 11 at (${before.x.toFixed(3)}, ${before.y.toFixed(3)}) -> (${after.at.x.toFixed(3)}, ${after.at.y.toFixed(3)})`);
  await page.keyboard.press('0');
  // The checkpoint buttons are reachable with Tab.
  const tabbable = await demo(() => {
    const load = document.getElementById('load');
    const hidden = getComputedStyle(load).display === 'none' || getComputedStyle(load).visibility === 'hidden';
    return { load: !hidden && load.tabIndex >= 0, save: document.getElementById('save').tabIndex >= 0 };
  });
  check('Save and Load checkpoint are reachable by keyboard', tabbable.load && tabbable.save, JSON.stringify(tabbable));
  // 10,000 points: all drawn; the frame time is reported (BENCHMARKS.md), not asserted.
  report.view_10k = await demo(() => window.ringDemo.timeView(10000));
  check('the embedding view draws 10,000 points', report.view_10k.drawn === 10000, `${report.view_10k.drawn} drawn, median ${report.view_10k.medianMs.toFixed(1)} ms, max ${report.view_10k.maxMs.toFixed(1)} ms a frame`);
  await page.screenshot({ path: path.join(outDir, 'trained-page.png'), fullPage: true });
  report.screenshot = path.join(outDir, 'trained-page.png');
} catch (e) {
  check('page test ran to the end', false, e.message);
  await page.screenshot({ path: path.join(outDir, 'failure.png'), fullPage: true }).catch(() => {});
} finally {
  report.console = consoleLines.slice(-40);
  fs.writeFileSync(path.join(outDir, 'page-report.json'), JSON.stringify(report, null, 2));
  await browser.close();
  server.close();
}

// The page when things are missing: each in a fresh browser, each must end in a message
// (or a working CPU page), never in "loading..." for ever.
async function freshPage({ hide, args }) {
  const { server: s, url: u } = await serve(webDir, 0, { hide });
  const b = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args });
  const p = await b.newPage();
  await p.goto(`${u}/www/index.html`);
  return { p, close: async () => { await b.close(); s.close(); } };
}
try {
  const { p, close } = await freshPage({ hide: (name) => name.endsWith('.wasm'), args: CHROMIUM_ARGS });
  await p.waitForFunction(() => window.ringDemo && window.ringDemo.error, null, { timeout: 60_000 });
  const shown = await p.evaluate(() => ({ error: window.ringDemo.error, status: document.getElementById('status').textContent }));
  check('a missing .wasm says what failed and how to fix it', /failed to load/.test(shown.error) && /build\.sh/.test(shown.error) && /failed/.test(shown.status), JSON.stringify(shown));
  await close();
} catch (e) {
  check('a missing .wasm says what failed and how to fix it', false, e.message);
}
try {
  const noGpu = CHROMIUM_ARGS.filter((a) => a !== '--enable-unsafe-webgpu').concat(['--disable-webgpu']);
  const { p, close } = await freshPage({ hide: () => false, args: noGpu });
  await p.waitForFunction(() => window.ringDemo && (window.ringDemo.ready || window.ringDemo.error), null, { timeout: 120_000 });
  await p.evaluate(() => window.ringDemo.setConfig({ dataset: 'synthetic', 'per-class': '4', batch: '10', queue: '20', epochs: '1', device: 'auto' }));
  await p.click('#start');
  await p.waitForFunction(() => window.ringDemo.error || window.ringDemo.steps.length >= 1, null, { timeout: 300_000 });
  const shown = await p.evaluate(() => ({ webgpu: window.ringDemo.webgpu, error: window.ringDemo.error, device: window.ringDemo.device, steps: window.ringDemo.steps.length }));
  check('without WebGPU the page trains on the CPU', shown.webgpu === false && !shown.error && /CPU/i.test(shown.device || '') && shown.steps >= 1, JSON.stringify(shown));
  await close();
} catch (e) {
  check('without WebGPU the page trains on the CPU', false, e.message);
}
// The server sends the precompressed module (web/build.sh writes the .br and .gz copies) to
// browsers that accept it, the same bytes once decoded, and a 304 to a warm cache.
try {
  const zlib = await import('node:zlib');
  const { server: s, url: u } = await serve(webDir);
  const wasmPath = '/pkg/cpu/ring_wgpu_web_bg.wasm';
  const raw = fs.readFileSync(path.join(webDir, wasmPath));
  // node:http, not fetch: fetch would decode the body itself.
  const http = await import('node:http');
  const get = (acceptEncoding, extra = {}) => new Promise((ok, fail) => {
    http.get(`${u}${wasmPath}`, { headers: { 'accept-encoding': acceptEncoding, ...extra } }, (r) => {
      const chunks = [];
      r.on('data', (c) => chunks.push(c));
      r.on('end', () => ok({ status: r.statusCode, encoding: r.headers['content-encoding'] || null, type: r.headers['content-type'], etag: r.headers.etag, body: Buffer.concat(chunks) }));
    }).on('error', fail);
  });
  const br = await get('gzip, deflate, br');
  const gz = await get('gzip, br;q=0');
  const plain = await get('identity');
  const again = await get('gzip, deflate, br', { 'if-none-match': br.etag });
  s.close();
  const same = (a, b) => a.length === b.length && a.equals(b);
  check('the module is sent as Brotli, gzip or raw as the browser accepts, and revalidated with a 304',
    br.encoding === 'br' && same(zlib.brotliDecompressSync(br.body), raw) && gz.encoding === 'gzip' && same(zlib.gunzipSync(gz.body), raw) &&
    plain.encoding === null && same(plain.body, raw) && plain.type === 'application/wasm' && again.status === 304,
    `raw ${(raw.length / 1024).toFixed(0)} KiB, Brotli ${(br.body.length / 1024).toFixed(0)} KiB, gzip ${(gz.body.length / 1024).toFixed(0)} KiB; ` +
    `encodings ${br.encoding} / ${gz.encoding} / ${plain.encoding}, revalidation ${again.status}`);
} catch (e) {
  check('the module is sent as Brotli, gzip or raw as the browser accepts, and revalidated with a 304', false, e.message);
}
// CIFAR-10 served by web/serve.sh (here a small archive of the same format: 100 training
// images a batch, 2,100 test images): the page picks it by default with a training subset,
// downloads it with a progress bar, and samples the test split for the view and kNN.
try {
  const zlib = await import('node:zlib');
  const os = await import('node:os');
  const { tar, loadCifar10 } = await import('../served-data.mjs');
  const records = (n, seed) => {
    const out = Buffer.alloc(n * 3073);
    for (let i = 0; i < n; i++) {
      out[i * 3073] = (i + seed) % 10;
      for (let k = 1; k < 3073; k++) out[i * 3073 + k] = (i * 31 + k * 7 + seed * 13 + ((i + seed) % 10) * 40) & 255;
    }
    return out;
  };
  const meta = Buffer.from('airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n');
  const entries = [['cifar-10-batches-bin/batches.meta.txt', meta]];
  for (let b = 1; b <= 5; b++) entries.push([`cifar-10-batches-bin/data_batch_${b}.bin`, records(100, b)]);
  entries.push(['cifar-10-batches-bin/test_batch.bin', records(2100, 9)]);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ring-cifar-'));
  const archive = path.join(tmp, 'cifar-10-binary.tar.gz');
  fs.writeFileSync(archive, zlib.gzipSync(tar(entries)));
  // A folder that is not CIFAR-10's is refused by name before anything is served.
  fs.writeFileSync(path.join(tmp, 'data_batch_1.bin'), records(3, 1));
  let refusal = '';
  try { loadCifar10(tmp); } catch (e) { refusal = e.message; }
  check('--cifar with a folder that lacks the batches names the file and what to do', /data_batch_1\.bin holds 9219 bytes/.test(refusal) && /download CIFAR-10 again/.test(refusal), refusal);
  const cifar10 = loadCifar10(archive);
  const { server: s, url: u } = await serve(webDir, 0, { cifar10 });
  const b = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
  // A high-density screen: the view's backing store follows the device pixel ratio.
  const p = await b.newPage({ deviceScaleFactor: 2, viewport: { width: 700, height: 900 } });
  const errors = [];
  p.on('pageerror', (e) => errors.push(e.message));
  await p.goto(`${u}/www/index.html`);
  await p.waitForFunction(() => window.ringDemo && window.ringDemo.ready && window.ringDemo.servedReady, null, { timeout: 120_000 });
  const chosen = await p.evaluate(() => ({ dataset: document.getElementById('dataset').value, subset: document.getElementById('subset').value }));
  check('with CIFAR-10 served, the page trains on it by default (on a training subset)', chosen.dataset === 'cifar10-served' && chosen.subset === '5000', JSON.stringify(chosen));
  await p.evaluate(() => window.ringDemo.setConfig({ batch: '10', queue: '20', epochs: '1', device: 'cpu' }));
  await p.click('#start');
  await p.waitForFunction(() => window.ringDemo.error || (window.ringDemo.labels && window.ringDemo.steps.length >= 2), null, { timeout: 300_000 });
  await p.click('#pause');
  const run = await p.evaluate(() => ({
    error: window.ringDemo.error, progress: window.ringDemo.dataProgress, sampled: window.ringDemo.testSampled,
    points: window.ringDemo.labels.length, classes: window.ringDemo.classes, caption: document.getElementById('knn-caption').textContent,
  }));
  check('the served CIFAR-10 is downloaded with a progress bar and trained on',
    !run.error && run.progress && run.progress.received === cifar10.bytes.length && run.progress.total === cifar10.bytes.length && run.classes[0] === 'airplane',
    JSON.stringify({ error: run.error, progress: run.progress, classes: run.classes.length }));
  check('a large test split is sampled for the embedding view and kNN, and the page says so',
    run.sampled && run.sampled.of === 2100 && run.sampled.kept === 2000 && run.points === 2000 && /2,000 of the 2,100 test images/.test(run.caption),
    JSON.stringify({ sampled: run.sampled, points: run.points, caption: run.caption }));
  check('no page error while training on the served CIFAR-10', errors.length === 0, errors.join(' | '));
  const sharp = await p.evaluate(() => { const c = document.getElementById('embedding'); return { backing: c.width, css: c.clientWidth, dpr: devicePixelRatio }; });
  check('on a narrow, high-density screen the view is drawn at the device pixel ratio', sharp.dpr === 2 && Math.abs(sharp.backing - 2 * sharp.css) <= 1 && sharp.css < 700, JSON.stringify(sharp));
  await b.close();
  s.close();
  fs.rmSync(tmp, { recursive: true, force: true });
} catch (e) {
  check('the page trains on a served CIFAR-10', false, e.message);
}
console.log(`page: ${report.checks.filter((c) => c.ok).length} passed, ${failed} failed (report: web/test-output/page-report.json)`);
process.exit(failed ? 1 : 0);
