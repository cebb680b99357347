//! Evaluation of learned features: the weighted kNN monitor, the linear probe, PCA.

mod knn;
mod linear;
mod pca;

pub use knn::{knn_predict, knn_reference, KnnConfig};
pub use linear::{linear_probe, LinearProbeConfig};
pub use pca::{pca, pca_reference, PCA_ITERATIONS};
