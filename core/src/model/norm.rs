//! The encoders' batch norm, one entry point for every backend (and one for a batch norm
//! followed by a ReLU): in training on the CPU backend our fused kernels
//! ([`crate::cpu::norm`]); on a GPU with `RING_WGPU_GPU_NORM=wgsl` our WGSL kernels
//! (`norm_wgsl.rs`); otherwise burn's `BatchNorm::forward`.

use std::sync::atomic::{AtomicUsize, Ordering};

use burn::nn::BatchNorm;
use burn::tensor::Tensor;

static WGSL_CALLS: AtomicUsize = AtomicUsize::new(0);

/// Batch norms computed by the WGSL kernels in this process (a benchmark reports it to show
/// that `RING_WGPU_GPU_NORM=wgsl` took effect; always 0 in a build without `webgpu`).
pub fn wgsl_norm_calls() -> usize {
    WGSL_CALLS.load(Ordering::Relaxed)
}

/// Is `RING_WGPU_GPU_NORM=wgsl` set (read once)? Without it a GPU runs burn's batch norm.
/// Always false in the browser (no environment there).
pub fn wgsl_norm_enabled() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    crate::env_switch::is_set_to(&ON, "RING_WGPU_GPU_NORM", "wgsl")
}

/// `bn.forward(x)`, computed as the module's doc says.
pub fn batch_norm(bn: &BatchNorm, x: Tensor<4>) -> Tensor<4> {
    match on_gpu(bn, &x) {
        Some(y) => y,
        None => crate::cpu::norm::batch_norm(bn, x),
    }
}

/// `relu(bn.forward(x))`: on the CPU backend in training one fused operation, on a GPU
/// [`batch_norm`] and burn's `relu`.
pub fn batch_norm_relu(bn: &BatchNorm, x: Tensor<4>) -> Tensor<4> {
    match on_gpu(bn, &x) {
        Some(y) => burn::tensor::activation::relu(y),
        None => crate::cpu::norm::batch_norm_relu(bn, x),
    }
}

/// The WGSL batch norm where it is switched on and applies, else `None`.
fn on_gpu(bn: &BatchNorm, x: &Tensor<4>) -> Option<Tensor<4>> {
    #[cfg(feature = "webgpu")]
    if wgsl_norm_enabled()
        && !crate::gpu::is_cpu(&x.device())
        && let Some(y) = super::batch_norm_wgsl(bn, x)
    {
        WGSL_CALLS.fetch_add(1, Ordering::Relaxed);
        return Some(y);
    }
    #[cfg(not(feature = "webgpu"))]
    let _ = (bn, x);
    None
}
