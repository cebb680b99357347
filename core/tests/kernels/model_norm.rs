//! The GPU's batch norm in training mode through our WGSL kernels (`model::batch_norm_wgsl`,
//! `RING_WGPU_GPU_NORM=wgsl`) against the f64 loop references of `cpu::norm::kernels`: the
//! output, the batch statistics as the running statistics take them, and the gradients of x,
//! gamma and beta through burn's autodiff; on the encoders' kinds of shape and odd ones (one
//! value per channel, more channels than a workgroup has invocations, a plane of one, a
//! large mean against a small spread), and NaN exactly where the references have it.

use crate::common::*;
use ring_wgpu_core::burn::module::Param;
use ring_wgpu_core::burn::nn::{BatchNorm, BatchNormConfig};
use ring_wgpu_core::burn::tensor::{Device, Tensor, TensorData};
use ring_wgpu_core::cpu::norm::NormGeometry;
use ring_wgpu_core::cpu::norm::kernels::{batch_norm_train_backward_reference, batch_norm_train_reference};
use ring_wgpu_core::model::batch_norm_wgsl;

/// One training step of a batch norm with `gamma`, `beta` on `x`, `L = sum(y * dy)`, checked
/// against the references: f32 sums over at most a few thousand values per channel (Welford
/// and a pairwise merge for the statistics), hence 1e-4 of the scale for the output and the
/// mean, 1e-3 of each variance, and 5e-4 of the scale for the gradients, which subtract two
/// such sums. With momentum 1 the running statistics are the batch's.
fn check(device: &Device, shape: [usize; 4], x: &[f32], gamma: &[f32], beta: &[f32], dy: &[f32], what: &str) {
    let [batch, channels, h, w] = shape;
    let g = NormGeometry { batch, channels, plane: h * w };
    let ad = device.clone().autodiff();
    let mut bn: BatchNorm = BatchNormConfig::new(channels).with_momentum(1.0).init(&ad);
    bn.gamma = Param::from_tensor(tensor(gamma, [channels], &ad).require_grad());
    bn.beta = Param::from_tensor(tensor(beta, [channels], &ad).require_grad());
    let xa = tensor(x, shape, &ad).require_grad();
    let y = batch_norm_wgsl(&bn, &xa).unwrap_or_else(|| panic!("{what}: the WGSL batch norm did not apply"));
    let grads = (y.clone() * tensor(dy, shape, &ad)).sum().backward();
    let want = batch_norm_train_reference(x, gamma, beta, bn.epsilon, &g);
    let back = batch_norm_train_backward_reference(x, gamma, bn.epsilon, dy, &g);
    assert_close_to_reference(&read_f32(y.without_autodiff()), &want.output, 1e-4, &format!("{what}: output"));
    assert_close_to_reference(&read_f32(xa.grad(&grads).unwrap()), &back.x, 5e-4, &format!("{what}: x gradient"));
    assert_close_to_reference(&read_f32(bn.gamma.val().grad(&grads).unwrap()), &back.gamma, 5e-4, &format!("{what}: gamma gradient"));
    assert_close_to_reference(&read_f32(bn.beta.val().grad(&grads).unwrap()), &back.beta, 5e-4, &format!("{what}: beta gradient"));
    assert_close_to_reference(&read_f32(bn.running_mean.value_sync().without_autodiff()), &want.mean, 1e-4, &format!("{what}: batch mean"));
    let variance = read_f32(bn.running_var.value_sync().without_autodiff());
    for (c, (got, want)) in variance.iter().zip(&want.variance).enumerate() {
        assert_eq!(got.is_nan(), want.is_nan(), "{what}: variance of channel {c} is {got}, the reference {want}");
        assert!(
            !(want.is_finite() && (got - want).abs() > 1e-3 * want + 1e-7),
            "{what}: variance of channel {c} is {got}, the reference {want}"
        );
    }
}

fn values(rng: &mut Rng, n: usize, centre: f32, spread: f32) -> Vec<f32> {
    (0..n).map(|_| centre + spread * (2.0 * rng.unit() - 1.0)).collect()
}

#[test]
fn the_wgsl_batch_norm_equals_the_references() {
    let Some(gpu) = gpu() else { return };
    let device = gpu.burn_device();
    let mut rng = Rng(20261204);
    // (shape, centre, spread): the encoders' kind, odd sizes, one value per channel (variance
    // 0), 300 channels (more than a workgroup's 256 invocations), a plane of one, and means
    // 20 and 2,000 times the spread, where a sum of squares would cancel and an f32 mean
    // subtracted from each value would carry its rounding (half an ulp of 100) into gamma's
    // gradient 10 times over the tolerance: the kernels centre on the channel's first value.
    let cases = [
        ([4, 8, 16, 16], 0.3, 2.0),
        ([3, 5, 7, 3], -1.0, 1.0),
        ([1, 3, 1, 1], 0.5, 1.0),
        ([2, 300, 2, 2], 0.0, 1.0),
        ([7, 4, 1, 1], 0.0, 3.0),
        ([2, 3, 33, 17], 10.0, 0.5),
        ([2, 3, 33, 17], 100.0, 0.05),
    ];
    for (shape, centre, spread) in cases {
        let [b, c, h, w] = shape;
        let n = b * c * h * w;
        let x = values(&mut rng, n, centre, spread);
        let gamma = values(&mut rng, c, 1.0, 0.5);
        let beta = values(&mut rng, c, 0.0, 0.5);
        let dy = values(&mut rng, n, 0.0, 1.0);
        check(device, shape, &x, &gamma, &beta, &dy, &format!("{b}x{c}x{h}x{w} around {centre} +- {spread}"));
    }
}

#[test]
fn a_nan_reaches_exactly_its_channel() {
    let Some(gpu) = gpu() else { return };
    let shape = [3, 4, 5, 5];
    let mut rng = Rng(11);
    let n = 3 * 4 * 25;
    let mut x = values(&mut rng, n, 0.0, 1.0);
    x[(4 + 2) * 25 + 7] = f32::NAN; // the second image, third channel
    let (gamma, beta, dy) = (values(&mut rng, 4, 1.0, 0.5), values(&mut rng, 4, 0.0, 0.5), values(&mut rng, n, 0.0, 1.0));
    check(gpu.burn_device(), shape, &x, &gamma, &beta, &dy, "NaN in channel 2");
}

#[test]
fn evaluation_and_the_cpu_backend_are_left_to_the_other_paths() {
    let x = Tensor::<4>::from_data(TensorData::new(vec![1.0f32; 2 * 3 * 4], [2, 3, 2, 2]), &Device::flex().autodiff());
    let bn: BatchNorm = BatchNormConfig::new(3).init(&Device::flex().autodiff());
    assert!(batch_norm_wgsl(&bn, &x).is_none(), "burn's CPU backend is not wgpu");
    let Some(gpu) = gpu() else { return };
    let plain = Tensor::<4>::from_data(TensorData::new(vec![1.0f32; 2 * 3 * 4], [2, 3, 2, 2]), gpu.burn_device());
    let bn: BatchNorm = BatchNormConfig::new(3).init(gpu.burn_device());
    assert!(batch_norm_wgsl(&bn, &plain).is_none(), "off the autodiff device the layer normalises with its running statistics");
}
