//! The residual blocks' closing `relu(a + b)` on the CPU backend (`cpu::residual`: one
//! operation of burn's autodiff) against burn's `relu(a + b)`: the output and both operands'
//! gradients through `backward()`, bit for bit (the same f32 sum, the same mask), with one
//! or both operands untracked, a transposed operand, `x + x`, NaN and values at 0; without
//! autodiff it is burn's.

use crate::common::*;
use ring_wgpu_core::burn::tensor::activation::relu;
use ring_wgpu_core::burn::tensor::{Device, Distribution, Tensor, TensorData};
use ring_wgpu_core::cpu::residual;

/// Output and the gradients of a and b (empty where untracked) of `op(a, b)` weighted by `g`.
fn run(op: impl Fn(Tensor<4>, Tensor<4>) -> Tensor<4>, a: &Tensor<4>, b: &Tensor<4>, g: &Tensor<4>, track_b: bool) -> [Vec<f32>; 3] {
    let a = a.clone().autodiff().require_grad();
    let b = if track_b { b.clone().autodiff().require_grad() } else { b.clone().autodiff() };
    let y = op(a.clone(), b.clone());
    let grads = (y.clone() * g.clone().autodiff()).sum().backward();
    let db = b.grad(&grads).map(read_f32).unwrap_or_default();
    [read_f32(y.without_autodiff()), read_f32(a.grad(&grads).expect("a's gradient")), db]
}

fn same_bits(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        assert!(a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()), "{what}[{i}]: {a} vs {b}");
    }
}

#[test]
fn add_relu_equals_burns_bit_for_bit() {
    let device = Device::flex();
    for (shape, track_b) in [([4, 16, 8, 8], true), ([3, 5, 7, 3], true), ([2, 3, 1, 1], false)] {
        let a = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device);
        let b = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device);
        let g = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device);
        let before = residual::calls();
        let ours = run(residual::add_relu, &a, &b, &g, track_b);
        assert_eq!(residual::calls(), before + 1, "our operation did not run");
        let burns = run(|a, b| relu(a + b), &a, &b, &g, track_b);
        for (i, what) in ["output", "da", "db"].iter().enumerate() {
            same_bits(&ours[i], &burns[i], &format!("{shape:?} {what}"));
        }
        assert_eq!(ours[2].is_empty(), !track_b);
    }
}

#[test]
fn transposed_repeated_and_untracked_operands_equal_burns() {
    let device = Device::flex();
    let a = Tensor::<4>::random([2, 3, 5, 5], Distribution::Normal(0.0, 1.0), &device);
    let b = Tensor::<4>::random([2, 3, 5, 5], Distribution::Normal(0.0, 1.0), &device);
    let g = Tensor::<4>::random([2, 3, 5, 5], Distribution::Normal(0.0, 1.0), &device);
    // A transposed (non-contiguous) operand.
    let at = a.clone().swap_dims(2, 3);
    let ours = run(residual::add_relu, &at, &b, &g, true);
    let burns = run(|a, b| relu(a + b), &at, &b, &g, true);
    for (i, what) in ["output", "da", "db"].iter().enumerate() {
        same_bits(&ours[i], &burns[i], &format!("transposed a: {what}"));
    }
    // x + x: both gradients land on one tensor.
    let x = a.clone().autodiff().require_grad();
    let grads = (residual::add_relu(x.clone(), x.clone()) * g.clone().autodiff()).sum().backward();
    let ours = read_f32(x.grad(&grads).expect("x's gradient"));
    let grads = (relu(x.clone() + x.clone()) * g.clone().autodiff()).sum().backward();
    same_bits(&ours, &read_f32(x.grad(&grads).expect("x's gradient")), "x + x: dx");
    // Neither operand tracked: burn's output, no gradient.
    let (a_plain, b_plain) = (a.clone().autodiff(), b.clone().autodiff());
    let y = residual::add_relu(a_plain.clone(), b_plain.clone());
    same_bits(&read_f32(y.without_autodiff()), &read_f32(relu(a + b)), "untracked: output");
}

#[test]
fn nan_passes_and_zero_clips_as_in_burn() {
    let device = Device::flex();
    let a = Tensor::<4>::from_data(TensorData::new(vec![f32::NAN, 1.0, -1.0, 0.5, 0.0, 2.0], [1, 1, 2, 3]), &device);
    let b = Tensor::<4>::from_data(TensorData::new(vec![0.0, -1.0, 0.5, 0.25, 0.0, -3.0], [1, 1, 2, 3]), &device);
    let g = Tensor::<4>::from_data(TensorData::new(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [1, 1, 2, 3]), &device);
    let ours = run(residual::add_relu, &a, &b, &g, true);
    let burns = run(|a, b| relu(a + b), &a, &b, &g, true);
    for (i, what) in ["output", "da", "db"].iter().enumerate() {
        same_bits(&ours[i], &burns[i], what);
    }
    assert_eq!(ours[1], vec![1.0, 0.0, 0.0, 4.0, 0.0, 0.0]);
}

#[test]
fn without_autodiff_it_is_burns() {
    let device = Device::flex();
    let a = Tensor::<4>::random([2, 3, 4, 4], Distribution::Normal(0.0, 1.0), &device);
    let b = Tensor::<4>::random([2, 3, 4, 4], Distribution::Normal(0.0, 1.0), &device);
    let before = residual::calls();
    same_bits(&read_f32(residual::add_relu(a.clone(), b.clone())), &read_f32(relu(a + b)), "output");
    assert_eq!(residual::calls(), before);
}
