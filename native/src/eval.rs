//! `ring-wgpu eval`: kNN and linear-probe top-1 of a trained run on its test split.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Result, ensure};
use clap::Args;
use ring_wgpu_core::burn::tensor::Tensor;
use ring_wgpu_core::data::Split;
use ring_wgpu_core::eval::{KnnConfig, LinearProbeConfig, knn_top1, linear_probe, top1};
use ring_wgpu_core::train::{KnnFeatures, Trainer};
use serde::Serialize;

use crate::{GpuArgs, run_dir};

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
    ensure!(args.knn_k >= 1, "--knn-k {}: must be at least 1", args.knn_k);
    ensure!(args.probe_batch >= 1, "--probe-batch {}: must be at least 1", args.probe_batch);
    ensure!(args.probe_lr.is_finite() && args.probe_lr > 0.0, "--probe-lr {}: must be a positive number", args.probe_lr);
    let start = Instant::now();
    let run = run_dir::open(&args.out, gpu_args)?;
    let trainer = &run.trainer;
    let (train, test) = (&trainer.datasets().train, &trainer.datasets().test);
    let epochs = trainer.epochs_completed();
    let train_features = trainer.features(Split::Train, KnnFeatures::Backbone)?;
    let test_features = trainer.features(Split::Test, KnnFeatures::Backbone)?;
    let knn_config = KnnConfig { k: args.knn_k, ..KnnConfig::default() };
    let knn = pollster::block_on(knn_top1(
        train_features.clone(),
        &train.labels,
        train.classes.len(),
        test_features.clone(),
        &test.labels,
        &knn_config,
    ))?;
    println!("kNN (k = {}) top-1: {:.2}%", args.knn_k, knn * 100.0);
    let linear = if args.probe_epochs > 0 {
        let probe =
            LinearProbeConfig { epochs: args.probe_epochs, lr: args.probe_lr, batch: args.probe_batch, ..LinearProbeConfig::default() };
        eprintln!("training the linear probe ({} epochs)...", args.probe_epochs);
        let top1 = probe_top1(trainer, Some(train_features), Some(test_features), &probe)?;
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

/// Linear-probe top-1 on the test split of `trainer`'s run, from its backbone features
/// (`None` for either split: computed here).
pub(crate) fn probe_top1(
    trainer: &Trainer,
    train_features: Option<Tensor<2>>,
    test_features: Option<Tensor<2>>,
    probe: &LinearProbeConfig,
) -> Result<f64> {
    let (train, test) = (&trainer.datasets().train, &trainer.datasets().test);
    let train_features = match train_features {
        Some(f) => f,
        None => trainer.features(Split::Train, KnnFeatures::Backbone)?,
    };
    let test_features = match test_features {
        Some(f) => f,
        None => trainer.features(Split::Test, KnnFeatures::Backbone)?,
    };
    let predicted = linear_probe(train_features, &train.labels, train.classes.len(), test_features, probe)?;
    Ok(pollster::block_on(top1(predicted, &test.labels))?)
}
