//! Named starting points for a run ([`Preset`]); flags, files and fields set after it win.
//!
//! - `quick`: the default, a short MoCoRing run on the built-in synthetic set.
//! - `paper-cifar10-mocoring` / `paper-cifar10-moco` / `paper-cifar10-iring` /
//!   `paper-cifar10-ir`: the authors' published CIFAR-10 configurations
//!   (mhw32/contrastive-ring-public, `config/pretrain/mocov2/moco_ring.json`, `moco.json`,
//!   `config/pretrain/nce/nce_ring.json`, `nce.json`, with `scripts/run.py`'s
//!   MoCoLRScheduler), on our 32-pixel input path.

use serde::{Deserialize, Serialize};

use super::config::{Anneal, BankInit, ConfigError, DatasetKind, KnnFeatures, LrSchedule, LrUpdate, MethodKind, TrainConfig};
use crate::model::{EncoderKind, Head};

/// A named configuration to start a run from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Preset {
    /// A short MoCoRing run on the built-in synthetic set (the default).
    #[serde(rename = "quick")]
    #[cfg_attr(feature = "clap", value(name = "quick"))]
    Quick,
    /// The authors' CIFAR-10 MoCoRing.
    #[serde(rename = "paper-cifar10-mocoring")]
    #[cfg_attr(feature = "clap", value(name = "paper-cifar10-mocoring"))]
    PaperCifar10Mocoring,
    /// The authors' CIFAR-10 MoCo v2 baseline.
    #[serde(rename = "paper-cifar10-moco")]
    #[cfg_attr(feature = "clap", value(name = "paper-cifar10-moco"))]
    PaperCifar10Moco,
    /// The authors' CIFAR-10 IRing.
    #[serde(rename = "paper-cifar10-iring")]
    #[cfg_attr(feature = "clap", value(name = "paper-cifar10-iring"))]
    PaperCifar10Iring,
    /// The authors' CIFAR-10 instance discrimination.
    #[serde(rename = "paper-cifar10-ir")]
    #[cfg_attr(feature = "clap", value(name = "paper-cifar10-ir"))]
    PaperCifar10Ir,
}

impl Preset {
    /// Every preset, in the order `--help` lists them.
    pub const ALL: [Preset; 5] =
        [Preset::Quick, Preset::PaperCifar10Mocoring, Preset::PaperCifar10Moco, Preset::PaperCifar10Iring, Preset::PaperCifar10Ir];

    /// The name in configuration files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Quick => "quick",
            Preset::PaperCifar10Mocoring => "paper-cifar10-mocoring",
            Preset::PaperCifar10Moco => "paper-cifar10-moco",
            Preset::PaperCifar10Iring => "paper-cifar10-iring",
            Preset::PaperCifar10Ir => "paper-cifar10-ir",
        }
    }

    /// One line describing it (for help texts).
    pub fn description(self) -> &'static str {
        match self {
            Preset::Quick => "MoCoRing, small ResNet, built-in synthetic data, 15 epochs (the default; 20-40 s of training on 2 CPU cores)",
            Preset::PaperCifar10Mocoring => {
                "the authors' CIFAR-10 MoCoRing: ResNet-18, batch 256, 200 epochs, queue 65536, ring l = u/10, u = 10, no annealing"
            }
            Preset::PaperCifar10Moco => "the authors' CIFAR-10 MoCo v2 baseline: ResNet-18, batch 256, 200 epochs, queue 4096",
            Preset::PaperCifar10Iring => {
                "the authors' CIFAR-10 IRing: ResNet-18, MLP head, memory bank, k = 4096 draws from the ring l = u/10, u = 10"
            }
            Preset::PaperCifar10Ir => {
                "the authors' CIFAR-10 instance discrimination: ResNet-18, MLP head, memory bank, k = 4096 uniform draws"
            }
        }
    }

    /// Its configuration.
    pub fn config(self) -> TrainConfig {
        match self {
            Preset::Quick => TrainConfig::default(),
            Preset::PaperCifar10Mocoring => paper_cifar10(MethodKind::Mocoring, 65_536),
            Preset::PaperCifar10Moco => paper_cifar10(MethodKind::Moco, 4096),
            // config/pretrain/nce/nce_ring.json and nce.json: k = 4096, t = 0.07, m = 0, the
            // rest as MoCo's. Their JSON's `projection_head: false` is read nowhere in their
            // code: `CustomResNet` (src/models/resnet2.py) always builds the two-layer MLP head
            // and the system trains on its output, so the head is the MLP here too.
            Preset::PaperCifar10Iring | Preset::PaperCifar10Ir => TrainConfig {
                head: Head::Mlp,
                samples: 4096,
                bank_momentum: 0.0,
                // MemoryBank._create: uniform in +-1/sqrt(D/3), normalised.
                bank_init: BankInit::Random,
                queue: None,
                ..paper_cifar10(if self == Preset::PaperCifar10Iring { MethodKind::Iring } else { MethodKind::Ir }, 4096)
            },
        }
    }
}

impl std::str::FromStr for Preset {
    type Err = ConfigError;

