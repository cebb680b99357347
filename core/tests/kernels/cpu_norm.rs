//! The encoders' batch norm in training mode on the CPU backend (`cpu::norm`: fused
//! kernels registered with burn's autodiff) against burn's own `BatchNorm::forward`: the
//! output, the gradients of x, gamma and beta through `backward()`, and the running
//! statistics after two steps; the same with a ReLU fused in against the batch norm then
//! burn's `relu`; evaluation mode stays burn's. The kernels themselves are
//! checked against plain loops in `cpu::norm::kernels`.

use crate::common::*;
use ring_wgpu_core::burn::module::{Module, Param};
use ring_wgpu_core::burn::nn::{BatchNorm, BatchNormConfig};
use ring_wgpu_core::burn::tensor::activation::relu;
use ring_wgpu_core::burn::tensor::{Device, Distribution, Tensor};
use ring_wgpu_core::cpu::norm as cpu_norm;

fn assert_close(got: &[f32], want: &[f32], tolerance: f32, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    let scale = want.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    let worst = got.iter().zip(want).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(worst <= tolerance * scale, "{what}: max difference {worst} at scale {scale}");
}

/// Two training steps' outputs and gradients, and the running statistics after them.
fn run(norm: &impl Fn(&BatchNorm, Tensor<4>) -> Tensor<4>, xs: &[Tensor<4>], g: &Tensor<4>, channels: usize) -> Vec<Vec<f32>> {
    let ad = Device::flex().autodiff();
    let mut bn: BatchNorm = BatchNormConfig::new(channels).init(&ad);
    // Non-trivial gamma and beta.
    bn.gamma = Param::from_tensor(bn.gamma.val().mul_scalar(1.5).add_scalar(0.25).detach().require_grad());
    bn.beta = Param::from_tensor(bn.beta.val().add_scalar(-0.5).detach().require_grad());
    let mut out = Vec::new();
    for x in xs {
        let xa = x.clone().autodiff().require_grad();
        let y = norm(&bn, xa.clone());
        let grads = (y.clone() * g.clone().autodiff()).sum().backward();
        out.push(read_f32(y.without_autodiff()));
        out.push(read_f32(xa.grad(&grads).unwrap()));
        out.push(read_f32(bn.gamma.val().grad(&grads).unwrap()));
        out.push(read_f32(bn.beta.val().grad(&grads).unwrap()));
    }
    let valid = bn.valid();
    out.push(read_f32(valid.running_mean.value()));
    out.push(read_f32(valid.running_var.value()));
    out
}

/// `ours` (which must run our kernels) against `theirs` on three shapes, two steps each: the
/// outputs, every gradient and the running statistics within `tolerance` of their scale (0:
/// bit for bit).
/// Returns the first step's output of `ours` for each shape.
fn compare(
    ours: impl Fn(&BatchNorm, Tensor<4>) -> Tensor<4>,
    theirs: impl Fn(&BatchNorm, Tensor<4>) -> Tensor<4>,
    tolerance: f32,
) -> Vec<Vec<f32>> {
    let device = Device::flex();
    let mut outputs = Vec::new();
    for [b, c, h, w] in [[8, 16, 8, 8], [3, 5, 7, 3], [2, 3, 1, 1]] {
        let xs: Vec<Tensor<4>> = (0..2).map(|i| Tensor::<4>::random([b, c, h, w], Distribution::Normal(i as f64, 2.0), &device)).collect();
        let g = Tensor::<4>::random([b, c, h, w], Distribution::Normal(0.0, 1.0), &device);
        let before = cpu_norm::calls();
        let got = run(&ours, &xs, &g, c);
        assert_eq!(cpu_norm::calls(), before + 2, "our kernels did not run once a step");
        let want = run(&theirs, &xs, &g, c);
        let names = ["output", "dx", "dgamma", "dbeta"];
        for (i, (a, want)) in got.iter().zip(&want).enumerate() {
            let what = if i < 8 { format!("{b}x{c}x{h}x{w} step {} {}", i / 4, names[i % 4]) } else { format!("running stat {i}") };
            if tolerance == 0.0 {
                let same = a.len() == want.len() && a.iter().zip(want).all(|(p, q)| p.to_bits() == q.to_bits());
                assert!(same, "{what}: not bit for bit");
            } else {
                assert_close(a, want, tolerance, &what);
            }
        }
        outputs.push(got[0].clone());
    }
    outputs
}

#[test]
fn training_batch_norm_equals_burns() {
    compare(cpu_norm::batch_norm, |bn, x| bn.forward(x), 2e-4);
}

#[test]
fn training_batch_norm_with_relu_equals_the_batch_norm_then_burns_relu() {
    // Against our batch norm (held to burn's above) then burn's relu, bit for bit: the same
    // batch-norm output, so the same ReLU mask (burn's own batch norm may put a value a
    // rounding error on the other side of 0), and the same sums over the gated gradient.
    for output in compare(cpu_norm::batch_norm_relu, |bn, x| relu(cpu_norm::batch_norm(bn, x)), 0.0) {
        let clipped = output.iter().filter(|&&v| v == 0.0).count();
        assert!(clipped > 0 && clipped < output.len(), "{clipped} of {} outputs clipped", output.len());
    }
}

#[test]
fn evaluation_mode_is_burns() {
    let device = Device::flex();
    let bn: BatchNorm = BatchNormConfig::new(4).init(&device);
    let x = Tensor::<4>::random([2, 4, 3, 3], Distribution::Normal(0.0, 1.0), &device);
    let before = cpu_norm::calls();
    assert_eq!(read_f32(cpu_norm::batch_norm(&bn, x.clone())), read_f32(bn.forward(x.clone())));
    assert_eq!(read_f32(cpu_norm::batch_norm_relu(&bn, x.clone())), read_f32(relu(bn.forward(x))));
    assert_eq!(cpu_norm::calls(), before);
}
