//! Direct 3x3 convolutions with padding 1 for small images (rows of under 32 outputs) and
//! for the stride-2 layers, forward and so the stride-1 input gradient (a forward
//! convolution of dy), vectorised across output channels, and the weight gradient
//! ([`conv2d_weight_grad`]: dy transposed to position-major, 32 output channels by 9 taps of
//! one input channel in registers across the batch). Used on the small encoder's 16 x 16
//! and 8 x 8 stages (all three passes), ResNet-18's 4 x 4 stage (forward and input
//! gradient) and both encoders' stride-2 3x3 layers (forward; the weight gradient of the
//! small encoder's), where [`super::plan`] chooses it.
//! [`conv2d_forward`] computes any 3x3 padding-1 layer at stride 1 or 2 (and 1x1 at stride
//! 2) with a multiple of 16 output channels; the stride-2 input gradient is
//! [`super::strided_input_grad`]'s, whose phases run on this module's register blocks.
//!
//! [`super::direct`] vectorises along a row of outputs, which wastes most of a vector on
//! short rows; im2col + GEMM runs one small GEMM per image and copies each input 9 times
//! into a patch matrix, then again into the GEMM's panels. Here a register block holds
//! `16 V` output channels (V AVX-512 vectors) by `P` output positions (4 x 6 or 2 x 6
//! vectors, 1 x 8; at most 8 positions: each holds a base offset in a general register):
//! for each input channel and tap, V vectors of weights (packed once per call as
//! `[block][ci][tap][co]`) meet P broadcast inputs. The inputs are each image's channels
//! copied into zero-padded planes (`(H + 2 p) x (W + 2 p)`), so every position reads its
//! taps at fixed offsets from its window's corner (`s oy`, `s ox` at stride s) and no bounds
//! are checked; positions run across the images of a group (several 4 x 4 images fill a
//! block). The input channels are taken `CI_CHUNK` at a time
//! (a block's weights then stay in L2: 512 channels' would not), the sums kept
//! position-major between chunks (each chunk's block continues the same FMA chains), and
//! transposed into NCHW at the end.
//!
//! AVX-512 only (x86-64, checked at run time); elsewhere the plan does not choose it. Each output is
//! one chain of fused multiply-adds from zero, input channel by channel, tap by tap (the
//! order of im2col's patch rows, in which the GEMM accumulates too); the tests hold it to the
//! plain loops' f64 reference within the tolerance every path meets. NaN and infinite inputs
//! propagate to the outputs whose sums they enter; an infinite weight meets the zero padding
//! as `0 x inf = NaN` where the loops skip it.

use super::ConvGeometry;
use super::transpose::transpose_into;
use crate::buffers::{Slot, unwritten, with_scratch, written};
use crate::parallel::{map_indices, per_image};

/// Lanes of an AVX-512 vector.
pub(super) const LANES: usize = 16;
/// Accumulator registers per block at most (of AVX-512's 32: the rest hold weights and a
/// broadcast).
const ACCUMULATORS: usize = 24;
/// Positions per block at most (each holds a base offset in a general register: 12 spilled).
const MAX_POSITIONS: usize = 8;
/// Input channels per pass over a group: a block's weights, `128 x 9 x 64` floats, fit L2.
const CI_CHUNK: usize = 128;
/// Bytes of one chunk of a group's padded inputs (several images per group amortise each
/// pass over the weights).
const GROUP_INPUT_BYTES: usize = 256 << 10;
/// Groups per call at least (work for every core).
const MIN_GROUPS: usize = 4;

/// Does [`conv2d_forward`] (and [`conv2d_weight_grad`]) compute this convolution: 3x3 with
/// padding 1 at stride 1 or 2, or 1x1 without padding at stride 2, output channels a
/// multiple of 16? (It runs only where the CPU has AVX-512.)
pub fn computes(g: &ConvGeometry) -> bool {
    let shape = matches!((g.kernel, g.pad, g.stride), (3, 1, 1) | (3, 1, 2) | (1, 0, 2));
    shape && g.is_valid() && g.cout.is_multiple_of(LANES)
}

