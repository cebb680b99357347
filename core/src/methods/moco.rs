//! MoCo and MoCoRing (He et al. 2020, MoCo v2 head; Wu et al. 2021): a momentum (EMA) key
//! encoder, a FIFO queue of keys as candidates, and the NCE loss against every queue
//! entry (MoCo) or only those inside each anchor's ring (MoCoRing).
//!
//! One step: embed view 0 with the query encoder (autodiff) and view 1 with the key
//! encoder (no gradients) after its momentum update; choose each anchor's negatives in
//! the queue; SGD step on the NCE loss; enqueue the keys.

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Distribution, Tensor, TensorData};

use super::MethodKind;
use super::{Batch, Encoder, HostState, Method, MethodState, StepContext, StepOutput, StepPhase, StepSimilarity};
use crate::error::CheckpointError;
use crate::error::{Error, Result, input_error};
use crate::mixing::HardNegativeMixing;
use crate::model::{ContrastiveNet, EncoderKind, key_encoder, load_named, momentum_update, named_tensors};
use crate::negatives::NegativeSampler;
use crate::objective::{Objective, contrastive_loss_with_extra};
use crate::optim::{Sgd, SgdSettings};
use crate::ring::Pairing;

/// MoCo / MoCoRing settings.
#[derive(Debug, Clone, PartialEq)]
pub struct MocoSettings {
    /// MoCo or MoCoRing.
    pub kind: MethodKind,
    /// Backbone.
    pub encoder: EncoderKind,
    /// Projection (embedding) dimension.
    pub projection_dim: usize,
    /// Keys in the queue (K).
    pub queue_size: usize,
    /// Key-encoder momentum m.
    pub momentum: f64,
    /// Temperature tau.
    pub temperature: f64,
    /// The loss over the chosen negatives (NCE, DCL or HCL).
    pub objective: Objective,
    /// Hard-negative mixing (MoCHi), if any.
    pub mixing: Option<HardNegativeMixing>,
    /// Every queue entry, or the ring.
    pub negatives: NegativeSampler,
    /// The optimiser.
    pub sgd: SgdSettings,
    /// Seed of the initial weights and the initial (random) queue.
    pub seed: u64,
}

/// A MoCo / MoCoRing run's networks, queue and optimiser.
pub struct Moco {
    settings: MocoSettings,
    /// Query encoder (trained by SGD; on the autodiff device).
    pub query: ContrastiveNet,
    /// Key encoder (moving average of the query encoder; gradients off).
    pub key: ContrastiveNet,
    queue: Tensor<2>,
    queue_ptr: usize,
    optimizer: Sgd,
}

impl Moco {
    /// A new run on `device` (seeded weights and queue).
    pub fn new(settings: MocoSettings, device: &Device) -> Result<Self> {
        if settings.queue_size == 0 || settings.projection_dim == 0 {
            input_error!("the queue size and the projection dimension must be positive");
        }
        let (query, queue) = crate::rng::seeded(device, settings.seed, || {
            // The weights, then the queue: the order the values were always drawn in.
            let query = ContrastiveNet::new(settings.encoder, settings.projection_dim, &device.clone().autodiff());
            crate::model::draw_initial_values(&query);
            let queue = Tensor::<2>::random([settings.queue_size, settings.projection_dim], Distribution::Normal(0.0, 1.0), device);
            (query, queue)
        });
        let key = key_encoder(&query);
        let queue = crate::model::l2_normalise(queue);
        let optimizer = Sgd::new(settings.sgd);
        Ok(Moco { settings, query, key, queue, queue_ptr: 0, optimizer })
    }

    /// The settings.
    pub fn settings(&self) -> &MocoSettings {
        &self.settings
    }

    /// The key queue, K x projection_dim.
    pub fn queue(&self) -> &Tensor<2> {
        &self.queue
    }

    /// FIFO: overwrites the oldest keys with `k` (B x D).
    fn enqueue(&mut self, k: Tensor<2>) {
        let (size, d) = (self.settings.queue_size, self.settings.projection_dim);
        let b = k.dims()[0];
        let end = self.queue_ptr + b;
        if end <= size {
            self.queue = self.queue.clone().slice_assign([self.queue_ptr..end, 0..d], k);
        } else {
            let first = size - self.queue_ptr;
            self.queue = self
                .queue
                .clone()
                .slice_assign([self.queue_ptr..size, 0..d], k.clone().slice([0..first, 0..d]))
                .slice_assign([0..b - first, 0..d], k.slice([first..b, 0..d]));
        }
        self.queue_ptr = end % size;
    }
}

