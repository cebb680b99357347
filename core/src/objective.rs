//! The contrastive objective over the negatives a method chose: plain NCE (InfoNCE), the
//! debiased contrastive loss (DCL, Chuang et al. 2020) or hard-negative reweighting (HCL,
//! Robinson et al. 2021). All three take the same [`Negatives`] (every candidate, a ring
//! mask, or sampled indices), so each combines with Ring or uniform negatives.
//!
//! With `s+ = q.k+ / t`, the anchor's chosen negatives `s_j = q.k_j / t` (multiplicities
//! `m_j`, `N = sum m_j`) and importance weights `w_j = exp(beta s_j)`:
//!
//! `Ng = max((N sum_j m_j w_j e^{s_j} / sum_j m_j w_j - tau+ N e^{s+}) / (1 - tau+), N e^{-1/t})`,
//! `loss = -log(e^{s+} / (e^{s+} + Ng))`,
//!
//! averaged over the anchors. DCL is beta = 0; with tau+ = 0 and beta = 0, `Ng` is the sum
//! of the negatives' `e^{s_j}` (unless that falls below the floor) and the loss is NCE's.
//! As in the authors' code, the weights are not detached: gradients flow through them.

use burn::tensor::Tensor;

use crate::ring::{Negatives, NegativesRef, RingError, ring_nce_loss};

/// The loss applied to the chosen negatives.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Objective {
    /// InfoNCE: `-log(e^{s+} / (e^{s+} + sum_j m_j e^{s_j}))`.
    Nce,
    /// Debiased contrastive loss: corrects for negatives that share the anchor's class,
    /// assumed a fraction `tau_plus` of the candidates (the class prior; 0.1 for 10 classes).
    Debiased {
        /// Class prior tau+ in [0, 1).
        tau_plus: f64,
    },
    /// Hard-negative reweighting: DCL with negatives weighted by `exp(beta s_j)`,
    /// concentrating the loss on the negatives most similar to the anchor.
    HardNegatives {
        /// Class prior tau+ in [0, 1).
        tau_plus: f64,
        /// Concentration beta >= 0 (0: DCL; the authors use 0.5-1 on CIFAR).
        beta: f64,
    },
}

impl Objective {
    /// (tau+, beta) of the debiased forms; `None` for NCE.
    fn parameters(self) -> Option<(f64, f64)> {
        match self {
            Objective::Nce => None,
            Objective::Debiased { tau_plus } => Some((tau_plus, 0.0)),
            Objective::HardNegatives { tau_plus, beta } => Some((tau_plus, beta)),
        }
    }

    /// Checks the parameters.
    pub fn validate(self) -> Result<(), RingError> {
        if let Some((tau_plus, beta)) = self.parameters() {
            if !(tau_plus.is_finite() && (0.0..1.0).contains(&tau_plus)) {
                return Err(RingError::Shape(format!("tau+ = {tau_plus} must be in [0, 1) (the class prior, e.g. 0.1)")));
            }
            if !(beta.is_finite() && beta >= 0.0) {
                return Err(RingError::Shape(format!("beta = {beta} must be a number >= 0")));
            }
        }
        Ok(())
    }
}

/// The objective's loss (mean over the B anchors); arguments as [`ring_nce_loss`].
pub fn contrastive_loss(
    q: Tensor<2>,
    positives: Tensor<2>,
    candidates: Tensor<2>,
    negatives: Negatives,
    temperature: f64,
    objective: Objective,
) -> Result<Tensor<1>, RingError> {
    contrastive_loss_with_extra(q, positives, candidates, negatives, None, temperature, objective)
}

