//! `Trainer` for JavaScript: core's `Trainer` (the same loop the CLI runs) behind
//! promises. Calls are serialised: a call made while another is in flight is refused with
//! an `Error` (await the previous one), never a panic.
//!
//! Each call's future holds the trainer's `RefCell` borrow across its awaits on purpose:
//! that borrow is the "busy" flag (every entry point uses `try_borrow*`, so an overlapping
//! call gets an `Error` instead of a `BorrowMutError` panic). `progress()` and `config()`
//! answer even then: from a copy of the progress that every step of `step(n)` refreshes, and
//! from the configuration kept at creation.
#![allow(clippy::await_holding_refcell_ref)]

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;

use ring_wgpu_core::data::Split;
use ring_wgpu_core::eval::pca;
use ring_wgpu_core::gpu::read::read_f32;
use ring_wgpu_core::train::{Checkpoint, DatasetKind, Datasets, EventSink, KnnFeatures, StopHandle, TrainConfig, TrainEvent};
use serde::Serialize;
use wasm_bindgen::prelude::*;

use crate::convert::{camel_case, from_js, js_error, rename_word, set, snake_case, to_js};
use crate::dataset::{Dataset, image_of, split_of};
use crate::device;

/// A training run in the page.
#[wasm_bindgen]
pub struct Trainer {
    inner: Rc<RefCell<ring_wgpu_core::Trainer>>,
    stop: StopHandle,
    device: String,
    /// The configuration in force (fixed for the run).
    config: TrainConfig,
    /// The progress as of the last step: what `progress()` answers while a call runs.
    progress: Rc<RefCell<Progress>>,
}

#[derive(Serialize, Clone)]
struct Progress {
    global_step: u64,
    steps_per_epoch: usize,
    epochs_completed: usize,
    epochs: usize,
    finished: bool,
    upper: f64,
    lower: f64,
    device: String,
}

/// The configuration a JS object describes: `preset` (optional) under its other keys.
fn config_of(value: &JsValue) -> Result<TrainConfig, JsError> {
    let mut json = from_js(value)?;
    let Some(object) = json.as_object_mut() else {
        return Err(JsError::new("the configuration must be an object, e.g. { method: \"mocoring\", batch: 64 }"));
    };
    let base = match object.remove("preset") {
        Some(serde_json::Value::String(name)) => ring_wgpu_core::train::preset(&name).map_err(js_error)?,
        Some(other) => return Err(JsError::new(&format!("preset {other}: must be a preset name"))),
        None => TrainConfig::default(),
    };
    let mut merged = serde_json::to_value(base).map_err(js_error)?;
    let target = merged.as_object_mut().expect("a configuration is an object");
    // Keys in camelCase (JavaScript's style) or snake_case (the TOML files'); messages name
    // the key as the caller wrote it.
    let mut given: Vec<(String, String)> = Vec::new();
    for (key, value) in std::mem::take(object) {
        let name = snake_case(&key);
        if !target.contains_key(&name) {
            let mut keys: Vec<String> = target.keys().map(|k| camel_case(k)).collect();
            keys.sort();
            return Err(JsError::new(&format!("unknown configuration key `{key}`; the keys are preset, {}", keys.join(", "))));
        }
        if let Some((earlier, _)) = given.iter().find(|(_, n)| *n == name) {
            return Err(JsError::new(&format!("configuration keys `{earlier}` and `{key}` name the same setting: give one")));
        }
        target.insert(name.clone(), value);
        given.push((key, name));
    }
    let as_given = |message: String| -> JsError {
        let renamed = given.iter().filter(|(key, name)| key != name).fold(message, |m, (key, name)| rename_word(&m, name, key));
        JsError::new(&renamed)
    };
    let config = TrainConfig::from_json(merged).map_err(|e| as_given(e.to_string()))?;
    config.validate().map_err(|e| as_given(e.to_string()))?;
    Ok(config)
}

/// The datasets for `config`: the given one, or the synthetic set it describes.
fn datasets_for(config: &TrainConfig, dataset: Option<&Dataset>) -> Result<Datasets, JsError> {
    match dataset {
        Some(d) => Ok(d.splits.clone()),
        None if config.dataset == DatasetKind::Synthetic => ring_wgpu_core::train::Datasets::synthetic(config).map_err(js_error),
        None => {
            Err(JsError::new("this configuration names a dataset file: pass a Dataset (Dataset.cifar10(bytes) or Dataset.fromFiles(...))"))
        }
    }
}

