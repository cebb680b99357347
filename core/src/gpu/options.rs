//! How the user picks a backend and an adapter (flags or environment).

use std::fmt;
use std::str::FromStr;

use super::GpuError;

/// Graphics API to run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BackendChoice {
    /// The platform's best: Vulkan, Metal or DX12 natively, WebGPU in a browser.
    #[default]
    Auto,
    /// Vulkan (Linux, Windows, Android; lavapipe without a GPU).
    Vulkan,
    /// Metal (macOS, iOS).
    Metal,
    /// DirectX 12 (Windows).
    Dx12,
    /// OpenGL / GLES (compatibility fallback).
    Gl,
    /// The browser's WebGPU.
    BrowserWebGpu,
}

impl BackendChoice {
    /// Every accepted name, for help texts.
    pub const NAMES: &'static [&'static str] = &["auto", "vulkan", "metal", "dx12", "gl", "webgpu"];

    /// wgpu's backend set for this choice.
    #[cfg(feature = "webgpu")]
    pub fn backends(self) -> wgpu::Backends {
        match self {
            BackendChoice::Auto => wgpu::Backends::PRIMARY,
            BackendChoice::Vulkan => wgpu::Backends::VULKAN,
            BackendChoice::Metal => wgpu::Backends::METAL,
            BackendChoice::Dx12 => wgpu::Backends::DX12,
            BackendChoice::Gl => wgpu::Backends::GL,
            BackendChoice::BrowserWebGpu => wgpu::Backends::BROWSER_WEBGPU,
        }
    }
}

impl fmt::Display for BackendChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            BackendChoice::Auto => "auto",
            BackendChoice::Vulkan => "vulkan",
            BackendChoice::Metal => "metal",
            BackendChoice::Dx12 => "dx12",
            BackendChoice::Gl => "gl",
            BackendChoice::BrowserWebGpu => "webgpu",
        };
        f.write_str(name)
    }
}

impl FromStr for BackendChoice {
    type Err = GpuError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "auto" | "primary" => Ok(BackendChoice::Auto),
            "vulkan" | "vk" => Ok(BackendChoice::Vulkan),
            "metal" | "mtl" => Ok(BackendChoice::Metal),
            "dx12" | "d3d12" => Ok(BackendChoice::Dx12),
            "gl" | "gles" | "opengl" => Ok(BackendChoice::Gl),
            "webgpu" | "browser" => Ok(BackendChoice::BrowserWebGpu),
            other => Err(GpuError::InvalidOption(format!("unknown backend `{other}`: use one of {}", BackendChoice::NAMES.join(", ")))),
        }
    }
}

/// Which adapter to open.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GpuOptions {
    /// Graphics API.
    pub backend: BackendChoice,
    /// Case-insensitive substring of the adapter's name (e.g. `llvmpipe`, `H200`).
    pub adapter_name: Option<String>,
}

impl GpuOptions {
    /// Options from `WGPU_BACKEND` and `WGPU_ADAPTER_NAME` (unset: auto, any adapter).
    pub fn from_env() -> Result<Self, GpuError> {
        let backend = match std::env::var("WGPU_BACKEND") {
            Ok(v) => v.parse()?,
            Err(_) => BackendChoice::Auto,
        };
        let adapter_name = std::env::var("WGPU_ADAPTER_NAME").ok().filter(|s| !s.trim().is_empty());
        Ok(GpuOptions { backend, adapter_name })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_names_round_trip() {
        for name in BackendChoice::NAMES {
            let choice: BackendChoice = name.parse().unwrap();
            assert_eq!(&choice.to_string(), name);
        }
        assert_eq!("VK".parse::<BackendChoice>().unwrap(), BackendChoice::Vulkan);
    }

    #[test]
    fn unknown_backend_lists_the_valid_ones() {
        let err = "cuda".parse::<BackendChoice>().unwrap_err().to_string();
        assert!(err.contains("unknown backend `cuda`"), "{err}");
        assert!(err.contains("vulkan") && err.contains("metal"), "{err}");
    }
}
