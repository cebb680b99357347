//! Which candidates are each anchor's negatives: every candidate (plain NCE) or the ring
//! (annealed), for any kind of candidate set (a MoCo queue, an IR memory bank, the other
//! views of a SimCLR batch). In-batch candidates ([`Pairing::SimClr`]) never count an
//! anchor or its own positive as a negative, whatever the sampler.

use burn::tensor::{Tensor, TensorData};

use crate::error::Result;
use crate::ring::{ring_select, similarities, Negatives, Pairing, RingSchedule};

/// How negatives are chosen among the candidates.
#[derive(Debug, Clone, PartialEq)]
pub enum NegativeSampler {
    /// Every candidate (MoCo, IR's whole bank, SimCLR's 2B - 2 other views).
    All,
    /// The candidates between the l% and u% marks of each anchor's similarity ranking,
    /// u annealed by the schedule (MoCoRing, SimCLR-Ring).
    Ring(RingSchedule),
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
    let values: Vec<f32> =
        (0..rows * cols).map(|i| if pairing.excludes(rows, i / cols, i % cols) { 0.0 } else { 1.0 }).collect();
    Tensor::<2>::from_data(TensorData::new(values, [rows, cols]), device)
}

impl NegativeSampler {
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
}
