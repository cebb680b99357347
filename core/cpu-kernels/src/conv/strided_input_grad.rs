//! The input gradient of stride-2 convolutions (3x3 with padding 1, 1x1 without), as
//! direct sums over dy by [`super::direct_small`]'s register blocks, input channels in
//! vectors.
//!
//! `dx[ci][iy][ix] = sum_co sum_(ky, kx) w[co][ci][ky][kx] dy[co][oy][ox]` over the taps with
//! `s oy + ky - p = iy` (and the same across). Which taps reach an input pixel depends only
//! on its phase `(iy mod s, ix mod s)`: for a 3x3 stride-2 kernel, even rows take tap row 1
//! (`oy = iy / 2`), odd rows tap rows 0 and 2 (`oy = (iy + 1) / 2` and `(iy - 1) / 2`), so
//! the four phases take 1, 2, 2 and 4 of the nine taps; a 1x1 stride-2 kernel reaches only
//! the even-even phase, and the other three are zero. Each phase is then a dense stride-1
//! sum over zero-padded dy planes with a fixed tap list (no multiplications by the zeros
//! that a transposed convolution over dilated dy would do; no patch matrix and no col2im
//! scatter as in GEMM + col2im), written position-major and interleaved into NCHW.
//!
//! Each input gradient is one chain of fused multiply-adds from zero, output channel by
//! output channel, tap by tap; the tests hold it to the plain loops' f64 reference.

use super::ConvGeometry;
use super::direct_small::{GroupSums, LANES, group_size, pad_planes, sums_len, vectors};
use super::transpose::transpose_into;
use crate::buffers::{unwritten, with_scratch, written};
use crate::parallel::per_image;

/// Does [`conv2d_input_grad`] compute this convolution's input gradient: stride 2, 3x3 with
/// padding 1 or 1x1 without, input channels a multiple of 16? (It runs only where the CPU
/// has AVX-512.)
pub fn computes(g: &ConvGeometry) -> bool {
    matches!((g.kernel, g.pad, g.stride), (3, 1, 2) | (1, 0, 2)) && g.is_valid() && g.cin.is_multiple_of(LANES)
}

/// The taps along one axis that reach input index `q + s a` (phase q), as `(k, d)`: kernel
/// index k reads dy at `a + d` (before padding).
fn axis_taps(phase: usize, g: &ConvGeometry) -> Vec<(usize, isize)> {
    let s = g.stride as isize;
    (0..g.kernel)
        .filter_map(|k| {
            let shift = (phase + g.pad) as isize - k as isize;
            (shift.rem_euclid(s) == 0).then_some((k, shift.div_euclid(s)))
        })
        .collect()
}

/// Indices of phase `q` along an axis of `size`: `q, q + s, ...`.
fn phase_len(size: usize, phase: usize, stride: usize) -> usize {
    size.saturating_sub(phase).div_ceil(stride)
}

/// One phase `(qy, qx)`: its grid of input pixels, its taps and their weights.
struct Phase {
    qy: usize,
    qx: usize,
    /// Rows and columns of the phase's grid.
    rows: usize,
    cols: usize,
    /// Each tap's offset in a padded dy plane from the pixel's base.
    offsets: Vec<usize>,
    /// `[block of 16 V input channels][co][tap][16 V]`.
    weights: Vec<f32>,
}

/// The zero padding of dy's planes, before and after, along one axis: enough for every
/// phase's reads `a + d` with `a` in the phase's grid.
fn axis_padding(size: usize, out: usize, g: &ConvGeometry) -> (usize, usize) {
    let (mut lo, mut hi) = (0isize, 0isize);
    for q in 0..g.stride {
        let n = phase_len(size, q, g.stride) as isize;
        for (_, d) in axis_taps(q, g) {
            lo = lo.max(-d);
            hi = hi.max(n - 1 + d - (out as isize - 1));
        }
    }
    (lo as usize, hi as usize)
}

