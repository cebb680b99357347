//! 3x3 stride-1 convolutions by Winograd's minimal filtering F(2x2, 3x3) (Lavin & Gray,
//! "Fast Algorithms for Convolutional Neural Networks", 2016): each 2 x 2 block of outputs
//! ("tile") is computed from a 4 x 4 block of the input with 16 products per input channel
//! instead of 36, as 16 GEMMs (one per point `xi` of the transformed 4 x 4 tile) of depth Cin
//! over all tiles of a group of images:
//!
//! - weights: `U[xi] (Cout x Cin) = (G w G^T)[xi]` (stored `U[co][xi][ci]`);
//! - input: `V[c][xi][tile] = (B^T d B)[xi]` for the tile's 4 x 4 input block d (zero padded);
//! - `M[xi] = U[xi] V[.][xi][.]` (Cout x tiles), then each tile's outputs `A^T M A` (2 x 2).
//!
//! 2.25x fewer multiplications than im2col + GEMM, and the transformed input is 4x the
//! input where a patch matrix is 9x. The weight gradient runs the same transforms backwards
//! ([`conv2d_weight_grad`]). The result differs from the direct sum by rounding only (the
//! transforms' coefficients are 0, +-1 and +-1/2); the tests hold it to the plain loops'
//! f64 reference ([`super::reference::conv2d_forward_reference`] and the weight gradient's)
//! within the same tolerance as the GEMM path. NaN inputs give NaN at the outputs the loops
//! give NaN; an infinite input can give NaN (inf - inf in a transform) where they give inf.

use std::mem::MaybeUninit;

use super::ConvGeometry;
use super::gemm::{Target, product_into};
use crate::buffers::{unwritten, with_scratch, written};
use crate::parallel::{for_each_item, per_image};
use crate::simd::dispatch_avx2;

/// Points of a transformed tile.
const POINTS: usize = 16;
/// Tiles (over all images of a group) per GEMM: bounds the transformed input and products
/// (16 Cin and 16 Cout values per tile: 4 MB each at 64 channels, 8 MB for ResNet-18's
/// 256-channel stage, whose batch of 32 fills only 512 tiles).
const GROUP_TILES: usize = 1024;

/// Can [`conv2d_forward`] and [`conv2d_weight_grad`] compute this convolution at all (3x3,
/// stride 1, padding below 3; any channel count and size)?
pub fn computes(g: &ConvGeometry) -> bool {
    g.kernel == 3 && g.stride == 1 && g.pad < 3 && g.is_valid()
}

/// `U[co][xi][ci]`: each 3 x 3 kernel transformed into its `P` points by `kernel` (`G w G^T`
/// of the scheme); output channels in parallel.
pub(super) fn transform_weights<const P: usize>(w: &[f32], g: &ConvGeometry, kernel: impl Fn(&[f32]) -> [f32; P] + Sync) -> Vec<f32> {
    let cin = g.cin;
    let mut u = unwritten(g.cout * P * cin);
    per_image(&mut u, P * cin, |co, u_co| {
        for (ci, k) in w[co * cin * 9..][..cin * 9].chunks_exact(9).enumerate() {
            for (xi, value) in kernel(k).iter().enumerate() {
                u_co[xi * cin + ci].write(*value);
            }
        }
    });
    // SAFETY: each output channel's block got all P points of each input channel.
    unsafe { written(u) }
}

/// F(2x2, 3x3)'s kernel transform, its 16 points in a row.
fn kernel_points(k: &[f32]) -> [f32; POINTS] {
    let t = transform_kernel(k);
    std::array::from_fn(|xi| t[xi / 4][xi % 4])
}

/// `G k G^T` of one 3 x 3 kernel (row-major), with
/// `G = [[1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]]`.
#[inline(always)]
fn transform_kernel(k: &[f32]) -> [[f32; 4]; 4] {
    // G k: 4 x 3.
    let mut gk = [[0.0f32; 3]; 4];
    for col in 0..3 {
        let (a, b, c) = (k[col], k[3 + col], k[6 + col]);
        gk[0][col] = a;
        gk[1][col] = 0.5 * (a + b + c);
        gk[2][col] = 0.5 * (a - b + c);
        gk[3][col] = c;
    }
    // (G k) G^T: 4 x 4.
    gk.map(|r| [r[0], 0.5 * (r[0] + r[1] + r[2]), 0.5 * (r[0] - r[1] + r[2]), r[2]])
}