impl Method for Moco {
    fn kind(&self) -> MethodKind {
        self.settings.kind
    }

    fn views_per_image(&self) -> usize {
        2
    }

    fn step(&mut self, batch: Batch, context: &StepContext, probe: &mut dyn FnMut(StepPhase)) -> Result<StepOutput> {
        let [view_q, view_k] = <[Tensor<4>; 2]>::try_from(batch.views)
            .map_err(|views| Error::Input(format!("MoCo takes two views per image, got {}", views.len())))?;
        if view_k.dims() != view_q.dims() {
            input_error!("the two views differ in shape: {:?} vs {:?}", view_q.dims(), view_k.dims());
        }
        let b = view_q.dims()[0];
        if b > self.settings.queue_size {
            input_error!("batch {b} is larger than the queue ({}); use a larger queue", self.settings.queue_size);
        }
        let q = self.query.embed(view_q);
        // Module clones share their tensors: cheap.
        self.key = momentum_update(self.key.clone(), &self.query, self.settings.momentum);
        let k = self.key.embed(view_k).detach();
        probe(StepPhase::Forward);

        let chosen = self.settings.negatives.choose(q.clone(), self.queue.clone(), Pairing::None, context.epoch)?;
        probe(StepPhase::Negatives);
        let extra = match &self.settings.mixing {
            Some(mixing) => {
                let seed = self.settings.seed ^ context.global_step.wrapping_mul(0x9e37_79b9_7f4a_7c15);
                Some(mixing.synthesize(q.clone(), self.queue.clone(), seed)?)
            }
            None => None,
        };
        let similarity = StepSimilarity::of(&q, &k, &self.queue, &chosen.negatives);
        let loss = contrastive_loss_with_extra(
            q,
            k.clone(),
            self.queue.clone(),
            chosen.negatives,
            extra,
            self.settings.temperature,
            self.settings.objective,
        )?;
        let grads = GradientsParams::from_grads(loss.backward(), &self.query);
        probe(StepPhase::Backward);
        self.query = self.optimizer.step(context.lr, self.query.clone(), grads);
        self.enqueue(k.without_autodiff());
        probe(StepPhase::Update);
        Ok(StepOutput { loss: loss.without_autodiff(), upper: chosen.upper, similarity })
    }

    fn encoder(&self) -> Box<dyn Encoder + '_> {
        Box::new(self.query.valid())
    }

    fn state(&self) -> MethodState {
        // burn keeps each batch norm's latest running-statistics update pending until the
        // statistics are next read; `valid` merges it (in the module's shared state), so
        // the state holds the statistics the next evaluation would use.
        let _ = self.query.valid();
        let _ = self.key.valid();
        let mut tensors = named_tensors(&self.query, "query.");
        tensors.extend(named_tensors(&self.key, "key."));
        tensors.extend(self.optimizer.state().into_iter().map(|(name, t)| (format!("sgd.{name}"), t)));
        let n = self.settings.queue_size * self.settings.projection_dim;
        tensors.push(("queue".into(), self.queue.clone().reshape([n])));
        MethodState { tensors, meta: serde_json::json!({ "queue_ptr": self.queue_ptr }) }
    }

    fn load_state(&mut self, mut state: HostState) -> Result<()> {
        let damaged = |what: String| Error::Checkpoint(CheckpointError::Damaged(what));
        let queue_ptr = state.meta.get("queue_ptr").and_then(|v| v.as_u64()).ok_or_else(|| damaged("no queue pointer".into()))? as usize;
        let (size, d) = (self.settings.queue_size, self.settings.projection_dim);
        let queue = state.tensors.remove("queue").ok_or_else(|| damaged("no queue".into()))?;
        if queue.values.len() != size * d || queue_ptr >= size {
            return Err(damaged(format!(
                "the queue holds {} values with pointer {queue_ptr}, the settings need {size} x {d}",
                queue.values.len()
            )));
        }
        let query = load_named(self.query.clone(), "query.", &mut state.tensors).map_err(|p| damaged(p.join("; ")))?;
        // The key encoder shares the query's parameter ids (the EMA matches them).
        let key = load_named(key_encoder(&query), "key.", &mut state.tensors).map_err(|p| damaged(p.join("; ")))?.no_grad();
        let device = self.queue.device();
        self.optimizer.load_host(std::mem::take(&mut state.tensors), &query, &device).map_err(damaged)?;
        self.queue = Tensor::<2>::from_data(TensorData::new(queue.values, [size, d]), &device);
        self.queue_ptr = queue_ptr;
        self.query = query;
        self.key = key;
        Ok(())
    }
}
