//! The encoders' batch norm in training mode on burn's CPU backend through fused kernels
//! ([`kernels`], from `ring-wgpu-cpu-kernels`: two passes forward, two backward, with loop references), registered with
//! burn's autodiff as one operation; the running statistics are updated exactly as burn's
//! `BatchNorm` does. Everywhere else (the GPU, evaluation) [`batch_norm`] is burn's
//! `BatchNorm::forward`. burn 0.22's CPU path composes it from a dozen tensor operations,
//! each a pass over the activations (`ring-wgpu bench ops` times both). Turned off by
//! `RING_WGPU_CPU_NORM=burn` (and with the convolution by `RING_WGPU_CPU_CONV=burn`).

pub mod autodiff;

pub use autodiff::{batch_norm, batch_norm_relu, calls, enabled};
pub use ring_wgpu_cpu_kernels::norm as kernels;
pub use ring_wgpu_cpu_kernels::norm::NormGeometry;