/// `B^T d B` of one 4 x 4 block (the definition; [`transform_input_channel`] computes it for
/// runs of tiles) with `B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]`.
#[cfg(test)]
fn transform_block(d: [[f32; 4]; 4]) -> [[f32; 4]; 4] {
    let mut t = [[0.0f32; 4]; 4];
    for col in 0..4 {
        t[0][col] = d[0][col] - d[2][col];
        t[1][col] = d[1][col] + d[2][col];
        t[2][col] = d[2][col] - d[1][col];
        t[3][col] = d[1][col] - d[3][col];
    }
    t.map(|r| [r[0] - r[2], r[1] + r[2], r[2] - r[1], r[1] - r[3]])
}

/// `A^T m A` with `A^T = [[1, 1, 1, 0], [0, 1, -1, -1]]`: a tile's 2 x 2 outputs (the
/// definition; [`transform_output_plane`] computes it for runs of tiles).
#[cfg(test)]
fn output_block(m: [[f32; 4]; 4]) -> [[f32; 2]; 2] {
    let s0 = [0, 1, 2, 3].map(|c| m[0][c] + m[1][c] + m[2][c]);
    let s1 = [0, 1, 2, 3].map(|c| m[1][c] - m[2][c] - m[3][c]);
    [[s0[0] + s0[1] + s0[2], s0[1] - s0[2] - s0[3]], [s1[0] + s1[1] + s1[2], s1[1] - s1[2] - s1[3]]]
}

/// `y = conv(x, w)` for a convolution Winograd [`computes`] (panics otherwise: the callers
/// check): x is B x Cin x H x W, w is Cout x Cin x 3 x 3; returns B x Cout x OH x OW.
pub fn conv2d_forward(x: &[f32], w: &[f32], g: &ConvGeometry) -> Vec<f32> {
    assert!(computes(g), "not a 3x3 stride-1 convolution with padding below 3: {g:?}");
    let tiles = g.out_height().div_ceil(2) * g.out_width().div_ceil(2);
    let per_group = (GROUP_TILES / tiles).clamp(1, g.batch);
    let u = transform_weights(w, g, kernel_points);
    forward_by_tiles(x, g, &u, (2, POINTS), per_group, input_channel, output_plane)
}

/// The forward pass of a Winograd scheme with `tile` x `tile` outputs and `points` points per
/// tile, given its transformed weights `u` (`U[co][xi][ci]`) and its two data transforms, a
/// group of `per_group` images at a time: `input(x, g, first, n, c, v_c)` writes channel c's
/// `points` rows of V (`V[c][xi][tile]`) for images `first..first + n`; then one GEMM per
/// point, `M[xi] (Cout x tiles) = U[xi] (Cout x Cin) V[.][xi][.] (Cin x tiles)`; then
/// `output(m, g, n, plane, out)` writes each (image, output channel) plane.
#[allow(clippy::too_many_arguments)]
pub(super) fn forward_by_tiles(
    x: &[f32],
    g: &ConvGeometry,
    u: &[f32],
    (tile, points): (usize, usize),
    per_group: usize,
    input: impl Fn(&[f32], &ConvGeometry, usize, usize, usize, &mut [f32]) + Sync,
    output: impl Fn(&[f32], &ConvGeometry, usize, usize, &mut [MaybeUninit<f32>]) + Sync,
) -> Vec<f32> {
    let tiles = g.out_height().div_ceil(tile) * g.out_width().div_ceil(tile);
    let out_plane = g.out_height() * g.out_width();
    let mut y = unwritten(g.batch * g.cout * out_plane);
    let (v_len, m_len) = (g.cin * points * per_group * tiles, points * g.cout * per_group * tiles);
    with_scratch(v_len + m_len, |scratch| {
        let (v, m) = scratch.split_at_mut(v_len);
        for first in (0..g.batch).step_by(per_group) {
            let n = per_group.min(g.batch - first);
            let cols = n * tiles;
            let v = &mut v[..g.cin * points * cols];
            per_image(v, points * cols, |c, v_c| input(x, g, first, n, c, v_c));
            let v = &*v;
            let m = &mut m[..points * g.cout * cols];
            per_image(m, g.cout * cols, |xi, m_xi| {
                super::gemm::matmul_strided(
                    g.cout,
                    cols,
                    g.cin,
                    m_xi,
                    (&u[xi * g.cin..], points * g.cin),
                    (&v[xi * cols..], points * cols),
                );
            });
            let m = &*m;
            let y_group = &mut y[first * g.cout * out_plane..][..n * g.cout * out_plane];
            per_image(y_group, out_plane, |index, out| output(m, g, n, index, out));
        }
    });
    // SAFETY: every output plane was written by the output transform (all OH x OW positions).
    unsafe { written(y) }
}

