// The training worker: owns the WebAssembly module and the Trainer, so that the page stays
// responsive while WebGPU (or the CPU inside wasm) trains. Messages are handled one at a
// time, in order; the training loop queues itself between them, so a click on a point is
// answered between two training calls.
import { chooseModule, load, wasmUrl } from '../pkg/index.js';

// The loaded build's exports (pkg/webgpu or pkg/cpu: the same API) and which build it is.
let lib = null;
let build = null;
let trainer = null;
let running = false;
let stepsPerCall = 1;
let embeddingEvery = 2;
let calls = 0;
// The embedding view's refresh: its forward pass and PCA take `embedMs`; the next waits until
// training has had four times as long, so that drawing costs at most a fifth of the time.
let embedMs = 0;
let embeddedAt = 0;
let queue = Promise.resolve();

const post = (type, data = {}, transfer = []) => self.postMessage({ type, ...data }, transfer);

// Set when the WebAssembly module failed to load: every later request is answered with it.
let loadFailure = null;

function errorMessage(e) {
  const text = e && e.message ? e.message : String(e);
  // lastPanic() itself throws when the module never loaded.
  let panic = null;
  try { panic = lib && lib.lastPanic(); } catch { /* no module */ }
  return panic ? `${text}\n${panic}` : text;
}

function enqueue(task) {
  queue = queue.then(task).catch((e) => {
    running = false;
    post('error', { message: errorMessage(e) });
  });
  return queue;
}

// The test images the embedding view, the rings and the kNN monitor use: a class-balanced
// sample of a large test split (CIFAR-10 has 10,000), the same one every time.
const VIEW_TEST_IMAGES = 2000;

