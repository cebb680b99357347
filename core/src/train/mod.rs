//! Training runs: the configuration ([`TrainConfig`], [`preset`]), the [`Trainer`] that
//! owns a run and emits [`TrainEvent`]s to [`EventSink`]s, checkpoints as bytes, the
//! conversion of a configuration into each method's settings, and evaluation features. The
//! optimiser and schedules live below, in [`crate::optim`].

pub mod checkpoint;
mod config;
mod data;
mod events;
mod features;
mod memory;
mod method_settings;
pub mod presets;
mod trainer;

pub use crate::optim::{LrPolicy, LrSchedule, LrUpdate, Sgd, SgdSettings};
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
pub use method_settings::build_method;
pub use presets::{Preset, preset};
pub use trainer::{EpochOutcome, StepsMetrics, Trainer};

pub use crate::rng::{permutation, seeded};
