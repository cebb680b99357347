//! A run's memory estimate against this machine's memory, before training starts: a run
//! that cannot fit is refused naming the setting that sizes its largest buffer.

use anyhow::{Result, bail};
use ring_wgpu_core::train::TrainConfig;

/// `MemTotal` and `MemAvailable` from /proc/meminfo, bytes (Linux; `None` elsewhere).
fn host_memory() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = text.lines().find(|l| l.starts_with(name))?;
        line.split_whitespace().nth(1)?.parse::<u64>().ok().map(|kib| kib * 1024)
    };
    Some((field("MemTotal:")?, field("MemAvailable:")?))
}

/// Refuses `config` with `train` and `test` images when its estimate exceeds this
/// machine's memory; warns when it exceeds what is free now.
pub fn check(config: &TrainConfig, train: usize, test: usize) -> Result<()> {
    let estimate = config.memory_estimate(train, test);
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
