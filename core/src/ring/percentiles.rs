//! Ring percentiles: which ranks of a row form its ring.

use super::RingError;

/// How the inner cut (the l% mark) is given.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum InnerCut {
    /// l in percent of the pool, `0 <= l < u` (the paper: l = 1).
    Percent(f64),
    /// l as a fraction f of the outer set: positions `[floor(f*U), U)` with
    /// `U = floor(u/100*N)`. The authors' code uses f = 0.1 (l = u/10). `0 <= f < 1`.
    FractionOfOuter(f64),
}

/// The ring, in percentiles of the candidate pool.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RingSpec {
    upper: f64,
    inner: InnerCut,
}

/// Integer ring positions for a pool of `pool` candidates: positions `[lo, hi)` of the
/// row sorted by decreasing similarity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingWindow {
    /// First ring position.
    pub lo: usize,
    /// One past the last ring position.
    pub hi: usize,
    /// Candidates per row.
    pub pool: usize,
}

impl RingWindow {
    /// Candidates in the ring.
    pub fn len(&self) -> usize {
        self.hi.saturating_sub(self.lo)
    }

    /// True when the ring holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `floor(percent / 100 * n)`, robust to decimal percentages such as 0.3 (which f64
/// cannot hold exactly): a relative slack of 1e-9 before flooring.
fn percent_of(percent: f64, n: usize) -> usize {
    let exact = percent / 100.0 * n as f64;
    ((exact + 1e-9 * exact.abs().max(1.0)).floor() as usize).min(n)
}

impl RingSpec {
    /// Ring between the `lower`% and `upper`% marks: `0 <= lower < upper <= 100`.
    pub fn new(lower: f64, upper: f64) -> Result<Self, RingError> {
        Self::with_inner(upper, InnerCut::Percent(lower))
    }

    /// Ring with an explicit inner cut.
    pub fn with_inner(upper: f64, inner: InnerCut) -> Result<Self, RingError> {
        if !upper.is_finite() || upper <= 0.0 || upper > 100.0 {
            return Err(RingError::InvalidPercentiles(format!(
                "u = {upper} must be in (0, 100] (the top u% most similar candidates form the outer cut)"
            )));
        }
        match inner {
            InnerCut::Percent(lower) => {
                if !lower.is_finite() || lower < 0.0 {
                    return Err(RingError::InvalidPercentiles(format!("l = {lower} must be in [0, u)")));
                }
                if lower >= upper {
                    return Err(RingError::InvalidPercentiles(format!(
                        "l = {lower} must be smaller than u = {upper} (the ring keeps ranks between the l% and u% marks; e.g. l = 1, u = 10)"
                    )));
                }
            }
            InnerCut::FractionOfOuter(f) => {
                if !f.is_finite() || !(0.0..1.0).contains(&f) {
                    return Err(RingError::InvalidPercentiles(format!("inner fraction {f} must be in [0, 1) (0.1 means l = u/10)")));
                }
            }
        }
        Ok(RingSpec { upper, inner })
    }

    /// l = 0, u = 100: every candidate (plain NCE).
    pub fn plain_nce() -> Self {
        RingSpec { upper: 100.0, inner: InnerCut::Percent(0.0) }
    }

    /// The paper's target ring: l = 1, u = 10.
    pub fn paper() -> Self {
        RingSpec { upper: 10.0, inner: InnerCut::Percent(1.0) }
    }

    /// u, in percent.
    pub fn upper(&self) -> f64 {
        self.upper
    }

    /// The inner cut.
    pub fn inner(&self) -> InnerCut {
        self.inner
    }

    /// l in percent (for a fraction-of-outer cut: f * u).
    pub fn lower(&self) -> f64 {
        match self.inner {
            InnerCut::Percent(l) => l,
            InnerCut::FractionOfOuter(f) => f * self.upper,
        }
    }

    /// Integer positions for a pool of `pool` candidates.
    pub fn window(&self, pool: usize) -> RingWindow {
        let hi = percent_of(self.upper, pool);
        let lo = match self.inner {
            InnerCut::Percent(l) => percent_of(l, pool),
            InnerCut::FractionOfOuter(f) => ((f * hi as f64 + 1e-9).floor() as usize).min(hi),
        };
        RingWindow { lo, hi, pool }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paper_ring_on_a_queue_of_4096() {
        let w = RingSpec::paper().window(4096);
        assert_eq!((w.lo, w.hi), (40, 409));
        let w = RingSpec::with_inner(10.0, InnerCut::FractionOfOuter(0.1)).unwrap().window(4096);
        assert_eq!((w.lo, w.hi), (40, 409));
    }

    #[test]
    fn plain_nce_is_every_candidate() {
        for n in [0, 1, 7, 4096, 65_536] {
            assert_eq!(RingSpec::plain_nce().window(n), RingWindow { lo: 0, hi: n, pool: n });
            assert_eq!(RingSpec::new(0.0, 100.0).unwrap().window(n).len(), n);
        }
    }

    #[test]
    fn decimal_percentages_floor_as_written() {
        assert_eq!(RingSpec::new(0.3, 0.7).unwrap().window(1000), RingWindow { lo: 3, hi: 7, pool: 1000 });
        assert_eq!(RingSpec::new(1.0, 10.0).unwrap().window(70), RingWindow { lo: 0, hi: 7, pool: 70 });
        assert_eq!(RingSpec::new(1.0, 10.0).unwrap().window(99), RingWindow { lo: 0, hi: 9, pool: 99 });
    }

    #[test]
    fn invalid_percentiles_say_what_to_do() {
        let err = RingSpec::new(10.0, 10.0).unwrap_err().to_string();
        assert!(err.contains("must be smaller than u"), "{err}");
        assert!(RingSpec::new(20.0, 10.0).is_err());
        assert!(RingSpec::new(-1.0, 10.0).is_err());
        assert!(RingSpec::new(0.0, 0.0).is_err());
        assert!(RingSpec::new(0.0, 100.5).is_err());
        assert!(RingSpec::new(f64::NAN, 10.0).is_err());
        assert!(RingSpec::new(1.0, f64::INFINITY).is_err());
        assert!(RingSpec::with_inner(10.0, InnerCut::FractionOfOuter(1.0)).is_err());
        assert!(RingSpec::with_inner(10.0, InnerCut::FractionOfOuter(-0.1)).is_err());
    }

    #[test]
    fn tiny_pools_can_have_empty_rings() {
        let w = RingSpec::paper().window(5);
        assert_eq!((w.lo, w.hi), (0, 0));
        assert!(w.is_empty());
    }
}
