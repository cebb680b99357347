//! Encoders (burn): CIFAR-style ResNets and the contrastive projection head, the
//! momentum (EMA) copy of an encoder, and a module's values as named tensors.

mod ema;
mod resnet;
mod state;

pub use ema::{key_encoder, momentum_update};
pub use resnet::{l2_normalise, ContrastiveNet, EncoderKind, ResNet};
pub use state::{load_named, named_tensors, HostTensor, NamedTensors};
pub(crate) use state::ParamPath;
