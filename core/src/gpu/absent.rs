//! The GPU in a build without the `webgpu` feature (the browser package's CPU-only module):
//! the same interface as `context.rs`, where no adapter is ever found, so [`Gpu`] can never
//! be made and every caller takes its CPU path.

use burn::tensor::Device;

use super::{AdapterSummary, BackendChoice, GpuError, GpuOptions, KernelLimits};

/// Stands in for the shared wgpu device; a value of it cannot exist in this build.
#[derive(Clone, Debug)]
pub struct Gpu {
    never: std::convert::Infallible,
}

impl Gpu {
    /// Fails: this build has no GPU support.
    pub async fn new(_options: &GpuOptions) -> Result<Self, GpuError> {
        Err(GpuError::NotBuilt)
    }

    /// [`Gpu::new`], blocking (native only).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn new_blocking(options: &GpuOptions) -> Result<Self, GpuError> {
        pollster::block_on(Self::new(options))
    }

    /// burn's device on this GPU.
    pub fn burn_device(&self) -> &Device {
        match self.never {}
    }

    /// The adapter in use.
    pub fn summary(&self) -> &AdapterSummary {
        match self.never {}
    }

    /// The limits that bind our kernels.
    pub fn kernel_limits(&self) -> KernelLimits {
        match self.never {}
    }
}

/// Every adapter found: none in this build.
pub async fn list_adapters(_backend: BackendChoice) -> Vec<AdapterSummary> {
    Vec::new()
}
