//! 2-D convolution on host slices (f32, NCHW, one group, no dilation, square kernels,
//! symmetric zero padding): forward, input gradient and weight gradient, each as
//! im2col + one GEMM per image (the `gemm` crate's packed SIMD kernels) with images in
//! parallel. Computes every geometry; [`super::plan`] chooses it where no faster algorithm
//! pays. Its GEMM helpers serve the Winograd path too.
//!
//! Per image b: `col_b` (Cin k k x OH OW) holds the input patches; then
//! - forward: `y_b = W col_b` (W is Cout x Cin k k, the weight tensor as it is stored);
//! - input gradient: `dx_b = col2im(W^T dy_b)` (for stride 1 a forward convolution of dy);
//! - weight gradient: `dW = sum_b dy_b col_b^T`, partial sums over a fixed split of the
//!   batch, or for images with few outputs one GEMM over all images per tile of dW's rows.
//!
//! Outputs that a GEMM overwrites are not zero-filled first (see `matmul_overwrite`).

use std::mem::MaybeUninit;

use super::ConvGeometry;
use super::transpose::{to_row_major, transpose_into};
use crate::buffers::{unwritten, with_scratch, written};
use crate::parallel::{map_indices, per_image};
use crate::simd::dispatch_avx2;

/// Range of output positions `o` whose input index `o * stride + offset` lies in `[0, size)`.
fn valid_range(offset: isize, stride: usize, size: usize, outputs: usize) -> (usize, usize) {
    let s = stride as isize;
    // First o with o * s + offset >= 0, first o with o * s + offset >= size.
    let start = if offset >= 0 { 0 } else { ((-offset) + s - 1) / s };
    let end = if (size as isize) - offset <= 0 { 0 } else { ((size as isize - offset) + s - 1) / s };
    let start = (start as usize).min(outputs);
    (start, (end as usize).clamp(start, outputs))
}

/// The patch matrix of one image: `col[(c k + ky) k + kx][oy OW + ox] = x[c][oy s + ky - p][ox s + kx - p]`
/// (0 outside), its rows `row_stride` apart (OH OW for one image; more when several images'
/// patches sit side by side in one matrix, see [`weight_grad_split_by_rows`]).
fn im2col(x: &[f32], g: &ConvGeometry, col: &mut [f32], row_stride: usize) {
    let plane = g.height * g.width;
    let rows_per_channel = g.kernel * g.kernel;
    for c in 0..g.cin {
        im2col_channel(&x[c * plane..][..plane], g, &mut col[c * rows_per_channel * row_stride..], row_stride);
    }
}

dispatch_avx2! {
    /// The `k k` rows of [`im2col`] that one input channel (`plane`, H x W) contributes (with
    /// AVX2 where the CPU has it).
    fn im2col_channel(plane: &[f32], g: &ConvGeometry, col: &mut [f32], row_stride: usize) => im2col_channel_body
}

/// [`im2col_channel`]'s loops.
#[inline(always)]
fn im2col_channel_body(plane: &[f32], g: &ConvGeometry, col: &mut [f32], row_stride: usize) {
    let (oh, ow, k, s) = (g.out_height(), g.out_width(), g.kernel, g.stride);
    if s == 1 && ow == g.width {
        im2col_same_width(plane, g, col, row_stride);
        return;
    }
    for ky in 0..k {
        let (y0, y1) = valid_range(ky as isize - g.pad as isize, s, g.height, oh);
        for kx in 0..k {
            let (x0, x1) = valid_range(kx as isize - g.pad as isize, s, g.width, ow);
            let row = &mut col[(ky * k + kx) * row_stride..][..oh * ow];
            zero(&mut row[..y0 * ow]);
            zero(&mut row[y1 * ow..]);
            for oy in y0..y1 {
                let iy = oy * s + ky - g.pad;
                let src = &plane[iy * g.width..][..g.width];
                let dst = &mut row[oy * ow..][..ow];
                zero(&mut dst[..x0]);
                zero(&mut dst[x1..]);
                if s == 1 {
                    let ix0 = x0 + kx - g.pad;
                    dst[x0..x1].copy_from_slice(&src[ix0..ix0 + (x1 - x0)]);
                } else if s == 2 {
                    // Every other input from the first one inside: the even members of the
                    // pairs from there (a loop the compiler vectorises with shuffles), the
                    // last one alone when it has no partner.
                    let inputs = &src[x0 * 2 + kx - g.pad..];
                    let n = x1 - x0;
                    for (d, pair) in dst[x0..x1].iter_mut().zip(inputs.chunks_exact(2)) {
                        *d = pair[0];
                    }
                    if inputs.len() / 2 < n {
                        dst[x1 - 1] = inputs[2 * (n - 1)];
                    }
                } else {
                    // Every s-th input from the first one inside (no index checks per value).
                    let inputs = src[x0 * s + kx - g.pad..].iter().step_by(s);
                    for (d, &v) in dst[x0..x1].iter_mut().zip(inputs) {
                        *d = v;
                    }
                }
            }
        }
    }
}

