//! 3x3 stride-1 forward convolutions by Winograd's F(4x4, 3x3) (Lavin & Gray, 2016): each
//! 4 x 4 block of outputs ("tile") from a 6 x 6 block of the input, 36 products per input
//! channel instead of 144: 4x fewer multiplications than im2col + GEMM where
//! [`super::winograd`]'s F(2x2, 3x3) saves 2.25x, and a transformed input 2.25x the input's
//! size instead of 4x. The same scheme as there, 36 GEMMs (one per point `xi` of the
//! transformed 6 x 6 tile) of depth Cin over the tiles of a group of images:
//!
//! - weights: `U[co][xi][ci] = (G w G^T)[xi]`;
//! - input: `V[c][xi][tile] = (B^T d B)[xi]` for the tile's 6 x 6 input block d (zero padded);
//! - `M[xi] = U[xi] V[.][xi][.]` (Cout x tiles), then each tile's 4 x 4 outputs `A^T M A`.
//!
//! The interpolation points are 0, 1, -1, 2, -2 and infinity (the matrices below): the
//! transforms' coefficients (up to 8 in `A`, 1/24 in `G`) round more than F(2x2, 3x3)'s, and
//! the tests hold the result to the plain loops' f64 reference within the same tolerance as
//! every other path. Used for the forward pass (and so the input gradient of a stride-1
//! layer, itself a forward convolution); the weight gradient stays F(2x2, 3x3). A NaN input
//! gives NaN at every output the loops give NaN and may give it at the other outputs of the
//! same 4 x 4 tile (the transforms' cancelling coefficients do not cancel NaN); an infinite
//! input can give NaN where they give inf (inf - inf in a transform).

use std::mem::MaybeUninit;

use super::ConvGeometry;
use crate::simd::dispatch_avx2;

/// Side of an input tile (4 outputs + 2).
const ALPHA: usize = 6;
/// Points of a transformed tile.
const POINTS: usize = ALPHA * ALPHA;
/// Output rows and columns per tile.
const OUT: usize = 4;
/// Transformed inputs and products (36 (Cin + Cout) values per tile) of one group of images,
/// at most (one image at least): 8 MB, 448 tiles at 64 channels, 224 at 128. Measured on 2
/// cores, per call against F(2x2, 3x3) (minimum over 5 alternating runs): 64 channels of
/// 32 x 32 at B = 32 0.76x, 128 of 16 x 16 0.78x, 64 of 16 x 16 at B = 64 0.88x; with half
/// the budget 0.84x / 0.75x / 0.86x, a quarter 0.88x / 0.78x / 0.90x, a fixed 512 tiles
/// 0.76x / 0.89x / 0.90x.
const GROUP_VALUES: usize = 1 << 21;

/// `G k G^T` of one 3 x 3 kernel (row-major), `G` the 6 x 3 matrix of [`kernel_column`].
#[inline(always)]
fn transform_kernel(k: &[f32]) -> [[f32; ALPHA]; ALPHA] {
    let gk: [[f32; ALPHA]; 3] = [0, 1, 2].map(|col| kernel_column(k[col], k[3 + col], k[6 + col]));
    // (G k) G^T: row r of the result is G applied to row r of G k.
    [0, 1, 2, 3, 4, 5].map(|r| kernel_column(gk[0][r], gk[1][r], gk[2][r]))
}

/// `G (a, b, c)^T` with `G = [[1/4, 0, 0], [-1/6, -1/6, -1/6], [-1/6, 1/6, -1/6],
/// [1/24, 1/12, 1/6], [1/24, -1/12, 1/6], [0, 0, 1]]`.
#[inline(always)]
fn kernel_column(a: f32, b: f32, c: f32) -> [f32; ALPHA] {
    [a / 4.0, -(a + b + c) / 6.0, -(a - b + c) / 6.0, a / 24.0 + b / 12.0 + c / 6.0, a / 24.0 - b / 12.0 + c / 6.0, c]
}

