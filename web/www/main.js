// The demo page: controls, live charts and the embedding view with one anchor's ring.
// Training runs in worker.js; this file only draws. State the tests read lives in
// `window.ringDemo` (numbers, not pixels).

const $ = (id) => document.getElementById(id);
const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
const PLACE = { close: 0, ring: 1, far: 2 };

const state = {
  ready: false, webgpu: false, module: null, device: null, created: false, running: false, finished: false,
  steps: [], epochs: [], knn: [], error: null, errors: [], ring: null, ringCheck: null,
  points: null, labels: null, classes: [], anchor: null, loadMs: null, createMs: null,
  firstStepMs: null, pageStart: performance.now(), imageSize: [32, 32], globalStep: 0,
};
window.ringDemo = state;

const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
const send = (type, data = {}, transfer = []) => worker.postMessage({ type, ...data }, transfer);

// ---------- status, errors ----------
// Events (ready, created, finished, failures) go to the live status region; the per-step
// line goes to a region screen readers do not announce.
function status(text) { $('status').textContent = text; $('progress-line').textContent = ''; }
function progressLine(text) { $('progress-line').textContent = text; }
function showError(message) {
  state.error = message;
  state.errors.push(message);
  const box = $('error');
  box.textContent = message;
  box.hidden = false;
  setRunning(false);
}
function clearError() { state.error = null; $('error').hidden = true; }
function setRunning(on) {
  state.running = on;
  $('start').disabled = on || !!state.loadFailed;
  $('pause').disabled = !on;
  $('save').disabled = !state.created;
}

// ---------- settings ----------
function number(id) { const v = $(id).value; return v === '' ? null : Number(v); }
function config() {
  const c = {
    method: $('method').value, lower: number('lower'), upper: number('upper'), anneal: $('anneal').value,
    batch: number('batch'), queue: number('queue'), epochs: number('epochs'), lr: number('lr'),
    syntheticPerClass: number('per-class'), knnEvery: 1, knnK: 20,
  };
  const subset = number('subset');
  if (subset !== null) c.trainSubset = subset;
  return c;
}

let droppedFiles = null;
async function datasetSpec() {
  const kind = $('dataset').value;
  if (kind === 'synthetic') return { kind };
  if (kind === 'cifar10-served') {
    if (!state.served.cifar10) throw new Error('this server no longer offers CIFAR-10: choose another dataset, or restart web/serve.sh with --cifar PATH');
    return { kind: 'served', url: state.served.cifar10.url };
  }
  if (kind === 'cifar10') {
    const file = $('cifar-file').files[0];
    if (!file) throw new Error('choose your copy of cifar-10-binary.tar.gz (the binary version from https://www.cs.toronto.edu/~kriz/cifar.html)');
    return { kind, bytes: await file.arrayBuffer() };
  }
  if (!droppedFiles || droppedFiles.length === 0) throw new Error('drop a folder with one sub-folder per class first');
  return { kind: 'files', paths: droppedFiles.map((f) => f.path), contents: droppedFiles.map((f) => f.bytes), size: 32, testFraction: 0.2 };
}

