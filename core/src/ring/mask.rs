//! ring_mask (kernel `shaders/wgsl/ring_mask.wgsl`): the MoCoRing / SimCLR-Ring mask.
//! The GPU side is [`super::RingBounds::mask`].

use super::bounds::{Pairing, RowRing};
use super::order::order_key;
use crate::cpu::parallel::per_image;

/// Plain-Rust reference of ring_mask: 1.0 where the candidate is in its row's ring (rows
/// in parallel on native targets: each row's values depend on that row alone; this is also
/// the CPU backend's mask).
pub fn mask_reference(sims: &[f32], rows: usize, cols: usize, rings: &[RowRing], pairing: Pairing) -> Vec<f32> {
    let mut mask = vec![0.0; rows * cols];
    if cols == 0 {
        return mask;
    }
    per_image(&mut mask[..rings.len().min(rows) * cols], cols, |row, out| {
        let ring = &rings[row];
        for (col, m) in out.iter_mut().enumerate() {
            let inside = !pairing.excludes(rows, row, col) && ring.contains(order_key(sims[row * cols + col]), col as u32);
            *m = if inside { 1.0 } else { 0.0 };
        }
    });
    mask
}
