//! Annealing u from 100 (plain NCE) down to its target during training.

use super::{RingError, RingSpec};

/// How u moves from 100 to the target.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AnnealPolicy {
    /// u is the target from the start.
    None,
    /// Linear from 100 to the target over `epochs` (the paper).
    Linear {
        /// Epochs to reach the target.
        epochs: f64,
    },
    /// `steps` equal drops from 100 to the target, spread over `epochs`.
    Step {
        /// Epochs to reach the target.
        epochs: f64,
        /// Number of drops.
        steps: u32,
    },
    /// Geometric from 100 to the target over `epochs` (fast at first, then slow).
    Exponential {
        /// Epochs to reach the target.
        epochs: f64,
    },
}

/// A ring whose u is annealed; the inner cut follows [`InnerCut`] (fixed l, or f * u).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RingSchedule {
    target: RingSpec,
    policy: AnnealPolicy,
}

impl RingSchedule {
    /// Anneal towards `target` with `policy`.
    pub fn new(target: RingSpec, policy: AnnealPolicy) -> Result<Self, RingError> {
        let epochs = match policy {
            AnnealPolicy::None => None,
            AnnealPolicy::Linear { epochs } | AnnealPolicy::Exponential { epochs } => Some(epochs),
            AnnealPolicy::Step { epochs, steps } => {
                if steps == 0 {
                    return Err(RingError::InvalidAnneal("step annealing needs at least 1 step".into()));
                }
                Some(epochs)
            }
        };
        if let Some(epochs) = epochs
            && (!epochs.is_finite() || epochs <= 0.0)
        {
            return Err(RingError::InvalidAnneal(format!("annealing length {epochs} must be a positive number of epochs")));
        }
        Ok(RingSchedule { target, policy })
    }

    /// The paper's schedule: u linear from 100 to 10 over `epochs`, l = 1.
    pub fn paper(epochs: f64) -> Result<Self, RingError> {
        Self::new(RingSpec::paper(), AnnealPolicy::Linear { epochs })
    }

    /// u at (possibly fractional) `epoch`.
    pub fn upper_at(&self, epoch: f64) -> f64 {
        let target = self.target.upper();
        let progress = |epochs: f64| (epoch.max(0.0) / epochs).min(1.0);
        match self.policy {
            AnnealPolicy::None => target,
            AnnealPolicy::Linear { epochs } => 100.0 + (target - 100.0) * progress(epochs),
            AnnealPolicy::Step { epochs, steps } => {
                let done = (progress(epochs) * steps as f64 + 1e-9).floor().min(steps as f64);
                100.0 + (target - 100.0) * done / steps as f64
            }
            AnnealPolicy::Exponential { epochs } => 100.0 * (target / 100.0).powf(progress(epochs)),
        }
    }

    /// The ring in force at `epoch`.
    pub fn spec_at(&self, epoch: f64) -> RingSpec {
        let upper = self.upper_at(epoch);
        // l < target u <= upper (and 0 <= f < 1) hold for every epoch.
        RingSpec::with_inner(upper, self.target.inner()).expect("annealed u stays within [target, 100]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ring::InnerCut;

    #[test]
    fn linear_goes_from_100_to_target() {
        let s = RingSchedule::paper(100.0).unwrap();
        assert_eq!(s.upper_at(0.0), 100.0);
        assert!((s.upper_at(50.0) - 55.0).abs() < 1e-12);
        assert_eq!(s.upper_at(100.0), 10.0);
        assert_eq!(s.upper_at(150.0), 10.0);
        assert_eq!(s.spec_at(0.0).window(4096).len(), 4096 - 40);
    }

    #[test]
    fn step_and_exponential_policies() {
        let target = RingSpec::new(1.0, 10.0).unwrap();
        let step = RingSchedule::new(target, AnnealPolicy::Step { epochs: 90.0, steps: 3 }).unwrap();
        assert_eq!(step.upper_at(0.0), 100.0);
        assert_eq!(step.upper_at(29.9), 100.0);
        assert!((step.upper_at(30.0) - 70.0).abs() < 1e-9);
        assert!((step.upper_at(60.0) - 40.0).abs() < 1e-9);
        assert_eq!(step.upper_at(90.0), 10.0);
        let exp = RingSchedule::new(target, AnnealPolicy::Exponential { epochs: 10.0 }).unwrap();
        assert_eq!(exp.upper_at(0.0), 100.0);
        assert!((exp.upper_at(5.0) - 100.0 * 0.1f64.sqrt()).abs() < 1e-9);
        assert!((exp.upper_at(10.0) - 10.0).abs() < 1e-9);
        let none = RingSchedule::new(target, AnnealPolicy::None).unwrap();
        assert_eq!(none.upper_at(0.0), 10.0);
    }

    #[test]
    fn fraction_of_outer_follows_u() {
        let target = RingSpec::with_inner(10.0, InnerCut::FractionOfOuter(0.1)).unwrap();
        let s = RingSchedule::new(target, AnnealPolicy::Linear { epochs: 10.0 }).unwrap();
        assert!((s.spec_at(0.0).lower() - 10.0).abs() < 1e-12);
        assert!((s.spec_at(10.0).lower() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn bad_schedules_are_rejected() {
        let t = RingSpec::paper();
        assert!(RingSchedule::new(t, AnnealPolicy::Linear { epochs: 0.0 }).is_err());
        assert!(RingSchedule::new(t, AnnealPolicy::Linear { epochs: f64::NAN }).is_err());
        assert!(RingSchedule::new(t, AnnealPolicy::Step { epochs: 5.0, steps: 0 }).is_err());
    }
}
