//! A run's memory against what the machine offers, before training starts: on the CPU
//! backend the whole estimate against the host's memory; on a GPU the single largest
//! buffers (the queue, a memory bank) against the adapter's largest buffer (wgpu does not
//! report a GPU's total memory). A run that cannot fit is refused naming the setting.

use anyhow::{Result, bail};
use ring_wgpu_core::gpu::KernelLimits;
use ring_wgpu_core::train::{MethodKind, TrainConfig};

/// `MemTotal` and `MemAvailable` from /proc/meminfo, bytes (Linux; `None` elsewhere).
fn host_memory() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = text.lines().find(|l| l.starts_with(name))?;
        line.split_whitespace().nth(1)?.parse::<u64>().ok().map(|kib| kib * 1024)
    };
    Some((field("MemTotal:")?, field("MemAvailable:")?))
}

/// Refuses `config` with `train` and `test` images of `image_bytes` bytes each when its
/// estimate exceeds this machine's memory; warns when it exceeds what is free now.
pub fn check(config: &TrainConfig, train: usize, test: usize, image_bytes: usize) -> Result<()> {
    let estimate = config.memory_estimate(train, test, image_bytes);
    let Some((total, available)) = host_memory() else { return Ok(()) };
    let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
    let flag = estimate.largest().map(|p| format!("--{}", p.key.replace('_', "-"))).unwrap_or_default();
    if estimate.total() > total {
        bail!("{flag}: this run needs {} of memory, more than this machine's {:.1} GiB", estimate.describe(), gib(total));
    }
    if estimate.total() > available {
        eprintln!(
            "warning: this run needs {} of memory and {:.1} GiB are free now: it may be slow or be stopped",
            estimate.describe(),
            gib(available)
        );
    }
    Ok(())
}

/// Refuses `config` on a GPU whose largest buffer (`limits.max_buffer_size`) cannot hold
/// its queue or one memory bank of `train` rows.
pub fn check_gpu(config: &TrainConfig, train: usize, limits: &KernelLimits) -> Result<()> {
    let row = config.projection_dim as u64 * 4;
    let (what, key, bytes) = match config.method {
        MethodKind::Moco | MethodKind::Mocoring => ("queue", "--queue", config.queue.unwrap_or(0) as u64 * row),
        MethodKind::Ir | MethodKind::Iring | MethodKind::Cmc | MethodKind::Cmcring => {
            ("memory bank (one row per training image)", "--projection-dim", train as u64 * row)
        }
        MethodKind::Simclr | MethodKind::SimclrRing => return Ok(()),
    };
    if bytes > limits.max_buffer_size {
        let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
        bail!(
            "{key}: the {what} takes {:.2} GiB, more than the largest buffer this GPU allows ({:.2} GiB); lower {key}, or train with --device cpu",
            gib(bytes),
            gib(limits.max_buffer_size)
        );
    }
    Ok(())
}