/// Weight vectors per block for `cout` output channels: 4 (64 channels), else 2, else 1.
pub(super) fn vectors(cout: usize) -> usize {
    [4, 2, 1].into_iter().find(|v| cout.is_multiple_of(v * LANES)).unwrap_or(1)
}

/// The weights in block order: for each block of `16 V` output channels, `[ci][tap][co]`:
/// each block's `16 V x (Cin 9)` rows transposed.
fn block_weights(w: &[f32], g: &ConvGeometry, v: usize) -> Vec<f32> {
    let width = v * LANES;
    let depth = g.cin * g.kernel * g.kernel;
    let mut out = unwritten(w.len());
    per_image(&mut out, depth * width, |block, dst| {
        transpose_into(&w[block * width * depth..][..width * depth], width, depth, dst);
    });
    // SAFETY: every block's transposition wrote all of it.
    unsafe { written(out) }
}

/// `y = conv(x, w)` (B x Cin x H x W by Cout x Cin x k x k): B x Cout x OH x OW.
/// Panics unless [`computes`] holds and the CPU has AVX-512.
pub fn conv2d_forward(x: &[f32], w: &[f32], g: &ConvGeometry) -> Vec<f32> {
    assert!(computes(g) && crate::simd::avx512(), "the small-image direct kernel does not compute {g:?} on this CPU");
    let taps = g.kernel * g.kernel;
    assert!(x.len() == g.batch * g.cin * g.height * g.width && w.len() == g.cout * g.cin * taps);
    let v = vectors(g.cout);
    let weights = block_weights(w, g, v);
    let layout = Padded::of(g);
    let (plane, out_plane) = (g.height * g.width, g.out_height() * g.out_width());
    let group = group_size(g.batch, g.cin, layout.plane);
    let offsets = layout.offsets();
    let mut y = unwritten(g.batch * g.cout * out_plane);
    per_image(&mut y, group * g.cout * out_plane, |gi, y_g| {
        let images = y_g.len() / (g.cout * out_plane);
        let positions = images * out_plane;
        let padded_len = images * g.cin * layout.plane;
        with_scratch(padded_len + sums_len(positions, g.cout), |buffer| {
            let (padded, sums) = buffer.split_at_mut(padded_len);
            for (i, dst) in padded.chunks_exact_mut(g.cin * layout.plane).enumerate() {
                let src = &x[(gi * group + i) * g.cin * plane..][..g.cin * plane];
                pad_planes(src, g.height, g.width, [g.pad; 2], [g.pad; 2], dst);
            }
            // Position n of the group: image n / OH OW, output pixel n % OH OW.
            let base = |n: usize| (n / out_plane) * g.cin * layout.plane + layout.corner(n % out_plane);
            let group_sums = GroupSums { padded, padded_plane: layout.plane, cin: g.cin, cout: g.cout, offsets: &offsets, positions };
            group_sums.run_any(v, &weights, &base, sums);
            for (image, y_i) in y_g.chunks_exact_mut(g.cout * out_plane).enumerate() {
                transpose_into(&sums[image * out_plane * g.cout..][..out_plane * g.cout], out_plane, g.cout, y_i);
            }
        });
    });
    // SAFETY: every image's Cout x OH x OW outputs were written by its transposition.
    unsafe { written(y) }
}

/// Images per group (the unit of work) when each image has `cin` padded planes of
/// `padded_plane` values: a chunk of [`CI_CHUNK`] channels of the group within
/// [`GROUP_INPUT_BYTES`], and at least [`MIN_GROUPS`] groups.
pub(super) fn group_size(batch: usize, cin: usize, padded_plane: usize) -> usize {
    let chunk_bytes = cin.min(CI_CHUNK) * padded_plane * 4;
    (GROUP_INPUT_BYTES / chunk_bytes).clamp(1, batch.div_ceil(MIN_GROUPS))
}

/// Length of a position-major sums buffer for `positions` rows of `cout`: whole blocks (the
/// last block's extra rows are scratch).
pub(super) fn sums_len(positions: usize, cout: usize) -> usize {
    (positions + MAX_POSITIONS - 1) * cout
}