// ---------- charts ----------
// Min and max by a loop: Math.min(...values) fails on long runs (too many arguments).
function extent(values, f) {
  let lo = Infinity, hi = -Infinity;
  for (const v of values) { const x = f(v); if (x < lo) lo = x; if (x > hi) hi = x; }
  return [lo, hi];
}
// At most `limit` points, evenly spaced (the last kept): a long run draws as fast as a short one.
function thin(points, limit) {
  if (points.length <= limit) return points;
  const out = [];
  const stride = (points.length - 1) / (limit - 1);
  for (let i = 0; i < limit; i++) out.push(points[Math.round(i * stride)]);
  return out;
}
function chart(id, values, { min = null, max = null, color = '#1f77b4', chance = null } = {}) {
  const canvas = $(id);
  const g = canvas.getContext('2d');
  const { width, height } = canvas;
  g.clearRect(0, 0, width, height);
  const finite = thin(values.filter((p) => Number.isFinite(p[1])), 2 * width);
  if (finite.length === 0) return;
  const [x0, xMax] = extent(finite, (p) => p[0]);
  const x1 = Math.max(xMax, x0 + 1);
  const [yLo, yHi] = extent(finite, (p) => p[1]);
  let y0 = min ?? yLo, y1 = max ?? yHi;
  if (y1 - y0 < 1e-9) { y0 -= 1; y1 += 1; }
  const px = (x) => 28 + (x - x0) / (x1 - x0) * (width - 34);
  const py = (y) => height - 14 - (y - y0) / (y1 - y0) * (height - 22);
  g.fillStyle = '#666'; g.font = '10px sans-serif';
  g.fillText(y1.toFixed(y1 < 10 ? 2 : 0), 0, 10); g.fillText(y0.toFixed(y0 < 10 ? 2 : 0), 0, height - 14);
  g.fillText(`step ${x1}`, width - 60, height - 2);
  if (chance !== null) {
    g.strokeStyle = '#aaa'; g.setLineDash([4, 3]); g.beginPath(); g.moveTo(px(x0), py(chance)); g.lineTo(px(x1), py(chance)); g.stroke(); g.setLineDash([]);
  }
  g.strokeStyle = color; g.lineWidth = 1.5; g.beginPath();
  finite.forEach(([x, y], i) => (i ? g.lineTo(px(x), py(y)) : g.moveTo(px(x), py(y))));
  g.stroke();
  if (finite.length < 30) { g.fillStyle = color; finite.forEach(([x, y]) => g.fillRect(px(x) - 2, py(y) - 2, 4, 4)); }
}
function drawCharts() {
  chart('chart-loss', state.steps.map((s) => [s.globalStep, s.loss]));
  chart('chart-upper', state.steps.map((s) => [s.globalStep, s.upper]), { min: 0, max: 100, color: '#ff7f0e' });
  const chance = state.classes.length ? 100 / state.classes.length : null;
  chart('chart-knn', state.knn.map((k) => [k.step, 100 * k.top1]), { min: 0, max: 100, color: '#2ca02c', chance });
  chart('chart-speed', state.steps.map((s) => [s.globalStep, s.imagesPerS]), { min: 0, color: '#9467bd' });
}