/// [`im2col_channel`] when the output rows are as wide as the input's (stride 1, 2 p = k - 1,
/// the encoders' 3x3 convolutions): then a patch row is the channel's plane shifted by
/// `(ky - p) W + (kx - p)`, one contiguous copy, after which the values that wrapped around
/// a row end (the `k - 1` columns in the zero padding) are zeroed. One copy of ~H W values
/// per row instead of OH copies of W values (a call each: a fifth of a CPU step).
#[inline(always)]
fn im2col_same_width(channel: &[f32], g: &ConvGeometry, col: &mut [f32], row_stride: usize) {
    let (oh, ow, k) = (g.out_height(), g.out_width(), g.kernel);
    for ky in 0..k {
        let (y0, y1) = valid_range(ky as isize - g.pad as isize, 1, g.height, oh);
        for kx in 0..k {
            let (x0, x1) = valid_range(kx as isize - g.pad as isize, 1, g.width, ow);
            let row = &mut col[(ky * k + kx) * row_stride..][..oh * ow];
            if y0 == y1 || x0 == x1 {
                row.fill(0.0);
                continue;
            }
            // Output (oy, ox) reads input (oy + ky - p, ox + kx - p): with OW = W the
            // outputs from (y0, x0) to (y1 - 1, x1 - 1) read one contiguous input range.
            let (first, last) = (y0 * ow + x0, (y1 - 1) * ow + x1);
            let source = (y0 + ky - g.pad) * g.width + x0 + kx - g.pad;
            row[first..last].copy_from_slice(&channel[source..source + (last - first)]);
            zero(&mut row[..first]);
            zero(&mut row[last..]);
            // Between consecutive output rows: the columns past x1 and before x0 read
            // the neighbouring input row, where they should read padding.
            for oy in y0..y1 - 1 {
                zero(&mut row[oy * ow + x1..(oy + 1) * ow + x0]);
            }
        }
    }
}

/// Sets `values` to zero. The patch copies zero a few values per output row (the padding
/// columns: 0 to k - 1 of them); `fill` on such short runs is a call to memset each (a quarter
/// million per convolution of the small encoder's first stage, ~5% of a CPU step).
#[inline(always)]
fn zero(values: &mut [f32]) {
    match values {
        [] => {}
        [a] => *a = 0.0,
        [a, b] => {
            *a = 0.0;
            *b = 0.0;
        }
        _ => values.fill(0.0),
    }
}

/// The adjoint of [`im2col`]: adds each patch entry back onto the input position it came from.
fn col2im_add(col: &[f32], g: &ConvGeometry, dx: &mut [f32]) {
    let (oh, ow, k, s) = (g.out_height(), g.out_width(), g.kernel, g.stride);
    let plane = g.height * g.width;
    for c in 0..g.cin {
        for ky in 0..k {
            let (y0, y1) = valid_range(ky as isize - g.pad as isize, s, g.height, oh);
            for kx in 0..k {
                let (x0, x1) = valid_range(kx as isize - g.pad as isize, s, g.width, ow);
                let row = &col[((c * k + ky) * k + kx) * oh * ow..][..oh * ow];
                for oy in y0..y1 {
                    let iy = oy * s + ky - g.pad;
                    let dst = &mut dx[c * plane + iy * g.width..][..g.width];
                    let src = &row[oy * ow..][..ow];
                    if s == 1 {
                        let ix0 = x0 + kx - g.pad;
                        for (d, v) in dst[ix0..ix0 + (x1 - x0)].iter_mut().zip(&src[x0..x1]) {
                            *d += v;
                        }
                    } else {
                        for ox in x0..x1 {
                            dst[ox * s + kx - g.pad] += src[ox];
                        }
                    }
                }
            }
        }
    }
}

