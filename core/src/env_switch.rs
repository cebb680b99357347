//! The A/B switches read from environment variables (`RING_WGPU_CPU_CONV=burn`,
//! `RING_WGPU_CPU_NORM=burn`; `RING_WGPU_GPU_CONV` in `model::GpuConv`), each read once
//! per process. The browser has no environment variables: there every switch reads as unset.

use std::sync::OnceLock;

/// Is the environment variable `var` set to `value`? Read once, into `cell`.
pub(crate) fn is_set_to(cell: &OnceLock<bool>, var: &str, value: &str) -> bool {
    *cell.get_or_init(|| std::env::var(var).is_ok_and(|v| v == value))
}