// ---------- embedding view ----------
let shown = null; // {xs, ys} currently drawn (animated towards the target)
let target = null;
let animation = null;
function alignTo(previous, points) {
  // PCA axes have arbitrary signs: flip each to agree with the previous picture.
  const n = points.length / 2;
  const out = new Float32Array(points);
  if (!previous || previous.length !== points.length) return out;
  for (let axis = 0; axis < 2; axis++) {
    let dot = 0;
    for (let i = 0; i < n; i++) dot += previous[2 * i + axis] * points[2 * i + axis];
    if (dot < 0) for (let i = 0; i < n; i++) out[2 * i + axis] = -out[2 * i + axis];
  }
  return out;
}
// The view's own coordinates: a VIEW x VIEW square (points laid out with a margin), shown
// through a zoom and pan (screen = layout * scale + offset) on a canvas whose backing store
// follows its CSS size and the device pixel ratio, so points stay sharp on any screen.
const VIEW = 640;
const view = { scale: 1, tx: 0, ty: 0 };
const toScreen = (x, y) => [x * view.scale + view.tx, y * view.scale + view.ty];
function colour(c) { return c < PALETTE.length ? PALETTE[c] : `hsl(${(c * 137.508) % 360}, 55%, 45%)`; }
function fitCanvas() {
  const canvas = $('embedding');
  const css = canvas.clientWidth || VIEW;
  const size = Math.max(1, Math.round(css * (window.devicePixelRatio || 1)));
  if (canvas.width !== size) { canvas.width = size; canvas.height = size; }
}
new ResizeObserver(() => { fitCanvas(); drawEmbedding(); }).observe($('embedding'));
function setPoints(points, labels, classes) {
  const aligned = alignTo(state.points, points);
  state.points = aligned; state.labels = labels; state.classes = classes;
  const n = labels.length;
  let minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
  for (let i = 0; i < n; i++) {
    minX = Math.min(minX, aligned[2 * i]); maxX = Math.max(maxX, aligned[2 * i]);
    minY = Math.min(minY, aligned[2 * i + 1]); maxY = Math.max(maxY, aligned[2 * i + 1]);
  }
  const m = 16, s = VIEW - 2 * m;
  const spanX = Math.max(maxX - minX, 1e-9), spanY = Math.max(maxY - minY, 1e-9);
  const xs = new Float32Array(n), ys = new Float32Array(n);
  for (let i = 0; i < n; i++) { xs[i] = m + (aligned[2 * i] - minX) / spanX * s; ys[i] = VIEW - m - (aligned[2 * i + 1] - minY) / spanY * s; }
  target = { xs, ys };
  if (!shown || shown.xs.length !== n) shown = { xs: xs.slice(), ys: ys.slice() };
  const from = { xs: shown.xs.slice(), ys: shown.ys.slice() };
  const start = performance.now();
  cancelAnimationFrame(animation);
  const frame = (now) => {
    if (!shown) return; // Reset cleared the view while the animation ran.
    const t = Math.min(1, (now - start) / 400), e = t * (2 - t);
    for (let i = 0; i < n; i++) { shown.xs[i] = from.xs[i] + (xs[i] - from.xs[i]) * e; shown.ys[i] = from.ys[i] + (ys[i] - from.ys[i]) * e; }
    drawEmbedding();
    if (t < 1) animation = requestAnimationFrame(frame);
  };
  animation = requestAnimationFrame(frame);
  $('legend').innerHTML = classes.map((c, i) => `<span style="--c:${colour(i)}">${c}</span>`).join('');
}
function drawEmbedding() {
  const started = performance.now();
  const canvas = $('embedding'); const g = canvas.getContext('2d');
  g.setTransform(1, 0, 0, 1, 0, 0);
  g.clearRect(0, 0, canvas.width, canvas.height);
  state.drawn = 0;
  if (!shown) return;
  // Draw in the view's units: one transform for the backing store's size.
  const k = canvas.width / VIEW;
  g.setTransform(k, 0, 0, k, 0, 0);
  const n = shown.xs.length;
  const ring = state.ring && state.ring.anchor === state.anchor ? state.ring : null;
  const place = new Int8Array(n).fill(-1);
  if (ring) ring.candidates.forEach((c, j) => { place[c] = ring.places[j]; });
  // Crowded views: smaller, translucent points, so that dense clusters read as density.
  const size = n > 2000 ? 3 : n > 500 ? 4 : 5;
  const alpha = n > 2000 ? 0.55 : n > 500 ? 0.8 : 1;
  let drawn = 0;
  for (let i = 0; i < n; i++) {
    const [x, y] = toScreen(shown.xs[i], shown.ys[i]);
    if (x < -size || y < -size || x > VIEW + size || y > VIEW + size) continue;
    g.globalAlpha = ring && place[i] === PLACE.far ? alpha * 0.4 : alpha;
    g.fillStyle = colour(state.labels[i]);
    g.fillRect(x - size / 2, y - size / 2, size, size);
    drawn++;
  }
  g.globalAlpha = 1;
  if (ring) {
    for (let i = 0; i < n; i++) {
      const [x, y] = toScreen(shown.xs[i], shown.ys[i]);
      if (place[i] === PLACE.ring) { g.strokeStyle = '#ff9f1c'; g.lineWidth = 1.5; g.strokeRect(x - 4, y - 4, 8, 8); }
      if (place[i] === PLACE.close) { g.strokeStyle = '#d62728'; g.lineWidth = 1.5; g.beginPath(); g.arc(x, y, 5, 0, 2 * Math.PI); g.stroke(); }
    }
  }
  if (state.anchor !== null && state.anchor < n) {
    const [x, y] = toScreen(shown.xs[state.anchor], shown.ys[state.anchor]);
    g.fillStyle = '#000'; g.beginPath(); g.arc(x, y, 6, 0, 2 * Math.PI); g.fill();
    g.strokeStyle = '#fff'; g.lineWidth = 2; g.stroke();
  }
  state.drawn = drawn;
  state.drawMs = performance.now() - started;
}
// An event's position in the view's units (inside the canvas's border).
function eventPoint(event) {
  const canvas = $('embedding'); const rect = canvas.getBoundingClientRect();
  return [(event.clientX - rect.left - canvas.clientLeft) * VIEW / canvas.clientWidth, (event.clientY - rect.top - canvas.clientTop) * VIEW / canvas.clientHeight];
}
function nearest(x, y, within = 12) {
  if (!shown) return null;
  let best = null, bestD = within * within;
  for (let i = 0; i < shown.xs.length; i++) {
    const [px, py] = toScreen(shown.xs[i], shown.ys[i]);
    const d = (px - x) ** 2 + (py - y) ** 2;
    if (d < bestD) { bestD = d; best = i; }
  }
  return best;
}
let ringTimer = null;
function selectAnchor(i, { wait = 0 } = {}) {
  if (i === null || !state.created) return;
  state.anchor = i;
  $('anchor-id').textContent = `#${i} (${state.classes[state.labels[i]] ?? ''})`;
  drawEmbedding();
  // Keys held down move quickly: ask for the ring once they rest.
  clearTimeout(ringTimer);
  if (wait > 0) ringTimer = setTimeout(() => send('ring', { anchor: i }), wait); else send('ring', { anchor: i });
}
// Zoom by `factor` about the view point (x, y), which stays where it is on screen.
function zoom(factor, x = VIEW / 2, y = VIEW / 2) {
  const scale = Math.min(64, Math.max(1, view.scale * factor));
  const f = scale / view.scale;
  view.tx = x - (x - view.tx) * f; view.ty = y - (y - view.ty) * f; view.scale = scale;
  if (scale === 1) { view.tx = 0; view.ty = 0; }
  drawEmbedding();
}
function resetView() { view.scale = 1; view.tx = 0; view.ty = 0; drawEmbedding(); }
// The nearest point from `from` in direction (dx, dy), favouring points straight ahead.
function neighbourInDirection(from, dx, dy) {
  let best = null, bestScore = Infinity;
  const [ax, ay] = toScreen(shown.xs[from], shown.ys[from]);
  for (let i = 0; i < shown.xs.length; i++) {
    if (i === from) continue;
    const [x, y] = toScreen(shown.xs[i], shown.ys[i]);
    const along = (x - ax) * dx + (y - ay) * dy;
    if (along <= 0) continue;
    const across = Math.abs((x - ax) * dy - (y - ay) * dx);
    const score = along + 2 * across;
    if (score < bestScore) { bestScore = score; best = i; }
  }
  return best;
}
const embedding = $('embedding');
let drag = null;
embedding.addEventListener('pointerdown', (e) => { drag = { start: eventPoint(e), last: eventPoint(e), moved: false }; embedding.setPointerCapture(e.pointerId); });
embedding.addEventListener('pointermove', (e) => {
  if (!drag) return;
  const [x, y] = eventPoint(e);
  if (Math.hypot(x - drag.start[0], y - drag.start[1]) > 4) drag.moved = true;
  if (drag.moved && view.scale > 1) { view.tx += x - drag.last[0]; view.ty += y - drag.last[1]; drawEmbedding(); }
  drag.last = [x, y];
});
embedding.addEventListener('pointerup', (e) => {
  const wasDrag = drag && drag.moved;
  drag = null;
  if (!wasDrag) { const [x, y] = eventPoint(e); selectAnchor(nearest(x, y)); }
});
embedding.addEventListener('wheel', (e) => { e.preventDefault(); const [x, y] = eventPoint(e); zoom(Math.exp(-e.deltaY / 500), x, y); }, { passive: false });
embedding.addEventListener('dblclick', resetView);
embedding.addEventListener('keydown', (e) => {
  const arrows = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
  if (arrows[e.key] && shown && shown.xs.length) {
    e.preventDefault();
    if (state.anchor === null || state.anchor >= shown.xs.length) { selectAnchor(nearest(VIEW / 2, VIEW / 2, Infinity), { wait: 150 }); return; }
    const next = neighbourInDirection(state.anchor, ...arrows[e.key]);
    if (next !== null) selectAnchor(next, { wait: 150 });
  } else if (e.key === '+' || e.key === '=') { e.preventDefault(); zoom(1.5, ...(state.anchor !== null && shown ? toScreen(shown.xs[state.anchor], shown.ys[state.anchor]) : [VIEW / 2, VIEW / 2])); }
  else if (e.key === '-') { e.preventDefault(); zoom(1 / 1.5); }
  else if (e.key === '0') { e.preventDefault(); resetView(); }
});