/// `B^T d` for 6 values, `B^T = [[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
/// [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]]`.
#[inline(always)]
fn input_points(d: [f32; ALPHA]) -> [f32; ALPHA] {
    let [d0, d1, d2, d3, d4, d5] = d;
    let (t0, t1) = (d4 - 4.0 * d2, 4.0 * d1 - d3);
    let (t2, t3) = (d4 - d2, 2.0 * (d1 - d3));
    [4.0 * d0 - 5.0 * d2 + d4, t0 - t1, t0 + t1, t2 - t3, t2 + t3, 4.0 * d1 - 5.0 * d3 + d5]
}

/// `A^T m` for 6 values, `A^T = [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0],
/// [0, 1, -1, 8, -8, 1]]`.
#[inline(always)]
fn output_points(m: [f32; ALPHA]) -> [f32; OUT] {
    let [m0, m1, m2, m3, m4, m5] = m;
    let (a, b, c, d) = (m1 + m2, m1 - m2, m3 + m4, m3 - m4);
    [m0 + a + c, b + 2.0 * d, a + 4.0 * c, b + 8.0 * d + m5]
}

dispatch_avx2! {
    /// `o[.][t] = input_points(i[.][t])` for t in `0..len`, with AVX2 where the CPU has it.
    /// Each run its own argument: the compiler may then take them not to overlap and
    /// vectorise (slices inside an array carry no such promise).
    #[allow(clippy::too_many_arguments)]
    fn input_runs(
        i0: &[f32], i1: &[f32], i2: &[f32], i3: &[f32], i4: &[f32], i5: &[f32],
        o0: &mut [f32], o1: &mut [f32], o2: &mut [f32], o3: &mut [f32], o4: &mut [f32], o5: &mut [f32],
        len: usize,
    ) => input_runs_body
}

/// [`input_runs`]' loop (every slice cut to `len` first: no bounds checks in the loop).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn input_runs_body(
    i0: &[f32],
    i1: &[f32],
    i2: &[f32],
    i3: &[f32],
    i4: &[f32],
    i5: &[f32],
    o0: &mut [f32],
    o1: &mut [f32],
    o2: &mut [f32],
    o3: &mut [f32],
    o4: &mut [f32],
    o5: &mut [f32],
    len: usize,
) {
    let (i0, i1, i2, i3, i4, i5) = (&i0[..len], &i1[..len], &i2[..len], &i3[..len], &i4[..len], &i5[..len]);
    let (o0, o1, o2, o3, o4, o5) = (&mut o0[..len], &mut o1[..len], &mut o2[..len], &mut o3[..len], &mut o4[..len], &mut o5[..len]);
    for t in 0..len {
        let p = input_points([i0[t], i1[t], i2[t], i3[t], i4[t], i5[t]]);
        (o0[t], o1[t], o2[t], o3[t], o4[t], o5[t]) = (p[0], p[1], p[2], p[3], p[4], p[5]);
    }
}

dispatch_avx2! {
    /// `o[.][t] = output_points(i[.][t])` for t in `0..len` (as [`input_runs`]).
    #[allow(clippy::too_many_arguments)]
    fn output_runs(
        i0: &[f32], i1: &[f32], i2: &[f32], i3: &[f32], i4: &[f32], i5: &[f32],
        o0: &mut [f32], o1: &mut [f32], o2: &mut [f32], o3: &mut [f32],
        len: usize,
    ) => output_runs_body
}

/// [`output_runs`]' loop.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn output_runs_body(
    i0: &[f32],
    i1: &[f32],
    i2: &[f32],
    i3: &[f32],
    i4: &[f32],
    i5: &[f32],
    o0: &mut [f32],
    o1: &mut [f32],
    o2: &mut [f32],
    o3: &mut [f32],
    len: usize,
) {
    let (i0, i1, i2, i3, i4, i5) = (&i0[..len], &i1[..len], &i2[..len], &i3[..len], &i4[..len], &i5[..len]);
    let (o0, o1, o2, o3) = (&mut o0[..len], &mut o1[..len], &mut o2[..len], &mut o3[..len]);
    for t in 0..len {
        let p = output_points([i0[t], i1[t], i2[t], i3[t], i4[t], i5[t]]);
        (o0[t], o1[t], o2[t], o3[t]) = (p[0], p[1], p[2], p[3]);
    }
}

