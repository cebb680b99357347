//! Batch norm in training mode as one operation of burn's autodiff on the CPU backend, and
//! burn's `BatchNorm::forward` everywhere else.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::{Autodiff, Flex};
use burn::nn::BatchNorm;
use burn::tensor::{DType, Tensor, TensorData};

use super::kernels::{self, NormGeometry};

use crate::cpu::flex::{AutodiffFlex, flex_values};

/// Is our CPU batch norm in force (the default; `RING_WGPU_CPU_CONV=burn` or
/// `RING_WGPU_CPU_NORM=burn` turn it off)?
pub fn enabled() -> bool {
    static BURN: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    crate::cpu::conv::enabled() && !crate::env_switch::is_set_to(&BURN, "RING_WGPU_CPU_NORM", "burn")
}

thread_local! {
    static CALLS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// How many batch norms our kernels have computed on this thread (burn runs an operation on
/// the thread that calls it, so a test counts only its own, whatever runs beside it).
pub fn calls() -> usize {
    CALLS.with(|c| c.get())
}

/// `bn.forward(x)`: on the CPU backend in training mode through our fused kernels (the
/// same output, gradients and running statistics), otherwise burn's own.
pub fn batch_norm(bn: &BatchNorm, x: Tensor<4>) -> Tensor<4> {
    let [batch, channels, h, w] = x.dims();
    let training = x.is_autodiff() && bn.training.is_enabled();
    if !(training && enabled() && crate::gpu::is_cpu(&x.device()) && x.dtype() == DType::F32 && batch * h * w > 0) {
        return bn.forward(x);
    }
    let (gamma, beta) = (bn.gamma.val(), bn.beta.val());
    let geometry = NormGeometry { batch, channels, plane: h * w };
    let parts = (
        x.clone().try_into_primitive::<Autodiff<Flex>>(),
        gamma.try_into_primitive::<Autodiff<Flex>>(),
        beta.try_into_primitive::<Autodiff<Flex>>(),
    );
    let (Ok(xp), Ok(gp), Ok(bp)) = parts else {
        return bn.forward(x);
    };
    let (output, mean, variance) = tracked(xp, gp, bp, bn.epsilon, geometry);
    let plain = x.device().without_autodiff();
    let stat = |values: Vec<f32>| Tensor::<1>::from_data(TensorData::new(values, [channels]), &plain);
    update_running_statistics(bn, stat(mean), stat(variance));
    Tensor::from_primitive::<Autodiff<Flex>>(output)
}

/// A training step's update of `bn`'s running statistics from the batch's `mean` and biased
/// `variance` (`[channels]`, off the autodiff graph, on the layer's device), as burn's
/// `BatchNorm::forward_train` does it: running = (1 - momentum) running + momentum batch.
pub(crate) fn update_running_statistics(bn: &BatchNorm, mean: Tensor<1>, variance: Tensor<1>) {
    let device = mean.device().autodiff();
    let step = |running: Tensor<1>, batch: Tensor<1>| {
        running.to_device(&device).mul_scalar(1.0 - bn.momentum).add(batch.autodiff().detach().mul_scalar(bn.momentum)).detach()
    };
    bn.running_mean.update(step(bn.running_mean.value_sync(), mean));
    bn.running_var.update(step(bn.running_var.value_sync(), variance));
}

#[derive(Debug)]
struct NormBackwardOp;

/// What the backward pass needs: x, gamma, the batch statistics, eps, the shape.
type NormState = (FlexTensor, Vec<f32>, Vec<f32>, Vec<f32>, f64, NormGeometry);

impl Backward<Flex, 3> for NormBackwardOp {
    type State = NormState;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let [node_x, node_gamma, node_beta] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node);
        let (x, gamma, mean, variance, epsilon, g) = ops.state;
        let back = kernels::batch_norm_train_backward(&flex_values(&x), &gamma, &mean, &variance, epsilon, &flex_values(&dy), &g);
        let c = g.channels;
        if let Some(node) = node_x {
            grads.register::<Flex>(node.id, FlexTensor::from_data(TensorData::new(back.x, x.layout().shape().clone())));
        }
        if let Some(node) = node_gamma {
            grads.register::<Flex>(node.id, FlexTensor::from_data(TensorData::new(back.gamma, [c])));
        }
        if let Some(node) = node_beta {
            grads.register::<Flex>(node.id, FlexTensor::from_data(TensorData::new(back.beta, [c])));
        }
    }
}

fn tracked(x: AutodiffFlex, gamma: AutodiffFlex, beta: AutodiffFlex, epsilon: f64, g: NormGeometry) -> (AutodiffFlex, Vec<f32>, Vec<f32>) {
    CALLS.with(|c| c.set(c.get() + 1));
    let gamma_values = flex_values(gamma.primitive()).into_owned();
    let forward = kernels::batch_norm_train(&flex_values(x.primitive()), &gamma_values, &flex_values(beta.primitive()), epsilon, &g);
    let shape = x.primitive().layout().shape().clone();
    let output = FlexTensor::from_data(TensorData::new(forward.output, shape));
    let (mean, variance) = (forward.mean, forward.variance);
    let out = match NormBackwardOp.prepare::<NoCheckpointing>([x.node(), gamma.node(), beta.node()]).compute_bound().stateful() {
        OpsKind::Tracked(prep) => prep.finish((x.primitive().clone(), gamma_values, mean.clone(), variance.clone(), epsilon, g), output),
        OpsKind::UnTracked(prep) => prep.finish(output),
    };
    (out, mean, variance)
}