// ---------- anchor panel ----------
function drawImage(canvas, rgb, [h, w]) {
  const g = canvas.getContext('2d');
  const img = g.createImageData(w, h);
  for (let p = 0; p < h * w; p++) { img.data[4 * p] = rgb[3 * p]; img.data[4 * p + 1] = rgb[3 * p + 1]; img.data[4 * p + 2] = rgb[3 * p + 2]; img.data[4 * p + 3] = 255; }
  const tmp = new OffscreenCanvas(w, h); tmp.getContext('2d').putImageData(img, 0, 0);
  g.imageSmoothingEnabled = false; g.clearRect(0, 0, canvas.width, canvas.height); g.drawImage(tmp, 0, 0, canvas.width, canvas.height);
}
function drawHistogram(ring) {
  const canvas = $('histogram'); const g = canvas.getContext('2d'); const { width, height } = canvas;
  g.clearRect(0, 0, width, height);
  // Zoom on the anchor's similarities: bins span their range (cosines may crowd near 1).
  const finite = Array.from(ring.similarities).filter(Number.isFinite);
  if (finite.length === 0) return;
  let [lo, hi] = extent(finite, (v) => v);
  const pad = Math.max((hi - lo) * 0.02, 1e-6); lo -= pad; hi += pad;
  const bins = 48;
  const counts = [0, 1, 2].map(() => new Array(bins).fill(0));
  ring.similarities.forEach((s, k) => { if (!Number.isFinite(s)) return; const b = Math.min(bins - 1, Math.max(0, Math.floor((s - lo) / (hi - lo) * bins))); counts[ring.places[k]][b]++; });
  const most = Math.max(1, extent(counts[0].map((_, b) => counts[0][b] + counts[1][b] + counts[2][b]), (v) => v)[1]);
  const bx = (s) => 4 + (s - lo) / (hi - lo) * (width - 8);
  if (Number.isFinite(ring.upperSimilarity)) {
    g.fillStyle = 'rgba(255,159,28,0.18)';
    g.fillRect(bx(ring.lowerSimilarity), 0, Math.max(1, bx(ring.upperSimilarity) - bx(ring.lowerSimilarity)), height - 14);
  }
  const colors = ['#d62728', '#ff9f1c', '#bbb'];
  for (let b = 0; b < bins; b++) {
    let y = height - 14;
    for (const p of [2, 1, 0]) {
      const h = counts[p][b] / most * (height - 20);
      g.fillStyle = colors[p]; g.fillRect(bx(lo + b * (hi - lo) / bins) + 0.5, y - h, (width - 8) / bins - 1, h); y -= h;
    }
  }
  g.fillStyle = '#555'; g.font = '10px sans-serif';
  g.fillText(lo.toFixed(3), 2, height - 2); g.fillText(hi.toFixed(3), width - 34, height - 2);
  g.fillText('cosine similarity', width / 2 - 40, height - 2);
}
function showRing(msg) {
  const { ring, neighbours, images } = msg;
  state.ring = ring;
  drawEmbedding();
  drawImage($('anchor-image'), images[0], state.imageSize);
  const inRing = ring.places.filter((p) => p === PLACE.ring).length;
  const close = ring.places.filter((p) => p === PLACE.close).length;
  $('anchor-text').innerHTML = `ring: ranks [${ring.lo}, ${ring.hi}) of ${ring.candidates.length} others<br>` +
    `l = ${ring.lower.toFixed(1)}%, u = ${ring.upper.toFixed(1)}%<br>${close} too close, ${inRing} in the ring<br>` +
    `similarity band [${ring.lowerSimilarity.toFixed(3)}, ${ring.upperSimilarity.toFixed(3)}]`;
  const box = $('neighbours'); box.innerHTML = '';
  neighbours.forEach((n, k) => {
    const fig = document.createElement('figure');
    const c = document.createElement('canvas'); c.width = 48; c.height = 48; c.className = 'thumb';
    drawImage(c, images[k + 1], state.imageSize);
    const sim = ring.similarities[ring.candidates.indexOf(n)];
    fig.append(c, Object.assign(document.createElement('figcaption'), { textContent: `${state.classes[state.labels[n]] ?? n} ${sim.toFixed(3)}` }));
    box.append(fig);
  });
  drawHistogram(ring);
}

