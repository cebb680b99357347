//! The encoders' convolution (no bias, square kernel, equal strides, zero padding), one entry
//! point for every backend: on the CPU backend our kernels ([`crate::cpu::conv`]); on a GPU
//! burn's own convolution, or, with `RING_WGPU_GPU_CONV=matmul`, the same convolution as one
//! matrix product over shifted copies of the input ([`conv2d_by_matmul`]), or, with
//! `RING_WGPU_GPU_CONV=transpose`, where no gradient flows and the stride is 1, as burn's
//! transposed convolution ([`conv2d_by_transpose`]; not yet measured on a GPU).
//!
//! Why the second GPU form: through WGSL burn has no implicit-GEMM convolution (those
//! candidates need cooperative-matrix instructions that cubecl's WGSL compiler does not
//! offer), so for a 3 x 3 kernel its only forward candidate is a direct convolution, while its
//! gradients have im2col-and-matmul candidates. On an H200 (BENCHMARKS.md), alone, the matmul
//! form's forward took ResNet-18's convolutions from 154 ms to 55 ms a pass, yet the whole
//! training step ran at 0.36x burn's images/s (1,104 ms against 402; peak device memory
//! 9,172 MiB against 5,348): measured, and slower, so burn's convolution stays the default.

use std::sync::atomic::{AtomicUsize, Ordering};

use burn::tensor::{Slice, Tensor};

static MATMUL_CALLS: AtomicUsize = AtomicUsize::new(0);
static TRANSPOSED_CALLS: AtomicUsize = AtomicUsize::new(0);

/// Convolutions [`conv2d`] has computed as [`conv2d_by_matmul`] in this process (a benchmark
/// reports it to show that `RING_WGPU_GPU_CONV=matmul` took effect).
pub fn matmul_calls() -> usize {
    MATMUL_CALLS.load(Ordering::Relaxed)
}

/// Convolutions [`conv2d`] has computed as [`conv2d_by_transpose`] in this process.
pub fn transposed_calls() -> usize {
    TRANSPOSED_CALLS.load(Ordering::Relaxed)
}

/// `conv2d(x, weight)` with `stride` and symmetric zero `pad`: see the module's doc for
/// which implementation runs.
pub fn conv2d(x: Tensor<4>, weight: Tensor<4>, stride: usize, pad: usize) -> Tensor<4> {
    if !crate::gpu::is_cpu(&x.device()) {
        if matmul_on_gpu() {
            MATMUL_CALLS.fetch_add(1, Ordering::Relaxed);
            return conv2d_by_matmul(x, weight, stride, pad);
        }
        // Only where no gradient flows: the transposed convolution's own input gradient is
        // burn's direct forward convolution, which would move the cost, not remove it. The
        // weight's flag is the real guard (burn marks only leaves): the key encoder's weights
        // are `no_grad`, the monitor's and `embed`'s are off the autodiff graph (`valid`).
        if transpose_on_gpu() && stride == 1 && pad < weight.dims()[2] && !x.is_require_grad() && !weight.is_require_grad() {
            TRANSPOSED_CALLS.fetch_add(1, Ordering::Relaxed);
            return conv2d_by_transpose(x, weight, pad);
        }
    }
    crate::cpu::conv::conv2d(x, weight, stride, pad)
}

/// Is `RING_WGPU_GPU_CONV=matmul` set (read once)? Any other value, or none, keeps burn's
/// convolution on the GPU. Always false in the browser.
pub fn matmul_on_gpu() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    crate::env_switch::is_set_to(&ON, "RING_WGPU_GPU_CONV", "matmul")
}

/// Is `RING_WGPU_GPU_CONV=transpose` set (read once)? Then the GPU's stride-1 convolutions
/// that no gradient flows through (the momentum encoder's, the kNN monitor's, `embed`'s) run
/// as [`conv2d_by_transpose`]. Always false in the browser.
pub fn transpose_on_gpu() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    crate::env_switch::is_set_to(&ON, "RING_WGPU_GPU_CONV", "transpose")
}

