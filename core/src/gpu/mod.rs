//! One GPU device for everything: adapter choice, the wgpu device, and burn on top of it;
//! or, where only software Vulkan exists, burn's CPU backend ([`Compute`]).

mod adapter;
mod compute;
#[cfg(feature = "webgpu")]
mod context;
#[cfg(not(feature = "webgpu"))]
#[path = "absent.rs"]
mod context;
mod error;
pub(crate) mod launch;
mod options;
pub mod read;

pub use adapter::{AdapterSummary, KernelLimits};
pub use compute::{Compute, DeviceChoice, is_cpu};
pub use context::{Gpu, list_adapters};
pub use error::GpuError;
pub use options::{BackendChoice, GpuOptions};
#[cfg(not(target_arch = "wasm32"))]
#[doc(hidden)]
pub mod testing;