/// `dL/dw` (Cout x Cin x 3 x 3) from x and dy for a convolution Winograd [`computes`],
/// through the same transform: with `y_tile = A^T (U .* V) A`, the gradient of `U` is
/// `dU[xi] = sum over tiles of Y[xi] V[xi]^T` with `Y = A dy_tile A^T` (4 x 4 from each tile's
/// 2 x 2 output gradients), 16 GEMMs (Cout x Cin, as deep as the tiles), and then
/// `dw = G^T dU G`. Groups of images and the GEMMs are fixed by the shape: the same bits on
/// any number of cores.
pub fn conv2d_weight_grad(x: &[f32], dy: &[f32], g: &ConvGeometry) -> Vec<f32> {
    assert!(computes(g), "not a 3x3 stride-1 convolution with padding below 3: {g:?}");
    let (oh, ow) = (g.out_height(), g.out_width());
    let tiles = oh.div_ceil(2) * ow.div_ceil(2);
    let per_group = (GROUP_TILES / tiles).clamp(1, g.batch);
    let (v_len, y_len) = (g.cin * POINTS * per_group * tiles, g.cout * POINTS * per_group * tiles);
    let pairs = g.cout * g.cin;
    let mut du: Option<Vec<f32>> = None;
    with_scratch(v_len + y_len, |scratch| {
        let (v, yt) = scratch.split_at_mut(v_len);
        for first in (0..g.batch).step_by(per_group) {
            let n = per_group.min(g.batch - first);
            let cols = n * tiles;
            let (v, yt) = (&mut v[..g.cin * POINTS * cols], &mut yt[..g.cout * POINTS * cols]);
            per_image(v, POINTS * cols, |c, v_c| input_channel(x, g, first, n, c, v_c));
            // Y tile-major, Y[xi][tile][co]: each image's 16 blocks of tiles x Cout.
            let mut blocks: Vec<Vec<&mut [f32]>> = (0..n).map(|_| Vec::with_capacity(POINTS)).collect();
            for plane in yt.chunks_mut(cols * g.cout) {
                for (j, block) in plane.chunks_mut(tiles * g.cout).enumerate() {
                    blocks[j].push(block);
                }
            }
            for_each_item(blocks, |j, mut image_blocks| gradient_image(dy, g, first + j, &mut image_blocks));
            let (v, yt) = (&*v, &*yt);
            // dU[xi] (Cout x Cin, column-major) [+]= Y[xi] (Cout x cols, column-major)
            // V[.][xi][.]^T (cols x Cin, column-major: V's rows).
            let product = |xi: usize, target: Target| {
                let (y_xi, v_xi) = (&yt[xi * cols * g.cout..], &v[xi * cols..]);
                product_into(target, g.cout, g.cin, cols, y_xi, (1, g.cout), v_xi, (1, POINTS * cols));
            };
            match du.as_mut() {
                None => {
                    let mut fresh = unwritten(POINTS * pairs);
                    per_image(&mut fresh, pairs, |xi, d| product(xi, Target::Overwrite(d)));
                    // SAFETY: each point's GEMM wrote its Cout x Cin entries.
                    du = Some(unsafe { written(fresh) });
                }
                Some(du) => per_image(du, pairs, |xi, d| product(xi, Target::Accumulate(d))),
            }
        }
    });
    let du = du.expect("a batch has at least one group");
    // dw[co][ci] = G^T dU[.][co][ci] G, output channels in parallel.
    let mut dw = unwritten(pairs * 9);
    per_image(&mut dw, g.cin * 9, |co, dw_co| {
        for (ci, k) in dw_co.chunks_exact_mut(9).enumerate() {
            let mut d = [[0.0f32; 4]; 4];
            for (xi, value) in d.iter_mut().flatten().enumerate() {
                *value = du[xi * pairs + ci * g.cout + co];
            }
            for (slot, value) in k.iter_mut().zip(kernel_gradient(d).iter().flatten()) {
                slot.write(*value);
            }
        }
    });
    // SAFETY: every (co, ci) wrote its 9 taps.
    unsafe { written(dw) }
}

