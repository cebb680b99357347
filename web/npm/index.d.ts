// Types of the package's entry (index.js). Both builds have the API of webgpu/ring_wgpu_web.d.ts.
import type * as Api from './webgpu/ring_wgpu_web.js';

export type * from './webgpu/ring_wgpu_web.js';
export { Trainer, Dataset, SelfTest, lastPanic, ringReference, ringSelfTest, version, moduleKind } from './webgpu/ring_wgpu_web.js';

/** A build of the module: WebGPU and the CPU, or the smaller CPU-only one. */
export type ModuleKind = 'webgpu' | 'cpu';

/** The exports of a loaded build. */
export type RingWgpu = Omit<typeof Api, 'default' | 'initSync'>;

/** The module's source, as wasm-bindgen's init takes it. */
export type ModuleSource = Api.InitInput | Promise<Api.InitInput>;

export interface InitOptions {
  /** "auto" (default): WebGPU where a hardware adapter exists, else the CPU-only build. */
  module?: 'auto' | ModuleKind;
  /** The chosen build's .wasm (default: the file beside its glue). */
  moduleOrPath?: ModuleSource;
  /** The same, under wasm-bindgen's name. */
  module_or_path?: ModuleSource;
}

/** Loads a build and points the named exports at it. */
export default function init(options?: InitOptions): Promise<RingWgpu>;
/** Loads build `kind` without changing the named exports. */
export function load(kind: ModuleKind, moduleOrPath?: ModuleSource): Promise<RingWgpu>;
/** The build `init()` picks in this browser. */
export function chooseModule(): Promise<ModuleKind>;
/** Where build `kind`'s .wasm file lives. */
export function wasmUrl(kind: ModuleKind): URL;
