//! Which candidates are each anchor's negatives: every candidate (plain NCE), the ring
//! (annealed), or k draws with replacement from either (IR, IRing), for any kind of
//! candidate set (a MoCo queue, an IR memory bank, the other views of a SimCLR batch).
//! In-batch candidates ([`Pairing::SimClr`]) never count an anchor or its own positive as
//! a negative, whatever the sampler.

use burn::tensor::{Int, Tensor, TensorData};

use crate::error::{Result, input_error};
use crate::ring::{Negatives, Pairing, RingSchedule, ring_select, similarities, uniform_below};

/// How negatives are chosen among the candidates.
#[derive(Debug, Clone, PartialEq)]
pub enum NegativeSampler {
    /// Every candidate (MoCo, IR's whole bank, SimCLR's 2B - 2 other views).
    All,
    /// The candidates between the l% and u% marks of each anchor's similarity ranking,
    /// u annealed by the schedule (MoCoRing, SimCLR-Ring).
    Ring(RingSchedule),
    /// `samples` draws per anchor, uniform with replacement over every candidate (IR).
    Uniform {
        /// Draws per anchor.
        samples: usize,
    },
    /// `samples` draws per anchor, uniform with replacement over its ring (IRing).
    RingSampled {
        /// The ring and its annealing.
        schedule: RingSchedule,
        /// Draws per anchor.
        samples: usize,
    },
}

/// The negatives chosen for one step.
#[derive(Debug, Clone)]
pub struct Chosen {
    /// For [`crate::ring::ring_nce_loss`].
    pub negatives: Negatives,
    /// u in force (100 for plain NCE).
    pub upper: f64,
}

/// 1.0 everywhere but the excluded columns of each row (`rows` x `cols`), as a constant.
fn pairing_mask(rows: usize, cols: usize, pairing: Pairing, device: &burn::tensor::Device) -> Tensor<2> {
    let values: Vec<f32> = (0..rows * cols).map(|i| if pairing.excludes(rows, i / cols, i % cols) { 0.0 } else { 1.0 }).collect();
    Tensor::<2>::from_data(TensorData::new(values, [rows, cols]), device)
}

impl NegativeSampler {
    /// u in force at `epoch` (100 for samplers without a ring).
    pub fn upper_at(&self, epoch: f64) -> f64 {
        match self {
            NegativeSampler::Ring(schedule) | NegativeSampler::RingSampled { schedule, .. } => schedule.upper_at(epoch),
            _ => 100.0,
        }
    }

    /// The negatives of `anchors` (B x D, L2-normalised; gradients are not needed here)
    /// among `candidates` (N x D) at (fractional) `epoch`. With [`Pairing::SimClr`] the
    /// candidates are the anchors themselves (2B x D, both views).
    pub fn choose(&self, anchors: Tensor<2>, candidates: Tensor<2>, pairing: Pairing, epoch: f64) -> Result<Chosen> {
        let [rows, _] = anchors.dims();
        let [cols, _] = candidates.dims();
        let all = || match pairing {
            Pairing::None => Negatives::All,
            Pairing::SimClr => Negatives::Mask(pairing_mask(rows, cols, pairing, &candidates.device())),
        };
        match self {
            NegativeSampler::Uniform { .. } | NegativeSampler::RingSampled { .. } => {
                input_error!("{self:?} draws samples: use NegativeSampler::choose_sampled")
            }
            NegativeSampler::All => Ok(Chosen { negatives: all(), upper: 100.0 }),
            NegativeSampler::Ring(schedule) => {
                let spec = schedule.spec_at(epoch);
                if spec.upper() >= 100.0 && spec.lower() <= 0.0 {
                    return Ok(Chosen { negatives: all(), upper: 100.0 });
                }
                let sims = similarities(anchors.without_autodiff(), candidates.without_autodiff());
                let ring = ring_select(sims, &spec, pairing)?;
                Ok(Chosen { negatives: Negatives::Mask(ring.mask()), upper: spec.upper() })
            }
        }
    }

    /// Drawn negatives (IR / IRing): for each anchor, `samples` candidate indices drawn
    /// uniformly with replacement from every candidate or from the anchor's ring,
    /// reproducible from `seed` (the counter-based generator the kernels use). The anchor's
    /// own entry stays among the candidates, as in the authors' code.
    pub fn choose_sampled(&self, anchors: Tensor<2>, candidates: Tensor<2>, epoch: f64, seed: u64) -> Result<Chosen> {
        let [rows, _] = anchors.dims();
        let [cols, _] = candidates.dims();
        match self {
            NegativeSampler::Uniform { samples } => {
                let device = candidates.device();
                let n = u32::try_from(cols).map_err(|_| crate::error::Error::Input(format!("{cols} candidates exceed 2^32")))?;
                let drawn: Vec<i32> =
                    (0..rows * samples).map(|i| uniform_below(n, seed, (i / samples) as u32, (i % samples) as u32) as i32).collect();
                let indices = Tensor::<2, Int>::from_data(TensorData::new(drawn, [rows, *samples]), &device);
                Ok(Chosen { negatives: Negatives::Sampled(indices), upper: 100.0 })
            }
            NegativeSampler::RingSampled { schedule, samples } => {
                let spec = schedule.spec_at(epoch);
                let sims = similarities(anchors.without_autodiff(), candidates.without_autodiff());
                let ring = ring_select(sims, &spec, Pairing::None)?;
                Ok(Chosen { negatives: Negatives::Sampled(ring.sample(*samples, seed)?), upper: spec.upper() })
            }
            _ => input_error!("{self:?} chooses a set, not samples: use NegativeSampler::choose"),
        }
    }
}