/// `dL/dx` (B x Cin x H x W) from dy (B x Cout x OH x OW) and w (Cout x Cin x k x k).
/// Panics unless [`computes`] holds and the CPU has AVX-512.
pub fn conv2d_input_grad(dy: &[f32], w: &[f32], g: &ConvGeometry) -> Vec<f32> {
    assert!(computes(g) && crate::simd::avx512(), "the strided input gradient does not compute {g:?} on this CPU");
    let (oh, ow) = (g.out_height(), g.out_width());
    let (plane, out_plane, taps) = (g.height * g.width, oh * ow, g.kernel * g.kernel);
    assert!(dy.len() == g.batch * g.cout * out_plane && w.len() == g.cout * g.cin * taps);
    let (lo_y, hi_y) = axis_padding(g.height, oh, g);
    let (lo_x, hi_x) = axis_padding(g.width, ow, g);
    let row = lo_x + ow + hi_x;
    let padded_plane = (lo_y + oh + hi_y) * row;
    let v = vectors(g.cin);
    let width = v * LANES;
    // w as [co][tap][ci]: each phase's weights are then runs of 16 V input channels.
    let mut by_tap = unwritten(w.len());
    per_image(&mut by_tap, g.cin * taps, |co, dst| transpose_into(&w[co * g.cin * taps..][..g.cin * taps], g.cin, taps, dst));
    // SAFETY: every output channel's transposition wrote all of its rows.
    let by_tap = unsafe { written(by_tap) };
    let phases: Vec<Phase> = (0..g.stride * g.stride)
        .map(|q| {
            let (qy, qx) = (q / g.stride, q % g.stride);
            let (ty, tx) = (axis_taps(qy, g), axis_taps(qx, g));
            let pairs: Vec<(usize, usize)> = ty
                .iter()
                .flat_map(|&(ky, shift_y)| {
                    tx.iter().map(move |&(kx, shift_x)| (ky * g.kernel + kx, offset(shift_y + lo_y as isize, shift_x + lo_x as isize, row)))
                })
                .collect();
            let mut weights = Vec::with_capacity(g.cout * g.cin * pairs.len());
            for block in 0..g.cin / width {
                for co in 0..g.cout {
                    for &(tap, _) in &pairs {
                        weights.extend_from_slice(&by_tap[(co * taps + tap) * g.cin + block * width..][..width]);
                    }
                }
            }
            let offsets = pairs.iter().map(|&(_, o)| o).collect();
            Phase { qy, qx, rows: phase_len(g.height, qy, g.stride), cols: phase_len(g.width, qx, g.stride), offsets, weights }
        })
        .collect();
    let group = group_size(g.batch, g.cout, padded_plane);
    let most = phases.iter().map(|p| p.rows * p.cols).max().unwrap_or(0);
    let mut dx = unwritten(g.batch * g.cin * plane);
    per_image(&mut dx, group * g.cin * plane, |gi, dx_g| {
        let images = dx_g.len() / (g.cin * plane);
        let padded_len = images * g.cout * padded_plane;
        let sums_rows = sums_len(images * most, g.cin);
        with_scratch(padded_len + sums_rows + g.cin * most, |buffer| {
            let (padded, rest) = buffer.split_at_mut(padded_len);
            let (sums, by_channel) = rest.split_at_mut(sums_rows);
            for (i, dst) in padded.chunks_exact_mut(g.cout * padded_plane).enumerate() {
                let src = &dy[(gi * group + i) * g.cout * out_plane..][..g.cout * out_plane];
                pad_planes(src, oh, ow, [lo_y, lo_x], [hi_y, hi_x], dst);
            }
            for phase in &phases {
                let grid = phase.rows * phase.cols;
                if grid == 0 {
                    continue;
                }
                if phase.offsets.is_empty() {
                    sums[..images * grid * g.cin].fill(0.0);
                } else {
                    // Position n of the phase: image n / grid, grid pixel (a, b).
                    let base = |n: usize| {
                        let (image, pixel) = (n / grid, n % grid);
                        image * g.cout * padded_plane + (pixel / phase.cols) * row + pixel % phase.cols
                    };
                    let group_sums =
                        GroupSums { padded, padded_plane, cin: g.cout, cout: g.cin, offsets: &phase.offsets, positions: images * grid };
                    group_sums.run_any(v, &phase.weights, &base, sums);
                }
                for (image, dx_i) in dx_g.chunks_exact_mut(g.cin * plane).enumerate() {
                    let by_channel = &mut by_channel[..g.cin * grid];
                    transpose_into(&sums[image * grid * g.cin..][..grid * g.cin], grid, g.cin, by_channel);
                    for (channel, dx_c) in by_channel.chunks_exact(grid).zip(dx_i.chunks_exact_mut(plane)) {
                        for (a, line) in channel.chunks_exact(phase.cols).enumerate() {
                            let dst = &mut dx_c[(a * g.stride + phase.qy) * g.width + phase.qx..];
                            for (b, &value) in line.iter().enumerate() {
                                dst[b * g.stride].write(value);
                            }
                        }
                    }
                }
            }
        });
    });
    // SAFETY: the phases' grids cover every input pixel of every channel and image once.
    unsafe { written(dx) }
}

