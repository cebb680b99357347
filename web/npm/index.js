// The package's entry. ring-wgpu ships two builds of one API: `webgpu/` (WebGPU and the CPU;
// burn's WebGPU kernel compiler makes it the larger) and `cpu/` (the CPU backend only, a
// fraction of the download). `init()` loads one of them — the WebGPU build where the browser
// offers a hardware WebGPU adapter, else the CPU-only one — or the one the caller names, and
// the named exports below then refer to it.
//
//   import init, { Trainer } from 'ring-wgpu';
//   const api = await init();                 // or init({ module: 'cpu' | 'webgpu' })
//   api.moduleKind();                         // "webgpu" or "cpu"

const KINDS = ['webgpu', 'cpu'];

// Literal paths, so that bundlers (Vite, webpack) see both modules and their .wasm files.
const importers = {
  webgpu: () => import('./webgpu/ring_wgpu_web.js'),
  cpu: () => import('./cpu/ring_wgpu_web.js'),
};

/** Where the module of build `kind` lives (for a caller that fetches it itself). */
export function wasmUrl(kind) {
  checkKind(kind, 'wasmUrl(kind)');
  return kind === 'webgpu'
    ? new URL('./webgpu/ring_wgpu_web_bg.wasm', import.meta.url)
    : new URL('./cpu/ring_wgpu_web_bg.wasm', import.meta.url);
}

function checkKind(kind, where) {
  if (!KINDS.includes(kind)) {
    throw new Error(`${where}: the module is "webgpu" or "cpu", not ${JSON.stringify(kind)}`);
  }
}

const SOFTWARE = /swiftshader|llvmpipe|lavapipe|software|warp|basic render/i;

/**
 * The build `init()` picks: "webgpu" when the browser (or worker) offers a WebGPU adapter
 * that is not a software one, else "cpu". A software adapter (SwiftShader) is slower than
 * the CPU build, so it counts as none, as the trainer's `device: "auto"` does.
 */
export async function chooseModule() {
  const gpu = globalThis.navigator && globalThis.navigator.gpu;
  if (!gpu || typeof gpu.requestAdapter !== 'function') return 'cpu';
  let adapter = null;
  try {
    adapter = await gpu.requestAdapter();
  } catch {
    return 'cpu';
  }
  if (!adapter) return 'cpu';
  const info = adapter.info || {};
  if (info.isFallbackAdapter || adapter.isFallbackAdapter) return 'cpu';
  const label = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ');
  return SOFTWARE.test(label) ? 'cpu' : 'webgpu';
}

const loading = new Map();

/**
 * Loads build `kind` ("webgpu" or "cpu") and resolves to its exports, without changing what
 * the named exports of this package refer to. Loading the same build again returns it.
 * `moduleOrPath`: the module's URL, `Response`, bytes or `WebAssembly.Module`, as
 * wasm-bindgen's init takes it (default: the file beside the build's glue).
 */
export function load(kind, moduleOrPath) {
  checkKind(kind, 'load(kind)');
  if (!loading.has(kind)) {
    const promise = importers[kind]().then(async (api) => {
      await api.default(moduleOrPath === undefined ? undefined : { module_or_path: moduleOrPath });
      return api;
    });
    // A failed load may be retried (another URL, the server back up).
    promise.catch(() => loading.delete(kind));
    loading.set(kind, promise);
  }
  return loading.get(kind);
}

function notLoaded(name) {
  const fail = () => {
    throw new Error(`ring-wgpu: ${name} is used before the module is loaded: await init() first`);
  };
  return new Proxy(function () {}, {
    apply: fail,
    construct: fail,
    get: (_target, key) => (typeof key === 'symbol' ? undefined : fail()),
  });
}

/* The API of the loaded build (live bindings: set by init()). */
export let Trainer = notLoaded('Trainer');
export let Dataset = notLoaded('Dataset');
export let SelfTest = notLoaded('SelfTest');
export let lastPanic = notLoaded('lastPanic');
export let ringReference = notLoaded('ringReference');
export let ringSelfTest = notLoaded('ringSelfTest');
export let version = notLoaded('version');
export let moduleKind = notLoaded('moduleKind');

/**
 * Loads a build and makes this package's named exports refer to it; resolves to its
 * exports. `options.module`: "auto" (default: `chooseModule()`), "webgpu" or "cpu";
 * `options.moduleOrPath` (or wasm-bindgen's `module_or_path`): see `load`. Calling it again with another build switches the
 * named exports to that build (objects made by the first keep working).
 */
export default async function init(options = {}) {
  if (options === null || typeof options !== 'object') {
    throw new Error('init(options): options is an object { module?: "auto" | "webgpu" | "cpu", moduleOrPath? }');
  }
  const requested = options.module === undefined ? 'auto' : options.module;
  if (requested !== 'auto') checkKind(requested, 'init({ module })');
  const kind = requested === 'auto' ? await chooseModule() : requested;
  const api = await load(kind, options.moduleOrPath !== undefined ? options.moduleOrPath : options.module_or_path);
  ({ Trainer, Dataset, SelfTest, lastPanic, ringReference, ringSelfTest, version, moduleKind } = api);
  return api;
}
