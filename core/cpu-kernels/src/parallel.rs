//! Work spread over the cores: in parallel on native targets (rayon), sequential on wasm32,
//! which has no threads. Every split is fixed by the sizes alone, so results do not depend
//! on the core count.

#[cfg(not(target_arch = "wasm32"))]
use rayon::prelude::*;

/// Runs `f(i, chunk)` over the `chunk`-sized pieces of `out` (one per image), in parallel
/// on native targets.
pub fn per_image<T: Send>(out: &mut [T], chunk: usize, f: impl Fn(usize, &mut [T]) + Sync + Send) {
    #[cfg(not(target_arch = "wasm32"))]
    out.par_chunks_mut(chunk).enumerate().for_each(|(b, dst)| f(b, dst));
    #[cfg(target_arch = "wasm32")]
    out.chunks_mut(chunk).enumerate().for_each(|(b, dst)| f(b, dst));
}

/// Runs `f(i, item)` for each item, in parallel on native targets.
pub fn for_each_item<T: Send>(items: Vec<T>, f: impl Fn(usize, T) + Sync + Send) {
    #[cfg(not(target_arch = "wasm32"))]
    items.into_par_iter().enumerate().for_each(|(i, item)| f(i, item));
    #[cfg(target_arch = "wasm32")]
    items.into_iter().enumerate().for_each(|(i, item)| f(i, item));
}

/// `[f(0), f(1), ..., f(n - 1)]`, computed in parallel on native targets, in index order.
pub fn map_indices<T: Send>(n: usize, f: impl Fn(usize) -> T + Sync + Send) -> Vec<T> {
    #[cfg(not(target_arch = "wasm32"))]
    return (0..n).into_par_iter().map(f).collect();
    #[cfg(target_arch = "wasm32")]
    return (0..n).map(f).collect();
}
