//! A stride-1 convolution computed as burn's transposed convolution, and, where a gradient
//! flows, recorded in burn's autodiff as one operation whose backward step is burn's own
//! convolution gradients ([`conv2d_by_transpose`]).
//!
//! Why: through WGSL burn's forward convolution of a 3 x 3 kernel is a direct one (1.3-2.2
//! TFLOP/s on an H200), while its input gradient, the same computation as a transposed
//! convolution with the kernel flipped and its channel axes swapped, ran at 6.6-9.3 TFLOP/s.
//! Differentiating the transposed convolution itself would put the slow direct kernel into
//! the backward step (its input gradient is a forward convolution), so the tracked form keeps
//! burn's convolution gradients there, exactly what burn's `conv2d` records.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::{Autodiff, Backend, BackendTypes, Flex};
use burn::tensor::Tensor;
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};

/// A float tensor primitive of backend `B`.
type FloatTensor<B> = <B as BackendTypes>::FloatTensorPrimitive;

thread_local! {
    static TRACKED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// How many [`conv2d_by_transpose`] calls on this thread were recorded as the one tracked
/// operation (a test's proof that the backward step is burn's convolution gradients, not the
/// transposed convolution's own).
pub fn tracked_transposed_calls() -> usize {
    TRACKED.with(|c| c.get())
}

/// `conv2d(x, W, stride 1, pad p)` as `conv_transpose2d(x, V, pad k - 1 - p)` with
/// `V[c, o, a, b] = W[o, c, k-1-a, k-1-b]`. Where `x` or `weight` is on the autodiff graph
/// (burn's CPU backend or its wgpu backend), one tracked operation whose gradients are burn's
/// `conv2d_x_backward` and `conv2d_weight_backward`; elsewhere burn's transposed convolution
/// through the tensor API. `weight` is `[Cout, C, k, k]`; panics unless `pad < k` and the
/// channels match.
pub fn conv2d_by_transpose(x: Tensor<4>, weight: Tensor<4>, pad: usize) -> Tensor<4> {
    let [_, channels, _, _] = x.dims();
    let [_, wc, k, k2] = weight.dims();
    assert!(wc == channels && k == k2 && pad < k, "conv2d_by_transpose: weight {:?} for input {:?}, pad {pad}", weight.dims(), x.dims());
    if x.is_autodiff() || weight.is_autodiff() {
        let (xa, wa) = (x.clone().autodiff(), weight.clone().autodiff());
        #[cfg(feature = "webgpu")]
        {
            use burn::backend::Wgpu;
            if let (Ok(xp), Ok(wp)) = (xa.clone().try_into_primitive::<Autodiff<Wgpu>>(), wa.clone().try_into_primitive::<Autodiff<Wgpu>>())
            {
                return Tensor::from_primitive::<Autodiff<Wgpu>>(tracked::<Wgpu>(xp, wp, k, pad));
            }
        }
        if let (Ok(xp), Ok(wp)) = (xa.try_into_primitive::<Autodiff<Flex>>(), wa.try_into_primitive::<Autodiff<Flex>>()) {
            return Tensor::from_primitive::<Autodiff<Flex>>(tracked::<Flex>(xp, wp, k, pad));
        }
    }
    let flipped = weight.swap_dims(0, 1).flip([2, 3]);
    burn::tensor::module::conv_transpose2d(x, flipped, None, transpose_options(k, pad))
}

fn transpose_options(k: usize, pad: usize) -> ConvTransposeOptions<2> {
    ConvTransposeOptions::new([1; 2], [k - 1 - pad; 2], [0; 2], [1; 2], 1)
}

fn forward<B: Backend>(x: FloatTensor<B>, weight: FloatTensor<B>, k: usize, pad: usize) -> FloatTensor<B> {
    let flipped = B::float_flip(B::float_swap_dims(weight, 0, 1), &[2, 3]);
    B::conv_transpose2d(x, flipped, None, transpose_options(k, pad))
}

#[derive(Debug)]
struct TransposedConvBackward;

impl<B: Backend> Backward<B, 2> for TransposedConvBackward {
    /// The input, the weight and the padding (stride 1, no dilation, one group).
    type State = (FloatTensor<B>, FloatTensor<B>, usize);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let [node_x, node_w] = ops.parents;
        let dy = grads.consume::<B>(&ops.node);
        let (x, w, pad) = ops.state;
        let options = ConvOptions::new([1; 2], [pad; 2], [1; 2], 1);
        if let Some(node) = node_x {
            grads.register::<B>(node.id, B::conv2d_x_backward(x.clone(), w.clone(), dy.clone(), options.clone()));
        }
        if let Some(node) = node_w {
            grads.register::<B>(node.id, B::conv2d_weight_backward(x, w, dy, options));
        }
    }
}

fn tracked<B: Backend>(x: FloatTensor<Autodiff<B>>, w: FloatTensor<Autodiff<B>>, k: usize, pad: usize) -> FloatTensor<Autodiff<B>> {
    TRACKED.with(|c| c.set(c.get() + 1));
    match TransposedConvBackward.prepare::<NoCheckpointing>([x.node(), w.node()]).compute_bound().stateful() {
        OpsKind::Tracked(prep) => {
            let output = forward::<B>(x.primitive().clone(), w.primitive().clone(), k, pad);
            prep.finish((x.primitive().clone(), w.primitive().clone(), pad), output)
        }
        OpsKind::UnTracked(prep) => prep.finish(forward::<B>(x.primitive().clone(), w.primitive().clone(), k, pad)),
    }
}
