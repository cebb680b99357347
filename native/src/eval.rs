//! `ring-wgpu eval`: kNN and linear-probe top-1 of a trained run on its test split.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use clap::Args;
use ring_wgpu_core::augment::{AugmentSpec, DeviceImages};
use ring_wgpu_core::eval::{linear_probe, LinearProbeConfig};
use serde::Serialize;

use crate::train::{knn_top1, split_features, top1};
use crate::{run_dir, GpuArgs};

/// Evaluate the run in --out (its last checkpoint) on the test split: weighted kNN
/// (k = 200, tau = 0.1) and a linear probe (logistic regression on frozen, standardised
/// pooled features; SGD lr 0.01, momentum 0.9, cosine, 100 epochs).
#[derive(Args, Debug)]
pub struct EvalArgs {
    /// The run's folder (with config.json and checkpoint.bin).
    #[arg(long, default_value = "runs/latest")]
    out: PathBuf,
    /// Neighbours of the kNN classifier.
    #[arg(long, default_value_t = 200)]
    knn_k: usize,
    /// Linear-probe epochs (0: skip the probe).
    #[arg(long, default_value_t = 100)]
    probe_epochs: usize,
    /// Linear-probe learning rate.
    #[arg(long, default_value_t = 0.01)]
    probe_lr: f64,
    /// Linear-probe batch size.
    #[arg(long, default_value_t = 256)]
    probe_batch: usize,
}

#[derive(Serialize)]
struct EvalReport {
    run: PathBuf,
    epochs_trained: usize,
    knn_k: usize,
    knn_top1: f64,
    linear_top1: Option<f64>,
    probe_epochs: usize,
    seconds: f64,
}

pub fn run(gpu_args: &GpuArgs, args: &EvalArgs) -> Result<()> {
    let start = Instant::now();
    let run = run_dir::open(&args.out, gpu_args)?;
    let (train, test, moco, epochs) = (&run.train, &run.test, &run.moco, run.epochs);
    let device = run.compute.burn_device().clone();
    let train_images = DeviceImages::upload(train, &device)?;
    let test_images = DeviceImages::upload(test, &device)?;
    let spec = AugmentSpec { size: run.args.image_size, ..AugmentSpec::default() };

    let train_features = split_features(moco, &train_images, train, &spec)?;
    let test_features = split_features(moco, &test_images, test, &spec)?;
    let knn = knn_top1(train_features.clone(), train, test_features.clone(), test, args.knn_k)?;
    println!("kNN (k = {}) top-1: {:.2}%", args.knn_k, knn * 100.0);
    let linear = if args.probe_epochs > 0 {
        let probe = LinearProbeConfig { epochs: args.probe_epochs, lr: args.probe_lr, batch: args.probe_batch, ..LinearProbeConfig::default() };
        eprintln!("training the linear probe ({} epochs)...", args.probe_epochs);
        let top1 = top1(linear_probe(train_features, &train.labels, train.classes.len(), test_features, &probe)?, &test.labels)?;
        println!("linear probe ({} epochs) top-1: {:.2}%", args.probe_epochs, top1 * 100.0);
        Some(top1)
    } else {
        None
    };
    let report = EvalReport {
        run: args.out.clone(),
        epochs_trained: epochs,
        knn_k: args.knn_k,
        knn_top1: knn,
        linear_top1: linear,
        probe_epochs: args.probe_epochs,
        seconds: start.elapsed().as_secs_f64(),
    };
    std::fs::write(args.out.join("eval.json"), serde_json::to_string_pretty(&report)?)?;
    Ok(())
}
