//! [`TrainConfig`]: the single description of a training run (method, data, model, ring
//! and annealing, optimiser, schedule, augmentation, monitor), with its validation.
//!
//! The CLI's flags and TOML files, the browser's config objects and checkpoints all
//! (de)serialise this one struct; keys are its field names (`snake_case`). Defaults are
//! the `quick` preset (see [`super::presets`]).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::model::{EncoderKind, Head};
use crate::ring::{AnnealPolicy, InnerCut, RingSchedule, RingSpec};

pub use super::schedule::{LrSchedule, LrUpdate};

/// The contrastive method (each with and without Ring).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum MethodKind {
    /// MoCo with Ring negatives: only queue entries inside each anchor's ring.
    Mocoring,
    /// Plain MoCo: every queue entry is a negative.
    Moco,
    /// IRing: instance discrimination drawing its negatives from each anchor's ring of the memory bank.
    Iring,
    /// Instance discrimination (memory bank, negatives drawn uniformly from the whole bank).
    Ir,
    /// CMCRing: CMC drawing each view's negatives from the anchor's ring of the other view's bank.
    Cmcring,
    /// CMC (Lab split, L and ab encoders, two memory banks, cross-view negatives drawn uniformly).
    Cmc,
    /// SimCLR-Ring: in-batch negatives inside each anchor's ring of the other 2B - 2 views.
    SimclrRing,
    /// SimCLR: every other view of the batch is a negative (NT-Xent).
    Simclr,
}

impl MethodKind {
    /// Every method, in `--help` order.
    pub const ALL: [MethodKind; 8] = [
        MethodKind::Mocoring,
        MethodKind::Moco,
        MethodKind::Iring,
        MethodKind::Ir,
        MethodKind::Cmcring,
        MethodKind::Cmc,
        MethodKind::SimclrRing,
        MethodKind::Simclr,
    ];

    /// Does the method choose its negatives with a ring?
    pub fn uses_ring(self) -> bool {
        matches!(self, MethodKind::Mocoring | MethodKind::Iring | MethodKind::Cmcring | MethodKind::SimclrRing)
    }

    /// The same family with or without Ring.
    pub fn with_ring(self, ring: bool) -> MethodKind {
        use MethodKind::*;
        match (self, ring) {
            (Moco | Mocoring, true) => Mocoring,
            (Moco | Mocoring, false) => Moco,
            (Ir | Iring, true) => Iring,
            (Ir | Iring, false) => Ir,
            (Cmc | Cmcring, true) => Cmcring,
            (Cmc | Cmcring, false) => Cmc,
            (Simclr | SimclrRing, true) => SimclrRing,
            (Simclr | SimclrRing, false) => Simclr,
        }
    }

    /// The name used in configurations and on the command line (`mocoring`, `simclr-ring`, ...).
    pub fn name(self) -> &'static str {
        match self {
            MethodKind::Mocoring => "mocoring",
            MethodKind::Moco => "moco",
            MethodKind::Iring => "iring",
            MethodKind::Ir => "ir",
            MethodKind::Cmcring => "cmcring",
            MethodKind::Cmc => "cmc",
            MethodKind::SimclrRing => "simclr-ring",
            MethodKind::Simclr => "simclr",
        }
    }
}

/// Where the images come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum DatasetKind {
    /// Built-in procedural textures in 10 classes (no download).
    Synthetic,
    /// CIFAR-10 binary version in data_dir.
    Cifar10,
    /// CIFAR-100 binary version (fine labels) in data_dir.
    Cifar100,
    /// STL-10 binary version in data_dir (train split; test for the monitor).
    Stl10,
    /// Image folders data_dir/train/<class>/* and data_dir/test/<class>/*.
    Folder,
}

/// How u moves from 100 (plain NCE) to its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Anneal {
    /// u at its target from the start (the authors' published configuration).
    None,
    /// u linear from 100 to the target (the paper).
    Linear,
    /// u in 4 equal drops.
    Step,
    /// u geometric from 100 to the target.
    Exponential,
}

/// What a memory bank holds before the first step (IR, IRing, CMC, CMCRing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum BankInit {
    /// Random unit vectors (IR's and CMC's code).
    Random,
    /// The untrained network's embeddings of the unaugmented training images.
    Encoder,
}

