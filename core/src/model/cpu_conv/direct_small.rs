//! Direct 3x3 stride-1 convolutions with padding 1 for small images (rows of under 32
//! outputs), forward and so the input gradient (a stride-1 input gradient is a forward
//! convolution of dy), vectorised across output channels, and the weight gradient
//! ([`conv2d_weight_grad`]: dy transposed to position-major, 32 output channels by 9 taps of
//! one input channel in registers across the batch). Used on the small encoder's 16 x 16
//! and 8 x 8 stages (all three passes) and ResNet-18's 4 x 4 stage (forward and input
//! gradient; see [`applies`] and [`applies_to_weight_gradient`]); [`conv2d_forward`]
//! computes any 3x3 stride-1 padding-1 layer with a multiple of 16 output channels.
//!
//! [`super::direct`] vectorises along a row of outputs, which wastes most of a vector on
//! short rows; im2col + GEMM runs one small GEMM per image and copies each input 9 times
//! into a patch matrix, then again into the GEMM's panels. Here a register block holds
//! `16 V` output channels (V AVX-512 vectors) by `P` output positions (4 x 6 or 2 x 6
//! vectors, 1 x 8; at most 8 positions: each holds a base offset in a general register): for each input channel and tap, V vectors of weights (packed once per call
//! as `[block][ci][tap][co]`) meet P broadcast inputs. The inputs are each image's channels
//! copied into zero-padded planes (`(H + 2) x (W + 2)`), so every position reads its taps
//! at fixed offsets and no bounds are checked; positions run across the images of a group
//! (several 4 x 4 images fill a block). The input channels are taken [`CI_CHUNK`] at a time
//! (a block's weights then stay in L2: 512 channels' would not), the sums kept
//! position-major between chunks (each chunk's block continues the same FMA chains), and
//! transposed into NCHW at the end.
//!
//! AVX-512 only (x86-64, checked at run time); elsewhere [`applies`] is false. Each output is
//! one chain of fused multiply-adds from zero, input channel by channel, tap by tap (the
//! order of im2col's patch rows, in which the GEMM accumulates too); the tests hold it to the
//! plain loops' f64 reference within the tolerance every path meets. NaN and infinite inputs
//! propagate to the outputs whose sums they enter; an infinite weight meets the zero padding
//! as `0 x inf = NaN` where the loops skip it.

use super::kernels::{ConvGeometry, transpose_into, unwritten, with_col, written};
use crate::model::cpu_common::{map_indices, per_image};

/// Lanes of an AVX-512 vector.
const LANES: usize = 16;
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

/// Does [`conv2d_forward`] compute this convolution (3x3, stride 1, padding 1, output
/// channels a multiple of 16, AVX-512 on this CPU)?
pub fn computes(g: &ConvGeometry) -> bool {
    g.kernel == 3 && g.stride == 1 && g.pad == 1 && g.is_valid() && g.cout.is_multiple_of(LANES) && super::direct::available()
}

/// Is the forward pass (and a stride-1 input gradient) of this convolution computed here?
/// Where it [`computes`], with rows of under 32 outputs and at least 32 channels in and out
/// (a multiple of 32 out), when neither Winograd scheme applies: the small encoder's 16 x 16
/// and 8 x 8 stages, ResNet-18's 4 x 4 stage. Measured against im2col + GEMM (2 cores, ms
/// per call, min over alternating runs): 32 channels of 16 x 16 at B = 64 2.0-2.08 ->
/// 1.86-1.92, 64 of 8 x 8 1.67-2.1 -> 1.51-1.89, 512 of 4 x 4 at B = 32 12.2 -> 11.7 (the
/// kernel at ~87% of that, near the cores' peak; packing the weights with element-by-element
/// copies instead of transposed tiles made it slower than the GEMM, 14.0-15.4).
pub fn applies(g: &ConvGeometry) -> bool {
    computes(g)
        && g.out_width() < 32
        && g.cin >= 32
        && g.cout.is_multiple_of(2 * LANES)
        && !super::winograd4::applies(g)
        && !super::winograd::applies(g)
}

/// Weight vectors per block for `cout` output channels: 4 (64 channels), else 2, else 1.
fn vectors(cout: usize) -> usize {
    [4, 2, 1].into_iter().find(|v| cout.is_multiple_of(v * LANES)).unwrap_or(1)
}

