//! Model-independent CPU kernels shared by docket's sentence embedder (docket-index) and
//! its local LLM (docket-generate): one implementation of each, so that a fix or a
//! faster kernel reaches both models.
//!
//! ```
//! use docket_kernels::View;
//! use docket_kernels::matmul::{PackedB, matmul};
//!
//! // C = A · B for A 2×3 and B 3×2, both row-major.
//! let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
//! let b = [7.0, 8.0, 9.0, 10.0, 11.0, 12.0];
//! // B (the weights) is packed once, then multiplied by any number of activations.
//! let packed = PackedB::pack(3, 2, View { data: &b, rs: 2, cs: 1 });
//! let mut c = [0.0f32; 4];
//! matmul(2, &a, 3, &packed, &mut c, 2, false, 1.0);
//! assert_eq!(c, [58.0, 64.0, 139.0, 154.0]);
//! ```
//!
//! - [`matmul`]: `C (+)= scale · A · B` with `B` packed, on AVX-512, AVX2+FMA or portable
//!   micro-kernels; [`half`]: the same in f16 on CPUs with AVX512-FP16.
//! - [`exp`], [`softmax_rows`], [`dot`]: vectorised row kernels, and
//!   [`multiversion!`] to write more of them (the models' element-wise kernels: layer
//!   norm and GELU for BERT, RMS norm, SiLU and RoPE for the LLM, stay with their model).
//! - [`cpu`]: the CPU features, detected once, that every kernel checks before it runs
//!   code compiled for them.

pub mod cpu;
pub mod half;
mod math;
pub mod matmul;

pub use math::{LANES, dot, exp, lane_sum, softmax_rows};

/// A strided matrix view: element (r, c) is `data[r * rs + c * cs]`.
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    pub data: &'a [f32],
    pub rs: usize,
    pub cs: usize,
}

/// Compile a function a second time with AVX-512 (and a third with AVX2+FMA) enabled
/// and pick the best copy the CPU runs, at run time: the workspace builds for baseline
/// x86-64, where LLVM would vectorise a loop only 4 lanes wide. Each copy runs only on
/// a CPU with every feature it is compiled for ([`cpu::has_avx512`], [`cpu::has_avx2`]).
///
/// ```
/// docket_kernels::multiversion! {
///     /// Double every value.
///     pub fn double(xs: &mut [f32]) {
///         for x in xs.iter_mut() {
///             *x *= 2.0;
///         }
///     }
/// }
/// let mut v = [1.0, 2.5];
/// double(&mut v);
/// assert_eq!(v, [2.0, 5.0]);
/// ```
#[macro_export]
macro_rules! multiversion {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn generic($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma")]
                fn avx512($($arg: $ty),*) $(-> $ret)? {
                    generic($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                fn avx2($($arg: $ty),*) $(-> $ret)? {
                    generic($($arg),*)
                }
                if $crate::cpu::has_avx512() {
                    // SAFETY: the CPU has every feature `avx512` is compiled for
                    // (AVX-512 F/BW/VL, AVX2, FMA and the F16C that AVX-512F implies:
                    // `has_avx512` checks all six).
                    return unsafe { avx512($($arg),*) };
                }
                if $crate::cpu::has_avx2() {
                    // SAFETY: the CPU has the features `avx2` is compiled for.
                    return unsafe { avx2($($arg),*) };
                }
            }
            generic($($arg),*)
        }
    };
}
