//! 2-D convolution on host slices (f32, NCHW, one group, no dilation, square kernels,
//! symmetric zero padding): forward, input gradient and weight gradient, each as
//! im2col + one GEMM per image (the `gemm` crate's packed SIMD kernels) with images in
//! parallel, and the plain loops they are tested against (`*_reference`).
//!
//! Per image b: `col_b` (Cin k k x OH OW) holds the input patches; then
//! - forward: `y_b = W col_b` (W is Cout x Cin k k, the weight tensor as it is stored);
//! - input gradient: `dx_b = col2im(W^T dy_b)` (for stride 1 a forward convolution of dy);
//! - weight gradient: `dW = sum_b dy_b col_b^T`, partial sums over a fixed split of the
//!   batch, or for images with few outputs one GEMM over all images per tile of dW's rows.
//!
//! Outputs that a GEMM overwrites are not zero-filled first (see `matmul_overwrite`).

use std::mem::MaybeUninit;

use crate::model::cpu_common::{dispatch_avx2, map_indices, per_image};

/// Shape of one convolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvGeometry {
    /// Images.
    pub batch: usize,
    /// Input channels.
    pub cin: usize,
    /// Output channels.
    pub cout: usize,
    /// Input height.
    pub height: usize,
    /// Input width.
    pub width: usize,
    /// Kernel side.
    pub kernel: usize,
    /// Stride (both directions).
    pub stride: usize,
    /// Zero padding on every side.
    pub pad: usize,
}

impl ConvGeometry {
    /// Output height.
    pub fn out_height(&self) -> usize {
        (self.height + 2 * self.pad - self.kernel) / self.stride + 1
    }

    /// Output width.
    pub fn out_width(&self) -> usize {
        (self.width + 2 * self.pad - self.kernel) / self.stride + 1
    }

    /// Rows of an image's patch matrix (Cin k k).
    fn col_rows(&self) -> usize {
        self.cin * self.kernel * self.kernel
    }

    /// Columns of an image's patch matrix (OH OW).
    fn col_cols(&self) -> usize {
        self.out_height() * self.out_width()
    }

    fn input_len(&self) -> usize {
        self.cin * self.height * self.width
    }

    fn output_len(&self) -> usize {
        self.cout * self.col_cols()
    }

    /// Is this a convolution these kernels compute (positive sizes, the kernel fits)?
    pub fn is_valid(&self) -> bool {
        self.batch > 0
            && self.cin > 0
            && self.cout > 0
            && self.kernel > 0
            && self.stride > 0
            && self.height + 2 * self.pad >= self.kernel
            && self.width + 2 * self.pad >= self.kernel
    }
}

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

pub(super) use crate::model::cpu_common::{unwritten, written};

/// Partial sums of the weight gradient (a constant, so results do not depend on the cores).
const WEIGHT_GRAD_CHUNKS: usize = 8;

/// The runs of images whose weight-gradient partial sums are computed in parallel and added
/// in order: at most [`WEIGHT_GRAD_CHUNKS`], equal but for the last, none empty (9 images
/// in runs of 2 are 5 runs). They depend on the batch only: the same bits on any core count.
pub(super) fn image_runs(batch: usize) -> Vec<std::ops::Range<usize>> {
    let per_run = batch.div_ceil(batch.min(WEIGHT_GRAD_CHUNKS));
    (0..batch.div_ceil(per_run)).map(|r| r * per_run..((r + 1) * per_run).min(batch)).collect()
}

