//! What the CPU can run, detected once: the one place every kernel asks before it calls
//! a `#[target_feature]` function, so that each such call checks exactly the features
//! the function enables (calling it on a CPU without one of them is undefined
//! behaviour, not merely an illegal-instruction crash).
//!
//! Under Miri the standard library reports only the features enabled at compile time
//! (none of these on baseline x86-64), so every kernel takes its portable path there:
//! `MIRIFLAGS="-Zmiri-tree-borrows -Zmiri-ignore-leaks" cargo +nightly miri test -p
//! docket-kernels` (Tree Borrows because rayon's crossbeam-epoch breaks the Stacked
//! Borrows rules, ignore-leaks because rayon's threads outlive the test's main).

use std::sync::OnceLock;

/// The x86-64 features docket's kernels use (all false on other architectures).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Features {
    pub avx512f: bool,
    pub avx512bw: bool,
    pub avx512vl: bool,
    pub avx512vnni: bool,
    pub avx512fp16: bool,
    pub avx2: bool,
    pub fma: bool,
    pub f16c: bool,
}

#[cfg(target_arch = "x86_64")]
fn detect() -> Features {
    use std::arch::is_x86_feature_detected as has;
    Features {
        avx512f: has!("avx512f"),
        avx512bw: has!("avx512bw"),
        avx512vl: has!("avx512vl"),
        avx512vnni: has!("avx512vnni"),
        avx512fp16: has!("avx512fp16"),
        avx2: has!("avx2"),
        fma: has!("fma"),
        f16c: has!("f16c"),
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn detect() -> Features {
    Features::default()
}

/// The features of this CPU.
pub fn features() -> Features {
    static F: OnceLock<Features> = OnceLock::new();
    *F.get_or_init(detect)
}

impl Features {
    /// AVX-512F with AVX2, FMA and F16C: Rust's `avx512f` target feature implies the
    /// other three (and every AVX-512 feature implies `avx512f`), so the compiler may
    /// use any of them in a function that enables only an AVX-512 feature. The standard
    /// library's detection of `avx512f` checks FMA and F16C but not AVX2.
    pub fn avx512f(self) -> bool {
        self.avx512f && self.avx2() && self.f16c
    }

    /// AVX-512 F/BW/VL with AVX2, FMA and F16C: everything [`crate::multiversion!`]'s
    /// AVX-512 copy is compiled for, the implied features included.
    pub fn avx512(self) -> bool {
        self.avx512f() && self.avx512bw && self.avx512vl
    }

    /// AVX2 and FMA.
    pub fn avx2(self) -> bool {
        self.avx2 && self.fma
    }

    /// [`avx512`](Self::avx512) with AVX-512 VNNI, for the LLM's quantized dot products.
    pub fn vnni(self) -> bool {
        self.avx512() && self.avx512vnni
    }

    /// AVX512-FP16 and the AVX-512 F/BW it builds on (with their implied features, see
    /// [`avx512f`](Self::avx512f)), for [`crate::half`].
    pub fn avx512_fp16(self) -> bool {
        self.avx512f() && self.avx512bw && self.avx512fp16
    }
}

/// See [`Features::avx512f`]: what code compiled for `avx512f` alone (the f32 matmul
/// kernel, the LLM's f16 attention) needs.
pub fn has_avx512f() -> bool {
    features().avx512f()
}

/// See [`Features::avx512`].
pub fn has_avx512() -> bool {
    features().avx512()
}

/// See [`Features::avx2`].
pub fn has_avx2() -> bool {
    features().avx2()
}

/// See [`Features::vnni`].
pub fn has_vnni() -> bool {
    features().vnni()
}

/// See [`Features::avx512_fp16`].
pub fn has_avx512_fp16() -> bool {
    features().avx512_fp16()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_level_implies_what_its_code_enables() {
        // A CPU with only AVX-512F must not run the multiversioned AVX-512 copies,
        // which also enable BW, VL, AVX2 and FMA.
        let f = Features {
            avx512f: true,
            avx512bw: true,
            avx512vl: true,
            ..Features::default()
        };
        assert!(!f.avx512f() && !f.avx512() && !f.vnni());
        // Nor AVX512-FP16 code, whose target feature implies AVX2, FMA and F16C too.
        let fp16 = Features {
            avx512fp16: true,
            fma: true,
            f16c: true,
            ..f
        };
        assert!(!fp16.avx512_fp16() && !fp16.avx512f());
        let full = Features {
            avx2: true,
            fma: true,
            avx512vnni: true,
            f16c: true,
            ..f
        };
        assert!(full.avx512f() && full.avx512() && full.vnni() && full.avx2());
        assert!(!full.avx512_fp16());
        let no_f16c = Features {
            f16c: false,
            ..full
        };
        assert!(!no_f16c.avx512f());
        // And the detected set is consistent with the same rules.
        let d = features();
        assert_eq!(has_avx512f(), d.avx512f && d.avx2 && d.fma && d.f16c);
        assert_eq!(
            has_avx512(),
            d.avx512f && d.avx512bw && d.avx512vl && d.avx2 && d.fma && d.f16c
        );
        assert!(!has_vnni() || has_avx512());
        assert!(!has_avx512() || has_avx2());
        assert!(!has_avx512_fp16() || has_avx512f());
    }
}
