//! The f64 references every convolution algorithm is tested against: plain loops over every
//! product of the convolution, summed in f64 and rounded once.

use super::ConvGeometry;

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

/// Plain loops of [`super::conv2d_forward`] (f64 sums).
pub fn conv2d_forward_reference(x: &[f32], w: &[f32], g: &ConvGeometry) -> Vec<f32> {
    let mut y = vec![0.0f64; g.batch * g.output_len()];
    for_each_product(g, |xi, wi, yi| y[yi] += x[xi] as f64 * w[wi] as f64);
    to_f32(y)
}

/// Plain loops of [`super::conv2d_input_grad`] (f64 sums).
pub fn conv2d_input_grad_reference(dy: &[f32], w: &[f32], g: &ConvGeometry) -> Vec<f32> {
    let mut dx = vec![0.0f64; g.batch * g.input_len()];
    for_each_product(g, |xi, wi, yi| dx[xi] += dy[yi] as f64 * w[wi] as f64);
    to_f32(dx)
}

/// Plain loops of [`super::conv2d_weight_grad`] (f64 sums).
pub fn conv2d_weight_grad_reference(x: &[f32], dy: &[f32], g: &ConvGeometry) -> Vec<f32> {
    let mut dw = vec![0.0f64; g.cout * g.col_rows()];
    for_each_product(g, |xi, wi, yi| dw[wi] += dy[yi] as f64 * x[xi] as f64);
    to_f32(dw)
}

/// Asserts `got` is within `8e-5` of `want` relative to `want`'s largest finite magnitude
/// (at least 1), the tolerance every algorithm meets (f32 GEMM or transform sums against f64
/// loop sums over up to Cin k k x OH OW terms), and NaN wherever `want` is NaN.
#[cfg(test)]
pub(super) fn assert_close(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    let scale = want.iter().filter(|v| v.is_finite()).fold(1.0f32, |m, v| m.max(v.abs()));
    for (k, (a, b)) in got.iter().zip(want).enumerate() {
        if b.is_nan() {
            assert!(a.is_nan(), "{what} [{k}]: {a} vs NaN");
            continue;
        }
        assert!((a - b).abs() <= 1e-5 * scale * 8.0, "{what} [{k}]: {a} vs {b} (scale {scale})");
    }
}
