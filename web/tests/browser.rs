//! Browser test: runs the Ring kernels in headless Chromium's WebGPU, and the CPU
//! convolution as WebAssembly plans it, and compares them with the plain-Rust references.
//!
//! Run with `web/ci-browser-test.sh` (or see web/README.md for the cargo command). The
//! test fails, and never skips, when the browser offers no WebGPU adapter.
#![cfg(target_arch = "wasm32")]

use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
async fn ring_kernels_match_reference_in_browser_webgpu() {
    let (rows, cols) = (4u32, 1000u32);
    let result = ring_wgpu_web::ring_self_test(rows, cols, 1.0, 10.0, 7).await;
    let report = match result {
        Ok(report) => report,
        Err(err) => {
            // JsError: show its message (e.g. "no WebGPU adapter ...") in the failure.
            let value: wasm_bindgen::JsValue = err.into();
            panic!("ring_self_test failed in the browser: {value:?}");
        }
    };
    // The runner prints captured console output; the CI script greps this line.
    console_log!(
        "RING_SELF_TEST adapter=\"{}\" rows={} cols={} ring_len={} rows_matching={} mask_mismatches={}",
        report.adapter,
        report.rows,
        report.cols,
        report.ring_len,
        report.rows_matching,
        report.mask_mismatches
    );
    assert_eq!(report.rows, rows);
    assert_eq!(report.cols, cols);
    assert!(report.ring_len > 0, "empty ring for l=1%, u=10% of {cols} candidates");
    assert_eq!(report.rows_matching, rows, "ring boundaries differ from the reference");
    assert_eq!(report.mask_mismatches, 0, "ring mask differs from the reference");
}

fn js(json: &str) -> wasm_bindgen::JsValue {
    js_sys::JSON::parse(json).expect("test JSON")
}

fn message(err: wasm_bindgen::JsError) -> String {
    let value: wasm_bindgen::JsValue = err.into();
    js_sys::Reflect::get(&value, &"message".into()).ok().and_then(|m| m.as_string()).unwrap_or_default()
}

