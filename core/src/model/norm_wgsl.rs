//! Batch norm in training mode on burn's wgpu backend through our WGSL kernels
//! (`shaders/wgsl/norm_*.wgsl`), recorded in burn's autodiff as one operation: the forward
//! pass is two launches (per-channel statistics, then the output), the backward two (the
//! per-channel sums, then the input gradient), where burn 0.22 composes it from a dozen
//! tensor operations, each a launch and a pass over the activations (on an H200 ResNet-18's
//! batch norms took 54 ms of a 297 ms pass that way). The running statistics are updated as
//! burn's `BatchNorm` does. Reference: the f64 loops of `cpu::norm::kernels`
//! (`batch_norm_train_reference` and its backward), which the tests hold it to.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::{Autodiff, BackendTypes, Wgpu};
use burn::nn::BatchNorm;
use burn::tensor::{DType, Tensor};
use bytemuck::{Pod, Zeroable};

use crate::gpu::launch::{self, CubeTensor};

/// Launch parameters: the Rust mirror of `struct NormParams` in norm_common.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Pod, Zeroable)]
pub struct NormParams {
    /// Images in the batch.
    pub batch: u32,
    /// Channels.
    pub channels: u32,
    /// Elements per image and channel (H * W).
    pub plane: u32,
    /// Added to the variance before the square root.
    pub epsilon: f32,
}

impl NormParams {
    /// Field names in WGSL declaration order.
    pub const FIELDS: [&'static str; 4] = ["batch", "channels", "plane", "epsilon"];
}

/// `bn.forward(x)` in training mode (`x` on the autodiff device, `bn` not frozen) through
/// the WGSL kernels, where `x` is f32 on the wgpu backend with at least one value per
/// channel; `None` where it does not apply (the caller then runs burn's).
pub fn batch_norm_wgsl(bn: &BatchNorm, x: &Tensor<4>) -> Option<Tensor<4>> {
    let [batch, channels, height, width] = x.dims();
    let training = x.device().is_autodiff() && bn.training.is_enabled();
    // The kernels index with u32 and launch one workgroup per channel in one grid row.
    let elements = batch * channels * height * width;
    if !training
        || x.dtype() != DType::F32
        || elements == 0
        || elements > u32::MAX as usize
        || channels as u32 > launch::MAX_GROUPS_PER_DIMENSION
    {
        return None;
    }
    let (gamma, beta) = (bn.gamma.val().autodiff(), bn.beta.val().autodiff());
    let parts = (
        x.clone().autodiff().try_into_primitive::<Autodiff<Wgpu>>(),
        gamma.try_into_primitive::<Autodiff<Wgpu>>(),
        beta.try_into_primitive::<Autodiff<Wgpu>>(),
    );
    let (Ok(xp), Ok(gp), Ok(bp)) = parts else {
        return None;
    };
    let params = NormParams { batch: batch as u32, channels: channels as u32, plane: (height * width) as u32, epsilon: bn.epsilon as f32 };
    let (output, stats) = tracked(xp, gp, bp, params)?;
    let stats = launch::float_tensor(stats);
    let row = |r: usize| stats.clone().narrow(0, r, 1).reshape([channels]);
    crate::cpu::norm::autodiff::update_running_statistics(bn, row(0), row(1));
    Some(Tensor::from_primitive::<Autodiff<Wgpu>>(output))
}

/// The forward pass: the output and the statistics `[4, channels]` (means, biased variances,
/// shifts, means relative to the shifts: norm_common.wgsl).
fn forward(x: &CubeTensor, gamma: &CubeTensor, beta: &CubeTensor, params: NormParams) -> (CubeTensor, CubeTensor) {
    let channels = params.channels as usize;
    let elements = params.batch as usize * channels * params.plane as usize;
    let stats = launch::empty(x, [4, channels], DType::F32);
    let params_buffer = launch::upload(x, &params);
    launch::launch(x, ring_wgpu_shaders::NORM_STATS, params.channels, vec![x.handle.clone(), stats.handle.clone(), params_buffer.clone()]);
    let output = launch::empty(x, [elements, 1], DType::F32);
    let groups = elements.div_ceil(ring_wgpu_shaders::NORM_APPLY.workgroup_size as usize) as u32;
    let buffers =
        vec![x.handle.clone(), gamma.handle.clone(), beta.handle.clone(), stats.handle.clone(), output.handle.clone(), params_buffer];
    launch::launch(x, ring_wgpu_shaders::NORM_APPLY, groups, buffers);
    (launch::reshaped(output, x.meta.shape.clone()), stats)
}

/// The backward pass: the gradients of x, gamma and beta.
fn backward(
    x: &CubeTensor,
    gamma: &CubeTensor,
    stats: &CubeTensor,
    dy: &CubeTensor,
    params: NormParams,
) -> (CubeTensor, CubeTensor, CubeTensor) {
    let channels = params.channels as usize;
    let elements = params.batch as usize * channels * params.plane as usize;
    let sums = launch::empty(x, [2, channels], DType::F32);
    let params_buffer = launch::upload(x, &params);
    let buffers = vec![x.handle.clone(), dy.handle.clone(), stats.handle.clone(), sums.handle.clone(), params_buffer.clone()];
    launch::launch(x, ring_wgpu_shaders::NORM_GRAD_STATS, params.channels, buffers);
    let dx = launch::empty(x, [elements, 1], DType::F32);
    let groups = elements.div_ceil(ring_wgpu_shaders::NORM_GRAD_APPLY.workgroup_size as usize) as u32;
    let buffers = vec![
        x.handle.clone(),
        dy.handle.clone(),
        gamma.handle.clone(),
        stats.handle.clone(),
        sums.handle.clone(),
        dx.handle.clone(),
        params_buffer,
    ];
    launch::launch(x, ring_wgpu_shaders::NORM_GRAD_APPLY, groups, buffers);
    // sums is [beta's gradient; gamma's gradient], each [channels], in one buffer.
    let row = |r: usize| {
        let t: Tensor<1> = launch::float_tensor(sums.clone()).narrow(0, r, 1).reshape([channels]);
        t.try_into_primitive::<Wgpu>().expect("a slice of a wgpu tensor is a wgpu tensor")
    };
    let (dbeta, dgamma) = (row(0), row(1));
    (launch::reshaped(dx, x.meta.shape.clone()), dgamma, dbeta)
}

#[derive(Debug)]
struct NormBackward;

/// What the backward pass needs: x, gamma, the batch statistics, the parameters.
type NormState = (CubeTensor, CubeTensor, CubeTensor, NormParams);

impl Backward<Wgpu, 3> for NormBackward {
    type State = NormState;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let [node_x, node_gamma, node_beta] = ops.parents;
        let dy = grads.consume::<Wgpu>(&ops.node);
        let (x, gamma, stats, params) = ops.state;
        let dy = burn::backend::wgpu::into_contiguous(dy);
        let (dx, dgamma, dbeta) = backward(&x, &gamma, &stats, &dy, params);
        if let Some(node) = node_x {
            grads.register::<Wgpu>(node.id, dx);
        }
        if let Some(node) = node_gamma {
            grads.register::<Wgpu>(node.id, dgamma);
        }
        if let Some(node) = node_beta {
            grads.register::<Wgpu>(node.id, dbeta);
        }
    }
}

