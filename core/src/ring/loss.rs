//! The Ring NCE loss: `loss_i = -(s_i+ - logsumexp({s_i+} U {s_ij : j in ring_i}))`,
//! `s = q.k / tau`, averaged over the batch. Gradients flow through burn's autodiff; the
//! ring mask is a constant (it comes from a selection, which has no gradient).

use burn::tensor::{Int, Tensor};

use super::RingError;

fn check(name: &str, got: [usize; 2], want: [usize; 2]) -> Result<(), RingError> {
    if got != want {
        return Err(RingError::Shape(format!("{name} is {got:?}, expected {want:?}")));
    }
    Ok(())
}

/// Which candidates enter each anchor's denominator.
#[derive(Debug, Clone)]
pub enum Negatives {
    /// Every candidate (plain NCE).
    All,
    /// MoCoRing / SimCLR-Ring: B x N, 1.0 where the candidate is in the anchor's ring
    /// (from [`super::RingBounds::mask`]). Entries are multiplicities: 0 leaves the
    /// candidate out, 1 counts it once, 2 twice.
    Mask(Tensor<2>),
    /// IRing: B x k candidate indices per anchor, drawn from its ring (from
    /// [`super::RingBounds::sample`]); repeated draws count repeatedly.
    Sampled(Tensor<2, Int>),
}

/// Ring NCE loss (mean over the B anchors).
///
/// - `q`: anchors, B x D (L2-normalised; tracked by autodiff for training).
/// - `positives`: each anchor's positive key, B x D.
/// - `candidates`: negatives, N x D (MoCo queue, memory bank entries, ...).
/// - `negatives`: which candidates count for each anchor.
/// - `temperature`: tau > 0.
pub fn ring_nce_loss(
    q: Tensor<2>,
    positives: Tensor<2>,
    candidates: Tensor<2>,
    negatives: Negatives,
    temperature: f64,
) -> Result<Tensor<1>, RingError> {
    let [b, d] = q.dims();
    let [n, _] = candidates.dims();
    check("positives", positives.dims(), [b, d])?;
    check("candidates", candidates.dims(), [n, d])?;
    if !(temperature.is_finite() && temperature > 0.0) {
        return Err(RingError::Shape(format!("temperature {temperature} must be a positive number (MoCo uses 0.07)")));
    }
    let positive_logits = (q.clone() * positives).sum_dim(1).div_scalar(temperature);
    let all_logits = q.matmul(candidates.transpose()).div_scalar(temperature);
    let negative_logits = match negatives {
        Negatives::All => all_logits,
        Negatives::Mask(mask) => {
            check("mask", mask.dims(), [b, n])?;
            // log(multiplicity): 0 for members, -inf for the rest; a constant (no gradient).
            all_logits + mask.log()
        }
        Negatives::Sampled(indices) => {
            let [rows, k] = indices.dims();
            if rows != b || k == 0 {
                return Err(RingError::Shape(format!("sampled indices are [{rows}, {k}], expected [{b}, k > 0]")));
            }
            all_logits.gather(1, indices)
        }
    };
    let logits = Tensor::cat(vec![positive_logits.clone(), negative_logits], 1);
    // Stable logsumexp; the positive is always finite, so every row has a finite max.
    let max = logits.clone().detach().max_dim(1);
    let log_sum_exp = (logits - max.clone()).exp().sum_dim(1).log() + max;
    Ok((log_sum_exp - positive_logits).mean())
}

/// [`Negatives`] for [`ring_nce_loss_reference`], on host slices.
#[derive(Debug, Clone, Copy)]
pub enum NegativesRef<'a> {
    /// Every candidate.
    All,
    /// B x N multiplicities.
    Mask(&'a [f32]),
    /// B x k indices.
    Sampled(&'a [u32], usize),
}

impl NegativesRef<'_> {
    /// (candidate, multiplicity) pairs of row `i` of `n` candidates.
    pub fn row(&self, i: usize, n: usize) -> Vec<(usize, f64)> {
        match *self {
            NegativesRef::All => (0..n).map(|j| (j, 1.0)).collect(),
            NegativesRef::Mask(mask) => (0..n).filter(|&j| mask[i * n + j] > 0.0).map(|j| (j, mask[i * n + j] as f64)).collect(),
            NegativesRef::Sampled(indices, k) => indices[i * k..(i + 1) * k].iter().map(|&j| (j as usize, 1.0)).collect(),
        }
    }
}