/// `G^T d G` (3 x 3) of a 4 x 4 gradient of a transformed kernel: the adjoint of
/// [`transform_kernel`] (`G^T = [[1, 1/2, 1/2, 0], [0, 1/2, -1/2, 0], [0, 1/2, 1/2, 1]]`).
#[inline(always)]
fn kernel_gradient(d: [[f32; 4]; 4]) -> [[f32; 3]; 3] {
    // r G for a row r of 4 (G is 4 x 3).
    let reduce = |r: [f32; 4]| [r[0] + 0.5 * (r[1] + r[2]), 0.5 * (r[1] - r[2]), 0.5 * (r[1] + r[2]) + r[3]];
    // d G (4 x 3), then G^T (d G): column j of the result is reduce(column j of d G).
    let dg = d.map(reduce);
    let column = |j: usize| reduce([dg[0][j], dg[1][j], dg[2][j], dg[3][j]]);
    let (c0, c1, c2) = (column(0), column(1), column(2));
    [[c0[0], c1[0], c2[0]], [c0[1], c1[1], c2[1]], [c0[2], c1[2], c2[2]]]
}

dispatch_avx2! {
    /// [`transform_gradient_image`], with AVX2 where the CPU has it.
    fn gradient_image(dy: &[f32], g: &ConvGeometry, b: usize, blocks: &mut [&mut [f32]]) => transform_gradient_image
}

/// The output-gradient transform of image `b`: `blocks[xi][tile Cout + co]` gets `(A D A^T)[xi]`
/// for each tile's 2 x 2 gradients D of channel co (zero past the outputs),
/// `A = [[1, 0], [1, 1], [1, -1], [0, -1]]`, channel-minor, which makes Y the GEMMs' left
/// operand as they read it in place. The image's dy is first transposed to position-major
/// (OH OW x Cout); then each tile's 16 points are sums of its 4 positions' rows of channels,
/// computed and stored 8 channels at a time (fixed-size arrays: vector moves and adds).
#[inline(always)]
fn transform_gradient_image(dy: &[f32], g: &ConvGeometry, b: usize, blocks: &mut [&mut [f32]]) {
    const LANES: usize = 8;
    let (oh, ow) = (g.out_height(), g.out_width());
    let (tiles_y, tiles_x) = (oh.div_ceil(2), ow.div_ceil(2));
    let (cout, out_plane) = (g.cout, oh * ow);
    let mut by_position = vec![0.0f32; out_plane * cout];
    super::transpose::transpose_into(&dy[b * cout * out_plane..][..cout * out_plane], cout, out_plane, &mut by_position);
    let zeros = vec![0.0f32; cout];
    let whole = cout - cout % LANES;
    for ty in 0..tiles_y {
        for tx in 0..tiles_x {
            let tile = ty * tiles_x + tx;
            // D's rows of channels: (oy, ox) for oy in 2 ty.., ox in 2 tx.. (zeros outside).
            let at = |r: usize, c: usize| {
                let (oy, ox) = (2 * ty + r, 2 * tx + c);
                if oy < oh && ox < ow { &by_position[(oy * ow + ox) * cout..][..cout] } else { &zeros[..] }
            };
            let (p00, p01, p10, p11) = (at(0, 0), at(0, 1), at(1, 0), at(1, 1));
            for co in (0..whole).step_by(LANES) {
                let lanes = |p: &[f32]| -> [f32; LANES] { p[co..co + LANES].try_into().expect("LANES values") };
                let points = tile_gradient_points(lanes(p00), lanes(p01), lanes(p10), lanes(p11));
                for (block, values) in blocks.iter_mut().zip(&points) {
                    let slot: &mut [f32; LANES] = (&mut block[tile * cout + co..][..LANES]).try_into().expect("LANES values");
                    *slot = *values;
                }
            }
            for co in whole..cout {
                let points = tile_gradient_points([p00[co]], [p01[co]], [p10[co]], [p11[co]]);
                for (block, values) in blocks.iter_mut().zip(&points) {
                    block[tile * cout + co] = values[0];
                }
            }
        }
    }
}

