//! Batch normalisation in training mode on host slices (f32, NCHW): the forward pass
//! (batch statistics, normalise, scale and shift) and its gradients, each in two passes
//! over the data (per-channel sums, then one element-wise pass), channels and images in
//! parallel; the same with a ReLU after it (`batch_norm_relu_*`: the ReLU inside the
//! element-wise pass, its mask inside the gradient's passes, instead of a pass and an
//! allocation of its own each way); and the plain loops they are tested against
//! (`*_reference`).

use crate::activation::{relu, relu_gate};
use crate::buffers::{unwritten, written};
use crate::parallel::{map_indices, per_image};

/// Shape of one batch norm: `batch` x `channels` x `plane` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NormGeometry {
    /// Images.
    pub batch: usize,
    /// Channels.
    pub channels: usize,
    /// Values per channel and image (H x W).
    pub plane: usize,
}

/// Per-channel statistics and the normalised output.
#[derive(Debug, Clone, PartialEq)]
pub struct NormForward {
    /// gamma (x - mean) / sqrt(var + eps) + beta, same layout as x.
    pub output: Vec<f32>,
    /// Batch mean per channel.
    pub mean: Vec<f32>,
    /// Biased (population) batch variance per channel, without eps.
    pub variance: Vec<f32>,
}

/// Gradients of the loss with respect to x, gamma and beta.
#[derive(Debug, Clone, PartialEq)]
pub struct NormBackward {
    /// dL/dx, same layout as x.
    pub x: Vec<f32>,
    /// dL/dgamma per channel.
    pub gamma: Vec<f32>,
    /// dL/dbeta per channel.
    pub beta: Vec<f32>,
}

/// The values of channel `c` of every image, image by image.
fn runs<'a>(data: &'a [f32], g: &NormGeometry, c: usize) -> impl Iterator<Item = &'a [f32]> + 'a {
    let (channels, plane) = (g.channels, g.plane);
    (0..g.batch).map(move |b| &data[(b * channels + c) * plane..][..plane])
}

/// Independent partial sums per run: a sequential f64 sum waits on each addition (about
/// 4 cycles a value); 8 lanes let the compiler keep a SIMD register of them. The lanes are
/// added in a fixed order, so results stay deterministic.
const LANES: usize = 8;

/// `sum f(v)` over `values` in f64, in [`LANES`] interleaved partial sums.
fn lane_sum(values: &[f32], f: impl Fn(f64) -> f64) -> f64 {
    let mut lanes = [0.0f64; LANES];
    let chunks = values.chunks_exact(LANES);
    let tail = chunks.remainder();
    for chunk in chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane += f(v as f64);
        }
    }
    lanes.iter().sum::<f64>() + tail.iter().map(|&v| f(v as f64)).sum::<f64>()
}

/// `(sum f(a, b), sum h(a, b))` over paired values in f64, in [`LANES`] interleaved partial sums.
fn lane_sum_pair(a: &[f32], b: &[f32], f: impl Fn(f64, f64) -> (f64, f64)) -> (f64, f64) {
    let (mut first, mut second) = ([0.0f64; LANES], [0.0f64; LANES]);
    let (chunks_a, chunks_b) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (tail_a, tail_b) = (chunks_a.remainder(), chunks_b.remainder());
    for (ca, cb) in chunks_a.zip(chunks_b) {
        for i in 0..LANES {
            let (p, q) = f(ca[i] as f64, cb[i] as f64);
            first[i] += p;
            second[i] += q;
        }
    }
    let (mut p, mut q) = (first.iter().sum::<f64>(), second.iter().sum::<f64>());
    for (&x, &y) in tail_a.iter().zip(tail_b) {
        let (dp, dq) = f(x as f64, y as f64);
        p += dp;
        q += dq;
    }
    (p, q)
}

/// Training-mode batch norm of `x` with per-channel `gamma` and `beta`.
pub fn batch_norm_train(x: &[f32], gamma: &[f32], beta: &[f32], epsilon: f64, g: &NormGeometry) -> NormForward {
    forward::<false>(x, gamma, beta, epsilon, g)
}

/// [`batch_norm_train`] followed by a ReLU (`output = relu(bn(x))`; mean and variance are
/// the batch norm's). A NaN stays NaN, as in burn's `relu`.
pub fn batch_norm_relu_train(x: &[f32], gamma: &[f32], beta: &[f32], epsilon: f64, g: &NormGeometry) -> NormForward {
    forward::<true>(x, gamma, beta, epsilon, g)
}

