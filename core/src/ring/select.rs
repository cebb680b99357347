//! ring_select: each row's ring boundaries (kernel `shaders/wgsl/ring_select.wgsl`).

use burn::tensor::{DType, Tensor};

use super::bounds::{BoundsStorage, Pairing, RingBounds, RowRing};
use super::order::{composite, order_key};
use super::{RingError, RingParams, RingSpec, RingWindow};
use crate::cpu::parallel::map_indices;
use crate::gpu::launch;

/// Validates a `rows x cols` similarity matrix for `pairing` and returns the ring window.
pub(crate) fn check_shape(rows: usize, cols: usize, spec: &RingSpec, pairing: Pairing) -> Result<RingWindow, RingError> {
    if rows == 0 || cols == 0 {
        return Err(RingError::Shape(format!("empty similarity matrix ({rows} x {cols})")));
    }
    if rows.checked_mul(cols).is_none_or(|n| n > u32::MAX as usize) {
        return Err(RingError::TooLarge(format!(
            "{rows} x {cols} similarities exceed 2^32 elements; split the anchors into smaller batches"
        )));
    }
    if pairing == Pairing::SimClr && (rows != cols || !rows.is_multiple_of(2) || rows < 2) {
        return Err(RingError::Shape(format!("SimCLR pairing needs a square 2B x 2B matrix of both views, got {rows} x {cols}")));
    }
    Ok(spec.window(pairing.pool(cols)))
}

pub(crate) fn params_for(rows: usize, cols: usize, window: RingWindow, pairing: Pairing) -> RingParams {
    RingParams {
        rows: rows as u32,
        cols: cols as u32,
        lo: window.lo as u32,
        hi: window.hi as u32,
        pair_half: match pairing {
            Pairing::None => 0,
            Pairing::SimClr => (rows / 2) as u32,
        },
        ..RingParams::default()
    }
}

/// Runs ring_select: for every row of `sims` (B x N, f32), the first and last elements
/// of its ring under `spec`. On the wgpu backend it is the GPU kernel and lazy (nothing
/// is read back); on a CPU backend it is [`select_reference`] on the host. Derive the
/// mask, members or samples from the returned bounds.
pub fn ring_select(sims: Tensor<2>, spec: &RingSpec, pairing: Pairing) -> Result<RingBounds, RingError> {
    let [rows, cols] = sims.dims();
    let window = check_shape(rows, cols, spec, pairing)?;
    select_window(sims, window, pairing)
}

/// [`ring_select`] for explicit positions `[lo, hi)` of each row's order (most similar
/// first), e.g. `0..k` for the k nearest neighbours.
pub fn ring_select_positions(sims: Tensor<2>, lo: usize, hi: usize, pairing: Pairing) -> Result<RingBounds, RingError> {
    let [rows, cols] = sims.dims();
    let pool = check_shape(rows, cols, &RingSpec::plain_nce(), pairing)?.pool;
    if lo > hi || hi > pool {
        return Err(RingError::InvalidPercentiles(format!("positions [{lo}, {hi}) do not fit a pool of {pool}")));
    }
    select_window(sims, RingWindow { lo, hi, pool }, pairing)
}

fn select_window(sims: Tensor<2>, window: RingWindow, pairing: Pairing) -> Result<RingBounds, RingError> {
    let [rows, cols] = sims.dims();
    let params = params_for(rows, cols, window, pairing);
    let sims = match launch::float_storage(sims)? {
        launch::Storage::Wgpu(sims) => sims,
        launch::Storage::Host(values, device) => {
            let rings = select_rows(&values, rows, cols, window, pairing);
            return Ok(RingBounds { storage: BoundsStorage::Host { sims: values, rings, device }, params, pairing });
        }
    };
    let bounds = launch::empty(&sims, [rows, RowRing::WORDS], DType::U32);
    let params_buffer = launch::upload(&sims, &params);
    launch::launch(&sims, ring_wgpu_shaders::RING_SELECT, rows as u32, vec![sims.handle.clone(), bounds.handle.clone(), params_buffer]);
    Ok(RingBounds { storage: BoundsStorage::Gpu { sims, bounds }, params, pairing })
}