fn device_choice(options: &JsValue) -> Result<String, JsError> {
    let options = from_js(options)?;
    match options.get("device") {
        None | Some(serde_json::Value::Null) => Ok("auto".into()),
        Some(serde_json::Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(JsError::new(&format!("device {other}: use \"auto\", \"gpu\" or \"cpu\""))),
    }
}

fn parse_split(split: Option<String>) -> Result<Split, JsError> {
    match split.as_deref() {
        None | Some("test") => Ok(Split::Test),
        Some("train") => Ok(Split::Train),
        Some(other) => Err(JsError::new(&format!("split `{other}`: use \"train\" or \"test\""))),
    }
}

impl Progress {
    fn of(trainer: &ring_wgpu_core::Trainer, device: &str) -> Progress {
        let ring = trainer.current_ring();
        Progress {
            global_step: trainer.global_step(),
            steps_per_epoch: trainer.steps_per_epoch(),
            epochs_completed: trainer.epochs_completed(),
            epochs: trainer.config().epochs,
            finished: trainer.finished(),
            upper: ring.upper(),
            lower: ring.lower(),
            device: device.to_string(),
        }
    }
}

/// The events of one `step(n)` call: each step and epoch end refreshes the progress that
/// `progress()` answers meanwhile and goes to the caller's `onEvent` callback, if any, as
/// `{ type: "step" | "epoch", metrics }`.
struct JsEvents {
    progress: Rc<RefCell<Progress>>,
    callback: Option<js_sys::Function>,
}

impl EventSink for JsEvents {
    fn on_event(&mut self, event: &TrainEvent<'_>) -> Result<(), String> {
        let (kind, metrics) = match event {
            TrainEvent::Step(m) => {
                let mut progress = self.progress.borrow_mut();
                progress.global_step = m.global_step;
                progress.upper = m.upper;
                progress.lower = m.lower;
                ("step", serde_json::to_value(m))
            }
            TrainEvent::Epoch(e) => {
                let mut progress = self.progress.borrow_mut();
                progress.epochs_completed = e.epoch;
                progress.finished = e.epoch >= progress.epochs;
                ("epoch", serde_json::to_value(e))
            }
            _ => return Ok(()),
        };
        let Some(callback) = &self.callback else { return Ok(()) };
        let event = serde_json::json!({ "type": kind, "metrics": metrics.map_err(|e| e.to_string())? });
        let value = to_js(&event).map_err(|_| "internal error: an event could not be passed to JavaScript".to_string())?;
        callback.call1(&JsValue::NULL, &value).map(|_| ()).map_err(|thrown| {
            let text = js_sys::Reflect::get(&thrown, &JsValue::from_str("message"))
                .ok()
                .and_then(|m| m.as_string())
                .or_else(|| thrown.as_string())
                .unwrap_or_else(|| "(no message)".into());
            format!("step(n): the onEvent callback threw: {text}")
        })
    }
}

/// What `step(n, options)` says when `options.signal` is not an `AbortSignal`.
const NOT_AN_ABORT_SIGNAL: &str = "step(n, options): options.signal must be an AbortSignal (new AbortController().signal)";

/// `step(n)`'s options: `{ onEvent?: (event) => void, signal?: AbortSignal }`.
fn step_options(options: &JsValue) -> Result<(Option<js_sys::Function>, Option<JsValue>), JsError> {
    if options.is_undefined() || options.is_null() {
        return Ok((None, None));
    }
    if !options.is_object() {
        return Err(JsError::new("step(n, options): options is an object { onEvent?, signal? }"));
    }
    let get = |key: &str| js_sys::Reflect::get(options, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED);
    let callback = match get("onEvent") {
        v if v.is_undefined() || v.is_null() => None,
        v => Some(v.dyn_into::<js_sys::Function>().map_err(|_| JsError::new("step(n, options): options.onEvent must be a function"))?),
    };
    let signal = match get("signal") {
        v if v.is_undefined() || v.is_null() => None,
        v => {
            let aborted = js_sys::Reflect::get(&v, &JsValue::from_str("aborted")).unwrap_or(JsValue::UNDEFINED);
            if aborted.as_bool().is_none() {
                return Err(JsError::new(NOT_AN_ABORT_SIGNAL));
            }
            Some(v)
        }
    };
    Ok((callback, signal))
}

/// Stops the run when `signal` aborts (at once if it already has).
fn stop_on_abort(signal: &JsValue, stop: &StopHandle) -> Result<(), JsError> {
    let aborted = js_sys::Reflect::get(signal, &JsValue::from_str("aborted")).ok().and_then(|v| v.as_bool()).unwrap_or(false);
    if aborted {
        stop.stop();
        return Ok(());
    }
    let add = js_sys::Reflect::get(signal, &JsValue::from_str("addEventListener"))
        .ok()
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
        .ok_or_else(|| JsError::new(NOT_AN_ABORT_SIGNAL))?;
    let stop = stop.clone();
    let handler = Closure::once_into_js(move || stop.stop());
    let once = js_sys::Object::new();
    set(&once, "once", &JsValue::TRUE)?;
    add.call3(signal, &JsValue::from_str("abort"), &handler, &once)
        .map(|_| ())
        .map_err(|_| JsError::new("step(n, options): could not listen to options.signal"))
}

impl Trainer {
    fn wrap(trainer: ring_wgpu_core::Trainer, device: String) -> Trainer {
        let stop = trainer.stop_handle();
        let config = trainer.config().clone();
        let progress = Rc::new(RefCell::new(Progress::of(&trainer, &device)));
        Trainer { inner: Rc::new(RefCell::new(trainer)), stop, device, config, progress }
    }

    /// Runs `work` on the trainer in a promise, refusing concurrent calls.
    fn call<F, Fut>(&self, work: F) -> js_sys::Promise
    where
        F: FnOnce(Rc<RefCell<ring_wgpu_core::Trainer>>) -> Fut + 'static,
        Fut: Future<Output = Result<JsValue, JsError>> + 'static,
    {
        let inner = self.inner.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            if inner.try_borrow_mut().is_err() {
                return Err(JsError::new("the trainer is busy: await the previous call before making another").into());
            }
            work(inner).await.map_err(JsValue::from)
        })
    }

    fn busy() -> JsError {
        JsError::new("the trainer is busy: await the previous call before making another")
    }
}

