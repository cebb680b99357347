//! The CPU kernels of ring-wgpu on host slices (f32, NCHW), free of burn and wgpu: the
//! encoders' 2-D convolutions ([`conv`]: forward pass, input and weight gradients, one
//! [`conv::plan`] choosing the algorithm of each pass), training batch norms ([`norm`], with
//! or without a ReLU after them) and the residual blocks' `relu(a + b)` ([`activation`]),
//! each held to plain-loop f64 references beside it; and the primitives they and
//! `ring-wgpu-core`'s host code share: work over the cores ([`parallel`]), vector-instruction
//! dispatch ([`simd`]), outputs written before they are read ([`buffers`]), and the process's
//! malloc settings ([`malloc_tuning`]).
//!
//! `ring-wgpu-core` registers these kernels with burn's autodiff on its CPU backend
//! (`ring_wgpu_core::cpu`) and re-exports them there. A crate of its own so that these loops
//! compile optimised in test builds while the rest of core does not, and so that the kernel
//! tests and benchmarks (`cargo bench -p ring-wgpu-cpu-kernels --bench convbench`) build
//! without burn and wgpu.

pub mod activation;
pub mod buffers;
pub mod conv;
#[cfg(not(target_arch = "wasm32"))]
pub mod malloc_tuning;
pub mod norm;
pub mod parallel;
pub mod simd;
#[cfg(test)]
mod testing;
