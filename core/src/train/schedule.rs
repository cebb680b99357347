//! Learning-rate schedules: optional linear warm-up, then cosine or step decay.

/// The decay after warm-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LrSchedule {
    /// Half a cosine from the base rate to 0 at the last epoch.
    Cosine,
    /// x0.1 at 2/3 and again at 5/6 of training.
    Step,
}

/// A learning-rate policy over a run of `epochs` epochs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LrPolicy {
    /// Base learning rate.
    pub base: f64,
    /// Decay.
    pub schedule: LrSchedule,
    /// Linear warm-up from 0, in epochs (0: none).
    pub warmup_epochs: f64,
    /// Length of the run, in epochs.
    pub epochs: f64,
}

impl LrPolicy {
    /// The rate at (fractional) `epoch`.
    pub fn at(&self, epoch: f64) -> f64 {
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
                let drops = [2.0 / 3.0, 5.0 / 6.0].iter().filter(|&&f| epoch >= f * self.epochs).count();
                self.base * 0.1f64.powi(drops as i32)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_with_warmup() {
        let p = LrPolicy { base: 0.1, schedule: LrSchedule::Cosine, warmup_epochs: 2.0, epochs: 12.0 };
        assert_eq!(p.at(0.0), 0.0);
        assert!((p.at(1.0) - 0.05).abs() < 1e-12);
        assert!((p.at(2.0) - 0.1).abs() < 1e-12);
        assert!((p.at(7.0) - 0.05).abs() < 1e-12);
        assert!(p.at(12.0).abs() < 1e-12);
    }

    #[test]
    fn step_drops_at_two_thirds_and_five_sixths() {
        let p = LrPolicy { base: 0.03, schedule: LrSchedule::Step, warmup_epochs: 0.0, epochs: 12.0 };
        assert_eq!(p.at(7.9), 0.03);
        assert!((p.at(8.0) - 0.003).abs() < 1e-15);
        assert!((p.at(10.0) - 0.0003).abs() < 1e-15);
    }
}
