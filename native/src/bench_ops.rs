//! `ring-wgpu bench ops`: where a training step's time goes, one operation at a time, on
//! burn's CPU backend (and the GPU when asked): every distinct convolution of the encoder
//! (forward, input gradient, weight gradient), batch norm in training mode, ReLU, the
//! residual add and the head's matmuls, at the shapes a step of `bench train` runs, each
//! multiplied by how often one encoder pass runs it.
//!
//! Convolutions and batch norms go through `model::conv2d` / `model::batch_norm`, as the
//! encoders' do (our kernels on the CPU backend; `RING_WGPU_CPU_CONV=burn` measures burn's
//! own instead, `RING_WGPU_CPU_NORM=burn` burn's batch norm only; on the GPU the default
//! form, stride 1 as a transposed convolution, or `RING_WGPU_GPU_CONV=burn` / `=matmul`, and
//! burn's batch norm or, with `RING_WGPU_GPU_NORM=wgsl`, our WGSL kernels).
//! Gradients are timed through burn's autodiff exactly as training computes them: the
//! operation on tensors of which only the one input is tracked, `(y * g).sum()`, and only
//! the `backward()` call timed (it includes the product's and the sum's small backward). The same shapes in
//! PyTorch: `scripts/torch_ops_bench.py` (`scripts/bench-cpu-vs-torch.sh` runs both).

use std::time::Instant;

use anyhow::{Result, ensure};
use clap::Args;
use ring_wgpu_core::Compute;
use ring_wgpu_core::burn::module::Module;
use ring_wgpu_core::burn::nn::{BatchNorm, BatchNormConfig};
use ring_wgpu_core::burn::tensor::activation::relu;
use ring_wgpu_core::burn::tensor::{Device, Distribution, Tensor};
use ring_wgpu_core::model::EncoderKind;
use ring_wgpu_core::model::batch_norm;
use ring_wgpu_core::model::conv2d;
use serde::Serialize;

use crate::GpuArgs;

#[derive(Args, Debug)]
pub struct OpsBenchArgs {
    /// Encoder whose layer shapes are measured.
    #[arg(long, value_enum, default_value = "small")]
    model: EncoderKind,
    /// Images per step (B).
    #[arg(long, default_value_t = 64)]
    batch: usize,
    /// Timed repetitions of each operation (after one untimed run).
    #[arg(long, default_value_t = 5)]
    repeats: usize,
    /// Measure on the GPU (wgpu) instead of burn's CPU backend.
    #[arg(long)]
    gpu: bool,
    /// Also write the rows as JSON to this file.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
}

/// One 2-D convolution of the encoder.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
struct ConvShape {
    cin: usize,
    cout: usize,
    size: usize,
    kernel: usize,
    stride: usize,
}

/// Each distinct convolution with how many times one forward pass runs it.
type Convs = Vec<(ConvShape, usize)>;
/// Each distinct batch norm / ReLU input (channels, side) with how many times a pass has it.
type Norms = Vec<(usize, usize, usize)>;

/// The encoder's convolutions and batch-norm inputs.
fn layers(kind: EncoderKind) -> (Convs, Norms) {
    let (widths, per_stage) = kind.stages();
    let mut convs: Convs = Vec::new();
    let mut norms: Norms = Vec::new();
    let add = |conv: ConvShape, convs: &mut Convs| match convs.iter_mut().find(|(c, _)| *c == conv) {
        Some((_, n)) => *n += 1,
        None => convs.push((conv, 1)),
    };
    let count_norm =
        |c: usize, s: usize, norms: &mut Vec<(usize, usize, usize)>| match norms.iter_mut().find(|(a, b, _)| (*a, *b) == (c, s)) {
            Some((_, _, n)) => *n += 1,
            None => norms.push((c, s, 1)),
        };
    let mut size = 32;
    add(ConvShape { cin: 3, cout: widths[0], size, kernel: 3, stride: 1 }, &mut convs);
    count_norm(widths[0], size, &mut norms);
    let mut cin = widths[0];
    for (stage, &width) in widths.iter().enumerate() {
        for i in 0..per_stage {
            let stride = if stage > 0 && i == 0 { 2 } else { 1 };
            add(ConvShape { cin, cout: width, size, kernel: 3, stride }, &mut convs);
            if stride != 1 || cin != width {
                add(ConvShape { cin, cout: width, size, kernel: 1, stride }, &mut convs);
                count_norm(width, size / stride, &mut norms);
            }
            size /= stride;
            add(ConvShape { cin: width, cout: width, size, kernel: 3, stride: 1 }, &mut convs);
            count_norm(width, size, &mut norms);
            count_norm(width, size, &mut norms);
            cin = width;
        }
    }
    (convs, norms)
}

