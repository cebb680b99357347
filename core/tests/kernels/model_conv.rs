//! The GPU's own convolution forms, `model::conv2d_by_transpose` (burn's transposed
//! convolution, stride 1, tracked as one operation with burn's convolution gradients: the GPU
//! default with burn's autotune) and `model::conv2d_by_matmul` (one matrix product of burn
//! operations, `RING_WGPU_GPU_CONV=matmul`), against the f64 loop references of `cpu::conv::reference`: the output and both gradients through burn's
//! autodiff, on the CPU backend and the test GPU, on the encoders' kinds of layer and odd
//! ones (stride 2 over odd sizes, 1x1 with and without stride, one input channel, no
//! padding, padding k - 1, a kernel as large as the padded input, 5x5), and NaN where the
//! references have it.

use crate::common::*;
use ring_wgpu_core::burn::tensor::{Device, Tensor};
use ring_wgpu_core::cpu::conv::ConvGeometry;
use ring_wgpu_core::cpu::conv::reference::{conv2d_forward_reference, conv2d_input_grad_reference, conv2d_weight_grad_reference};
use ring_wgpu_core::model::{conv2d_by_matmul, conv2d_by_transpose, tracked_transposed_calls};

/// A convolution form: `(x, weight, stride, pad) -> y`.
type Form = fn(Tensor<4>, Tensor<4>, usize, usize) -> Tensor<4>;

/// The transposed form; on tensors from the autodiff graph it must be the one tracked
/// operation (burn's convolution gradients in the backward step) on every device.
fn by_transpose(x: Tensor<4>, w: Tensor<4>, stride: usize, pad: usize) -> Tensor<4> {
    assert_eq!(stride, 1, "the transposed form is for stride 1");
    let (tracked, before) = (x.is_autodiff(), tracked_transposed_calls());
    let y = conv2d_by_transpose(x, w, pad);
    assert_eq!(tracked_transposed_calls() - before, usize::from(tracked), "recorded as one tracked operation");
    y
}

/// Within `8e-5` of the f64 reference relative to its largest finite magnitude (at least
/// 1): f32 products summed in another order over at most C k k terms (the tolerance the CPU
/// kernels meet against the same references); NaN exactly where the reference has NaN.
fn assert_close(got: &[f32], want: &[f32], what: &str) {
    assert_close_to_reference(got, want, 8e-5, what);
}

/// Checks y, dL/dx and dL/dw of L = sum(conv(x, w) * g) on `device` against the references.
fn check(form: Form, device: &Device, g: ConvGeometry, x: &[f32], w: &[f32], dy: &[f32], what: &str) {
    let (oh, ow) = (g.out_height(), g.out_width());
    let xa = tensor(x, [g.batch, g.cin, g.height, g.width], device).autodiff().require_grad();
    let wa = tensor(w, [g.cout, g.cin, g.kernel, g.kernel], device).autodiff().require_grad();
    let y = form(xa.clone(), wa.clone(), g.stride, g.pad);
    assert_eq!(y.dims(), [g.batch, g.cout, oh, ow], "{what}: output shape");
    let grads = (y.clone() * tensor(dy, [g.batch, g.cout, oh, ow], device).autodiff()).sum().backward();
    assert_close(&read_f32(y.without_autodiff()), &conv2d_forward_reference(x, w, &g), &format!("{what}: output"));
    assert_close(&read_f32(xa.grad(&grads).unwrap()), &conv2d_input_grad_reference(dy, w, &g), &format!("{what}: input gradient"));
    assert_close(&read_f32(wa.grad(&grads).unwrap()), &conv2d_weight_grad_reference(x, dy, &g), &format!("{what}: weight gradient"));
}

fn normal(rng: &mut Rng, n: usize) -> Vec<f32> {
    (0..n).map(|_| 2.0 * rng.unit() - 1.0).collect()
}

fn random_case(form: Form, device: &Device, rng: &mut Rng, shape: Shape, name: &str) {
    let (batch, cin, cout, size, kernel, stride, pad) = shape;
    let g = ConvGeometry { batch, cin, cout, height: size, width: size, kernel, stride, pad };
    let x = normal(rng, batch * cin * size * size);
    let w = normal(rng, cout * cin * kernel * kernel);
    let dy = normal(rng, batch * cout * g.out_height() * g.out_width());
    check(form, device, g, &x, &w, &dy, &format!("{name}: {batch}x{cin}x{size}x{size} k{kernel} s{stride} p{pad} -> {cout}"));
}

/// (batch, cin, cout, size, kernel, stride, pad).
type Shape = (usize, usize, usize, usize, usize, usize, usize);

/// Every shape, random values from `seed`, on every device.
fn random_cases(form: Form, shapes: &[Shape], seed: u64) {
    let mut rng = Rng(seed);
    for (name, device) in devices() {
        for &shape in shapes {
            random_case(form, &device, &mut rng, shape, name);
        }
    }
}

#[test]
fn the_matrix_product_form_equals_the_references_on_every_device() {
    // The encoders' layers in small (3x3 with padding 1, stride 1 and 2; the 1x1 stride-2
    // shortcut), then odd ones.
    let shapes = [
        (2, 3, 8, 8, 3, 1, 1),
        (3, 4, 6, 9, 3, 2, 1),
        (2, 4, 6, 7, 1, 2, 0),
        (2, 5, 3, 5, 1, 1, 0),
        (1, 1, 2, 5, 3, 1, 1),
        (2, 3, 4, 6, 3, 1, 0),
        (2, 2, 3, 1, 3, 1, 1),
        (1, 2, 2, 4, 3, 3, 1),
    ];
    random_cases(conv2d_by_matmul, &shapes, 20261204);
}

#[test]
fn the_transposed_form_equals_the_references_on_every_device() {
    // Stride 1 only: the encoders' 3x3 layers, 1x1, padding 0 and k - 1, a 1x1 image, 5x5.
    let shapes = [
        (2, 3, 8, 8, 3, 1, 1),
        (2, 5, 3, 5, 1, 1, 0),
        (1, 1, 2, 5, 3, 1, 1),
        (2, 3, 4, 6, 3, 1, 0),
        (1, 2, 3, 4, 3, 1, 2),
        (2, 2, 3, 1, 3, 1, 1),
        (1, 2, 2, 7, 5, 1, 2),
    ];
    random_cases(by_transpose, &shapes, 20261205);
}

#[test]
fn a_nan_reaches_exactly_the_outputs_and_gradients_the_references_give() {
    let g = ConvGeometry { batch: 2, cin: 2, cout: 3, height: 6, width: 5, kernel: 3, stride: 2, pad: 1 };
    let mut rng = Rng(7);
    let mut x = normal(&mut rng, g.batch * g.cin * g.height * g.width);
    x[g.cin * g.height * g.width + 7] = f32::NAN; // the second image, first channel
    let w = normal(&mut rng, g.cout * g.cin * 9);
    let dy = normal(&mut rng, g.batch * g.cout * g.out_height() * g.out_width());
    for (name, device) in devices() {
        check(conv2d_by_matmul, &device, g, &x, &w, &dy, &format!("{name}: NaN input, matmul form"));
        let g1 = ConvGeometry { stride: 1, ..g };
        let dy1 = normal(&mut rng, g1.batch * g1.cout * g1.out_height() * g1.out_width());
        check(by_transpose, &device, g1, &x, &w, &dy1, &format!("{name}: NaN input, transposed form"));
    }
}
