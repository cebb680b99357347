//! Encoders (burn): CIFAR-style ResNets and the contrastive projection head.

mod resnet;

pub use resnet::{l2_normalise, ContrastiveNet, EncoderKind, ResNet};
