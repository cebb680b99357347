//! The device in the browser: the WebGPU adapter (opened once per page: burn registers a
//! device once), or burn's CPU backend inside wasm.

use std::cell::RefCell;

use ring_wgpu_core::burn::tensor::Device;
use ring_wgpu_core::{BackendChoice, Gpu, GpuError, GpuOptions};
use wasm_bindgen::prelude::*;

thread_local! {
    static GPU: RefCell<Option<Gpu>> = const { RefCell::new(None) };
}

/// The WebGPU device, opened on first use.
pub async fn gpu() -> Result<Gpu, JsError> {
    if let Some(gpu) = GPU.with(|g| g.borrow().clone()) {
        return Ok(gpu);
    }
    let options = GpuOptions { backend: BackendChoice::BrowserWebGpu, adapter_name: None };
    let gpu = Gpu::new(&options).await.map_err(|e| {
        if matches!(e, GpuError::NotBuilt) {
            return JsError::new(
                "this is the CPU-only module of ring-wgpu, which has no WebGPU: load the WebGPU one \
                 (init({ module: \"webgpu\" })), or pass { device: \"cpu\" }",
            );
        }
        JsError::new(&format!(
            "{e} WebGPU is in Chrome and Edge 113+ (Linux: chrome://flags/#enable-unsafe-webgpu), Safari 26+ and \
             Firefox 141+ on Windows; or pass {{ device: \"cpu\" }} to train on the CPU inside WebAssembly (slower)."
        ))
    })?;
    GPU.with(|g| *g.borrow_mut() = Some(gpu.clone()));
    Ok(gpu)
}

/// The device `choice` names ("auto", "gpu", "cpu") and a description of it.
pub async fn open(choice: &str) -> Result<(Device, String), JsError> {
    let cpu = || (Device::flex(), "CPU (burn flex backend in WebAssembly, 1 thread)".to_string());
    match choice {
        "cpu" => Ok(cpu()),
        "gpu" => {
            let gpu = gpu().await?;
            Ok((gpu.burn_device().clone(), describe(&gpu).await))
        }
        // As the CLI's `auto`: a software adapter (SwiftShader, measured 14x slower than the
        // CPU backend in wasm on the same machine) or none means the CPU.
        "auto" => match gpu().await {
            Ok(gpu) if !gpu.summary().is_software => Ok((gpu.burn_device().clone(), describe(&gpu).await)),
            Ok(gpu) => {
                let (device, name) = cpu();
                Ok((device, format!("{name}; the browser's WebGPU is a software one ({}), slower than this", describe(&gpu).await)))
            }
            Err(_) => Ok(cpu()),
        },
        other => Err(JsError::new(&format!("device `{other}`: use \"auto\", \"gpu\" or \"cpu\""))),
    }
}

async fn describe(gpu: &Gpu) -> String {
    let mut summary = gpu.summary().clone();
    if summary.name.is_empty()
        && let Some(label) = browser_adapter_label().await
    {
        summary.name = label;
    }
    format!("WebGPU: {summary}")
}

/// The browser's own words for its WebGPU adapter: the non-empty fields of `GPUAdapterInfo`
/// (vendor, architecture, device, description), e.g. `google swiftshader`. None when the
/// browser has no WebGPU or no adapter.
pub(crate) async fn browser_adapter_label() -> Option<String> {
    use js_sys::Reflect;
    use wasm_bindgen::JsCast;
    let get = |target: &JsValue, key: &str| Reflect::get(target, &JsValue::from_str(key)).ok();
    let navigator = get(&js_sys::global().into(), "navigator")?;
    let gpu = get(&navigator, "gpu").filter(|g| g.is_object())?;
    let request: js_sys::Function = get(&gpu, "requestAdapter")?.dyn_into().ok()?;
    let promise: js_sys::Promise = request.call0(&gpu).ok()?.dyn_into().ok()?;
    let adapter = wasm_bindgen_futures::JsFuture::from(promise).await.ok().filter(|a| a.is_object())?;
    let info = get(&adapter, "info").filter(|i| i.is_object())?;
    let parts: Vec<String> = ["vendor", "architecture", "device", "description"]
        .iter()
        .filter_map(|key| get(&info, key)?.as_string())
        .filter(|s| !s.is_empty())
        .collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}
