//! The shared GPU context: one wgpu device, handed to burn, used by our kernels.

use burn::tensor::Device;

use super::{AdapterSummary, BackendChoice, GpuError, GpuOptions, KernelLimits};

/// The summary of a wgpu adapter.
fn summary_of(info: &wgpu::AdapterInfo) -> AdapterSummary {
    let driver = [info.driver.as_str(), info.driver_info.as_str()].iter().filter(|s| !s.is_empty()).copied().collect::<Vec<_>>().join(" ");
    AdapterSummary {
        name: info.name.clone(),
        backend: format!("{:?}", info.backend),
        device_type: format!("{:?}", info.device_type),
        driver,
        is_software: info.device_type == wgpu::DeviceType::Cpu,
    }
}

/// Rank adapters: real GPUs before software ones.
fn preference(device_type: wgpu::DeviceType) -> u8 {
    match device_type {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    }
}

fn new_instance(backend: BackendChoice) -> wgpu::Instance {
    let mut descriptor = wgpu::InstanceDescriptor::new_without_display_handle();
    descriptor.backends = backend.backends();
    wgpu::Instance::new(descriptor)
}

fn no_adapter(options: &GpuOptions, found: &[AdapterSummary]) -> GpuError {
    let name_hint = options.adapter_name.as_ref().map(|n| format!(" named like \"{n}\"")).unwrap_or_default();
    let help = if found.is_empty() {
        if cfg!(target_arch = "wasm32") {
            "This browser exposes no WebGPU adapter: use a recent Chrome/Edge (or Firefox with \
             WebGPU enabled); headless Chromium needs --enable-unsafe-webgpu."
                .to_string()
        } else {
            "Install a GPU driver with Vulkan support, or the software Vulkan driver for CPUs \
             (Debian/Ubuntu: `apt-get install mesa-vulkan-drivers libvulkan1`), then run \
             `ring-wgpu info` to see what is found."
                .to_string()
        }
    } else {
        let names: Vec<String> = found.iter().map(|a| format!("`{a}`")).collect();
        format!("Adapters present: {}. Choose one with --adapter / WGPU_ADAPTER_NAME, or another --backend.", names.join(", "))
    };
    GpuError::NoAdapter { backend: options.backend.to_string(), name_hint, help }
}

/// Every adapter wgpu finds for `backend`, best first.
pub async fn list_adapters(backend: BackendChoice) -> Vec<AdapterSummary> {
    let instance = new_instance(backend);
    let mut adapters = instance.enumerate_adapters(backend.backends()).await;
    adapters.sort_by_key(|a| preference(a.get_info().device_type));
    adapters.iter().map(|a| summary_of(&a.get_info())).collect()
}

async fn choose_adapter(instance: &wgpu::Instance, options: &GpuOptions) -> Result<wgpu::Adapter, GpuError> {
    let mut adapters = instance.enumerate_adapters(options.backend.backends()).await;
    adapters.sort_by_key(|a| preference(a.get_info().device_type));
    let summaries: Vec<AdapterSummary> = adapters.iter().map(|a| summary_of(&a.get_info())).collect();
    match &options.adapter_name {
        Some(wanted) => {
            let wanted = wanted.to_lowercase();
            adapters.into_iter().find(|a| a.get_info().name.to_lowercase().contains(&wanted)).ok_or_else(|| no_adapter(options, &summaries))
        }
        None => match adapters.into_iter().next() {
            Some(adapter) => Ok(adapter),
            // Browsers do not enumerate: ask for the default adapter instead.
            None => instance
                .request_adapter(&wgpu::RequestAdapterOptions {
                    power_preference: wgpu::PowerPreference::HighPerformance,
                    ..Default::default()
                })
                .await
                .map_err(|_| no_adapter(options, &summaries)),
        },
    }
}

/// One wgpu device shared by our WGSL kernels and by burn.
///
/// Created once per process (burn registers the device as a new runtime each time; keep
/// and clone this instead of creating another).
#[derive(Clone)]
pub struct Gpu {
    /// The wgpu instance.
    pub instance: wgpu::Instance,
    /// The chosen adapter.
    pub adapter: wgpu::Adapter,
    /// The logical device (also burn's).
    pub device: wgpu::Device,
    /// The queue (also burn's: one submission order).
    pub queue: wgpu::Queue,
    burn_device: Device,
    summary: AdapterSummary,
}

impl std::fmt::Debug for Gpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gpu").field("adapter", &self.summary).finish()
    }
}

impl Gpu {
    /// Opens the adapter chosen by `options`, creates the device and registers it with burn.
    pub async fn new(options: &GpuOptions) -> Result<Self, GpuError> {
        let instance = new_instance(options.backend);
        let adapter = choose_adapter(&instance, options).await?;
        let summary = summary_of(&adapter.get_info());
        // What burn's own wgpu runtime asks for: every adapter feature but mappable
        // primary buffers, and the adapter's full limits (burn's reductions need them).
        // SAFETY: the same setting burn's runtime uses for the devices it creates itself
        // (it lets cubecl pass shaders through); our kernels are plain WGSL.
        #[allow(unsafe_code)]
        let experimental_features = unsafe { wgpu::ExperimentalFeatures::enabled() };
        let descriptor = wgpu::DeviceDescriptor {
            label: Some("ring-wgpu"),
            required_features: adapter.features().difference(wgpu::Features::MAPPABLE_PRIMARY_BUFFERS),
            required_limits: adapter.limits(),
            memory_hints: wgpu::MemoryHints::MemoryUsage,
            trace: wgpu::Trace::Off,
            experimental_features,
        };
        let (device, queue) = adapter
            .request_device(&descriptor)
            .await
            .map_err(|e| GpuError::RequestDevice { adapter: summary.name.clone(), message: e.to_string() })?;
        let setup = burn::backend::wgpu::WgpuSetup {
            instance: instance.clone(),
            adapter: adapter.clone(),
            device: device.clone(),
            queue: queue.clone(),
            backend: adapter.get_info().backend,
        };
        let burn_device = Device::wgpu_options().setup(setup).init().map_err(|e| GpuError::Burn(e.to_string()))?;
        Ok(Gpu { instance, adapter, device, queue, burn_device, summary })
    }

    /// [`Gpu::new`], blocking until the device is ready (native only).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn new_blocking(options: &GpuOptions) -> Result<Self, GpuError> {
        pollster::block_on(Self::new(options))
    }

    /// burn's device on this GPU (no autodiff; call `.autodiff()` for training).
    pub fn burn_device(&self) -> &Device {
        &self.burn_device
    }

    /// The adapter in use.
    pub fn summary(&self) -> &AdapterSummary {
        &self.summary
    }

    /// The limits that bind our kernels.
    pub fn kernel_limits(&self) -> KernelLimits {
        let limits = self.device.limits();
        KernelLimits {
            max_invocations_per_workgroup: limits.max_compute_invocations_per_workgroup,
            max_workgroup_storage_bytes: limits.max_compute_workgroup_storage_size,
            max_storage_buffers_per_stage: limits.max_storage_buffers_per_shader_stage,
            max_storage_buffer_binding_size: limits.max_storage_buffer_binding_size,
            max_buffer_size: limits.max_buffer_size,
            max_workgroups_per_dimension: limits.max_compute_workgroups_per_dimension,
            subgroups: self.device.features().contains(wgpu::Features::SUBGROUP),
        }
    }
}
