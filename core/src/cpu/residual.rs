//! The residual blocks' closing `relu(a + b)` as one operation of burn's autodiff on the CPU
//! backend (one pass forward; backward, the ReLU's gradient once, passed to both operands),
//! and burn's `relu(a + b)` everywhere else. Turned off with our other CPU operations by
//! `RING_WGPU_CPU_CONV=burn`.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::{Autodiff, Flex};
use burn::tensor::activation::relu;
use burn::tensor::{DType, Tensor, TensorData};

use crate::cpu::flex::{AutodiffFlex, flex_values};
pub use ring_wgpu_cpu_kernels::activation as kernels;

thread_local! {
    static CALLS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// How many `relu(a + b)` our kernel has computed on this thread (as [`crate::cpu::norm::calls`]).
pub fn calls() -> usize {
    CALLS.with(|c| c.get())
}

/// `relu(a + b)` for tensors of one shape: on the CPU backend in training one operation,
/// otherwise burn's.
pub fn add_relu(a: Tensor<4>, b: Tensor<4>) -> Tensor<4> {
    let ours = crate::cpu::conv::enabled()
        && a.is_autodiff()
        && b.is_autodiff()
        && a.dims() == b.dims()
        && a.dtype() == DType::F32
        && b.dtype() == DType::F32
        && crate::gpu::is_cpu(&a.device());
    if ours && let (Ok(ap), Ok(bp)) = (a.clone().try_into_primitive::<Autodiff<Flex>>(), b.clone().try_into_primitive::<Autodiff<Flex>>()) {
        return Tensor::from_primitive::<Autodiff<Flex>>(tracked(ap, bp));
    }
    relu(a + b)
}

#[derive(Debug)]
struct AddReluBackward;

impl Backward<Flex, 2> for AddReluBackward {
    /// The output (the ReLU's mask).
    type State = FlexTensor;

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let dy = grads.consume::<Flex>(&ops.node);
        let output = ops.state;
        let gated = kernels::relu_backward(&flex_values(&output), &flex_values(&dy));
        let gated = FlexTensor::from_data(TensorData::new(gated, output.layout().shape().clone()));
        let [node_a, node_b] = ops.parents;
        if let Some(node) = node_a {
            grads.register::<Flex>(node.id, gated.clone());
        }
        if let Some(node) = node_b {
            grads.register::<Flex>(node.id, gated);
        }
    }
}

fn tracked(a: AutodiffFlex, b: AutodiffFlex) -> AutodiffFlex {
    CALLS.with(|c| c.set(c.get() + 1));
    let values = kernels::add_relu(&flex_values(a.primitive()), &flex_values(b.primitive()));
    let output = FlexTensor::from_data(TensorData::new(values, a.primitive().layout().shape().clone()));
    match AddReluBackward.prepare::<NoCheckpointing>([a.node(), b.node()]).compute_bound().stateful() {
        OpsKind::Tracked(prep) => prep.finish(output.clone(), output),
        OpsKind::UnTracked(prep) => prep.finish(output),
    }
}