// ---------- messages from the worker ----------
// A download's progress in the bar and the status line (the total 0 when unknown); the bar
// goes when it is done.
function showDownload(what, { received, total, done }) {
  const bar = $('load-progress');
  bar.hidden = !!done;
  const mb = (n) => (n / 1e6).toFixed(1);
  if (total > 0) bar.value = Math.min(1, received / total); else bar.removeAttribute('value');
  status(`downloading ${what}: ${mb(received)}${total > 0 ? ` of ${mb(total)}` : ''} MB`);
}
let pendingSaveName = null;
worker.onmessage = ({ data: msg }) => {
  switch (msg.type) {
    case 'loading':
      state.loadProgress = { received: msg.received, total: msg.total };
      showDownload('the training module', msg);
      if (msg.done) status('compiling the training module…');
      break;
    case 'phase': status(msg.text); break;
    case 'dataLoading':
      state.dataProgress = { what: msg.what, received: msg.received, total: msg.total };
      showDownload(msg.what, msg);
      break;
    case 'ready':
      $('load-progress').hidden = true;
      state.ready = true; state.webgpu = msg.webgpu; state.loadMs = msg.ms; state.module = msg.module;
      status(`ready (package ${msg.version}, ${msg.module === 'cpu' ? 'CPU-only build' : 'WebGPU build'}; WebGPU ${msg.webgpu ? 'available' : 'not available: training runs on the CPU'})`);
      offerResume();
      break;
    case 'created':
      state.created = true; state.device = msg.device; state.createMs = msg.ms; state.imageSize = msg.imageSize; state.module = msg.module;
      state.config = msg.config; state.finished = msg.progress.finished;
      state.testSampled = msg.testSampled;
      $('knn-caption').textContent = msg.testSampled
        ? `kNN top-1 (%) on ${msg.testSampled.kept.toLocaleString('en')} of the ${msg.testSampled.of.toLocaleString('en')} test images (class-balanced, as in the embedding view)`
        : 'kNN top-1 (%)';
      status(`${msg.device}; ${msg.progress.stepsPerEpoch} steps per epoch`);
      $('save').disabled = false;
      if (state.wantStart) { state.wantStart = false; startTraining(); }
      break;
    case 'metrics': {
      // A step that was in flight when Reset was pressed: its run is gone.
      if (!state.created) break;
      const m = msg.metrics;
      if (state.firstStepMs === null && m.steps > 0) state.firstStepMs = performance.now() - state.pageStart;
      state.globalStep = m.globalStep;
      if (m.steps > 0) state.steps.push({ globalStep: m.globalStep, loss: m.loss, upper: m.upper, lr: m.lr, imagesPerS: m.imagesPerS });
      for (const e of m.epochs) { state.epochs.push(e); if (e.knnTop1 !== null) state.knn.push({ step: m.globalStep, top1: e.knnTop1 }); }
      const last = state.knn.length ? ` kNN ${(100 * state.knn[state.knn.length - 1].top1).toFixed(1)}%` : '';
      if (state.steps.length <= 1) status(`${state.device}: training`);
      progressLine(`step ${m.globalStep}, epoch ${msg.progress.epochsCompleted}/${msg.progress.epochs}, loss ${m.loss?.toFixed(3)}, u ${m.upper.toFixed(1)}%, ${m.imagesPerS.toFixed(1)} img/s${last}`);
      drawCharts();
      break;
    }
    case 'embeddings':
      if (!state.created) break;
      setPoints(msg.points, msg.labels, msg.classes);
      if (state.anchor !== null) send('ring', { anchor: state.anchor });
      break;
    case 'ring': showRing(msg); break;
    case 'ringCheck': state.ringCheck = msg; break;
    case 'knn':
      if (!state.created) break;
      if (msg.untrained) { status(`${state.device}: untrained network's kNN ${(100 * msg.top1).toFixed(1)}% (the curve starts there)`); }
      state.knn.push({ step: msg.untrained ? 0 : state.globalStep, top1: msg.top1, untrained: !!msg.untrained });
      drawCharts();
      break;
    case 'autosave': if (state.created) saveToBrowser(msg.bytes); break;
    case 'checkpoint': download(msg.bytes, pendingSaveName || 'ring-wgpu-checkpoint.bin'); break;
    case 'finished': state.finished = true; setRunning(false); status(`finished: ${msg.progress.epochs} epochs`); break;
    case 'reset': break;
    case 'error': showError(msg.message); break;
    case 'loadFailed':
      state.loadFailed = msg.message;
      status('the training module failed to load: see the message below');
      showError(msg.message);
      $('start').disabled = true;
      break;
    default: break;
  }
};
worker.onerror = (e) => {
  // A worker whose script or package cannot even be fetched ends here before 'ready'.
  const hint = state.ready ? '' : ' (is the package built? run web/build.sh, or serve the page with web/serve.sh)';
  if (!state.ready) status('the training worker failed to start: see the message below');
  showError(`the training worker failed: ${e.message || 'it could not be loaded'}${hint}`);
};