/// The loss over the chosen negatives (see [`crate::objective`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum ObjectiveKind {
    /// InfoNCE (the paper's loss).
    Nce,
    /// Debiased contrastive loss (Chuang et al. 2020), with tau_plus.
    Dcl,
    /// Hard-negative reweighting (Robinson et al. 2021), with tau_plus and hcl_beta.
    Hcl,
}

/// Which features the kNN monitor compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum KnnFeatures {
    /// Pooled backbone features (the representation a linear probe sees).
    Backbone,
    /// The projection head's L2-normalised output (the MoCo CIFAR demo; the authors' monitor).
    Projection,
}

/// One training run, as the CLI's flags / TOML keys, the browser's config object and a
/// checkpoint's header describe it. Build one with [`TrainConfig::default`] (the `quick`
/// preset) or [`super::preset`], change fields, then [`TrainConfig::validate`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Method.
    #[cfg_attr(feature = "clap", arg(long, value_enum, default_value_t = TrainConfig::default().method))]
    pub method: MethodKind,
    /// Dataset.
    #[cfg_attr(feature = "clap", arg(long, value_enum, default_value_t = TrainConfig::default().dataset))]
    pub dataset: DatasetKind,
    /// Where the dataset lives (not needed for synthetic).
    #[cfg_attr(feature = "clap", arg(long))]
    pub data_dir: Option<PathBuf>,
    /// Synthetic dataset: training images per class (the monitor's test set has half).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = TrainConfig::default().synthetic_per_class))]
    pub synthetic_per_class: usize,
    /// Train on this many images of the training split (a seeded, class-balanced subset); all when unset.
    #[cfg_attr(feature = "clap", arg(long))]
    pub train_subset: Option<usize>,
    /// Side of the (square) training views; image folders are resized to it.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = TrainConfig::default().image_size))]
    pub image_size: usize,
    /// Encoder.
    #[cfg_attr(feature = "clap", arg(long, value_enum, default_value_t = TrainConfig::default().model))]
    pub model: EncoderKind,
    /// Projection head: mlp (Linear-ReLU-Linear, MoCo v2 / SimCLR) or linear (instance discrimination).
    #[cfg_attr(feature = "clap", arg(long, value_enum, default_value_t = TrainConfig::default().head))]
    pub head: Head,
    /// Width of the projection head's output (the embedding the loss compares).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = TrainConfig::default().projection_dim))]
    pub projection_dim: usize,
    /// Epochs.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = TrainConfig::default().epochs))]
    pub epochs: usize,
    /// Images per step (the last incomplete batch of an epoch is dropped).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = TrainConfig::default().batch))]
    pub batch: usize,
    /// Keys in the MoCo queue (K); when unset, 4096 or half the training set, whichever is smaller (at least one batch).
    #[cfg_attr(feature = "clap", arg(long))]
    pub queue: Option<usize>,
    /// IR / IRing / CMC / CMCRing: noise samples k per anchor (the anchor's own bank entry plus k - 1 drawn negatives).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = TrainConfig::default().samples))]
    pub samples: usize,
    /// IR / IRing / CMC / CMCRing: memory-bank momentum m in bank[i] = normalise(m bank[i] + (1 - m) out_i) (original IR and CMC, and the quick preset: 0.5; the Ring authors' IR code and the paper presets: 0).
    #[cfg_attr(feature = "clap", arg(long, allow_negative_numbers = true, default_value_t = TrainConfig::default().bank_momentum))]
    pub bank_momentum: f64,
    /// IR / IRing / CMC / CMCRing: the memory bank before the first step: the untrained network's embeddings of the training images (the default: with random rows the first epoch pushes every output away from the rows already written and the network collapses) or random unit vectors (the authors' code; the paper presets).
    #[cfg_attr(feature = "clap", arg(long, value_enum, default_value_t = TrainConfig::default().bank_init))]
    pub bank_init: BankInit,
    /// Temperature tau of the NCE loss.
    #[cfg_attr(feature = "clap", arg(long, allow_negative_numbers = true, default_value_t = TrainConfig::default().temperature))]
    pub temperature: f64,
    /// Loss over the chosen negatives: nce (InfoNCE), dcl (debiased, Chuang et al. 2020) or hcl (hard-negative reweighting, Robinson et al. 2021).
    #[cfg_attr(feature = "clap", arg(long, value_enum, default_value_t = TrainConfig::default().objective))]
    pub objective: ObjectiveKind,
    /// dcl / hcl: class prior tau+ in [0, 1), the expected fraction of negatives sharing the anchor's class (0.1 for 10 balanced classes).
    #[cfg_attr(feature = "clap", arg(long, allow_negative_numbers = true, default_value_t = TrainConfig::default().tau_plus))]
    pub tau_plus: f64,
    /// hcl: concentration beta >= 0 on hard negatives (0 is dcl).
    #[cfg_attr(feature = "clap", arg(long, allow_negative_numbers = true, default_value_t = TrainConfig::default().hcl_beta))]
    pub hcl_beta: f64,
    /// MoCo / MoCoRing: hard-negative mixing (MoCHi) from each anchor's N hardest queue entries; 0 turns it off.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = TrainConfig::default().mochi_hardest))]
    pub mochi_hardest: usize,
    /// MoCHi: s synthetic negatives per anchor mixing two hard negatives.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = TrainConfig::default().mochi_mixes))]
    pub mochi_mixes: usize,
    /// MoCHi: s' synthetic negatives per anchor mixing the anchor with a hard negative.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = TrainConfig::default().mochi_query_mixes))]
    pub mochi_query_mixes: usize,
    /// Key-encoder momentum m (MoCo), in [0, 1].
    #[cfg_attr(feature = "clap", arg(long, allow_negative_numbers = true, default_value_t = TrainConfig::default().key_momentum))]
    pub key_momentum: f64,
    /// Ring inner cut l, percent of the candidates (ignored with inner_fraction).
    #[cfg_attr(feature = "clap", arg(long, allow_negative_numbers = true, default_value_t = TrainConfig::default().lower))]
    pub lower: f64,
    /// Ring outer cut u (its target when annealed), percent of the candidates.
    #[cfg_attr(feature = "clap", arg(long, allow_negative_numbers = true, default_value_t = TrainConfig::default().upper))]
    pub upper: f64,
    /// Inner cut as a fraction of the outer set (0.1: l = u/10, the authors' code); overrides lower.
    #[cfg_attr(feature = "clap", arg(long, allow_negative_numbers = true))]
    pub inner_fraction: Option<f64>,
    /// How u moves from 100 to its target.
    #[cfg_attr(feature = "clap", arg(long, value_enum, default_value_t = TrainConfig::default().anneal))]
    pub anneal: Anneal,
    /// Epochs over which u is annealed; when unset, half the run.
    #[cfg_attr(feature = "clap", arg(long, allow_negative_numbers = true))]
    pub anneal_epochs: Option<f64>,
    /// Base learning rate (SGD).
    #[cfg_attr(feature = "clap", arg(long, allow_negative_numbers = true, default_value_t = TrainConfig::default().lr))]
    pub lr: f64,
    /// SGD momentum, in [0, 1).
    #[cfg_attr(feature = "clap", arg(long, allow_negative_numbers = true, default_value_t = TrainConfig::default().sgd_momentum))]
    pub sgd_momentum: f64,
    /// Weight decay (L2 penalty added to the gradients).
    #[cfg_attr(feature = "clap", arg(long, allow_negative_numbers = true, default_value_t = TrainConfig::default().weight_decay))]
    pub weight_decay: f64,
    /// Learning-rate decay after warm-up.
    #[cfg_attr(feature = "clap", arg(long, value_enum, default_value_t = TrainConfig::default().lr_schedule))]
    pub lr_schedule: LrSchedule,
    /// Step schedule: the rate drops x0.1 at epochs int(f * epochs) for each fraction f (comma-separated).
    #[cfg_attr(feature = "clap", arg(long, value_delimiter = ',', allow_negative_numbers = true, default_values_t = TrainConfig::default().lr_milestones))]
    pub lr_milestones: Vec<f64>,
    /// When the learning rate changes: every step, or at each epoch's start (the authors' code).
    #[cfg_attr(feature = "clap", arg(long, value_enum, default_value_t = TrainConfig::default().lr_update))]
    pub lr_update: LrUpdate,
    /// Linear warm-up from 0, epochs.
    #[cfg_attr(feature = "clap", arg(long, allow_negative_numbers = true, default_value_t = TrainConfig::default().warmup_epochs))]
    pub warmup_epochs: f64,
    /// Seed of the weights, the data order, the augmentations and the queue.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = TrainConfig::default().seed))]
    pub seed: u64,
    /// Probability of a Gaussian blur (sigma in [0.1, 2] pixels) on each view; 0 turns it off.
    #[cfg_attr(feature = "clap", arg(long, allow_negative_numbers = true, default_value_t = TrainConfig::default().blur))]
    pub blur: f64,
    /// Colour jitter in the views. Unset: the method's own recipe (MoCo v2's jitter with
    /// p = 0.8 and grayscale with p = 0.2; CMC crops and flips only, as its authors' code);
    /// true: the jitter on (CMC without grayscale, which would leave its ab view constant);
    /// false: no colour change.
    #[cfg_attr(feature = "clap", arg(long))]
    pub color_jitter: Option<bool>,
    /// Run the kNN monitor every this many epochs (and after the last).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = TrainConfig::default().knn_every))]
    pub knn_every: usize,
    /// Neighbours of the kNN monitor (1: nearest-neighbour accuracy, the authors' monitor).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = TrainConfig::default().knn_k))]
    pub knn_k: usize,
    /// Temperature of the kNN monitor's vote weights exp(s / t).
    #[cfg_attr(feature = "clap", arg(long, allow_negative_numbers = true, default_value_t = TrainConfig::default().knn_temperature))]
    pub knn_temperature: f64,
    /// Features the kNN monitor compares.
    #[cfg_attr(feature = "clap", arg(long, value_enum, default_value_t = TrainConfig::default().knn_features))]
    pub knn_features: KnnFeatures,
}

