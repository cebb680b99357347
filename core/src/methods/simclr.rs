//! SimCLR and SimCLR-Ring (Chen et al. 2020; Wu et al. 2021): both views of every image
//! through one encoder; each of the 2B embeddings is an anchor whose positive is the other
//! view of its image and whose candidates are the other 2B - 2 embeddings (NT-Xent: never
//! itself, never its positive). SimCLR-Ring keeps, per anchor, only the candidates ranked
//! between the l% and u% marks of those 2B - 2. Gradients flow through anchors, positives
//! and candidates alike; the two views go through the encoder as one batch of 2B (batch
//! statistics over both views, as SimCLR's implementations do on one device).

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor};

use super::MethodKind;
use super::{Batch, Encoder, HostState, Method, MethodState, StepContext, StepOutput, StepPhase, StepSimilarity};
use crate::error::CheckpointError;
use crate::error::{Error, Result, input_error};
use crate::model::{ContrastiveNet, EncoderKind, Head, load_named, named_tensors};
use crate::negatives::NegativeSampler;
use crate::objective::{Objective, contrastive_loss};
use crate::optim::{Sgd, SgdSettings};
use crate::ring::Pairing;

/// SimCLR / SimCLR-Ring settings.
#[derive(Debug, Clone, PartialEq)]
pub struct SimClrSettings {
    /// SimCLR or SimCLR-Ring.
    pub kind: MethodKind,
    /// Backbone.
    pub encoder: EncoderKind,
    /// Projection head.
    pub head: Head,
    /// Projection dimension.
    pub projection_dim: usize,
    /// Temperature tau.
    pub temperature: f64,
    /// The loss over the chosen negatives (NCE, DCL or HCL).
    pub objective: Objective,
    /// Every other view, or the ring of them.
    pub negatives: NegativeSampler,
    /// The optimiser.
    pub sgd: SgdSettings,
    /// Seed of the initial weights.
    pub seed: u64,
}

/// A SimCLR run: one encoder and its optimiser.
pub struct SimClr {
    settings: SimClrSettings,
    /// The encoder (autodiff).
    pub net: ContrastiveNet,
    optimizer: Sgd,
    device: Device,
}

impl SimClr {
    /// A new run on `device` (seeded weights).
    pub fn new(settings: SimClrSettings, device: &Device) -> Result<Self> {
        let net = crate::rng::seeded(device, settings.seed, || {
            let net = ContrastiveNet::with_head(settings.encoder, 3, settings.head, settings.projection_dim, &device.clone().autodiff());
            crate::model::draw_initial_values(&net);
            net
        });
        let optimizer = Sgd::new(settings.sgd);
        Ok(SimClr { settings, net, optimizer, device: device.clone() })
    }
}

impl Method for SimClr {
    fn kind(&self) -> MethodKind {
        self.settings.kind
    }

    fn views_per_image(&self) -> usize {
        2
    }

    fn step(&mut self, batch: Batch, context: &StepContext, probe: &mut dyn FnMut(StepPhase)) -> Result<StepOutput> {
        let [a, b] = <[Tensor<4>; 2]>::try_from(batch.views)
            .map_err(|views| Error::Input(format!("SimCLR takes two views per image, got {}", views.len())))?;
        if a.dims() != b.dims() {
            input_error!("the two views differ in shape: {:?} vs {:?}", a.dims(), b.dims());
        }
        let n = a.dims()[0];
        if n < 2 {
            input_error!("SimCLR needs at least 2 images per batch (in-batch negatives), got {n}");
        }
        let z = self.net.embed(Tensor::cat(vec![a, b], 0)); // 2B x D: view a of every image, then view b
        let d = z.dims()[1];
        let positives = Tensor::cat(vec![z.clone().slice([n..2 * n, 0..d]), z.clone().slice([0..n, 0..d])], 0);
        probe(StepPhase::Forward);
        let chosen = self.settings.negatives.choose(z.clone(), z.clone(), Pairing::SimClr, context.epoch)?;
        probe(StepPhase::Negatives);
        let similarity = StepSimilarity::of(&z, &positives, &z, &chosen.negatives);
        let loss = contrastive_loss(z.clone(), positives, z, chosen.negatives, self.settings.temperature, self.settings.objective)?;
        let grads = GradientsParams::from_grads(loss.backward(), &self.net);
        probe(StepPhase::Backward);
        self.net = self.optimizer.step(context.lr, self.net.clone(), grads);
        probe(StepPhase::Update);
        Ok(StepOutput { loss: loss.without_autodiff(), upper: chosen.upper, similarity })
    }

    fn encoder(&self) -> Box<dyn Encoder + '_> {
        Box::new(self.net.valid())
    }

    fn state(&self) -> MethodState {
        let _ = self.net.valid();
        let mut tensors = named_tensors(&self.net, "net.");
        tensors.extend(self.optimizer.state().into_iter().map(|(name, t)| (format!("sgd.{name}"), t)));
        MethodState { tensors, meta: serde_json::json!({}) }
    }

    fn load_state(&mut self, mut state: HostState) -> Result<()> {
        let damaged = |what: String| Error::Checkpoint(CheckpointError::Damaged(what));
        self.net = load_named(self.net.clone(), "net.", &mut state.tensors).map_err(|p| damaged(p.join("; ")))?;
        self.optimizer.load_host(std::mem::take(&mut state.tensors), &self.net, &self.device).map_err(damaged)?;
        Ok(())
    }
}
