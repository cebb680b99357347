//! Every value of a [`TrainConfig`] checked before any work starts, each mistake naming its
//! key and what to do, and the ranges that bound every count.

use super::{ConfigError, TrainConfig};
use crate::methods::MethodKind;

pub(super) fn invalid(key: &str, value: impl std::fmt::Display, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { key: key.into(), value: value.to_string(), message: message.into() }
}

/// Checks `value` with `ok`, else an [`ConfigError::Invalid`] for `key`.
pub(super) fn check<T: std::fmt::Display + Copy>(key: &str, value: T, ok: bool, message: &str) -> Result<(), ConfigError> {
    if ok { Ok(()) } else { Err(invalid(key, value, message)) }
}

pub(super) fn positive(key: &str, value: f64, hint: &str) -> Result<(), ConfigError> {
    check(key, value, value.is_finite() && value > 0.0, &format!("must be a positive number ({hint})"))
}
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
}