/// Plain-Rust reference of ring_select: per row, the pool's composite order keys and
/// two `select_nth_unstable` calls (O(N) per row, no full sort).
pub fn select_reference(sims: &[f32], rows: usize, cols: usize, spec: &RingSpec, pairing: Pairing) -> Result<Vec<RowRing>, RingError> {
    let window = check_shape(rows, cols, spec, pairing)?;
    if sims.len() != rows * cols {
        return Err(RingError::Shape(format!("{} similarities for {rows} x {cols}", sims.len())));
    }
    Ok(select_rows(sims, rows, cols, window, pairing))
}

/// Every row's ring for `window` (shape already checked); rows in parallel on native
/// targets (each row's result depends on that row alone).
fn select_rows(sims: &[f32], rows: usize, cols: usize, window: RingWindow, pairing: Pairing) -> Vec<RowRing> {
    map_indices(rows, |row| {
        if window.is_empty() {
            return RowRing::empty(window.pool as u32);
        }
        let mut keys = row_keys(sims, rows, cols, row, pairing);
        let first = *keys.select_nth_unstable(window.lo).1;
        // Keys are distinct (each holds its column), so the (hi - 1)-th lies after the lo-th.
        let last = if window.hi - 1 == window.lo { first } else { *keys[window.lo + 1..].select_nth_unstable(window.hi - 2 - window.lo).1 };
        row_ring(&sims[row * cols..][..cols], window, first, last)
    })
}

/// Row `row`'s pool as composite order keys (ascending = most similar first, ties by column).
fn row_keys(sims: &[f32], rows: usize, cols: usize, row: usize, pairing: Pairing) -> Vec<u64> {
    (0..cols).filter(|&col| !pairing.excludes(rows, row, col)).map(|col| composite(order_key(sims[row * cols + col]), col as u32)).collect()
}

/// The ring of a row (`row_sims`) whose first and last members have the keys `first`, `last`.
fn row_ring(row_sims: &[f32], window: RingWindow, first: u64, last: u64) -> RowRing {
    let split = |c: u64| ((c >> 32) as u32, c as u32);
    let (first, last) = (split(first), split(last));
    RowRing {
        first,
        last,
        upper_similarity: row_sims[first.1 as usize],
        lower_similarity: row_sims[last.1 as usize],
        len: window.len() as u32,
        pool: window.pool as u32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each row's ring from a full sort of its keys: the order `select_rows` must find.
    fn sorted_rows(sims: &[f32], rows: usize, cols: usize, window: RingWindow, pairing: Pairing) -> Vec<RowRing> {
        (0..rows)
            .map(|row| {
                if window.is_empty() {
                    return RowRing::empty(window.pool as u32);
                }
                let mut keys = row_keys(sims, rows, cols, row, pairing);
                keys.sort_unstable();
                row_ring(&sims[row * cols..][..cols], window, keys[window.lo], keys[window.hi - 1])
            })
            .collect()
    }

    #[test]
    fn rings_match_a_full_sort_for_every_window() {
        let mut s = 0x2545_f491_4f6c_dd1du64;
        let (rows, cols) = (6, 37);
        // Coarse values: many ties, broken by column as the kernel does.
        let sims: Vec<f32> = (0..rows * cols)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                ((s >> 60) as f32 - 8.0) / 8.0
            })
            .collect();
        for pairing in [Pairing::None, Pairing::SimClr] {
            // SimCLR pairs a square matrix of both views.
            let cols_here = if pairing == Pairing::SimClr { rows } else { cols };
            let pool = pairing.pool(cols_here);
            let windows = [(0, 1), (0, pool), (3, 4), (1, 5), (pool - 1, pool), (2, 2), (1, pool - 1)];
            for (lo, hi) in windows.into_iter().filter(|&(lo, hi)| lo <= hi && hi <= pool) {
                let window = RingWindow { lo, hi, pool };
                let sims = &sims[..rows * cols_here];
                let got = select_rows(sims, rows, cols_here, window, pairing);
                // (Compared as text: an empty ring's similarities are NaN.)
                let want = sorted_rows(sims, rows, cols_here, window, pairing);
                assert_eq!(format!("{got:?}"), format!("{want:?}"), "{pairing:?} [{lo}, {hi})");
            }
        }
    }
}