/// The weights in block order: for each block of `16 V` output channels, `[ci][tap][co]`:
/// each block's `16 V x (Cin 9)` rows transposed.
fn block_weights(w: &[f32], g: &ConvGeometry, v: usize) -> Vec<f32> {
    let width = v * LANES;
    let depth = g.cin * 9;
    let mut out = unwritten(w.len());
    per_image(&mut out, depth * width, |block, dst| {
        transpose_into(&w[block * width * depth..][..width * depth], width, depth, dst);
    });
    // SAFETY: every block's transposition wrote all of it.
    unsafe { written(out) }
}

/// `y = conv(x, w)` (B x Cin x H x W by Cout x Cin x 3 x 3, stride 1, padding 1): B x Cout x H x W.
/// Panics unless [`computes`] holds.
pub fn conv2d_forward(x: &[f32], w: &[f32], g: &ConvGeometry) -> Vec<f32> {
    assert!(computes(g), "the small-image direct kernel does not compute {g:?} on this CPU");
    assert!(x.len() == g.batch * g.cin * g.height * g.width && w.len() == g.cout * g.cin * 9);
    let v = vectors(g.cout);
    let weights = block_weights(w, g, v);
    let (h, wd) = (g.height, g.width);
    let plane = h * wd;
    let layout = Padded::of(g);
    let padded_plane = layout.plane;
    let chunk_bytes = g.cin.min(CI_CHUNK) * padded_plane * 4;
    let group = (GROUP_INPUT_BYTES / chunk_bytes).clamp(1, g.batch.div_ceil(MIN_GROUPS));
    let offsets = layout.offsets();
    let mut y = unwritten(g.batch * g.cout * plane);
    per_image(&mut y, group * g.cout * plane, |gi, y_g| {
        let images = y_g.len() / (g.cout * plane);
        let positions = images * plane;
        // The sums, position-major, rows for whole blocks (the last block's extra rows are scratch).
        let rows = positions + MAX_POSITIONS - 1;
        let padded_len = images * g.cin * padded_plane;
        with_col(padded_len + rows * g.cout, |buffer| {
            let (padded, sums) = buffer.split_at_mut(padded_len);
            for (i, dst) in padded.chunks_exact_mut(g.cin * padded_plane).enumerate() {
                let src = &x[(gi * group + i) * g.cin * plane..][..g.cin * plane];
                pad_image(src, h, wd, dst);
            }
            // Position n of the group: image n / plane, pixel n % plane.
            let base = |n: usize| {
                let (image, pixel) = (n / plane, n % plane);
                image * g.cin * padded_plane + layout.corner(pixel)
            };
            let group_sums = GroupSums { padded, padded_plane, cin: g.cin, cout: g.cout, offsets: &offsets, positions };
            match v {
                4 => group_sums.run::<4, 6>(&weights, &base, sums),
                2 => group_sums.run::<2, 6>(&weights, &base, sums),
                _ => group_sums.run::<1, 8>(&weights, &base, sums),
            }
            for (image, y_i) in y_g.chunks_exact_mut(g.cout * plane).enumerate() {
                transpose_into(&sums[image * plane * g.cout..][..plane * g.cout], plane, g.cout, y_i);
            }
        });
    });
    // SAFETY: every image's Cout x H x W outputs were written by its transposition.
    unsafe { written(y) }
}

/// The zero-padded planes of `(H + 2) x (W + 2)` both passes read: a plane's length and
/// where an output's 3 x 3 window sits in it.
#[derive(Debug, Clone, Copy)]
struct Padded {
    /// Image width (W).
    width: usize,
    /// Padded row length, `W + 2`.
    row: usize,
    /// Values per padded plane.
    plane: usize,
}

impl Padded {
    fn of(g: &ConvGeometry) -> Self {
        let row = g.width + 2;
        Padded { width: g.width, row, plane: (g.height + 2) * row }
    }

    /// Where output pixel `n`'s window starts (its top-left tap) in a padded plane.
    fn corner(&self, n: usize) -> usize {
        (n / self.width) * self.row + n % self.width
    }