impl Default for TrainConfig {
    /// The `quick` preset: MoCoRing, small ResNet, built-in synthetic data, 15 epochs.
    fn default() -> Self {
        TrainConfig {
            method: MethodKind::Mocoring,
            dataset: DatasetKind::Synthetic,
            data_dir: None,
            synthetic_per_class: 100,
            train_subset: None,
            image_size: 32,
            model: EncoderKind::Small,
            head: Head::Mlp,
            projection_dim: 128,
            epochs: 15,
            batch: 50,
            queue: None,
            samples: 4096,
            bank_momentum: 0.5,
            bank_init: BankInit::Encoder,
            temperature: 0.07,
            objective: ObjectiveKind::Nce,
            tau_plus: 0.1,
            hcl_beta: 1.0,
            mochi_hardest: 0,
            mochi_mixes: 256,
            mochi_query_mixes: 128,
            key_momentum: 0.99,
            lower: 1.0,
            upper: 10.0,
            inner_fraction: None,
            anneal: Anneal::Linear,
            anneal_epochs: None,
            lr: 0.03,
            sgd_momentum: 0.9,
            weight_decay: 1e-4,
            lr_schedule: LrSchedule::Cosine,
            lr_milestones: vec![0.68, 0.83],
            lr_update: LrUpdate::Step,
            warmup_epochs: 0.0,
            seed: 0,
            blur: 0.0,
            color_jitter: None,
            knn_every: 3,
            knn_k: 200,
            knn_temperature: 0.1,
            knn_features: KnnFeatures::Backbone,
        }
    }
}

