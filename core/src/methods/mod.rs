//! The method seam: every contrastive method (MoCo / MoCoRing, IR / IRing, CMC / CMCRing,
//! SimCLR / SimCLR-Ring, one file each) is a [`Method`]: one training step on a [`Batch`], its encoder
//! for evaluation, and its state as named tensors for checkpoints. The [`crate::train::Trainer`]
//! drives any of them the same way.

mod cmc;
mod ir;
mod kinds;
mod moco;
mod monitor;
mod simclr;

use std::collections::HashMap;

use burn::tensor::Tensor;

pub use cmc::{Cmc, CmcNets, CmcSettings, cmc_loss};
pub use ir::{InstanceDiscrimination, IrSettings};
pub use kinds::{BankInit, KnnFeatures, MethodKind};
pub use moco::{Moco, MocoSettings};
pub use monitor::{SIMILARITY_SUMS, SimilaritySummary, StepSimilarity, angle_degrees};
pub use simclr::{SimClr, SimClrSettings};

use crate::error::Result;
use crate::model::{ContrastiveNet, HostTensor, NamedTensors};

/// One step's input: the dataset indices of the batch's images (IR's memory bank is
/// indexed by them) and their augmented views, `views[v]` holding view `v` of every
/// image (B x 3 x S x S each).
#[derive(Debug, Clone)]
pub struct Batch {
    /// Dataset index of each image.
    pub indices: Vec<u32>,
    /// View v of every image; as many views as [`Method::views_per_image`].
    pub views: Vec<Tensor<4>>,
}

/// Where in the run a step happens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepContext {
    /// Fractional epoch (epochs completed + fraction of the current one).
    pub epoch: f64,
    /// Learning rate for this step.
    pub lr: f64,
    /// Steps taken before this one.
    pub global_step: u64,
}

/// The parts of a training step, in order (see [`Method::step`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StepPhase {
    /// Augmenting the batch's views (done by the trainer before the method's step).
    Augment,
    /// The encoders (and a momentum encoder's update).
    Forward,
    /// Choosing negatives: similarities and ring selection (nothing for plain NCE).
    Negatives,
    /// The loss and its backward pass.
    Backward,
    /// The optimiser step and updates of queues or memory banks.
    Update,
}

impl StepPhase {
    /// Every phase, in order.
    pub const ALL: [StepPhase; 5] = [StepPhase::Augment, StepPhase::Forward, StepPhase::Negatives, StepPhase::Backward, StepPhase::Update];

    /// Lower-case name (`augment`, `forward`, ...).
    pub fn name(self) -> &'static str {
        match self {
            StepPhase::Augment => "augment",
            StepPhase::Forward => "forward",
            StepPhase::Negatives => "negatives",
            StepPhase::Backward => "backward",
            StepPhase::Update => "update",
        }
    }
}

/// What a step leaves on the device (read it back only when needed).
#[derive(Debug, Clone)]
pub struct StepOutput {
    /// The loss, shape `[1]`.
    pub loss: Tensor<1>,
    /// u in force for this step (100 for plain NCE).
    pub upper: f64,
    /// Similarities of the anchors to their positives, negatives and each other.
    pub similarity: StepSimilarity,
}

/// A method's state: device tensors by name (networks, optimiser, queues, banks) and a
/// little JSON (pointers, counters). Checkpoints read the tensors back.
#[derive(Debug, Clone)]
pub struct MethodState {
    /// Tensors, flattened, by name.
    pub tensors: NamedTensors,
    /// Everything else.
    pub meta: serde_json::Value,
}

/// A [`MethodState`] read back to the host (from a checkpoint).
#[derive(Debug, Clone, Default)]
pub struct HostState {
    /// Values by name.
    pub tensors: HashMap<String, HostTensor>,
    /// Everything else.
    pub meta: serde_json::Value,
}

/// A trained network in evaluation mode (batch-norm running statistics, no autodiff).
pub trait Encoder {
    /// `features` of `images` (B x 3 x S x S): pooled backbone features or projections,
    /// L2-normalised, B x F.
    fn encode(&self, images: Tensor<4>, features: KnnFeatures) -> Tensor<2>;
}

impl Encoder for ContrastiveNet {
    fn encode(&self, images: Tensor<4>, features: KnnFeatures) -> Tensor<2> {
        match features {
            KnnFeatures::Backbone => crate::model::l2_normalise(self.features(images)),
            KnnFeatures::Projection => self.embed(images),
        }
    }
}

/// A contrastive learning method.
pub trait Method {
    /// Which method.
    fn kind(&self) -> MethodKind;

    /// Augmented views of each image a step needs (2 for MoCo and SimCLR, 1 for IR and CMC).
    fn views_per_image(&self) -> usize;

    /// One training step: forward, negatives, loss, backward, optimiser step, queue or
    /// bank update; `probe` is called after each phase has been queued (a benchmark
    /// syncs the device there to time the phases; training passes a no-op). Nothing is
    /// read back.
    fn step(&mut self, batch: Batch, context: &StepContext, probe: &mut dyn FnMut(StepPhase)) -> Result<StepOutput>;

    /// Called once before a new run's first step with the unaugmented training images in
    /// dataset order (`images(range)` makes those of `range`, `len` in all): a memory-bank
    /// method whose settings ask for [`BankInit::Encoder`] fills its banks with
    /// the untrained network's embeddings of them (training-mode batch statistics over
    /// batches of `batch`, on a copy: the network itself is unchanged). Others do nothing.
    fn initialise_banks(
        &mut self,
        _images: &dyn Fn(std::ops::Range<usize>) -> Result<Tensor<4>>,
        _len: usize,
        _batch: usize,
    ) -> Result<()> {
        Ok(())
    }

    /// The network to evaluate, in evaluation mode.
    fn encoder(&self) -> Box<dyn Encoder + '_>;

    /// The state to checkpoint (lazy: tensors stay on the device).
    fn state(&self) -> MethodState;

    /// Continues from a state saved by [`Method::state`] of the same configuration.
    fn load_state(&mut self, state: HostState) -> Result<()>;
}
