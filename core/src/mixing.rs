//! Hard-negative mixing for the MoCo queue (MoCHi: Kalantidis, Sariyildiz, Pion, Weinzaepfel,
//! Larlus, *Hard Negative Mixing for Contrastive Learning*, NeurIPS 2020).
//!
//! For each anchor q, the `hardest` queue entries most similar to it (our `ring_select`
//! with l = 0 and u = hardest / K, then `sample` draws from that set) give
//! - `mixes` synthetic negatives `normalise(a n_i + (1 - a) n_j)`, a ~ U(0, 1), and
//! - `query_mixes` synthetic negatives `normalise(b q + (1 - b) n_j)`, b ~ U(0, 0.5),
//!
//! with n_i, n_j drawn uniformly (with replacement) from the hardest set. They join that
//! anchor's negatives only (a B x M x D tensor beside the shared queue), and carry no
//! gradient: q enters them detached, as in MoCHi.

use burn::tensor::{Int, Tensor, TensorData};

use crate::error::{Result, input_error};
use crate::ring::{InnerCut, Pairing, RingSpec, ring_select, similarities};
use crate::rng::SplitMix64;

/// MoCHi's settings: N (hardest), s (mixes), s' (query mixes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HardNegativeMixing {
    /// N: the mixes draw from each anchor's N most similar queue entries (at most the queue).
    pub hardest: usize,
    /// s: mixes of two hard negatives per anchor.
    pub mixes: usize,
    /// s': mixes of the anchor with a hard negative per anchor.
    pub query_mixes: usize,
}

impl HardNegativeMixing {
    /// Synthetic negatives per anchor.
    pub fn per_anchor(&self) -> usize {
        self.mixes + self.query_mixes
    }

    /// The synthetic negatives of `anchors` (B x D, L2-normalised) from `queue` (K x D):
    /// B x (mixes + query_mixes) x D, L2-normalised, reproducible from `seed`.
    pub fn synthesize(&self, anchors: Tensor<2>, queue: Tensor<2>, seed: u64) -> Result<Tensor<3>> {
        let anchors = anchors.without_autodiff().detach();
        let [b, _] = anchors.dims();
        let [k, _] = queue.dims();
        if self.hardest == 0 || self.per_anchor() == 0 || k == 0 {
            input_error!("hard-negative mixing needs hardest >= 1, at least one mix and a queue (got {self:?}, queue {k})");
        }
        let hardest = self.hardest.min(k);
        // Ranks [0, hardest) of each row: the ring with l = 0 and u = hardest / K.
        let spec = RingSpec::with_inner(100.0 * hardest as f64 / k as f64, InnerCut::Percent(0.0))?;
        let ring = ring_select(similarities(anchors.clone(), queue.clone()), &spec, Pairing::None)?;
        let picks = ring.sample(2 * self.mixes + self.query_mixes, seed)?;
        let mut rng = SplitMix64(seed ^ 0x6d6f_6368_695f_6d69);
        let alpha: Vec<f32> = (0..b * self.mixes).map(|_| rng.unit() as f32).collect();
        let beta: Vec<f32> = (0..b * self.query_mixes).map(|_| rng.range(0.0, 0.5) as f32).collect();
        let device = queue.device();
        let alpha = Tensor::<2>::from_data(TensorData::new(alpha, [b, self.mixes]), &device);
        let beta = Tensor::<2>::from_data(TensorData::new(beta, [b, self.query_mixes]), &device);
        Ok(mix(anchors, queue, picks, alpha, beta))
    }
}

/// The mixes from chosen queue rows: `picks` is B x (2s + s') queue indices (the first s
/// and the next s pair up; the last s' partner the anchor), `alpha` B x s, `beta` B x s'.
/// Returns B x (s + s') x D, each row L2-normalised.
pub fn mix(anchors: Tensor<2>, queue: Tensor<2>, picks: Tensor<2, Int>, alpha: Tensor<2>, beta: Tensor<2>) -> Tensor<3> {
    let [b, d] = anchors.dims();
    let [_, s] = alpha.dims();
    let [_, s2] = beta.dims();
    let total = 2 * s + s2;
    let rows = queue.select(0, picks.reshape([b * total])).reshape([b, total, d]);
    let mut parts = Vec::new();
    if s > 0 {
        let a = alpha.unsqueeze_dim::<3>(2);
        let first = rows.clone().slice([0..b, 0..s, 0..d]);
        let second = rows.clone().slice([0..b, s..2 * s, 0..d]);
        parts.push(first * a.clone() + second * a.neg().add_scalar(1.0));
    }
    if s2 > 0 {
        let w = beta.unsqueeze_dim::<3>(2);
        let partner = rows.slice([0..b, 2 * s..total, 0..d]);
        parts.push(anchors.unsqueeze_dim::<3>(1) * w.clone() + partner * w.neg().add_scalar(1.0));
    }
    let mixed = Tensor::cat(parts, 1);
    let norm = mixed.clone().powi_scalar(2).sum_dim(2).sqrt().clamp_min(1e-12);
    mixed / norm
}

/// Plain-Rust reference of [`mix`] on host slices (row-major; `picks` B x (2s + s')).
#[allow(clippy::too_many_arguments)]
pub fn mix_reference(
    anchors: &[f32],
    queue: &[f32],
    picks: &[u32],
    alpha: &[f32],
    beta: &[f32],
    b: usize,
    d: usize,
    s: usize,
    s2: usize,
) -> Vec<f32> {
    let total = 2 * s + s2;
    let row = |j: u32| &queue[j as usize * d..(j as usize + 1) * d];
    let mut out = Vec::with_capacity(b * (s + s2) * d);
    let mut push = |v: Vec<f64>| {
        let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt().max(1e-12);
        out.extend(v.iter().map(|x| (x / norm) as f32));
    };
    for i in 0..b {
        let p = &picks[i * total..(i + 1) * total];
        for m in 0..s {
            let a = alpha[i * s + m] as f64;
            push(row(p[m]).iter().zip(row(p[s + m])).map(|(&x, &y)| a * x as f64 + (1.0 - a) * y as f64).collect());
        }
        for m in 0..s2 {
            let w = beta[i * s2 + m] as f64;
            let q = &anchors[i * d..(i + 1) * d];
            push(q.iter().zip(row(p[2 * s + m])).map(|(&x, &y)| w * x as f64 + (1.0 - w) * y as f64).collect());
        }
    }
    out
}
