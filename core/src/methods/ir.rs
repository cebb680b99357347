//! Instance discrimination (Wu et al. 2018) and IRing (Wu et al. 2021), following the
//! authors' code (mhw32/contrastive-ring-public, `src/objectives/instdisc.py`,
//! `memory.py`): one view per image; a memory bank of N x D normalised embeddings (one per
//! training image, initialised uniform in +-1/sqrt(D/3) and normalised); the positive is
//! the anchor's own bank entry; IR draws k - 1 negatives uniformly with replacement from the
//! whole bank, IRing ranks the whole bank by similarity to the anchor (its own entry
//! included), keeps the ring and draws k - 1 from it uniformly with replacement,
//! independently per row; after the step, `bank[i] = normalise(m bank[i] + (1 - m) out_i)`.

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Distribution, IndexingUpdateOp, Int, Tensor, TensorData};

use super::{Batch, Encoder, HostState, Method, MethodState, StepContext, StepOutput, StepPhase};
use crate::error::{Error, Result, input_error};
use crate::model::{ContrastiveNet, EncoderKind, Head, l2_normalise, load_named, named_tensors};
use crate::negatives::NegativeSampler;
use crate::objective::{Objective, contrastive_loss};
use crate::train::{CheckpointError, MethodKind, Sgd, SgdSettings, TrainConfig};

/// IR / IRing settings.
#[derive(Debug, Clone, PartialEq)]
pub struct IrSettings {
    /// IR or IRing.
    pub kind: MethodKind,
    /// Backbone.
    pub encoder: EncoderKind,
    /// Projection head.
    pub head: Head,
    /// Embedding (bank) dimension.
    pub projection_dim: usize,
    /// Training images (bank rows).
    pub bank_size: usize,
    /// Bank momentum m.
    pub bank_momentum: f64,
    /// Temperature tau.
    pub temperature: f64,
    /// The loss over the chosen negatives (NCE, DCL or HCL).
    pub objective: Objective,
    /// Uniform draws from the bank, or from the ring.
    pub negatives: NegativeSampler,
    /// The optimiser.
    pub sgd: SgdSettings,
    /// Seed of the weights, the bank and the draws.
    pub seed: u64,
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
            temperature: config.temperature,
            objective: config.loss_objective(),
            negatives: NegativeSampler::for_method(config)?,
            sgd: SgdSettings { momentum: config.sgd_momentum, weight_decay: config.weight_decay },
            seed: config.seed,
        })
    }
}

/// An IR run: the encoder, the memory bank and the optimiser.
pub struct InstanceDiscrimination {
    settings: IrSettings,
    /// The encoder (autodiff).
    pub net: ContrastiveNet,
    bank: Tensor<2>,
    optimizer: Sgd,
}

impl InstanceDiscrimination {
    /// A new run on `device`: seeded weights and bank.
    pub fn new(settings: IrSettings, device: &Device) -> Result<Self> {
        if settings.bank_size == 0 || settings.projection_dim == 0 {
            input_error!("the memory bank needs at least one image and one dimension");
        }
        device.seed(settings.seed);
        let net = ContrastiveNet::with_head(settings.encoder, 3, settings.head, settings.projection_dim, &device.clone().autodiff());
        let bound = 1.0 / (settings.projection_dim as f64 / 3.0).sqrt();
        let bank =
            l2_normalise(Tensor::<2>::random([settings.bank_size, settings.projection_dim], Distribution::Uniform(-bound, bound), device));
        let optimizer = Sgd::new(settings.sgd);
        Ok(InstanceDiscrimination { settings, net, bank, optimizer })
    }

    /// The memory bank, N x D.
    pub fn bank(&self) -> &Tensor<2> {
        &self.bank
    }
}

impl Method for InstanceDiscrimination {
    fn kind(&self) -> MethodKind {
        self.settings.kind
    }

    fn views_per_image(&self) -> usize {
        1
    }

    fn step(&mut self, batch: Batch, context: &StepContext, probe: &mut dyn FnMut(StepPhase)) -> Result<StepOutput> {
        let [view] = <[Tensor<4>; 1]>::try_from(batch.views)
            .map_err(|views| Error::Input(format!("IR takes one view per image, got {}", views.len())))?;
        let b = view.dims()[0];
        if batch.indices.len() != b || batch.indices.iter().any(|&i| i as usize >= self.settings.bank_size) {
            input_error!("IR needs one dataset index below {} per image", self.settings.bank_size);
        }
        let device = self.bank.device();
        let indices =
            Tensor::<1, Int>::from_data(TensorData::new(batch.indices.iter().map(|&i| i as i64).collect::<Vec<_>>(), [b]), &device);
        let q = self.net.embed(view);
        let positives = self.bank.clone().select(0, indices.clone());
        probe(StepPhase::Forward);
        let seed = self.settings.seed ^ context.global_step.wrapping_mul(0x2545_f491_4f6c_dd1d);
        let chosen = self.settings.negatives.choose_sampled(q.clone(), self.bank.clone(), context.epoch, seed)?;
        probe(StepPhase::Negatives);
        let loss = contrastive_loss(
            q.clone(),
            positives.clone(),
            self.bank.clone(),
            chosen.negatives,
            self.settings.temperature,
            self.settings.objective,
        )?;
        let grads = GradientsParams::from_grads(loss.backward(), &self.net);
        probe(StepPhase::Backward);
        self.net = self.optimizer.step(context.lr, self.net.clone(), grads);
        // bank[i] <- normalise(m bank[i] + (1 - m) out_i); indices are distinct within a batch.
        let m = self.settings.bank_momentum;
        let updated = l2_normalise(positives.clone().mul_scalar(m) + q.without_autodiff().detach().mul_scalar(1.0 - m));
        self.bank = self.bank.clone().select_assign(0, indices, updated - positives, IndexingUpdateOp::Add);
        probe(StepPhase::Update);
        Ok(StepOutput { loss: loss.without_autodiff(), upper: chosen.upper })
    }

    fn encoder(&self) -> Box<dyn Encoder + '_> {
        Box::new(self.net.valid())
    }

    fn state(&self) -> MethodState {
        let _ = self.net.valid();
        let mut tensors = named_tensors(&self.net, "net.");
        tensors.extend(self.optimizer.state().into_iter().map(|(name, t)| (format!("sgd.{name}"), t)));
        let n = self.settings.bank_size * self.settings.projection_dim;
        tensors.push(("bank".into(), self.bank.clone().reshape([n])));
        MethodState { tensors, meta: serde_json::json!({}) }
    }

    fn load_state(&mut self, mut state: HostState) -> Result<()> {
        let damaged = |what: String| Error::Checkpoint(CheckpointError::Damaged(what));
        let (n, d) = (self.settings.bank_size, self.settings.projection_dim);
        let bank = state.tensors.remove("bank").ok_or_else(|| damaged("no memory bank".into()))?;
        if bank.values.len() != n * d {
            return Err(damaged(format!("the memory bank holds {} values, the settings need {n} x {d}", bank.values.len())));
        }
        let device = self.bank.device();
        self.net = load_named(self.net.clone(), "net.", &mut state.tensors).map_err(|p| damaged(p.join("; ")))?;
        self.optimizer.load_host(std::mem::take(&mut state.tensors), &device).map_err(damaged)?;
        self.bank = Tensor::<2>::from_data(TensorData::new(bank.values, [n, d]), &device);
        Ok(())
    }
}