/// The offset of row `y`, column `x` in planes of rows of `row` (both non-negative).
fn offset(y: isize, x: isize, row: usize) -> usize {
    usize::try_from(y).expect("padded above") * row + usize::try_from(x).expect("padded to the left")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conv::reference::{assert_close, conv2d_input_grad_reference};
    use crate::testing::test_values as values;

    #[test]
    fn phases_cover_every_tap_once() {
        for (kernel, pad) in [(3, 1), (1, 0)] {
            let g = ConvGeometry { batch: 1, cin: 16, cout: 16, height: 8, width: 8, kernel, stride: 2, pad };
            let mut taps: Vec<usize> = (0..2).flat_map(|q| axis_taps(q, &g)).map(|(k, _)| k).collect();
            taps.sort();
            assert_eq!(taps, (0..kernel).collect::<Vec<_>>(), "each kernel row belongs to one phase");
        }
        let g = ConvGeometry { batch: 1, cin: 16, cout: 16, height: 8, width: 8, kernel: 3, stride: 2, pad: 1 };
        assert_eq!(axis_taps(0, &g), vec![(1, 0)]);
        assert_eq!(axis_taps(1, &g), vec![(0, 1), (2, 0)]);
    }

    #[test]
    fn the_strided_input_gradient_matches_the_loops() {
        if !crate::simd::avx512() {
            eprintln!("no AVX-512: the strided input gradient is not used on this CPU");
            return;
        }
        for (batch, cin, cout, height, width, kernel) in [
            // The encoders' stride-2 layers (small: 16 -> 32 of 32 x 32, 32 -> 64 of 16 x 16;
            // ResNet-18 at B = 3: 64 -> 128, 256 -> 512 with output channels in 4 chunks)
            // and their 1x1 shortcuts.
            (5, 16, 32, 32, 32, 3),
            (3, 32, 64, 16, 16, 3),
            (3, 64, 128, 32, 32, 3),
            (2, 256, 512, 8, 8, 3),
            (5, 16, 32, 32, 32, 1),
            (3, 32, 64, 16, 16, 1),
            // Odd sizes (phases of unequal grids), one row, one pixel, channels not a multiple
            // of 16 out, 48 in (three vectors: blocks of one), a partial last group.
            (3, 16, 5, 7, 9, 3),
            (2, 32, 3, 1, 13, 3),
            (4, 16, 17, 1, 1, 3),
            (9, 48, 40, 5, 3, 3),
            (3, 16, 7, 7, 5, 1),
            (2, 16, 3, 1, 1, 1),
        ] {
            let g = ConvGeometry { batch, cin, cout, height, width, kernel, stride: 2, pad: kernel / 2 };
            let dy = values(batch * cout * g.out_height() * g.out_width(), (cin + cout * 3 + height) as u64);
            let w = values(cout * cin * kernel * kernel, (cout + width) as u64);
            let got = conv2d_input_grad(&dy, &w, &g);
            assert_close(&got, &conv2d_input_grad_reference(&dy, &w, &g), &format!("input gradient {g:?}"));
        }
    }

    #[test]
    fn nan_in_dy_reaches_exactly_the_inputs_its_taps_touch() {
        if !crate::simd::avx512() {
            return;
        }
        let g = ConvGeometry { batch: 2, cin: 16, cout: 3, height: 8, width: 8, kernel: 3, stride: 2, pad: 1 };
        let mut dy = values(g.batch * g.cout * 16, 5);
        // Image 1, channel 2, output (1, 2): its window covers input rows 1-3, columns 3-5.
        dy[(3 + 2) * 16 + 4 + 2] = f32::NAN;
        let w = values(g.cout * g.cin * 9, 6);
        let got = conv2d_input_grad(&dy, &w, &g);
        let want = conv2d_input_grad_reference(&dy, &w, &g);
        for (i, (a, b)) in got.iter().zip(&want).enumerate() {
            assert_eq!(a.is_nan(), b.is_nan(), "input {i}");
        }
        assert_eq!(got.iter().filter(|v| v.is_nan()).count(), 16 * 9, "a 3 x 3 window of every input channel of image 1");
    }
}
