//! One anchor's ring, for display: every candidate's similarity to the anchor and whether
//! it is too close (ranked above the l% mark), inside the ring ([l%, u%)), or too far
//! (below the u% mark) — the picture of the paper's Figure 1. The selection is the
//! training's own `ring_select` (a WGSL kernel on the GPU); [`ring_view_reference`] is
//! the same on the host.

use burn::tensor::Tensor;
use serde::Serialize;

use crate::error::{Result, input_error};
use crate::gpu::read::read_f32;
use crate::ring::{Pairing, RingSpec, RowRing, order_key, ring_select, select_reference};

/// Where a candidate falls relative to an anchor's ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[repr(u8)]
pub enum RingPlace {
    /// Ranked above the l% mark: too similar to be a useful negative.
    Close = 0,
    /// Inside the ring: a negative.
    Ring = 1,
    /// Ranked below the u% mark: too easy.
    Far = 2,
}

/// An anchor's ring among candidates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RingView {
    /// The anchor (a row of the embeddings).
    pub anchor: usize,
    /// The candidates: every other row, in order.
    pub candidates: Vec<u32>,
    /// Each candidate's cosine similarity to the anchor.
    pub similarities: Vec<f32>,
    /// Each candidate's place.
    pub places: Vec<RingPlace>,
    /// First ring position (candidates ranked `[lo, hi)` form the ring).
    pub lo: usize,
    /// One past the last ring position.
    pub hi: usize,
    /// l and u, percent.
    pub lower: f64,
    /// u, percent.
    pub upper: f64,
    /// Similarity of the most similar ring member (NaN for an empty ring).
    pub upper_similarity: f32,
    /// Similarity of the least similar ring member.
    pub lower_similarity: f32,
}

fn place(ring: &RowRing, similarity: f32, col: u32) -> RingPlace {
    if ring.contains(order_key(similarity), col) {
        return RingPlace::Ring;
    }
    // Outside the ring: before its first element in the order, or after its last.
    if ring.len > 0 && (order_key(similarity), col) < ring.first { RingPlace::Close } else { RingPlace::Far }
}

fn view(anchor: usize, n: usize, similarities: Vec<f32>, ring: RowRing, spec: &RingSpec) -> RingView {
    let window = spec.window(n - 1);
    let candidates: Vec<u32> = (0..n as u32).filter(|&j| j as usize != anchor).collect();
    let mut places: Vec<RingPlace> = similarities.iter().enumerate().map(|(c, &s)| place(&ring, s, c as u32)).collect();
    if ring.len == 0 {
        // An empty ring still splits the ranking at lo: above is too close.
        let mut order: Vec<usize> = (0..similarities.len()).collect();
        order.sort_by_key(|&c| (order_key(similarities[c]), c));
        for &c in &order[..window.lo.min(order.len())] {
            places[c] = RingPlace::Close;
        }
    }
    RingView {
        anchor,
        candidates,
        similarities,
        places,
        lo: window.lo,
        hi: window.hi,
        lower: spec.lower(),
        upper: spec.upper(),
        upper_similarity: ring.upper_similarity,
        lower_similarity: ring.lower_similarity,
    }
}

fn check(anchor: usize, n: usize) -> Result<()> {
    if n < 2 || anchor >= n {
        input_error!("anchor {anchor} of {n} embeddings: need at least 2 embeddings and an anchor below {n}");
    }
    Ok(())
}

/// The ring of row `anchor` of `embeddings` (N x D, L2-normalised) among the other rows,
/// under `spec`, computed with `ring_select` on the embeddings' device.
pub async fn ring_view(embeddings: Tensor<2>, anchor: usize, spec: &RingSpec) -> Result<RingView> {
    let [n, d] = embeddings.dims();
    check(anchor, n)?;
    let others = match (anchor, n - 1 - anchor) {
        (0, _) => embeddings.clone().slice([1..n, 0..d]),
        (_, 0) => embeddings.clone().slice([0..anchor, 0..d]),
        _ => Tensor::cat(vec![embeddings.clone().slice([0..anchor, 0..d]), embeddings.clone().slice([anchor + 1..n, 0..d])], 0),
    };
    let sims = embeddings.slice([anchor..anchor + 1, 0..d]).matmul(others.transpose());
    let bounds = ring_select(sims.clone(), spec, Pairing::None)?;
    let ring = bounds.read().await?[0];
    let similarities = read_f32(sims).await?;
    Ok(view(anchor, n, similarities, ring, spec))
}

/// [`ring_view`] from the anchor's similarities to the other rows, on the host
/// (`select_reference`): the view the kernel must give for the same similarities.
pub fn ring_view_reference(similarities: &[f32], anchor: usize, spec: &RingSpec) -> Result<RingView> {
    let n = similarities.len() + 1;
    check(anchor, n)?;
    let ring = select_reference(similarities, 1, n - 1, spec, Pairing::None)?[0];
    Ok(view(anchor, n, similarities.to_vec(), ring, spec))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_follow_the_ranking() {
        // 10 candidates, similarities 0.9, 0.8, ... 0.0; l = 10%, u = 50%: rank 0 is too
        // close, ranks 1..5 form the ring, the rest are too far.
        let sims: Vec<f32> = (0..10).map(|i| 0.9 - 0.1 * i as f32).collect();
        let spec = RingSpec::new(10.0, 50.0).unwrap();
        let v = ring_view_reference(&sims, 3, &spec).unwrap();
        assert_eq!((v.lo, v.hi), (1, 5));
        assert_eq!(v.candidates, vec![0, 1, 2, 4, 5, 6, 7, 8, 9, 10]);
        let want: Vec<RingPlace> = (0..10)
            .map(|i| {
                if i < 1 {
                    RingPlace::Close
                } else if i < 5 {
                    RingPlace::Ring
                } else {
                    RingPlace::Far
                }
            })
            .collect();
        assert_eq!(v.places, want);
        assert_eq!((v.upper_similarity, v.lower_similarity), (sims[1], sims[4]));
        // Ties and NaN follow the kernels' order: equal similarities by column, NaN last.
        let v = ring_view_reference(&[0.5, f32::NAN, 0.5, 0.5], 0, &RingSpec::new(25.0, 75.0).unwrap()).unwrap();
        assert_eq!(v.places, vec![RingPlace::Close, RingPlace::Far, RingPlace::Ring, RingPlace::Ring]);
        // An empty ring (u too small for 4 candidates) still marks the too-close ones.
        let v = ring_view_reference(&[0.1, 0.9, 0.5, 0.3], 0, &RingSpec::new(20.0, 24.0).unwrap()).unwrap();
        assert_eq!((v.lo, v.hi), (0, 0));
        assert!(v.places.iter().all(|&p| p == RingPlace::Far));
        assert!(ring_view_reference(&[0.1], 5, &spec).is_err());
    }
}
