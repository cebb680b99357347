//! Direct 3x3 stride-1 convolutions with padding 1 on rows of 32+ outputs (the small
//! encoder's 16-channel stage, the stems): forward, input gradient (a forward convolution of
//! dy) and weight gradient ([`conv2d_weight_grad`]), with no patch matrix and no GEMM.
//!
//! Each channel of an image is copied once into a zero-padded plane whose rows are `W + 1`
//! long: the one zero column at a row's end is also the left padding of the next row, so an
//! output at flat position `n = oy (W + 1) + ox` reads tap `(ky, kx)` at `n + ky (W + 1) +
//! kx`, one contiguous run for every tap. A register block of `CO` output channels by
//! `SPAN` consecutive positions (12 AVX-512 accumulators) then sums `Cin x 9` broadcast
//! weights times unaligned loads of the planes; the column `ox = W` of each row is computed
//! and dropped. Where im2col + GEMM copies each input 9 times into a patch matrix, which the
//! GEMM then copies again into panels, this reads the padded planes in place.
//!
//! AVX-512 only (x86-64, checked at run time); elsewhere [`super::plan`] does not choose it and
//! the GEMM path runs. (An AVX2 build of the same kernel, 4 channels by 24 positions, measured no
//! faster than the GEMM: 16 channels of 32 x 32 at B = 64 1.97 vs 1.86 ms per call, 32 of
//! 16 x 16 2.2 vs 1.7.) Each output is one chain of fused multiply-adds from zero, input
//! channel by channel and tap by tap: the order of the patch matrix's rows, in which the gemm
//! crate's kernels accumulate too, so in the encoders' layers the outputs come out bit for bit
//! as im2col + GEMM's (the default run's losses and kNN are unchanged to the last digit).
//! Nothing in the gemm crate promises that order, so the tests hold the kernel to the plain
//! loops' f64 reference within the GEMM path's tolerance.
//! NaN and infinite inputs propagate to the outputs whose sums they enter, as in the loops;
//! an infinite weight meets the zero padding as `0 x inf = NaN` where the loops skip it.

use super::ConvGeometry;
use super::gemm::image_runs;
use crate::buffers::{unwritten, with_scratch, written};
use crate::parallel::{map_indices, per_image};

/// Output channels per register block.
const CO: usize = 6;
/// 16-float vectors of consecutive output positions per register block.
const NX: usize = 2;
/// Output positions per register block.
const SPAN: usize = 16 * NX;

/// Can [`conv2d_forward`] compute this convolution (3x3, stride 1, padding 1)?
pub fn computes(g: &ConvGeometry) -> bool {
    g.kernel == 3 && g.stride == 1 && g.pad == 1 && g.is_valid()
}

/// The padded layout of one image's channels.
#[derive(Debug, Clone, Copy)]
struct Layout {
    /// Padded row length, `W + 1`.
    row: usize,
    /// Output positions computed per channel: `H (W + 1)` rounded up to [`SPAN`].
    positions: usize,
    /// Values per padded channel plane (every tap of every computed position inside).
    plane: usize,
}

impl Layout {
    fn of(g: &ConvGeometry) -> Self {
        let row = g.width + 1;
        let positions = (g.height * row).div_ceil(SPAN) * SPAN;
        Layout { row, positions, plane: positions + 2 * row + 2 }
    }

    /// Where tap `(ky, kx)` of output `n` sits in a padded plane, less `n`: `ky row + kx`.
    fn offsets(&self) -> [usize; 9] {
        std::array::from_fn(|tap| (tap / 3) * self.row + tap % 3)
    }
}

