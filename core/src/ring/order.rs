//! The order and random generator of `common.wgsl`, in plain Rust, bit for bit.

/// Order key of a similarity: ascending keys are descending similarities. `-0.0` and
/// `+0.0` share a key; every NaN gets `u32::MAX` (after `-inf`).
pub fn order_key(similarity: f32) -> u32 {
    let bits = similarity.to_bits();
    let magnitude = bits & 0x7fff_ffff;
    if magnitude > 0x7f80_0000 {
        return u32::MAX;
    }
    let b = if magnitude == 0 { 0 } else { bits };
    let ascending = if b & 0x8000_0000 != 0 { !b } else { b | 0x8000_0000 };
    !ascending
}

/// (key, column) as one integer: the row's total order, ascending.
pub(crate) fn composite(key: u32, col: u32) -> u64 {
    ((key as u64) << 32) | col as u64
}

fn pcg_hash(v: u32) -> u32 {
    let state = v.wrapping_mul(747_796_405).wrapping_add(2_891_336_453);
    let word = ((state >> ((state >> 28) + 4)) ^ state).wrapping_mul(277_803_737);
    (word >> 22) ^ word
}

/// 32 random bits for (seed, row, draw, attempt), as `random_bits` in common.wgsl.
pub fn random_bits(seed: u64, row: u32, draw: u32, attempt: u32) -> u32 {
    let mut h = pcg_hash(attempt);
    h = pcg_hash(draw ^ h);
    h = pcg_hash(row ^ h);
    h = pcg_hash((seed >> 32) as u32 ^ h);
    pcg_hash(seed as u32 ^ h)
}

const MAX_ATTEMPTS: u32 = 64;

/// Uniform integer in `[0, n)`, `n > 0`, by rejection (no modulo bias), as in common.wgsl.
pub fn uniform_below(n: u32, seed: u64, row: u32, draw: u32) -> u32 {
    assert!(n > 0, "uniform_below(0)");
    let threshold = 0u32.wrapping_sub(n) % n;
    let mut bits = 0;
    for attempt in 0..MAX_ATTEMPTS {
        bits = random_bits(seed, row, draw, attempt);
        if bits >= threshold {
            break;
        }
    }
    bits % n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_order_similarities_descending_with_nan_last() {
        let values = [f32::INFINITY, 1.0, 0.5, 1e-30, 0.0, -1e-30, -0.5, -1.0, f32::NEG_INFINITY];
        for pair in values.windows(2) {
            assert!(order_key(pair[0]) < order_key(pair[1]), "{:?}", pair);
        }
        assert_eq!(order_key(0.0), order_key(-0.0));
        assert_eq!(order_key(f32::NAN), u32::MAX);
        assert_eq!(order_key(-f32::NAN), u32::MAX);
        assert!(order_key(f32::NEG_INFINITY) < u32::MAX);
    }

    #[test]
    fn uniform_below_is_in_range_and_covers_it() {
        let mut seen = [0u32; 7];
        for draw in 0..7000 {
            seen[uniform_below(7, 42, 3, draw) as usize] += 1;
        }
        // 1000 expected per bin; 5 sigma is about 150.
        for count in seen {
            assert!((850..1150).contains(&count), "{seen:?}");
        }
        assert_eq!(uniform_below(1, 1, 1, 1), 0);
        assert!(uniform_below(u32::MAX, 9, 0, 0) < u32::MAX);
    }
}
