//! Batch norm in training mode (alone, or followed by a ReLU) as one operation of burn's
//! autodiff on the CPU backend, and burn's `BatchNorm::forward` (and `relu`) everywhere else.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::{Autodiff, Flex};
use burn::nn::BatchNorm;
use burn::tensor::activation::relu;
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
    fused(bn, &x, Activation::Plain).unwrap_or_else(|| bn.forward(x))
}

/// `relu(bn.forward(x))`: on the CPU backend in training mode as one operation (the ReLU
/// inside the batch norm's passes, forward and backward), otherwise burn's two.
pub fn batch_norm_relu(bn: &BatchNorm, x: Tensor<4>) -> Tensor<4> {
    fused(bn, &x, Activation::Relu).unwrap_or_else(|| relu(bn.forward(x)))
}

/// What follows the batch norm inside the operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Activation {
    /// The batch norm alone.
    Plain,
    /// The batch norm, then burn's ReLU.
    Relu,
}

/// The operation through our kernels, or `None` where they do not apply (not training, not
/// the CPU backend, not f32, empty, or switched off).
fn fused(bn: &BatchNorm, x: &Tensor<4>, activation: Activation) -> Option<Tensor<4>> {
    let [batch, channels, h, w] = x.dims();
    let training = x.is_autodiff() && bn.training.is_enabled();
    if !(training && enabled() && crate::gpu::is_cpu(&x.device()) && x.dtype() == DType::F32 && batch * h * w > 0) {
        return None;
    }
    let (gamma, beta) = (bn.gamma.val(), bn.beta.val());
    let geometry = NormGeometry { batch, channels, plane: h * w };
    let parts = (
        x.clone().try_into_primitive::<Autodiff<Flex>>(),
        gamma.try_into_primitive::<Autodiff<Flex>>(),
        beta.try_into_primitive::<Autodiff<Flex>>(),
    );
    let (Ok(xp), Ok(gp), Ok(bp)) = parts else {
        return None;
    };
    let (output, mean, variance) = tracked(xp, gp, bp, bn.epsilon, geometry, activation);
    let plain = x.device().without_autodiff();
    let stat = |values: Vec<f32>| Tensor::<1>::from_data(TensorData::new(values, [channels]), &plain);
    update_running_statistics(bn, stat(mean), stat(variance));
    Some(Tensor::from_primitive::<Autodiff<Flex>>(output))
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

/// What the backward pass needs: x, gamma, the batch statistics, eps, the shape, and with a
/// ReLU the operation's output (its mask).
type NormState = (FlexTensor, Vec<f32>, Vec<f32>, Vec<f32>, f64, NormGeometry, Option<FlexTensor>);

impl Backward<Flex, 3> for NormBackwardOp {
    type State = NormState;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let [node_x, node_gamma, node_beta] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node);
        let (x, gamma, mean, variance, epsilon, g, relu_output) = ops.state;
        let (x_values, dy_values) = (flex_values(&x), flex_values(&dy));
        let back = match relu_output {
            None => kernels::batch_norm_train_backward(&x_values, &gamma, &mean, &variance, epsilon, &dy_values, &g),
            Some(output) => {
                kernels::batch_norm_relu_train_backward(&x_values, &gamma, &mean, &variance, epsilon, &flex_values(&output), &dy_values, &g)
            }
        };
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

fn tracked(
    x: AutodiffFlex,
    gamma: AutodiffFlex,
    beta: AutodiffFlex,
    epsilon: f64,
    g: NormGeometry,
    activation: Activation,
) -> (AutodiffFlex, Vec<f32>, Vec<f32>) {
    CALLS.with(|c| c.set(c.get() + 1));
    let gamma_values = flex_values(gamma.primitive()).into_owned();
    let (x_values, beta_values) = (flex_values(x.primitive()), flex_values(beta.primitive()));
    let forward = match activation {
        Activation::Plain => kernels::batch_norm_train(&x_values, &gamma_values, &beta_values, epsilon, &g),
        Activation::Relu => kernels::batch_norm_relu_train(&x_values, &gamma_values, &beta_values, epsilon, &g),
    };
    let shape = x.primitive().layout().shape().clone();
    let output = FlexTensor::from_data(TensorData::new(forward.output, shape));
    let (mean, variance) = (forward.mean, forward.variance);
    let out = match NormBackwardOp.prepare::<NoCheckpointing>([x.node(), gamma.node(), beta.node()]).compute_bound().stateful() {
        OpsKind::Tracked(prep) => {
            let relu_output = (activation == Activation::Relu).then(|| output.clone());
            prep.finish((x.primitive().clone(), gamma_values, mean.clone(), variance.clone(), epsilon, g, relu_output), output)
        }
        OpsKind::UnTracked(prep) => prep.finish(output),
    };
    (out, mean, variance)
}
