//! What the code needs to know about an adapter, as plain data (also in a build without
//! the `webgpu` feature, where no adapter is ever found).

/// A short, printable description of an adapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdapterSummary {
    /// Adapter name as the driver reports it (e.g. `llvmpipe (LLVM 15.0.6, 256 bits)`).
    pub name: String,
    /// Graphics API (`Vulkan`, `Metal`, ...).
    pub backend: String,
    /// `DiscreteGpu`, `IntegratedGpu`, `Cpu` (software), ...
    pub device_type: String,
    /// Driver name and version.
    pub driver: String,
    /// True for software rasterisers (lavapipe, SwiftShader, WARP).
    pub is_software: bool,
}

impl std::fmt::Display for AdapterSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}, {}", self.name, self.backend, self.device_type)?;
        if !self.driver.is_empty() {
            write!(f, ", {}", self.driver)?;
        }
        f.write_str(")")
    }
}

/// The device limits that bind our kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelLimits {
    /// Our kernels use 256 invocations per workgroup.
    pub max_invocations_per_workgroup: u32,
    /// Bytes of workgroup memory (ring_select uses 2 KiB).
    pub max_workgroup_storage_bytes: u32,
    /// Storage buffers per shader stage (our kernels bind at most 4).
    pub max_storage_buffers_per_stage: u32,
    /// Largest storage binding: bounds B x N similarities per launch.
    pub max_storage_buffer_binding_size: u64,
    /// Largest buffer.
    pub max_buffer_size: u64,
    /// Workgroups per dispatch dimension (rows beyond it spill into y).
    pub max_workgroups_per_dimension: u32,
    /// Whether the adapter offers subgroup operations (not used by our kernels).
    pub subgroups: bool,
}