fn forward<const RELU: bool>(x: &[f32], gamma: &[f32], beta: &[f32], epsilon: f64, g: &NormGeometry) -> NormForward {
    let count = (g.batch * g.plane) as f64;
    let stats: Vec<(f64, f64)> = map_indices(g.channels, |c| {
        let mean = runs(x, g, c).map(|r| lane_sum(r, |v| v)).sum::<f64>() / count;
        let var = runs(x, g, c).map(|r| lane_sum(r, |v| (v - mean) * (v - mean))).sum::<f64>() / count;
        (mean, var)
    });
    // y = (x - mean) scale + beta per channel (centred first: no cancellation when the
    // variance is tiny and the scale large).
    let affine: Vec<(f32, f32, f32)> = stats
        .iter()
        .enumerate()
        .map(|(c, &(mean, var))| (mean as f32, (gamma[c] as f64 / (var + epsilon).sqrt()) as f32, beta[c]))
        .collect();
    let mut output = unwritten(x.len());
    per_image(&mut output, g.channels * g.plane, |b, out| {
        for (c, &(mean, scale, shift)) in affine.iter().enumerate() {
            let src = &x[(b * g.channels + c) * g.plane..][..g.plane];
            for (o, &v) in out[c * g.plane..][..g.plane].iter_mut().zip(src) {
                let y = (v - mean) * scale + shift;
                o.write(if RELU { relu(y) } else { y });
            }
        }
    });
    // SAFETY: every image's channels were written above (no zero-filling first: a pass over
    // memory as large as the activations).
    let output = unsafe { written(output) };
    NormForward { output, mean: stats.iter().map(|s| s.0 as f32).collect(), variance: stats.iter().map(|s| s.1 as f32).collect() }
}

/// Gradients of [`batch_norm_train`] given `dy`, with the statistics it returned.
pub fn batch_norm_train_backward(
    x: &[f32],
    gamma: &[f32],
    mean: &[f32],
    variance: &[f32],
    epsilon: f64,
    dy: &[f32],
    g: &NormGeometry,
) -> NormBackward {
    // Without the ReLU the output is never read: dy stands in for it.
    backward::<false>(x, gamma, mean, variance, epsilon, dy, dy, g)
}

/// Gradients of [`batch_norm_relu_train`] given `dy` (the gradient of its output), with the
/// statistics and the `output` it returned: [`batch_norm_train_backward`] of `dy` where the
/// output is positive or NaN and 0 elsewhere (burn's `relu_backward`).
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_relu_train_backward(
    x: &[f32],
    gamma: &[f32],
    mean: &[f32],
    variance: &[f32],
    epsilon: f64,
    output: &[f32],
    dy: &[f32],
    g: &NormGeometry,
) -> NormBackward {
    assert_eq!(output.len(), x.len(), "the batch norm's output and its input differ in length");
    backward::<true>(x, gamma, mean, variance, epsilon, output, dy, g)
}

