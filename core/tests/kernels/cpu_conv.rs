//! The encoders' convolution on the CPU backend (`cpu::conv`: our im2col + GEMM
//! kernels registered with burn's autodiff) against burn's own convolution: the output and
//! both gradients through `backward()`, on the encoders' shapes and odd ones (stride 2,
//! 1x1, one input channel, sizes no tile divides). The kernels themselves are checked
//! against plain loops in `cpu::conv::reference`. On the GPU `conv2d` is burn's own.

use crate::common::*;
use ring_wgpu_core::burn::tensor::module::conv2d as burn_conv2d;
use ring_wgpu_core::burn::tensor::ops::ConvOptions;
use ring_wgpu_core::burn::tensor::{Device, Distribution, Tensor};
use ring_wgpu_core::cpu::conv as cpu_conv;
use ring_wgpu_core::cpu::conv::plan::{CpuFeatures, Forward, InputGrad, WeightGrad};

/// Relative tolerance: both sides sum the same products in f32, in different orders.
fn assert_close(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    let scale = want.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    let worst = got.iter().zip(want).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(worst <= 2e-5 * scale, "{what}: max difference {worst} at scale {scale}");
}

/// (y, dL/dx, dL/dw) of L = sum(conv(x, w) * g) through burn's autodiff with `conv`.
fn run(conv: impl Fn(Tensor<4>, Tensor<4>) -> Tensor<4>, x: &Tensor<4>, w: &Tensor<4>, g: &Tensor<4>) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let (xa, wa) = (x.clone().autodiff().require_grad(), w.clone().autodiff().require_grad());
    let y = conv(xa.clone(), wa.clone());
    let grads = (y.clone() * g.clone().autodiff()).sum().backward();
    (read_f32(y.without_autodiff()), read_f32(xa.grad(&grads).unwrap()), read_f32(wa.grad(&grads).unwrap()))
}

#[test]
fn output_and_gradients_equal_burns_convolution() {
    let device = Device::flex();
    // (batch, cin, cout, size, kernel, stride): the small ResNet's layers (its stem and
    // 16-channel stage by the direct kernel where the CPU has AVX-512, `cpu::conv::direct`,
    // its 16 x 16 and 8 x 8 stride-1 layers by `cpu_conv::direct_small`, as ResNet-18's
    // 4 x 4 stage; the 3x3 stride-2 layers' forward passes there too, the input gradients
    // up to 64 channels by `cpu_conv::strided_input_grad`),
    // odd ones, then ResNet-18's first two stages (forward and input gradient by
    // F(4x4, 3x3), `cpu_conv::winograd4`, weight gradient by F(2x2, 3x3)) and a 256-channel
    // 8 x 8 layer (F(2x2, 3x3) throughout, `cpu_conv::winograd`).
    let shapes = [
        (4, 3, 16, 32, 3, 1),
        (2, 16, 16, 32, 3, 1),
        (4, 16, 32, 32, 3, 2),
        (4, 16, 32, 32, 1, 2),
        (3, 32, 64, 16, 3, 2),
        (2, 64, 128, 16, 3, 2),
        (2, 256, 512, 8, 3, 2),
        (3, 32, 32, 16, 3, 1),
        (3, 64, 64, 8, 3, 1),
        (3, 1, 8, 13, 3, 1),
        (2, 2, 5, 9, 3, 2),
        (5, 7, 3, 7, 1, 1),
        (2, 64, 64, 32, 3, 1),
        (2, 128, 128, 16, 3, 1),
        (2, 256, 256, 8, 3, 1),
        (2, 512, 512, 4, 3, 1),
    ];
    for (batch, cin, cout, size, kernel, stride) in shapes {
        let pad = kernel / 2;
        let x = Tensor::<4>::random([batch, cin, size, size], Distribution::Normal(0.0, 1.0), &device);
        let w = Tensor::<4>::random([cout, cin, kernel, kernel], Distribution::Normal(0.0, 0.3), &device);
        let out = (size + 2 * pad - kernel) / stride + 1;
        let g = Tensor::<4>::random([batch, cout, out, out], Distribution::Normal(0.0, 1.0), &device);
        let geometry = cpu_conv::ConvGeometry { batch, cin, cout, height: size, width: size, kernel, stride, pad };
        let cpu = CpuFeatures::detected();
        let plan = cpu_conv::plan::plan(&geometry, cpu);
        let winograd = stride == 1 && cin >= 64 && (size >= 16 || (cin >= 256 && size >= 8));
        if winograd {
            let want = if size >= 16 { Forward::Winograd4 } else { Forward::Winograd };
            assert!(plan.forward == want && plan.weight_grad == WeightGrad::Winograd, "{geometry:?}: {plan:?}");
        }
        if kernel == 3 && stride == 1 && size < 32 && cin >= 32 && !winograd && cpu.avx512 {
            assert_eq!(plan.forward, Forward::DirectSmall, "{geometry:?}");
        }
        if kernel == 3 && stride == 2 && cout % 32 == 0 && cpu.avx512 {
            assert_eq!(plan.forward, Forward::DirectSmall, "{geometry:?}");
            assert_eq!(plan.input_grad == InputGrad::StridedPhases, cin <= 64, "{geometry:?}");
        }
        if kernel == 3 && stride == 1 && size >= 32 && cin < 64 && cpu.avx512 {
            assert_eq!(plan.forward, Forward::Direct, "{geometry:?}");
        }
        let before = cpu_conv::calls();
        let ours = run(|x, w| cpu_conv::conv2d(x, w, stride, pad), &x, &w, &g);
        assert!(cpu_conv::calls() > before, "our kernels were not used on the CPU backend");
        let options = ConvOptions::new([stride; 2], [pad; 2], [1; 2], 1);
        let burns = run(|x, w| burn_conv2d(x, w, None, options.clone()), &x, &w, &g);
        let what = format!("{batch}x{cin}x{size}x{size} k{kernel} s{stride} -> {cout}");
        assert_close(&ours.0, &burns.0, &format!("{what}: output"));
        assert_close(&ours.1, &burns.1, &format!("{what}: input gradient"));
        assert_close(&ours.2, &burns.2, &format!("{what}: weight gradient"));
        // Without autodiff: the same output.
        assert_close(&read_f32(cpu_conv::conv2d(x.clone(), w.clone(), stride, pad)), &burns.0, &format!("{what}: inference"));
    }
}

#[test]
fn on_the_gpu_it_is_burns_convolution() {
    let Some(gpu) = gpu() else { return };
    let device = gpu.burn_device();
    let x = Tensor::<4>::random([2, 3, 9, 9], Distribution::Normal(0.0, 1.0), device);
    let w = Tensor::<4>::random([4, 3, 3, 3], Distribution::Normal(0.0, 1.0), device);
    let ours = read_f32(cpu_conv::conv2d(x.clone(), w.clone(), 2, 1));
    let burns = read_f32(burn_conv2d(x, w, None, ConvOptions::new([2; 2], [1; 2], [1; 2], 1)));
    assert_eq!(ours, burns);
}
