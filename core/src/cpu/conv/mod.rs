//! The encoders' 2-D convolutions on burn's CPU backend: the kernels of
//! `ring-wgpu-cpu-kernels` (re-exported here: forward pass, input gradient and weight
//! gradient on host slices, one [`plan`] choosing the algorithm of each pass) registered with
//! burn's autodiff as one operation ([`conv2d`], in [`autodiff`]); on every other backend (the
//! GPU) `conv2d` is burn's own.
//!
//! Why: burn 0.22's CPU backend computes a convolution's weight gradient as a convolution of
//! the batch-transposed input with the batch-transposed output gradient (a 32 x 32 "kernel"
//! over 64 "channels"), and its input gradient as a transposed convolution, each with
//! single-threaded layout conversions; `ring-wgpu bench ops` times each. Set
//! `RING_WGPU_CPU_CONV=burn` to use burn's convolution on the CPU as well (for A/B runs).

pub mod autodiff;

pub use autodiff::{calls, conv2d, enabled};
pub use ring_wgpu_cpu_kernels::conv::*;