// ---------- buttons ----------
async function create({ checkpoint = null } = {}) {
  clearError();
  state.steps = []; state.epochs = []; state.knn = []; state.ring = null; state.anchor = null; state.created = false;
  const dataset = await datasetSpec();
  // The archive is read afresh for every run: hand it over; dropped files are copied.
  send('create', { config: config(), dataset, device: $('device').value, checkpoint }, [dataset.bytes].filter(Boolean));
}
function startTraining() {
  setRunning(true);
  send('start', { stepsPerCall: Number(new URLSearchParams(location.search).get('steps') || 1), embeddingEvery: 2 });
}
$('start').addEventListener('click', async () => {
  try {
    if (!state.created) { state.wantStart = true; await create(); } else startTraining();
  } catch (e) { showError(e.message); }
});
$('pause').addEventListener('click', () => { send('pause'); setRunning(false); status('paused'); });
$('reset').addEventListener('click', () => {
  // 'pause' is answered at once (the trainer stops before its next step); the step in
  // flight still finishes, and its messages are dropped because no run is created.
  send('pause'); send('reset'); state.created = false; state.points = null; cancelAnimationFrame(animation); shown = null; resetView(); state.steps = []; state.knn = []; state.ring = null; state.anchor = null;
  setRunning(false); drawCharts(); drawEmbedding(); status('reset: press Start for a new run');
});
$('save').addEventListener('click', () => { pendingSaveName = `ring-wgpu-step${state.globalStep}.bin`; send('checkpoint'); });
$('load').addEventListener('change', async (e) => {
  const file = e.target.files[0]; if (!file) return;
  try { await create({ checkpoint: await file.arrayBuffer() }); } catch (err) { showError(err.message); }
  e.target.value = '';
});
// A run keeps the settings it started with: a change starts a new run at the next Start, or,
// while one trains, is announced as waiting for Reset.
function settingsChanged(id) {
  if (state.running) { status(`the new ${id} applies to the next run: press Reset, then Start (this run keeps its settings)`); return; }
  if (state.created) { state.created = false; status('settings changed: Start begins a new run'); }
}
for (const id of ['method', 'lower', 'upper', 'anneal', 'batch', 'queue', 'epochs', 'lr', 'dataset', 'per-class', 'subset', 'device']) {
  $(id).addEventListener('change', () => settingsChanged(id));
}
// Choosing the archive means training on it.
$('cifar-file').addEventListener('change', () => {
  if ($('cifar-file').files.length === 0) return;
  $('dataset').value = 'cifar10';
  settingsChanged('dataset');
});
function download(bytes, name) {
  const url = URL.createObjectURL(new Blob([bytes], { type: 'application/octet-stream' }));
  const a = Object.assign(document.createElement('a'), { href: url, download: name });
  document.body.append(a); a.click(); a.remove(); setTimeout(() => URL.revokeObjectURL(url), 1000);
}