/// The batch norm's gradients; with `RELU`, of `dy` gated by the ReLU's `output` (read only
/// then).
#[allow(clippy::too_many_arguments)]
fn backward<const RELU: bool>(
    x: &[f32],
    gamma: &[f32],
    mean: &[f32],
    variance: &[f32],
    epsilon: f64,
    output: &[f32],
    dy: &[f32],
    g: &NormGeometry,
) -> NormBackward {
    let gate = |d: f32, y: f32| if RELU { relu_gate(y, d) } else { d };
    let count = (g.batch * g.plane) as f64;
    let inv_std: Vec<f64> = variance.iter().map(|&v| 1.0 / (v as f64 + epsilon).sqrt()).collect();
    // Per channel: sum dy (dbeta) and sum dy * xhat (dgamma).
    let sums: Vec<(f64, f64)> = map_indices(g.channels, |c| {
        let (m, s) = (mean[c] as f64, inv_std[c]);
        // With the ReLU, each run's dy gated into a scratch run first.
        let mut gated = vec![0.0f32; if RELU { g.plane } else { 0 }];
        runs(dy, g, c).zip(runs(output, g, c)).zip(runs(x, g, c)).fold((0.0, 0.0), |(a, b), ((d, y), v)| {
            let d = if RELU {
                for ((o, &d), &y) in gated.iter_mut().zip(d).zip(y) {
                    *o = relu_gate(y, d);
                }
                &gated[..]
            } else {
                d
            };
            let (da, db) = lane_sum_pair(d, v, |d, v| (d, d * (v - m) * s));
            (a + da, b + db)
        })
    });
    // dx = gamma inv_std (dy - mean(dy) - xhat mean(dy xhat)), xhat = (x - mean) inv_std:
    // per channel (dy - a - (x - m) q) k.
    let coefficients: Vec<(f32, f32, f32, f32)> = (0..g.channels)
        .map(|c| {
            let s = inv_std[c];
            let (mean_dy, mean_dy_xhat) = (sums[c].0 / count, sums[c].1 / count);
            ((gamma[c] as f64 * s) as f32, mean_dy as f32, mean[c], (s * mean_dy_xhat) as f32)
        })
        .collect();
    let mut dx = unwritten(x.len());
    per_image(&mut dx, g.channels * g.plane, |b, out| {
        for (c, &(k, a, m, q)) in coefficients.iter().enumerate() {
            let at = (b * g.channels + c) * g.plane;
            let (d, y, v) = (&dy[at..][..g.plane], &output[at..][..g.plane], &x[at..][..g.plane]);
            for (((o, &d), &y), &v) in out[c * g.plane..][..g.plane].iter_mut().zip(d).zip(y).zip(v) {
                o.write((gate(d, y) - a - (v - m) * q) * k);
            }
        }
    });
    // SAFETY: every image's channels were written above.
    let dx = unsafe { written(dx) };
    NormBackward { x: dx, gamma: sums.iter().map(|s| s.1 as f32).collect(), beta: sums.iter().map(|s| s.0 as f32).collect() }
}

/// Plain loops of [`batch_norm_train`] (f64 throughout).
pub fn batch_norm_train_reference(x: &[f32], gamma: &[f32], beta: &[f32], epsilon: f64, g: &NormGeometry) -> NormForward {
    let n = (g.batch * g.plane) as f64;
    let at = |b: usize, c: usize, p: usize| (b * g.channels + c) * g.plane + p;
    let mut out = NormForward { output: vec![0.0; x.len()], mean: vec![], variance: vec![] };
    for c in 0..g.channels {
        let mut mean = 0.0f64;
        for b in 0..g.batch {
            for p in 0..g.plane {
                mean += x[at(b, c, p)] as f64 / n;
            }
        }
        let mut var = 0.0f64;
        for b in 0..g.batch {
            for p in 0..g.plane {
                var += (x[at(b, c, p)] as f64 - mean).powi(2) / n;
            }
        }
        for b in 0..g.batch {
            for p in 0..g.plane {
                let xhat = (x[at(b, c, p)] as f64 - mean) / (var + epsilon).sqrt();
                out.output[at(b, c, p)] = (gamma[c] as f64 * xhat + beta[c] as f64) as f32;
            }
        }
        out.mean.push(mean as f32);
        out.variance.push(var as f32);
    }
    out
}

/// Plain loops of [`batch_norm_relu_train`]: [`batch_norm_train_reference`], then burn's ReLU.
pub fn batch_norm_relu_train_reference(x: &[f32], gamma: &[f32], beta: &[f32], epsilon: f64, g: &NormGeometry) -> NormForward {
    let mut out = batch_norm_train_reference(x, gamma, beta, epsilon, g);
    out.output = crate::activation::relu_reference(&out.output);
    out
}

/// Plain loops of [`batch_norm_relu_train_backward`]: `dy` zeroed where `output` is neither
/// positive nor NaN, then [`batch_norm_train_backward_reference`].
pub fn batch_norm_relu_train_backward_reference(
    x: &[f32],
    gamma: &[f32],
    epsilon: f64,
    output: &[f32],
    dy: &[f32],
    g: &NormGeometry,
) -> NormBackward {
    batch_norm_train_backward_reference(x, gamma, epsilon, &crate::activation::relu_backward_reference(output, dy), g)
}