#[derive(Debug, Serialize)]
struct Row {
    op: String,
    shape: String,
    per_pass: usize,
    /// Mean ms of one call.
    ms: f64,
    /// ms x per_pass.
    ms_per_pass: f64,
    /// Useful GFLOP/s (convolutions and matmuls).
    gflops: Option<f64>,
}

fn sync(device: &Device) -> Result<()> {
    device.sync().map_err(|e| anyhow::anyhow!("device sync failed: {e:?}"))
}

/// Mean ms of `f` over `repeats` runs after one untimed run; `f` leaves work queued.
fn time(device: &Device, repeats: usize, mut f: impl FnMut()) -> Result<f64> {
    f();
    sync(device)?;
    let start = Instant::now();
    for _ in 0..repeats {
        f();
    }
    sync(device)?;
    Ok(start.elapsed().as_secs_f64() * 1e3 / repeats as f64)
}

/// Mean ms of `backward()` alone over `repeats` graphs built by `build` (untimed), after
/// one untimed run.
fn time_backward(device: &Device, repeats: usize, mut build: impl FnMut() -> Tensor<1>) -> Result<f64> {
    drop(build().backward());
    let mut total = 0.0;
    for _ in 0..repeats {
        let loss = build();
        sync(device)?;
        let start = Instant::now();
        let grads = loss.backward();
        sync(device)?;
        total += start.elapsed().as_secs_f64();
        drop(grads);
    }
    Ok(total * 1e3 / repeats as f64)
}

fn random(shape: [usize; 4], device: &Device) -> Tensor<4> {
    Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), device)
}

