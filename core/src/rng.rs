//! SplitMix64: a small seedable generator for host-side randomness (augmentation draws,
//! procedural images). Not for the kernels, which use the counter-based PCG hash of
//! `common.wgsl`. [`seeded`] guards burn's own generator, which draws the initial weights.

use std::sync::{Mutex, PoisonError};

use burn::tensor::Device;

/// Runs `draw` with burn's random generator for `device` seeded with `seed`, and no other
/// thread drawing from it in between. burn keeps one generator per device, shared by every
/// thread of the process: two runs seeded and built at once on two threads (tests, or a
/// program training two models side by side) would otherwise take each other's draws, and
/// their initial weights would depend on timing instead of on their seeds. Every run's
/// construction goes through here; draw through it too when building burn modules of your
/// own beside running trainers. burn draws a module's weights lazily, at their first use:
/// read each parameter once inside `draw` (`Param::val`), or they come from whatever the
/// generator holds at that later moment.
pub fn seeded<T>(device: &Device, seed: u64, draw: impl FnOnce() -> T) -> T {
    static GENERATOR: Mutex<()> = Mutex::new(());
    let _only_this_thread = GENERATOR.lock().unwrap_or_else(PoisonError::into_inner);
    device.seed(seed);
    draw()
}

/// A uniformly random permutation of `0..n` (Fisher-Yates), reproducible from `seed`.
pub fn permutation(n: usize, seed: u64) -> Vec<u32> {
    let mut rng = SplitMix64(seed);
    let mut order: Vec<u32> = (0..n as u32).collect();
    for i in (1..n).rev() {
        order.swap(i, rng.up_to(i as u64) as usize);
    }
    order
}

/// SplitMix64 (Steele, Lea, Flood 2014).
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64(pub(crate) u64);

impl SplitMix64 {
    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [lo, hi).
    pub(crate) fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// Uniform integer in [0, n] (inclusive).
    pub(crate) fn up_to(&mut self, n: u64) -> u64 {
        self.next_u64() % (n + 1)
    }
}