thread_local! {
    static COL: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Calls `f` with this thread's scratch buffer of at least `len` values (reused from call to
/// call; its contents are whatever the last user left). While a thread waits on a parallel
/// loop it may run other tasks; should one of them need the buffer while it is lent out, it
/// gets a fresh one.
pub(super) fn with_col<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    COL.with(|cell| match cell.try_borrow_mut() {
        Ok(mut col) => {
            if col.len() < len {
                col.resize(len, 0.0);
            }
            f(&mut col[..len])
        }
        Err(_) => f(&mut vec![0.0f32; len]),
    })
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

/// `y = conv(x, w)`: x is B x Cin x H x W, w is Cout x Cin x k x k; returns B x Cout x OH x OW.
/// By Winograd's transform or the direct kernel where they apply, else im2col + GEMM.
pub fn conv2d_forward(x: &[f32], w: &[f32], g: &ConvGeometry) -> Vec<f32> {
    if super::winograd4::applies(g) {
        return super::winograd4::conv2d_forward(x, w, g);
    }
    if super::winograd::applies(g) {
        return super::winograd::conv2d_forward(x, w, g);
    }
    if super::direct::applies(g) {
        return super::direct::conv2d_forward(x, w, g);
    }
    if super::direct_small::applies(g) {
        return super::direct_small::conv2d_forward(x, w, g);
    }
    let (rows, cols) = (g.col_rows(), g.col_cols());
    let position_major = g.cout >= POSITION_MAJOR_FROM.0 && cols >= POSITION_MAJOR_FROM.1;
    let pointwise = g.kernel == 1 && g.stride == 1 && g.pad == 0;
    let mut y = unwritten(g.batch * g.output_len());
    per_image(&mut y, g.output_len(), |b, y_b| {
        let x_b = &x[b * g.input_len()..][..g.input_len()];
        let patches = if pointwise { 0 } else { rows * cols };
        let scratch = if position_major { g.output_len() } else { 0 };
        with_col(patches + scratch, |buffer| {
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

/// `dL/dx` from `dy` (B x Cout x OH x OW) and w. With stride 1 this is itself a forward
/// convolution: of dy, padded by k - 1 - p, with the kernels flipped and their channel axes
/// swapped (one GEMM of depth Cout k k per image instead of a GEMM of depth Cout and a
/// scatter); otherwise GEMM + col2im.
pub fn conv2d_input_grad(dy: &[f32], w: &[f32], g: &ConvGeometry) -> Vec<f32> {
    let (rows, cols) = (g.col_rows(), g.col_cols());
    let k = g.kernel;
    if g.stride == 1 && g.pad < k && k > 1 {
        // flipped[ci][co][ky][kx] = w[co][ci][k-1-ky][k-1-kx]: each input channel's row
        // written in order, its taps read 9 at a time (ResNet-18's 512 x 512 x 3 x 3:
        // 4-5 ms single-threaded in the scattered order).
        let taps = k * k;
        let mut flipped = vec![0.0f32; w.len()];
        per_image(&mut flipped, g.cout * taps, |ci, row| {
            for (co, dst) in row.chunks_exact_mut(taps).enumerate() {
                let src = &w[(co * g.cin + ci) * taps..][..taps];
                dst.iter_mut().zip(src.iter().rev()).for_each(|(d, s)| *d = *s);
            }
        });
        let transposed = ConvGeometry {
            batch: g.batch,
            cin: g.cout,
            cout: g.cin,
            height: g.out_height(),
            width: g.out_width(),
            kernel: k,
            stride: 1,
            pad: k - 1 - g.pad,
        };
        return conv2d_forward(dy, &flipped, &transposed);
    }
    if super::strided_input_grad::applies(g) {
        return super::strided_input_grad::conv2d_input_grad(dy, w, g);
    }
    let mut dx = vec![0.0f32; g.batch * g.input_len()];
    per_image(&mut dx, g.input_len(), |b, dx_b| {
        let dy_b = &dy[b * g.output_len()..][..g.output_len()];
        if g.kernel == 1 && g.stride == 1 && g.pad == 0 {
            matmul(rows, cols, g.cout, dx_b, false, w, (1, rows), dy_b, (cols, 1));
            return;
        }
        with_col(rows * cols, |col| {
            // col = W^T dy_b: W^T is (Cin k k) x Cout, i.e. W read with swapped strides.
            matmul(rows, cols, g.cout, col, false, w, (1, rows), dy_b, (cols, 1));
            col2im_add(col, g, dx_b);
        });
    });
    dx
}

/// `dL/dw` (Cout x Cin x k x k) from x and dy: by Winograd's transform where
/// [`super::winograd::applies_to_weight_gradient`], else `dW = sum_b dy_b col_b^T`, computed
/// column-major ((Cin k k) x Cout), which makes the small dy the operand the GEMM copies into
/// panels (a row-major dW made it copy the whole patch matrix per image: the 16-channel
/// 32 x 32 layers' weight gradient at B = 64, 15.9 -> 2.7 ms on 2 cores), then transposed.
pub fn conv2d_weight_grad(x: &[f32], dy: &[f32], g: &ConvGeometry) -> Vec<f32> {
    if super::winograd::applies_to_weight_gradient(g) {
        return super::winograd::conv2d_weight_grad(x, dy, g);
    }
    if super::direct::applies_to_weight_gradient(g) {
        return super::direct::conv2d_weight_grad(x, dy, g);
    }
    if super::direct_small::applies_to_weight_gradient(g) {
        return super::direct_small::conv2d_weight_grad(x, dy, g);
    }
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
        with_col(rows * cols, |col| {
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
    with_col((rows + g.cout) * per_pass * cols, |buffer| {
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

/// A column-major `rows x cols` matrix in row-major order (`cols x rows`), blocks of 16 of
/// its columns in parallel.
fn to_row_major(column_major: &[f32], rows: usize, cols: usize) -> Vec<f32> {
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
            // SAFETY (loads and stores): in bounds by the caller's contract.
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
                unsafe { _mm256_storeu_ps(dst.add((j0 + k) * rows + r0), column) };
            }
        }
    }
}

/// A destination value the transposition writes: an `f32` already there, or one not yet
/// written (a buffer from [`unwritten`]).
///
/// # Safety
///
/// Implementors have `f32`'s size and alignment, and an `f32` written through a pointer
/// cast leaves them initialised (the AVX tiles store through one).
pub(super) unsafe trait Slot {
    fn put(&mut self, value: f32);
}

// SAFETY: f32 is f32.
unsafe impl Slot for f32 {
    fn put(&mut self, value: f32) {
        *self = value;
    }
}

// SAFETY: MaybeUninit<f32> has f32's layout; a written f32 initialises it.
unsafe impl Slot for MaybeUninit<f32> {
    fn put(&mut self, value: f32) {
        self.write(value);
    }
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

/// Calls `f(x_index, w_index, y_index)` for every product of the convolution: each image,
/// output channel, output position, input channel and kernel tap that falls inside the input
/// (taps in the zero padding contribute nothing and are skipped). The loop form all three
/// references share.
fn for_each_product(g: &ConvGeometry, mut f: impl FnMut(usize, usize, usize)) {
    let (oh, ow, k) = (g.out_height(), g.out_width(), g.kernel);
    for b in 0..g.batch {
        for co in 0..g.cout {
            for oy in 0..oh {
                for ox in 0..ow {
                    let y_index = ((b * g.cout + co) * oh + oy) * ow + ox;
                    for c in 0..g.cin {
                        for ky in 0..k {
                            let Some(iy) = (oy * g.stride + ky).checked_sub(g.pad).filter(|&v| v < g.height) else { continue };
                            for kx in 0..k {
                                let Some(ix) = (ox * g.stride + kx).checked_sub(g.pad).filter(|&v| v < g.width) else { continue };
                                f(((b * g.cin + c) * g.height + iy) * g.width + ix, ((co * g.cin + c) * k + ky) * k + kx, y_index);
                            }
                        }
                    }
                }
            }
        }
    }
}

fn to_f32(values: Vec<f64>) -> Vec<f32> {
    values.into_iter().map(|v| v as f32).collect()
}

/// Plain loops of [`conv2d_forward`] (f64 sums).
pub fn conv2d_forward_reference(x: &[f32], w: &[f32], g: &ConvGeometry) -> Vec<f32> {
    let mut y = vec![0.0f64; g.batch * g.output_len()];
    for_each_product(g, |xi, wi, yi| y[yi] += x[xi] as f64 * w[wi] as f64);
    to_f32(y)
}

/// Plain loops of [`conv2d_input_grad`] (f64 sums).
pub fn conv2d_input_grad_reference(dy: &[f32], w: &[f32], g: &ConvGeometry) -> Vec<f32> {
    let mut dx = vec![0.0f64; g.batch * g.input_len()];
    for_each_product(g, |xi, wi, yi| dx[xi] += dy[yi] as f64 * w[wi] as f64);
    to_f32(dx)
}

/// Plain loops of [`conv2d_weight_grad`] (f64 sums).
pub fn conv2d_weight_grad_reference(x: &[f32], dy: &[f32], g: &ConvGeometry) -> Vec<f32> {
    let mut dw = vec![0.0f64; g.cout * g.col_rows()];
    for_each_product(g, |xi, wi, yi| dw[wi] += dy[yi] as f64 * x[xi] as f64);
    to_f32(dw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::cpu_common::test_values as values;

    /// Relative tolerance: f32 GEMM sums against f64 loop sums over up to Cin k k x OH OW terms.
    fn assert_close(got: &[f32], want: &[f32], what: &str) {
        assert_eq!(got.len(), want.len(), "{what}");
        let scale = want.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        for (i, (a, b)) in got.iter().zip(want).enumerate() {
            assert!((a - b).abs() <= 1e-5 * scale * 8.0, "{what}[{i}]: {a} vs {b} (scale {scale})");
        }
    }

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

    #[test]
    fn every_direction_matches_the_loops_on_odd_shapes() {
        let shapes = [
            // The encoders' kinds: 3x3 stride 1 and 2, 1x1 stride 2 shortcut, the RGB / L / ab stems.
            ConvGeometry { batch: 3, cin: 3, cout: 5, height: 9, width: 9, kernel: 3, stride: 1, pad: 1 },
            ConvGeometry { batch: 2, cin: 4, cout: 6, height: 9, width: 7, kernel: 3, stride: 2, pad: 1 },
            ConvGeometry { batch: 2, cin: 5, cout: 3, height: 8, width: 8, kernel: 1, stride: 2, pad: 0 },
            ConvGeometry { batch: 1, cin: 1, cout: 4, height: 5, width: 6, kernel: 3, stride: 1, pad: 1 },
            ConvGeometry { batch: 2, cin: 2, cout: 3, height: 7, width: 5, kernel: 1, stride: 1, pad: 0 },
            // No padding, stride 3, a kernel as large as the padded input, wide padding.
            ConvGeometry { batch: 2, cin: 3, cout: 2, height: 10, width: 11, kernel: 3, stride: 3, pad: 0 },
            ConvGeometry { batch: 1, cin: 2, cout: 2, height: 3, width: 3, kernel: 5, stride: 1, pad: 1 },
            ConvGeometry { batch: 2, cin: 2, cout: 3, height: 4, width: 4, kernel: 3, stride: 1, pad: 3 },
            // Wider layers (8-17 channels) with odd sizes, no padding, a 5x5 kernel wider
            // than the image, wide padding, and a 1-pixel image.
            ConvGeometry { batch: 2, cin: 9, cout: 5, height: 7, width: 6, kernel: 3, stride: 1, pad: 1 },
            ConvGeometry { batch: 1, cin: 8, cout: 17, height: 5, width: 9, kernel: 3, stride: 1, pad: 0 },
            ConvGeometry { batch: 2, cin: 10, cout: 8, height: 4, width: 3, kernel: 5, stride: 1, pad: 2 },
            ConvGeometry { batch: 1, cin: 8, cout: 9, height: 3, width: 3, kernel: 3, stride: 1, pad: 3 },
            ConvGeometry { batch: 3, cin: 16, cout: 16, height: 1, width: 1, kernel: 3, stride: 1, pad: 1 },
            // Weight gradients split by rows (fewer than SPLIT_BY_ROWS_BELOW outputs per
            // image: 7 x 7 and 6 x 6 outputs, and 30 images of 36 outputs in two passes of
            // SPLIT_BY_ROWS_DEPTH, 27 rows in tiles of 4) and by images.
            ConvGeometry { batch: 11, cin: 3, cout: 4, height: 7, width: 7, kernel: 3, stride: 1, pad: 1 },
            ConvGeometry { batch: 11, cin: 2, cout: 3, height: 12, width: 12, kernel: 3, stride: 2, pad: 1 },
            ConvGeometry { batch: 30, cin: 3, cout: 3, height: 6, width: 6, kernel: 3, stride: 1, pad: 1 },
            ConvGeometry { batch: 3, cin: 2, cout: 3, height: 8, width: 8, kernel: 3, stride: 1, pad: 1 },
            // A forward GEMM written position-major and transposed (POSITION_MAJOR_FROM: 64
            // output channels, 32 x 33 positions).
            ConvGeometry { batch: 2, cin: 2, cout: 64, height: 32, width: 33, kernel: 3, stride: 1, pad: 1 },
            // 9 images in chunks of 2 (5 partial sums, none empty), 19 output channels (a
            // whole and a partial block of the sum-and-transpose pass).
            ConvGeometry { batch: 9, cin: 2, cout: 19, height: 8, width: 8, kernel: 3, stride: 1, pad: 1 },
        ];
        for (i, g) in shapes.into_iter().enumerate() {
            assert!(g.is_valid());
            let x = values(g.batch * g.input_len(), 1 + i as u64);
            let w = values(g.cout * g.col_rows(), 50 + i as u64);
            let dy = values(g.batch * g.output_len(), 99 + i as u64);
            assert_close(&conv2d_forward(&x, &w, &g), &conv2d_forward_reference(&x, &w, &g), &format!("{g:?} forward"));
            assert_close(&conv2d_input_grad(&dy, &w, &g), &conv2d_input_grad_reference(&dy, &w, &g), &format!("{g:?} dx"));
            assert_close(&conv2d_weight_grad(&x, &dy, &g), &conv2d_weight_grad_reference(&x, &dy, &g), &format!("{g:?} dw"));
        }
    }

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
    fn the_gradients_are_the_adjoints_of_the_forward_pass() {
        // <conv(x, w), dy> = <x, dx(dy, w)> = <w, dw(x, dy)> for any x, w, dy.
        let g = ConvGeometry { batch: 2, cin: 3, cout: 4, height: 6, width: 5, kernel: 3, stride: 2, pad: 1 };
        let (x, w, dy) = (values(g.batch * g.input_len(), 7), values(g.cout * g.col_rows(), 8), values(g.batch * g.output_len(), 9));
        let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(p, q)| *p as f64 * *q as f64).sum::<f64>();
        let y = conv2d_forward(&x, &w, &g);
        let (a, b, c) = (dot(&y, &dy), dot(&x, &conv2d_input_grad(&dy, &w, &g)), dot(&w, &conv2d_weight_grad(&x, &dy, &g)));
        assert!((a - b).abs() < 1e-4 * a.abs().max(1.0) && (a - c).abs() < 1e-4 * a.abs().max(1.0), "{a} {b} {c}");
    }

    #[test]
    fn non_finite_inputs_propagate_as_in_the_loops() {
        for cin in [2, 8] {
            let g = ConvGeometry { batch: 1, cin, cout: 2, height: 4, width: 4, kernel: 3, stride: 1, pad: 1 };
            let mut x = values(g.batch * g.input_len(), 3);
            x[5] = f32::NAN;
            x[g.input_len() - 1] = f32::INFINITY;
            let w = values(g.cout * g.col_rows(), 4);
            let (got, want) = (conv2d_forward(&x, &w, &g), conv2d_forward_reference(&x, &w, &g));
            for (a, b) in got.iter().zip(&want) {
                assert_eq!(a.is_nan(), b.is_nan(), "cin {cin}");
                assert_eq!(a.is_infinite(), b.is_infinite(), "cin {cin}");
            }
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
