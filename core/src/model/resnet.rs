//! ResNets in their CIFAR form (3x3 stem, no max-pool) and the MoCo v2 projection head.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

/// Which backbone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum EncoderKind {
    /// Small ResNet (16-32-64, one block per stage, 64-d features): fast, fits browsers and software GPUs.
    Small,
    /// ResNet-18, CIFAR form (64-128-256-512, two blocks per stage, 512-d features).
    #[serde(rename = "resnet18")]
    #[cfg_attr(feature = "clap", value(name = "resnet18"))]
    ResNet18,
}

impl EncoderKind {
    /// Widths of the stages and basic blocks per stage.
    pub fn stages(self) -> (&'static [usize], usize) {
        match self {
            EncoderKind::ResNet18 => (&[64, 128, 256, 512], 2),
            EncoderKind::Small => (&[16, 32, 64], 1),
        }
    }

    /// Width of the pooled features.
    pub fn feature_dim(self) -> usize {
        *self.stages().0.last().expect("stages")
    }
}

fn conv3x3(inputs: usize, outputs: usize, stride: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([inputs, outputs], [3, 3])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .with_bias(false)
        .init(device)
}

/// `conv` applied to `x` through [`super::conv2d`] (on the CPU backend our kernels: same
/// result, faster gradients). Our convolutions have no bias and pad by half the kernel.
fn apply(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let [k, k2] = conv.kernel_size;
    if conv.bias.is_some() || conv.groups != 1 || conv.dilation != [1, 1] || k != k2 || conv.stride[0] != conv.stride[1] {
        return conv.forward(x);
    }
    super::conv2d(x, conv.weight.val(), conv.stride[0], k / 2)
}

/// `bn` applied to `x` through [`super::batch_norm`].
fn norm(bn: &BatchNorm, x: Tensor<4>) -> Tensor<4> {
    super::batch_norm(bn, x)
}

/// `relu(bn(x))` through [`super::batch_norm_relu`] (on the CPU backend one operation).
fn norm_relu(bn: &BatchNorm, x: Tensor<4>) -> Tensor<4> {
    super::batch_norm_relu(bn, x)
}

/// A basic residual block: two 3x3 convolutions with batch norm, 1x1 projection shortcut
/// when the shape changes.
#[derive(Module, Debug)]
struct BasicBlock {
    conv1: Conv2d,
    bn1: BatchNorm,
    conv2: Conv2d,
    bn2: BatchNorm,
    shortcut: Option<Conv2d>,
    shortcut_bn: Option<BatchNorm>,
}

impl BasicBlock {
    fn new(inputs: usize, outputs: usize, stride: usize, device: &Device) -> Self {
        let projection = stride != 1 || inputs != outputs;
        BasicBlock {
            conv1: conv3x3(inputs, outputs, stride, device),
            bn1: BatchNormConfig::new(outputs).init(device),
            conv2: conv3x3(outputs, outputs, 1, device),
            bn2: BatchNormConfig::new(outputs).init(device),
            shortcut: projection
                .then(|| Conv2dConfig::new([inputs, outputs], [1, 1]).with_stride([stride, stride]).with_bias(false).init(device)),
            shortcut_bn: projection.then(|| BatchNormConfig::new(outputs).init(device)),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let out = norm_relu(&self.bn1, apply(&self.conv1, x.clone()));
        let out = norm(&self.bn2, apply(&self.conv2, out));
        let skip = match (&self.shortcut, &self.shortcut_bn) {
            (Some(conv), Some(bn)) => norm(bn, apply(conv, x)),
            _ => x,
        };
        crate::cpu::residual::add_relu(out, skip)
    }
}

/// A CIFAR-form ResNet backbone: images (B x 3 x H x W) to pooled features (B x F).
#[derive(Module, Debug)]
pub struct ResNet {
    stem: Conv2d,
    stem_bn: BatchNorm,
    blocks: Vec<BasicBlock>,
}

impl ResNet {
    /// A freshly initialised backbone for RGB images.
    pub fn new(kind: EncoderKind, device: &Device) -> Self {
        Self::with_channels(kind, 3, device)
    }

    /// A freshly initialised backbone for images of `in_channels` channels (CMC's L and ab).
    pub fn with_channels(kind: EncoderKind, in_channels: usize, device: &Device) -> Self {
        let (widths, per_stage) = kind.stages();
        let mut blocks = Vec::new();
        let mut inputs = widths[0];
        for (stage, &width) in widths.iter().enumerate() {
            for i in 0..per_stage {
                let stride = if stage > 0 && i == 0 { 2 } else { 1 };
                blocks.push(BasicBlock::new(inputs, width, stride, device));
                inputs = width;
            }
        }
        ResNet { stem: conv3x3(in_channels, widths[0], 1, device), stem_bn: BatchNormConfig::new(widths[0]).init(device), blocks }
    }

    /// Pooled features, B x F.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let mut x = norm_relu(&self.stem_bn, apply(&self.stem, images));
        for block in &self.blocks {
            x = block.forward(x);
        }
        let [b, c, _, _] = x.dims();
        x.mean_dim(3).mean_dim(2).reshape([b, c])
    }
}

/// The projection head on top of the pooled features.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Head {
    /// Linear-ReLU-Linear (MoCo v2, SimCLR).
    Mlp,
    /// One linear layer (instance discrimination; the authors' `projection_head: false`).
    Linear,
}

/// Backbone plus projection head (Linear-ReLU-Linear to `projection_dim`, or one linear
/// layer), outputs L2-normalised.
#[derive(Module, Debug)]
pub struct ContrastiveNet {
    /// The backbone.
    pub backbone: ResNet,
    hidden: Option<Linear>,
    output: Linear,
}

/// Rows divided by their L2 norm.
pub fn l2_normalise(x: Tensor<2>) -> Tensor<2> {
    let norm = x.clone().powi_scalar(2).sum_dim(1).sqrt().clamp_min(1e-12);
    x / norm
}

impl ContrastiveNet {
    /// A freshly initialised network for RGB images with the MoCo v2 head.
    pub fn new(kind: EncoderKind, projection_dim: usize, device: &Device) -> Self {
        Self::with_head(kind, 3, Head::Mlp, projection_dim, device)
    }

    /// A freshly initialised network for `in_channels`-channel images with `head`.
    pub fn with_head(kind: EncoderKind, in_channels: usize, head: Head, projection_dim: usize, device: &Device) -> Self {
        let f = kind.feature_dim();
        ContrastiveNet {
            backbone: ResNet::with_channels(kind, in_channels, device),
            hidden: (head == Head::Mlp).then(|| LinearConfig::new(f, f).init(device)),
            output: LinearConfig::new(f, projection_dim).init(device),
        }
    }

    /// Pooled backbone features (for evaluation), B x F.
    pub fn features(&self, images: Tensor<4>) -> Tensor<2> {
        self.backbone.forward(images)
    }

    /// L2-normalised projections (for the contrastive loss), B x projection_dim.
    pub fn embed(&self, images: Tensor<4>) -> Tensor<2> {
        let h = self.backbone.forward(images);
        let h = match &self.hidden {
            Some(hidden) => relu(hidden.forward(h)),
            None => h,
        };
        l2_normalise(self.output.forward(h))
    }
}
