//! Contrastive multiview coding (Tian et al. 2019) and CMCRing (Wu et al. 2021, which
//! applies Ring to CMC; the authors' public code has no CMC, so this follows the CMC
//! paper's memory-bank form):
//! - one augmented view per image, split on the device into L and ab (CIE Lab,
//!   `shaders/wgsl/lab.wgsl`); two encoders, one for the 1-channel L, one for the
//!   2-channel ab, each with its own head;
//! - two memory banks of N x D normalised embeddings (`bank_l`, `bank_ab`), initialised and
//!   updated like IR's (`bank[i] = normalise(m bank[i] + (1 - m) out_i)`);
//! - the loss sums two cross-view terms: L's embedding against the ab bank (the positive is
//!   the image's own ab entry) and ab's embedding against the L bank; CMC draws k - 1
//!   negatives uniformly with replacement from the other view's bank, CMCRing draws them
//!   from the anchor's ring of that bank (ranked by similarity to the anchor, its own entry
//!   included, as IRing), independently for each term;
//! - evaluation concatenates the two encoders' L2-normalised features (as CMC's linear
//!   evaluation does) and normalises the result.

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Int, Tensor};

use super::ir::{IrSettings, bank_rows, check_bank_rows, embedded_bank, load_bank, random_bank, step_seed, update_bank};
use super::{BankInit, KnnFeatures, MethodKind};
use super::{Batch, Encoder, HostState, Method, MethodState, StepContext, StepOutput, StepPhase, StepSimilarity};
use crate::augment::rgb_to_lab_on_device;
use crate::error::CheckpointError;
use crate::error::{Error, Result, input_error};
use crate::model::{ContrastiveNet, l2_normalise, load_named, named_tensors};
use crate::negatives::Chosen;
use crate::objective::{Objective, contrastive_loss};
use crate::optim::Sgd;

/// CMC / CMCRing settings: those of a memory-bank method (as IR's, with `kind` CMC or
/// CMCRing, both encoders sharing backbone and head, one bank per view of `bank_size` rows)
/// and the normalisation of the RGB views the trainer hands in (undone before the Lab split).
#[derive(Debug, Clone, PartialEq)]
pub struct CmcSettings {
    /// Method, encoders, banks, loss, negatives, optimiser and seed (CMC's code: bank momentum 0.5).
    pub memory: IrSettings,
    /// Channel means of the input views.
    pub input_mean: [f32; 3],
    /// Channel standard deviations of the input views.
    pub input_std: [f32; 3],
}

/// CMC's two encoders, one module (one optimiser, one gradient pass).
#[derive(Module, Debug)]
pub struct CmcNets {
    /// The L encoder (1 input channel).
    pub l: ContrastiveNet,
    /// The ab encoder (2 input channels).
    pub ab: ContrastiveNet,
}

/// The L and ab halves of normalised Lab views.
fn split(lab: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
    let [b, _, h, w] = lab.dims();
    (lab.clone().slice([0..b, 0..1, 0..h, 0..w]), lab.slice([0..b, 1..3, 0..h, 0..w]))
}

/// The trained pair in evaluation mode, reading RGB views.
struct CmcEncoder {
    nets: CmcNets,
    mean: [f32; 3],
    std: [f32; 3],
}

impl Encoder for CmcEncoder {
    fn encode(&self, images: Tensor<4>, features: KnnFeatures) -> Tensor<2> {
        // The conversion fails only on inputs the trainer never passes (not 3 channels).
        let lab = rgb_to_lab_on_device(&images, self.mean, self.std).expect("CMC's encoder takes 3-channel RGB views");
        let (l, ab) = split(lab);
        let (fl, fab) = match features {
            KnnFeatures::Backbone => (l2_normalise(self.nets.l.features(l)), l2_normalise(self.nets.ab.features(ab))),
            KnnFeatures::Projection => (self.nets.l.embed(l), self.nets.ab.embed(ab)),
        };
        l2_normalise(Tensor::cat(vec![fl, fab], 1))
    }
}

