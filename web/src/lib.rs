//! ring-wgpu in the browser: the same core `Trainer` the CLI drives, as an embeddable
//! WebAssembly package over WebGPU (or, without WebGPU, burn's CPU backend inside wasm).
//!
//! - [`Trainer`]: `Trainer.create(config, dataset?, options?)`, `step(n)`, `knn()`,
//!   `embeddings(split)`, `ring(anchor)`, `exportCheckpoint()` / `Trainer.fromCheckpoint`.
//! - [`Dataset`]: the built-in synthetic set, CIFAR-10 from the official binary archive's
//!   bytes, or image files dropped on a page (one folder per class).
//! - [`ring_self_test`]: the Ring kernels against their references on this browser's GPU.
//!
//! Every error reaches JavaScript as an `Error` whose message says what to do; nothing
//! blocks (every read-back is awaited); a Rust panic is reported on the console and through
//! `lastPanic()`, but bad input is an `Error`, never a trap.

mod convert;
mod dataset;
mod device;
mod selftest;
mod trainer;

use wasm_bindgen::prelude::*;

pub use dataset::Dataset;
pub use selftest::{SelfTest, ring_self_test};
pub use trainer::{Trainer, ring_reference};

thread_local! {
    static LAST_PANIC: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Installs the panic hook when the module loads: a panic (a bug, never bad input) is
/// written to the console and kept for [`last_panic`].
#[wasm_bindgen(start)]
pub fn start() {
    std::panic::set_hook(Box::new(|info| {
        let message = format!("ring-wgpu: internal error (please report it): {info}");
        web_sys::console::error_1(&JsValue::from_str(&message));
        LAST_PANIC.with(|p| *p.borrow_mut() = Some(message));
    }));
}

/// The message of the last Rust panic, if one happened (after which the module must be
/// reloaded); `undefined` otherwise.
#[wasm_bindgen(js_name = lastPanic)]
pub fn last_panic() -> Option<String> {
    LAST_PANIC.with(|p| p.borrow().clone())
}

/// Which module this is: `"webgpu"` (WebGPU and the CPU) or `"cpu"` (the smaller CPU-only
/// build, where `{ device: "gpu" }` is refused).
#[wasm_bindgen(js_name = moduleKind)]
pub fn module_kind() -> String {
    if cfg!(feature = "webgpu") { "webgpu" } else { "cpu" }.to_string()
}

/// Version of the package.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** A training configuration: the keys of `ring-wgpu train`'s TOML files in camelCase
 *  (`knn_every` is `knnEvery`; snake_case is accepted too); missing keys take the `quick`
 *  preset's values, or those of `preset`. */
export interface TrainConfig {
  preset?: "quick" | "paper-cifar10-mocoring" | "paper-cifar10-moco" | "paper-cifar10-iring" | "paper-cifar10-ir";
  method?: "mocoring" | "moco" | "iring" | "ir" | "cmcring" | "cmc" | "simclr-ring" | "simclr";
  dataset?: "synthetic" | "cifar10" | "cifar100" | "stl10" | "folder";
  syntheticPerClass?: number;
  trainSubset?: number | null;
  imageSize?: number;
  model?: "small" | "resnet18";
  head?: "mlp" | "linear";
  projectionDim?: number;
  epochs?: number;
  batch?: number;
  queue?: number | null;
  samples?: number;
  bankMomentum?: number;
  bankInit?: "random" | "encoder";
  temperature?: number;
  objective?: "nce" | "dcl" | "hcl";
  tauPlus?: number;
  hclBeta?: number;
  mochiHardest?: number;
  mochiMixes?: number;
  mochiQueryMixes?: number;
  keyMomentum?: number;
  lower?: number;
  upper?: number;
  innerFraction?: number | null;
  anneal?: "none" | "linear" | "step" | "exponential";
  annealEpochs?: number | null;
  lr?: number;
  sgdMomentum?: number;
  weightDecay?: number;
  lrSchedule?: "cosine" | "step";
  lrMilestones?: number[];
  lrUpdate?: "step" | "epoch";
  warmupEpochs?: number;
  seed?: number;
  blur?: number;
  colorJitter?: boolean | null;
  knnEvery?: number;
  knnK?: number;
  knnTemperature?: number;
  knnFeatures?: "backbone" | "projection";
}

/** Where training runs: the browser's WebGPU, burn's CPU backend inside wasm, or
 *  WebGPU when the browser offers it and the CPU otherwise. */
export interface TrainerOptions { device?: "auto" | "gpu" | "cpu"; }

/** What `step(n)` reports as it runs, and how to end it early. */
export interface StepOptions {
  /** Called after each step and each epoch end (kNN included when due); a throw ends the call. */
  onEvent?: (event: { type: "step"; metrics: StepMetrics } | { type: "epoch"; metrics: EpochMetrics }) => void;
  /** Aborting it ends the call before its next step (the promise resolves with the steps done). */
  signal?: AbortSignal;
}

/** One training step, as queued (its loss is read at the epoch's end). */
export interface StepMetrics {
  globalStep: number; epoch: number; stepInEpoch: number; stepsPerEpoch: number;
  upper: number; lower: number; lr: number; imagesPerS: number;
}

/** One epoch's summary (epoch 0: the untrained network's kNN). */
export interface EpochMetrics {
  epoch: number; loss: number | null; upper: number; lr: number;
  knnTop1: number | null; imagesPerS: number | null; seconds: number;
  /** Mean cosines of an anchor to its positive, to its negatives, and between two anchors. */
  positiveSimilarity: number | null; negativeSimilarity: number | null; anchorSimilarity: number | null;
  /** Degrees the mean anchor embedding turned since the previous epoch. */
  meanTurnDegrees: number | null;
}

/** What `step(n)` did: the mean loss of its steps (read once), u and lr of the last step. */
export interface StepsMetrics {
  steps: number; loss: number | null; upper: number; lr: number; imagesPerS: number;
  globalStep: number; epochsCompleted: number; epochs: EpochMetrics[];
}

/** Where the run stands. */
export interface Progress {
  globalStep: number; stepsPerEpoch: number; epochsCompleted: number; epochs: number;
  finished: boolean; upper: number; lower: number; device: string;
}

/** A split's features and their 2-D PCA (computed on the device), with labels. */
export interface Embeddings {
  count: number; dim: number; features: Float32Array; points: Float32Array; labels: Uint32Array;
  classes: string[];
}

/** One anchor's ring among the other images of a split: place 0 too close (above the l%
 *  mark), 1 inside the ring, 2 too far (below the u% mark). */
export interface RingView {
  anchor: number; candidates: Uint32Array; similarities: Float32Array; places: Uint8Array;
  lo: number; hi: number; lower: number; upper: number;
  upperSimilarity: number; lowerSimilarity: number;
}

/** What a dataset holds. */
export interface DatasetInfo { name: string; train: number; test: number; classes: string[]; height: number; width: number; }
"#;

#[cfg(test)]
mod tests {
    /// The TypeScript `TrainConfig` names every key of core's `TrainConfig` (but the folder
    /// on disk), and no other.
    #[test]
    fn typescript_config_lists_every_key() {
        // The custom section is consumed by wasm-bindgen's attribute: read it from this file.
        let source = include_str!("lib.rs");
        let start = source.find("export interface TrainConfig {").expect("the interface");
        let body = &source[start..start + source[start..].find("\n}").expect("its end")];
        let ts_keys: std::collections::BTreeSet<&str> =
            body.lines().filter_map(|l| l.trim().split_once("?:").map(|(k, _)| k)).filter(|k| *k != "preset").collect();
        let config = serde_json::to_value(ring_wgpu_core::TrainConfig::default()).unwrap();
        // data_dir names a folder on disk: the browser takes datasets as bytes instead.
        // In camelCase, JavaScript's style (the trainer accepts snake_case too).
        let keys: std::collections::BTreeSet<String> =
            config.as_object().unwrap().keys().filter(|k| *k != "data_dir").map(|k| crate::convert::camel_case(k)).collect();
        assert_eq!(ts_keys, keys.iter().map(String::as_str).collect());
    }
}
