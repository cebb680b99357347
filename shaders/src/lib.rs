//! WGSL compute kernels of ring-wgpu.
//!
//! Every kernel is one `.wgsl` file under `shaders/wgsl/`; the ring kernels are completed
//! by prepending `common.wgsl` (the `RingParams` block, the order key, the random
//! generator), the batch-norm kernels by prepending `norm_common.wgsl`: see
//! [`WgslKernel::source`]. The Rust side of each kernel (launch code and
//! the plain-Rust reference it is tested against) lives in `ring_wgpu_core::ring` and
//! `ring_wgpu_core::augment`.

/// Definitions shared by every kernel (parameter struct, order key, RNG).
pub const COMMON: &str = include_str!("../wgsl/common.wgsl");

/// Definitions the batch-norm kernels share (`NormParams`, the channel's element index).
pub const NORM_COMMON: &str = include_str!("../wgsl/norm_common.wgsl");

/// A kernel: its file name, the shared definitions it builds on, and its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WgslKernel {
    /// File name under `shaders/wgsl/`, e.g. `ring_select.wgsl`.
    pub file: &'static str,
    /// Text prepended to the body ([`COMMON`] for the ring kernels, empty otherwise).
    pub prelude: &'static str,
    /// The file's text.
    pub body: &'static str,
    /// Workgroup size in x (all kernels are 1-D in their workgroup).
    pub workgroup_size: u32,
}

impl WgslKernel {
    /// Complete WGSL module: the prelude followed by the body. Entry point: `main`.
    pub fn source(&self) -> String {
        let mut source = String::with_capacity(self.prelude.len() + self.body.len() + 1);
        source.push_str(self.prelude);
        source.push('\n');
        source.push_str(self.body);
        source
    }
}

/// Boundary elements of each row's ring (radix select).
pub const RING_SELECT: WgslKernel =
    WgslKernel { file: "ring_select.wgsl", prelude: COMMON, body: include_str!("../wgsl/ring_select.wgsl"), workgroup_size: 256 };

/// MoCoRing / SimCLR-Ring mask of ring membership.
pub const RING_MASK: WgslKernel =
    WgslKernel { file: "ring_mask.wgsl", prelude: COMMON, body: include_str!("../wgsl/ring_mask.wgsl"), workgroup_size: 256 };

/// Ring members of each row as a column list.
pub const RING_COMPACT: WgslKernel =
    WgslKernel { file: "ring_compact.wgsl", prelude: COMMON, body: include_str!("../wgsl/ring_compact.wgsl"), workgroup_size: 256 };

/// IRing: uniform draws with replacement from each row's ring.
pub const RING_SAMPLE: WgslKernel =
    WgslKernel { file: "ring_sample.wgsl", prelude: COMMON, body: include_str!("../wgsl/ring_sample.wgsl"), workgroup_size: 256 };

/// Two-view image augmentation (crop, flip, colour jitter, grayscale, normalise).
pub const AUGMENT: WgslKernel =
    WgslKernel { file: "augment.wgsl", prelude: "", body: include_str!("../wgsl/augment.wgsl"), workgroup_size: 256 };

/// Gaussian blur of augmented views, one direction per launch.
pub const BLUR: WgslKernel = WgslKernel { file: "blur.wgsl", prelude: "", body: include_str!("../wgsl/blur.wgsl"), workgroup_size: 256 };

/// CMC's colour split: normalised RGB views to normalised CIE Lab.
pub const LAB: WgslKernel = WgslKernel { file: "lab.wgsl", prelude: "", body: include_str!("../wgsl/lab.wgsl"), workgroup_size: 256 };

/// Batch norm (training): each channel's mean and biased variance, one workgroup per channel.
pub const NORM_STATS: WgslKernel =
    WgslKernel { file: "norm_stats.wgsl", prelude: NORM_COMMON, body: include_str!("../wgsl/norm_stats.wgsl"), workgroup_size: 256 };

/// Batch norm: the normalised, scaled and shifted output.
pub const NORM_APPLY: WgslKernel =
    WgslKernel { file: "norm_apply.wgsl", prelude: NORM_COMMON, body: include_str!("../wgsl/norm_apply.wgsl"), workgroup_size: 256 };

/// Batch norm's backward pass: the per-channel sums (beta's and gamma's gradients).
pub const NORM_GRAD_STATS: WgslKernel = WgslKernel {
    file: "norm_grad_stats.wgsl",
    prelude: NORM_COMMON,
    body: include_str!("../wgsl/norm_grad_stats.wgsl"),
    workgroup_size: 256,
};

/// Batch norm's backward pass: the input gradient.
pub const NORM_GRAD_APPLY: WgslKernel = WgslKernel {
    file: "norm_grad_apply.wgsl",
    prelude: NORM_COMMON,
    body: include_str!("../wgsl/norm_grad_apply.wgsl"),
    workgroup_size: 256,
};

/// Every kernel, for validation and warm-up.
pub const ALL: [WgslKernel; 11] =
    [RING_SELECT, RING_MASK, RING_COMPACT, RING_SAMPLE, AUGMENT, BLUR, LAB, NORM_STATS, NORM_APPLY, NORM_GRAD_STATS, NORM_GRAD_APPLY];