/// `A D A^T` (4 x 4, row-major) of one tile's 2 x 2 gradients `[[d00, d01], [d10, d11]]`,
/// for `N` channels at once: rows `A D` = `(d0, d0 + d1, d0 - d1, -d1)` by output row, then
/// the same on each row's two columns.
#[inline(always)]
fn tile_gradient_points<const N: usize>(d00: [f32; N], d01: [f32; N], d10: [f32; N], d11: [f32; N]) -> [[f32; N]; POINTS] {
    let add = |a: [f32; N], b: [f32; N]| std::array::from_fn::<f32, N, _>(|i| a[i] + b[i]);
    let sub = |a: [f32; N], b: [f32; N]| std::array::from_fn::<f32, N, _>(|i| a[i] - b[i]);
    let neg = |a: [f32; N]| a.map(|v| -v);
    let rows = [(d00, d01), (add(d00, d10), add(d01, d11)), (sub(d00, d10), sub(d01, d11)), (neg(d10), neg(d11))];
    let mut points = [[0.0f32; N]; POINTS];
    for (r, (a, b)) in rows.into_iter().enumerate() {
        points[4 * r] = a;
        points[4 * r + 1] = add(a, b);
        points[4 * r + 2] = sub(a, b);
        points[4 * r + 3] = neg(b);
    }
    points
}

dispatch_avx2! {
    /// [`transform_input_channel`], with AVX2 where the CPU has it.
    fn input_channel(x: &[f32], g: &ConvGeometry, first: usize, n: usize, c: usize, v_c: &mut [f32]) => transform_input_channel
}

dispatch_avx2! {
    /// [`transform_output_plane`], with AVX2 where the CPU has it.
    fn output_plane(m: &[f32], g: &ConvGeometry, n: usize, index: usize, out: &mut [MaybeUninit<f32>]) => transform_output_plane
}

/// The input transform of channel `c` for images `first..first + n`: `v_c` gets its 16 rows
/// of V (`V[c][xi][tile]`, a row of tiles at a time) from the channel's zero-padded plane
/// split into even and odd columns, so that the 4 x 4 blocks' columns are contiguous runs
/// over the tiles (vectorised loops, run through [`input_channel`]).
#[inline(always)]
fn transform_input_channel(x: &[f32], g: &ConvGeometry, first: usize, n: usize, c: usize, v_c: &mut [f32]) {
    let (oh, ow) = (g.out_height(), g.out_width());
    let (tiles_y, tiles_x) = (oh.div_ceil(2), ow.div_ceil(2));
    let (tiles, plane) = (tiles_y * tiles_x, g.height * g.width);
    let cols = n * tiles;
    // The zero-padded block of input the tiles read: rows and columns -p .. 2 tiles + 2 - p.
    let pad_h = 2 * tiles_y + 2;
    let half = tiles_x + 1;
    let mut even = vec![0.0f32; pad_h * half];
    let mut odd = vec![0.0f32; pad_h * half];
    let mut w = vec![0.0f32; 16 * tiles_x];
    for j in 0..n {
        let src = &x[((first + j) * g.cin + c) * plane..][..plane];
        // Padded row py holds input row py - p (zeros outside), shifted right by p.
        for py in 0..pad_h {
            let (e, o) = (&mut even[py * half..][..half], &mut odd[py * half..][..half]);
            let row = py.checked_sub(g.pad).filter(|&iy| iy < g.height).map(|iy| &src[iy * g.width..][..g.width]);
            split_columns(row, g.pad, e, o);
        }
        for ty in 0..tiles_y {
            // w[4 r + k][tx]: block row r times B (the columns' transform).
            for r in 0..4 {
                let py = 2 * ty + r;
                let (e, o) = (&even[py * half..][..half], &odd[py * half..][..half]);
                let (c0, c1, c2, c3) = (&e[..tiles_x], &o[..tiles_x], &e[1..], &o[1..]);
                let (w0, rest) = w[4 * r * tiles_x..][..4 * tiles_x].split_at_mut(tiles_x);
                let (w1, rest) = rest.split_at_mut(tiles_x);
                let (w2, w3) = rest.split_at_mut(tiles_x);
                for (((w0, w1), (w2, w3)), ((c0, c1), (c2, c3))) in
                    w0.iter_mut().zip(w1).zip(w2.iter_mut().zip(w3)).zip(c0.iter().zip(c1).zip(c2.iter().zip(c3)))
                {
                    *w0 = c0 - c2;
                    *w1 = c1 + c2;
                    *w2 = c2 - c1;
                    *w3 = c1 - c3;
                }
            }
            // Then B^T (the rows' transform), written to V[c][xi][tiles].
            let col = j * tiles + ty * tiles_x;
            for k in 0..4 {
                let row = |r: usize| &w[(4 * r + k) * tiles_x..][..tiles_x];
                let (r0, r1, r2, r3) = (row(0), row(1), row(2), row(3));
                let at = |xi: usize| xi * cols + col..xi * cols + col + tiles_x;
                let [o0, o1, o2, o3] =
                    v_c.get_disjoint_mut([at(k), at(4 + k), at(8 + k), at(12 + k)]).expect("the 16 rows of V are disjoint");
                for (((o0, o1), (o2, o3)), ((r0, r1), (r2, r3))) in
                    o0.iter_mut().zip(o1).zip(o2.iter_mut().zip(o3)).zip(r0.iter().zip(r1).zip(r2.iter().zip(r3)))
                {
                    *o0 = r0 - r2;
                    *o1 = r1 + r2;
                    *o2 = r2 - r1;
                    *o3 = r1 - r3;
                }
            }
        }
    }
}