/// Loss and gradient with respect to `q`, from [`ring_nce_loss_reference`].
#[derive(Debug, Clone, PartialEq)]
pub struct LossReference {
    /// Mean loss.
    pub loss: f64,
    /// d loss / d q, B x D row-major.
    pub grad_q: Vec<f64>,
}

/// Plain-Rust (f64) reference of [`ring_nce_loss`] with its analytic gradient:
/// `d loss_i / d q_i = (sum_j p_ij k_j - k_i+) / tau`, `p` the softmax over the positive
/// and the ring, divided by B for the mean.
#[allow(clippy::too_many_arguments)]
pub fn ring_nce_loss_reference(
    q: &[f32],
    positives: &[f32],
    candidates: &[f32],
    negatives: NegativesRef<'_>,
    b: usize,
    n: usize,
    d: usize,
    temperature: f64,
) -> LossReference {
    let dot = |x: &[f32], y: &[f32]| x.iter().zip(y).map(|(&a, &c)| a as f64 * c as f64).sum::<f64>();
    let mut loss = 0.0;
    let mut grad_q = vec![0.0; b * d];
    for i in 0..b {
        let qi = &q[i * d..(i + 1) * d];
        let ki = &positives[i * d..(i + 1) * d];
        let pos = dot(qi, ki) / temperature;
        let ring = negatives.row(i, n);
        let negs: Vec<f64> = ring.iter().map(|&(j, _)| dot(qi, &candidates[j * d..(j + 1) * d]) / temperature).collect();
        let max = negs.iter().copied().fold(pos, f64::max);
        let denom = (pos - max).exp() + ring.iter().zip(&negs).map(|(&(_, m), s)| m * (s - max).exp()).sum::<f64>();
        loss += max + denom.ln() - pos;
        let grad = &mut grad_q[i * d..(i + 1) * d];
        let p_pos = (pos - max).exp() / denom;
        for t in 0..d {
            grad[t] += (p_pos - 1.0) * ki[t] as f64;
        }
        for (&(j, m), s) in ring.iter().zip(&negs) {
            let p = m * (s - max).exp() / denom;
            for t in 0..d {
                grad[t] += p * candidates[j * d + t] as f64;
            }
        }
    }
    for g in &mut grad_q {
        *g /= temperature * b as f64;
    }
    LossReference { loss: loss / b as f64, grad_q }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normalised(values: &mut [f32], d: usize) {
        for row in values.chunks_mut(d) {
            let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt();
            row.iter_mut().for_each(|v| *v /= norm);
        }
    }

    /// The analytic gradient of the reference matches central finite differences.
    #[test]
    fn reference_gradient_matches_finite_differences() {
        let (b, n, d) = (3, 9, 5);
        let mut seed = 7u32;
        let mut next = || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        };
        let mut q: Vec<f32> = (0..b * d).map(|_| next()).collect();
        let mut k: Vec<f32> = (0..b * d).map(|_| next()).collect();
        let mut c: Vec<f32> = (0..n * d).map(|_| next()).collect();
        normalised(&mut q, d);
        normalised(&mut k, d);
        normalised(&mut c, d);
        let mask: Vec<f32> = (0..b * n).map(|i| (i % 3) as f32).collect();
        let tau = 0.2;
        let reference = ring_nce_loss_reference(&q, &k, &c, NegativesRef::Mask(&mask), b, n, d, tau);
        let h = 1e-3f32;
        for idx in 0..b * d {
            let mut plus = q.clone();
            plus[idx] += h;
            let mut minus = q.clone();
            minus[idx] -= h;
            let lp = ring_nce_loss_reference(&plus, &k, &c, NegativesRef::Mask(&mask), b, n, d, tau).loss;
            let lm = ring_nce_loss_reference(&minus, &k, &c, NegativesRef::Mask(&mask), b, n, d, tau).loss;
            let numeric = (lp - lm) / (2.0 * h as f64);
            assert!(
                (numeric - reference.grad_q[idx]).abs() < 1e-4,
                "d/dq[{idx}]: finite differences {numeric}, analytic {}",
                reference.grad_q[idx]
            );
        }
    }
}