/// `N` runs of `len` values, `stride` apart, from the start of `values`.
#[inline(always)]
fn runs_apart<const N: usize>(mut values: &mut [f32], stride: usize, len: usize) -> [&mut [f32]; N] {
    std::array::from_fn(|_| {
        let at = stride.min(values.len());
        let (run, rest) = std::mem::take(&mut values).split_at_mut(at);
        values = rest;
        &mut run[..len]
    })
}

/// F(4x4, 3x3)'s kernel transform, its 36 points in a row.
fn kernel_points(k: &[f32]) -> [f32; POINTS] {
    let t = transform_kernel(k);
    std::array::from_fn(|xi| t[xi / ALPHA][xi % ALPHA])
}

/// `y = conv(x, w)` for a 3x3 stride-1 convolution with padding below 3 (panics otherwise;
/// [`super::plan`] chooses it): x is B x Cin x H x W, w is Cout x Cin x 3 x 3; returns
/// B x Cout x OH x OW.
pub fn conv2d_forward(x: &[f32], w: &[f32], g: &ConvGeometry) -> Vec<f32> {
    assert!(super::winograd::computes(g), "not a 3x3 stride-1 convolution with padding below 3: {g:?}");
    let tiles = g.out_height().div_ceil(OUT) * g.out_width().div_ceil(OUT);
    let per_group = (GROUP_VALUES / (POINTS * (g.cin + g.cout)) / tiles).clamp(1, g.batch);
    let u = super::winograd::transform_weights(w, g, kernel_points);
    super::winograd::forward_by_tiles(x, g, &u, (OUT, POINTS), per_group, input_channel, output_plane)
}

dispatch_avx2! {
    /// [`transform_input_channel`], with AVX2 where the CPU has it.
    fn input_channel(x: &[f32], g: &ConvGeometry, first: usize, n: usize, c: usize, v_c: &mut [f32]) => transform_input_channel
}

dispatch_avx2! {
    /// [`transform_output_plane`], with AVX2 where the CPU has it.
    fn output_plane(m: &[f32], g: &ConvGeometry, n: usize, index: usize, out: &mut [MaybeUninit<f32>]) => transform_output_plane
}

/// The input transform of channel `c` for images `first..first + n` into its 36 rows of V
/// (`V[c][xi][tile]`). Each zero-padded input row is split into its four column phases
/// (`phase[b][i] = row[4 i + b]`), so that column `b` of every tile's 6-wide window is a
/// contiguous run over a row of tiles (`b = 4, 5`: phases 0 and 1 one tile on); the columns'
/// transform `d B` runs on them for each (one or two) tile row that reads the padded row;
/// the rows' transform `B^T (d B)` then runs over all tiles of the image.
#[inline(always)]
fn transform_input_channel(x: &[f32], g: &ConvGeometry, first: usize, n: usize, c: usize, v_c: &mut [f32]) {
    let (tiles_y, tiles_x) = (g.out_height().div_ceil(OUT), g.out_width().div_ceil(OUT));
    let (tiles, plane) = (tiles_y * tiles_x, g.height * g.width);
    let cols = n * tiles;
    // Padded rows -p .. 4 tiles + 2 - p; a padded row's column phases, phases[b half + i] =
    // padded column 4 i + b (input column q at padded column q + p; the padding stays zero).
    let pad_h = OUT * tiles_y + 2;
    let half = tiles_x + 1;
    let mut phases = vec![0.0f32; 4 * half];
    // windows[(a ALPHA + k) tiles + tile]: row a of the tile's window times B.
    let mut windows = vec![0.0f32; ALPHA * ALPHA * tiles];
    for j in 0..n {
        let src = &x[((first + j) * g.cin + c) * plane..][..plane];
        for py in 0..pad_h {
            match py.checked_sub(g.pad).filter(|&iy| iy < g.height) {
                Some(iy) => split_phases(&src[iy * g.width..][..g.width], g.pad, &mut phases, half),
                None => phases.fill(0.0),
            }
            let run = |b: usize| &phases[(b % 4) * half + b / 4..];
            // Padded row py is row a = py - 4 ty of tile row ty's windows (one or two).
            for ty in py.saturating_sub(ALPHA - 1).div_ceil(OUT)..=(py / OUT).min(tiles_y - 1) {
                let a = py - OUT * ty;
                let [o0, o1, o2, o3, o4, o5] = runs_apart(&mut windows[a * ALPHA * tiles + ty * tiles_x..], tiles, tiles_x);
                input_runs(run(0), run(1), run(2), run(3), run(4), run(5), o0, o1, o2, o3, o4, o5, tiles_x);
            }
        }
        let col = j * tiles;
        for k in 0..ALPHA {
            let row = |a: usize| &windows[(a * ALPHA + k) * tiles..];
            // V's rows xi = i ALPHA + k, i = 0..6: this image's tiles of each.
            let [o0, o1, o2, o3, o4, o5] = runs_apart(&mut v_c[k * cols + col..], ALPHA * cols, tiles);
            input_runs(row(0), row(1), row(2), row(3), row(4), row(5), o0, o1, o2, o3, o4, o5, tiles);
        }
    }
}

