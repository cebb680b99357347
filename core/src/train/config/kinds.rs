//! The kinds a configuration chooses between that belong to training itself: where the
//! images come from, how u is annealed, and the loss over the chosen negatives.

use serde::{Deserialize, Serialize};

/// Where the images come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum DatasetKind {
    /// Built-in procedural textures in 10 classes (no download).
    Synthetic,
    /// CIFAR-10 binary version in data_dir.
    Cifar10,
    /// CIFAR-100 binary version (fine labels) in data_dir.
    Cifar100,
    /// STL-10 binary version in data_dir (train split; test for the monitor).
    Stl10,
    /// Image folders data_dir/train/<class>/* and data_dir/test/<class>/*.
    Folder,
}

/// How u moves from 100 (plain NCE) to its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Anneal {
    /// u at its target from the start (the authors' published configuration).
    None,
    /// u linear from 100 to the target (the paper).
    Linear,
    /// u in 4 equal drops.
    Step,
    /// u geometric from 100 to the target.
    Exponential,
}
/// The loss over the chosen negatives (see [`crate::objective`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum ObjectiveKind {
    /// InfoNCE (the paper's loss).
    Nce,
    /// Debiased contrastive loss (Chuang et al. 2020), with tau_plus.
    Dcl,
    /// Hard-negative reweighting (Robinson et al. 2021), with tau_plus and hcl_beta.
    Hcl,
}
