//! Encoders (burn): CIFAR-style ResNets and the contrastive projection head, the
//! momentum (EMA) copy of an encoder, and a module's values as named tensors.

mod conv;
mod conv_transpose;
mod ema;
mod norm;
#[cfg(feature = "webgpu")]
mod norm_wgsl;
mod resnet;
mod state;

pub use conv::{GpuConv, conv2d, conv2d_by_matmul, conv2d_by_transpose, matmul_calls, tracked_transposed_calls, transposed_calls};
pub use ema::{key_encoder, momentum_update};
pub use norm::{batch_norm, batch_norm_relu, wgsl_norm_calls, wgsl_norm_enabled};
#[cfg(feature = "webgpu")]
pub use norm_wgsl::{NormParams, batch_norm_wgsl};
pub use resnet::{ContrastiveNet, EncoderKind, Head, ResNet, l2_normalise};
pub(crate) use state::ParamPath;
pub(crate) use state::draw_initial_values;
pub use state::{HostTensor, NamedTensors, load_named, named_tensors};