/// [`contrastive_loss`] with per-anchor negatives besides the shared candidates: `extra`
/// is B x M x D (e.g. MoCHi's synthetic hard negatives), each counted once for its anchor.
pub fn contrastive_loss_with_extra(
    q: Tensor<2>,
    positives: Tensor<2>,
    candidates: Tensor<2>,
    negatives: Negatives,
    extra: Option<Tensor<3>>,
    temperature: f64,
    objective: Objective,
) -> Result<Tensor<1>, RingError> {
    objective.validate()?;
    if extra.is_none() && objective == Objective::Nce {
        return ring_nce_loss(q, positives, candidates, negatives, temperature);
    }
    let (tau_plus, beta, floored) = match objective.parameters() {
        Some((tau_plus, beta)) => (tau_plus, beta, true),
        None => (0.0, 0.0, false),
    };
    let [b, d] = q.dims();
    let [n, _] = candidates.dims();
    if positives.dims() != [b, d] || candidates.dims()[1] != d {
        return Err(RingError::Shape(format!(
            "q is [{b}, {d}], positives {:?}, candidates {:?}: expected [{b}, {d}] and [N, {d}]",
            positives.dims(),
            candidates.dims()
        )));
    }
    if !(temperature.is_finite() && temperature > 0.0) {
        return Err(RingError::Shape(format!("temperature {temperature} must be a positive number (MoCo uses 0.07)")));
    }
    let positive = (q.clone() * positives).sum_dim(1).div_scalar(temperature); // B x 1
    let extra_logits = match extra {
        Some(extra) => {
            let [rows, m, width] = extra.dims();
            if rows != b || width != d || m == 0 {
                return Err(RingError::Shape(format!("extra negatives are [{rows}, {m}, {width}], expected [{b}, M > 0, {d}]")));
            }
            Some((q.clone().unsqueeze_dim::<3>(1) * extra).sum_dim(2).reshape([b, m]).div_scalar(temperature))
        }
        None => None,
    };
    let logits = q.matmul(candidates.transpose()).div_scalar(temperature); // B x N
    let (negative, multiplicity) = match negatives {
        Negatives::All => {
            let ones = logits.ones_like().detach();
            (logits, ones)
        }
        Negatives::Mask(mask) => {
            if mask.dims() != [b, n] {
                return Err(RingError::Shape(format!("mask is {:?}, expected [{b}, {n}]", mask.dims())));
            }
            (logits, mask)
        }
        Negatives::Sampled(indices) => {
            let [rows, k] = indices.dims();
            if rows != b || k == 0 {
                return Err(RingError::Shape(format!("sampled indices are [{rows}, {k}], expected [{b}, k > 0]")));
            }
            let picked = logits.gather(1, indices);
            let ones = picked.ones_like().detach();
            (picked, ones)
        }
    };
    let (negative, multiplicity) = match extra_logits {
        Some(e) => {
            let ones = e.ones_like().detach();
            (Tensor::cat(vec![negative, e], 1), Tensor::cat(vec![multiplicity, ones], 1))
        }
        None => (negative, multiplicity),
    };
    // Everything is scaled by e^{-c}, c the row's largest logit (a constant), so that
    // e^{s} cannot overflow at small temperatures; the loss is shift-invariant in c.
    let c = Tensor::cat(vec![positive.clone(), negative.clone()], 1).detach().max_dim(1); // B x 1
    let count = multiplicity.clone().sum_dim(1); // N per row
    // Importance weights, relative to the row's largest candidate logit (w <= 1).
    let shift = negative.clone().detach().max_dim(1);
    let weights = (negative.clone() - shift).mul_scalar(beta).exp() * multiplicity;
    let weighted = (weights.clone() * (negative - c.clone()).exp()).sum_dim(1);
    let reweighted = weighted * count.clone() / weights.sum_dim(1).clamp_min(f32::MIN_POSITIVE as f64);
    let positive_e = (positive.clone() - c.clone()).exp();
    let estimate = (reweighted - positive_e.clone() * count.clone().mul_scalar(tau_plus)).div_scalar(1.0 - tau_plus);
    let ng = if floored {
        let floor = count * (c.clone().neg().sub_scalar(1.0 / temperature)).exp();
        estimate.max_pair(floor)
    } else {
        estimate
    };
    Ok(((positive_e + ng).log() + c - positive).mean())
}

/// Plain-Rust (f64) reference of [`contrastive_loss`] on host slices: the mean loss.
/// `candidates` N x D, `q` and `positives` B x D, row-major.
#[allow(clippy::too_many_arguments)]
pub fn contrastive_loss_reference(
    q: &[f32],
    positives: &[f32],
    candidates: &[f32],
    negatives: NegativesRef<'_>,
    b: usize,
    n: usize,
    d: usize,
    temperature: f64,
    objective: Objective,
) -> f64 {
    contrastive_loss_with_extra_reference(q, positives, candidates, negatives, None, b, n, d, temperature, objective)
}

