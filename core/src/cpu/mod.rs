//! The CPU backend's own operations: the encoders' convolutions ([`conv`]), training batch
//! norms ([`norm`], alone or with the ReLU after them) and the residual blocks' closing
//! `relu(a + b)` ([`residual`]) on burn's CPU backend (Flex). The kernels themselves, on host
//! slices and free of burn, are the crate `ring-wgpu-cpu-kernels`, re-exported here with the
//! primitives they and the host-side augmentation and ring code share: work over the cores
//! ([`parallel`]), vector-instruction dispatch ([`simd`]) and the process's malloc settings
//! ([`malloc_tuning`]). Each kernel has a plain-loop f64 reference beside it.

pub mod conv;
pub(crate) mod flex;
pub mod norm;
pub mod residual;

#[cfg(not(target_arch = "wasm32"))]
pub use ring_wgpu_cpu_kernels::malloc_tuning;
pub use ring_wgpu_cpu_kernels::{parallel, simd};