type AutodiffPrimitive = <Autodiff<Wgpu> as BackendTypes>::FloatTensorPrimitive;

fn tracked(
    x: AutodiffPrimitive,
    gamma: AutodiffPrimitive,
    beta: AutodiffPrimitive,
    params: NormParams,
) -> Option<(AutodiffPrimitive, CubeTensor)> {
    let xc = launch::contiguous_f32(x.primitive().clone())?;
    let gc = launch::contiguous_f32(gamma.primitive().clone())?;
    let bc = launch::contiguous_f32(beta.primitive().clone())?;
    let (output, stats) = forward(&xc, &gc, &bc, params);
    let out = match NormBackward.prepare::<NoCheckpointing>([x.node(), gamma.node(), beta.node()]).compute_bound().stateful() {
        OpsKind::Tracked(prep) => prep.finish((xc, gc, stats.clone(), params), output),
        OpsKind::UnTracked(prep) => prep.finish(output),
    };
    Some((out, stats))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_wgsl() {
        for kernel in [
            ring_wgpu_shaders::NORM_STATS,
            ring_wgpu_shaders::NORM_APPLY,
            ring_wgpu_shaders::NORM_GRAD_STATS,
            ring_wgpu_shaders::NORM_GRAD_APPLY,
        ] {
            launch::assert_layout_matches(kernel, "NormParams", &NormParams::FIELDS, std::mem::size_of::<NormParams>());
        }
    }
}
