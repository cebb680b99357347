//! Test support: one GPU per test process.
//!
//! GPU tests must run, not skip: without an adapter they fail with the reason. On a
//! developer machine without any GPU, `RING_WGPU_ALLOW_NO_GPU=1` turns them into skips;
//! that flag is ignored when `CI` is set.

use std::sync::OnceLock;

use super::{Gpu, GpuOptions};

static GPU: OnceLock<Result<Gpu, String>> = OnceLock::new();

/// The process-wide test GPU (from `WGPU_BACKEND` / `WGPU_ADAPTER_NAME`), or `None` when
/// the developer allowed skipping. Panics with the reason when no adapter can be opened.
pub fn test_gpu() -> Option<&'static Gpu> {
    let gpu = GPU.get_or_init(|| GpuOptions::from_env().and_then(|options| Gpu::new_blocking(&options)).map_err(|e| e.to_string()));
    match gpu {
        Ok(gpu) => Some(gpu),
        Err(reason) => {
            let allow_skip = std::env::var("RING_WGPU_ALLOW_NO_GPU").is_ok_and(|v| v == "1") && std::env::var_os("CI").is_none();
            if allow_skip {
                eprintln!("skipping GPU test (RING_WGPU_ALLOW_NO_GPU=1): {reason}");
                None
            } else {
                panic!("GPU tests need a wgpu adapter and none could be opened: {reason}");
            }
        }
    }
}