/// The loss of one CMC step: `anchors_l` (B x D, the L encoder's embeddings) against the ab
/// bank with the negatives `chosen_l`, plus `anchors_ab` against the L bank with
/// `chosen_ab`; the positives are the banks' rows `indices`.
#[allow(clippy::too_many_arguments)]
pub fn cmc_loss(
    anchors_l: Tensor<2>,
    anchors_ab: Tensor<2>,
    bank_l: &Tensor<2>,
    bank_ab: &Tensor<2>,
    indices: Tensor<1, Int>,
    chosen_l: Chosen,
    chosen_ab: Chosen,
    temperature: f64,
    objective: Objective,
) -> Result<Tensor<1>> {
    let positive_ab = bank_ab.clone().select(0, indices.clone());
    let positive_l = bank_l.clone().select(0, indices);
    let l_to_ab = contrastive_loss(anchors_l, positive_ab, bank_ab.clone(), chosen_l.negatives, temperature, objective)?;
    let ab_to_l = contrastive_loss(anchors_ab, positive_l, bank_l.clone(), chosen_ab.negatives, temperature, objective)?;
    Ok(l_to_ab + ab_to_l)
}

/// A CMC run: the two encoders, the two memory banks and the optimiser.
pub struct Cmc {
    settings: CmcSettings,
    /// The encoders (autodiff).
    pub nets: CmcNets,
    bank_l: Tensor<2>,
    bank_ab: Tensor<2>,
    optimizer: Sgd,
}

impl Cmc {
    /// A new run on `device`: seeded weights and banks.
    pub fn new(settings: CmcSettings, device: &Device) -> Result<Self> {
        let m = &settings.memory;
        if m.bank_size == 0 || m.projection_dim == 0 {
            input_error!("the memory banks need at least one image and one dimension");
        }
        let (nets, bank_l, bank_ab) = crate::rng::seeded(device, m.seed, || {
            let autodiff = device.clone().autodiff();
            let nets = CmcNets {
                l: ContrastiveNet::with_head(m.encoder, 1, m.head, m.projection_dim, &autodiff),
                ab: ContrastiveNet::with_head(m.encoder, 2, m.head, m.projection_dim, &autodiff),
            };
            // The banks, then the weights: the order the values were always drawn in.
            let banks = (random_bank(m.bank_size, m.projection_dim, device), random_bank(m.bank_size, m.projection_dim, device));
            crate::model::draw_initial_values(&nets.l);
            crate::model::draw_initial_values(&nets.ab);
            (nets, banks.0, banks.1)
        });
        let optimizer = Sgd::new(m.sgd);
        Ok(Cmc { settings, nets, bank_l, bank_ab, optimizer })
    }

    /// The L view's memory bank, N x D.
    pub fn bank_l(&self) -> &Tensor<2> {
        &self.bank_l
    }

    /// The ab view's memory bank, N x D.
    pub fn bank_ab(&self) -> &Tensor<2> {
        &self.bank_ab
    }
}

impl Method for Cmc {
    fn kind(&self) -> MethodKind {
        self.settings.memory.kind
    }

    fn views_per_image(&self) -> usize {
        1
    }