// ---------- dropped folders ----------
async function readEntry(entry, path, out) {
  if (entry.isFile) {
    const file = await new Promise((ok, fail) => entry.file(ok, fail));
    out.push({ path: `${path}${file.name}`, bytes: await file.arrayBuffer() });
  } else if (entry.isDirectory) {
    const reader = entry.createReader();
    for (;;) {
      const batch = await new Promise((ok, fail) => reader.readEntries(ok, fail));
      if (batch.length === 0) break;
      for (const child of batch) await readEntry(child, `${path}${entry.name}/`, out);
    }
  }
}
const drop = $('drop');
drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', async (e) => {
  e.preventDefault(); drop.classList.remove('over');
  const files = [];
  for (const item of e.dataTransfer.items) { const entry = item.webkitGetAsEntry?.(); if (entry) await readEntry(entry, '', files); }
  droppedFiles = files;
  $('dataset').value = 'files';
  settingsChanged('dataset');
  drop.textContent = `${files.length} files dropped`;
});

// ---------- IndexedDB: continue the last run after a reload ----------
function db() {
  return new Promise((ok, fail) => {
    const open = indexedDB.open('ring-wgpu', 1);
    open.onupgradeneeded = () => open.result.createObjectStore('runs');
    open.onsuccess = () => ok(open.result);
    open.onerror = () => fail(open.error);
  });
}
async function saveToBrowser(bytes) {
  try {
    const d = await db();
    const tx = d.transaction('runs', 'readwrite');
    tx.objectStore('runs').put({ bytes, dataset: $('dataset').value, saved: Date.now(), step: state.globalStep }, 'last');
    state.autosaved = state.globalStep;
  } catch (e) { console.warn('could not keep the run in IndexedDB', e); }
}
async function offerResume() {
  try {
    const d = await db();
    const saved = await new Promise((ok) => { const r = d.transaction('runs').objectStore('runs').get('last'); r.onsuccess = () => ok(r.result); r.onerror = () => ok(null); });
    if (!saved) return;
    state.savedRun = { step: saved.step, dataset: saved.dataset };
    $('resume').hidden = false;
    $('resume').firstChild.textContent = `A run saved at step ${saved.step} is in this browser${saved.dataset !== 'synthetic' ? ' (choose its dataset again first)' : ''}. `;
    $('resume-yes').onclick = async () => {
      // A run on CIFAR-10 or dropped folders needs its data again: say so and keep the offer.
      const missing = saved.dataset === 'cifar10' ? $('cifar-file').files.length === 0
        : saved.dataset === 'files' ? !droppedFiles?.length
          : saved.dataset === 'cifar10-served' ? !state.served.cifar10 : false;
      if (missing) {
        showError(saved.dataset === 'cifar10'
          ? 'this run trained on CIFAR-10: choose the same cifar-10-binary.tar.gz under Data (CIFAR-10 archive), then press "Continue it" again, or "Discard" to start afresh'
          : saved.dataset === 'files'
            ? 'this run trained on dropped image folders: drop the same folder under Data, then press "Continue it" again, or "Discard" to start afresh'
            : 'this run trained on the CIFAR-10 this server offered, which it no longer does: restart web/serve.sh with --cifar PATH (or choose your cifar-10-binary.tar.gz under Data and pick that dataset), then press "Continue it" again, or "Discard" to start afresh');
        return;
      }
      $('dataset').value = saved.dataset;
      try { await create({ checkpoint: saved.bytes }); $('resume').hidden = true; } catch (e) { showError(e.message); }
    };
    $('resume-no').onclick = () => { $('resume').hidden = true; d.transaction('runs', 'readwrite').objectStore('runs').delete('last'); };
  } catch (e) { console.warn('IndexedDB unavailable', e); }
}

