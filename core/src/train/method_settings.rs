//! A configuration turned into each method's settings: the one place where methods and
//! the choice of negatives meet [`TrainConfig`] (they sit below `train` and know nothing of it).

use burn::tensor::Device;

use super::TrainConfig;
use crate::augment::AugmentSpec;
use crate::error::{Result, input_error};
use crate::methods::{
    Cmc, CmcSettings, InstanceDiscrimination, IrSettings, Method, MethodKind, Moco, MocoSettings, SimClr, SimClrSettings,
};
use crate::negatives::NegativeSampler;
use crate::optim::SgdSettings;

impl MocoSettings {
    /// The settings of a resolved configuration ([`TrainConfig::resolved`]).
    pub fn from_config(config: &TrainConfig) -> Result<Self> {
        let Some(queue_size) = config.queue else {
            input_error!("MoCo needs the queue size: resolve the configuration first (TrainConfig::resolved)")
        };
        let negatives = NegativeSampler::for_method(config)?;
        Ok(MocoSettings {
            kind: config.method,
            encoder: config.model,
            projection_dim: config.projection_dim,
            queue_size,
            momentum: config.key_momentum,
            temperature: config.temperature,
            objective: config.loss_objective(),
            mixing: config.hard_negative_mixing(),
            negatives,
            sgd: SgdSettings { momentum: config.sgd_momentum, weight_decay: config.weight_decay },
            seed: config.seed,
        })
    }
}

impl IrSettings {
    /// The settings of a resolved configuration on `train_len` images.
    pub fn from_config(config: &TrainConfig, train_len: usize) -> Result<Self> {
        Ok(IrSettings {
            kind: config.method,
            encoder: config.model,
            head: config.head,
            projection_dim: config.projection_dim,
            bank_size: train_len,
            bank_momentum: config.bank_momentum,
            bank_init: config.bank_init,
            temperature: config.temperature,
            objective: config.loss_objective(),
            negatives: NegativeSampler::for_method(config)?,
            sgd: SgdSettings { momentum: config.sgd_momentum, weight_decay: config.weight_decay },
            seed: config.seed,
        })
    }
}

impl CmcSettings {
    /// The settings of a resolved configuration on `train_len` images.
    pub fn from_config(config: &TrainConfig, train_len: usize) -> Result<Self> {
        let spec = AugmentSpec::default();
        Ok(CmcSettings { memory: IrSettings::from_config(config, train_len)?, input_mean: spec.mean, input_std: spec.std })
    }
}

impl SimClrSettings {
    /// The settings of a configuration.
    pub fn from_config(config: &TrainConfig) -> Result<Self> {
        Ok(SimClrSettings {
            kind: config.method,
            encoder: config.model,
            head: config.head,
            projection_dim: config.projection_dim,
            temperature: config.temperature,
            objective: config.loss_objective(),
            negatives: NegativeSampler::for_method(config)?,
            sgd: SgdSettings { momentum: config.sgd_momentum, weight_decay: config.weight_decay },
            seed: config.seed,
        })
    }
}

impl NegativeSampler {
    /// The sampler of the method a configuration names.
    pub fn for_method(config: &TrainConfig) -> Result<Self> {
        let ring = || config.ring_schedule();
        Ok(match config.method {
            MethodKind::Moco | MethodKind::Simclr => NegativeSampler::All,
            MethodKind::Mocoring | MethodKind::SimclrRing => NegativeSampler::Ring(ring()?),
            MethodKind::Ir | MethodKind::Cmc => NegativeSampler::Uniform { samples: config.samples - 1 },
            MethodKind::Iring | MethodKind::Cmcring => NegativeSampler::RingSampled { schedule: ring()?, samples: config.samples - 1 },
        })
    }
}

/// A freshly initialised method for a resolved `config` (see [`TrainConfig::resolved`])
/// training on `train_len` images.
pub fn build_method(config: &TrainConfig, train_len: usize, device: &Device) -> Result<Box<dyn Method>> {
    Ok(match config.method {
        MethodKind::Moco | MethodKind::Mocoring => Box::new(Moco::new(MocoSettings::from_config(config)?, device)?),
        MethodKind::Ir | MethodKind::Iring => Box::new(InstanceDiscrimination::new(IrSettings::from_config(config, train_len)?, device)?),
        MethodKind::Cmc | MethodKind::Cmcring => Box::new(Cmc::new(CmcSettings::from_config(config, train_len)?, device)?),
        MethodKind::Simclr | MethodKind::SimclrRing => Box::new(SimClr::new(SimClrSettings::from_config(config)?, device)?),
    })
}