/// A configuration value that cannot be used, or a configuration that cannot be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// One value out of range; `key` is the field (`snake_case`; the CLI shows `--key`).
    #[error("{key} = {value}: {message}")]
    Invalid {
        /// The field.
        key: String,
        /// Its value, as written.
        value: String,
        /// What is wrong and what to use instead.
        message: String,
    },
    /// A name that is not a preset.
    #[error("unknown preset `{name}`: use one of {}", super::presets::PRESETS.join(", "))]
    UnknownPreset {
        /// The name given.
        name: String,
    },
    /// A configuration document (TOML file, JS object, JSON) that does not describe a run:
    /// unknown keys, wrong types.
    #[error("{0}")]
    Parse(String),
}

fn invalid(key: &str, value: impl std::fmt::Display, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { key: key.into(), value: value.to_string(), message: message.into() }
}

/// Checks `value` with `ok`, else an [`ConfigError::Invalid`] for `key`.
fn check<T: std::fmt::Display + Copy>(key: &str, value: T, ok: bool, message: &str) -> Result<(), ConfigError> {
    if ok { Ok(()) } else { Err(invalid(key, value, message)) }
}

fn positive(key: &str, value: f64, hint: &str) -> Result<(), ConfigError> {
    check(key, value, value.is_finite() && value > 0.0, &format!("must be a positive number ({hint})"))
}

