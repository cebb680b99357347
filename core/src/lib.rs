//! ring-wgpu core: contrastive learning with conditional negative sampling ("Ring",
//! CNCE, Wu et al., ICLR 2021) on any GPU through wgpu.
//!
//! - [`augment`]: two-view augmentation on the GPU (crop, flip, colour jitter, grayscale).
//! - [`data`]: datasets (CIFAR-10/100, STL-10, image folders, synthetic) in memory.
//! - [`eval`]: weighted kNN monitor on the GPU.
//! - [`gpu`]: one wgpu device, shared by our WGSL kernels and burn's tensors.
//! - [`model`]: CIFAR-form ResNets and the projection head (burn).
//! - [`moco`]: MoCo and MoCoRing training steps (momentum encoder, queue, SGD).
//! - [`ring`]: ring percentiles and annealing, the WGSL ring kernels (select, mask,
//!   compact, sample) each with its plain-Rust reference, and the Ring NCE loss.
//! - [`train`]: learning-rate schedules and evaluation features.
//!
//! Compiles for native targets and for `wasm32-unknown-unknown`; nothing here blocks on
//! a GPU read-back (reads are `async`).

pub mod augment;
pub mod data;
pub mod eval;
pub mod gpu;
pub mod model;
pub mod moco;
pub mod ring;
mod rng;
pub mod train;

pub use burn;
pub use gpu::{AdapterSummary, BackendChoice, Compute, DeviceChoice, Gpu, GpuError, GpuOptions};
pub use ring::{
    AnnealPolicy, InnerCut, Pairing, RingBounds, RingError, RingSchedule, RingSpec, RingWindow,
};
