// The package's size report, checked: for each build in web/pkg (webgpu/, cpu/), the
// module's raw, gzip and Brotli size (the .gz / .br files web/precompress.mjs wrote), against
// web/size-budget.json. A module over its budget fails the check (exit 1): the budget is the
// measured size plus a small margin, so that a change which makes the download grow says so.
// The issue's goals are printed beside it, met or not.
//
//   node web/size-check.mjs [pkg dir]      (default web/pkg; web/build.sh runs it)
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const dir = path.resolve(process.argv[2] || path.join(here, 'pkg'));
const budget = JSON.parse(fs.readFileSync(path.join(here, 'size-budget.json'), 'utf8'));
const kib = (n) => `${(n / 1024).toFixed(0)} KiB`;
const size = (file) => (fs.existsSync(file) ? fs.statSync(file).size : null);

let failed = 0;
let checked = 0;
for (const kind of ['webgpu', 'cpu']) {
  const wasm = path.join(dir, kind, 'ring_wgpu_web_bg.wasm');
  const raw = size(wasm);
  if (raw === null) continue;
  const gz = size(`${wasm}.gz`);
  const br = size(`${wasm}.br`);
  if (gz === null || br === null) {
    console.error(`${kind}: ${wasm}.gz / .br missing: run node web/precompress.mjs ${path.dirname(wasm)} first`);
    failed++;
    continue;
  }
  const limits = budget[kind];
  if (!limits) {
    console.error(`${kind}: no entry in web/size-budget.json`);
    failed++;
    continue;
  }
  checked++;
  const over = [];
  for (const [name, value] of [['raw', raw], ['gzip', gz], ['brotli', br]]) {
    if (limits[name] !== undefined && value > limits[name]) over.push(`${name} ${kib(value)} > budget ${kib(limits[name])}`);
  }
  const goal = limits.goal_brotli;
  const goalText = goal === undefined ? '' : `; goal ${kib(goal)} Brotli ${br <= goal ? 'met' : `not met (${kib(br - goal)} over)`}`;
  console.log(`size ${kind}: ${kib(raw)} raw, ${kib(gz)} gzip, ${kib(br)} Brotli${goalText}`);
  if (over.length) {
    console.error(`size ${kind}: over budget: ${over.join(', ')}. If the growth is wanted, raise web/size-budget.json `
      + 'in the same commit and say why; otherwise find what grew (twiggy top, cargo bloat --target wasm32-unknown-unknown).');
    failed++;
  }
}
if (checked === 0 && failed === 0) {
  console.error(`no module found under ${dir}/{webgpu,cpu}: build the package first (web/build.sh)`);
  process.exit(1);
}
process.exit(failed ? 1 : 0);
