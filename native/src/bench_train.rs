//! `ring-wgpu bench train`: training-step throughput of MoCo and MoCoRing, per model and
//! per device (the GPU and burn's CPU backend), side by side in one run, with where a
//! step's time goes.
//!
//! For every (device, model, method): the trainer is built (`setup_ms`: model, data,
//! queue), then `warmup` steps outside the throughput (shader compilation, autotuning and
//! memory pools settle; the first of them is timed on its own, synced: `first_step_ms`),
//! then `steps` steps queued back to back with one device sync at
//! the end (the throughput training sees: images/s), then `steps` more steps with a
//! device sync after each phase (augment, forward, ring, backward, update) to attribute
//! the time. Syncing after every phase removes the overlap between phases, so the phase
//! times add up to a little more than the pipelined step.
//!
//! MoCoRing runs with its ring in force (u = 10%, l = 1%: similarities, ring_select and
//! the mask every step); MoCo contrasts against the whole queue. Every step is core's
//! `Trainer::run_step`, the same step training runs.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::{Result, ensure};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use ring_wgpu_core::Compute;
use ring_wgpu_core::burn::tensor::Device;
use ring_wgpu_core::methods::StepPhase;
use ring_wgpu_core::model::{EncoderKind, matmul_calls, transposed_calls, wgsl_norm_calls};
use ring_wgpu_core::train::{Anneal, Datasets, MethodKind, TrainConfig, Trainer};
use serde::Serialize;

use crate::GpuArgs;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
enum Which {
    /// The wgpu adapter (even a software one).
    Gpu,
    /// burn's CPU backend.
    Cpu,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Table,
    Json,
    Csv,
}

#[derive(Args, Debug)]
pub struct TrainBenchArgs {
    /// Devices to compare, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "gpu,cpu")]
    devices: Vec<Which>,
    /// Encoders to measure, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "small")]
    models: Vec<EncoderKind>,
    /// Images per step (B).
    #[arg(long, default_value_t = 64)]
    batch: usize,
    /// Keys in the queue (K).
    #[arg(long, default_value_t = 4096)]
    queue: usize,
    /// Steps before the timed ones (compilation and autotuning settle); the first of them is
    /// timed on its own and reported as the first step's time.
    #[arg(long, default_value_t = 2)]
    warmup: usize,
    /// Timed steps (each for throughput and again for the phase breakdown).
    #[arg(long, default_value_t = 5)]
    steps: usize,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Serialize)]
struct Row {
    device: String,
    model: EncoderKind,
    method: &'static str,
    batch: usize,
    queue: usize,
    images_per_s: f64,
    step_ms: f64,
    /// Building the trainer: model, synthetic data, queue (ms).
    setup_ms: f64,
    /// The first step alone, synced (ms): kernel compilation and autotuning included.
    /// `None` with `--warmup 0`.
    first_step_ms: Option<f64>,
    /// Mean ms per phase with a sync after each: augment, forward, negatives, backward, update.
    phases_ms: BTreeMap<&'static str, f64>,
    /// Convolutions computed in the GPU's own forms during this row's steps (`model::GpuConv`):
    /// transposed by default on a GPU, zero of both for burn's own and on the CPU.
    matmul_convs: usize,
    transposed_convs: usize,
    /// Batch norms computed by the WGSL kernels (`RING_WGPU_GPU_NORM=wgsl`) in this row's steps.
    wgsl_norms: usize,
}

#[derive(Debug, Serialize)]
struct Report {
    rows: Vec<Row>,
    /// MoCoRing step time / MoCo step time, per device and model.
    mocoring_over_moco: Vec<(String, EncoderKind, f64)>,
}

const PHASES: [&str; 5] = ["augment", "forward", "negatives", "backward", "update"];

fn sync(device: &Device) -> Result<()> {
    device.sync().map_err(|e| anyhow::anyhow!("device sync failed: {e:?}"))
}

