//! Ring: conditional negative sampling.
//!
//! For each anchor (row), rank its candidates from most to least similar and keep those
//! ranked between the l% and u% marks: positions `[floor(l/100*N), floor(u/100*N))` of the
//! row sorted by decreasing similarity. l = 0, u = 100 is every candidate (plain NCE).
//!
//! Order and ties (shared by the kernels and the references): candidates are ordered by
//! similarity, highest first; equal similarities by column, smaller first; `-0.0` equals
//! `+0.0`; NaN ranks after `-inf` (least similar). This is a total order, so every row's
//! ring holds exactly `hi - lo` candidates, whatever the ties.
//!
//! Each GPU kernel (`shaders/wgsl/ring_*.wgsl`) has a plain-Rust `*_reference` here that
//! returns bit-identical results; the tests compare both.

mod anneal;
mod bounds;
mod compact;
mod error;
mod loss;
mod mask;
mod order;
mod params;
mod percentiles;
mod sample;
mod select;

pub use anneal::{AnnealPolicy, RingSchedule};
pub use bounds::{Pairing, RingBounds, RowRing};
pub use compact::compact_reference;
pub use error::RingError;
pub use loss::{LossReference, Negatives, NegativesRef, ring_nce_loss, ring_nce_loss_reference};
pub use mask::mask_reference;
pub use order::{order_key, random_bits, uniform_below};
pub use params::RingParams;
pub use percentiles::{InnerCut, RingSpec, RingWindow};
pub use sample::sample_reference;
pub use select::{ring_select, ring_select_positions, select_reference};

/// Cosine similarities of L2-normalised anchors `q` (B x D) against candidates `k`
/// (N x D): the B x N matrix `q k^T`, computed by burn on the shared device.
pub fn similarities(q: burn::tensor::Tensor<2>, k: burn::tensor::Tensor<2>) -> burn::tensor::Tensor<2> {
    q.matmul(k.transpose())
}
