//! Evaluation of learned features: the weighted kNN monitor, the linear probe, PCA, and
//! one anchor's ring for display.

mod knn;
mod linear;
mod pca;
mod ring_view;

pub use knn::{KnnConfig, knn_predict, knn_reference, knn_top1, top1};
pub use linear::{LinearProbeConfig, linear_probe};
pub use pca::{PCA_ITERATIONS, pca, pca_reference};
pub use ring_view::{RingPlace, RingView, ring_view, ring_view_reference};