/// One channel (`H x W`) into its padded plane: pixel `(iy, ix)` at `(iy + 1) row + ix + 1`,
/// zeros everywhere else.
fn pad_channel(src: &[f32], g: &ConvGeometry, l: &Layout, dst: &mut [f32]) {
    let (w, row) = (g.width, l.row);
    dst[..=row].fill(0.0);
    for (iy, line) in src.chunks_exact(w).enumerate() {
        let start = (iy + 1) * row + 1;
        dst[start..start + w].copy_from_slice(line);
        dst[start + w] = 0.0;
    }
    dst[(g.height + 1) * row + 1..].fill(0.0);
}

/// The weights in register-block order: for each block of [`CO`] output channels,
/// `[ci][tap][co]`; the last `Cout mod CO` channels as one narrower block of the same form.
fn block_weights(w: &[f32], g: &ConvGeometry) -> Vec<f32> {
    let mut out = Vec::with_capacity(w.len());
    for first in (0..g.cout).step_by(CO) {
        let width = CO.min(g.cout - first);
        for ci in 0..g.cin {
            for tap in 0..9 {
                for co in first..first + width {
                    out.push(w[(co * g.cin + ci) * 9 + tap]);
                }
            }
        }
    }
    out
}

/// `y = conv(x, w)` (B x Cin x H x W by Cout x Cin x 3 x 3, stride 1, padding 1): B x Cout x H x W.
/// Panics unless [`computes`] holds and the CPU has AVX-512.
pub fn conv2d_forward(x: &[f32], w: &[f32], g: &ConvGeometry) -> Vec<f32> {
    assert!(computes(g) && crate::simd::avx512(), "the direct kernel does not compute {g:?} on this CPU");
    assert!(x.len() == g.batch * g.cin * g.height * g.width && w.len() == g.cout * g.cin * 9);
    let l = Layout::of(g);
    let weights = block_weights(w, g);
    let plane = g.height * g.width;
    let offsets = l.offsets();
    let mut y = unwritten(g.batch * g.cout * plane);
    per_image(&mut y, g.cout * plane, |b, y_b| {
        with_scratch(g.cin * l.plane + g.cout * l.positions, |buffer| {
            let (padded, sums) = buffer.split_at_mut(g.cin * l.plane);
            for (c, dst) in padded.chunks_exact_mut(l.plane).enumerate() {
                pad_channel(&x[(b * g.cin + c) * plane..][..plane], g, &l, dst);
            }
            image_sums(padded, &weights, g, &l, &offsets, sums);
            // Drop the column ox = W of every row (and the positions past the last row).
            for (co, out) in y_b.chunks_exact_mut(plane).enumerate() {
                let s = &sums[co * l.positions..];
                for (oy, line) in out.chunks_exact_mut(g.width).enumerate() {
                    for (o, v) in line.iter_mut().zip(&s[oy * l.row..]) {
                        o.write(*v);
                    }
                }
            }
        });
    });
    // SAFETY: every image's Cout x H x W outputs were written by the loop above.
    unsafe { written(y) }
}

/// Output channels per register block of the weight gradient (`2 x 9` accumulators, the 9
/// taps' input vectors and one of dy: 28 of AVX-512's 32 registers).
const GRAD_CO: usize = 2;
/// Lanes of an AVX-512 vector.
const LANES: usize = 16;

