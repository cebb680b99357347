//! Opening a finished (or stopped) training run from its folder: its settings, datasets
//! and last checkpoint.

use std::path::Path;

use anyhow::{Context, Result};
use ring_wgpu_core::data::ImageDataset;
use ring_wgpu_core::moco::Moco;
use ring_wgpu_core::Compute;

use crate::train::{load, moco_config, TrainArgs};
use crate::{checkpoint, GpuArgs};

/// A run reopened for evaluation.
pub struct Run {
    /// The run's settings.
    pub args: TrainArgs,
    /// Its training split.
    pub train: ImageDataset,
    /// Its test split.
    pub test: ImageDataset,
    /// The device it is loaded on.
    pub compute: Compute,
    /// Its state after `epochs` epochs.
    pub moco: Moco,
    /// Completed epochs.
    pub epochs: usize,
}

/// Reads `out/config.json`, loads the datasets it names and the last checkpoint.
pub fn open(out: &Path, gpu_args: &GpuArgs) -> Result<Run> {
    let config_path = out.join("config.json");
    let text = std::fs::read_to_string(&config_path).with_context(|| format!("no run in {} (config.json missing)", out.display()))?;
    let settings: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not a ring-wgpu run configuration", config_path.display()))?;
    let args: TrainArgs = serde_json::from_value(settings.clone())
        .with_context(|| format!("{} is not a ring-wgpu run configuration", config_path.display()))?;
    let (train, test) = load(&args)?;
    let compute = gpu_args.compute()?;
    let config = moco_config(&args, train.len())?;
    let (epochs, moco) = checkpoint::load(out, &settings, config, compute.burn_device())?;
    Ok(Run { args, train, test, compute, moco, epochs })
}
