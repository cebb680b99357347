//! Transpositions of row-major matrices: AVX 8 x 8 register tiles where the CPU has AVX,
//! 16 x 16 tiles of scalar copies at the edges (and everywhere elsewhere). The position-major
//! GEMM results, the direct kernels' weight packing and dy, the Winograd weight gradient's dy
//! and the column-major weight gradients go through here.

use crate::buffers::{Slot, unwritten, written};
use crate::parallel::per_image;

/// A column-major `rows x cols` matrix in row-major order (`cols x rows`), blocks of 16 of
/// its columns in parallel.
pub(super) fn to_row_major(column_major: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    const BLOCK: usize = 16;
    let mut out = unwritten(rows * cols);
    per_image(&mut out, BLOCK * rows, |block, out| {
        // Columns block * 16.. are rows block * 16.. of the transpose: a band of the source.
        transpose_band(column_major, rows, cols, block * BLOCK, out);
    });
    // SAFETY: the bands cover every output row, each wrote all of its rows.
    unsafe { written(out) }
}

/// `dst` (`cols x rows`, row-major) = the transpose of `src` (`rows x cols`, row-major).
pub(super) fn transpose_into(src: &[f32], rows: usize, cols: usize, dst: &mut [impl Slot]) {
    transpose_band(src, rows, cols, 0, dst);
}