/// `dst (m x n, row-major) = [dst +] lhs (m x k) rhs (k x n)`, operands given by their
/// (row, column) strides.
#[allow(clippy::too_many_arguments)]
fn matmul(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [f32],
    accumulate: bool,
    lhs: &[f32],
    lhs_strides: (usize, usize),
    rhs: &[f32],
    rhs_strides: (usize, usize),
) {
    matmul_into(m, n, k, dst, (n, 1), accumulate, lhs, lhs_strides, rhs, rhs_strides);
}

/// `dst (m x n) = [dst +] lhs (m x k) rhs (k x n)`, every operand given by its (row, column)
/// strides. The `gemm` crate packs (copies into panels) a left operand whose rows are not
/// contiguous down a column and, past a size, a right operand whose columns are not
/// contiguous; the orientation of `dst` decides which operand plays which role.
#[allow(clippy::too_many_arguments)]
fn matmul_into(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [f32],
    dst_strides: (usize, usize),
    accumulate: bool,
    lhs: &[f32],
    lhs_strides: (usize, usize),
    rhs: &[f32],
    rhs_strides: (usize, usize),
) {
    let len = dst.len();
    // SAFETY: `dst` is initialised, so reading it (accumulate) is fine.
    unsafe { gemm_raw(m, n, k, (dst.as_mut_ptr(), len), dst_strides, accumulate, lhs, lhs_strides, rhs, rhs_strides) }
}

/// `dst (m x n) = lhs (m x k) rhs (k x n)` into memory that need not be initialised: the
/// GEMM writes every entry the strides reach and reads none (BLAS's beta = 0), which spares
/// zero-filling outputs that are about to be overwritten.
#[allow(clippy::too_many_arguments)]
fn matmul_overwrite(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [MaybeUninit<f32>],
    dst_strides: (usize, usize),
    lhs: &[f32],
    lhs_strides: (usize, usize),
    rhs: &[f32],
    rhs_strides: (usize, usize),
) {
    let len = dst.len();
    // SAFETY: with `read_dst` false the gemm crate only writes `dst` (alpha = 0 is never
    // multiplied in: every kernel path branches on it).
    unsafe { gemm_raw(m, n, k, (dst.as_mut_ptr().cast(), len), dst_strides, false, lhs, lhs_strides, rhs, rhs_strides) }
}

