//! One GPU device for everything: adapter choice, the wgpu device, and burn on top of it.

mod context;
mod error;
pub(crate) mod launch;
mod options;

pub use context::{AdapterSummary, Gpu, KernelLimits};
pub use context::list_adapters;
pub use error::GpuError;
pub use options::{BackendChoice, GpuOptions};
#[cfg(not(target_arch = "wasm32"))]
#[doc(hidden)]
pub mod testing;
