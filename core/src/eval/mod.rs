//! Evaluation of learned features: the weighted kNN monitor.

mod knn;

pub use knn::{knn_predict, knn_reference, KnnConfig};