/// Plain loops of [`batch_norm_train_backward`] (f64; statistics recomputed from x).
pub fn batch_norm_train_backward_reference(x: &[f32], gamma: &[f32], epsilon: f64, dy: &[f32], g: &NormGeometry) -> NormBackward {
    let n = (g.batch * g.plane) as f64;
    let at = |b: usize, c: usize, p: usize| (b * g.channels + c) * g.plane + p;
    let mut out = NormBackward { x: vec![0.0; x.len()], gamma: vec![], beta: vec![] };
    for c in 0..g.channels {
        let (mut mean, mut var) = (0.0f64, 0.0f64);
        for b in 0..g.batch {
            for p in 0..g.plane {
                mean += x[at(b, c, p)] as f64 / n;
            }
        }
        for b in 0..g.batch {
            for p in 0..g.plane {
                var += (x[at(b, c, p)] as f64 - mean).powi(2) / n;
            }
        }
        let s = 1.0 / (var + epsilon).sqrt();
        let (mut sum_dy, mut sum_dy_xhat) = (0.0f64, 0.0f64);
        for b in 0..g.batch {
            for p in 0..g.plane {
                sum_dy += dy[at(b, c, p)] as f64;
                sum_dy_xhat += dy[at(b, c, p)] as f64 * (x[at(b, c, p)] as f64 - mean) * s;
            }
        }
        for b in 0..g.batch {
            for p in 0..g.plane {
                let xhat = (x[at(b, c, p)] as f64 - mean) * s;
                out.x[at(b, c, p)] = (gamma[c] as f64 * s * (dy[at(b, c, p)] as f64 - sum_dy / n - xhat * sum_dy_xhat / n)) as f32;
            }
        }
        out.gamma.push(sum_dy_xhat as f32);
        out.beta.push(sum_dy as f32);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Test values in [-2, 2) + offset.
    fn values(n: usize, seed: u64, offset: f32) -> Vec<f32> {
        crate::testing::test_values(n, seed).into_iter().map(|v| v * 2.0 + offset).collect()
    }

    fn close(got: &[f32], want: &[f32], tolerance: f32, what: &str) {
        assert_eq!(got.len(), want.len(), "{what}");
        let scale = want.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        for (i, (a, b)) in got.iter().zip(want).enumerate() {
            assert!((a - b).abs() <= tolerance * scale, "{what}[{i}]: {a} vs {b}");
        }
    }

    #[test]
    fn lane_sums_match_plain_sums_on_every_tail_length() {
        for n in [0, 1, 7, 8, 9, 16, 17, 1000] {
            let a = values(n, 40 + n as u64, 3.0);
            let b = values(n, 41 + n as u64, 0.0);
            let plain: f64 = a.iter().map(|&v| v as f64 * v as f64).sum();
            assert!((lane_sum(&a, |v| v * v) - plain).abs() <= 1e-12 * plain.abs().max(1.0), "n {n}");
            let (p, q) = lane_sum_pair(&a, &b, |x, y| (x, x * y));
            let (plain_p, plain_q) = a.iter().zip(&b).fold((0.0f64, 0.0f64), |(p, q), (&x, &y)| (p + x as f64, q + x as f64 * y as f64));
            assert!(
                (p - plain_p).abs() <= 1e-12 * plain_p.abs().max(1.0) && (q - plain_q).abs() <= 1e-12 * plain_q.abs().max(1.0),
                "n {n}"
            );
        }
        assert!(lane_sum(&[1.0, f32::NAN, 2.0], |v| v).is_nan());
    }

    /// Odd planes and channel counts, one image, a plane of one value.
    const SHAPES: [NormGeometry; 4] = [
        NormGeometry { batch: 3, channels: 5, plane: 7 },
        NormGeometry { batch: 1, channels: 2, plane: 33 },
        NormGeometry { batch: 4, channels: 3, plane: 1 },
        NormGeometry { batch: 2, channels: 16, plane: 64 },
    ];

    #[test]
    fn forward_and_gradients_match_the_loops() {
        // An offset mean.
        for (i, g) in SHAPES.into_iter().enumerate() {
            let n = g.batch * g.channels * g.plane;
            let x = values(n, 1 + i as u64, 3.0);
            let (gamma, beta) = (values(g.channels, 10 + i as u64, 1.0), values(g.channels, 20 + i as u64, 0.0));
            let dy = values(n, 30 + i as u64, 0.0);
            let (got, want) = (batch_norm_train(&x, &gamma, &beta, 1e-5, &g), batch_norm_train_reference(&x, &gamma, &beta, 1e-5, &g));
            close(&got.output, &want.output, 1e-5, "output");
            close(&got.mean, &want.mean, 1e-6, "mean");
            close(&got.variance, &want.variance, 1e-6, "variance");
            let got = batch_norm_train_backward(&x, &gamma, &got.mean, &got.variance, 1e-5, &dy, &g);
            let want = batch_norm_train_backward_reference(&x, &gamma, 1e-5, &dy, &g);
            close(&got.x, &want.x, 1e-4, &format!("{g:?} dx"));
            close(&got.gamma, &want.gamma, 1e-5, "dgamma");
            close(&got.beta, &want.beta, 1e-5, "dbeta");
        }
    }

    #[test]
    fn with_a_relu_forward_and_gradients_match_the_loops() {
        for (i, g) in SHAPES.into_iter().enumerate() {
            let n = g.batch * g.channels * g.plane;
            let x = values(n, 50 + i as u64, -1.0);
            // gamma in [1, 2), beta in [-0.5, 0.5): part of every channel's outputs clipped.
            let gamma: Vec<f32> = values(g.channels, 60 + i as u64, 0.0).iter().map(|v| 1.5 + v / 4.0).collect();
            let beta: Vec<f32> = values(g.channels, 70 + i as u64, 0.0).iter().map(|v| v / 4.0).collect();
            let dy = values(n, 80 + i as u64, 0.0);
            let got = batch_norm_relu_train(&x, &gamma, &beta, 1e-5, &g);
            let want = batch_norm_relu_train_reference(&x, &gamma, &beta, 1e-5, &g);
            close(&got.output, &want.output, 1e-5, "output");
            close(&got.mean, &want.mean, 1e-6, "mean");
            close(&got.variance, &want.variance, 1e-6, "variance");
            let clipped = got.output.iter().filter(|&&v| v == 0.0).count();
            assert!(clipped > 0 && clipped < n || n < 8, "{g:?}: {clipped} of {n} clipped");
            // The plain batch norm's output, clipped, is the fused one, bit for bit.
            let plain = batch_norm_train(&x, &gamma, &beta, 1e-5, &g);
            assert!(plain.output.iter().zip(&got.output).all(|(&p, &r)| relu(p) == r), "{g:?}");
            let back = batch_norm_relu_train_backward(&x, &gamma, &got.mean, &got.variance, 1e-5, &got.output, &dy, &g);
            let want = batch_norm_relu_train_backward_reference(&x, &gamma, 1e-5, &got.output, &dy, &g);
            close(&back.x, &want.x, 1e-4, &format!("{g:?} dx"));
            close(&back.gamma, &want.gamma, 1e-5, "dgamma");
            close(&back.beta, &want.beta, 1e-5, "dbeta");
        }
    }

    #[test]
    fn with_a_relu_zero_outputs_pass_no_gradient_and_nan_stays_nan() {
        // Channel 0 constant with beta 0: every output exactly 0, so nothing flows back.
        // Channel 1 holds a NaN: its outputs are NaN (not clipped to 0) and pass the gradient.
        let g = NormGeometry { batch: 2, channels: 2, plane: 2 };
        let x = [0.5, 0.5, 1.0, f32::NAN, 0.5, 0.5, 2.0, 3.0];
        let out = batch_norm_relu_train(&x, &[2.0, 1.0], &[0.0, 0.0], 1e-5, &g);
        assert_eq!([out.output[0], out.output[1], out.output[4], out.output[5]], [0.0; 4]);
        assert!([2, 3, 6, 7].iter().all(|&i| out.output[i].is_nan()), "{:?}", out.output);
        let dy = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
        let back = batch_norm_relu_train_backward(&x, &[2.0, 1.0], &out.mean, &out.variance, 1e-5, &out.output, &dy, &g);
        assert_eq!((back.gamma[0], back.beta[0]), (0.0, 0.0));
        assert_eq!([back.x[0], back.x[1], back.x[4], back.x[5]], [0.0; 4]);
        assert_eq!(back.beta[1], 3.0 + 4.0 + 7.0 + 8.0, "a NaN output passes dy on to beta");
        assert!(back.gamma[1].is_nan() && [2, 3, 6, 7].iter().all(|&i| back.x[i].is_nan()));
    }

    #[test]
    fn a_constant_channel_normalises_to_beta_and_passes_no_gradient_to_x_beyond_eps() {
        let g = NormGeometry { batch: 2, channels: 1, plane: 3 };
        let x = vec![0.5f32; 6];
        let out = batch_norm_train(&x, &[2.0], &[0.25], 1e-5, &g);
        assert!(out.output.iter().all(|&v| (v - 0.25).abs() < 1e-6), "{:?}", out.output);
        assert_eq!(out.variance, vec![0.0]);
        let back = batch_norm_train_backward(&x, &[2.0], &out.mean, &out.variance, 1e-5, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &g);
        let sum: f32 = back.x.iter().sum();
        assert!(sum.abs() < 1e-3, "the input gradient of a batch norm sums to zero per channel: {sum}");
    }
}
