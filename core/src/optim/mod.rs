//! The optimiser and its learning-rate schedules, below the methods that step them: SGD
//! with momentum and weight decay (state as tensors by parameter path, for checkpoints) and
//! cosine or step decay with warm-up.

mod schedule;
mod sgd;

pub use schedule::{LrPolicy, LrSchedule, LrUpdate};
pub use sgd::{Sgd, SgdSettings};