/// Rows `c0..c0 + dst.len() / rows` of the transpose of `src` (`rows x cols`, row-major)
/// into `dst`: 8 x 8 tiles through AVX registers where the CPU has AVX, the edges (and
/// everything elsewhere) in 16 x 16 tiles of scalar copies (whole cache lines of `src` read,
/// 16 rows written).
fn transpose_band<S: Slot>(src: &[f32], rows: usize, cols: usize, c0: usize, dst: &mut [S]) {
    const TILE: usize = 16;
    assert!(src.len() >= rows * cols && dst.len().is_multiple_of(rows.max(1)) && c0 + dst.len() / rows.max(1) <= cols);
    let width = dst.len() / rows.max(1);
    // The rows and columns the AVX tiles cover (none elsewhere).
    #[cfg(target_arch = "x86_64")]
    let (done_rows, done_width) = if std::arch::is_x86_feature_detected!("avx") && rows >= 8 && width >= 8 {
        let (done_rows, done_width) = (rows / 8 * 8, width / 8 * 8);
        // SAFETY: AVX is available; the tiles read src[r cols + c0 + j] and write
        // dst[j rows + r] for r < done_rows <= rows, j < done_width <= width, in bounds by
        // the assert; `S` has f32's layout (`Slot`'s contract).
        unsafe { transpose_tiles_avx(src.as_ptr(), cols, c0, dst.as_mut_ptr().cast::<f32>(), rows, done_rows, done_width) };
        (done_rows, done_width)
    } else {
        (0, 0)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let (done_rows, done_width) = (0, 0);
    // What the tiles left: the last `rows mod 8` rows of every column, then the last
    // `width mod 8` columns' first rows.
    let mut scalar = |r_range: std::ops::Range<usize>, j_range: std::ops::Range<usize>| {
        for r0 in r_range.clone().step_by(TILE) {
            for j in j_range.clone() {
                let dst_row = &mut dst[j * rows..][..rows];
                for (r, o) in (r0..(r0 + TILE).min(r_range.end)).zip(&mut dst_row[r0..]) {
                    o.put(src[r * cols + c0 + j]);
                }
            }
        }
    };
    scalar(done_rows..rows, 0..width);
    scalar(0..done_rows, done_width..width);
}

/// 8 x 8 tiles of the transpose: `dst[j rows + r] = src[r cols + c0 + j]` for `r <
/// tile_rows`, `j < tile_width` (multiples of 8). Safety: the CPU has AVX; both ranges are in
/// bounds.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn transpose_tiles_avx(src: *const f32, cols: usize, c0: usize, dst: *mut f32, rows: usize, tile_rows: usize, tile_width: usize) {
    use std::arch::x86_64::*;
    for r0 in (0..tile_rows).step_by(8) {
        for j0 in (0..tile_width).step_by(8) {
            // SAFETY: (loads and stores): in bounds by the caller's contract.
            let row = |i: usize| unsafe { _mm256_loadu_ps(src.add((r0 + i) * cols + c0 + j0)) };
            let (a, b, c, d, e, f, g, h) = (row(0), row(1), row(2), row(3), row(4), row(5), row(6), row(7));
            let (ab_lo, ab_hi) = (_mm256_unpacklo_ps(a, b), _mm256_unpackhi_ps(a, b));
            let (cd_lo, cd_hi) = (_mm256_unpacklo_ps(c, d), _mm256_unpackhi_ps(c, d));
            let (ef_lo, ef_hi) = (_mm256_unpacklo_ps(e, f), _mm256_unpackhi_ps(e, f));
            let (gh_lo, gh_hi) = (_mm256_unpacklo_ps(g, h), _mm256_unpackhi_ps(g, h));
            let q0 = _mm256_shuffle_ps::<0x44>(ab_lo, cd_lo);
            let q1 = _mm256_shuffle_ps::<0xEE>(ab_lo, cd_lo);
            let q2 = _mm256_shuffle_ps::<0x44>(ab_hi, cd_hi);
            let q3 = _mm256_shuffle_ps::<0xEE>(ab_hi, cd_hi);
            let q4 = _mm256_shuffle_ps::<0x44>(ef_lo, gh_lo);
            let q5 = _mm256_shuffle_ps::<0xEE>(ef_lo, gh_lo);
            let q6 = _mm256_shuffle_ps::<0x44>(ef_hi, gh_hi);
            let q7 = _mm256_shuffle_ps::<0xEE>(ef_hi, gh_hi);
            let columns = [
                _mm256_permute2f128_ps::<0x20>(q0, q4),
                _mm256_permute2f128_ps::<0x20>(q1, q5),
                _mm256_permute2f128_ps::<0x20>(q2, q6),
                _mm256_permute2f128_ps::<0x20>(q3, q7),
                _mm256_permute2f128_ps::<0x31>(q0, q4),
                _mm256_permute2f128_ps::<0x31>(q1, q5),
                _mm256_permute2f128_ps::<0x31>(q2, q6),
                _mm256_permute2f128_ps::<0x31>(q3, q7),
            ];
            for (k, column) in columns.into_iter().enumerate() {
                // SAFETY: in bounds by the caller's contract, as for the block above.
                unsafe { _mm256_storeu_ps(dst.add((j0 + k) * rows + r0), column) };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::test_values as values;

    #[test]
    fn transposed_bands_are_exact_on_every_edge() {
        // Whole 8 x 8 tiles, partial ones on either edge, fewer than 8 rows or columns, one
        // row, one column, bands starting inside the matrix; into written and unwritten slots.
        for (rows, cols) in [(8, 8), (16, 24), (17, 9), (9, 17), (7, 30), (30, 7), (1, 13), (13, 1), (64, 33), (3, 3)] {
            let src = values(rows * cols, (rows * 100 + cols) as u64);
            for c0 in [0, cols / 3, cols - 1] {
                let width = cols - c0;
                let want: Vec<f32> = (0..width * rows).map(|i| src[(i % rows) * cols + c0 + i / rows]).collect();
                let mut got = vec![f32::NAN; width * rows];
                transpose_band(&src, rows, cols, c0, &mut got);
                assert_eq!(got, want, "{rows} x {cols} from column {c0}");
                let mut fresh = unwritten(width * rows);
                transpose_band(&src, rows, cols, c0, &mut fresh);
                // SAFETY: the band covers every slot (checked against `want` right here).
                assert_eq!(unsafe { written(fresh) }, want);
            }
        }
    }
}
