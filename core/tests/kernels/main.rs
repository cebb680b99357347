//! Every kernel and loss of ring-wgpu-core against its reference, in one test binary (one
//! link instead of one per file): the WGSL kernels on the GPU (lavapipe without one), the CPU
//! backend's convolution and batch norm, evaluation, mixing and the objectives. Each module
//! is named after the part of `core/src` it tests; run one with
//! `cargo wtest --test kernels cpu_conv::`.

#[path = "../common/mod.rs"]
mod common;

mod augment;
mod cpu_conv;
mod cpu_norm;
mod cpu_residual;
mod eval;
mod mixing;
mod model_conv;
#[cfg(feature = "webgpu")]
mod model_norm;
mod objective;
mod ring_kernels;
mod ring_loss;
