//! MoCo and MoCoRing: momentum encoder, FIFO queue of keys, Ring NCE loss.
//!
//! One training step: embed both views (query encoder with autodiff, key encoder
//! without), update the key encoder as an exponential moving average of the query
//! encoder, choose each anchor's negatives in the queue (every entry for MoCo, the ring
//! for MoCoRing, on the GPU), take an SGD step on the Ring NCE loss, and enqueue the keys.
//! Nothing is read back; the returned loss is a GPU tensor.

mod ema;

use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, ModuleOptimizer, SgdConfig};
use burn::tensor::{Device, Distribution, Tensor};

use crate::model::{ContrastiveNet, EncoderKind};
use crate::ring::{ring_nce_loss, ring_select, similarities, Negatives, Pairing, RingError, RingSchedule};

pub use ema::{key_encoder, momentum_update};

/// MoCo / MoCoRing settings (defaults: MoCo v2 on CIFAR).
#[derive(Debug, Clone, PartialEq)]
pub struct MocoConfig {
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
    /// The ring and its annealing; `None` is plain MoCo.
    pub ring: Option<RingSchedule>,
    /// SGD momentum.
    pub sgd_momentum: f64,
    /// Weight decay.
    pub weight_decay: f64,
    /// Seed of the initial weights and the initial (random) queue.
    pub seed: u64,
}

impl Default for MocoConfig {
    fn default() -> Self {
        MocoConfig {
            encoder: EncoderKind::ResNet18,
            projection_dim: 128,
            queue_size: 4096,
            momentum: 0.999,
            temperature: 0.07,
            ring: None,
            sgd_momentum: 0.9,
            weight_decay: 1e-4,
            seed: 0,
        }
    }
}

/// The state of a MoCo / MoCoRing run.
pub struct Moco {
    config: MocoConfig,
    /// Query encoder (trained by SGD; on the autodiff device).
    pub query: ContrastiveNet,
    /// Key encoder (moving average of the query encoder; gradients off).
    pub key: ContrastiveNet,
    queue: Tensor<2>,
    queue_ptr: usize,
    optimizer: ModuleOptimizer,
}

/// Everything a run needs to continue exactly where it stopped (see [`Moco::state`]).
#[derive(Clone)]
pub struct MocoState {
    /// Query encoder.
    pub query: ContrastiveNet,
    /// Key encoder.
    pub key: ContrastiveNet,
    /// The key queue, K x projection_dim.
    pub queue: Tensor<2>,
    /// Next queue row to overwrite.
    pub queue_ptr: usize,
    /// SGD state (momentum buffers).
    pub optimizer: ModuleOptimizer,
}

/// The parts of a training step, in order (see [`Moco::step_with_probe`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StepPhase {
    /// Query and key encoders (with the key encoder's momentum update).
    Forward,
    /// Similarities to the queue and ring selection (nothing for plain MoCo).
    Ring,
    /// Ring NCE loss and its backward pass.
    Backward,
    /// SGD step and enqueueing the keys.
    Update,
}

/// What a step leaves on the GPU (read it back only when needed).
pub struct StepOutput {
    /// The loss, shape [1].
    pub loss: Tensor<1>,
    /// u in force for this step.
    pub upper: f64,
}

impl Moco {
    /// A new run on `device` (burn's device of the shared GPU).
    pub fn new(config: MocoConfig, device: &Device) -> Result<Self, RingError> {
        if config.queue_size == 0 || config.projection_dim == 0 {
            return Err(RingError::Shape("queue size and projection dimension must be positive".into()));
        }
        if !(0.0..=1.0).contains(&config.momentum) {
            return Err(RingError::Shape(format!("key-encoder momentum {} must be in [0, 1]", config.momentum)));
        }
        device.seed(config.seed);
        let autodiff = device.clone().autodiff();
        let query = ContrastiveNet::new(config.encoder, config.projection_dim, &autodiff);
        let key = ema::key_encoder(&query);
        let queue = crate::model::l2_normalise(Tensor::<2>::random(
            [config.queue_size, config.projection_dim],
            Distribution::Normal(0.0, 1.0),
            device,
        ));
        let optimizer = Self::new_optimizer(&config);
        Ok(Moco { config, query, key, queue, queue_ptr: 0, optimizer })
    }

    /// A fresh SGD optimizer for `config` (momentum with dampening 0, as PyTorch's SGD).
    pub fn new_optimizer(config: &MocoConfig) -> ModuleOptimizer {
        SgdConfig::new()
            .with_momentum(Some(MomentumConfig::new().with_momentum(config.sgd_momentum).with_dampening(0.0)))
            .with_weight_decay(Some(WeightDecayConfig::new(config.weight_decay as f32)))
            .init()
    }