/// The keys that may differ between a run and its resumption: how long it trains, where
/// its data lives, and how the monitor measures it. Everything else must stay.
pub const RESUMABLE_CHANGES: &[&str] = &["epochs", "data_dir", "knn_every", "knn_k", "knn_temperature", "knn_features"];

/// Largest `synthetic_per_class`: 20,000 x 10 classes x 32 x 32 x 3 bytes = 614 MB of images.
pub const MAX_SYNTHETIC_PER_CLASS: usize = 20_000;
/// Largest `projection_dim`.
pub const MAX_PROJECTION_DIM: usize = 8192;
/// Largest `epochs`.
pub const MAX_EPOCHS: usize = 100_000;
/// Largest `batch`.
pub const MAX_BATCH: usize = 65_536;
/// Largest MoCo `queue` (2^24 keys).
pub const MAX_QUEUE: usize = 1 << 24;
/// Largest queue in bytes (`queue` x `projection_dim` x 4): 4 GiB.
pub const MAX_QUEUE_BYTES: u64 = 4 << 30;
/// Largest `samples` (memory-bank draws per anchor; 2^20).
pub const MAX_SAMPLES: usize = 1 << 20;
/// Largest `mochi_mixes` and `mochi_query_mixes`.
pub const MAX_MIXES: usize = 65_536;
/// Largest `knn_k`.
pub const MAX_KNN_K: usize = 100_000;