/// On the CPU backend inside wasm (where every buffer of a run lives in the module's
/// memory), refuses a run whose memory estimate exceeds what one WebAssembly instance can
/// address (4 GiB), naming the setting to lower, before the model is built. On WebGPU the
/// large buffers live in GPU memory, which the browser does not report.
fn fits_in_a_tab(config: &TrainConfig, datasets: &Datasets, device: &ring_wgpu_core::burn::tensor::Device) -> Result<(), JsError> {
    if !ring_wgpu_core::gpu::is_cpu(device) {
        return Ok(());
    }
    let estimate = config.memory_estimate(datasets.train.len(), datasets.test.len(), datasets.train.image_bytes());
    if estimate.total() > 4 << 30 {
        let key = estimate.largest().map(|p| p.key).unwrap_or("batch");
        return Err(JsError::new(&format!(
            "{key}: this run needs {}, more than the 4 GiB a browser tab's WebAssembly can address",
            estimate.describe()
        )));
    }
    Ok(())
}

#[wasm_bindgen]
impl Trainer {
    /// A new run: `config` holds the keys of `ring-wgpu train`'s TOML files (unknown keys
    /// and bad values are refused with a message), `dataset` the images (default: the
    /// synthetic set the config describes), `options.device` "auto" (WebGPU on a hardware GPU, else the CPU),
    /// "gpu" or "cpu".
    pub async fn create(
        #[wasm_bindgen(unchecked_param_type = "TrainConfig")] config: JsValue,
        dataset: Option<Dataset>,
        #[wasm_bindgen(unchecked_param_type = "TrainerOptions | undefined")] options: JsValue,
    ) -> Result<Trainer, JsError> {
        let mut config = config_of(&config)?;
        if let Some(d) = &dataset {
            // The run records the dataset it trains on.
            config.dataset = d.kind;
        }
        let datasets = datasets_for(&config, dataset.as_ref())?;
        let (burn_device, device) = device::open(&device_choice(&options)?).await?;
        fits_in_a_tab(&config, &datasets, &burn_device)?;
        let trainer = ring_wgpu_core::Trainer::new(config, datasets, &burn_device).map_err(js_error)?;
        Ok(Trainer::wrap(trainer, device))
    }

    /// Continues a run from `exportCheckpoint()`'s bytes, on `dataset` (default: the
    /// synthetic set the saved configuration describes).
    #[wasm_bindgen(js_name = fromCheckpoint)]
    pub async fn from_checkpoint(
        bytes: Vec<u8>,
        dataset: Option<Dataset>,
        #[wasm_bindgen(unchecked_param_type = "TrainerOptions | undefined")] options: JsValue,
    ) -> Result<Trainer, JsError> {
        let config = Checkpoint::read_config(&bytes).map_err(js_error)?;
        let datasets = datasets_for(&config, dataset.as_ref())?;
        let (burn_device, device) = device::open(&device_choice(&options)?).await?;
        let trainer = ring_wgpu_core::Trainer::from_checkpoint(&bytes, None, datasets, &burn_device).map_err(js_error)?;
        Ok(Trainer::wrap(trainer, device))
    }

