//! [`TrainConfig`]: the single description of a training run (method, data, model, ring
//! and annealing, optimiser, schedule, augmentation, monitor), with its validation.
//!
//! The CLI's flags and TOML files, the browser's config objects and checkpoints all
//! (de)serialise this one struct; keys are its field names (`snake_case`). Defaults are
//! the `quick` preset (see [`super::Preset`]).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::model::{EncoderKind, Head};
use crate::ring::{AnnealPolicy, InnerCut, RingSchedule, RingSpec};

mod kinds;
mod resume;
mod validate;

pub use crate::methods::{BankInit, KnnFeatures, MethodKind};
pub use crate::optim::{LrSchedule, LrUpdate};
pub use kinds::{Anneal, DatasetKind, ObjectiveKind};
pub use resume::RESUMABLE_CHANGES;
pub use validate::{
    MAX_BATCH, MAX_EPOCHS, MAX_KNN_K, MAX_MIXES, MAX_PROJECTION_DIM, MAX_QUEUE, MAX_QUEUE_BYTES, MAX_SAMPLES, MAX_SYNTHETIC_PER_CLASS,
};
use validate::{check, invalid};
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
    #[error("unknown preset `{name}`: use one of {known}")]
    UnknownPreset {
        /// The name given.
        name: String,
        /// The presets' names.
        known: String,
    },
    /// A configuration document (TOML file, JS object, JSON) that does not describe a run:
    /// unknown keys, wrong types.
    #[error("{0}")]
    Parse(String),
}
impl TrainConfig {
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
    /// Reads a configuration from a JSON value (a browser's config object, a checkpoint
    /// header): missing keys take their defaults, unknown keys are refused.
    pub fn from_json(value: serde_json::Value) -> Result<TrainConfig, ConfigError> {
        serde_json::from_value(value).map_err(|e| ConfigError::Parse(e.to_string()))
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
