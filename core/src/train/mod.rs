//! Pieces of a training run that are not tied to one method: the learning-rate
//! schedule, the data order, and the evaluation features of a dataset.

mod features;
mod schedule;

pub use features::extract_features;
pub use crate::rng::permutation;
pub use schedule::{LrPolicy, LrSchedule};