fn measure(device: &Device, model: EncoderKind, ring: bool, args: &TrainBenchArgs, bar: &ProgressBar) -> Result<Measured> {
    let b = args.batch;
    let config = TrainConfig {
        method: if ring { MethodKind::Mocoring } else { MethodKind::Moco },
        model,
        batch: b,
        queue: Some(args.queue),
        synthetic_per_class: (2 * b).div_ceil(10),
        lower: 1.0,
        upper: 10.0,
        anneal: Anneal::None,
        // Never reaches an epoch's end within the timed steps.
        epochs: ring_wgpu_core::train::MAX_EPOCHS,
        seed: 1,
        ..TrainConfig::default()
    };
    let setup = Instant::now();
    let mut trainer = Trainer::new(config.clone(), Datasets::synthetic(&config)?, device)?;
    sync(device)?;
    let setup_ms = setup.elapsed().as_secs_f64() * 1e3;
    let mut first_step_ms = None;
    for i in 0..args.warmup {
        let started = Instant::now();
        trainer.run_step(&mut |_| {})?;
        if i == 0 {
            sync(device)?;
            first_step_ms = Some(started.elapsed().as_secs_f64() * 1e3);
        }
        bar.inc(1);
    }
    sync(device)?;
    let start = Instant::now();
    for _ in 0..args.steps {
        trainer.run_step(&mut |_| {})?;
    }
    sync(device)?;
    let step_ms = start.elapsed().as_secs_f64() * 1e3 / args.steps as f64;
    bar.inc(args.steps as u64);

    let mut phases: BTreeMap<&'static str, f64> = PHASES.iter().map(|p| (*p, 0.0)).collect();
    for _ in 0..args.steps {
        let mut last = Instant::now();
        let mut failed = None;
        trainer.run_step(&mut |phase: StepPhase| {
            if let Err(e) = sync(device) {
                failed = Some(e);
            }
            let now = Instant::now();
            *phases.get_mut(phase.name()).expect("known phase") += (now - last).as_secs_f64() * 1e3 / args.steps as f64;
            last = now;
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
    }
    bar.inc(args.steps as u64);
    Ok(Measured { step_ms, setup_ms, first_step_ms, phases_ms: phases })
}

/// One (device, model, method)'s times.
struct Measured {
    step_ms: f64,
    setup_ms: f64,
    first_step_ms: Option<f64>,
    phases_ms: BTreeMap<&'static str, f64>,
}

pub fn run(gpu_args: &GpuArgs, args: &TrainBenchArgs) -> Result<()> {
    ensure!(args.batch > 0 && args.steps > 0, "--batch and --steps must be positive");
    ensure!(args.queue >= args.batch, "--queue must hold at least one batch");
    ensure!(!args.devices.is_empty() && !args.models.is_empty(), "name at least one device and one model");
    let mut devices = Vec::new();
    for which in &args.devices {
        let compute = match which {
            Which::Gpu => Compute::from_gpu(gpu_args.open()?),
            Which::Cpu => Compute::cpu(),
        };
        eprintln!("{which:?}: {compute}");
        devices.push(compute);
    }
    let runs = devices.len() * args.models.len() * 2;
    let bar = ProgressBar::new((runs * (args.warmup + 2 * args.steps)) as u64);
    bar.set_style(ProgressStyle::with_template("{bar:30} {pos}/{len} steps [{elapsed_precise}] {msg}").expect("valid template"));
    let mut rows = Vec::new();
    for compute in &devices {
        for &model in &args.models {
            for (method, ring) in [("moco", false), ("mocoring", true)] {
                bar.set_message(format!("{method} {model:?} on {compute}"));
                let (matmul_before, transposed_before, norms_before) = (matmul_calls(), transposed_calls(), wgsl_norm_calls());
                let m = measure(compute.burn_device(), model, ring, args, &bar)?;
                rows.push(Row {
                    matmul_convs: matmul_calls() - matmul_before,
                    transposed_convs: transposed_calls() - transposed_before,
                    wgsl_norms: wgsl_norm_calls() - norms_before,
                    device: compute.to_string(),
                    model,
                    method,
                    batch: args.batch,
                    queue: args.queue,
                    images_per_s: args.batch as f64 / (m.step_ms / 1e3),
                    step_ms: m.step_ms,
                    setup_ms: m.setup_ms,
                    first_step_ms: m.first_step_ms,
                    phases_ms: m.phases_ms,
                });
                // Each finished row is kept even if a later one is stopped (the GPU check's time limits).
                if let Some(path) = &args.json {
                    let partial = Report { rows: rows.clone(), mocoring_over_moco: Vec::new() };
                    std::fs::write(path, serde_json::to_string_pretty(&partial)?)?;
                }
            }
        }
    }
    bar.finish_and_clear();
    let mocoring_over_moco =
        rows.chunks(2).map(|pair| (pair[0].device.clone(), pair[0].model, pair[1].step_ms / pair[0].step_ms)).collect();
    let report = Report { rows, mocoring_over_moco };
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)?;
    }
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        Format::Csv => {
            println!(
                "device,model,method,batch,queue,images_per_s,step_ms,setup_ms,first_step_ms,{}",
                PHASES.map(|p| format!("{p}_ms")).join(",")
            );
            for r in &report.rows {
                let phases: Vec<String> = PHASES.iter().map(|p| format!("{:.2}", r.phases_ms[p])).collect();
                println!(
                    "\"{}\",{:?},{},{},{},{:.2},{:.2},{:.2},{},{}",
                    r.device,
                    r.model,
                    r.method,
                    r.batch,
                    r.queue,
                    r.images_per_s,
                    r.step_ms,
                    r.setup_ms,
                    r.first_step_ms.map(|t| format!("{t:.2}")).unwrap_or_default(),
                    phases.join(",")
                );
            }
        }
        Format::Table => {
            println!("Training step, batch {} (two 32x32 views each), queue {}", args.batch, args.queue);
            println!(
                "| device | model | method | images/s | step ms | setup ms | first step ms | augment | forward | ring | backward | update |"
            );
            println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
            for r in &report.rows {
                let phases: Vec<String> = PHASES.iter().map(|p| format!("{:.1}", r.phases_ms[p])).collect();
                println!(
                    "| {} | {:?} | {} | {:.1} | {:.1} | {:.0} | {} | {} |",
                    r.device,
                    r.model,
                    r.method,
                    r.images_per_s,
                    r.step_ms,
                    r.setup_ms,
                    r.first_step_ms.map(|t| format!("{t:.0}")).unwrap_or_else(|| "-".into()),
                    phases.join(" | ")
                );
            }
            println!();
            for (device, model, ratio) in &report.mocoring_over_moco {
                println!("MoCoRing / MoCo step time, {model:?} on {device}: {ratio:.3}");
            }
            let speed = |d: usize, m: EncoderKind, method: &str| {
                report.rows.iter().find(|r| r.device == devices[d].to_string() && r.model == m && r.method == method).map(|r| r.step_ms)
            };
            if devices.len() == 2 {
                for &m in &args.models {
                    for method in ["moco", "mocoring"] {
                        if let (Some(a), Some(b)) = (speed(0, m, method), speed(1, m, method)) {
                            println!("{method} {m:?}: {} is {:.2}x the speed of {}", devices[1], a / b, devices[0]);
                        }
                    }
                }
            }
        }
    }
    Ok(())
}