/// `dL/dw` (Cout x Cin x 3 x 3) from x and dy (stride 1, padding 1): `dw[co][ci][tap] =
/// sum_b sum_n dy'[co][n] x'[ci][n + offset(tap)]` over each image's padded planes, where dy'
/// is dy on the same `W + 1` wide grid (zero in the dropped column and past the last row).
/// Each register block keeps 16-lane sums for `GRAD_CO` output channels, one input channel
/// and the 9 taps across a run of images; the lanes are added up once at the end, the runs
/// in order. Panics unless [`computes`] holds and the CPU has AVX-512.
pub fn conv2d_weight_grad(x: &[f32], dy: &[f32], g: &ConvGeometry) -> Vec<f32> {
    assert!(computes(g) && crate::simd::avx512(), "the direct kernel does not compute {g:?} on this CPU");
    let plane = g.height * g.width;
    assert!(x.len() == g.batch * g.cin * plane && dy.len() == g.batch * g.cout * plane);
    let l = Layout::of(g);
    let offsets = l.offsets();
    let runs = image_runs(g.batch);
    let lanes_len = g.cout * g.cin * 9 * LANES;
    let partials = map_indices(runs.len(), |run| {
        // [block][ci][co in block][tap][lane], blocks of GRAD_CO output channels in order.
        let mut lanes = vec![0.0f32; lanes_len];
        with_scratch(g.cin * l.plane + g.cout * l.positions, |buffer| {
            let (padded, grid) = buffer.split_at_mut(g.cin * l.plane);
            for b in runs[run].clone() {
                for (c, dst) in padded.chunks_exact_mut(l.plane).enumerate() {
                    pad_channel(&x[(b * g.cin + c) * plane..][..plane], g, &l, dst);
                }
                for (co, dst) in grid.chunks_exact_mut(l.positions).enumerate() {
                    grid_channel(&dy[(b * g.cout + co) * plane..][..plane], g, &l, dst);
                }
                gradient_sums(padded, grid, g, &l, &offsets, &mut lanes);
            }
        });
        lanes
    });
    // dw[co][ci][tap]: each partial's 16 lanes added in order, then the partials in order.
    let mut dw = vec![0.0f32; g.cout * g.cin * 9];
    for first in (0..g.cout).step_by(GRAD_CO) {
        let width = GRAD_CO.min(g.cout - first);
        for ci in 0..g.cin {
            for c in 0..width {
                for tap in 0..9 {
                    let at = ((first * g.cin + ci * width + c) * 9 + tap) * LANES;
                    let total = partials.iter().map(|p| p[at..at + LANES].iter().sum::<f32>()).fold(0.0f32, |a, v| a + v);
                    dw[((first + c) * g.cin + ci) * 9 + tap] = total;
                }
            }
        }
    }
    dw
}

/// One channel of dy (`H x W`) on the padded grid: `(oy, ox)` at `oy row + ox`, zero in the
/// dropped column `ox = W` and from `H row` on.
fn grid_channel(src: &[f32], g: &ConvGeometry, l: &Layout, dst: &mut [f32]) {
    for (oy, line) in src.chunks_exact(g.width).enumerate() {
        let start = oy * l.row;
        dst[start..start + g.width].copy_from_slice(line);
        dst[start + g.width] = 0.0;
    }
    dst[g.height * l.row..l.positions].fill(0.0);
}

/// Adds one image's products to the 16-lane sums (`lanes`, laid out as in [`conv2d_weight_grad`]).
fn gradient_sums(padded: &[f32], grid: &[f32], g: &ConvGeometry, l: &Layout, offsets: &[usize; 9], lanes: &mut [f32]) {
    assert!(padded.len() >= g.cin * l.plane && grid.len() >= g.cout * l.positions && lanes.len() == g.cout * g.cin * 9 * LANES);
    assert!(l.positions.is_multiple_of(LANES) && offsets.iter().all(|&o| o + l.positions <= l.plane));
    for first in (0..g.cout).step_by(GRAD_CO) {
        let width = GRAD_CO.min(g.cout - first);
        let dy = &grid[first * l.positions..][..width * l.positions];
        for ci in 0..g.cin {
            let x = &padded[ci * l.plane..][..l.plane];
            let out = &mut lanes[(first * g.cin + ci * width) * 9 * LANES..][..width * 9 * LANES];
            // SAFETY: AVX-512F (`simd::avx512()`) held in `conv2d_weight_grad`; x is read at
            // n + offsets[tap] + 0..16 < positions + offsets[8] <= plane, dy at c positions +
            // n + 0..16 for c < width, out at (c 9 + tap) 16 + 0..16: all inside the slices.
            #[cfg(target_arch = "x86_64")]
            unsafe {
                match width {
                    2 => gradient_block::<2>(dy.as_ptr(), l.positions, x.as_ptr(), offsets, out.as_mut_ptr()),
                    _ => gradient_block::<1>(dy.as_ptr(), l.positions, x.as_ptr(), offsets, out.as_mut_ptr()),
                }
            }
            #[cfg(not(target_arch = "x86_64"))]
            let _ = (dy, x, out);
        }
    }
}