impl TrainConfig {
    /// Checks every value (before any work starts); the error names the first bad key.
    /// Every count has an upper bound (the `MAX_*` constants) so that no size computed from
    /// a configuration overflows or asks for more memory than a machine has.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check(
            "synthetic_per_class",
            self.synthetic_per_class,
            (1..=MAX_SYNTHETIC_PER_CLASS).contains(&self.synthetic_per_class),
            &format!("must be in 1..={MAX_SYNTHETIC_PER_CLASS} (CIFAR-10 has 5,000 per class)"),
        )?;
        if let Some(n) = self.train_subset {
            check("train_subset", n, n >= 2, "must be at least 2 images (or unset for the whole split)")?;
        }
        check("image_size", self.image_size, (8..=512).contains(&self.image_size), "must be in 8..=512 pixels")?;
        check(
            "projection_dim",
            self.projection_dim,
            (1..=MAX_PROJECTION_DIM).contains(&self.projection_dim),
            &format!("must be in 1..={MAX_PROJECTION_DIM} (MoCo uses 128)"),
        )?;
        check("epochs", self.epochs, (1..=MAX_EPOCHS).contains(&self.epochs), &format!("must be in 1..={MAX_EPOCHS}"))?;
        check("batch", self.batch, (1..=MAX_BATCH).contains(&self.batch), &format!("must be in 1..={MAX_BATCH}"))?;
        if let Some(queue) = self.queue {
            check(
                "queue",
                queue,
                queue >= self.batch,
                &format!("must hold at least one batch ({}); raise queue or lower batch", self.batch),
            )?;
            check("queue", queue, queue <= MAX_QUEUE, &format!("must be at most {MAX_QUEUE} keys (the paper uses 65,536)"))?;
            let bytes = queue as u64 * self.projection_dim as u64 * 4;
            check(
                "queue",
                queue,
                bytes <= MAX_QUEUE_BYTES,
                &format!(
                    "with projection_dim {} the queue would take {:.1} GiB (queue x projection_dim x 4 bytes), more than the {} GiB allowed; lower queue or projection_dim",
                    self.projection_dim,
                    bytes as f64 / (1u64 << 30) as f64,
                    MAX_QUEUE_BYTES >> 30
                ),
            )?;
        }
        check(
            "samples",
            self.samples,
            (2..=MAX_SAMPLES).contains(&self.samples),
            &format!("must be in 2..={MAX_SAMPLES} (the anchor's own entry and at least one negative; IR uses 4096)"),
        )?;
        check(
            "bank_momentum",
            self.bank_momentum,
            (0.0..1.0).contains(&self.bank_momentum),
            "must be in [0, 1) (the authors' code: 0; original IR: 0.5)",
        )?;
        positive("temperature", self.temperature, "MoCo uses 0.07")?;
        check("tau_plus", self.tau_plus, (0.0..1.0).contains(&self.tau_plus), "must be in [0, 1) (the class prior; 0.1 for 10 classes)")?;
        if self.mochi_hardest > 0 {
            let moco = matches!(self.method, MethodKind::Moco | MethodKind::Mocoring);
            check(
                "mochi_hardest",
                self.mochi_hardest,
                moco,
                "hard-negative mixing mixes MoCo queue entries: use method moco or mocoring, or 0",
            )?;
            check(
                "mochi_mixes",
                self.mochi_mixes,
                self.mochi_mixes <= MAX_MIXES,
                &format!("must be at most {MAX_MIXES} (MoCHi uses 256)"),
            )?;
            check(
                "mochi_query_mixes",
                self.mochi_query_mixes,
                self.mochi_query_mixes <= MAX_MIXES,
                &format!("must be at most {MAX_MIXES} (MoCHi uses 128)"),
            )?;
            check(
                "mochi_mixes",
                self.mochi_mixes,
                self.mochi_mixes + self.mochi_query_mixes > 0,
                "mochi_mixes and mochi_query_mixes are both 0: nothing to mix",
            )?;
        }
        check("hcl_beta", self.hcl_beta, self.hcl_beta.is_finite() && self.hcl_beta >= 0.0, "must be a number >= 0 (0 is dcl)")?;
        check(
            "key_momentum",
            self.key_momentum,
            (0.0..=1.0).contains(&self.key_momentum),
            "must be in [0, 1] (MoCo uses 0.999; 0.99 for short runs)",
        )?;
        self.ring_schedule()?;
        positive("lr", self.lr, "MoCo uses 0.03 at batch 256")?;
        check("sgd_momentum", self.sgd_momentum, (0.0..1.0).contains(&self.sgd_momentum), "must be in [0, 1) (usually 0.9)")?;
        check(
            "weight_decay",
            self.weight_decay,
            self.weight_decay.is_finite() && self.weight_decay >= 0.0,
            "must be 0 or a positive number (usually 1e-4)",
        )?;
        let milestones = format!("{:?}", self.lr_milestones);
        if self.lr_milestones.iter().any(|f| !(f.is_finite() && *f > 0.0 && *f < 1.0))
            || self.lr_milestones.windows(2).any(|w| w[0] >= w[1])
        {
            return Err(invalid("lr_milestones", milestones, "must be increasing fractions of the run in (0, 1), e.g. 0.68,0.83"));
        }
        check(
            "warmup_epochs",
            self.warmup_epochs,
            self.warmup_epochs.is_finite() && self.warmup_epochs >= 0.0 && self.warmup_epochs < self.epochs as f64,
            "must be 0 or more, and fewer than the epochs",
        )?;
        check("seed", self.seed, self.seed <= i64::MAX as u64, "must be below 2^63 (configuration files hold 64-bit signed integers)")?;
        check("blur", self.blur, (0.0..=1.0).contains(&self.blur), "is a probability: must be in [0, 1] (MoCo v2 uses 0.5)")?;
        check("knn_every", self.knn_every, self.knn_every >= 1, "must be at least 1 epoch")?;
        check(
            "knn_k",
            self.knn_k,
            (1..=MAX_KNN_K).contains(&self.knn_k),
            &format!("must be in 1..={MAX_KNN_K} neighbours (200 is usual; 1 gives nearest-neighbour accuracy)"),
        )?;
        check(
            "knn_temperature",
            self.knn_temperature,
            self.knn_temperature.is_finite() && (1e-3..=100.0).contains(&self.knn_temperature),
            "must be in [0.001, 100] (usually 0.1; below 0.001 every weight but the nearest underflows to 0)",
        )?;
        Ok(())
    }

    /// MoCHi's settings, when `mochi_hardest` > 0.
    pub fn hard_negative_mixing(&self) -> Option<crate::mixing::HardNegativeMixing> {
        (self.mochi_hardest > 0).then_some(crate::mixing::HardNegativeMixing {
            hardest: self.mochi_hardest,
            mixes: self.mochi_mixes,
            query_mixes: self.mochi_query_mixes,
        })
    }

    /// The augmentation of the training views: MoCo v2's recipe at `image_size` with
    /// `blur`, colour as `color_jitter` and the method say (CMC: no grayscale ever, and
    /// no jitter unless asked).
    pub fn augment_spec(&self) -> crate::augment::AugmentSpec {
        let base = crate::augment::AugmentSpec { size: self.image_size, blur_p: self.blur, ..Default::default() };
        let cmc = matches!(self.method, MethodKind::Cmc | MethodKind::Cmcring);
        let jitter = self.color_jitter.unwrap_or(!cmc);
        crate::augment::AugmentSpec {
            jitter_p: if jitter { base.jitter_p } else { 0.0 },
            grayscale_p: if jitter && !cmc { base.grayscale_p } else { 0.0 },
            ..base
        }
    }

    /// The loss over the chosen negatives, from `objective`, `tau_plus` and `hcl_beta`.
    pub fn loss_objective(&self) -> crate::objective::Objective {
        use crate::objective::Objective;
        match self.objective {
            ObjectiveKind::Nce => Objective::Nce,
            ObjectiveKind::Dcl => Objective::Debiased { tau_plus: self.tau_plus },
            ObjectiveKind::Hcl => Objective::HardNegatives { tau_plus: self.tau_plus, beta: self.hcl_beta },
        }
    }

    /// The ring target and its annealing, validated (also for methods without a ring, so
    /// that a bad value is caught whichever method a config names).
    pub fn ring_schedule(&self) -> Result<RingSchedule, ConfigError> {
        let target = match self.inner_fraction {
            Some(f) => {
                let (key, value) = if (0.0..1.0).contains(&f) { ("upper", self.upper) } else { ("inner_fraction", f) };
                RingSpec::with_inner(self.upper, InnerCut::FractionOfOuter(f)).map_err(|e| invalid(key, value, e.to_string()))?
            }
            None => RingSpec::new(self.lower, self.upper).map_err(|e| {
                let upper_ok = self.upper.is_finite() && self.upper > 0.0 && self.upper <= 100.0;
                if upper_ok { invalid("lower", self.lower, e.to_string()) } else { invalid("upper", self.upper, e.to_string()) }
            })?,
        };
        let epochs = match self.anneal_epochs {
            Some(e) => {
                check("anneal_epochs", e, e.is_finite() && e > 0.0, "must be a positive number of epochs")?;
                e
            }
            None => self.epochs.max(1) as f64 / 2.0,
        };
        let policy = match self.anneal {
            Anneal::None => AnnealPolicy::None,
            Anneal::Linear => AnnealPolicy::Linear { epochs },
            Anneal::Step => AnnealPolicy::Step { epochs, steps: 4 },
            Anneal::Exponential => AnnealPolicy::Exponential { epochs },
        };
        RingSchedule::new(target, policy).map_err(|e| invalid("anneal_epochs", epochs, e.to_string()))
    }

    /// The configuration a run on `train_len` training images actually uses: defaults
    /// that depend on the data (queue size) or the run length (annealing length) made
    /// explicit, so that what a run records is what it used. Validates first.
    pub fn resolved(&self, train_len: usize) -> Result<TrainConfig, ConfigError> {
        self.validate()?;
        let mut config = self.clone();
        let images = config.train_subset.map_or(train_len, |n| n.min(train_len));
        if images < 2 * config.batch {
            return Err(invalid(
                "batch",
                config.batch,
                format!("{images} training images are too few for batches of {}: lower batch (at most {})", config.batch, images / 2),
            ));
        }
        // Only MoCo has a queue: a run records the size it uses, or none.
        config.queue = match config.method {
            MethodKind::Moco | MethodKind::Mocoring => Some(config.queue.unwrap_or_else(|| 4096.min(images / 2).max(config.batch))),
            _ => None,
        };
        if config.anneal_epochs.is_none() {
            config.anneal_epochs = Some(config.epochs as f64 / 2.0);
        }
        Ok(config)
    }

    /// `self` as the configuration of a resumed run saved as `saved`: the defaults that
    /// resolution fills in (queue size, annealing length), where unset here, keep the
    /// values the run used, so that a longer run does not change them.
    pub fn continuing(&self, saved: &TrainConfig) -> TrainConfig {
        TrainConfig { queue: self.queue.or(saved.queue), anneal_epochs: self.anneal_epochs.or(saved.anneal_epochs), ..self.clone() }
    }

    /// The keys whose values differ between `self` (a run's saved configuration) and
    /// `now`, as `key (saved X, now Y)`, leaving out [`RESUMABLE_CHANGES`].
    pub fn changes_from(&self, now: &TrainConfig) -> Vec<String> {
        let (saved, now) = (to_map(self), to_map(now));
        let mut changes: Vec<String> = saved
            .iter()
            .filter(|(key, value)| !RESUMABLE_CHANGES.contains(&key.as_str()) && now.get(*key) != Some(value))
            .map(|(key, value)| {
                let now = now.get(key).map_or_else(|| "unset".to_string(), show);
                format!("{key} (saved {}, now {now})", show(value))
            })
            .collect();
        changes.sort();
        changes
    }

    /// Reads a configuration from a JSON value (a browser's config object, a checkpoint
    /// header): missing keys take their defaults, unknown keys are refused.
    pub fn from_json(value: serde_json::Value) -> Result<TrainConfig, ConfigError> {
        serde_json::from_value(value).map_err(|e| ConfigError::Parse(e.to_string()))
    }
}

