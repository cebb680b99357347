//! The encoders' convolution (no bias, square kernel, equal strides, zero padding), one entry
//! point for every backend: on the CPU backend our kernels ([`crate::cpu::conv`]); on a GPU
//! the form [`GpuConv`] names: burn's own convolution, the stride-1 ones as burn's transposed
//! convolution ([`conv2d_by_transpose`]), or every one as a matrix product over shifted
//! copies of the input ([`conv2d_by_matmul`]).
//!
//! Why other GPU forms: through WGSL burn has no implicit-GEMM convolution (those candidates
//! need cooperative-matrix instructions that cubecl's WGSL compiler does not offer), so for a
//! 3 x 3 kernel its only forward candidate is a direct convolution (1.3-2.2 TFLOP/s on an
//! H200), while its gradients have im2col-and-matmul candidates (5.4-9.7 TFLOP/s). The
//! transposed form computes the forward as the input gradient's kind of operation: the
//! default with burn's autotune, 2.44x burn's images/s in ResNet-18's training step on an H200. The matmul form was
//! faster alone yet ran the step at 0.36x burn's images/s (BENCHMARKS.md).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use burn::tensor::{Slice, Tensor};

pub use super::conv_transpose::{conv2d_by_transpose, tracked_transposed_calls};

static MATMUL_CALLS: AtomicUsize = AtomicUsize::new(0);
static TRANSPOSED_CALLS: AtomicUsize = AtomicUsize::new(0);

/// Convolutions [`conv2d`] has computed as [`conv2d_by_matmul`] in this process (a benchmark
/// reports it to show which form ran).
pub fn matmul_calls() -> usize {
    MATMUL_CALLS.load(Ordering::Relaxed)
}

/// Convolutions [`conv2d`] has computed as [`conv2d_by_transpose`] in this process.
pub fn transposed_calls() -> usize {
    TRANSPOSED_CALLS.load(Ordering::Relaxed)
}

/// How [`conv2d`] computes a convolution on a GPU, chosen by `RING_WGPU_GPU_CONV` (read once
/// per process; the browser has no environment, so there it is always the default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GpuConv {
    /// burn's convolution (`RING_WGPU_GPU_CONV=burn`).
    Burn,
    /// Stride-1 convolutions as [`conv2d_by_transpose`], the others (ResNets' stride-2
    /// downsampling) burn's (`RING_WGPU_GPU_CONV=transpose`; the default with burn's
    /// autotune). On an H200 it ran ResNet-18's MoCo step at 2.44x burn's images/s (1,563
    /// against 639).
    Transpose,
    /// Every convolution as [`conv2d_by_matmul`] (`RING_WGPU_GPU_CONV=matmul`).
    Matmul,
}

impl GpuConv {
    /// The form without the variable, or with a value other than `burn`, `transpose` or
    /// `matmul`: [`GpuConv::Transpose`] in builds with burn's autotune (the CLI's default),
    /// where it was measured; burn's convolution without it (the browser package, the test
    /// builds), where burn's transposed convolution is a single direct kernel, not measured
    /// against burn's direct convolution.
    pub const DEFAULT: GpuConv = if cfg!(feature = "autotune") { GpuConv::Transpose } else { GpuConv::Burn };

    /// The form this process uses.
    pub fn current() -> GpuConv {
        static FORM: OnceLock<GpuConv> = OnceLock::new();
        *FORM.get_or_init(|| match std::env::var("RING_WGPU_GPU_CONV").as_deref() {
            Ok("burn") => GpuConv::Burn,
            Ok("transpose") => GpuConv::Transpose,
            Ok("matmul") => GpuConv::Matmul,
            _ => GpuConv::DEFAULT,
        })
    }
}

/// `conv2d(x, weight)` with `stride` and symmetric zero `pad`: see the module's doc for
/// which implementation runs.
pub fn conv2d(x: Tensor<4>, weight: Tensor<4>, stride: usize, pad: usize) -> Tensor<4> {
    if !crate::gpu::is_cpu(&x.device()) {
        match GpuConv::current() {
            GpuConv::Matmul => {
                MATMUL_CALLS.fetch_add(1, Ordering::Relaxed);
                return conv2d_by_matmul(x, weight, stride, pad);
            }
            GpuConv::Transpose if stride == 1 && pad < weight.dims()[2] => {
                TRANSPOSED_CALLS.fetch_add(1, Ordering::Relaxed);
                return conv2d_by_transpose(x, weight, pad);
            }
            _ => {}
        }
    }
    crate::cpu::conv::conv2d(x, weight, stride, pad)
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
