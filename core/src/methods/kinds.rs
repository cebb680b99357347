//! The names of the methods and of their choices that a configuration selects: which
//! method, how its memory banks start, which features evaluation compares.

use serde::{Deserialize, Serialize};

/// The contrastive method (each with and without Ring).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum MethodKind {
    /// MoCo with Ring negatives: only queue entries inside each anchor's ring.
    Mocoring,
    /// Plain MoCo: every queue entry is a negative.
    Moco,
    /// IRing: instance discrimination drawing its negatives from each anchor's ring of the memory bank.
    Iring,
    /// Instance discrimination (memory bank, negatives drawn uniformly from the whole bank).
    Ir,
    /// CMCRing: CMC drawing each view's negatives from the anchor's ring of the other view's bank.
    Cmcring,
    /// CMC (Lab split, L and ab encoders, two memory banks, cross-view negatives drawn uniformly).
    Cmc,
    /// SimCLR-Ring: in-batch negatives inside each anchor's ring of the other 2B - 2 views.
    SimclrRing,
    /// SimCLR: every other view of the batch is a negative (NT-Xent).
    Simclr,
}

impl MethodKind {
    /// Every method, in `--help` order.
    pub const ALL: [MethodKind; 8] = [
        MethodKind::Mocoring,
        MethodKind::Moco,
        MethodKind::Iring,
        MethodKind::Ir,
        MethodKind::Cmcring,
        MethodKind::Cmc,
        MethodKind::SimclrRing,
        MethodKind::Simclr,
    ];

    /// Does the method choose its negatives with a ring?
    pub fn uses_ring(self) -> bool {
        matches!(self, MethodKind::Mocoring | MethodKind::Iring | MethodKind::Cmcring | MethodKind::SimclrRing)
    }

    /// The same family with or without Ring.
    pub fn with_ring(self, ring: bool) -> MethodKind {
        use MethodKind::*;
        match (self, ring) {
            (Moco | Mocoring, true) => Mocoring,
            (Moco | Mocoring, false) => Moco,
            (Ir | Iring, true) => Iring,
            (Ir | Iring, false) => Ir,
            (Cmc | Cmcring, true) => Cmcring,
            (Cmc | Cmcring, false) => Cmc,
            (Simclr | SimclrRing, true) => SimclrRing,
            (Simclr | SimclrRing, false) => Simclr,
        }
    }

    /// The name used in configurations and on the command line (`mocoring`, `simclr-ring`, ...).
    pub fn name(self) -> &'static str {
        match self {
            MethodKind::Mocoring => "mocoring",
            MethodKind::Moco => "moco",
            MethodKind::Iring => "iring",
            MethodKind::Ir => "ir",
            MethodKind::Cmcring => "cmcring",
            MethodKind::Cmc => "cmc",
            MethodKind::SimclrRing => "simclr-ring",
            MethodKind::Simclr => "simclr",
        }
    }
}
/// What a memory bank holds before the first step (IR, IRing, CMC, CMCRing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum BankInit {
    /// Random unit vectors (IR's and CMC's code).
    Random,
    /// The untrained network's embeddings of the unaugmented training images.
    Encoder,
}
/// Which features the kNN monitor compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum KnnFeatures {
    /// Pooled backbone features (the representation a linear probe sees).
    Backbone,
    /// The projection head's L2-normalised output (the MoCo CIFAR demo; the authors' monitor).
    Projection,
}
