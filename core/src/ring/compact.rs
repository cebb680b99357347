//! ring_compact (kernel `shaders/wgsl/ring_compact.wgsl`): each row's ring as a column
//! list. The GPU side is [`super::RingBounds::members`].

use super::bounds::{Pairing, RowRing};
use super::order::order_key;

/// Plain-Rust reference of ring_compact: the ring columns of every row in increasing
/// order, row-major, `ring_len` per row.
pub fn compact_reference(sims: &[f32], rows: usize, cols: usize, rings: &[RowRing], pairing: Pairing) -> Vec<u32> {
    let mut members = Vec::new();
    for (row, ring) in rings.iter().enumerate().take(rows) {
        members.extend(
            (0..cols as u32).filter(|&col| {
                !pairing.excludes(rows, row, col as usize) && ring.contains(order_key(sims[row * cols + col as usize]), col)
            }),
        );
    }
    members
}
