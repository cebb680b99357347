//! Our convolution as one operation of burn's autodiff on the CPU backend (forward pass,
//! and both gradients in its backward step), and burn's own convolution everywhere else.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::{Autodiff, Flex};
use burn::tensor::ops::ConvOptions;
use burn::tensor::{DType, Tensor, TensorData};

use super::ConvGeometry;
use crate::cpu::flex::{AutodiffFlex, flex_values};

thread_local! {
    static CALLS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// How many convolutions (forward passes) our kernels have computed on this thread (burn runs an operation on
/// the thread that calls it, so a test counts only its own, whatever runs beside it).
pub fn calls() -> usize {
    CALLS.with(|c| c.get())
}

/// Is our CPU convolution in force (the default; `RING_WGPU_CPU_CONV=burn` turns it off)?
pub fn enabled() -> bool {
    static BURN: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    !crate::env_switch::is_set_to(&BURN, "RING_WGPU_CPU_CONV", "burn")
}

/// `conv2d(x, weight)` without bias, `stride` and symmetric zero `pad` in both directions:
/// our kernels on the CPU backend (with or without autodiff), burn's elsewhere.
pub fn conv2d(x: Tensor<4>, weight: Tensor<4>, stride: usize, pad: usize) -> Tensor<4> {
    let [batch, cin, height, width] = x.dims();
    let [cout, wcin, kh, kw] = weight.dims();
    let geometry = ConvGeometry { batch, cin, cout, height, width, kernel: kh, stride, pad };
    let ours = enabled() && wcin == cin && kh == kw && geometry.is_valid() && crate::gpu::is_cpu(&x.device());
    if ours && x.dtype() == DType::F32 && weight.dtype() == DType::F32 {
        if x.is_autodiff() || weight.is_autodiff() {
            let (xa, wa) = (x.clone().autodiff(), weight.clone().autodiff());
            if let (Ok(xp), Ok(wp)) = (xa.try_into_primitive::<Autodiff<Flex>>(), wa.try_into_primitive::<Autodiff<Flex>>()) {
                return Tensor::from_primitive::<Autodiff<Flex>>(tracked(xp, wp, geometry));
            }
        } else if let (Ok(xp), Ok(wp)) = (x.clone().try_into_primitive::<Flex>(), weight.clone().try_into_primitive::<Flex>()) {
            return Tensor::from_primitive::<Flex>(forward(&xp, &wp, &geometry));
        }
    }
    burn::tensor::module::conv2d(x, weight, None, ConvOptions::new([stride; 2], [pad; 2], [1; 2], 1))
}

fn tensor(values: Vec<f32>, shape: [usize; 4]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

fn forward(x: &FlexTensor, w: &FlexTensor, g: &ConvGeometry) -> FlexTensor {
    CALLS.with(|c| c.set(c.get() + 1));
    let y = super::conv2d_forward(&flex_values(x), &flex_values(w), g);
    tensor(y, [g.batch, g.cout, g.out_height(), g.out_width()])
}

#[derive(Debug)]
struct ConvBackward;

impl Backward<Flex, 2> for ConvBackward {
    type State = (FlexTensor, FlexTensor, ConvGeometry);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let [node_x, node_w] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node);
        let (x, w, g) = ops.state;
        let dy = flex_values(&dy);
        if let Some(node) = node_x {
            let dx = super::conv2d_input_grad(&dy, &flex_values(&w), &g);
            grads.register::<Flex>(node.id, tensor(dx, [g.batch, g.cin, g.height, g.width]));
        }
        if let Some(node) = node_w {
            let dw = super::conv2d_weight_grad(&flex_values(&x), &dy, &g);
            grads.register::<Flex>(node.id, tensor(dw, [g.cout, g.cin, g.kernel, g.kernel]));
        }
    }
}

fn tracked(x: AutodiffFlex, w: AutodiffFlex, g: ConvGeometry) -> AutodiffFlex {
    match ConvBackward.prepare::<NoCheckpointing>([x.node(), w.node()]).compute_bound().stateful() {
        OpsKind::Tracked(prep) => {
            let output = forward(x.primitive(), w.primitive(), &g);
            prep.finish((x.primitive().clone(), w.primitive().clone(), g), output)
        }
        OpsKind::UnTracked(prep) => prep.finish(forward(x.primitive(), w.primitive(), &g)),
    }
}