pub fn run(gpu_args: &GpuArgs, args: &OpsBenchArgs) -> Result<()> {
    ensure!(args.batch > 0 && args.repeats > 0, "--batch and --repeats must be positive");
    let compute = if args.gpu { Compute::from_gpu(gpu_args.open()?) } else { Compute::cpu() };
    eprintln!("{compute}");
    let device = compute.burn_device().clone();
    let ad = device.clone().autodiff();
    let b = args.batch;
    let (convs, norms) = layers(args.model);
    let mut rows = Vec::new();
    let mut push = |op: &str, shape: String, per_pass: usize, ms: f64, flop: Option<f64>| {
        let row = Row {
            op: op.into(),
            shape,
            per_pass,
            ms,
            ms_per_pass: ms * per_pass as f64,
            gflops: flop.filter(|_| ms > 0.0).map(|f| f / (ms * 1e6)),
        };
        eprintln!(
            "{:<14} {:<28} x{:<2} {:>9.2} ms {:>9.2} ms/pass {}",
            row.op,
            row.shape,
            row.per_pass,
            row.ms,
            row.ms_per_pass,
            row.gflops.map_or(String::new(), |g| format!("{g:.1} GFLOP/s"))
        );
        rows.push(row);
    };
    for &(c, per_pass) in &convs {
        let pad = c.kernel / 2;
        let out = c.size / c.stride;
        let flop = 2.0 * (b * c.cout * out * out * c.cin * c.kernel * c.kernel) as f64;
        let shape = format!("{}x{}x{}x{} k{} s{} -> {}", b, c.cin, c.size, c.size, c.kernel, c.stride, c.cout);
        let x = random([b, c.cin, c.size, c.size], &device);
        let w = random([c.cout, c.cin, c.kernel, c.kernel], &device);
        let g = random([b, c.cout, out, out], &device);
        let forward = time(&device, args.repeats, || {
            let _ = conv2d(x.clone(), w.clone(), c.stride, pad);
        })?;
        push("conv forward", shape.clone(), per_pass, forward, Some(flop));
        for (name, track_x) in [("conv grad x", true), ("conv grad w", false)] {
            let (xa, wa, ga) = (x.clone().autodiff(), w.clone().autodiff(), g.clone().autodiff());
            let (xa, wa) = if track_x { (xa.require_grad(), wa) } else { (xa, wa.require_grad()) };
            let backward = time_backward(&device, args.repeats, || (conv2d(xa.clone(), wa.clone(), c.stride, pad) * ga.clone()).sum())?;
            push(name, shape.clone(), per_pass, backward, Some(flop));
        }
    }
    for &(channels, size, per_pass) in &norms {
        let shape = format!("{b}x{channels}x{size}x{size}");
        let x = random([b, channels, size, size], &device);
        let bn: BatchNorm = BatchNormConfig::new(channels).init(&ad);
        let forward = time(&device, args.repeats, || {
            let _ = batch_norm(&bn, x.clone().autodiff());
        })?;
        push("batchnorm fwd", shape.clone(), per_pass, forward, None);
        let g = random([b, channels, size, size], &device).autodiff();
        let xa = x.clone().autodiff().require_grad();
        let backward = time_backward(&device, args.repeats, || (batch_norm(&bn, xa.clone()) * g.clone()).sum())?;
        push("batchnorm bwd", shape.clone(), per_pass, backward, None);
        let relu_ms = time(&device, args.repeats, || {
            let _ = relu(x.clone());
        })?;
        push("relu fwd", shape.clone(), per_pass, relu_ms, None);
        let add_ms = time(&device, args.repeats, || {
            let _ = x.clone() + x.clone();
        })?;
        push("add", shape, per_pass, add_ms, None);
        let _ = bn.valid();
    }
    let f = args.model.feature_dim();
    let h = Tensor::<2>::random([b, f], Distribution::Normal(0.0, 1.0), &device);
    let wm = Tensor::<2>::random([f, f], Distribution::Normal(0.0, 1.0), &device);
    let ms = time(&device, args.repeats, || {
        let _ = h.clone().matmul(wm.clone());
    })?;
    push("head matmul", format!("{b}x{f} @ {f}x{f}"), 2, ms, Some(2.0 * (b * f * f) as f64));
    let total_forward: f64 =
        rows.iter().filter(|r| r.op.ends_with("forward") || r.op.ends_with("fwd") || r.op == "add").map(|r| r.ms_per_pass).sum();
    let total_conv: f64 = rows.iter().filter(|r| r.op.starts_with("conv")).map(|r| r.ms_per_pass).sum();
    let total: f64 = rows.iter().map(|r| r.ms_per_pass).sum();
    println!("| op | shape | per pass | ms | ms per pass | GFLOP/s |");
    println!("|---|---|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {} | {} | {:.2} | {:.2} | {} |",
            r.op,
            r.shape,
            r.per_pass,
            r.ms,
            r.ms_per_pass,
            r.gflops.map_or(String::new(), |g| format!("{g:.1}"))
        );
    }
    println!(
        "\none training pass of the query encoder (forward + both gradients): {total:.1} ms, of which convolutions {total_conv:.1} ms ({:.0}%); forward ops alone {total_forward:.1} ms",
        100.0 * total_conv / total
    );
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&rows)?)?;
    }
    Ok(())
}