/// `lanes[c][tap][j] += sum over n = j, j + 16, ... < positions of dy[c positions + n] x[n +
/// offsets[tap]]`. Safety: the CPU has AVX-512F; `dy` is readable for `C positions` values,
/// `x` for `positions + offsets[8]`, `lanes` for `C 9 16`; `positions` is a multiple of 16.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn gradient_block<const C: usize>(dy: *const f32, positions: usize, x: *const f32, offsets: &[usize; 9], lanes: *mut f32) {
    use std::arch::x86_64::*;
    let mut acc = [[_mm512_setzero_ps(); 9]; C];
    for (c, acc_c) in acc.iter_mut().enumerate() {
        for (tap, a) in acc_c.iter_mut().enumerate() {
            // SAFETY: (this and the loads and stores below): in bounds by the caller's contract.
            *a = unsafe { _mm512_loadu_ps(lanes.add((c * 9 + tap) * LANES)) };
        }
    }
    for n in (0..positions).step_by(LANES) {
        let mut v = [_mm512_setzero_ps(); 9];
        for (v, &offset) in v.iter_mut().zip(offsets) {
            // SAFETY: in bounds by the caller's contract, as for the block above.
            *v = unsafe { _mm512_loadu_ps(x.add(n + offset)) };
        }
        for (c, acc_c) in acc.iter_mut().enumerate() {
            // SAFETY: in bounds by the caller's contract, as for the block above.
            let d = unsafe { _mm512_loadu_ps(dy.add(c * positions + n)) };
            for (a, v) in acc_c.iter_mut().zip(&v) {
                *a = _mm512_fmadd_ps(d, *v, *a);
            }
        }
    }
    for (c, acc_c) in acc.iter().enumerate() {
        for (tap, a) in acc_c.iter().enumerate() {
            // SAFETY: in bounds by the caller's contract, as for the block above.
            unsafe { _mm512_storeu_ps(lanes.add((c * 9 + tap) * LANES), *a) };
        }
    }
}

/// All `Cout x positions` sums of one image from its padded planes.
fn image_sums(padded: &[f32], weights: &[f32], g: &ConvGeometry, l: &Layout, offsets: &[usize; 9], sums: &mut [f32]) {
    assert!(padded.len() >= g.cin * l.plane && sums.len() >= g.cout * l.positions && weights.len() == g.cout * g.cin * 9);
    // Every load reads `padded[ci plane + n0 + offsets[tap] + 0..SPAN]` with n0 + SPAN <=
    // positions and offsets[tap] <= 2 row + 2: inside the plane by its definition.
    assert!(offsets.iter().all(|&o| o + l.positions <= l.plane));
    for first in (0..g.cout).step_by(CO) {
        for n0 in (0..l.positions).step_by(SPAN) {
            let width = CO.min(g.cout - first);
            let w = &weights[first * g.cin * 9..][..width * g.cin * 9];
            let x = &padded[n0..];
            let y = &mut sums[first * l.positions + n0..];
            let stride = l.positions;
            // SAFETY: AVX-512F (`simd::avx512()`) held in `conv2d_forward`; the pointers stay in bounds by
            // the asserts above: x reads up to (cin - 1) plane + offsets[8] + SPAN past n0,
            // y writes rows 0..width, `stride` apart, SPAN each.
            #[cfg(target_arch = "x86_64")]
            unsafe {
                match width {
                    6 => block::<6>(x.as_ptr(), l.plane, g.cin, offsets, w.as_ptr(), y.as_mut_ptr(), stride),
                    5 => block::<5>(x.as_ptr(), l.plane, g.cin, offsets, w.as_ptr(), y.as_mut_ptr(), stride),
                    4 => block::<4>(x.as_ptr(), l.plane, g.cin, offsets, w.as_ptr(), y.as_mut_ptr(), stride),
                    3 => block::<3>(x.as_ptr(), l.plane, g.cin, offsets, w.as_ptr(), y.as_mut_ptr(), stride),
                    2 => block::<2>(x.as_ptr(), l.plane, g.cin, offsets, w.as_ptr(), y.as_mut_ptr(), stride),
                    _ => block::<1>(x.as_ptr(), l.plane, g.cin, offsets, w.as_ptr(), y.as_mut_ptr(), stride),
                }
            }
            #[cfg(not(target_arch = "x86_64"))]
            let _ = (x, w, y, stride);
        }
    }
}

