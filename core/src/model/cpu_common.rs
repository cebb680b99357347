//! What the CPU-backend operations ([`super::cpu_conv`], [`super::cpu_norm`]) share: work
//! spread over the cores (sequential on wasm32, which has no threads), a Flex tensor's
//! values as a slice, and the autodiff primitive they register their backward passes on.

use burn::backend::flex::FlexTensor;
use burn::backend::{Autodiff, Flex};
#[cfg(not(target_arch = "wasm32"))]
use rayon::prelude::*;

/// A float tensor primitive of `Autodiff<Flex>` (tracked by burn's autodiff).
pub(crate) type AutodiffFlex = <Autodiff<Flex> as burn::backend::BackendTypes>::FloatTensorPrimitive;

/// Runs `f(i, chunk)` over the `chunk`-sized pieces of `out` (one per image), in parallel
/// on native targets.
pub(crate) fn per_image<T: Send>(out: &mut [T], chunk: usize, f: impl Fn(usize, &mut [T]) + Sync + Send) {
    #[cfg(not(target_arch = "wasm32"))]
    out.par_chunks_mut(chunk).enumerate().for_each(|(b, dst)| f(b, dst));
    #[cfg(target_arch = "wasm32")]
    out.chunks_mut(chunk).enumerate().for_each(|(b, dst)| f(b, dst));
}

/// `len` values to be written before they are read (see [`written`]).
pub(crate) fn unwritten(len: usize) -> Vec<std::mem::MaybeUninit<f32>> {
    let mut v = Vec::with_capacity(len);
    // SAFETY: MaybeUninit needs no initialisation.
    unsafe { v.set_len(len) };
    v
}

/// The values of a buffer from [`unwritten`] once every one has been written. Safety: every
/// entry must have been written.
pub(crate) unsafe fn written(v: Vec<std::mem::MaybeUninit<f32>>) -> Vec<f32> {
    let mut v = std::mem::ManuallyDrop::new(v);
    // SAFETY: MaybeUninit<f32> has f32's layout; the caller vouches for initialisation.
    unsafe { Vec::from_raw_parts(v.as_mut_ptr().cast::<f32>(), v.len(), v.capacity()) }
}

/// Runs `f(i, item)` for each item, in parallel on native targets.
pub(crate) fn for_each_item<T: Send>(items: Vec<T>, f: impl Fn(usize, T) + Sync + Send) {
    #[cfg(not(target_arch = "wasm32"))]
    items.into_par_iter().enumerate().for_each(|(i, item)| f(i, item));
    #[cfg(target_arch = "wasm32")]
    items.into_iter().enumerate().for_each(|(i, item)| f(i, item));
}

/// `[f(0), f(1), ..., f(n - 1)]`, computed in parallel on native targets, in index order.
pub(crate) fn map_indices<T: Send>(n: usize, f: impl Fn(usize) -> T + Sync + Send) -> Vec<T> {
    #[cfg(not(target_arch = "wasm32"))]
    return (0..n).into_par_iter().map(f).collect();
    #[cfg(target_arch = "wasm32")]
    return (0..n).map(f).collect();
}

/// Defines `$name`, which runs `$body` (an `#[inline(always)]` function whose loops the
/// compiler vectorises) compiled for AVX2 and FMA where the CPU has them (x86-64), else as it
/// is. The crate is built for the baseline x86-64 (SSE2: 4 floats per vector); the body is
/// compiled a second time into a `target_feature` function, 8 floats per vector. Rust does
/// not contract `a * b + c` into fused multiply-adds on its own, so both builds give the same
/// bits (tests in `cpu_conv` check it).
macro_rules! dispatch_avx2 {
    ($(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),* $(,)?) => $body:path) => {
        $(#[$doc])*
        fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                fn with_avx2($($arg: $ty),*) {
                    $body($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                    // SAFETY: the CPU has the features `with_avx2` is compiled for.
                    return unsafe { with_avx2($($arg),*) };
                }
            }
            $body($($arg),*)
        }
    };
}
pub(crate) use dispatch_avx2;

/// The f32 values of `t` in row-major order: borrowed when contiguous, else copied.
pub(crate) fn flex_values(t: &FlexTensor) -> std::borrow::Cow<'_, [f32]> {
    match t.as_slice::<f32>() {
        Some(s) if t.is_contiguous() => std::borrow::Cow::Borrowed(s),
        _ => std::borrow::Cow::Owned(t.to_contiguous().as_slice::<f32>().expect("contiguous f32").to_vec()),
    }
}

/// `n` deterministic test values in [-1, 1) (xorshift), for the kernels' unit tests.
#[cfg(test)]
pub(crate) fn test_values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
        })
        .collect()
}
