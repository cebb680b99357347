use thiserror::Error;

/// What can go wrong while acquiring or using the GPU.
#[derive(Debug, Error)]
pub enum GpuError {
    /// No adapter matched the request.
    #[error("no GPU adapter found for backend `{backend}`{name_hint}. {help}")]
    NoAdapter {
        /// The backend asked for.
        backend: String,
        /// ` named like "..."` when an adapter name was requested.
        name_hint: String,
        /// What to install or change.
        help: String,
    },
    /// The adapter refused to create a device.
    #[error("the adapter `{adapter}` could not create a device: {message}")]
    RequestDevice {
        /// Adapter name.
        adapter: String,
        /// wgpu's reason.
        message: String,
    },
    /// burn could not register the shared device.
    #[error("burn could not use the wgpu device: {0}")]
    Burn(String),
    /// A value in the options was not understood.
    #[error("{0}")]
    InvalidOption(String),
    /// A tensor handed to a kernel does not live on burn's wgpu backend.
    #[error("tensor is not on the wgpu backend: {0}")]
    NotOnWgpu(String),
    /// This build was made without GPU support (the `webgpu` feature).
    #[error(
        "this build of ring-wgpu has no GPU support (it was built without the `webgpu` feature): \
         train on the CPU (device \"cpu\"), or use the build with WebGPU"
    )]
    NotBuilt,
    /// Reading results back from the GPU failed.
    #[error("reading back from the GPU failed: {0}")]
    ReadBack(String),
}
