//! ring_sample (kernel `shaders/wgsl/ring_sample.wgsl`): IRing's uniform draws from
//! each row's ring. The GPU side is [`super::RingBounds::sample`].

use super::order::uniform_below;

/// Plain-Rust reference of ring_sample: `samples` draws per row from `members`
/// (row-major, `ring_len` per row, as from ring_compact), with replacement.
pub fn sample_reference(members: &[u32], rows: usize, ring_len: usize, samples: usize, seed: u64) -> Vec<u32> {
    let mut drawn = Vec::with_capacity(rows * samples);
    for row in 0..rows {
        for draw in 0..samples {
            let pick = uniform_below(ring_len as u32, seed, row as u32, draw as u32) as usize;
            drawn.push(members[row * ring_len + pick]);
        }
    }
    drawn
}
