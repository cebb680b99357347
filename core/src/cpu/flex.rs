//! What the CPU operations need from burn's CPU backend (Flex): the autodiff primitive they
//! register their backward passes on, and a tensor's values as a slice.

use burn::backend::flex::FlexTensor;
use burn::backend::{Autodiff, Flex};

/// A float tensor primitive of `Autodiff<Flex>` (tracked by burn's autodiff).
pub(crate) type AutodiffFlex = <Autodiff<Flex> as burn::backend::BackendTypes>::FloatTensorPrimitive;

/// The f32 values of `t` in row-major order: borrowed when contiguous, else copied.
pub(crate) fn flex_values(t: &FlexTensor) -> std::borrow::Cow<'_, [f32]> {
    match t.as_slice::<f32>() {
        Some(s) if t.is_contiguous() => std::borrow::Cow::Borrowed(s),
        _ => std::borrow::Cow::Owned(t.to_contiguous().as_slice::<f32>().expect("contiguous f32").to_vec()),
    }
}
