use thiserror::Error;

use crate::gpu::GpuError;

/// Errors of ring sampling and the ring loss.
#[derive(Debug, Error)]
pub enum RingError {
    /// Percentiles out of range.
    #[error("invalid ring percentiles: {0}")]
    InvalidPercentiles(String),
    /// Annealing settings out of range.
    #[error("invalid ring annealing: {0}")]
    InvalidAnneal(String),
    /// Tensor shapes that do not fit together.
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// Sampling was asked from a ring with no candidate.
    #[error(
        "the ring is empty: {pool} candidates per row keep positions [{lo}, {hi}); \
         raise u, lower l, or use more candidates (a larger queue or memory bank)"
    )]
    EmptyRing {
        /// Candidates per row.
        pool: usize,
        /// First ring position.
        lo: usize,
        /// One past the last ring position.
        hi: usize,
    },
    /// The problem does not fit one launch.
    #[error("too large for one launch: {0}")]
    TooLarge(String),
    /// The loss is not finite.
    #[error("the loss is {0}: check the inputs for NaN/inf, lower the learning rate, or raise the temperature")]
    NonFiniteLoss(f64),
    /// A GPU failure.
    #[error(transparent)]
    Gpu(#[from] GpuError),
}