/// A stride-1 convolution as burn's transposed convolution: `conv2d(x, W, pad p)` equals
/// `conv_transpose2d(x, V, pad k - 1 - p)` with `V[c, o, a, b] = W[o, c, k-1-a, k-1-b]` (channel
/// axes swapped, kernel flipped). Why: through WGSL burn's forward convolution of a 3 x 3
/// kernel is a direct one (1.3-2.2 TFLOP/s on an H200), while its input gradient, the same
/// computation as a transposed convolution, ran at 6.6-9.3 TFLOP/s (`dgrad_im2col` among its
/// candidates; BENCHMARKS.md). burn's transposed convolution has other candidates (a direct
/// kernel, col2im): whether it is as fast is for the GPU check to measure. `weight` is `[Cout, C, k, k]`; panics unless `pad < k` and the channels match.
pub fn conv2d_by_transpose(x: Tensor<4>, weight: Tensor<4>, pad: usize) -> Tensor<4> {
    let [_, channels, _, _] = x.dims();
    let [_, wc, k, k2] = weight.dims();
    assert!(wc == channels && k == k2 && pad < k, "conv2d_by_transpose: weight {:?} for input {:?}, pad {pad}", weight.dims(), x.dims());
    let flipped = weight.swap_dims(0, 1).flip([2, 3]);
    let options = burn::tensor::ops::ConvTransposeOptions::new([1; 2], [k - 1 - pad; 2], [0; 2], [1; 2], 1);
    burn::tensor::module::conv_transpose2d(x, flipped, None, options)
}

/// A convolution as one matrix product, in burn's tensor operations (so autodiff
/// differentiates it like any other), channels last: the input goes to `[B, H, W, C]`, and
/// the k x k shifted, strided views of its padded copy are stacked along the channels into
/// `[B*Ho*Wo, k*k*C]` ("im2col" by slices); the weight, reordered to the same `(dy, dx, c)`
/// order, multiplies them as one large 2-D product `[B*Ho*Wo, k*k*C] @ [k*k*C, Cout]`, whose
/// result goes back to `[B, Cout, Ho, Wo]`. (The first form, `[Cout, k*k*C] @ [B, k*k*C, Ho*Wo]`
/// batched per image, ran ResNet-18's step at a third of burn's convolution on an H200.)
///
/// Memory: the stacked input is k*k times the input, kept for the weight gradient (0.6 GB
/// for one of ResNet-18's 64-channel 32 x 32 layers at B = 256).
/// `weight` is `[Cout, C, k, k]`; panics if its channels differ from `x`'s or the padded
/// input is smaller than the kernel (as burn's convolution does).
pub fn conv2d_by_matmul(x: Tensor<4>, weight: Tensor<4>, stride: usize, pad: usize) -> Tensor<4> {
    let [batch, channels, height, width] = x.dims();
    let [cout, wc, k, k2] = weight.dims();
    assert!(wc == channels && k == k2 && stride > 0, "conv2d_by_matmul: weight {:?} for input {:?}", weight.dims(), x.dims());
    assert!(
        height + 2 * pad >= k && width + 2 * pad >= k,
        "conv2d_by_matmul: a {k}x{k} kernel over a {height}x{width} input padded by {pad}"
    );
    let out_h = (height + 2 * pad - k) / stride + 1;
    let out_w = (width + 2 * pad - k) / stride + 1;
    let padded = if pad > 0 { x.pad([(pad, pad), (pad, pad)], burn::tensor::ops::PadMode::Constant(0.0)) } else { x };
    // [B, C, H, W] -> [B, H, W, C]: each output pixel's window is then contiguous per shift.
    let padded = padded.permute([0, 2, 3, 1]);
    let shifted: Vec<Tensor<4>> = (0..k)
        .flat_map(|dy| (0..k).map(move |dx| (dy, dx)))
        .map(|(dy, dx)| {
            padded.clone().slice([
                Slice::full(),
                Slice::new(dy as isize, Some((dy + stride * (out_h - 1) + 1) as isize), stride as isize),
                Slice::new(dx as isize, Some((dx + stride * (out_w - 1) + 1) as isize), stride as isize),
                Slice::full(),
            ])
        })
        .collect();
    let cols = if shifted.len() == 1 { shifted.into_iter().next().expect("one shift") } else { Tensor::cat(shifted, 3) };
    let cols: Tensor<2> = cols.reshape([batch * out_h * out_w, k * k * channels]);
    // [Cout, C, k, k] -> [k, k, C, Cout] -> [k*k*C, Cout]: the column order (dy, dx, c) of `cols`.
    let w: Tensor<2> = weight.permute([2, 3, 1, 0]).reshape([k * k * channels, cout]);
    let y: Tensor<4> = cols.matmul(w).reshape([batch, out_h, out_w, cout]);
    y.permute([0, 3, 1, 2])
}
