//! The CPU backend's own operations: the encoders' convolutions ([`conv`]) and training
//! batch norms ([`norm`]) on burn's CPU backend (Flex), with the primitives they and the
//! host-side augmentation and ring code share (work over the cores, vector-instruction
//! dispatch, buffers written before they are read), and the process's malloc settings
//! ([`malloc_tuning`]). Each kernel has a plain-loop f64 reference beside it.

pub(crate) mod buffers;
pub mod conv;
pub(crate) mod flex;
#[cfg(not(target_arch = "wasm32"))]
pub mod malloc_tuning;
pub mod norm;
pub(crate) mod parallel;
pub mod simd;
#[cfg(test)]
pub(crate) mod testing;