    /// Up to `n` training steps (fewer when the run finishes, `stop()` is called or
    /// `options.signal` aborts), epoch ends (with the kNN monitor when due) included;
    /// resolves to their metrics. `options.onEvent(event)` is called after each step
    /// (`{ type: "step", metrics }`) and epoch end (`{ type: "epoch", metrics }`);
    /// `progress()` and `config()` answer while it runs.
    #[wasm_bindgen(unchecked_return_type = "Promise<StepsMetrics>")]
    pub fn step(&self, n: f64, #[wasm_bindgen(unchecked_param_type = "StepOptions | undefined")] options: JsValue) -> js_sys::Promise {
        // A number from JavaScript: -1 would otherwise wrap to 4,294,967,295 steps.
        if !(n.fract() == 0.0 && (1.0..=1e9).contains(&n)) {
            let error: JsValue = JsError::new(&format!("step(n): n is a whole number of steps from 1 to 1e9, not {n}")).into();
            return js_sys::Promise::reject(&error);
        }
        let n = n as u32;
        let (callback, signal) = match step_options(&options) {
            Ok(parsed) => parsed,
            Err(e) => return js_sys::Promise::reject(&JsValue::from(e)),
        };
        let stop = self.stop.clone();
        let progress = self.progress.clone();
        let device = self.device.clone();
        self.call(move |inner| async move {
            let mut trainer = inner.try_borrow_mut().map_err(|_| Trainer::busy())?;
            stop.reset();
            if let Some(signal) = &signal {
                stop_on_abort(signal, &stop)?;
            }
            let mut events = JsEvents { progress: progress.clone(), callback };
            let result = trainer.steps(n as usize, &mut events).await;
            *progress.borrow_mut() = Progress::of(&trainer, &device);
            to_js(&result.map_err(js_error)?)
        })
    }

    /// Ends a running `step(n)` before its next step (its promise resolves with the steps done).
    pub fn stop(&self) {
        self.stop.stop();
    }

    /// kNN top-1 accuracy on the test split now (the configuration's k and features).
    #[wasm_bindgen(unchecked_return_type = "Promise<number>")]
    pub fn knn(&self) -> js_sys::Promise {
        self.call(|inner| async move {
            let trainer = inner.try_borrow().map_err(|_| Trainer::busy())?;
            Ok(JsValue::from_f64(trainer.knn().await.map_err(js_error)?))
        })
    }

    /// A split's features ("projection", the space the loss compares, or "backbone") and
    /// their 2-D PCA (power iteration on the device), with labels.
    #[wasm_bindgen(unchecked_return_type = "Promise<Embeddings>")]
    pub fn embeddings(&self, split: Option<String>, features: Option<String>) -> js_sys::Promise {
        self.call(move |inner| async move {
            let split = parse_split(split)?;
            let which = match features.as_deref() {
                None | Some("projection") => KnnFeatures::Projection,
                Some("backbone") => KnnFeatures::Backbone,
                Some(other) => return Err(JsError::new(&format!("features `{other}`: use \"projection\" or \"backbone\""))),
            };
            let trainer = inner.try_borrow().map_err(|_| Trainer::busy())?;
            let features = trainer.features(split, which).map_err(js_error)?;
            let [count, dim] = features.dims();
            let points = pca(features.clone(), 2, trainer.config().seed).map_err(js_error)?;
            let points = read_f32(points).await.map_err(js_error)?;
            let features = read_f32(features).await.map_err(js_error)?;
            let data = match split {
                Split::Train => &trainer.datasets().train,
                _ => &trainer.datasets().test,
            };
            let out = js_sys::Object::new();
            set(&out, "count", &JsValue::from(count as u32))?;
            set(&out, "dim", &JsValue::from(dim as u32))?;
            set(&out, "features", &js_sys::Float32Array::from(features.as_slice()))?;
            set(&out, "points", &js_sys::Float32Array::from(points.as_slice()))?;
            set(&out, "labels", &js_sys::Uint32Array::from(data.labels.as_slice()))?;
            set(&out, "classes", &to_js(&data.classes)?)?;
            Ok(out.into())
        })
    }