/// The zero-padded planes both passes read: a plane's length and where an output's k x k
/// window sits in it.
#[derive(Debug, Clone, Copy)]
struct Padded {
    /// Output width (OW).
    out_width: usize,
    /// Stride.
    stride: usize,
    /// Kernel side.
    kernel: usize,
    /// Padded row length, `W + 2 p`.
    row: usize,
    /// Values per padded plane, `(H + 2 p) (W + 2 p)`.
    plane: usize,
}

impl Padded {
    fn of(g: &ConvGeometry) -> Self {
        let row = g.width + 2 * g.pad;
        Padded { out_width: g.out_width(), stride: g.stride, kernel: g.kernel, row, plane: (g.height + 2 * g.pad) * row }
    }

    /// Where output pixel `n`'s window starts (its top-left tap) in a padded plane.
    fn corner(&self, n: usize) -> usize {
        ((n / self.out_width) * self.row + n % self.out_width) * self.stride
    }

    /// Each tap `(ky, kx)`'s offset from the window's start: `ky row + kx`.
    fn offsets(&self) -> Vec<usize> {
        let k = self.kernel;
        (0..k * k).map(|tap| (tap / k) * self.row + tap % k).collect()
    }
}

/// One image's channels (`C x H x W`) into zero-padded planes of `(lo[0] + H + hi[0]) x
/// (lo[1] + W + hi[1])`, every value of `dst` written once (the padding as zeros).
pub(super) fn pad_planes(src: &[f32], h: usize, w: usize, lo: [usize; 2], hi: [usize; 2], dst: &mut [impl Slot]) {
    let row = lo[1] + w + hi[1];
    let plane = (lo[0] + h + hi[0]) * row;
    assert_eq!(src.len() / (h * w) * plane, dst.len());
    let zero = |span: &mut [_]| span.iter_mut().for_each(|v: &mut _| Slot::put(v, 0.0));
    for (channel, out) in src.chunks_exact(h * w).zip(dst.chunks_exact_mut(plane)) {
        let (top, rest) = out.split_at_mut(lo[0] * row);
        let (rows, bottom) = rest.split_at_mut(h * row);
        zero(top);
        zero(bottom);
        for (line, out_row) in channel.chunks_exact(w).zip(rows.chunks_exact_mut(row)) {
            let (left, rest) = out_row.split_at_mut(lo[1]);
            let (inside, right) = rest.split_at_mut(w);
            zero(left);
            inside.iter_mut().zip(line).for_each(|(d, &v)| d.put(v));
            zero(right);
        }
    }
}

/// A group's padded inputs and how to read them.
pub(super) struct GroupSums<'a> {
    /// The group's padded planes, image by image, channel by channel.
    pub padded: &'a [f32],
    /// Values per padded plane.
    pub padded_plane: usize,
    /// Channels summed over (the planes per image).
    pub cin: usize,
    /// Channels computed (the length of a row of sums).
    pub cout: usize,
    /// Each tap's offset from a position's base (1, 2, 4 or 9 taps).
    pub offsets: &'a [usize],
    /// Positions of the group.
    pub positions: usize,
}

