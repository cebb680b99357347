//! Learning-rate schedules: optional linear warm-up, then cosine or step decay, changed
//! every step or once per epoch.

use serde::{Deserialize, Serialize};

/// The decay after warm-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum LrSchedule {
    /// Half a cosine from the base rate to 0 at the last epoch.
    Cosine,
    /// x0.1 at each milestone (lr_milestones, fractions of the run).
    Step,
}

/// How often the rate changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum LrUpdate {
    /// At every optimiser step (fractional epochs).
    Step,
    /// At the start of each epoch (the authors' MoCoLRScheduler).
    Epoch,
}

/// A learning-rate policy over a run of `epochs` epochs.
#[derive(Debug, Clone, PartialEq)]
pub struct LrPolicy {
    /// Base learning rate.
    pub base: f64,
    /// Decay.
    pub schedule: LrSchedule,
    /// Step decay: drops at epochs `int(f * epochs)` for each fraction `f`.
    pub milestones: Vec<f64>,
    /// Per step or per epoch.
    pub update: LrUpdate,
    /// Linear warm-up from 0, in epochs (0: none).
    pub warmup_epochs: f64,
    /// Length of the run, in epochs.
    pub epochs: f64,
}

impl LrPolicy {
    /// The rate at (fractional) `epoch`.
    pub fn at(&self, epoch: f64) -> f64 {
        let epoch = match self.update {
            LrUpdate::Step => epoch,
            LrUpdate::Epoch => epoch.floor(),
        };
        if self.warmup_epochs > 0.0 && epoch < self.warmup_epochs {
            return self.base * (epoch.max(0.0) / self.warmup_epochs);
        }
        match self.schedule {
            LrSchedule::Cosine => {
                let span = (self.epochs - self.warmup_epochs).max(f64::MIN_POSITIVE);
                let t = ((epoch - self.warmup_epochs) / span).clamp(0.0, 1.0);
                self.base * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
            }
            LrSchedule::Step => {
                let drops = self.milestones.iter().filter(|&&f| epoch >= (f * self.epochs + 1e-9).floor()).count();
                self.base * 0.1f64.powi(drops as i32)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(schedule: LrSchedule, update: LrUpdate, warmup_epochs: f64, epochs: f64) -> LrPolicy {
        LrPolicy { base: 0.1, schedule, milestones: vec![0.68, 0.83], update, warmup_epochs, epochs }
    }

    #[test]
    fn cosine_with_warmup() {
        let p = policy(LrSchedule::Cosine, LrUpdate::Step, 2.0, 12.0);
        assert_eq!(p.at(0.0), 0.0);
        assert!((p.at(1.0) - 0.05).abs() < 1e-12);
        assert!((p.at(2.0) - 0.1).abs() < 1e-12);
        assert!((p.at(7.0) - 0.05).abs() < 1e-12);
        assert!(p.at(12.0).abs() < 1e-12);
    }

    /// The authors' MoCoLRScheduler for 200 epochs: x0.1 from epoch int(0.68 * 200) = 136
    /// and again from int(0.83 * 200) = 166, constant within an epoch.
    #[test]
    fn step_schedule_of_the_authors() {
        let p = LrPolicy { base: 0.03, ..policy(LrSchedule::Step, LrUpdate::Epoch, 0.0, 200.0) };
        assert_eq!(p.at(135.99), 0.03);
        assert!((p.at(136.0) - 0.003).abs() < 1e-15);
        assert!((p.at(165.5) - 0.003).abs() < 1e-15);
        assert!((p.at(166.0) - 0.0003).abs() < 1e-15);
        let cosine = policy(LrSchedule::Cosine, LrUpdate::Epoch, 0.0, 10.0);
        assert_eq!(cosine.at(2.0), cosine.at(2.9), "per-epoch updates hold the rate within an epoch");
    }
}
