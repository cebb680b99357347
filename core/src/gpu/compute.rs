//! Where the work runs: the shared wgpu device, or burn's CPU backend (flex) with our
//! kernels' plain-Rust references standing in for the WGSL kernels.
//!
//! Software Vulkan (lavapipe, SwiftShader) is slow at arithmetic, where a CPU backend
//! with a tuned GEMM is not; with only a software adapter, `auto` trains on the CPU.

use std::fmt;
use std::str::FromStr;

use burn::tensor::Device;

use super::{Gpu, GpuError, GpuOptions, list_adapters};

/// What the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    /// A hardware GPU if there is one; otherwise the CPU backend.
    #[default]
    Auto,
    /// The wgpu adapter, even a software one (fails without an adapter).
    Gpu,
    /// burn's CPU backend (flex), with the kernels' plain-Rust references.
    Cpu,
}

impl DeviceChoice {
    /// Every accepted name, for help texts.
    pub const NAMES: &'static [&'static str] = &["auto", "gpu", "cpu"];
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DeviceChoice::Auto => "auto",
            DeviceChoice::Gpu => "gpu",
            DeviceChoice::Cpu => "cpu",
        })
    }
}

impl FromStr for DeviceChoice {
    type Err = GpuError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "auto" => Ok(DeviceChoice::Auto),
            "gpu" | "wgpu" => Ok(DeviceChoice::Gpu),
            "cpu" | "flex" => Ok(DeviceChoice::Cpu),
            other => Err(GpuError::InvalidOption(format!("unknown device `{other}`: use one of {}", DeviceChoice::NAMES.join(", ")))),
        }
    }
}

/// Is `device` (with or without autodiff) on burn's CPU backend?
pub fn is_cpu(device: &Device) -> bool {
    matches!(device.clone().without_autodiff().as_dispatch(), burn::backend::DispatchDevice::Flex(_))
}

/// The device a run uses: the shared GPU, or the CPU backend.
#[derive(Debug, Clone)]
pub struct Compute {
    gpu: Option<Gpu>,
    device: Device,
    reason: Option<String>,
}

impl Compute {
    /// The CPU backend.
    pub fn cpu() -> Self {
        Compute { gpu: None, device: Device::flex(), reason: None }
    }

    /// A GPU already opened.
    pub fn from_gpu(gpu: Gpu) -> Self {
        let device = gpu.burn_device().clone();
        Compute { gpu: Some(gpu), device, reason: None }
    }

    /// Opens what `choice` asks for. With [`DeviceChoice::Auto`] and no adapter name
    /// requested, a software adapter (or none at all) means the CPU backend, and
    /// [`Compute::reason`] says why.
    pub async fn open(choice: DeviceChoice, options: &GpuOptions) -> Result<Self, GpuError> {
        match choice {
            DeviceChoice::Cpu => Ok(Compute::cpu()),
            DeviceChoice::Gpu => Ok(Compute::from_gpu(Gpu::new(options).await?)),
            DeviceChoice::Auto if options.adapter_name.is_some() || cfg!(target_arch = "wasm32") => {
                Ok(Compute::from_gpu(Gpu::new(options).await?))
            }
            DeviceChoice::Auto => {
                let adapters = list_adapters(options.backend).await;
                let reason = match adapters.first() {
                    None => "no GPU adapter was found".to_string(),
                    Some(best) if best.is_software => {
                        format!("the only adapter is a software one ({})", best.name)
                    }
                    Some(_) => return Ok(Compute::from_gpu(Gpu::new(options).await?)),
                };
                Ok(Compute {
                    reason: Some(format!(
                        "{reason}: using the CPU backend, which is faster than software Vulkan \
                         (--device gpu uses the adapter anyway)"
                    )),
                    ..Compute::cpu()
                })
            }
        }
    }

    /// [`Compute::open`], blocking (native only).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn open_blocking(choice: DeviceChoice, options: &GpuOptions) -> Result<Self, GpuError> {
        pollster::block_on(Self::open(choice, options))
    }

    /// burn's device (no autodiff; call `.autodiff()` for training).
    pub fn burn_device(&self) -> &Device {
        &self.device
    }

    /// The GPU, unless this is the CPU backend.
    pub fn gpu(&self) -> Option<&Gpu> {
        self.gpu.as_ref()
    }

    /// True on the CPU backend.
    pub fn is_cpu(&self) -> bool {
        self.gpu.is_none()
    }

    /// Why `auto` chose the CPU backend, if it did.
    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }
}

impl fmt::Display for Compute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.gpu {
            Some(gpu) => write!(f, "{}", gpu.summary()),
            None => {
                let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
                write!(f, "CPU (burn flex backend, {threads} threads)")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names_round_trip() {
        for name in DeviceChoice::NAMES {
            assert_eq!(&name.parse::<DeviceChoice>().unwrap().to_string(), name);
        }
        let err = "tpu".parse::<DeviceChoice>().unwrap_err().to_string();
        assert!(err.contains("unknown device `tpu`") && err.contains("cpu"), "{err}");
    }

    #[test]
    fn the_cpu_device_is_recognised_with_and_without_autodiff() {
        let cpu = Compute::cpu();
        assert!(cpu.is_cpu() && is_cpu(cpu.burn_device()) && is_cpu(&cpu.burn_device().clone().autodiff()));
        assert!(cpu.to_string().starts_with("CPU"));
    }
}
