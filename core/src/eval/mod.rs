//! Evaluation of learned features: the weighted kNN monitor and the linear probe.

mod knn;
mod linear;

pub use knn::{knn_predict, knn_reference, KnnConfig};
pub use linear::{linear_probe, LinearProbeConfig};