/// `C` output channels by [`SPAN`] positions: `y[c][j] = sum_ci sum_tap w[ci][tap][c] x[ci
/// plane + offsets[tap] + j]`. Safety: the CPU has AVX-512F; `x` is readable for `(cin -
/// 1) plane + offsets[8] + SPAN` values, `w` for `cin 9 C`, `y` writable at `c stride + j`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn block<const C: usize>(x: *const f32, plane: usize, cin: usize, offsets: &[usize; 9], w: *const f32, y: *mut f32, stride: usize) {
    use std::arch::x86_64::*;
    let mut acc = [[_mm512_setzero_ps(); NX]; C];
    for ci in 0..cin {
        // SAFETY: (this and the loads below): in bounds by the caller's contract.
        let (xc, wc) = unsafe { (x.add(ci * plane), w.add(ci * 9 * C)) };
        for (tap, &offset) in offsets.iter().enumerate() {
            // (A loop, not a closure: closures do not inherit the target features.)
            let mut v = [_mm512_setzero_ps(); NX];
            for (j, v) in v.iter_mut().enumerate() {
                // SAFETY: in bounds by the caller's contract, as for the block above.
                *v = unsafe { _mm512_loadu_ps(xc.add(offset + 16 * j)) };
            }
            for (c, acc_c) in acc.iter_mut().enumerate() {
                // SAFETY: in bounds by the caller's contract, as for the block above.
                let b = unsafe { _mm512_set1_ps(*wc.add(tap * C + c)) };
                for (a, v) in acc_c.iter_mut().zip(&v) {
                    *a = _mm512_fmadd_ps(b, *v, *a);
                }
            }
        }
    }
    for (c, acc_c) in acc.iter().enumerate() {
        for (j, a) in acc_c.iter().enumerate() {
            // SAFETY: in bounds by the caller's contract.
            unsafe { _mm512_storeu_ps(y.add(c * stride + 16 * j), *a) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conv::reference::{assert_close, conv2d_forward_reference, conv2d_weight_grad_reference};
    use crate::testing::test_values as values;

    #[test]
    fn the_direct_kernel_matches_the_loops() {
        if !crate::simd::avx512() {
            eprintln!("no AVX-512: the direct kernel is not used on this CPU");
            return;
        }
        // Odd sizes (positions not a multiple of SPAN), output channels not a multiple of CO
        // (1 to 5 left over), one row, one column, one pixel, and the small encoder's shapes.
        let shapes = [
            (1, 3, 5, 9, 9),
            (2, 5, 6, 7, 5),
            (1, 1, 1, 1, 1),
            (2, 4, 7, 1, 13),
            (1, 6, 3, 11, 1),
            (3, 16, 16, 8, 8),
            (1, 17, 34, 5, 6),
            (2, 32, 32, 16, 16),
            (1, 2, 11, 4, 33),
            (2, 5, 9, 3, 40),
        ];
        for (i, (batch, cin, cout, height, width)) in shapes.into_iter().enumerate() {
            let g = ConvGeometry { batch, cin, cout, height, width, kernel: 3, stride: 1, pad: 1 };
            let x = values(batch * cin * height * width, 200 + i as u64);
            let w = values(cout * cin * 9, 300 + i as u64);
            assert_close(&conv2d_forward(&x, &w, &g), &conv2d_forward_reference(&x, &w, &g), &format!("{g:?}"));
        }
    }

    #[test]
    fn the_direct_weight_gradient_matches_the_loops() {
        if !crate::simd::avx512() {
            return;
        }
        // Odd sizes, an odd output channel count (a block of 1 left over), runs of images
        // (9 images in 5 runs of 2, none empty), one pixel, the small encoder's stem and stage.
        let shapes = [(3, 3, 5, 9, 9), (9, 2, 3, 7, 5), (1, 1, 1, 1, 1), (2, 4, 7, 1, 13), (2, 3, 16, 32, 32), (2, 16, 16, 32, 32)];
        for (i, (batch, cin, cout, height, width)) in shapes.into_iter().enumerate() {
            let g = ConvGeometry { batch, cin, cout, height, width, kernel: 3, stride: 1, pad: 1 };
            let x = values(batch * cin * height * width, 400 + i as u64);
            let dy = values(batch * cout * height * width, 500 + i as u64);
            assert_close(&conv2d_weight_grad(&x, &dy, &g), &conv2d_weight_grad_reference(&x, &dy, &g), &format!("{g:?} dw"));
        }
    }

    #[test]
    fn grids_hold_the_gradient_and_zeros() {
        let g = ConvGeometry { batch: 1, cin: 1, cout: 1, height: 3, width: 4, kernel: 3, stride: 1, pad: 1 };
        let l = Layout::of(&g);
        let dy = values(12, 6);
        let mut grid = vec![7.0f32; l.positions];
        grid_channel(&dy, &g, &l, &mut grid);
        for (n, v) in grid.iter().enumerate() {
            let (oy, ox) = (n / l.row, n % l.row);
            let want = if oy < 3 && ox < 4 { dy[oy * 4 + ox] } else { 0.0 };
            assert_eq!(*v, want, "position {n}");
        }
    }

    #[test]
    fn non_finite_inputs_reach_exactly_the_outputs_they_enter() {
        if !crate::simd::avx512() {
            return;
        }
        let g = ConvGeometry { batch: 2, cin: 3, cout: 5, height: 6, width: 7, kernel: 3, stride: 1, pad: 1 };
        let mut x = values(g.batch * g.cin * 42, 11);
        x[8] = f32::NAN;
        x[g.cin * 42 + 41] = f32::INFINITY;
        let w = values(g.cout * g.cin * 9, 12);
        let (got, want) = (conv2d_forward(&x, &w, &g), conv2d_forward_reference(&x, &w, &g));
        for (i, (a, b)) in got.iter().zip(&want).enumerate() {
            assert_eq!((a.is_nan(), a.is_infinite()), (b.is_nan(), b.is_infinite()), "output {i}: {a} vs {b}");
        }
    }

    #[test]
    fn padded_planes_hold_the_image_and_zeros() {
        let g = ConvGeometry { batch: 1, cin: 1, cout: 1, height: 3, width: 4, kernel: 3, stride: 1, pad: 1 };
        let l = Layout::of(&g);
        let x = values(12, 5);
        let mut p = vec![7.0f32; l.plane];
        pad_channel(&x, &g, &l, &mut p);
        for (j, v) in p.iter().enumerate() {
            let (r, c) = (j / l.row, j % l.row);
            let want = if (1..=3).contains(&r) && c >= 1 { x[(r - 1) * 4 + c - 1] } else { 0.0 };
            assert_eq!(*v, want, "slot {j}");
        }
    }
}