/// Writes an input row into the column phases of its padded row (`phases[b half + i]` =
/// padded column `4 i + b`, input column `q` at padded column `q + pad`), four columns at a
/// time; the padding entries are left as they are (zero).
#[inline(always)]
fn split_phases(row: &[f32], pad: usize, phases: &mut [f32], half: usize) {
    let (p0, rest) = phases.split_at_mut(half);
    let (p1, rest) = rest.split_at_mut(half);
    let (p2, p3) = rest.split_at_mut(half);
    // Input column 4 i + l lands in phase (l + pad) % 4 at index i + (l + pad) / 4.
    let mut lanes = [p0, p1, p2, p3];
    lanes.rotate_left(pad % 4);
    let [d0, d1, d2, d3] = lanes;
    let skip = |l: usize| (l + pad) / 4;
    let (d0, d1, d2, d3) = (&mut d0[skip(0)..], &mut d1[skip(1)..], &mut d2[skip(2)..], &mut d3[skip(3)..]);
    let quads = row.chunks_exact(4);
    let (tail, i) = (quads.remainder(), row.len() / 4);
    for (q, ((a, b), (c, d))) in quads.zip(d0.iter_mut().zip(d1.iter_mut()).zip(d2.iter_mut().zip(d3.iter_mut()))) {
        (*a, *b, *c) = (q[0], q[1], q[2]);
        *d = q[3];
    }
    for (l, value) in tail.iter().enumerate() {
        match l {
            0 => d0[i] = *value,
            1 => d1[i] = *value,
            _ => d2[i] = *value,
        }
    }
}

