//! Training runs: the configuration ([`TrainConfig`], [`preset`]), the [`Trainer`] that
//! owns a run and emits [`TrainEvent`]s to [`EventSink`]s, checkpoints as bytes, the
//! learning-rate schedule, the optimiser, and evaluation features.

pub mod checkpoint;
mod config;
mod data;
mod events;
mod features;
mod memory;
pub mod presets;
mod schedule;
mod sgd;
mod trainer;

pub use checkpoint::{Checkpoint, CheckpointError, Progress};
pub use config::{
    Anneal, BankInit, ConfigError, DatasetKind, KnnFeatures, MAX_BATCH, MAX_EPOCHS, MAX_KNN_K, MAX_MIXES, MAX_PROJECTION_DIM, MAX_QUEUE,
    MAX_QUEUE_BYTES, MAX_SAMPLES, MAX_SYNTHETIC_PER_CLASS, MethodKind, ObjectiveKind, RESUMABLE_CHANGES, TrainConfig,
};
pub use data::Datasets;
pub use events::{EpochMetrics, EventSink, FitOutcome, SinkFn, StepMetrics, StopHandle, TrainEvent};
pub use features::extract_features;
pub(crate) use features::unaugmented;
pub use memory::{MemoryEstimate, MemoryPart};
pub use presets::{PRESETS, preset};
pub use schedule::{LrPolicy, LrSchedule, LrUpdate};
pub use sgd::{Sgd, SgdSettings};
pub use trainer::{EpochOutcome, StepsMetrics, Trainer};

pub use crate::rng::permutation;
