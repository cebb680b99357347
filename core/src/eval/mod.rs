//! Evaluation of learned features: the weighted kNN monitor, the linear probe, PCA.

mod knn;
mod linear;
mod pca;

pub use knn::{knn_predict, knn_reference, knn_top1, top1, KnnConfig};
pub use linear::{linear_probe, LinearProbeConfig};
pub use pca::{pca, pca_reference, PCA_ITERATIONS};
