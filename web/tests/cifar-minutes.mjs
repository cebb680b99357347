// Browser benchmark (not a test): the demo page as a visitor meets it when web/serve.sh has
// CIFAR-10, in Debian's headless Chromium. Keeps the page's defaults (CIFAR-10 from the
// server, a 5,000-image training subset, MoCoRing), chooses the device, presses Start, and
// after BENCH_MINUTES of wall clock from that click (download, unpacking, model creation and
// kernel compilation included) pauses and measures kNN top-1 on the page's 2,000 test
// images. Records every epoch's kNN with its time. Writes web/test-output/cifar-minutes-DEVICE.json.
//
//   node web/tests/cifar-minutes.mjs --cifar data/cifar-10-batches-bin [--device cpu|gpu] [--minutes 5]
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve, CHROMIUM_ARGS } from './serve.mjs';
import { loadCifar10 } from '../served-data.mjs';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
};
const cifarPath = arg('--cifar', null);
if (!cifarPath) {
  console.error('--cifar PATH: cifar-10-binary.tar.gz or the cifar-10-batches-bin folder');
  process.exit(2);
}
const device = arg('--device', 'cpu');
const minutes = Number(arg('--minutes', 5));
const here = path.dirname(fileURLToPath(import.meta.url));
const webDir = path.resolve(here, '..');
const outDir = path.join(webDir, 'test-output');
fs.mkdirSync(outDir, { recursive: true });

const cifar10 = loadCifar10(cifarPath);
const { server, url } = await serve(webDir, 0, { cifar10 });
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
const report = { started: new Date().toISOString(), chromium: browser.version(), device, minutes, cifar: path.resolve(cifarPath) };
try {
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.log(`  page error: ${e.message}`));
  await page.goto(`${url}/www/index.html`);
  await page.waitForFunction(() => window.ringDemo && window.ringDemo.ready && window.ringDemo.servedReady, null, { timeout: 120_000 });
  await page.evaluate((d) => window.ringDemo.setConfig({ device: d }), device);
  report.settings = await page.evaluate(() => Object.fromEntries(['dataset', 'subset', 'method', 'batch', 'queue', 'lr', 'epochs', 'lower', 'upper', 'anneal', 'device'].map((id) => [id, document.getElementById(id).value])));
  console.log(JSON.stringify(report.settings));
  const start = Date.now();
  await page.click('#start');
  const marks = {};
  while (Date.now() - start < minutes * 60_000) {
    const s = await page.evaluate(() => ({ created: window.ringDemo.created, steps: window.ringDemo.steps.length, error: window.ringDemo.error, epochs: window.ringDemo.epochs.length }));
    if (s.error) throw new Error(s.error);
    if (s.created && marks.created === undefined) marks.created = Date.now() - start;
    if (s.steps > 0 && marks.firstStep === undefined) marks.firstStep = Date.now() - start;
    await new Promise((r) => setTimeout(r, 1000));
  }
  report.status_at_pause = await page.evaluate(() => `${document.getElementById('status').textContent} | ${document.getElementById('progress-line').textContent}`);
  report.knn_at_pause = await page.evaluate(() => window.ringDemo.knn);
  console.log(`at ${minutes} min: ${report.status_at_pause}; kNN so far ${JSON.stringify(report.knn_at_pause)}`);
  fs.writeFileSync(path.join(outDir, `cifar-minutes-${device}.json`), JSON.stringify(report, null, 2));
  await page.click('#pause');
  const paused = Date.now() - start;
  await page.waitForFunction(() => !window.ringDemo.running, null, { timeout: 600_000 });
  const before = await page.evaluate(() => window.ringDemo.knn.length);
  await page.evaluate(() => window.ringDemo.measureKnn());
  await page.waitForFunction((n) => window.ringDemo.knn.length > n || window.ringDemo.error, before, { timeout: 600_000 });
  const state = await page.evaluate(() => ({
    device: window.ringDemo.device, steps: window.ringDemo.steps.length, globalStep: window.ringDemo.globalStep, epochs: window.ringDemo.epochs,
    knn: window.ringDemo.knn, error: window.ringDemo.error, caption: document.getElementById('knn-caption').textContent,
    imagesPerS: window.ringDemo.steps.slice(-20).map((s) => s.imagesPerS),
  }));
  Object.assign(report, { marks_ms: marks, paused_ms: paused, ...state });
  const last = state.knn[state.knn.length - 1];
  const untrained = state.knn.find((k) => k.untrained);
  console.log(`${state.device}: ${state.globalStep} steps in ${(paused / 60000).toFixed(1)} min (created ${(marks.created / 1000).toFixed(0)} s, first step ${((marks.firstStep ?? NaN) / 1000).toFixed(0)} s), ` +
    `kNN ${untrained ? (100 * untrained.top1).toFixed(1) : '?'}% untrained -> ${(100 * last.top1).toFixed(1)}% (${state.caption})`);
} finally {
  fs.writeFileSync(path.join(outDir, `cifar-minutes-${device}.json`), JSON.stringify(report, null, 2));
  await browser.close();
  server.close();
}