fn to_map(config: &TrainConfig) -> serde_json::Map<String, serde_json::Value> {
    match serde_json::to_value(config) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => unreachable!("a TrainConfig serialises to a JSON object"),
    }
}

fn show(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => "unset".into(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(config: TrainConfig) -> ConfigError {
        config.validate().unwrap_err()
    }

    fn key_of(e: ConfigError) -> String {
        match e {
            ConfigError::Invalid { key, .. } => key,
            other => panic!("{other}"),
        }
    }

    #[test]
    fn defaults_are_valid_and_round_trip() {
        let config = TrainConfig::default();
        config.validate().unwrap();
        let json = serde_json::to_value(&config).unwrap();
        assert_eq!(TrainConfig::from_json(json).unwrap(), config);
        assert_eq!(TrainConfig::from_json(serde_json::json!({"epochs": 3})).unwrap().epochs, 3);
    }

    #[test]
    fn unknown_keys_are_refused_by_name() {
        let e = TrainConfig::from_json(serde_json::json!({"bogus_key": 1})).unwrap_err().to_string();
        assert!(e.contains("unknown field `bogus_key`"), "{e}");
    }

    #[test]
    fn bad_values_name_their_key() {
        let base = TrainConfig::default;
        assert_eq!(key_of(err(TrainConfig { temperature: -1.0, ..base() })), "temperature");
        assert_eq!(key_of(err(TrainConfig { lr: f64::NAN, ..base() })), "lr");
        assert_eq!(key_of(err(TrainConfig { key_momentum: 2.0, ..base() })), "key_momentum");
        assert_eq!(key_of(err(TrainConfig { knn_k: 0, ..base() })), "knn_k");
        assert_eq!(key_of(err(TrainConfig { queue: Some(10), batch: 50, ..base() })), "queue");
        assert_eq!(key_of(err(TrainConfig { lower: 10.0, upper: 5.0, ..base() })), "lower");
        assert_eq!(key_of(err(TrainConfig { upper: 150.0, ..base() })), "upper");
        assert_eq!(key_of(err(TrainConfig { inner_fraction: Some(1.0), ..base() })), "inner_fraction");
        assert_eq!(key_of(err(TrainConfig { anneal_epochs: Some(0.0), ..base() })), "anneal_epochs");
        assert_eq!(key_of(err(TrainConfig { lr_milestones: vec![0.8, 0.5], ..base() })), "lr_milestones");
        assert_eq!(key_of(err(TrainConfig { blur: 1.5, ..base() })), "blur");
        assert_eq!(key_of(err(TrainConfig { knn_every: 0, ..base() })), "knn_every");
        let message = err(TrainConfig { lower: 10.0, upper: 10.0, ..base() }).to_string();
        assert!(message.contains("lower = 10") && message.contains("must be smaller than u"), "{message}");
    }

    #[test]
    fn resolving_makes_data_dependent_defaults_explicit() {
        let config = TrainConfig { epochs: 10, ..TrainConfig::default() }.resolved(1000).unwrap();
        assert_eq!(config.queue, Some(500));
        assert_eq!(config.anneal_epochs, Some(5.0));
        let big = TrainConfig::default().resolved(100_000).unwrap();
        assert_eq!(big.queue, Some(4096));
        let e = TrainConfig { batch: 60, ..TrainConfig::default() }.resolved(100).unwrap_err().to_string();
        assert!(e.contains("too few for batches of 60"), "{e}");
    }

    #[test]
    fn changes_name_keys_but_allow_run_length_and_monitor() {
        let saved = TrainConfig::default();
        let now = TrainConfig { epochs: 30, knn_k: 20, batch: 8, ..saved.clone() };
        assert_eq!(saved.changes_from(&now), vec!["batch (saved 50, now 8)".to_string()]);
    }
}