/// Bad input reaches JavaScript as an Error with a message, never a trap.
#[wasm_bindgen_test]
async fn bad_input_is_an_error_not_a_trap() {
    use ring_wgpu_web::{Dataset, Trainer};
    let cpu = js(r#"{"device": "cpu"}"#);
    let e = message(Trainer::create(js(r#"{"bogus": 1}"#), None, cpu.clone()).await.err().expect("refused"));
    assert!(e.contains("unknown configuration key `bogus`"), "{e}");
    let e = message(Trainer::create(js(r#"{"lower": 10, "upper": 5}"#), None, cpu.clone()).await.err().expect("refused"));
    assert!(e.contains("lower = 10") && e.contains("smaller than u"), "{e}");
    // Keys in camelCase or snake_case; messages name the key as written.
    let e = message(Trainer::create(js(r#"{"bogusKey": 1}"#), None, cpu.clone()).await.err().expect("refused"));
    assert!(e.contains("unknown configuration key `bogusKey`") && e.contains("knnEvery"), "{e}");
    let e = message(Trainer::create(js(r#"{"knnEvery": 0}"#), None, cpu.clone()).await.err().expect("refused"));
    assert!(e.contains("knnEvery") && !e.contains("knn_every"), "{e}");
    let e = message(Trainer::create(js(r#"{"knn_every": 0}"#), None, cpu.clone()).await.err().expect("refused"));
    assert!(e.contains("knn_every"), "{e}");
    let e = message(Trainer::create(js(r#"{"knn_every": 1, "knnEvery": 2}"#), None, cpu.clone()).await.err().expect("refused"));
    assert!(e.contains("name the same setting"), "{e}");
    let e = message(Trainer::create(js(r#"{"batch": "many"}"#), None, cpu.clone()).await.err().expect("refused"));
    assert!(e.contains("invalid type"), "{e}");
    let e = message(Trainer::create(js("{}"), None, js(r#"{"device": "tpu"}"#)).await.err().expect("refused"));
    assert!(e.contains("device `tpu`"), "{e}");
    for (per_class, size) in [(-1.0, 32.0), (100_000.0, 32.0), (10.0, 0.5), (10.0, 4096.0)] {
        let e = message(Dataset::synthetic(per_class, size, 0).err().expect("refused"));
        assert!(e.contains("Dataset.synthetic") && e.contains("whole number"), "{e}");
    }
    // Small data, huge drawn bank rows (B x k x D x 4 bytes): refused by the 4 GiB check.
    let huge = r#"{"method": "ir", "synthetic_per_class": 4, "batch": 10, "samples": 1000000, "projection_dim": 8192}"#;
    let e = message(Trainer::create(js(huge), None, cpu.clone()).await.err().expect("refused"));
    assert!(e.starts_with("samples:") && e.contains("browser tab"), "{e}");
    let e = message(Dataset::cifar10(b"\x1f\x8bjunk").err().expect("refused"));
    assert!(e.contains("not a gzip file"), "{e}");
    let e = message(Trainer::from_checkpoint(b"RING-WGPU CHECKPOINT 2\n{".to_vec(), None, cpu).await.err().expect("refused"));
    assert!(e.contains("damaged"), "{e}");
    assert!(ring_wgpu_web::last_panic().is_none());
}

/// The Trainer in the browser on the CPU backend inside wasm (fast enough for a test):
/// steps with a finite loss, a ring equal to the reference's, and a checkpoint that
/// continues the run.
#[wasm_bindgen_test]
async fn trainer_steps_and_checkpoints_in_the_browser() {
    use ring_wgpu_web::Trainer;
    let config =
        js(r#"{"synthetic_per_class": 4, "batch": 10, "queue": 20, "epochs": 3, "knn_every": 3, "knn_k": 5, "upper": 50, "lower": 5}"#);
    let trainer = Trainer::create(config, None, js(r#"{"device": "cpu"}"#)).await.expect("created");
    // Numbers a JavaScript caller might pass by mistake are refused, not wrapped.
    for bad in [-1.0, 0.0, 1.5, 1e12, f64::NAN] {
        let e = wasm_bindgen_futures::JsFuture::from(trainer.step(bad, wasm_bindgen::JsValue::UNDEFINED)).await.expect_err("refused");
        let e = js_sys::Reflect::get(&e, &"message".into()).unwrap().as_string().unwrap();
        assert!(e.contains("whole number of steps"), "step({bad}): {e}");
    }
    let m = wasm_bindgen_futures::JsFuture::from(trainer.step(2.0, wasm_bindgen::JsValue::UNDEFINED)).await.expect("stepped");
    let loss = js_sys::Reflect::get(&m, &"loss".into()).unwrap().as_f64().unwrap();
    assert!(loss.is_finite(), "loss {loss}");
    let ring = wasm_bindgen_futures::JsFuture::from(trainer.ring(0, None)).await.expect("ring");
    let get = |k: &str| js_sys::Reflect::get(&ring, &k.into()).unwrap();
    let sims = js_sys::Float32Array::new(&get("similarities")).to_vec();
    let places = js_sys::Uint8Array::new(&get("places")).to_vec();
    let want = ring_wgpu_web::ring_reference(&sims, get("lower").as_f64().unwrap(), get("upper").as_f64().unwrap()).unwrap();
    assert_eq!(places, want);
    let bytes = wasm_bindgen_futures::JsFuture::from(trainer.export_checkpoint()).await.expect("checkpoint");
    let bytes = js_sys::Uint8Array::new(&bytes).to_vec();
    let resumed = Trainer::from_checkpoint(bytes, None, js(r#"{"device": "cpu"}"#)).await.expect("resumed");
    let progress = resumed.progress().unwrap();
    assert_eq!(js_sys::Reflect::get(&progress, &"globalStep".into()).unwrap().as_f64(), Some(2.0));
}

/// One `Dataset` serves two trainers through `share()`, and stays usable: the handles share
/// the pixels (no copy), and each trainer sees the same images.
#[wasm_bindgen_test]
async fn a_dataset_serves_two_trainers_through_share() {
    use ring_wgpu_web::{Dataset, Trainer};
    let dataset = Dataset::synthetic(4.0, 32.0, 7).expect("dataset");
    let config = || js(r#"{"batch": 10, "queue": 20, "epochs": 1, "knn_k": 5}"#);
    let first = Trainer::create(config(), Some(dataset.share()), js(r#"{"device": "cpu"}"#)).await.expect("first trainer");
    let second = Trainer::create(config(), Some(dataset.share()), js(r#"{"device": "cpu"}"#)).await.expect("second trainer");
    let image = dataset.image("train", 5).expect("the dataset is still usable");
    assert_eq!(first.image("train", 5).unwrap(), image);
    assert_eq!(second.image("train", 5).unwrap(), image);
    assert!(dataset.info().is_ok());
}

/// `subset` cuts one split to a sample (the same for the same seed, the whole split when the
/// count is larger), leaves the other split as it was, and refuses counts that are not a
/// whole number of images and unknown splits by name.
#[wasm_bindgen_test]
fn a_subset_samples_one_split_and_keeps_the_other() {
    use ring_wgpu_web::Dataset;
    let dataset = Dataset::synthetic(10.0, 16.0, 3).expect("dataset");
    let count = |d: &Dataset, split: &str| js_sys::Reflect::get(&d.info().unwrap(), &split.into()).unwrap().as_f64().unwrap();
    assert_eq!((count(&dataset, "train"), count(&dataset, "test")), (100.0, 50.0));
    let sample = dataset.subset("test", 20.0, 1).expect("subset");
    assert_eq!((count(&sample, "train"), count(&sample, "test")), (100.0, 20.0));
    assert_eq!(sample.image("train", 42).unwrap(), dataset.image("train", 42).unwrap());
    let again = dataset.subset("test", 20.0, 1).unwrap();
    let images = |d: &Dataset| (0..20).map(|i| d.image("test", i).unwrap()).collect::<Vec<_>>();
    assert_eq!(images(&again), images(&sample));
    assert_eq!(count(&dataset.subset("test", 500.0, 1).unwrap(), "test"), 50.0);
    for bad in [0.0, 2.5, -3.0, f64::NAN] {
        let e = message(dataset.subset("test", bad, 1).err().expect("refused"));
        assert!(e.contains("Dataset.subset: count"), "{e}");
    }
    let e = message(dataset.subset("validation", 5.0, 1).err().expect("refused"));
    assert!(e.contains("split `validation`"), "{e}");
}

/// `device: "auto"` with headless Chromium's software WebGPU (SwiftShader, 14x slower than
/// the CPU backend in wasm here) trains on the CPU and says why, as the CLI's `--device auto`.
#[wasm_bindgen_test]
async fn auto_prefers_the_cpu_over_a_software_webgpu_adapter() {
    let config = js(r#"{"synthetic_per_class": 2, "batch": 4, "queue": 8, "epochs": 1}"#);
    let trainer = ring_wgpu_web::Trainer::create(config, None, js(r#"{"device": "auto"}"#)).await.expect("created");
    let device = trainer.device();
    assert!(device.starts_with("CPU") && device.contains("software") && device.contains("swiftshader"), "{device}");
}

/// `step(n, { onEvent, signal })`: an event per step and per epoch end, `progress()` and
/// `config()` answering from inside the callback (while `step` holds the trainer), and an
/// `AbortSignal` aborted after the first step ending the call before the second.
#[wasm_bindgen_test]
async fn step_reports_events_and_stops_on_an_abort_signal() {
    use std::cell::RefCell;
    use std::rc::Rc;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::prelude::Closure;
    let get = |o: &wasm_bindgen::JsValue, k: &str| js_sys::Reflect::get(o, &k.into()).unwrap();
    // 8 images per class x 10 classes, batch 10 (drop-last): 8 steps per epoch.
    let config = js(r#"{"syntheticPerClass": 8, "batch": 10, "queue": 20, "epochs": 2, "knnEvery": 1, "knnK": 5}"#);
    let trainer = Rc::new(ring_wgpu_web::Trainer::create(config, None, js(r#"{"device": "cpu"}"#)).await.expect("created"));
    let per_epoch = get(&trainer.progress().unwrap(), "stepsPerEpoch").as_f64().unwrap();

    // Events: one per step, one per epoch end; progress() and config() inside the callback.
    let seen: Rc<RefCell<Vec<(String, f64, f64)>>> = Rc::default();
    let (t, s) = (trainer.clone(), seen.clone());
    let on_event = Closure::<dyn FnMut(wasm_bindgen::JsValue)>::new(move |event: wasm_bindgen::JsValue| {
        let kind = js_sys::Reflect::get(&event, &"type".into()).unwrap().as_string().unwrap();
        let progress = t.progress().expect("progress() answers during step(n)");
        let batch = js_sys::Reflect::get(&t.config().expect("config() answers during step(n)"), &"batch".into()).unwrap();
        let step = js_sys::Reflect::get(&progress, &"globalStep".into()).unwrap().as_f64().unwrap();
        s.borrow_mut().push((kind, step, batch.as_f64().unwrap()));
    });
    let options = js_sys::Object::new();
    js_sys::Reflect::set(&options, &"onEvent".into(), on_event.as_ref()).unwrap();
    let n = per_epoch + 2.0;
    wasm_bindgen_futures::JsFuture::from(trainer.step(n, options.into())).await.expect("stepped");
    let seen = seen.borrow().clone();
    let steps: Vec<f64> = seen.iter().filter(|e| e.0 == "step").map(|e| e.1).collect();
    let want: Vec<f64> = (1..=n as u64).map(|s| s as f64).collect();
    assert_eq!(steps, want, "a step event per step, progress() current in each: {seen:?}");
    assert_eq!(seen.iter().filter(|e| e.0 == "epoch").count(), 1, "{seen:?}");
    assert!(seen.iter().all(|e| e.2 == 10.0), "{seen:?}");

    // An AbortSignal aborted from the first step's event: the call ends after that step.
    let constructor: js_sys::Function = get(&js_sys::global(), "AbortController").unchecked_into();
    let controller = js_sys::Reflect::construct(&constructor, &js_sys::Array::new()).unwrap();
    let abort: js_sys::Function = get(&controller, "abort").unchecked_into();
    let c = controller.clone();
    let abort_now = Closure::<dyn FnMut(wasm_bindgen::JsValue)>::new(move |_event: wasm_bindgen::JsValue| {
        abort.call0(&c).unwrap();
    });
    let options = js_sys::Object::new();
    js_sys::Reflect::set(&options, &"onEvent".into(), abort_now.as_ref()).unwrap();
    js_sys::Reflect::set(&options, &"signal".into(), &get(&controller, "signal")).unwrap();
    let m = wasm_bindgen_futures::JsFuture::from(trainer.step(5.0, options.into())).await.expect("stepped");
    assert_eq!(get(&m, "steps").as_f64(), Some(1.0), "aborted after one step");

    // A signal already aborted: no step. A bad options value: an Error naming it.
    let options = js_sys::Object::new();
    js_sys::Reflect::set(&options, &"signal".into(), &get(&controller, "signal")).unwrap();
    let m = wasm_bindgen_futures::JsFuture::from(trainer.step(5.0, options.into())).await.expect("stepped");
    assert_eq!(get(&m, "steps").as_f64(), Some(0.0));
    let e = wasm_bindgen_futures::JsFuture::from(trainer.step(1.0, js(r#"{"onEvent": 3}"#))).await.expect_err("refused");
    assert!(get(&e, "message").as_string().unwrap().contains("onEvent must be a function"));
}

/// The CPU convolution as the plan picks it in WebAssembly (Winograd for the small
/// encoder's 16-64 channel 3x3 layers, which natively run as im2col + GEMM) against the f64
/// loop references: forward, input and weight gradients, within 8e-5 of the largest value
/// (the tolerance the kernels meet natively).
#[wasm_bindgen_test]
fn cpu_convolutions_in_webassembly_match_the_references() {
    use ring_wgpu_core::cpu::conv::plan::{CpuFeatures, Forward, WeightGrad, plan};
    use ring_wgpu_core::cpu::conv::reference::{conv2d_forward_reference, conv2d_input_grad_reference, conv2d_weight_grad_reference};
    use ring_wgpu_core::cpu::conv::{ConvGeometry, conv2d_forward, conv2d_input_grad, conv2d_weight_grad};
    let close = |got: &[f32], want: &[f32], what: &str| {
        assert_eq!(got.len(), want.len(), "{what}");
        let scale = want.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        let worst = got.iter().zip(want).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(worst <= 8e-5 * scale, "{what}: off by {worst} at scale {scale}");
    };
    let mut state = 0x2545_f491_u32;
    let mut values = |n: usize| -> Vec<f32> {
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                (state as f32 / u32::MAX as f32) * 2.0 - 1.0
            })
            .collect()
    };
    for (cin, cout, side) in [(16, 16, 32), (32, 32, 16), (64, 64, 8), (17, 19, 11)] {
        let g = ConvGeometry { batch: 2, cin, cout, height: side, width: side, kernel: 3, stride: 1, pad: 1 };
        let chosen = plan(&g, CpuFeatures::detected());
        assert_eq!((chosen.forward, chosen.weight_grad), (Forward::Winograd4, WeightGrad::Winograd), "{g:?}");
        let x = values(2 * cin * side * side);
        let w = values(cout * cin * 9);
        let dy = values(2 * cout * side * side);
        close(&conv2d_forward(&x, &w, &g), &conv2d_forward_reference(&x, &w, &g), &format!("{g:?} forward"));
        close(&conv2d_input_grad(&dy, &w, &g), &conv2d_input_grad_reference(&dy, &w, &g), &format!("{g:?} input gradient"));
        close(&conv2d_weight_grad(&x, &dy, &g), &conv2d_weight_grad_reference(&x, &dy, &g), &format!("{g:?} weight gradient"));
    }
}
