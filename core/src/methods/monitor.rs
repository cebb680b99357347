//! The similarity monitor every step reports beside its loss: how close each anchor is to
//! its positive and to the negatives it was contrasted with, how close different anchors
//! are to each other (near 1: the network maps every image to one direction), and the
//! batch's mean embedding (the trainer measures how far it turns from one epoch to the
//! next). Computed on the device from detached values and summed there by the trainer, so
//! nothing is read back per step.

use burn::tensor::Tensor;

use crate::ring::Negatives;

/// Number of summed values in [`StepSimilarity::sums`].
pub const SIMILARITY_SUMS: usize = 4;

/// One step's similarity monitor, on the device.
#[derive(Debug, Clone)]
pub struct StepSimilarity {
    /// `[positive, negative, between anchors, terms]`: the mean cosine of each anchor to its
    /// positive, to its chosen negatives (counted with their multiplicity), between two
    /// different anchors of the batch, and the number of loss terms these are summed over
    /// (1, or 2 for CMC's two cross-view terms); shape `[SIMILARITY_SUMS]`.
    pub sums: Tensor<1>,
    /// The mean of the anchors' embeddings (CMC: both views' means, concatenated).
    pub mean_embedding: Tensor<1>,
}

impl StepSimilarity {
    /// The monitor of one loss term: L2-normalised anchors `q` (B x D), their `positives`
    /// (B x D) and the `candidates` (N x D) of which `negatives` were chosen.
    pub fn of(q: &Tensor<2>, positives: &Tensor<2>, candidates: &Tensor<2>, negatives: &Negatives) -> Self {
        let q = q.clone().without_autodiff().detach();
        let candidates = candidates.clone().without_autodiff().detach();
        let [b, d] = q.dims();
        let positive = (q.clone() * positives.clone().without_autodiff().detach()).sum_dim(1).mean().reshape([1]);
        let per_row = |sims: Tensor<2>, weights: Tensor<2>| (sims * weights.clone()).sum_dim(1) / weights.sum_dim(1).clamp_min(1e-12);
        let negative = match negatives {
            // The mean cosine to every candidate is the cosine to their mean (unnormalised).
            Negatives::All => (q.clone() * candidates.mean_dim(0)).sum_dim(1).mean().reshape([1]),
            Negatives::Mask(mask) => per_row(q.clone().matmul(candidates.transpose()), mask.clone()).mean().reshape([1]),
            Negatives::Sampled(indices) => q.clone().matmul(candidates.transpose()).gather(1, indices.clone()).mean().reshape([1]),
        };
        let total = q.sum_dim(0).reshape([d]);
        // sum over i != j of q_i . q_j = |sum q|^2 - sum |q_i|^2 (= B for unit rows).
        let self_terms = b as f64;
        let pairs = (b * b.saturating_sub(1)).max(1) as f64;
        let between = (total.clone().powi_scalar(2).sum() - self_terms).div_scalar(pairs).reshape([1]);
        let one = positive.ones_like();
        StepSimilarity { sums: Tensor::cat(vec![positive, negative, between, one], 0), mean_embedding: total.div_scalar(b.max(1) as f64) }
    }

    /// Two loss terms' monitors as one (CMC): the sums added, the mean embeddings concatenated.
    pub fn and(self, other: StepSimilarity) -> StepSimilarity {
        StepSimilarity { sums: self.sums + other.sums, mean_embedding: Tensor::cat(vec![self.mean_embedding, other.mean_embedding], 0) }
    }
}

/// An epoch's similarity summary, from the sums of its steps' [`StepSimilarity`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimilaritySummary {
    /// Mean cosine of an anchor to its positive.
    pub positive: f64,
    /// Mean cosine of an anchor to a chosen negative.
    pub negative: f64,
    /// Mean cosine between two different anchors of a batch.
    pub between: f64,
}

impl SimilaritySummary {
    /// The means of summed [`StepSimilarity::sums`] (host values); `None` when no term was summed.
    pub fn from_sums(sums: &[f32]) -> Option<Self> {
        let &[positive, negative, between, terms] = sums else { return None };
        let terms = terms as f64;
        (terms > 0.0).then(|| SimilaritySummary {
            positive: positive as f64 / terms,
            negative: negative as f64 / terms,
            between: between as f64 / terms,
        })
    }
}

/// The angle in degrees between two vectors (host values; `None` when either is zero,
/// non-finite, or the lengths differ).
pub fn angle_degrees(a: &[f32], b: &[f32]) -> Option<f64> {
    if a.len() != b.len() || a.is_empty() {
        return None;
    }
    let dot: f64 = a.iter().zip(b).map(|(&x, &y)| x as f64 * y as f64).sum();
    let norm = |v: &[f32]| v.iter().map(|&x| (x as f64).powi(2)).sum::<f64>().sqrt();
    let (na, nb) = (norm(a), norm(b));
    let cos = dot / (na * nb);
    (na > 0.0 && nb > 0.0 && cos.is_finite()).then(|| cos.clamp(-1.0, 1.0).acos().to_degrees())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn angles() {
        assert!((angle_degrees(&[1.0, 0.0], &[0.0, 2.0]).unwrap() - 90.0).abs() < 1e-9);
        assert!(angle_degrees(&[1.0, 1.0], &[3.0, 3.0]).unwrap().abs() < 1e-6);
        assert!((angle_degrees(&[1.0, 0.0], &[-1.0, 0.0]).unwrap() - 180.0).abs() < 1e-9);
        assert_eq!(angle_degrees(&[0.0, 0.0], &[1.0, 0.0]), None);
        assert_eq!(angle_degrees(&[f32::NAN, 0.0], &[1.0, 0.0]), None);
        assert_eq!(angle_degrees(&[1.0], &[1.0, 0.0]), None);
    }

    #[test]
    fn summary_divides_by_terms() {
        let s = SimilaritySummary::from_sums(&[1.0, 0.5, 0.25, 2.0]).unwrap();
        assert_eq!((s.positive, s.negative, s.between), (0.5, 0.25, 0.125));
        assert_eq!(SimilaritySummary::from_sums(&[0.0, 0.0, 0.0, 0.0]), None);
        assert_eq!(SimilaritySummary::from_sums(&[0.0; 3]), None);
    }
}
