//! Keeps freed memory in the process instead of handing it back to the kernel at once.
//!
//! A CPU training step allocates and frees hundreds of activation and gradient buffers of
//! 0.1-10 MB. glibc's malloc serves blocks above 128 KiB with a fresh `mmap` and unmaps them
//! on free (its threshold only adapts up to blocks it has seen freed), and trims its heaps
//! whenever 128 KiB lie free at the top: every step then pays page faults, page zeroing and
//! TLB shoot-downs across the cores (a quarter of a step's time in `perf` on a 2-core
//! machine). Serving blocks up to 32 MiB (glibc's ceiling for this setting) from the heap
//! and trimming only above 256 MiB free removes that; `ring-wgpu bench train --devices cpu`
//! measures the difference (`RING_WGPU_MALLOC=system` leaves glibc's defaults, for A/B runs).
//! Other platforms' allocators are left as they are. The allocator belongs to the program, so
//! the library never calls this itself: the `ring-wgpu` CLI does first thing, and programs that
//! train on the CPU backend through the library should too.

/// Largest block served from the heap (glibc refuses more than 32 MiB on 64-bit targets).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 32 << 20;
/// Free memory at the top of a heap that glibc may hand back.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const TRIM_THRESHOLD: libc::c_int = 256 << 20;

/// Applies the settings above (glibc Linux only) unless `RING_WGPU_MALLOC=system`; call it
/// first in `main`, before other threads start. Returns whether the settings were applied.
pub fn keep_freed_memory() -> bool {
    if std::env::var_os("RING_WGPU_MALLOC").is_some_and(|v| v == "system") {
        return false;
    }
    apply()
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn apply() -> bool {
    // SAFETY: mallopt only changes malloc's tuning parameters; it is called before any
    // other thread exists.
    unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 && libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1 }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn apply() -> bool {
    false
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn glibc_accepts_both_settings() {
        assert!(super::apply(), "mallopt refused the thresholds");
    }
}