impl GroupSums<'_> {
    /// [`Self::run`] with the block shape for `v` weight vectors (4 x 6, 2 x 6, 1 x 8) and
    /// the number of taps. Weights are `[block][ci][tap][16 v]`.
    pub fn run_any(&self, v: usize, weights: &[f32], base: &impl Fn(usize) -> usize, sums: &mut [f32]) {
        macro_rules! by_taps {
            ($v:literal, $p:literal) => {
                match self.offsets.len() {
                    9 => self.run::<$v, $p, 9>(weights, base, sums),
                    4 => self.run::<$v, $p, 4>(weights, base, sums),
                    2 => self.run::<$v, $p, 2>(weights, base, sums),
                    1 => self.run::<$v, $p, 1>(weights, base, sums),
                    taps => unreachable!("no block for {taps} taps"),
                }
            };
        }
        match v {
            4 => by_taps!(4, 6),
            2 => by_taps!(2, 6),
            _ => by_taps!(1, 8),
        }
    }

    /// Every output of the group into `sums` (position-major, `cout` per row): chunk by
    /// chunk of input channels, block by block of `16 V` output channels, `P` positions at
    /// a time, `T` taps per input channel.
    fn run<const V: usize, const P: usize, const T: usize>(&self, weights: &[f32], base: &impl Fn(usize) -> usize, sums: &mut [f32]) {
        assert!(V * P <= ACCUMULATORS && P <= MAX_POSITIONS);
        let offsets: &[usize; T] = self.offsets.try_into().expect("T taps");
        let width = V * LANES;
        let blocks: Vec<[usize; P]> = (0..self.positions)
            .step_by(P)
            // Past the last position a block repeats it (read, and its sums go to scratch rows).
            .map(|n0| std::array::from_fn(|p| base((n0 + p).min(self.positions - 1))))
            .collect();
        assert!(sums.len() >= blocks.len() * P * self.cout && weights.len().is_multiple_of(self.cin * T * width));
        let farthest = offsets.iter().copied().max().unwrap_or(0);
        for ci0 in (0..self.cin).step_by(CI_CHUNK) {
            let chunk = CI_CHUNK.min(self.cin - ci0);
            let reach = ci0 * self.padded_plane + (chunk - 1) * self.padded_plane + farthest;
            assert!(blocks.iter().flatten().all(|&b| b + reach < self.padded.len()));
            for (block, w) in weights.chunks_exact(self.cin * T * width).enumerate() {
                let w = &w[ci0 * T * width..][..chunk * T * width];
                for (i, bases) in blocks.iter().enumerate() {
                    let out = &mut sums[i * P * self.cout + block * width..];
                    // SAFETY: AVX-512F is available (asserted on entry); every input read is at
                    // `bases[p] + (ci0 + ci) plane + offsets[tap] <= bases[p] + reach`, in
                    // bounds by the assert; `w` holds chunk T V 16 weights; `out` row p
                    // (`p cout + 0..V 16`) lies inside the block's P rows.
                    #[cfg(target_arch = "x86_64")]
                    unsafe {
                        block_sums::<V, P, T>(
                            self.padded[ci0 * self.padded_plane..].as_ptr(),
                            bases,
                            self.padded_plane,
                            chunk,
                            offsets,
                            w.as_ptr(),
                            out.as_mut_ptr(),
                            self.cout,
                            ci0 > 0,
                        )
                    };
                    #[cfg(not(target_arch = "x86_64"))]
                    let _ = (w, bases, out);
                }
            }
        }
    }
}

/// `16 V` output channels by `P` positions over `cin` input channels: `out[p row + 16 v +
/// lane] (+)= sum_ci sum_tap w[ci][tap][16 v + lane] x[bases[p] + ci plane + offsets[tap]]`,
/// continuing from the values in `out` when `resume`. Safety: the CPU has AVX-512F; `x` is
/// readable at every such index, `w` for `cin T 16 V` values, `out` for `p row + 16 V` values.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
unsafe fn block_sums<const V: usize, const P: usize, const T: usize>(
    x: *const f32,
    bases: &[usize; P],
    plane: usize,
    cin: usize,
    offsets: &[usize; T],
    w: *const f32,
    out: *mut f32,
    row: usize,
    resume: bool,
) {
    use std::arch::x86_64::*;
    let mut acc = [[_mm512_setzero_ps(); V]; P];
    if resume {
        for (p, acc_p) in acc.iter_mut().enumerate() {
            for (v, a) in acc_p.iter_mut().enumerate() {
                // SAFETY: in bounds by the caller's contract.
                *a = unsafe { _mm512_loadu_ps(out.add(p * row + v * LANES)) };
            }
        }
    }
    for ci in 0..cin {
        // SAFETY: (this and the loads below): in bounds by the caller's contract.
        let (xc, wc) = unsafe { (x.add(ci * plane), w.add(ci * T * V * LANES)) };
        for (tap, &offset) in offsets.iter().enumerate() {
            let mut wv = [_mm512_setzero_ps(); V];
            for (v, wv) in wv.iter_mut().enumerate() {
                // SAFETY: in bounds by the caller's contract, as for the block above.
                *wv = unsafe { _mm512_loadu_ps(wc.add((tap * V + v) * LANES)) };
            }
            for (acc_p, &b) in acc.iter_mut().zip(bases) {
                // SAFETY: in bounds by the caller's contract, as for the block above.
                let xb = unsafe { _mm512_set1_ps(*xc.add(b + offset)) };
                for (a, wv) in acc_p.iter_mut().zip(&wv) {
                    *a = _mm512_fmadd_ps(*wv, xb, *a);
                }
            }
        }
    }
    for (p, acc_p) in acc.iter().enumerate() {
        for (v, a) in acc_p.iter().enumerate() {
            // SAFETY: in bounds by the caller's contract.
            unsafe { _mm512_storeu_ps(out.add(p * row + v * LANES), *a) };
        }
    }
}

