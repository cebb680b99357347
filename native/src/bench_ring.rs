//! `ring-wgpu bench ring`: the Ring selection kernels against the CPU references,
//! side by side in one run, on the same similarities.
//!
//! Measured per candidate count N (B anchors, D dims, queue of N L2-normalised keys):
//! - GPU: `ring_select` + `mask` (MoCoRing form) on the B x N similarity matrix already
//!   on the device; `iters` launches, then one device sync; wall time / iters.
//! - CPU select: the plain-Rust references (`select_reference` with `select_nth_unstable`,
//!   then `mask_reference`), one thread.
//! - CPU sort: each row fully sorted (what the authors' PyTorch code does with
//!   `torch.sort`), then the mask from the sorted ranks, one thread.
//!
//! Effective GB/s = (B*N*4 bytes of similarities read + B*N*4 bytes of mask written) /
//! time: the least traffic any implementation needs.

use std::time::Instant;

use anyhow::{Context, Result, bail, ensure};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use ring_wgpu_core::RingSpec;
use ring_wgpu_core::burn::tensor::{Distribution, Tensor};
use ring_wgpu_core::gpu::read::read_f32;
use ring_wgpu_core::ring::{Pairing, mask_reference, order_key, ring_select, select_reference, similarities};
use serde::Serialize;

use crate::GpuArgs;

#[derive(Args, Debug)]
pub struct RingBenchArgs {
    /// Anchors per batch (B).
    #[arg(long, default_value_t = 256)]
    batch: usize,
    /// Embedding dimension (D).
    #[arg(long, default_value_t = 128)]
    dim: usize,
    /// Candidate counts (N) to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "4096,16384,65536")]
    candidates: Vec<usize>,
    /// Inner cut l, percent.
    #[arg(long, default_value_t = 1.0)]
    lower: f64,
    /// Outer cut u, percent.
    #[arg(long, default_value_t = 10.0)]
    upper: f64,
    /// Timed GPU iterations per size (after 2 warm-up runs).
    #[arg(long, default_value_t = 10)]
    iters: usize,
    /// Timed CPU iterations per size and method.
    #[arg(long, default_value_t = 2)]
    cpu_iters: usize,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Json,
    Csv,
}

#[derive(Debug, Serialize)]
struct Row {
    batch: usize,
    candidates: usize,
    dim: usize,
    ring_len: usize,
    gpu_ms: f64,
    cpu_select_ms: f64,
    cpu_sort_ms: f64,
    speedup_vs_cpu_select: f64,
    speedup_vs_cpu_sort: f64,
    gpu_gb_per_s: f64,
    cpu_select_gb_per_s: f64,
    verified: bool,
}

#[derive(Debug, Serialize)]
struct Report {
    adapter: String,
    lower: f64,
    upper: f64,
    rows: Vec<Row>,
}

/// The CPU baseline of the authors' code: sort each row, take ranks [lo, hi).
fn cpu_sort_mask(sims: &[f32], rows: usize, cols: usize, spec: &RingSpec) -> Vec<f32> {
    let window = spec.window(cols);
    let mut mask = vec![0.0f32; rows * cols];
    let mut order: Vec<(u32, u32)> = Vec::with_capacity(cols);
    for row in 0..rows {
        order.clear();
        order.extend((0..cols).map(|c| (order_key(sims[row * cols + c]), c as u32)));
        order.sort_unstable();
        for &(_, col) in &order[window.lo..window.hi] {
            mask[row * cols + col as usize] = 1.0;
        }
    }
    mask
}

fn time_ms<T>(iters: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let start = Instant::now();
    let mut last = f();
    for _ in 1..iters {
        last = f();
    }
    (start.elapsed().as_secs_f64() * 1e3 / iters as f64, last)
}