    fn step(&mut self, batch: Batch, context: &StepContext, probe: &mut dyn FnMut(StepPhase)) -> Result<StepOutput> {
        let [view] = <[Tensor<4>; 1]>::try_from(batch.views)
            .map_err(|views| Error::Input(format!("CMC takes one view per image, got {}", views.len())))?;
        let m = &self.settings.memory;
        let indices = bank_rows(&batch.indices, view.dims()[0], m.bank_size, "CMC", &self.bank_l.device())?;
        let (l, ab) = split(rgb_to_lab_on_device(&view, self.settings.input_mean, self.settings.input_std)?);
        let (zl, zab) = (self.nets.l.embed(l), self.nets.ab.embed(ab));
        probe(StepPhase::Forward);
        let seed = step_seed(m.seed, context.global_step);
        let chosen_l = m.negatives.choose_sampled(zl.clone(), self.bank_ab.clone(), context.epoch, seed)?;
        let chosen_ab = m.negatives.choose_sampled(zab.clone(), self.bank_l.clone(), context.epoch, !seed)?;
        let upper = chosen_l.upper;
        probe(StepPhase::Negatives);
        let similarity = StepSimilarity::of(&zl, &self.bank_ab.clone().select(0, indices.clone()), &self.bank_ab, &chosen_l.negatives)
            .and(StepSimilarity::of(&zab, &self.bank_l.clone().select(0, indices.clone()), &self.bank_l, &chosen_ab.negatives));
        let loss = cmc_loss(
            zl.clone(),
            zab.clone(),
            &self.bank_l,
            &self.bank_ab,
            indices.clone(),
            chosen_l,
            chosen_ab,
            m.temperature,
            m.objective,
        )?;
        let grads = GradientsParams::from_grads(loss.backward(), &self.nets);
        probe(StepPhase::Backward);
        self.nets = self.optimizer.step(context.lr, self.nets.clone(), grads);
        let momentum = self.settings.memory.bank_momentum;
        self.bank_l = update_bank(self.bank_l.clone(), indices.clone(), zl.without_autodiff().detach(), momentum);
        self.bank_ab = update_bank(self.bank_ab.clone(), indices, zab.without_autodiff().detach(), momentum);
        probe(StepPhase::Update);
        Ok(StepOutput { loss: loss.without_autodiff(), upper, similarity })
    }

    fn initialise_banks(&mut self, images: &dyn Fn(std::ops::Range<usize>) -> Result<Tensor<4>>, len: usize, batch: usize) -> Result<()> {
        let m = &self.settings.memory;
        if m.bank_init == BankInit::Encoder {
            check_bank_rows(len, m.bank_size)?;
            // Training-mode copies with batch-norm statistics of their own: the networks are unchanged.
            let (net_l, net_ab) = (self.nets.l.valid().train().no_grad(), self.nets.ab.valid().train().no_grad());
            let (mean, std) = (self.settings.input_mean, self.settings.input_std);
            self.bank_l = embedded_bank(images, len, batch, &|view| Ok(net_l.embed(split(rgb_to_lab_on_device(&view, mean, std)?).0)))?;
            self.bank_ab = embedded_bank(images, len, batch, &|view| Ok(net_ab.embed(split(rgb_to_lab_on_device(&view, mean, std)?).1)))?;
        }
        Ok(())
    }

    fn encoder(&self) -> Box<dyn Encoder + '_> {
        Box::new(CmcEncoder { nets: self.nets.valid(), mean: self.settings.input_mean, std: self.settings.input_std })
    }

    fn state(&self) -> MethodState {
        let _ = self.nets.valid();
        let mut tensors = named_tensors(&self.nets, "nets.");
        tensors.extend(self.optimizer.state().into_iter().map(|(name, t)| (format!("sgd.{name}"), t)));
        let n = self.settings.memory.bank_size * self.settings.memory.projection_dim;
        tensors.push(("bank_l".into(), self.bank_l.clone().reshape([n])));
        tensors.push(("bank_ab".into(), self.bank_ab.clone().reshape([n])));
        MethodState { tensors, meta: serde_json::json!({}) }
    }

    fn load_state(&mut self, mut state: HostState) -> Result<()> {
        let damaged = |what: String| Error::Checkpoint(CheckpointError::Damaged(what));
        let shape = (self.settings.memory.bank_size, self.settings.memory.projection_dim);
        let device = self.bank_l.device();
        let bank_l = load_bank(&mut state.tensors, "bank_l", "memory bank bank_l", shape, &device)?;
        let bank_ab = load_bank(&mut state.tensors, "bank_ab", "memory bank bank_ab", shape, &device)?;
        self.nets = load_named(self.nets.clone(), "nets.", &mut state.tensors).map_err(|p| damaged(p.join("; ")))?;
        self.optimizer.load_host(std::mem::take(&mut state.tensors), &self.nets, &device).map_err(damaged)?;
        self.bank_l = bank_l;
        self.bank_ab = bank_ab;
        Ok(())
    }
}
