//! ring_mask (kernel `shaders/wgsl/ring_mask.wgsl`): the MoCoRing / SimCLR-Ring mask.
//! The GPU side is [`super::RingBounds::mask`].

use super::bounds::{Pairing, RowRing};
use super::order::order_key;

/// Plain-Rust reference of ring_mask: 1.0 where the candidate is in its row's ring.
pub fn mask_reference(sims: &[f32], rows: usize, cols: usize, rings: &[RowRing], pairing: Pairing) -> Vec<f32> {
    let mut mask = vec![0.0; rows * cols];
    for (row, ring) in rings.iter().enumerate().take(rows) {
        for col in 0..cols {
            let inside = !pairing.excludes(rows, row, col) && ring.contains(order_key(sims[row * cols + col]), col as u32);
            mask[row * cols + col] = if inside { 1.0 } else { 0.0 };
        }
    }
    mask
}