/// The output transform of plane `index` (image `index / Cout` of the group, output channel
/// `index % Cout`) from the group's products `m` (`M[xi][co][tile]`): each tile's `A^T M A`,
/// runs of tiles at a time, the even and odd output columns interleaved.
#[inline(always)]
fn transform_output_plane(m: &[f32], g: &ConvGeometry, n: usize, index: usize, out: &mut [MaybeUninit<f32>]) {
    let (oh, ow) = (g.out_height(), g.out_width());
    let (tiles_y, tiles_x) = (oh.div_ceil(2), ow.div_ceil(2));
    let tiles = tiles_y * tiles_x;
    let cols = n * tiles;
    let (j, co) = (index / g.cout, index % g.cout);
    // Runs of up to RUN tiles of a tile row (stack buffers).
    const RUN: usize = 32;
    let mut s = [[0.0f32; RUN]; 8];
    let mut pair = [0.0f32; 2 * RUN];
    for ty in 0..tiles_y {
        for tx0 in (0..tiles_x).step_by(RUN) {
            let nt = RUN.min(tiles_x - tx0);
            let col = j * tiles + ty * tiles_x + tx0;
            let mrow = |xi: usize| &m[(xi * g.cout + co) * cols + col..][..nt];
            // s[r][k] = (A^T M)[r][k]: r = 0 rows 0 + 1 + 2, r = 1 rows 1 - 2 - 3.
            for k in 0..4 {
                let (m0, m1, m2, m3) = (mrow(k), mrow(4 + k), mrow(8 + k), mrow(12 + k));
                let (top, bottom) = s.split_at_mut(4);
                let (s0, s1) = (&mut top[k][..nt], &mut bottom[k][..nt]);
                for ((s0, s1), ((m0, m1), (m2, m3))) in s0.iter_mut().zip(s1).zip(m0.iter().zip(m1).zip(m2.iter().zip(m3))) {
                    *s0 = m0 + m1 + m2;
                    *s1 = m1 - m2 - m3;
                }
            }
            for r in 0..2 {
                let oy = 2 * ty + r;
                if oy >= oh {
                    break;
                }
                let (a0, a1, a2, a3) = (&s[4 * r][..nt], &s[4 * r + 1][..nt], &s[4 * r + 2][..nt], &s[4 * r + 3][..nt]);
                for (p, ((a0, a1), (a2, a3))) in pair.chunks_exact_mut(2).zip(a0.iter().zip(a1).zip(a2.iter().zip(a3))) {
                    p[0] = a0 + a1 + a2;
                    p[1] = a1 - a2 - a3;
                }
                let ox0 = 2 * tx0;
                let width = (ow - ox0).min(2 * nt);
                for (o, v) in out[oy * ow + ox0..][..width].iter_mut().zip(&pair) {
                    o.write(*v);
                }
            }
        }
    }
}

