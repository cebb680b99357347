//! Reopening a trained (or stopped) run from its folder: its checkpoint holds the
//! configuration and the state; the datasets are loaded as the configuration names them.

use std::path::Path;

use anyhow::{Context, Result};
use ring_wgpu_core::train::{Checkpoint, Datasets, Trainer};

use crate::{GpuArgs, checkpoint};

/// A run reopened for evaluation.
pub struct Run {
    /// The run, as it was at its last checkpoint.
    pub trainer: Trainer,
}

/// Reads `out/checkpoint.bin`, loads the datasets its configuration names and rebuilds the run.
pub fn open(out: &Path, gpu_args: &GpuArgs) -> Result<Run> {
    let bytes = checkpoint::read(out)?;
    let file = checkpoint::path(out);
    let config = Checkpoint::read_config(&bytes).with_context(|| file.display().to_string())?;
    let datasets = Datasets::load(&config)?;
    let compute = gpu_args.compute()?;
    let trainer = Trainer::from_checkpoint(&bytes, None, datasets, compute.burn_device()).with_context(|| file.display().to_string())?;
    Ok(Run { trainer })
}