/// Output-channel vectors per block of the weight gradient (2 x 9 accumulators, the 2 dy
/// vectors and a broadcast: 21 of AVX-512's 32 registers).
const GRAD_VECTORS: usize = 2;

/// `dL/dw` (Cout x Cin x k x k) from x and dy: `dw[co][ci][tap] = sum_b sum_n dy[b][co][n]
/// x'[b][ci][base(n) + offset(tap)]` over the zero-padded planes x'. dy is transposed once
/// per image to position-major, so 16 output channels are one vector; each task keeps
/// `32 x k k` sums (2 vectors by the taps) for one input channel across the whole batch,
/// image by image and position by position: one chain per weight, the same bits on any core
/// count. Panics unless [`computes`] holds, Cout is a multiple of 32 and the CPU has AVX-512.
pub fn conv2d_weight_grad(x: &[f32], dy: &[f32], g: &ConvGeometry) -> Vec<f32> {
    assert!(
        computes(g) && g.cout.is_multiple_of(GRAD_VECTORS * LANES) && crate::simd::avx512(),
        "the small-image kernel does not compute {g:?}'s weight gradient"
    );
    match g.kernel {
        3 => weight_grad::<9>(x, dy, g),
        _ => weight_grad::<1>(x, dy, g),
    }
}

/// [`conv2d_weight_grad`] for `T = k k` taps.
fn weight_grad<const T: usize>(x: &[f32], dy: &[f32], g: &ConvGeometry) -> Vec<f32> {
    let (plane, out_plane) = (g.height * g.width, g.out_height() * g.out_width());
    assert!(x.len() == g.batch * g.cin * plane && dy.len() == g.batch * g.cout * out_plane && T == g.kernel * g.kernel);
    let layout = Padded::of(g);
    let padded_plane = layout.plane;
    let mut padded = unwritten(g.batch * g.cin * padded_plane);
    per_image(&mut padded, g.cin * padded_plane, |b, dst| {
        pad_planes(&x[b * g.cin * plane..][..g.cin * plane], g.height, g.width, [g.pad; 2], [g.pad; 2], dst)
    });
    // SAFETY: every image's planes were written whole.
    let padded = unsafe { written(padded) };
    let mut by_position = unwritten(g.batch * out_plane * g.cout);
    per_image(&mut by_position, out_plane * g.cout, |b, dst| {
        transpose_into(&dy[b * g.cout * out_plane..][..g.cout * out_plane], g.cout, out_plane, dst)
    });
    // SAFETY: every image's transposition wrote all of it.
    let by_position = unsafe { written(by_position) };
    let bases: Vec<usize> = (0..out_plane).map(|n| layout.corner(n)).collect();
    let offsets: [usize; T] = layout.offsets().try_into().expect("k k taps");
    let width = GRAD_VECTORS * LANES;
    let blocks = g.cout / width;
    // Task t: output-channel block t / Cin, input channel t % Cin.
    let sums = map_indices(blocks * g.cin, |t| {
        let (block, ci) = (t / g.cin, t % g.cin);
        #[cfg_attr(not(target_arch = "x86_64"), allow(unused_mut))]
        let mut out = [[0.0f32; GRAD_VECTORS * LANES]; T];
        let reach = (g.batch - 1) * g.cin * padded_plane + ci * padded_plane + bases[out_plane - 1] + offsets[T - 1];
        assert!(reach < padded.len() && (g.batch * out_plane - 1) * g.cout + block * width + width <= by_position.len());
        // SAFETY: AVX-512F is available (asserted on entry); the reads stay within `reach` and the
        // last dy vector, in bounds by the assert.
        #[cfg(target_arch = "x86_64")]
        unsafe {
            grad_block(
                by_position[block * width..].as_ptr(),
                g.cout,
                out_plane * g.cout,
                padded[ci * padded_plane..].as_ptr(),
                g.cin * padded_plane,
                g.batch,
                &bases,
                &offsets,
                &mut out,
            )
        };
        out
    });
    let mut dw = vec![0.0f32; g.cout * g.cin * T];
    for (t, out) in sums.iter().enumerate() {
        let (block, ci) = (t / g.cin, t % g.cin);
        for (tap, lanes) in out.iter().enumerate() {
            for (j, &value) in lanes.iter().enumerate() {
                dw[((block * width + j) * g.cin + ci) * T + tap] = value;
            }
        }
    }
    dw
}

