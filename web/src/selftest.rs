//! The kernel self-test: open the browser's WebGPU adapter, hand it to burn, run the Ring
//! kernels on it and compare them with their plain-Rust references.

use ring_wgpu_core::RingSpec;
use ring_wgpu_core::burn::tensor::{Tensor, TensorData};
use ring_wgpu_core::ring::{Pairing, mask_reference, ring_select, select_reference};
use wasm_bindgen::prelude::*;

/// Result of [`ring_self_test`].
#[wasm_bindgen(getter_with_clone)]
pub struct SelfTest {
    /// The adapter that ran the kernels.
    pub adapter: String,
    /// Rows (anchors) tested.
    pub rows: u32,
    /// Candidates per row.
    pub cols: u32,
    /// Ring length per row.
    #[wasm_bindgen(js_name = ringLen)]
    pub ring_len: u32,
    /// Rows whose GPU ring boundaries equal the reference's, bit for bit.
    #[wasm_bindgen(js_name = rowsMatching)]
    pub rows_matching: u32,
    /// Mask entries that differ from the reference.
    #[wasm_bindgen(js_name = maskMismatches)]
    pub mask_mismatches: u32,
}

/// Runs ring_select and ring_mask on the browser's GPU for `rows` x `cols` random
/// similarities (seeded) with the ring between `lower`% and `upper`%, and compares
/// them with the plain-Rust references.
#[wasm_bindgen(js_name = ringSelfTest)]
pub async fn ring_self_test(rows: u32, cols: u32, lower: f64, upper: f64, seed: u32) -> Result<SelfTest, JsError> {
    let spec = RingSpec::new(lower, upper).map_err(|e| JsError::new(&e.to_string()))?;
    let gpu = crate::device::gpu().await?;
    let (rows, cols) = (rows as usize, cols as usize);
    let mut state = seed.max(1);
    let sims: Vec<f32> = (0..rows * cols)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state >> 8) as f32 / (1u32 << 23) as f32 - 1.0
        })
        .collect();
    let tensor = Tensor::<2>::from_data(TensorData::new(sims.clone(), [rows, cols]), gpu.burn_device());
    let bounds = ring_select(tensor, &spec, Pairing::None).map_err(|e| JsError::new(&e.to_string()))?;
    let got = bounds.read().await.map_err(|e| JsError::new(&e.to_string()))?;
    let mask: Vec<f32> = ring_wgpu_core::gpu::read::read_f32(bounds.mask()).await.map_err(|e| JsError::new(&e.to_string()))?;
    let want = select_reference(&sims, rows, cols, &spec, Pairing::None).map_err(|e| JsError::new(&e.to_string()))?;
    let want_mask = mask_reference(&sims, rows, cols, &want, Pairing::None);
    let mut summary = gpu.summary().clone();
    if summary.name.is_empty() {
        // wgpu passes on only GPUAdapterInfo.description, which browsers usually leave empty.
        if let Some(label) = crate::device::browser_adapter_label().await {
            summary.name = label;
        }
    }
    Ok(SelfTest {
        adapter: summary.to_string(),
        rows: rows as u32,
        cols: cols as u32,
        ring_len: bounds.window().len() as u32,
        rows_matching: got.iter().zip(&want).filter(|(a, b)| a.same_bits(b)).count() as u32,
        mask_mismatches: mask.iter().zip(&want_mask).filter(|(a, b)| a != b).count() as u32,
    })
}