// The bytes at `url`, their download reported to the page ('dataLoading' messages).
async function download(url, what) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${what}: the server answered ${response.status} ${response.statusText} for ${url} (restart web/serve.sh, or pick the archive under Data)`);
  const total = Number(response.headers.get('content-length')) || 0;
  const parts = [];
  let received = 0;
  let last = 0;
  for (const reader = response.body.getReader(); ;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    received += value.byteLength;
    const now = performance.now();
    if (now - last > 100) { last = now; post('dataLoading', { what, received, total }); }
  }
  post('dataLoading', { what, received, total, done: true });
  const bytes = new Uint8Array(received);
  let at = 0;
  for (const part of parts) { bytes.set(part, at); at += part.byteLength; }
  return bytes;
}

// Set by datasetFrom when the test split was sampled: { of, kept }.
let testSampled = null;

async function datasetFrom(spec) {
  testSampled = null;
  let dataset;
  switch (spec.kind) {
    case 'synthetic': return null;
    case 'served':
    case 'cifar10': {
      const bytes = spec.kind === 'served' ? await download(spec.url, 'CIFAR-10') : new Uint8Array(spec.bytes);
      post('phase', { text: 'reading the dataset (unpacking the CIFAR-10 archive)…' });
      dataset = lib.Dataset.cifar10(bytes);
      break;
    }
    case 'files':
      post('phase', { text: 'reading the dataset (decoding the images)…' });
      dataset = lib.Dataset.fromFiles(spec.paths, spec.contents.map((b) => new Uint8Array(b)), spec.size || 32, spec.testFraction || 0.2, spec.seed || 0);
      break;
    default: throw new Error(`unknown dataset kind ${spec.kind}`);
  }
  const { test } = dataset.info();
  if (test <= VIEW_TEST_IMAGES) return dataset;
  const sample = dataset.subset('test', VIEW_TEST_IMAGES, 0);
  dataset.free();
  testSampled = { of: test, kept: VIEW_TEST_IMAGES };
  return sample;
}

async function sendEmbeddings() {
  const started = performance.now();
  const e = await trainer.embeddings('test', 'projection');
  embedMs = performance.now() - started;
  embeddedAt = performance.now();
  post('embeddings', { points: e.points, labels: e.labels, classes: e.classes, count: e.count }, [e.points.buffer, e.labels.buffer]);
}

async function trainLoop() {
  if (!running || !trainer) return;
  if (calls === 0) {
    post('phase', { text: /WebGPU/.test(trainer.device)
      ? 'first step: compiling the GPU kernels (on a software GPU this takes a minute or more)…'
      : 'first step…' });
  }
  const m = await trainer.step(stepsPerCall);
  calls += 1;
  const progress = trainer.progress();
  post('metrics', { metrics: m, progress });
  const viewDue = calls % embeddingEvery === 0 && performance.now() - embeddedAt >= 4 * embedMs;
  if (m.epochs.length > 0 || viewDue) await sendEmbeddings();
  if (m.epochs.length > 0) {
    const bytes = await trainer.exportCheckpoint();
    post('autosave', { bytes }, [bytes.buffer]);
  }
  if (progress.finished) {
    running = false;
    post('finished', { progress });
    return;
  }
  if (running) enqueue(trainLoop);
}

const handlers = {
  async create(msg) {
    if (trainer) { trainer.free(); trainer = null; }
    calls = 0;
    // The CPU-only build has no WebGPU: a GPU run loads the WebGPU build first.
    if (msg.device === 'gpu' && build !== 'webgpu') {
      post('phase', { text: 'loading the WebGPU build of the module…' });
      await useBuild('webgpu');
    }
    const dataset = await datasetFrom(msg.dataset);
    post('phase', { text: msg.checkpoint ? 'restoring the checkpoint…' : 'creating the model…' });
    const started = performance.now();
    trainer = msg.checkpoint
      ? await lib.Trainer.fromCheckpoint(new Uint8Array(msg.checkpoint), dataset, { device: msg.device })
      : await lib.Trainer.create(msg.config, dataset, { device: msg.device });
    const [h, w] = trainer.imageSize('test');
    const progress = trainer.progress();
    post('created', { progress, config: trainer.config(), device: trainer.device, module: build, imageSize: [h, w], ms: performance.now() - started, testSampled });
    await sendEmbeddings();
    // The baseline the kNN curve is read against: the untrained network (a new run only).
    if (progress.globalStep === 0) {
      post('phase', { text: 'measuring the untrained network\'s kNN (where the kNN curve starts)…' });
      post('knn', { top1: await trainer.knn(), untrained: true });
    }
  },
  async start(msg) {
    if (!trainer) throw new Error('create a trainer first');
    stepsPerCall = msg.stepsPerCall || stepsPerCall;
    embeddingEvery = msg.embeddingEvery || embeddingEvery;
    running = true;
    enqueue(trainLoop);
  },
  async pause() {
    running = false;
  },
  async reset() {
    running = false;
    if (trainer) { trainer.free(); trainer = null; }
    post('reset');
  },
  async ring(msg) {
    const r = await trainer.ring(msg.anchor, 'test');
    const order = Array.from(r.similarities.keys()).sort((a, b) => r.similarities[b] - r.similarities[a]);
    const neighbours = order.slice(0, 8).map((k) => r.candidates[k]);
    const images = [msg.anchor, ...neighbours].map((i) => trainer.image('test', i));
    post('ring', { ring: r, neighbours, images });
  },
  async ringCheck(msg) {
    // The GPU kernel's ring against the plain-Rust reference for the same similarities.
    const r = await trainer.ring(msg.anchor, 'test');
    const want = lib.ringReference(r.similarities, r.lower, r.upper);
    let mismatches = 0;
    for (let i = 0; i < want.length; i++) if (want[i] !== r.places[i]) mismatches++;
    post('ringCheck', { anchor: msg.anchor, candidates: want.length, mismatches, ring: r.hi - r.lo, lower: r.lower, upper: r.upper });
  },
  async knn() {
    post('knn', { top1: await trainer.knn() });
  },
  async checkpoint() {
    const bytes = await trainer.exportCheckpoint();
    post('checkpoint', { bytes }, [bytes.buffer]);
  },
};

self.onmessage = (event) => {
  const msg = event.data;
  if (msg.type === 'pause') { running = false; if (trainer) trainer.stop(); return; }
  if (loadFailure) { post('error', { message: loadFailure }); return; }
  const handler = handlers[msg.type];
  if (!handler) { post('error', { message: `unknown request ${msg.type}` }); return; }
  enqueue(() => handler(msg));
};

// The module's response, its bytes counted as they arrive ('loading' messages for the page's
// progress bar). The total is the decoded size: `x-decoded-content-length` where the server
// sends it with a compressed body (web/server.mjs does), else Content-Length of a raw body,
// else unknown (0).
async function moduleResponse(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`failed to fetch Wasm: ${response.status} ${response.statusText} fetching '${url}'`);
  const encoding = response.headers.get('content-encoding');
  const total = Number(response.headers.get('x-decoded-content-length')
    || (!encoding || encoding === 'identity' ? response.headers.get('content-length') : 0)) || 0;
  if (!response.body || typeof TransformStream === 'undefined') return response;
  let received = 0;
  let last = 0;
  const counted = response.body.pipeThrough(new TransformStream({
    transform(chunk, controller) {
      received += chunk.byteLength;
      const now = performance.now();
      if (now - last > 100) { last = now; post('loading', { received, total }); }
      controller.enqueue(chunk);
    },
    flush() { post('loading', { received, total, done: true }); },
  }));
  return new Response(counted, { headers: { 'content-type': response.headers.get('content-type') || 'application/wasm' } });
}

// Loads build `kind` ("webgpu" or "cpu"), its download reported to the page, and makes it
// the one in use.
const loaded = new Set();
async function useBuild(kind) {
  lib = await load(kind, loaded.has(kind) ? undefined : moduleResponse(wasmUrl(kind)));
  loaded.add(kind);
  build = kind;
}

enqueue(async () => {
  const started = performance.now();
  let kind = null;
  try {
    kind = await chooseModule();
    await useBuild(kind);
  } catch (e) {
    loadFailure = `the WebAssembly module (pkg/${kind || '…'}/ring_wgpu_web_bg.wasm) failed to load: ${e && e.message ? e.message : e}. `
      + 'Build it with web/build.sh (or serve the page with web/serve.sh, which builds it), check that the server sends .wasm files '
      + 'as application/wasm, then reload the page.';
    post('loadFailed', { message: loadFailure });
    return;
  }
  const gpu = typeof navigator !== 'undefined' && !!navigator.gpu && !!(await navigator.gpu.requestAdapter().catch(() => null));
  post('ready', { version: lib.version(), webgpu: gpu, module: build, ms: performance.now() - started });
});
