//! ring-wgpu core: contrastive learning with conditional negative sampling ("Ring",
//! CNCE, Wu et al., ICLR 2021) on any GPU through wgpu.
//!
//! - [`train`]: the run's configuration, presets and the [`train::Trainer`] every front
//!   end drives (events, stop handle, checkpoints as bytes).
//! - [`methods`]: the [`methods::Method`] seam and the eight methods (MoCo, IR, CMC and
//!   SimCLR, each with and without Ring).
//! - [`optim`]: SGD and the learning-rate schedules.
//! - [`cpu`]: the CPU backend's own convolution and batch-norm operations; the kernels and
//!   their plan are the crate `ring-wgpu-cpu-kernels`, the only place with `unsafe` loops.
//! - [`negatives`]: which candidates are each anchor's negatives (all, or the ring).
//! - [`augment`]: augmentation on the GPU (crop, flip, colour jitter, grayscale, blur).
//! - [`data`]: datasets (CIFAR-10/100, STL-10, image folders, synthetic) in memory.
//! - [`eval`]: weighted kNN, the linear probe, PCA.
//! - [`gpu`]: one wgpu device shared by our WGSL kernels and burn's tensors; async reads.
//! - [`model`]: CIFAR-form ResNets, the projection head, the momentum encoder.
//! - [`ring`]: ring percentiles and annealing, the WGSL ring kernels (select, mask,
//!   compact, sample) each with its plain-Rust reference, and the Ring NCE loss.
//!
//! ```no_run
//! use ring_wgpu_core::train::{preset, Datasets, SinkFn, TrainConfig, TrainEvent, Trainer};
//! use ring_wgpu_core::Compute;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = TrainConfig { epochs: 30, ..preset("quick")? };
//! let datasets = Datasets::load(&config)?;
//! let compute = Compute::open_blocking(Default::default(), &Default::default())?;
//! let mut trainer = Trainer::new(config, datasets, compute.burn_device())?;
//! let stop = trainer.stop_handle(); // stop.stop() ends the run before its next step
//! pollster::block_on(trainer.fit(&mut SinkFn(|e: &TrainEvent| {
//!     if let TrainEvent::Epoch(m) = e {
//!         println!("{m:?}");
//!     }
//!     Ok(())
//! })))?;
//! let bytes = pollster::block_on(trainer.checkpoint())?; // Trainer::from_checkpoint continues it
//! # let _ = (stop, bytes);
//! # Ok(())
//! # }
//! ```
//!
//! Compiles for native targets and for `wasm32-unknown-unknown`; nothing here blocks on
//! a GPU read-back (reads are `async`), and nothing touches the filesystem except the
//! dataset loaders of [`data`] (native only in practice).

// unsafe lives in ring-wgpu-cpu-kernels; core allows it only where it is marked (the wgpu
// device setting burn uses, in gpu::context).
#![deny(unsafe_code)]

pub mod augment;
pub mod cpu;
pub mod data;
mod env_switch;
mod error;
pub mod eval;
pub mod gpu;
pub mod methods;
pub mod mixing;
pub mod model;
pub mod negatives;
pub mod objective;
pub mod optim;
pub mod ring;
mod rng;
pub mod train;

pub use burn;
pub use error::{Error, Result};
pub use gpu::{AdapterSummary, BackendChoice, Compute, DeviceChoice, Gpu, GpuError, GpuOptions};
pub use ring::{AnnealPolicy, InnerCut, Pairing, RingBounds, RingError, RingSchedule, RingSpec, RingWindow};
pub use train::{TrainConfig, Trainer};