// ---------- datasets the server offers ----------
// web/serve.sh serves CIFAR-10 when it has it (/data/datasets.json lists it): the page then
// trains on it by default, on a class-balanced training subset that shows learning within
// minutes on a CPU (clear the subset field for all 50,000 images).
state.served = {};
const CIFAR_SUBSET = 5000;
async function offerServedData() {
  try {
    const response = await fetch(new URL('../data/datasets.json', location.href));
    if (!response.ok) return;
    state.served = await response.json();
  } catch { return; }
  const cifar = state.served.cifar10;
  if (!cifar) return;
  const option = Object.assign(document.createElement('option'), { value: 'cifar10-served', textContent: `CIFAR-10 (from this server, ${(cifar.bytes / 1e6).toFixed(0)} MB)` });
  $('dataset').prepend(option);
  // The visitor's own choice, made while this was fetched, stands.
  if ($('dataset').value === 'synthetic' && !state.created) {
    $('dataset').value = 'cifar10-served';
    if ($('subset').value === '') $('subset').value = String(CIFAR_SUBSET);
  }
  state.servedReady = true;
}
offerServedData();

// For tests and the console: the same actions as the buttons.
Object.assign(state, {
  selectAnchor,
  checkRing: (anchor) => send('ringCheck', { anchor }),
  measureKnn: () => send('knn'),
  // Where image i is drawn, as fractions of the canvas (for a test's click).
  screenPosition: (i) => { const [x, y] = toScreen(shown.xs[i], shown.ys[i]); return { x: x / VIEW, y: y / VIEW }; },
  view,
  // The time to draw `n` points (random, 12 classes) `frames` times: [median, max] ms. The
  // view shows the run's points again afterwards.
  timeView: (n, frames = 20) => {
    const saved = { shown, labels: state.labels, ring: state.ring };
    shown = { xs: Float32Array.from({ length: n }, () => 16 + Math.random() * (VIEW - 32)), ys: Float32Array.from({ length: n }, () => 16 + Math.random() * (VIEW - 32)) };
    state.labels = Uint32Array.from({ length: n }, (_, i) => i % 12); state.ring = null;
    const times = [];
    for (let f = 0; f < frames; f++) { drawEmbedding(); times.push(state.drawMs); }
    const drawn = state.drawn;
    shown = saved.shown; state.labels = saved.labels; state.ring = saved.ring;
    drawEmbedding();
    times.sort((a, b) => a - b);
    return { points: n, drawn, medianMs: times[times.length >> 1], maxMs: times[times.length - 1] };
  },
  setConfig: (values) => { for (const [id, v] of Object.entries(values)) { $(id).value = v; } },
});
