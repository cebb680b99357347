//! Browser test: runs the Ring kernels in headless Chromium's WebGPU and compares them
//! with the plain-Rust references.
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
