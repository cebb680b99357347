//! What the kernel benchmarks (`convbench`, `normbench`) share.

use std::time::Instant;

/// The minimum of 9 timed calls of `f`, in ms, after one untimed call (warm caches, buffers
/// allocated): on a shared machine the minimum is the steadiest of the usual statistics.
pub fn best_ms(mut f: impl FnMut()) -> f64 {
    f();
    (0..9)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .fold(f64::MAX, f64::min)
}