/// Reference of [`contrastive_loss_with_extra`]: `extra` is (B x M x D values, M).
#[allow(clippy::too_many_arguments)]
pub fn contrastive_loss_with_extra_reference(
    q: &[f32],
    positives: &[f32],
    candidates: &[f32],
    negatives: NegativesRef<'_>,
    extra: Option<(&[f32], usize)>,
    b: usize,
    n: usize,
    d: usize,
    temperature: f64,
    objective: Objective,
) -> f64 {
    let dot = |x: &[f32], y: &[f32]| x.iter().zip(y).map(|(&a, &c)| a as f64 * c as f64).sum::<f64>();
    let (tau_plus, beta) = objective.parameters().unwrap_or((0.0, 0.0));
    let mut total = 0.0;
    for i in 0..b {
        let qi = &q[i * d..(i + 1) * d];
        let pos = dot(qi, &positives[i * d..(i + 1) * d]) / temperature;
        let chosen = negatives.row(i, n);
        let mut negs: Vec<(f64, f64)> = chosen.iter().map(|&(j, m)| (dot(qi, &candidates[j * d..(j + 1) * d]) / temperature, m)).collect();
        if let Some((values, m)) = extra {
            negs.extend((0..m).map(|t| (dot(qi, &values[(i * m + t) * d..(i * m + t + 1) * d]) / temperature, 1.0)));
        }
        let count: f64 = negs.iter().map(|&(_, m)| m).sum();
        let ng = match objective {
            Objective::Nce => negs.iter().map(|&(s, m)| m * s.exp()).sum::<f64>(),
            _ => {
                let weight_sum: f64 = negs.iter().map(|&(s, m)| m * (beta * s).exp()).sum();
                let reweighted = if weight_sum > 0.0 {
                    count * negs.iter().map(|&(s, m)| m * (beta * s).exp() * s.exp()).sum::<f64>() / weight_sum
                } else {
                    0.0
                };
                let estimate = (reweighted - tau_plus * count * pos.exp()) / (1.0 - tau_plus);
                estimate.max(count * (-1.0 / temperature).exp())
            }
        };
        total += (pos.exp() + ng).ln() - pos;
    }
    total / b as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_parameters_are_refused() {
        assert!(Objective::Debiased { tau_plus: 1.0 }.validate().unwrap_err().to_string().contains("tau+ = 1"));
        assert!(Objective::HardNegatives { tau_plus: 0.1, beta: -1.0 }.validate().unwrap_err().to_string().contains("beta = -1"));
        assert!(Objective::HardNegatives { tau_plus: 0.1, beta: f64::NAN }.validate().is_err());
        Objective::Nce.validate().unwrap();
        Objective::HardNegatives { tau_plus: 0.0, beta: 0.0 }.validate().unwrap();
    }

    /// DCL with tau+ = 0 is NCE (when the sum of the negatives is above the floor), and
    /// HCL with beta = 0 is DCL, in the reference.
    #[test]
    fn reference_special_cases() {
        let (b, n, d) = (2, 4, 2);
        let q = [1.0, 0.0, 0.0, 1.0];
        let k = [0.8, 0.6, 0.6, 0.8];
        let c = [1.0, 0.0, 0.0, 1.0, -1.0, 0.0, 0.6, 0.8];
        let mask = [1.0, 0.0, 2.0, 1.0, 0.0, 1.0, 1.0, 0.0];
        let nce = contrastive_loss_reference(&q, &k, &c, NegativesRef::Mask(&mask), b, n, d, 0.5, Objective::Nce);
        let dcl0 = contrastive_loss_reference(&q, &k, &c, NegativesRef::Mask(&mask), b, n, d, 0.5, Objective::Debiased { tau_plus: 0.0 });
        assert!((nce - dcl0).abs() < 1e-12, "{nce} {dcl0}");
        let dcl = contrastive_loss_reference(&q, &k, &c, NegativesRef::All, b, n, d, 0.5, Objective::Debiased { tau_plus: 0.1 });
        let hcl0 =
            contrastive_loss_reference(&q, &k, &c, NegativesRef::All, b, n, d, 0.5, Objective::HardNegatives { tau_plus: 0.1, beta: 0.0 });
        assert!((dcl - hcl0).abs() < 1e-12);
        // Row 0 by hand, t = 0.5: s+ = 1.6, negatives s = 2 (m 1), -2 (m 2), 1.2 (m 1).
        let (pos, negs) = (1.6f64, [(2.0f64, 1.0f64), (-2.0, 2.0), (1.2, 1.0)]);
        let ng: f64 = negs.iter().map(|&(s, m)| m * s.exp()).sum();
        let row0 = (pos.exp() + ng).ln() - pos;
        let row0_alone = contrastive_loss_reference(&q[..2], &k[..2], &c, NegativesRef::Mask(&mask[..4]), 1, n, d, 0.5, Objective::Nce);
        // Within f32 rounding of the inputs (0.6 and 0.8 are not exact in f32).
        assert!((row0 - row0_alone).abs() < 1e-6, "{row0} {row0_alone}");
    }
}