    /// A snapshot of the run's state (cheap: tensors are shared, not copied).
    pub fn state(&self) -> MocoState {
        // burn keeps each batch norm's latest running-statistics update pending until the
        // statistics are next read; `valid` merges it (in the module's shared state), so a
        // saved state holds the statistics the next evaluation would use.
        let _ = burn::module::Module::valid(&self.query);
        let _ = burn::module::Module::valid(&self.key);
        MocoState {
            query: self.query.clone(),
            key: self.key.clone(),
            queue: self.queue.clone(),
            queue_ptr: self.queue_ptr,
            optimizer: self.optimizer.clone(),
        }
    }

    /// Continues a run from `state` (e.g. loaded from a checkpoint).
    pub fn from_state(config: MocoConfig, state: MocoState) -> Result<Self, RingError> {
        let want = [config.queue_size, config.projection_dim];
        if state.queue.dims() != want || state.queue_ptr >= config.queue_size {
            return Err(RingError::Shape(format!(
                "the saved queue is {:?} with pointer {}, but the settings ask for {want:?}",
                state.queue.dims(),
                state.queue_ptr
            )));
        }
        Ok(Moco {
            config,
            query: state.query,
            key: state.key,
            queue: state.queue,
            queue_ptr: state.queue_ptr,
            optimizer: state.optimizer,
        })
    }

    /// The settings.
    pub fn config(&self) -> &MocoConfig {
        &self.config
    }

    /// The key queue, K x projection_dim.
    pub fn queue(&self) -> &Tensor<2> {
        &self.queue
    }

    /// One step on a batch of two views (each B x 3 x H x W) at (fractional) `epoch`
    /// with learning rate `lr`.
    pub fn step(&mut self, view_q: Tensor<4>, view_k: Tensor<4>, epoch: f64, lr: f64) -> Result<StepOutput, RingError> {
        self.step_with_probe(view_q, view_k, epoch, lr, &mut |_| {})
    }

    /// [`Moco::step`], calling `probe` after each [`StepPhase`] has been queued (a
    /// benchmark syncs the device there to time the phases; training passes a no-op).
    pub fn step_with_probe(
        &mut self,
        view_q: Tensor<4>,
        view_k: Tensor<4>,
        epoch: f64,
        lr: f64,
        probe: &mut dyn FnMut(StepPhase),
    ) -> Result<StepOutput, RingError> {
        let b = view_q.dims()[0];
        if view_k.dims() != view_q.dims() {
            return Err(RingError::Shape(format!("views differ: {:?} vs {:?}", view_q.dims(), view_k.dims())));
        }
        if b > self.config.queue_size {
            return Err(RingError::Shape(format!(
                "batch {b} is larger than the queue ({}); use a larger queue",
                self.config.queue_size
            )));
        }
        let q = self.query.embed(view_q);
        // Module clones share their tensors: cheap.
        self.key = momentum_update(self.key.clone(), &self.query, self.config.momentum);
        let k = self.key.embed(view_k).detach();
        probe(StepPhase::Forward);

        let (negatives, upper) = match &self.config.ring {
            None => (Negatives::All, 100.0),
            Some(schedule) => {
                let spec = schedule.spec_at(epoch);
                if spec.upper() >= 100.0 && spec.lower() <= 0.0 {
                    (Negatives::All, 100.0)
                } else {
                    let sims = similarities(q.clone().without_autodiff(), self.queue.clone());
                    let ring = ring_select(sims, &spec, Pairing::None)?;
                    (Negatives::Mask(ring.mask()), spec.upper())
                }
            }
        };
        probe(StepPhase::Ring);
        let loss = ring_nce_loss(q, k.clone(), self.queue.clone(), negatives, self.config.temperature)?;
        let grads = GradientsParams::from_grads(loss.backward(), &self.query);
        probe(StepPhase::Backward);
        self.query = self.optimizer.step(lr, self.query.clone(), grads);

        // FIFO: overwrite the oldest keys.
        let k = k.without_autodiff();
        let end = self.queue_ptr + b;
        if end <= self.config.queue_size {
            self.queue = self.queue.clone().slice_assign([self.queue_ptr..end, 0..self.config.projection_dim], k);
        } else {
            let first = self.config.queue_size - self.queue_ptr;
            let d = self.config.projection_dim;
            self.queue = self
                .queue
                .clone()
                .slice_assign([self.queue_ptr..self.config.queue_size, 0..d], k.clone().slice([0..first, 0..d]))
                .slice_assign([0..b - first, 0..d], k.slice([first..b, 0..d]));
        }
        self.queue_ptr = end % self.config.queue_size;
        probe(StepPhase::Update);
        Ok(StepOutput { loss: loss.without_autodiff(), upper })
    }
}