pub fn run(gpu_args: &GpuArgs, args: &RingBenchArgs) -> Result<()> {
    ensure!(args.batch > 0 && args.dim > 0, "--batch and --dim must be positive");
    ensure!(args.iters > 0 && args.cpu_iters > 0, "--iters and --cpu-iters must be positive");
    if args.candidates.is_empty() || args.candidates.contains(&0) {
        bail!("--candidates needs positive counts, e.g. 4096,16384,65536");
    }
    let spec = RingSpec::new(args.lower, args.upper)?;
    let gpu = gpu_args.open()?;
    let device = gpu.burn_device();
    eprintln!("adapter: {}", gpu.summary());
    if gpu.summary().is_software {
        eprintln!("note: software adapter; GPU timings here are not GPU speed");
    }

    let progress = ProgressBar::new(args.candidates.len() as u64 * 3);
    progress.set_style(ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}").unwrap());
    let mut rows = Vec::new();
    for &n in &args.candidates {
        let (b, d) = (args.batch, args.dim);
        progress.set_message(format!("N={n}: preparing"));
        let q = Tensor::<2>::random([b, d], Distribution::Normal(0.0, 1.0), device);
        let keys = Tensor::<2>::random([n, d], Distribution::Normal(0.0, 1.0), device);
        let normalise = |t: Tensor<2>| t.clone() / t.powi_scalar(2).sum_dim(1).sqrt();
        let sims_gpu = similarities(normalise(q), normalise(keys));
        let sims: Vec<f32> = pollster::block_on(read_f32(sims_gpu.clone()))?;

        progress.set_message(format!("N={n}: GPU"));
        let run_gpu = || -> Result<Tensor<2>> { Ok(ring_select(sims_gpu.clone(), &spec, Pairing::None)?.mask()) };
        for _ in 0..2 {
            run_gpu()?;
        }
        device.sync().map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let start = Instant::now();
        let mut mask_gpu = None;
        for _ in 0..args.iters {
            mask_gpu = Some(run_gpu()?);
        }
        device.sync().map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let gpu_ms = start.elapsed().as_secs_f64() * 1e3 / args.iters as f64;
        let mask_gpu: Vec<f32> = pollster::block_on(read_f32(mask_gpu.context("no GPU run")?))?;
        progress.inc(1);

        progress.set_message(format!("N={n}: CPU select_nth"));
        let (cpu_select_ms, mask_cpu) = time_ms(args.cpu_iters, || {
            let rings = select_reference(&sims, b, n, &spec, Pairing::None).expect("valid shape");
            mask_reference(&sims, b, n, &rings, Pairing::None)
        });
        progress.inc(1);
        progress.set_message(format!("N={n}: CPU sort"));
        let (cpu_sort_ms, mask_sorted) = time_ms(args.cpu_iters, || cpu_sort_mask(&sims, b, n, &spec));
        progress.inc(1);

        let verified = mask_gpu == mask_cpu && mask_cpu == mask_sorted;
        ensure!(verified, "N={n}: the GPU mask differs from the CPU reference; please report this");
        let bytes = (b * n * 8) as f64;
        rows.push(Row {
            batch: b,
            candidates: n,
            dim: d,
            ring_len: spec.window(n).len(),
            gpu_ms,
            cpu_select_ms,
            cpu_sort_ms,
            speedup_vs_cpu_select: cpu_select_ms / gpu_ms,
            speedup_vs_cpu_sort: cpu_sort_ms / gpu_ms,
            gpu_gb_per_s: bytes / (gpu_ms * 1e6),
            cpu_select_gb_per_s: bytes / (cpu_select_ms * 1e6),
            verified,
        });
    }
    progress.finish_and_clear();

    let report = Report { adapter: gpu.summary().to_string(), lower: args.lower, upper: args.upper, rows };
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)?).with_context(|| format!("writing {}", path.display()))?;
    }
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        Format::Csv => {
            println!(
                "batch,candidates,dim,ring_len,gpu_ms,cpu_select_ms,cpu_sort_ms,speedup_vs_cpu_select,speedup_vs_cpu_sort,gpu_gb_per_s,cpu_select_gb_per_s,verified"
            );
            for r in &report.rows {
                println!(
                    "{},{},{},{},{:.4},{:.4},{:.4},{:.3},{:.3},{:.3},{:.3},{}",
                    r.batch,
                    r.candidates,
                    r.dim,
                    r.ring_len,
                    r.gpu_ms,
                    r.cpu_select_ms,
                    r.cpu_sort_ms,
                    r.speedup_vs_cpu_select,
                    r.speedup_vs_cpu_sort,
                    r.gpu_gb_per_s,
                    r.cpu_select_gb_per_s,
                    r.verified
                );
            }
        }
        Format::Table => {
            println!("Ring selection (select + mask), l = {}%, u = {}%, on {}", args.lower, args.upper, report.adapter);
            println!(
                "| B | N | D | ring | GPU ms | CPU select_nth ms | CPU sort ms | GPU speed-up vs select_nth | vs sort | GPU GB/s | CPU GB/s | verified |"
            );
            println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
            for r in &report.rows {
                println!(
                    "| {} | {} | {} | {} | {:.3} | {:.3} | {:.3} | {:.2}x | {:.2}x | {:.2} | {:.2} | {} |",
                    r.batch,
                    r.candidates,
                    r.dim,
                    r.ring_len,
                    r.gpu_ms,
                    r.cpu_select_ms,
                    r.cpu_sort_ms,
                    r.speedup_vs_cpu_select,
                    r.speedup_vs_cpu_sort,
                    r.gpu_gb_per_s,
                    r.cpu_select_gb_per_s,
                    if r.verified { "yes" } else { "NO" }
                );
            }
        }
    }
    Ok(())
}
