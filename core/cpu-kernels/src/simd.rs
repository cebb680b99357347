//! Which vector instructions a kernel may use: AVX-512 detected at run time for the direct
//! convolution kernels, and [`dispatch_avx2`] for loops compiled a second time for AVX2.
//! This crate is built for baseline x86-64 (SSE2).

/// Does this CPU run the AVX-512 kernels (x86-64 with AVX-512F)?
pub fn avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// Defines `$name`, which runs `$body` (an `#[inline(always)]` function whose loops the
/// compiler vectorises) compiled for AVX2 and FMA where the CPU has them (x86-64), else as it
/// is. The crate is built for the baseline x86-64 (SSE2: 4 floats per vector); the body is
/// compiled a second time into a `target_feature` function, 8 floats per vector. Rust does
/// not contract `a * b + c` into fused multiply-adds on its own, so both builds give the same
/// bits (tests in `cpu::conv` check it).
#[macro_export]
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
pub use crate::dispatch_avx2;