/// The output transform of plane `index` (image `index / Cout` of the group, output channel
/// `index % Cout`) from the group's products `m` (`M[xi][co][tile]`): `A^T M A` over all
/// tiles of the image at once (the rows' transform, then the columns'), then each output
/// row interleaved from its tiles' four columns.
#[inline(always)]
fn transform_output_plane(m: &[f32], g: &ConvGeometry, n: usize, index: usize, out: &mut [MaybeUninit<f32>]) {
    let (oh, ow) = (g.out_height(), g.out_width());
    let (tiles_y, tiles_x) = (oh.div_ceil(OUT), ow.div_ceil(OUT));
    let tiles = tiles_y * tiles_x;
    let cols = n * tiles;
    let (j, co) = (index / g.cout, index % g.cout);
    // s[(r ALPHA + k) tiles + t] = (A^T M)[r][k]; y[(r OUT + c) tiles + t] = (A^T M A)[r][c].
    let mut s = vec![0.0f32; OUT * ALPHA * tiles];
    let mut y = vec![0.0f32; OUT * OUT * tiles];
    let mrow = |xi: usize| &m[(xi * g.cout + co) * cols + j * tiles..][..tiles];
    for k in 0..ALPHA {
        let [o0, o1, o2, o3] = runs_apart(&mut s[k * tiles..], ALPHA * tiles, tiles);
        let i = |point_row: usize| mrow(point_row * ALPHA + k);
        output_runs(i(0), i(1), i(2), i(3), i(4), i(5), o0, o1, o2, o3, tiles);
    }
    for (r, y_r) in y.chunks_exact_mut(OUT * tiles).enumerate() {
        let i = |k: usize| &s[(r * ALPHA + k) * tiles..];
        let (y0, rest) = y_r.split_at_mut(tiles);
        let (y1, rest) = rest.split_at_mut(tiles);
        let (y2, y3) = rest.split_at_mut(tiles);
        output_runs(i(0), i(1), i(2), i(3), i(4), i(5), y0, y1, y2, y3, tiles);
    }
    let (whole, rest) = (ow / OUT, ow % OUT);
    for oy in 0..oh {
        let (ty, r) = (oy / OUT, oy % OUT);
        let column = |c: usize| &y[(r * OUT + c) * tiles + ty * tiles_x..][..tiles_x];
        let (q0, q1, q2, q3) = (column(0), column(1), column(2), column(3));
        let row = &mut out[oy * ow..][..ow];
        for (quad, ((a, b), (c, d))) in row.chunks_exact_mut(OUT).zip(q0.iter().zip(q1).zip(q2.iter().zip(q3))) {
            quad[0].write(*a);
            quad[1].write(*b);
            quad[2].write(*c);
            quad[3].write(*d);
        }
        for c in 0..rest {
            row[whole * OUT + c].write(column(c)[whole]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conv::reference::{assert_close, conv2d_forward_reference};
    use crate::testing::test_values as values;

    #[test]
    fn the_transforms_compute_a_3_tap_filter_on_a_6_wide_block() {
        // One tile: y[i][j] = sum_{a, b} d[i + a][j + b] k[a][b], through the 1-D transforms.
        let (d, k) = (values(36, 3), values(9, 4));
        let u = transform_kernel(&k);
        // B^T d B: the columns' transform on each row, then the rows' transform.
        let db: Vec<[f32; ALPHA]> = (0..ALPHA).map(|r| input_points([0, 1, 2, 3, 4, 5].map(|c| d[r * ALPHA + c]))).collect();
        let t: Vec<[f32; ALPHA]> = (0..ALPHA).map(|kk| input_points([0, 1, 2, 3, 4, 5].map(|r| db[r][kk]))).collect();
        // t[k][i] = (B^T d B)[i][k]; the products, then A^T M A the same way.
        let prod = |i: usize, kk: usize| t[kk][i] * u[i][kk];
        let am: Vec<[f32; OUT]> = (0..ALPHA).map(|kk| output_points([0, 1, 2, 3, 4, 5].map(|i| prod(i, kk)))).collect();
        for i in 0..OUT {
            let y = output_points([0, 1, 2, 3, 4, 5].map(|kk| am[kk][i]));
            for (jj, got) in y.iter().enumerate() {
                let want: f32 =
                    (0..3).flat_map(|a| (0..3).map(move |b| (a, b))).map(|(a, b)| d[(i + a) * ALPHA + jj + b] * k[a * 3 + b]).sum();
                assert!((got - want).abs() < 1e-5, "({i}, {jj}): {got} vs {want}");
            }
        }
    }

    #[test]
    fn f4_matches_the_loops() {
        let c = 64;
        let shapes = [
            // Odd sizes (partial last tile rows and columns: 3 of 4), every padding, more
            // output than input channels, a batch in two groups (GROUP_VALUES / (36 x 128)
            // = 455 tiles: 56 images of 8 tiles, then 10), 256 channels, ResNet-18's first stage in small.
            ConvGeometry { batch: 2, cin: c, cout: c + 3, height: 7, width: 19, kernel: 3, stride: 1, pad: 1 },
            ConvGeometry { batch: 1, cin: c + 1, cout: c, height: 6, width: 21, kernel: 3, stride: 1, pad: 0 },
            ConvGeometry { batch: 2, cin: c, cout: c, height: 3, width: 17, kernel: 3, stride: 1, pad: 2 },
            ConvGeometry { batch: 66, cin: c, cout: c, height: 5, width: 16, kernel: 3, stride: 1, pad: 1 },
            ConvGeometry { batch: 2, cin: 256, cout: 256, height: 5, width: 16, kernel: 3, stride: 1, pad: 1 },
            ConvGeometry { batch: 2, cin: c, cout: c, height: 32, width: 32, kernel: 3, stride: 1, pad: 1 },
            // Few channels and one row, where the plan does not choose it but it computes.
            ConvGeometry { batch: 3, cin: 3, cout: 5, height: 1, width: 9, kernel: 3, stride: 1, pad: 1 },
        ];
        for (i, g) in shapes.into_iter().enumerate() {
            assert!(super::super::winograd::computes(&g), "{g:?}");
            let mut x = values(g.batch * g.cin * g.height * g.width, 50 + i as u64);
            let w = values(g.cout * g.cin * 9, 60 + i as u64);
            assert_close(&conv2d_forward(&x, &w, &g), &conv2d_forward_reference(&x, &w, &g), &format!("{g:?} forward"));
            if i == 0 {
                x[5] = f32::NAN;
                x[g.height * g.width + 3 * g.width + 18] = f32::NAN;
                assert_nan_within_tiles(&conv2d_forward(&x, &w, &g), &conv2d_forward_reference(&x, &w, &g), &g);
            }
        }
    }

    /// NaN wherever the loops give NaN, and besides only in a 4 x 4 tile where they give NaN
    /// (the transforms' cancelling coefficients do not cancel NaN); the finite values close.
    fn assert_nan_within_tiles(got: &[f32], want: &[f32], g: &ConvGeometry) {
        let (oh, ow) = (g.out_height(), g.out_width());
        let tile_of = |k: usize| (k / (oh * ow), (k % (oh * ow)) / ow / OUT, (k % ow) / OUT);
        let nan_tiles: std::collections::HashSet<_> = (0..want.len()).filter(|&k| want[k].is_nan()).map(tile_of).collect();
        assert!(!nan_tiles.is_empty(), "the test should reach a NaN");
        let mut finite = (Vec::new(), Vec::new());
        for (k, (a, b)) in got.iter().zip(want).enumerate() {
            match (a.is_nan(), b.is_nan()) {
                (_, true) => assert!(a.is_nan(), "[{k}]: {a} where the loops give NaN"),
                (true, false) => assert!(nan_tiles.contains(&tile_of(k)), "[{k}]: NaN outside a tile the loops give NaN in"),
                (false, false) => {
                    finite.0.push(*a);
                    finite.1.push(*b);
                }
            }
        }
        assert_close(&finite.0, &finite.1, "the finite outputs");
    }

    #[test]
    fn the_avx2_and_baseline_transforms_agree_bit_for_bit() {
        let g = ConvGeometry { batch: 2, cin: 3, cout: 5, height: 7, width: 11, kernel: 3, stride: 1, pad: 1 };
        let (oh, ow) = (g.out_height(), g.out_width());
        let cols = g.batch * oh.div_ceil(OUT) * ow.div_ceil(OUT);
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        let mut x = values(g.batch * g.cin * g.height * g.width, 70);
        x[7] = f32::NAN;
        for c in 0..g.cin {
            let (mut a, mut b) = (vec![0.0f32; POINTS * cols], vec![0.0f32; POINTS * cols]);
            input_channel(&x, &g, 0, g.batch, c, &mut a);
            transform_input_channel(&x, &g, 0, g.batch, c, &mut b);
            assert_eq!(bits(&a), bits(&b), "input transform, channel {c}");
        }
        let m = values(POINTS * g.cout * cols, 71);
        for index in 0..g.batch * g.cout {
            let (mut a, mut b) = (vec![MaybeUninit::new(0.0f32); oh * ow], vec![MaybeUninit::new(0.0f32); oh * ow]);
            output_plane(&m, &g, g.batch, index, &mut a);
            transform_output_plane(&m, &g, g.batch, index, &mut b);
            // SAFETY: initialised above.
            let (a, b): (Vec<f32>, Vec<f32>) =
                (a.iter().map(|v| unsafe { v.assume_init() }).collect(), b.iter().map(|v| unsafe { v.assume_init() }).collect());
            assert_eq!(bits(&a), bits(&b), "output transform, plane {index}");
        }
    }
}