/// Splits `row`, shifted right by `shift` zeros and zero-padded to `2 even.len()` values,
/// into its even and odd columns (`even[i] = padded[2 i]`, `odd[i] = padded[2 i + 1]`),
/// without copying the row first (a call to memcpy per row cost more than the split). A row
/// outside the input (`None`) is all zeros.
#[inline(always)]
fn split_columns(row: Option<&[f32]>, shift: usize, even: &mut [f32], odd: &mut [f32]) {
    let Some(row) = row else {
        even.fill(0.0);
        odd.fill(0.0);
        return;
    };
    let half = even.len();
    debug_assert!(odd.len() == half && shift + row.len() <= 2 * half);
    // Column c of the row lands at padded column c + shift: even columns of the row go to
    // `first`, odd ones to `second`.
    let (first, second, first_at, second_at) =
        if shift.is_multiple_of(2) { (even, odd, shift / 2, shift / 2) } else { (odd, even, shift / 2, shift / 2 + 1) };
    let (pairs, tail) = (row.len() / 2, row.len() % 2);
    let first_end = first_at + pairs + tail;
    let second_end = second_at + pairs;
    first[..first_at].fill(0.0);
    first[first_end..].fill(0.0);
    second[..second_at].fill(0.0);
    second[second_end..].fill(0.0);
    for ((f, s), pair) in first[first_at..].iter_mut().zip(second[second_at..].iter_mut()).zip(row.chunks_exact(2)) {
        *f = pair[0];
        *s = pair[1];
    }
    if tail == 1 {
        first[first_at + pairs] = row[row.len() - 1];
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::conv::reference::{assert_close, conv2d_forward_reference, conv2d_weight_grad_reference};
    use crate::testing::test_values as values;

    #[test]
    fn the_transforms_compute_a_3_tap_filter_on_a_4_wide_block() {
        // F(2x2, 3x3) on one tile: y[i][j] = sum_{a, b} d[i + a][j + b] k[a][b].
        let d: Vec<f32> = values(16, 3);
        let k: Vec<f32> = values(9, 4);
        let g = ConvGeometry { batch: 1, cin: 1, cout: 1, height: 4, width: 4, kernel: 3, stride: 1, pad: 0 };
        let u = transform_weights(&k, &g, kernel_points);
        let t = transform_block([0, 1, 2, 3].map(|r| [0, 1, 2, 3].map(|c| d[r * 4 + c])));
        let m = [0, 1, 2, 3].map(|r| [0, 1, 2, 3].map(|c| t[r][c] * u[r * 4 + c]));
        let y = output_block(m);
        for i in 0..2 {
            for j in 0..2 {
                let want: f32 = (0..3).flat_map(|a| (0..3).map(move |b| (a, b))).map(|(a, b)| d[(i + a) * 4 + j + b] * k[a * 3 + b]).sum();
                assert!((y[i][j] - want).abs() < 1e-5, "({i}, {j}): {} vs {want}", y[i][j]);
            }
        }
    }

    #[test]
    fn the_kernel_gradient_is_the_adjoint_of_the_kernel_transform() {
        // <G k G^T, d> = <k, G^T d G> for any k (3 x 3) and d (4 x 4).
        let (k, d) = (values(9, 5), values(16, 6));
        let u = transform_kernel(&k);
        let dk = kernel_gradient([0, 1, 2, 3].map(|r| [0, 1, 2, 3].map(|c| d[r * 4 + c])));
        let lhs: f32 = u.iter().flatten().zip(&d).map(|(a, b)| a * b).sum();
        let rhs: f32 = dk.iter().flatten().zip(&k).map(|(a, b)| a * b).sum();
        assert!((lhs - rhs).abs() < 1e-5, "{lhs} vs {rhs}");
    }

    #[test]
    fn the_avx2_and_baseline_transforms_agree_bit_for_bit() {
        // The dispatched transforms run their AVX2 build where the CPU has AVX2 (else both
        // are the baseline build). Odd sizes, two images, NaN. (Unoptimised, as in `cargo
        // test`, neither is vectorised: this checks the dispatch and the plumbing.)
        let g = ConvGeometry { batch: 2, cin: 3, cout: 5, height: 7, width: 9, kernel: 3, stride: 1, pad: 1 };
        let (oh, ow) = (g.out_height(), g.out_width());
        let tiles = oh.div_ceil(2) * ow.div_ceil(2);
        let cols = g.batch * tiles;
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        let mut x = values(g.batch * g.cin * g.height * g.width, 40);
        x[7] = f32::NAN;
        for c in 0..g.cin {
            let (mut a, mut b) = (vec![0.0f32; POINTS * cols], vec![0.0f32; POINTS * cols]);
            input_channel(&x, &g, 0, g.batch, c, &mut a);
            transform_input_channel(&x, &g, 0, g.batch, c, &mut b);
            assert_eq!(bits(&a), bits(&b), "input transform, channel {c}");
        }
        let m = values(POINTS * g.cout * cols, 41);
        for index in 0..g.batch * g.cout {
            let (mut a, mut b) = (vec![MaybeUninit::new(0.0f32); oh * ow], vec![MaybeUninit::new(0.0f32); oh * ow]);
            output_plane(&m, &g, g.batch, index, &mut a);
            transform_output_plane(&m, &g, g.batch, index, &mut b);
            // SAFETY: initialised above.
            let (a, b): (Vec<f32>, Vec<f32>) =
                (a.iter().map(|v| unsafe { v.assume_init() }).collect(), b.iter().map(|v| unsafe { v.assume_init() }).collect());
            assert_eq!(bits(&a), bits(&b), "output transform, plane {index}");
        }
        let dy = values(g.batch * g.cout * oh * ow, 42);
        for image in 0..g.batch {
            let (mut a, mut b) = (vec![0.0f32; POINTS * tiles * g.cout], vec![0.0f32; POINTS * tiles * g.cout]);
            let mut blocks_a: Vec<&mut [f32]> = a.chunks_mut(tiles * g.cout).collect();
            let mut blocks_b: Vec<&mut [f32]> = b.chunks_mut(tiles * g.cout).collect();
            gradient_image(&dy, &g, image, &mut blocks_a);
            transform_gradient_image(&dy, &g, image, &mut blocks_b);
            assert_eq!(bits(&a), bits(&b), "output-gradient transform, image {image}");
        }
    }

    #[test]
    fn winograd_matches_the_loops() {
        let c = 64;
        let shapes = [
            // Odd sizes (a partial last tile row and column), every padding, more output
            // than input channels, a batch in two groups of GROUP_TILES tiles (128 + 2 images
            // of 8 tiles), rows of more than one run of tiles (34 tiles, the last one half
            // outside), 256 channels with rows of 8.
            ConvGeometry { batch: 2, cin: c, cout: c + 3, height: 5, width: 17, kernel: 3, stride: 1, pad: 1 },
            ConvGeometry { batch: 1, cin: c + 1, cout: c, height: 6, width: 19, kernel: 3, stride: 1, pad: 0 },
            ConvGeometry { batch: 2, cin: c, cout: c, height: 3, width: 15, kernel: 3, stride: 1, pad: 2 },
            ConvGeometry { batch: 130, cin: c, cout: c, height: 1, width: 16, kernel: 3, stride: 1, pad: 1 },
            ConvGeometry { batch: 1, cin: c, cout: c, height: 3, width: 67, kernel: 3, stride: 1, pad: 1 },
            ConvGeometry { batch: 2, cin: 256, cout: 256, height: 3, width: 8, kernel: 3, stride: 1, pad: 1 },
            // Few channels, where the plan does not choose it but the functions compute it.
            ConvGeometry { batch: 3, cin: 3, cout: 5, height: 7, width: 9, kernel: 3, stride: 1, pad: 1 },
        ];
        for (i, g) in shapes.into_iter().enumerate() {
            assert!(computes(&g), "{g:?}");
            let mut x = values(g.batch * g.cin * g.height * g.width, 10 + i as u64);
            let w = values(g.cout * g.cin * 9, 20 + i as u64);
            let dy = values(g.batch * g.cout * g.out_height() * g.out_width(), 30 + i as u64);
            assert_close(&conv2d_weight_grad(&x, &dy, &g), &conv2d_weight_grad_reference(&x, &dy, &g), &format!("{g:?} dw"));
            if i == 0 {
                x[5] = f32::NAN;
            }
            assert_close(&conv2d_forward(&x, &w, &g), &conv2d_forward_reference(&x, &w, &g), &format!("{g:?} forward"));
        }
    }
}