/// The gemm crate's call, bounds-checked. Safety: `dst` points at `dst.1` values, which must
/// be initialised when `accumulate` is true.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_raw(
    m: usize,
    n: usize,
    k: usize,
    dst: (*mut f32, usize),
    dst_strides: (usize, usize),
    accumulate: bool,
    lhs: &[f32],
    lhs_strides: (usize, usize),
    rhs: &[f32],
    rhs_strides: (usize, usize),
) {
    assert!(m == 0 || n == 0 || dst.1 > (m - 1) * dst_strides.0 + (n - 1) * dst_strides.1);
    assert!(dst_strides.0 != dst_strides.1 || m <= 1 || n <= 1, "dst entries must not overlap");
    assert!(m == 0 || k == 0 || lhs.len() > (m - 1) * lhs_strides.0 + (k - 1) * lhs_strides.1);
    assert!(n == 0 || k == 0 || rhs.len() > (k - 1) * rhs_strides.0 + (n - 1) * rhs_strides.1);
    // SAFETY: the asserts above keep every index the strides reach inside the buffers; dst
    // does not alias lhs or rhs (the callers hold a distinct mutable borrow of it).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.0,
            dst_strides.1 as isize,
            dst_strides.0 as isize,
            accumulate,
            lhs.as_ptr(),
            lhs_strides.1 as isize,
            lhs_strides.0 as isize,
            rhs.as_ptr(),
            rhs_strides.1 as isize,
            rhs_strides.0 as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// `dst (m x n, row-major) = lhs (m x k) rhs (k x n)`, overwriting `dst`; `lhs` and `rhs`
/// are row-major with their rows the given distance apart (the Winograd path's GEMMs).
pub(super) fn matmul_strided(m: usize, n: usize, k: usize, dst: &mut [f32], lhs: (&[f32], usize), rhs: (&[f32], usize)) {
    matmul_into(m, n, k, dst, (n, 1), false, lhs.0, (lhs.1, 1), rhs.0, (rhs.1, 1));
}

/// Partial sums of the weight gradient (a constant, so results do not depend on the cores).
const WEIGHT_GRAD_CHUNKS: usize = 8;

/// The runs of images whose weight-gradient partial sums are computed in parallel and added
/// in order: at most [`WEIGHT_GRAD_CHUNKS`], equal but for the last, none empty (9 images
/// in runs of 2 are 5 runs). They depend on the batch only: the same bits on any core count.
pub(super) fn image_runs(batch: usize) -> Vec<std::ops::Range<usize>> {
    let per_run = batch.div_ceil(batch.min(WEIGHT_GRAD_CHUNKS));
    (0..batch.div_ceil(per_run)).map(|r| r * per_run..((r + 1) * per_run).min(batch)).collect()
}

/// Output positions per image below which the weight gradient splits the work by rows of
/// the gradient instead of by images (the 4 x 4 layers of ResNet-18, see
/// [`weight_grad_split_by_rows`]).
const SPLIT_BY_ROWS_BELOW: usize = 64;
/// Images' output positions per GEMM (the GEMM's depth) when the work is split by rows.
const SPLIT_BY_ROWS_DEPTH: usize = 1024;
/// Row tiles of the gradient when the work is split by rows (a constant, so results do not
/// depend on the cores).
const SPLIT_BY_ROWS_TILES: usize = 8;

/// Output channels and positions per image from which the forward GEMM writes its product
/// position-major (OH OW x Cout, then transposed into the image's Cout x OH OW): the gemm
/// crate then runs its widest kernels down the output channels. Measured on 2 cores, B = 32,
/// alternating runs: 64 channels of 32 x 32 (ResNet-18's first stage, forward and input
/// gradient) 13.0-13.2 -> 12.4-12.5 ms per call; the GEMM alone on cache-cold patches
/// 16.0-17.1 -> 12.5-12.6, but 16 channels of 32 x 32 slower (4.4 -> 5.0) and 128 of 16 x 16
/// no clear gain (13.2 -> 12.6).
const POSITION_MAJOR_FROM: (usize, usize) = (64, 1024);

/// `y = conv(x, w)` by im2col + one GEMM per image (images in parallel): x is B x Cin x H
/// x W, w is Cout x Cin x k x k; returns B x Cout x OH x OW. Computes every valid geometry.
pub fn conv2d_forward(x: &[f32], w: &[f32], g: &ConvGeometry) -> Vec<f32> {
    let (rows, cols) = (g.col_rows(), g.col_cols());
    let position_major = g.cout >= POSITION_MAJOR_FROM.0 && cols >= POSITION_MAJOR_FROM.1;
    let pointwise = g.kernel == 1 && g.stride == 1 && g.pad == 0;
    let mut y = unwritten(g.batch * g.output_len());
    per_image(&mut y, g.output_len(), |b, y_b| {
        let x_b = &x[b * g.input_len()..][..g.input_len()];
        let patches = if pointwise { 0 } else { rows * cols };
        let scratch = if position_major { g.output_len() } else { 0 };
        with_scratch(patches + scratch, |buffer| {
            let (col, y_t) = buffer.split_at_mut(patches);
            // The image itself is the patch matrix of a pointwise convolution.
            let col: &[f32] = if pointwise {
                x_b
            } else {
                im2col(x_b, g, col, cols);
                col
            };
            if position_major {
                matmul_into(g.cout, cols, rows, y_t, (1, g.cout), false, w, (rows, 1), col, (cols, 1));
                transpose_into(y_t, cols, g.cout, y_b);
            } else {
                matmul_overwrite(g.cout, cols, rows, y_b, (cols, 1), w, (rows, 1), col, (cols, 1));
            }
        });
    });
    // SAFETY: each image's outputs were written by its GEMM or by the transposition.
    unsafe { written(y) }
}

/// `dL/dx` from `dy` (B x Cout x OH x OW) and w by one GEMM per image and col2im. Computes
/// every valid geometry (the plan takes stride-1 layers as forward convolutions of dy).
pub fn conv2d_input_grad(dy: &[f32], w: &[f32], g: &ConvGeometry) -> Vec<f32> {
    let (rows, cols) = (g.col_rows(), g.col_cols());
    let mut dx = vec![0.0f32; g.batch * g.input_len()];
    per_image(&mut dx, g.input_len(), |b, dx_b| {
        let dy_b = &dy[b * g.output_len()..][..g.output_len()];
        if g.kernel == 1 && g.stride == 1 && g.pad == 0 {
            matmul(rows, cols, g.cout, dx_b, false, w, (1, rows), dy_b, (cols, 1));
            return;
        }
        with_scratch(rows * cols, |col| {
            // col = W^T dy_b: W^T is (Cin k k) x Cout, i.e. W read with swapped strides.
            matmul(rows, cols, g.cout, col, false, w, (1, rows), dy_b, (cols, 1));
            col2im_add(col, g, dx_b);
        });
    });
    dx
}

/// `dL/dw` (Cout x Cin x k x k) from x and dy, `dW = sum_b dy_b col_b^T`, computed
/// column-major ((Cin k k) x Cout), which makes the small dy the operand the GEMM copies into
/// panels (a row-major dW made it copy the whole patch matrix per image: the 16-channel
/// 32 x 32 layers' weight gradient at B = 64, 15.9 -> 2.7 ms on 2 cores), then transposed.
/// Computes every valid geometry.
pub fn conv2d_weight_grad(x: &[f32], dy: &[f32], g: &ConvGeometry) -> Vec<f32> {
    let sums = if g.col_cols() < SPLIT_BY_ROWS_BELOW { weight_grad_split_by_rows(x, dy, g) } else { weight_grad_split_by_images(x, dy, g) };
    to_row_major(&sums, g.col_rows(), g.cout)
}

/// The column-major weight gradient as partial sums over a fixed split of the batch (in
/// parallel), added in a fixed order: the same bits whatever the threads' scheduling (rayon's
/// fold/reduce would split by work stealing).
fn weight_grad_split_by_images(x: &[f32], dy: &[f32], g: &ConvGeometry) -> Vec<f32> {
    let (rows, cols) = (g.col_rows(), g.col_cols());
    // acc [+]= dy_b col_b^T; col^T is (OH OW) x (Cin k k): col read with swapped strides.
    let image = |b: usize, acc: Target| {
        let dy_b = &dy[b * g.output_len()..][..g.output_len()];
        if g.kernel == 1 && g.stride == 1 && g.pad == 0 {
            let x_b = &x[b * g.input_len()..][..g.input_len()];
            product_into(acc, g.cout, rows, cols, dy_b, (cols, 1), x_b, (1, cols));
            return;
        }
        with_scratch(rows * cols, |col| {
            im2col(&x[b * g.input_len()..][..g.input_len()], g, col, cols);
            product_into(acc, g.cout, rows, cols, dy_b, (cols, 1), col, (1, cols));
        });
    };
    let runs = image_runs(g.batch);
    let mut partials = map_indices(runs.len(), |run| {
        let images = runs[run].clone();
        // The first image's GEMM overwrites (no zero-filling of a buffer as large as the
        // weights), the others accumulate.
        let mut acc = unwritten(g.cout * rows);
        image(images.start, Target::Overwrite(&mut acc));
        // SAFETY: that GEMM wrote all Cout x Cin k k entries.
        let mut acc = unsafe { written(acc) };
        images.skip(1).for_each(|b| image(b, Target::Accumulate(&mut acc)));
        acc
    });
    // Added in order into the first, element ranges in parallel.
    let (total, rest) = partials.split_first_mut().expect("a batch has at least one chunk");
    const SPAN: usize = 1 << 14;
    per_image(total, SPAN, |i, span| {
        for p in rest.iter() {
            span.iter_mut().zip(&p[i * SPAN..]).for_each(|(t, v)| *t += v);
        }
    });
    partials.swap_remove(0)
}

/// The column-major weight gradient with the work split by rows (tiles of input channel
/// taps, in parallel) instead of by images, for images with few outputs (ResNet-18's 4 x 4
/// stage: 16 per image): a GEMM per image would be only OH OW deep yet read and write the
/// whole gradient (512 x 4608), and partial sums per thread as large as the weights would
/// have to be added up. Here all images' patches sit side by side in one matrix (up to
/// [`SPLIT_BY_ROWS_DEPTH`] columns per pass) and each tile's GEMM runs over all of them; no
/// partial sums. Tiles and passes depend on the shape only: the same bits on any core count.
fn weight_grad_split_by_rows(x: &[f32], dy: &[f32], g: &ConvGeometry) -> Vec<f32> {
    let (rows, cols, taps) = (g.col_rows(), g.col_cols(), g.kernel * g.kernel);
    let plane = g.height * g.width;
    let per_pass = (SPLIT_BY_ROWS_DEPTH / cols).clamp(1, g.batch);
    let tile = rows.div_ceil(SPLIT_BY_ROWS_TILES);
    let mut sums = Vec::new();
    with_scratch((rows + g.cout) * per_pass * cols, |buffer| {
        for first in (0..g.batch).step_by(per_pass) {
            let n = per_pass.min(g.batch - first);
            let width = n * cols;
            let (col, dy_side) = buffer.split_at_mut(rows * width);
            // The images' patches side by side: each input channel's k k rows in parallel.
            per_image(col, taps * width, |c, channel_rows| {
                for j in 0..n {
                    let x_plane = &x[(first + j) * g.input_len() + c * plane..][..plane];
                    im2col_channel(x_plane, g, &mut channel_rows[j * cols..], width);
                }
            });
            // dy transposed: (n OH OW) x Cout, the GEMM's left operand with contiguous
            // columns (which it then need not copy into panels for every tile).
            per_image(&mut dy_side[..g.cout * width], g.cout * cols, |j, image| {
                transpose_into(&dy[(first + j) * g.output_len()..][..g.output_len()], g.cout, cols, image);
            });
            let (col, dy_side) = (&*col, &dy_side[..g.cout * width]);
            // Tile t holds rows t tile.. of the column-major gradient, contiguous.
            let product = |t: usize, acc: Target| {
                let r0 = t * tile;
                let n_rows = acc.len() / g.cout;
                product_into(acc, g.cout, n_rows, width, dy_side, (1, g.cout), &col[r0 * width..], (1, width));
            };
            if first == 0 {
                let mut fresh = unwritten(g.cout * rows);
                per_image(&mut fresh, tile * g.cout, |t, part| product(t, Target::Overwrite(part)));
                // SAFETY: the tiles cover every row, each tile's GEMM wrote all its entries.
                sums = unsafe { written(fresh) };
            } else {
                per_image(&mut sums, tile * g.cout, |t, part| product(t, Target::Accumulate(part)));
            }
        }
    });
    sums
}

/// `acc (column-major m x n) [+]= lhs rhs` (the weight gradient's orientation; with both
/// operands column-major too, the Winograd weight gradient's, the gemm crate reads them in
/// place, without copies into panels).
#[allow(clippy::too_many_arguments)]
pub(super) fn product_into(
    acc: Target,
    m: usize,
    n: usize,
    k: usize,
    lhs: &[f32],
    lhs_strides: (usize, usize),
    rhs: &[f32],
    rhs_strides: (usize, usize),
) {
    match acc {
        Target::Overwrite(dst) => matmul_overwrite(m, n, k, dst, (1, m), lhs, lhs_strides, rhs, rhs_strides),
        Target::Accumulate(dst) => matmul_into(m, n, k, dst, (1, m), true, lhs, lhs_strides, rhs, rhs_strides),
    }
}

/// Where a weight-gradient GEMM puts its product.
pub(super) enum Target<'a> {
    /// Write it (the buffer's first GEMM).
    Overwrite(&'a mut [MaybeUninit<f32>]),
    /// Add it.
    Accumulate(&'a mut [f32]),
}

impl Target<'_> {
    fn len(&self) -> usize {
        match self {
            Target::Overwrite(d) => d.len(),
            Target::Accumulate(d) => d.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::test_values as values;

    #[test]
    fn same_width_patches_follow_the_definition() {
        // 3x3 and 5x5 kernels, images narrower than the kernel, one row, one pixel, and NaN.
        for (i, (cin, height, width, kernel)) in
            [(2, 5, 4, 3), (1, 1, 7, 3), (3, 2, 2, 5), (2, 1, 1, 3), (1, 6, 6, 1)].into_iter().enumerate()
        {
            let g = ConvGeometry { batch: 1, cin, cout: 1, height, width, kernel, stride: 1, pad: (kernel - 1) / 2 };
            let mut x = values(g.input_len(), 60 + i as u64);
            x[0] = f32::NAN;
            let mut col = vec![7.0f32; g.col_rows() * g.col_cols()];
            let (plane, rows) = (height * width, kernel * kernel * g.col_cols());
            for c in 0..cin {
                im2col_same_width(&x[c * plane..][..plane], &g, &mut col[c * rows..], g.col_cols());
            }
            let (oh, ow, k, p) = (g.out_height(), g.out_width(), kernel, g.pad as isize);
            for c in 0..cin {
                for (ky, kx, oy, ox) in
                    (0..k).flat_map(|ky| (0..k).flat_map(move |kx| (0..oh).flat_map(move |oy| (0..ow).map(move |ox| (ky, kx, oy, ox)))))
                {
                    let (iy, ix) = (oy as isize + ky as isize - p, ox as isize + kx as isize - p);
                    let inside = (0..height as isize).contains(&iy) && (0..width as isize).contains(&ix);
                    let want = if inside { x[(c * height + iy as usize) * width + ix as usize] } else { 0.0 };
                    let got = col[((c * k + ky) * k + kx) * oh * ow + oy * ow + ox];
                    assert!(
                        got == want || (got.is_nan() && want.is_nan()),
                        "{g:?} c {c} tap ({ky}, {kx}) at ({oy}, {ox}): {got} vs {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_avx2_and_baseline_patch_copies_agree_bit_for_bit() {
        // `im2col_channel` runs the AVX2 build where the CPU has AVX2 (else both are the
        // baseline build): 3x3 stride 1 and 2, 1x1 stride 2, 5x5 narrower than wide, NaN. In an
        // unoptimised test build neither is vectorised, so this checks the dispatch; that
        // vectorising keeps the bits rests on Rust neither reordering nor fusing float operations.
        for (i, (h, w, k, s, p)) in [(9, 9, 3, 1, 1), (9, 7, 3, 2, 1), (8, 8, 1, 2, 0), (6, 11, 5, 1, 1)].into_iter().enumerate() {
            let g = ConvGeometry { batch: 1, cin: 1, cout: 1, height: h, width: w, kernel: k, stride: s, pad: p };
            let mut x = values(h * w, 70 + i as u64);
            x[3] = f32::NAN;
            let len = g.col_rows() * g.col_cols();
            let (mut dispatched, mut baseline) = (vec![7.0f32; len], vec![7.0f32; len]);
            im2col_channel(&x, &g, &mut dispatched, g.col_cols());
            im2col_channel_body(&x, &g, &mut baseline, g.col_cols());
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&dispatched), bits(&baseline), "{g:?}");
        }
    }

    #[test]
    fn valid_ranges_cover_exactly_the_inside() {
        for (offset, stride, size, outputs) in [(-1isize, 1usize, 5usize, 5usize), (-1, 2, 9, 5), (1, 2, 9, 5), (-4, 3, 4, 3), (0, 1, 0, 2)]
        {
            let (a, b) = valid_range(offset, stride, size, outputs);
            for o in 0..outputs {
                let i = o as isize * stride as isize + offset;
                assert_eq!((a..b).contains(&o), i >= 0 && i < size as isize, "{offset} {stride} {size} {outputs} o={o}");
            }
        }
    }
}
