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

use super::{BankInit, MethodKind};
use super::{Batch, Encoder, HostState, Method, MethodState, StepContext, StepOutput, StepPhase, StepSimilarity};
use crate::error::CheckpointError;
use crate::error::{Error, Result, input_error};
use crate::model::{ContrastiveNet, EncoderKind, Head, l2_normalise, load_named, named_tensors};
use crate::negatives::NegativeSampler;
use crate::objective::{Objective, contrastive_loss};
use crate::optim::{Sgd, SgdSettings};

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
    /// The bank before the first step.
    pub bank_init: BankInit,
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
        let (net, bank) = crate::rng::seeded(device, settings.seed, || {
            // The bank, then the weights: the order the values were always drawn in.
            let net = ContrastiveNet::with_head(settings.encoder, 3, settings.head, settings.projection_dim, &device.clone().autodiff());
            let bank = random_bank(settings.bank_size, settings.projection_dim, device);
            crate::model::draw_initial_values(&net);
            (net, bank)
        });
        let optimizer = Sgd::new(settings.sgd);
        Ok(InstanceDiscrimination { settings, net, bank, optimizer })
    }

    /// The memory bank, N x D.
    pub fn bank(&self) -> &Tensor<2> {
        &self.bank
    }
}

/// A memory bank of `n` rows of dimension `d`: uniform in +-1/sqrt(d/3), L2-normalised
/// (IR's and CMC's initialisation).
pub(super) fn random_bank(n: usize, d: usize, device: &Device) -> Tensor<2> {
    let bound = 1.0 / (d as f64 / 3.0).sqrt();
    l2_normalise(Tensor::<2>::random([n, d], Distribution::Uniform(-bound, bound), device))
}

/// A bank of `len` rows: `embed` of the images `images` makes, in batches of `batch`.
pub(super) fn embedded_bank(
    images: &dyn Fn(std::ops::Range<usize>) -> Result<Tensor<4>>,
    len: usize,
    batch: usize,
    embed: &dyn Fn(Tensor<4>) -> Result<Tensor<2>>,
) -> Result<Tensor<2>> {
    let batch = batch.max(1);
    let rows = (0..len)
        .step_by(batch)
        .map(|start| Ok(embed(images(start..(start + batch).min(len))?)?.without_autodiff().detach()))
        .collect::<Result<Vec<_>>>()?;
    if rows.is_empty() {
        input_error!("the memory bank needs at least one image");
    }
    Ok(Tensor::cat(rows, 0))
}

/// Checks that `len` training images fill a bank of `bank_size` rows.
pub(super) fn check_bank_rows(len: usize, bank_size: usize) -> Result<()> {
    if len != bank_size {
        input_error!("the memory bank has {bank_size} rows but {len} training images were given");
    }
    Ok(())
}

/// `bank[i] <- normalise(m bank[i] + (1 - m) out_i)` at the batch's rows `indices`
/// (distinct within a batch).
pub(super) fn update_bank(bank: Tensor<2>, indices: Tensor<1, Int>, out: Tensor<2>, m: f64) -> Tensor<2> {
    let old = bank.clone().select(0, indices.clone());
    let updated = l2_normalise(old.clone().mul_scalar(m) + out.mul_scalar(1.0 - m));
    bank.select_assign(0, indices, updated - old, IndexingUpdateOp::Add)
}

/// The batch's dataset indices (one per image of `images`, each below `bank_size`) as a
/// tensor on `device`, for `method`'s error message.
pub(super) fn bank_rows(indices: &[u32], images: usize, bank_size: usize, method: &str, device: &Device) -> Result<Tensor<1, Int>> {
    if indices.len() != images || indices.iter().any(|&i| i as usize >= bank_size) {
        input_error!("{method} needs one dataset index below {bank_size} per image");
    }
    Ok(Tensor::<1, Int>::from_data(TensorData::new(indices.iter().map(|&i| i as i64).collect::<Vec<_>>(), [images]), device))
}

/// The seed of a step's negative draws.
pub(super) fn step_seed(seed: u64, global_step: u64) -> u64 {
    seed ^ global_step.wrapping_mul(0x2545_f491_4f6c_dd1d)
}

/// The `n` x `d` memory bank saved as `name` in a checkpoint's tensors (`what` names it in errors).
pub(super) fn load_bank(
    tensors: &mut std::collections::HashMap<String, crate::model::HostTensor>,
    name: &str,
    what: &str,
    (n, d): (usize, usize),
    device: &Device,
) -> Result<Tensor<2>> {
    let damaged = |what: String| Error::Checkpoint(CheckpointError::Damaged(what));
    let bank = tensors.remove(name).ok_or_else(|| damaged(format!("no {what}")))?;
    if bank.values.len() != n * d {
        return Err(damaged(format!("the {what} holds {} values, the settings need {n} x {d}", bank.values.len())));
    }
    Ok(Tensor::<2>::from_data(TensorData::new(bank.values, [n, d]), device))
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
        let indices = bank_rows(&batch.indices, view.dims()[0], self.settings.bank_size, "IR", &self.bank.device())?;
        let q = self.net.embed(view);
        let positives = self.bank.clone().select(0, indices.clone());
        probe(StepPhase::Forward);
        let seed = step_seed(self.settings.seed, context.global_step);
        let chosen = self.settings.negatives.choose_sampled(q.clone(), self.bank.clone(), context.epoch, seed)?;
        probe(StepPhase::Negatives);
        let similarity = StepSimilarity::of(&q, &positives, &self.bank, &chosen.negatives);
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
        self.bank = update_bank(self.bank.clone(), indices, q.without_autodiff().detach(), self.settings.bank_momentum);
        probe(StepPhase::Update);
        Ok(StepOutput { loss: loss.without_autodiff(), upper: chosen.upper, similarity })
    }

    fn initialise_banks(&mut self, images: &dyn Fn(std::ops::Range<usize>) -> Result<Tensor<4>>, len: usize, batch: usize) -> Result<()> {
        if self.settings.bank_init == BankInit::Encoder {
            check_bank_rows(len, self.settings.bank_size)?;
            // A training-mode copy with batch-norm statistics of its own (the network is
            // unchanged) that records no gradients (no graph is kept across the batches).
            let copy = self.net.valid().train().no_grad();
            self.bank = embedded_bank(images, len, batch, &|view| Ok(copy.embed(view)))?;
        }
        Ok(())
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
        let device = self.bank.device();
        let shape = (self.settings.bank_size, self.settings.projection_dim);
        let bank = load_bank(&mut state.tensors, "bank", "memory bank", shape, &device)?;
        self.net = load_named(self.net.clone(), "net.", &mut state.tensors).map_err(|p| damaged(p.join("; ")))?;
        self.optimizer.load_host(std::mem::take(&mut state.tensors), &self.net, &device).map_err(damaged)?;
        self.bank = bank;
        Ok(())
    }
}