    /// Image `anchor` of a split and its ring among the split's other images, in the
    /// projection space, under the ring in force now: every candidate's similarity and
    /// place (0 too close, 1 in the ring, 2 too far), computed by the training's
    /// ring_select kernel.
    #[wasm_bindgen(unchecked_return_type = "Promise<RingView>")]
    pub fn ring(&self, anchor: u32, split: Option<String>) -> js_sys::Promise {
        self.call(move |inner| async move {
            let split = parse_split(split)?;
            let trainer = inner.try_borrow().map_err(|_| Trainer::busy())?;
            let view = trainer.ring_view(split, anchor as usize).await.map_err(js_error)?;
            let places: Vec<u8> = view.places.iter().map(|&p| p as u8).collect();
            let out = js_sys::Object::new();
            set(&out, "anchor", &JsValue::from(anchor))?;
            set(&out, "candidates", &js_sys::Uint32Array::from(view.candidates.as_slice()))?;
            set(&out, "similarities", &js_sys::Float32Array::from(view.similarities.as_slice()))?;
            set(&out, "places", &js_sys::Uint8Array::from(places.as_slice()))?;
            for (key, value) in [
                ("lo", view.lo as f64),
                ("hi", view.hi as f64),
                ("lower", view.lower),
                ("upper", view.upper),
                ("upperSimilarity", view.upper_similarity as f64),
                ("lowerSimilarity", view.lower_similarity as f64),
            ] {
                set(&out, key, &JsValue::from_f64(value))?;
            }
            Ok(out.into())
        })
    }

    /// The run's state as bytes (to download, or keep in IndexedDB); continue it with
    /// `Trainer.fromCheckpoint(bytes)`.
    #[wasm_bindgen(js_name = exportCheckpoint, unchecked_return_type = "Promise<Uint8Array>")]
    pub fn export_checkpoint(&self) -> js_sys::Promise {
        self.call(|inner| async move {
            let trainer = inner.try_borrow().map_err(|_| Trainer::busy())?;
            let bytes = trainer.checkpoint().await.map_err(js_error)?;
            Ok(js_sys::Uint8Array::from(bytes.as_slice()).into())
        })
    }

    /// The configuration in force (resolved: every value the run uses). Answers while
    /// another call runs.
    #[wasm_bindgen(unchecked_return_type = "TrainConfig")]
    pub fn config(&self) -> Result<JsValue, JsError> {
        to_js(&self.config)
    }

    /// Where the run stands (steps, epochs, the ring in force, the device). While another
    /// call runs (`step(n)`), as of its last step.
    #[wasm_bindgen(unchecked_return_type = "Progress")]
    pub fn progress(&self) -> Result<JsValue, JsError> {
        if let Ok(trainer) = self.inner.try_borrow() {
            *self.progress.borrow_mut() = Progress::of(&trainer, &self.device);
        }
        to_js(&*self.progress.borrow())
    }

    /// The device training runs on.
    #[wasm_bindgen(getter)]
    pub fn device(&self) -> String {
        self.device.clone()
    }

    /// Image `index` of a split ("train" or "test"): height x width x 3 RGB bytes (the
    /// size is `config().imageSize` for folders, 32 for CIFAR and the default synthetic set).
    pub fn image(&self, split: &str, index: u32) -> Result<Vec<u8>, JsError> {
        let trainer = self.inner.try_borrow().map_err(|_| Trainer::busy())?;
        image_of(trainer.datasets(), split, index)
    }

    /// Height and width of a split's images.
    #[wasm_bindgen(js_name = imageSize)]
    pub fn image_size(&self, split: &str) -> Result<Vec<u32>, JsError> {
        let trainer = self.inner.try_borrow().map_err(|_| Trainer::busy())?;
        let data = split_of(trainer.datasets(), split)?;
        Ok(vec![data.height as u32, data.width as u32])
    }
}

/// The ring the reference (`select_reference`, plain Rust) gives for an anchor's
/// `similarities` to the other candidates, with l and u in percent: the places (0 too
/// close, 1 ring, 2 too far) that `Trainer.ring` must match. For tests and teaching.
#[wasm_bindgen(js_name = ringReference)]
pub fn ring_reference(similarities: &[f32], lower: f64, upper: f64) -> Result<Vec<u8>, JsError> {
    let spec = ring_wgpu_core::RingSpec::new(lower, upper).map_err(js_error)?;
    let view = ring_wgpu_core::eval::ring_view_reference(similarities, 0, &spec).map_err(js_error)?;
    Ok(view.places.iter().map(|&p| p as u8).collect())
}
