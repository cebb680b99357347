//! The crate's one error type: every fallible function of `ring-wgpu-core` returns
//! [`Result`]. Each area keeps its own enum (GPU, ring, dataset, configuration,
//! checkpoint) so that callers can match on what went wrong; every message says what to do.

use thiserror::Error;

use crate::data::DatasetError;
use crate::gpu::GpuError;
use crate::ring::RingError;
use crate::train::ConfigError;

/// Everything that can go wrong in `ring-wgpu-core`.
#[derive(Debug, Error)]
pub enum Error {
    /// Acquiring or using the GPU, or reading results back.
    #[error(transparent)]
    Gpu(#[from] GpuError),
    /// Ring percentiles, annealing, ring kernels and the ring loss.
    #[error(transparent)]
    Ring(#[from] RingError),
    /// A dataset on disk or in memory.
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    /// A training configuration value.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Reading, writing or resuming from a checkpoint.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// Tensors or lists that do not fit together (sizes, shapes, labels).
    #[error("{0}")]
    Input(String),
    /// Training diverged.
    #[error(
        "the loss became {loss} in epoch {epoch}: lower the learning rate (lr) or raise the temperature; \
         the last checkpoint holds the run before it diverged"
    )]
    NonFiniteLoss {
        /// The loss value (NaN or infinite).
        loss: f64,
        /// The epoch (1-based) in which it happened.
        epoch: usize,
    },
    /// An event sink (progress display, metrics file, ...) failed.
    #[error("{0}")]
    Sink(String),
}

/// `Result` with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Returns early with [`Error::Input`] built from a format string.
macro_rules! input_error {
    ($($arg:tt)*) => {
        return Err($crate::error::Error::Input(format!($($arg)*)))
    };
}
pub(crate) use input_error;

/// The checkpoint format this version writes (`train::checkpoint`); a checkpoint of
/// another format is refused by number.
pub(crate) const CHECKPOINT_FORMAT: u32 = 3;

/// What is wrong with a checkpoint.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CheckpointError {
    /// The bytes are not a checkpoint at all.
    #[error("not a ring-wgpu checkpoint")]
    NotACheckpoint,
    /// Written by another version of the format.
    #[error(
        "the checkpoint is in format {0}, which this version of ring-wgpu (format {CHECKPOINT_FORMAT}) cannot continue; \
         start a new run (in another output folder)"
    )]
    Format(u32),
    /// Truncated or inconsistent.
    #[error("the checkpoint is damaged ({0}); start a new run, or resume from an intact copy")]
    Damaged(String),
    /// Resuming with settings other than the run's.
    #[error(
        "the run was made with other settings: {}. Resume with the same settings, or start a new run",
        .0.join(", ")
    )]
    SettingsChanged(Vec<String>),
}