    /// Each tap `(ky, kx)`'s offset from the window's start: `ky row + kx`.
    fn offsets(&self) -> [usize; 9] {
        std::array::from_fn(|tap| (tap / 3) * self.row + tap % 3)
    }
}

/// One image's channels (`Cin x H x W`) into zero-padded planes of `(H + 2) x (W + 2)`.
fn pad_image(src: &[f32], h: usize, w: usize, dst: &mut [f32]) {
    let row = w + 2;
    dst.fill(0.0);
    for (channel, out) in src.chunks_exact(h * w).zip(dst.chunks_exact_mut((h + 2) * row)) {
        for (iy, line) in channel.chunks_exact(w).enumerate() {
            out[(iy + 1) * row + 1..][..w].copy_from_slice(line);
        }
    }
}

/// A group's padded inputs and how to read them.
struct GroupSums<'a> {
    padded: &'a [f32],
    padded_plane: usize,
    cin: usize,
    cout: usize,
    offsets: &'a [usize; 9],
    positions: usize,
}

impl GroupSums<'_> {
    /// Every output of the group into `sums` (position-major, `cout` per row): chunk by
    /// chunk of input channels, block by block of `16 V` output channels, `P` positions at
    /// a time.
    fn run<const V: usize, const P: usize>(&self, weights: &[f32], base: &impl Fn(usize) -> usize, sums: &mut [f32]) {
        assert!(V * P <= ACCUMULATORS && P <= MAX_POSITIONS);
        let width = V * LANES;
        let blocks: Vec<[usize; P]> = (0..self.positions)
            .step_by(P)
            // Past the last position a block repeats it (read, and its sums go to scratch rows).
            .map(|n0| std::array::from_fn(|p| base((n0 + p).min(self.positions - 1))))
            .collect();
        assert!(sums.len() >= blocks.len() * P * self.cout);
        for ci0 in (0..self.cin).step_by(CI_CHUNK) {
            let chunk = CI_CHUNK.min(self.cin - ci0);
            let reach = ci0 * self.padded_plane + (chunk - 1) * self.padded_plane + self.offsets[8];
            assert!(blocks.iter().flatten().all(|&b| b + reach < self.padded.len()));
            for (block, w) in weights.chunks_exact(self.cin * 9 * width).enumerate() {
                let w = &w[ci0 * 9 * width..][..chunk * 9 * width];
                for (i, bases) in blocks.iter().enumerate() {
                    let out = &mut sums[i * P * self.cout + block * width..];
                    // SAFETY: AVX-512F is available (`computes`); every input read is at
                    // `bases[p] + (ci0 + ci) plane + offsets[tap] <= bases[p] + reach`, in
                    // bounds by the assert; `w` holds chunk 9 V 16 weights; `out` row p
                    // (`p cout + 0..V 16`) lies inside the block's P rows.
                    #[cfg(target_arch = "x86_64")]
                    unsafe {
                        block_sums::<V, P>(
                            self.padded[ci0 * self.padded_plane..].as_ptr(),
                            bases,
                            self.padded_plane,
                            chunk,
                            self.offsets,
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
/// readable at every such index, `w` for `cin 9 16 V` values, `out` for `p row + 16 V` values.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
unsafe fn block_sums<const V: usize, const P: usize>(
    x: *const f32,
    bases: &[usize; P],
    plane: usize,
    cin: usize,
    offsets: &[usize; 9],
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
        // SAFETY (this and the loads below): in bounds by the caller's contract.
        let (xc, wc) = unsafe { (x.add(ci * plane), w.add(ci * 9 * V * LANES)) };
        for (tap, &offset) in offsets.iter().enumerate() {
            let mut wv = [_mm512_setzero_ps(); V];
            for (v, wv) in wv.iter_mut().enumerate() {
                *wv = unsafe { _mm512_loadu_ps(wc.add((tap * V + v) * LANES)) };
            }
            for (acc_p, &b) in acc.iter_mut().zip(bases) {
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

/// Is the weight gradient of this convolution computed here ([`conv2d_weight_grad`])? Where
/// [`applies`] holds with at most 128 channels: the small encoder's 16 x 16 and 8 x 8
/// stages. Measured against im2col + GEMM (2 cores, ms per call, min over alternating runs,
/// B = 64): 32 channels of 16 x 16 1.94-2.15 -> 1.64-1.92, 64 of 8 x 8 1.81-2.14 ->
/// 1.64-1.8; but ResNet-18's 512 channels of 4 x 4 (B = 32) 14.5 -> 15.6, so those stay on
/// the GEMM split by rows.
pub fn applies_to_weight_gradient(g: &ConvGeometry) -> bool {
    applies(g) && g.cin.max(g.cout) <= 128
}

/// `dL/dw` (Cout x Cin x 3 x 3) from x and dy (stride 1, padding 1): `dw[co][ci][tap] =
/// sum_b sum_n dy[b][co][n] x'[b][ci][base(n) + offset(tap)]` over the zero-padded planes x'.
/// dy is transposed once per image to position-major, so 16 output channels are one vector;
/// each task keeps `32 x 9` sums (2 vectors by 9 taps) for one input channel across the
/// whole batch, image by image and position by position: one chain per weight, the same
/// bits on any core count. Panics unless [`computes`] holds and Cout is a multiple of 32.
pub fn conv2d_weight_grad(x: &[f32], dy: &[f32], g: &ConvGeometry) -> Vec<f32> {
    assert!(computes(g) && g.cout.is_multiple_of(GRAD_VECTORS * LANES), "the small-image kernel does not compute {g:?}'s weight gradient");
    let (h, wd) = (g.height, g.width);
    let plane = h * wd;
    assert!(x.len() == g.batch * g.cin * plane && dy.len() == g.batch * g.cout * plane);
    let layout = Padded::of(g);
    let padded_plane = layout.plane;
    let mut padded = vec![0.0f32; g.batch * g.cin * padded_plane];
    per_image(&mut padded, g.cin * padded_plane, |b, dst| pad_image(&x[b * g.cin * plane..][..g.cin * plane], h, wd, dst));
    let mut by_position = unwritten(g.batch * plane * g.cout);
    per_image(&mut by_position, plane * g.cout, |b, dst| transpose_into(&dy[b * g.cout * plane..][..g.cout * plane], g.cout, plane, dst));
    // SAFETY: every image's transposition wrote all of it.
    let by_position = unsafe { written(by_position) };
    let bases: Vec<usize> = (0..plane).map(|n| layout.corner(n)).collect();
    let offsets = layout.offsets();
    let width = GRAD_VECTORS * LANES;
    let blocks = g.cout / width;
    // Task t: output-channel block t / Cin, input channel t % Cin.
    let sums = map_indices(blocks * g.cin, |t| {
        let (block, ci) = (t / g.cin, t % g.cin);
        let mut out = [[0.0f32; GRAD_VECTORS * LANES]; 9];
        let reach = (g.batch - 1) * g.cin * padded_plane + ci * padded_plane + bases[plane - 1] + offsets[8];
        assert!(reach < padded.len() && (g.batch * plane - 1) * g.cout + block * width + width <= by_position.len());
        // SAFETY: AVX-512F is available (`computes`); the reads stay within `reach` and the
        // last dy vector, in bounds by the assert.
        #[cfg(target_arch = "x86_64")]
        unsafe {
            grad_block(
                by_position[block * width..].as_ptr(),
                g.cout,
                plane * g.cout,
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
    let mut dw = vec![0.0f32; g.cout * g.cin * 9];
    for (t, out) in sums.iter().enumerate() {
        let (block, ci) = (t / g.cin, t % g.cin);
        for (tap, lanes) in out.iter().enumerate() {
            for (j, &value) in lanes.iter().enumerate() {
                dw[((block * width + j) * g.cin + ci) * 9 + tap] = value;
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
unsafe fn grad_block(
    dy: *const f32,
    row: usize,
    dy_image: usize,
    x: *const f32,
    x_image: usize,
    images: usize,
    bases: &[usize],
    offsets: &[usize; 9],
    out: &mut [[f32; GRAD_VECTORS * LANES]; 9],
) {
    use std::arch::x86_64::*;
    let mut acc = [[_mm512_setzero_ps(); GRAD_VECTORS]; 9];
    for b in 0..images {
        // SAFETY (this and the loads below): in bounds by the caller's contract.
        let (dyb, xb) = unsafe { (dy.add(b * dy_image), x.add(b * x_image)) };
        for (n, &base) in bases.iter().enumerate() {
            let mut d = [_mm512_setzero_ps(); GRAD_VECTORS];
            for (v, d) in d.iter_mut().enumerate() {
                *d = unsafe { _mm512_loadu_ps(dyb.add(n * row + v * LANES)) };
            }
            for (acc_t, &offset) in acc.iter_mut().zip(offsets) {
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
    use crate::model::cpu_common::test_values as values;
    use crate::model::cpu_conv::kernels::{conv2d_forward_reference, conv2d_weight_grad_reference};
    use crate::model::cpu_conv::winograd::tests::assert_close;

    fn check(g: ConvGeometry, seed: u64) {
        let x = values(g.batch * g.cin * g.height * g.width, seed);
        let w = values(g.cout * g.cin * 9, seed + 1);
        let got = conv2d_forward(&x, &w, &g);
        assert_close(&got, &conv2d_forward_reference(&x, &w, &g), &format!("{g:?}"));
    }

    #[test]
    fn the_small_image_kernel_matches_the_loops() {
        if !super::super::direct::available() {
            eprintln!("no AVX-512: the small-image kernel is not used on this CPU");
            return;
        }
        for (batch, cin, cout, height, width) in [
            // The encoders' layers: 64 of 8 x 8, 32 of 16 x 16, 4 x 4 with input channels in
            // two chunks (the second partial) and several images per group.
            (5, 64, 64, 8, 8),
            (3, 32, 32, 16, 16),
            (11, 200, 64, 4, 4),
            // 16 channels out (one vector), odd sizes, one row, one pixel, a partial last group
            // and block, more output than input channels and the reverse.
            (3, 5, 16, 7, 9),
            (2, 3, 48, 1, 13),
            (4, 17, 32, 1, 1),
            (9, 40, 128, 3, 5),
            (1, 128, 32, 6, 6),
        ] {
            let g = ConvGeometry { batch, cin, cout, height, width, kernel: 3, stride: 1, pad: 1 };
            check(g, (batch * cin + cout * height + width) as u64);
        }
    }

    #[test]
    fn the_small_image_weight_gradient_matches_the_loops() {
        if !super::super::direct::available() {
            return;
        }
        for (batch, cin, cout, height, width) in
            [(5, 64, 64, 8, 8), (3, 32, 32, 16, 16), (4, 40, 96, 4, 4), (3, 5, 32, 7, 9), (2, 3, 32, 1, 13), (4, 17, 64, 1, 1)]
        {
            let g = ConvGeometry { batch, cin, cout, height, width, kernel: 3, stride: 1, pad: 1 };
            let x = values(batch * cin * height * width, (cin * 7 + cout) as u64);
            let dy = values(batch * cout * height * width, (cout * 3 + height) as u64);
            let got = conv2d_weight_grad(&x, &dy, &g);
            assert_close(&got, &conv2d_weight_grad_reference(&x, &dy, &g), &format!("weight gradient {g:?}"));
        }
    }

    #[test]
    fn nan_reaches_exactly_the_outputs_whose_windows_hold_it() {
        if !super::super::direct::available() {
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

    #[test]
    fn the_encoders_small_layers_take_this_kernel() {
        let layer = |cin: usize, cout: usize, side: usize| ConvGeometry {
            batch: 32,
            cin,
            cout,
            height: side,
            width: side,
            kernel: 3,
            stride: 1,
            pad: 1,
        };
        if super::super::direct::available() {
            assert!(applies(&layer(64, 64, 8)) && applies(&layer(32, 32, 16)) && applies(&layer(512, 512, 4)));
            assert!(applies_to_weight_gradient(&layer(64, 64, 8)) && applies_to_weight_gradient(&layer(32, 32, 16)));
        }
        assert!(!applies_to_weight_gradient(&layer(512, 512, 4)));
        // Not: rows of 32 (the row-vectorised kernel), the 16-channel stage, Winograd's layers,
        // stride 2.
        assert!(!applies(&layer(16, 16, 32)) && !applies(&layer(16, 16, 16)) && !applies(&layer(256, 256, 8)));
        assert!(!applies(&layer(64, 64, 32)) && !applies(&layer(128, 128, 16)));
        assert!(!applies(&ConvGeometry { stride: 2, ..layer(32, 64, 16) }));
    }
}