    /// A preset by its [`Preset::name`]; an unknown name lists the known ones.
    fn from_str(name: &str) -> Result<Self, ConfigError> {
        Preset::ALL
            .into_iter()
            .find(|p| p.name() == name)
            .ok_or_else(|| ConfigError::UnknownPreset { name: name.into(), known: Preset::ALL.map(Preset::name).join(", ") })
    }
}

/// The configuration of the preset named `name` (see [`Preset`]).
pub fn preset(name: &str) -> Result<TrainConfig, ConfigError> {
    Ok(name.parse::<Preset>()?.config())
}

/// The authors' shared CIFAR-10 settings (both methods).
fn paper_cifar10(method: MethodKind, queue: usize) -> TrainConfig {
    TrainConfig {
        method,
        dataset: DatasetKind::Cifar10,
        model: EncoderKind::ResNet18,
        projection_dim: 128,
        epochs: 200,
        batch: 256,
        queue: Some(queue),
        temperature: 0.07,
        key_momentum: 0.999,
        // thres_outer = 0.1, thres_inner = 0.1 with dynamic_inner: l = u/10 of the outer set.
        upper: 10.0,
        inner_fraction: Some(0.1),
        // Their published configuration anneals nothing (linear_anneal etc. all false).
        anneal: Anneal::None,
        anneal_epochs: None,
        lr: 0.03,
        sgd_momentum: 0.9,
        weight_decay: 1e-4,
        // MoCoLRScheduler: x0.1 at int(0.68 E) and int(0.83 E), set at each epoch's start.
        lr_schedule: LrSchedule::Step,
        lr_milestones: vec![0.68, 0.83],
        lr_update: LrUpdate::Epoch,
        warmup_epochs: 0.0,
        seed: 1337,
        // Their monitor: the label of the single most similar training image, compared on
        // the normalised projection outputs.
        knn_k: 1,
        knn_features: KnnFeatures::Projection,
        knn_every: 1,
        ..TrainConfig::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_is_valid_and_described() {
        for p in Preset::ALL {
            p.config().validate().unwrap();
            assert!(!p.description().is_empty());
            assert_eq!(p.name().parse::<Preset>().unwrap(), p);
            assert_eq!(serde_json::to_value(p).unwrap(), serde_json::json!(p.name()));
        }
        assert!(preset("paper").unwrap_err().to_string().contains("paper-cifar10-mocoring"));
    }

    /// The values of the authors' moco_ring.json / moco.json and run.py, read from the preset.
    #[test]
    fn paper_presets_hold_the_published_values() {
        for (name, method, queue) in
            [("paper-cifar10-mocoring", MethodKind::Mocoring, 65_536), ("paper-cifar10-moco", MethodKind::Moco, 4096)]
        {
            let c = preset(name).unwrap();
            assert_eq!(c.method, method);
            assert_eq!(c.dataset, DatasetKind::Cifar10);
            assert_eq!(c.model, EncoderKind::ResNet18);
            assert_eq!((c.batch, c.epochs, c.projection_dim, c.seed), (256, 200, 128, 1337));
            assert_eq!((c.lr, c.sgd_momentum, c.weight_decay), (0.03, 0.9, 1e-4));
            assert_eq!((c.lr_schedule, c.lr_update, c.lr_milestones.clone()), (LrSchedule::Step, LrUpdate::Epoch, vec![0.68, 0.83]));
            assert_eq!((c.temperature, c.key_momentum, c.queue), (0.07, 0.999, Some(queue)));
            assert_eq!((c.upper, c.inner_fraction, c.anneal), (10.0, Some(0.1), Anneal::None));
            // Drop-last batches: 50,000 / 256 = 195 steps per epoch.
            assert_eq!(c.resolved(50_000).unwrap().queue, Some(queue));
        }
        let ring = preset("paper-cifar10-mocoring").unwrap().ring_schedule().unwrap();
        let window = ring.spec_at(0.0).window(65_536);
        assert_eq!((window.lo, window.hi), (655, 6553), "positions [655, 6553) of 65536");
        // nce_ring.json / nce.json: k = 4096, t = 0.07, m = 0, the MLP head their code
        // builds; the ring over the 50,000-entry bank is positions [500, 5000).
        for (name, method) in [("paper-cifar10-iring", MethodKind::Iring), ("paper-cifar10-ir", MethodKind::Ir)] {
            let c = preset(name).unwrap();
            assert_eq!((c.method, c.head, c.samples, c.bank_momentum, c.temperature), (method, Head::Mlp, 4096, 0.0, 0.07));
            assert_eq!(c.bank_init, BankInit::Random);
            assert_eq!((c.batch, c.epochs, c.lr, c.lr_schedule, c.lr_update), (256, 200, 0.03, LrSchedule::Step, LrUpdate::Epoch));
            let resolved = c.resolved(50_000).unwrap();
            assert_eq!(resolved.queue, None, "no queue for instance discrimination");
            let window = resolved.ring_schedule().unwrap().spec_at(0.0).window(50_000);
            assert_eq!((window.lo, window.hi), (500, 5000));
        }
    }
}