/// `out[tap][16 v + lane] = sum_b sum_n dy[b dy_image + n row + 16 v + lane] x[b x_image +
/// bases[n] + offsets[tap]]` for [`GRAD_VECTORS`] vectors. Safety: the CPU has AVX-512F;
/// every such index is readable.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
unsafe fn grad_block<const T: usize>(
    dy: *const f32,
    row: usize,
    dy_image: usize,
    x: *const f32,
    x_image: usize,
    images: usize,
    bases: &[usize],
    offsets: &[usize; T],
    out: &mut [[f32; GRAD_VECTORS * LANES]; T],
) {
    use std::arch::x86_64::*;
    let mut acc = [[_mm512_setzero_ps(); GRAD_VECTORS]; T];
    for b in 0..images {
        // SAFETY: (this and the loads below): in bounds by the caller's contract.
        let (dyb, xb) = unsafe { (dy.add(b * dy_image), x.add(b * x_image)) };
        for (n, &base) in bases.iter().enumerate() {
            let mut d = [_mm512_setzero_ps(); GRAD_VECTORS];
            for (v, d) in d.iter_mut().enumerate() {
                // SAFETY: in bounds by the caller's contract, as for the block above.
                *d = unsafe { _mm512_loadu_ps(dyb.add(n * row + v * LANES)) };
            }
            for (acc_t, &offset) in acc.iter_mut().zip(offsets) {
                // SAFETY: in bounds by the caller's contract, as for the block above.
                let xv = unsafe { _mm512_set1_ps(*xb.add(base + offset)) };
                for (a, d) in acc_t.iter_mut().zip(&d) {
                    *a = _mm512_fmadd_ps(*d, xv, *a);
                }
            }
        }
    }
    for (acc_t, out_t) in acc.iter().zip(out.iter_mut()) {
        for (v, a) in acc_t.iter().enumerate() {
            // SAFETY: out_t holds GRAD_VECTORS 16 floats.
            unsafe { _mm512_storeu_ps(out_t[v * LANES..].as_mut_ptr(), *a) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conv::reference::{assert_close, conv2d_forward_reference, conv2d_weight_grad_reference};
    use crate::testing::test_values as values;

    fn check(g: ConvGeometry, seed: u64) {
        let x = values(g.batch * g.cin * g.height * g.width, seed);
        let w = values(g.cout * g.cin * g.kernel * g.kernel, seed + 1);
        let got = conv2d_forward(&x, &w, &g);
        assert_close(&got, &conv2d_forward_reference(&x, &w, &g), &format!("{g:?}"));
    }

    /// `(kernel, stride, pad)` of every shape this module computes.
    const SHAPES: [(usize, usize, usize); 3] = [(3, 1, 1), (3, 2, 1), (1, 2, 0)];

    #[test]
    fn the_small_image_kernel_matches_the_loops() {
        if !crate::simd::avx512() {
            eprintln!("no AVX-512: the small-image kernel is not used on this CPU");
            return;
        }
        for (batch, cin, cout, height, width) in [
            // The encoders' layers: 64 of 8 x 8, 32 of 16 x 16, 4 x 4 with input channels in
            // two chunks (the second partial) and several images per group; at stride 2 the
            // downsampling layers (16 -> 32 of 32 x 32, 32 -> 64 of 16 x 16).
            (5, 64, 64, 8, 8),
            (3, 32, 32, 16, 16),
            (11, 200, 64, 4, 4),
            (3, 16, 32, 32, 32),
            (3, 32, 64, 16, 16),
            // 16 channels out (one vector), odd sizes, one row, one pixel, a partial last group
            // and block, more output than input channels and the reverse.
            (3, 5, 16, 7, 9),
            (2, 3, 48, 1, 13),
            (4, 17, 32, 1, 1),
            (9, 40, 128, 3, 5),
            (1, 128, 32, 6, 6),
        ] {
            for (kernel, stride, pad) in SHAPES {
                let g = ConvGeometry { batch, cin, cout, height, width, kernel, stride, pad };
                check(g, (batch * cin + cout * height + width + stride) as u64);
            }
        }
    }

    #[test]
    fn the_small_image_weight_gradient_matches_the_loops() {
        if !crate::simd::avx512() {
            return;
        }
        for (batch, cin, cout, height, width) in [
            (5, 64, 64, 8, 8),
            (3, 32, 32, 16, 16),
            (4, 40, 96, 4, 4),
            (3, 16, 32, 32, 32),
            (3, 5, 32, 7, 9),
            (2, 3, 32, 1, 13),
            (4, 17, 64, 1, 1),
        ] {
            for (kernel, stride, pad) in SHAPES {
                let g = ConvGeometry { batch, cin, cout, height, width, kernel, stride, pad };
                let x = values(batch * cin * height * width, (cin * 7 + cout + stride) as u64);
                let dy = values(batch * cout * g.out_height() * g.out_width(), (cout * 3 + height) as u64);
                let got = conv2d_weight_grad(&x, &dy, &g);
                assert_close(&got, &conv2d_weight_grad_reference(&x, &dy, &g), &format!("weight gradient {g:?}"));
            }
        }
    }

    #[test]
    fn padded_planes_hold_the_image_and_zeros_everywhere_else() {
        let (h, w) = (3, 4);
        let src = values(2 * h * w, 9);
        for (lo, hi) in [([1, 1], [1, 1]), ([0, 0], [1, 1]), ([2, 0], [0, 3]), ([0, 0], [0, 0])] {
            let (rows, row) = (lo[0] + h + hi[0], lo[1] + w + hi[1]);
            let expect = |c: usize, r: usize, col: usize| {
                let inside = (lo[0]..lo[0] + h).contains(&r) && (lo[1]..lo[1] + w).contains(&col);
                if inside { src[(c * h + r - lo[0]) * w + col - lo[1]] } else { 0.0 }
            };
            let mut dst = vec![f32::NAN; 2 * rows * row];
            pad_planes(&src, h, w, lo, hi, &mut dst);
            // Every value written: none of the NaN fill is left.
            for (i, &got) in dst.iter().enumerate() {
                let (c, r, col) = (i / (rows * row), i / row % rows, i % row);
                assert_eq!(got.to_bits(), expect(c, r, col).to_bits(), "{lo:?} {hi:?} channel {c} ({r}, {col})");
            }
        }
    }

    #[test]
    fn nan_reaches_exactly_the_outputs_whose_windows_hold_it() {
        if !crate::simd::avx512() {
            return;
        }
        let g = ConvGeometry { batch: 4, cin: 3, cout: 32, height: 5, width: 4, kernel: 3, stride: 1, pad: 1 };
        let mut x = values(g.batch * g.cin * 20, 3);
        // Image 2, channel 1, pixel (2, 0).
        x[(2 * 3 + 1) * 20 + 2 * 4] = f32::NAN;
        let w = values(g.cout * g.cin * 9, 4);
        let got = conv2d_forward(&x, &w, &g);
        let want = conv2d_forward_reference(&x, &w, &g);
        for (i, (a, b)) in got.iter().zip(&want).enumerate() {
            assert_eq!(a.is_nan(), b.is_nan(), "output {i}");
        }
        assert_eq!(got.iter().filter(|v| v.is_nan()).count(), 32 * 6, "a 3 x 2 window of every channel");
    }
}
