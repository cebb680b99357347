//! The residual blocks' closing `relu(a + b)` in one pass over the values (burn's CPU
//! backend takes one pass and one allocation for the sum, another for the ReLU), the ReLU's
//! gradient, burn's ReLU itself for the fused kernels, and the plain loops they are tested
//! against (`*_reference`). burn's ReLU semantics: NaN passes through (and passes its
//! gradient), 0 and below give 0 (and no gradient).

use crate::buffers::{unwritten, written};
use crate::parallel::per_image;

/// Values per piece of work spread over the cores (the split is fixed by the length alone).
const PIECE: usize = 1 << 14;

/// burn's ReLU: `v` where it is positive or NaN, else 0.
#[inline(always)]
pub fn relu(v: f32) -> f32 {
    if v.is_nan() || v > 0.0 { v } else { 0.0 }
}

/// The gradient `d` through a ReLU whose output was `y`: `d` where `y` is positive or NaN,
/// else 0 (burn's `relu_backward`, output first).
#[inline(always)]
pub fn relu_gate(y: f32, d: f32) -> f32 {
    if y.is_nan() || y > 0.0 { d } else { 0.0 }
}

/// `relu(a + b)`, element by element.
pub fn add_relu(a: &[f32], b: &[f32]) -> Vec<f32> {
    assert_eq!(a.len(), b.len(), "add_relu: operands of different lengths");
    map_pairs(a, b, |a, b| relu(a + b))
}

/// The gradient through a ReLU whose output was `output`: `dy` gated by [`relu_gate`].
pub fn relu_backward(output: &[f32], dy: &[f32]) -> Vec<f32> {
    assert_eq!(output.len(), dy.len(), "relu_backward: output and gradient of different lengths");
    map_pairs(output, dy, relu_gate)
}

/// `[f(a[i], b[i])]` for slices of one length, in pieces of [`PIECE`] values (not images)
/// spread over the cores.
#[inline(always)]
fn map_pairs(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32 + Sync + Send) -> Vec<f32> {
    let mut out = unwritten(a.len());
    per_image(&mut out, PIECE, |i, out| {
        let (a, b) = (&a[i * PIECE..][..out.len()], &b[i * PIECE..][..out.len()]);
        for ((o, &a), &b) in out.iter_mut().zip(a).zip(b) {
            o.write(f(a, b));
        }
    });
    // SAFETY: every piece was written above.
    unsafe { written(out) }
}

/// Plain loop of burn's ReLU.
pub fn relu_reference(values: &[f32]) -> Vec<f32> {
    values.iter().map(|&v| if v.is_nan() || v > 0.0 { v } else { 0.0 }).collect()
}

/// Plain loop of [`add_relu`] (the sum in f64, rounded once: the f32 sum's value).
pub fn add_relu_reference(a: &[f32], b: &[f32]) -> Vec<f32> {
    a.iter()
        .zip(b)
        .map(|(&a, &b)| {
            let s = (a as f64 + b as f64) as f32;
            if s.is_nan() || s > 0.0 { s } else { 0.0 }
        })
        .collect()
}

/// Plain loop of [`relu_backward`].
pub fn relu_backward_reference(output: &[f32], dy: &[f32]) -> Vec<f32> {
    output.iter().zip(dy).map(|(&y, &d)| if y.is_nan() || y > 0.0 { d } else { 0.0 }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_relu_and_its_gradient_match_the_loops_on_every_length() {
        // Empty, shorter than a piece, one piece, a piece and one, several pieces.
        for (i, n) in [0, 1, 7, PIECE, PIECE + 1, 3 * PIECE + 5].into_iter().enumerate() {
            let a = crate::testing::test_values(n, 1 + i as u64);
            let b = crate::testing::test_values(n, 11 + i as u64);
            let dy = crate::testing::test_values(n, 21 + i as u64);
            let y = add_relu(&a, &b);
            assert_eq!(y, add_relu_reference(&a, &b), "n {n}");
            assert!(n < 8 || y.contains(&0.0) && y.iter().any(|&v| v > 0.0), "n {n}: both sides of 0");
            assert_eq!(relu_backward(&y, &dy), relu_backward_reference(&y, &dy), "n {n}");
        }
    }

    #[test]
    fn nan_passes_ties_at_zero_and_below_give_zero() {
        let (a, b) = ([f32::NAN, 1.0, -1.0, 0.5, -0.0, f32::INFINITY, f32::NEG_INFINITY], [0.0, -1.0, 0.5, 0.25, 0.0, 1.0, 1.0]);
        let y = add_relu(&a, &b);
        assert!(y[0].is_nan());
        assert_eq!(&y[1..], &[0.0, 0.0, 0.75, 0.0, f32::INFINITY, 0.0]);
        let d = relu_backward(&y, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]);
        assert_eq!(d, vec![1.0, 0.0, 0.0, 4.0, 0.0, 6.0, 0.0]);
    }
}
