//! The encoders' 2-D convolutions on host slices (f32, NCHW, one group, no dilation, square
//! kernels, symmetric zero padding): [`conv2d_forward`], [`conv2d_input_grad`] and
//! [`conv2d_weight_grad`]. `ring_wgpu_core::cpu::conv` registers them with burn's autodiff
//! on its CPU backend.
//!
//! [`plan`] chooses the algorithm of each pass from the geometry and the CPU's features; the
//! algorithms are [`gemm`] (im2col + packed GEMM per image, any geometry), [`winograd`]
//! (F(2x2, 3x3)), [`winograd4`] (F(4x4, 3x3), forward only), [`direct`] (AVX-512, rows of
//! 32+ outputs), [`direct_small`] (AVX-512, vectorised across output channels: small images
//! and stride 2) and [`strided_input_grad`] (AVX-512, stride-2 input gradients by phases),
//! sharing [`transpose`]; each is tested against the f64 loops of [`reference`](mod@reference).

pub mod direct;
pub mod direct_small;
pub mod gemm;
mod geometry;
pub mod plan;
pub mod reference;
pub mod strided_input_grad;
pub mod transpose;
pub mod winograd;
pub mod winograd4;

pub use geometry::ConvGeometry;
pub use plan::{CpuFeatures, Plan};
pub use reference::{conv2d_forward_reference, conv2d_input_grad_reference, conv2d_weight_grad_reference};

use crate::parallel::per_image;
use plan::{Forward, InputGrad, WeightGrad};

/// `y = conv(x, w)`: x is B x Cin x H x W, w is Cout x Cin x k x k; returns B x Cout x OH x OW,
/// by the algorithm [`plan::forward`] chooses on this CPU.
pub fn conv2d_forward(x: &[f32], w: &[f32], g: &ConvGeometry) -> Vec<f32> {
    forward_by(plan::forward(g, CpuFeatures::detected()), x, w, g)
}

/// `dL/dx` (B x Cin x H x W) from `dy` (B x Cout x OH x OW) and w, by the algorithm
/// [`plan::input_grad`] chooses on this CPU.
pub fn conv2d_input_grad(dy: &[f32], w: &[f32], g: &ConvGeometry) -> Vec<f32> {
    match plan::input_grad(g, CpuFeatures::detected()) {
        InputGrad::ForwardOfDy(algorithm) => {
            let transposed = plan::transposed(g).expect("the plan takes only stride-1 layers as forward passes of dy");
            forward_by(algorithm, dy, &flipped_kernels(w, g), &transposed)
        }
        InputGrad::StridedPhases => strided_input_grad::conv2d_input_grad(dy, w, g),
        InputGrad::Gemm => gemm::conv2d_input_grad(dy, w, g),
    }
}

/// `dL/dw` (Cout x Cin x k x k) from x and dy, by the algorithm [`plan::weight_grad`]
/// chooses on this CPU.
pub fn conv2d_weight_grad(x: &[f32], dy: &[f32], g: &ConvGeometry) -> Vec<f32> {
    match plan::weight_grad(g, CpuFeatures::detected()) {
        WeightGrad::Winograd => winograd::conv2d_weight_grad(x, dy, g),
        WeightGrad::Direct => direct::conv2d_weight_grad(x, dy, g),
        WeightGrad::DirectSmall => direct_small::conv2d_weight_grad(x, dy, g),
        WeightGrad::Gemm => gemm::conv2d_weight_grad(x, dy, g),
    }
}

fn forward_by(algorithm: Forward, x: &[f32], w: &[f32], g: &ConvGeometry) -> Vec<f32> {
    match algorithm {
        Forward::Winograd4 => winograd4::conv2d_forward(x, w, g),
        Forward::Winograd => winograd::conv2d_forward(x, w, g),
        Forward::Direct => direct::conv2d_forward(x, w, g),
        Forward::DirectSmall => direct_small::conv2d_forward(x, w, g),
        Forward::Gemm => gemm::conv2d_forward(x, w, g),
    }
}

/// The kernels of the input gradient as a forward convolution of dy:
/// `flipped[ci][co][ky][kx] = w[co][ci][k-1-ky][k-1-kx]`, each input channel's row written in
/// order, its taps read k k at a time (ResNet-18's 512 x 512 x 3 x 3: 4-5 ms single-threaded
/// in the scattered order).
fn flipped_kernels(w: &[f32], g: &ConvGeometry) -> Vec<f32> {
    let taps = g.kernel * g.kernel;
    let mut flipped = vec![0.0f32; w.len()];
    per_image(&mut flipped, g.cout * taps, |ci, row| {
        for (co, dst) in row.chunks_exact_mut(taps).enumerate() {
            let src = &w[(co * g.cin + ci) * taps..][..taps];
            dst.iter_mut().zip(src.iter().rev()).for_each(|(d, s)| *d = *s);
        }
    });
    flipped
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::test_values as values;
    use reference::assert_close;

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
}
