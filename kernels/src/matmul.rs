//! Matrix multiply for the embedder's hot path and the local LLM's prompt processing
//! (which also uses [`matmul_rows_strided`] and [`matmul_sub`]): `C (+)= scale · A · B` with `B` packed once into column panels (the weights, at load time) and an
//! AVX-512 micro-kernel.
//!
//! The `gemm` crate that candle uses ran its 8-lane (AVX2 FMA) kernels here, as built
//! on stable Rust with default features (seen in perf); this kernel uses all 16 lanes.
//! `A` (the activations) is read in place, `MR` rows at a time; a task of `GROUP · MR`
//! rows walks every panel of `B` so that each panel is fetched once per task, and the
//! inner dimension is cut into `KC` slices so that the rows of `A` stay in L1. Packing
//! `A` as well was tried and gave no measurable gain. CPUs without AVX-512 but with
//! AVX2 and FMA get an 8-lane kernel over the same packed layout, and others a portable
//! loop, correct but several times slower. `$DOCKET_EMBED_KERNEL` (`avx512`, `avx2`,
//! `portable`) picks a lesser kernel than the CPU's best, to measure or test it.

use rayon::prelude::*;

/// The strided view [`PackedB::pack`] reads.
pub use crate::View;
use crate::cpu;

/// Columns of one panel of packed `B`: two AVX-512 registers of f32.
pub const NR: usize = 32;
/// Rows of `A` per micro-kernel call: 2·MR accumulators + 2 `B` registers fit in the
/// 32 vector registers (the broadcast of `A` can be an FMA memory operand).
const MR: usize = 14;
/// Row blocks handled together, so that each panel of `B` is loaded into L1 once per
/// `GROUP · MR` rows.
const GROUP: usize = 4;
/// Slice of the inner dimension per pass over the panels.
const KC: usize = 384;

/// The micro-kernel that runs: the best the CPU has, or a lesser one named by
/// `$DOCKET_EMBED_KERNEL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    Avx512,
    Avx2,
    Portable,
}

impl Isa {
    /// Whether this CPU runs the kernel.
    pub fn supported(self) -> bool {
        match self {
            // Exactly the features each micro-kernel is compiled for.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => cpu::has_avx512f(),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => cpu::has_avx2(),
            Isa::Portable => true,
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// The kernel used by [`matmul`] and [`matmul_rows`].
    pub fn selected() -> Isa {
        use std::sync::OnceLock;
        static ISA: OnceLock<Isa> = OnceLock::new();
        *ISA.get_or_init(|| {
            let all = [Isa::Avx512, Isa::Avx2, Isa::Portable];
            let wanted = match std::env::var("DOCKET_EMBED_KERNEL").as_deref() {
                Ok("avx2") => 1,
                Ok("portable") => 2,
                _ => 0,
            };
            all[wanted..]
                .iter()
                .copied()
                .find(|i| i.supported())
                .unwrap_or(Isa::Portable)
        })
    }
}

/// A `k × n` matrix packed in panels of [`NR`] columns: panel `p` holds, for each row
/// `kk`, columns `p·NR .. p·NR + NR` (zero beyond `n`).
#[derive(Debug, Default, Clone)]
pub struct PackedB {
    data: Vec<f32>,
    k: usize,
    n: usize,
}

impl PackedB {
    /// Pack the `k × n` matrix `b`.
    pub fn pack(k: usize, n: usize, b: View<'_>) -> Self {
        let mut p = PackedB::default();
        p.repack(k, n, b);
        p
    }

    /// Pack `b` into this buffer, reusing its allocation.
    pub fn repack(&mut self, k: usize, n: usize, b: View<'_>) {
        let panels = n.div_ceil(NR);
        self.k = k;
        self.n = n;
        self.data.clear();
        self.data.resize(panels * k * NR, 0.0);
        for p in 0..panels {
            let cols = NR.min(n - p * NR);
            let panel = &mut self.data[p * k * NR..(p + 1) * k * NR];
            if b.cs == 1 {
                // Rows of `b` are contiguous (V in attention, the weights).
                for (kk, dst) in panel.chunks_exact_mut(NR).enumerate() {
                    dst[..cols].copy_from_slice(&b.data[kk * b.rs + p * NR..][..cols]);
                }
            } else if b.rs == 1 {
                // Columns are contiguous (Kᵀ in attention): read them in order.
                for j in 0..cols {
                    let src = &b.data[(p * NR + j) * b.cs..][..k];
                    for (kk, &v) in src.iter().enumerate() {
                        panel[kk * NR + j] = v;
                    }
                }
            } else {
                for (kk, dst) in panel.chunks_exact_mut(NR).enumerate() {
                    for (j, d) in dst[..cols].iter_mut().enumerate() {
                        *d = b.data[kk * b.rs + (p * NR + j) * b.cs];
                    }
                }
            }
        }
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.data.len() * 4
    }

    fn panel(&self, p: usize) -> &[f32] {
        &self.data[p * self.k * NR..(p + 1) * self.k * NR]
    }
}

/// `C = (accumulate ? C : 0) + scale · A · B` for `A` of `m` rows and row stride `lda`
/// (`k` columns), `C` of row stride `ldc` (`n` columns), on the calling thread.
#[allow(clippy::too_many_arguments)]
pub fn matmul(
    m: usize,
    a: &[f32],
    lda: usize,
    b: &PackedB,
    c: &mut [f32],
    ldc: usize,
    accumulate: bool,
    scale: f32,
) {
    matmul_with(
        Isa::selected(),
        m,
        a,
        lda,
        b,
        (b.k, b.n),
        c,
        ldc,
        accumulate,
        scale,
    );
}

/// As [`matmul`], with only the first `k` rows and `n` columns of `B`: a decoder's
/// attention over a prefix of the keys, packed once for all of them.
#[allow(clippy::too_many_arguments)]
pub fn matmul_sub(
    m: usize,
    a: &[f32],
    lda: usize,
    b: &PackedB,
    k: usize,
    n: usize,
    c: &mut [f32],
    ldc: usize,
    accumulate: bool,
    scale: f32,
) {
    assert!(k <= b.k && n <= b.n, "matmul: B too small");
    matmul_with(
        Isa::selected(),
        m,
        a,
        lda,
        b,
        (k, n),
        c,
        ldc,
        accumulate,
        scale,
    );
}

/// [`matmul_sub`] on the kernel `isa`, which the CPU must support.
#[allow(clippy::too_many_arguments)]
fn matmul_with(
    isa: Isa,
    m: usize,
    a: &[f32],
    lda: usize,
    b: &PackedB,
    (k, n): (usize, usize),
    c: &mut [f32],
    ldc: usize,
    accumulate: bool,
    scale: f32,
) {
    assert!(
        isa.supported(),
        "matmul: {isa:?} kernel on a CPU without it"
    );
    if m == 0 || n == 0 {
        return;
    }
    assert!(
        k == 0 || (m - 1) * lda + k <= a.len(),
        "matmul: A too small"
    );
    assert!((m - 1) * ldc + n <= c.len(), "matmul: C too small");
    let task = GROUP * MR;
    for (t, rows) in c[..(m - 1) * ldc + n].chunks_mut(task * ldc).enumerate() {
        let r0 = t * task;
        block(
            isa,
            task.min(m - r0),
            &a[r0 * lda..],
            lda,
            b,
            (k, n),
            rows,
            ldc,
            accumulate,
            None,
            scale,
        );
    }
}

/// `C = (residual ? C : 0) + bias + A · B`, then `epilogue(C)`, for a dense `C`
/// (`ldc = n`) and `bias` of `n` values added to every row, with blocks of rows spread
/// over the current rayon pool. The bias is added by the micro-kernel, and `epilogue`
/// gets whole rows of `C` on the task that computed them, while they are in cache: an
/// activation or a layer norm costs no extra pass over memory nor another
/// synchronisation of the threads.
pub fn matmul_rows<E>(
    m: usize,
    a: &[f32],
    b: &PackedB,
    c: &mut [f32],
    residual: bool,
    bias: &[f32],
    epilogue: E,
) where
    E: Fn(&mut [f32]) + Sync,
{
    matmul_rows_strided(m, a, b.k, b, c, residual, bias, epilogue);
}

/// [`matmul_rows`] with a row stride for `A`: a decoder's down projection reads the
/// gate half of its fused gate/up output in place.
#[allow(clippy::too_many_arguments)]
pub fn matmul_rows_strided<E>(
    m: usize,
    a: &[f32],
    lda: usize,
    b: &PackedB,
    c: &mut [f32],
    residual: bool,
    bias: &[f32],
    epilogue: E,
) where
    E: Fn(&mut [f32]) + Sync,
{
    let (k, n) = (b.k, b.n);
    check(m, a, lda, b, c, n);
    assert_eq!(bias.len(), n, "matmul: bias length");
    let isa = Isa::selected();
    let task = GROUP * MR;
    c[..m * n]
        .par_chunks_mut(task * n)
        .enumerate()
        .for_each(|(t, rows)| {
            let r0 = t * task;
            let m = rows.len() / n.max(1);
            block(
                isa,
                m,
                &a[r0 * lda..],
                lda,
                b,
                (k, n),
                rows,
                n,
                residual,
                Some(bias),
                1.0,
            );
            epilogue(rows);
        });
}

fn check(m: usize, a: &[f32], lda: usize, b: &PackedB, c: &[f32], ldc: usize) {
    if m > 0 {
        assert!(
            b.k == 0 || (m - 1) * lda + b.k <= a.len(),
            "matmul: A too small"
        );
        assert!(
            b.n == 0 || (m - 1) * ldc + b.n <= c.len(),
            "matmul: C too small"
        );
    }
}

/// Up to `GROUP · MR` rows: run every panel of `B` over them, `MR` rows at a time, so
/// that each panel is read from memory once per block and then hit in cache.
#[allow(clippy::too_many_arguments)]
fn block(
    isa: Isa,
    rows: usize,
    a: &[f32],
    lda: usize,
    b: &PackedB,
    (k, n): (usize, usize),
    c: &mut [f32],
    ldc: usize,
    accumulate: bool,
    bias: Option<&[f32]>,
    scale: f32,
) {
    let blocks = rows.div_ceil(MR);
    // Long inner dimensions (the FFN's 1536) are cut into KC slices, so that the rows of
    // A under the micro-kernel stay in L1 and a slice of a panel in L2.
    for k0 in (0..k).step_by(KC) {
        let kc = KC.min(k - k0);
        for p in 0..n.div_ceil(NR) {
            let cols = NR.min(n - p * NR);
            let panel = &b.panel(p)[k0 * NR..(k0 + kc) * NR];
            for i in 0..blocks {
                let mr = MR.min(rows - i * MR);
                let ai = &a[i * MR * lda + k0..(i * MR + mr - 1) * lda + k0 + kc];
                let off = i * MR * ldc + p * NR;
                let cp = &mut c[off..off + (mr - 1) * ldc + cols];
                let acc = accumulate || k0 > 0;
                let bias = bias.filter(|_| k0 == 0).map(|b| &b[p * NR..p * NR + cols]);
                micro(isa, kc, ai, lda, panel, cp, ldc, mr, cols, acc, bias, scale);
            }
        }
    }
}

/// `C[r][j] = (accumulate ? C[r][j] : 0) + bias[j] + scale · Σ_kk a[r·lda + kk] ·
/// panel[kk·NR + j]` for r < mr, j < cols (no bias term without `bias`).
#[allow(clippy::too_many_arguments)]
fn micro(
    isa: Isa,
    k: usize,
    a: &[f32],
    lda: usize,
    panel: &[f32],
    c: &mut [f32],
    ldc: usize,
    mr: usize,
    cols: usize,
    accumulate: bool,
    bias: Option<&[f32]>,
    scale: f32,
) {
    #[cfg(target_arch = "x86_64")]
    match isa {
        Isa::Avx512 => {
            // SAFETY: `isa` is supported (asserted by `matmul_with`, chosen by
            // `Isa::selected` in `matmul_rows`): the CPU has AVX-512F and the features
            // it implies (`cpu::has_avx512f`). The kernel checks the slices' bounds
            // itself.
            unsafe { avx512::micro(k, a, lda, panel, c, ldc, mr, cols, accumulate, bias, scale) };
            return;
        }
        Isa::Avx2 => {
            // SAFETY: as above, with AVX2 and FMA.
            unsafe { avx2::micro(k, a, lda, panel, c, ldc, mr, cols, accumulate, bias, scale) };
            return;
        }
        Isa::Portable => {}
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = isa;
    for r in 0..mr {
        let mut acc = [0.0f32; NR];
        for kk in 0..k {
            let av = a[r * lda + kk];
            for (s, bv) in acc.iter_mut().zip(&panel[kk * NR..kk * NR + NR]) {
                *s += av * bv;
            }
        }
        let row = &mut c[r * ldc..r * ldc + cols];
        for (j, (o, s)) in row.iter_mut().zip(acc).enumerate() {
            let base = if accumulate { *o } else { 0.0 };
            *o = base + bias.map_or(0.0, |b| b[j]) + scale * s;
        }
    }
}

/// The bounds the SIMD micro-kernels rely on: `mr` rows (1..=MR) of `k` values at
/// stride `lda` in `a`, `k` rows of NR in the panel, `mr` rows of `cols` (<= NR) at
/// stride `ldc` in `c`, and `cols` bias values.
#[expect(
    clippy::too_many_arguments,
    reason = "the tile's shape, as the micro-kernels take it"
)]
#[inline]
fn check_tile(
    k: usize,
    a: usize,
    lda: usize,
    panel: usize,
    c: usize,
    ldc: usize,
    mr: usize,
    cols: usize,
    bias: Option<&[f32]>,
) {
    assert!(
        (1..=MR).contains(&mr) && (1..=NR).contains(&cols),
        "matmul: tile shape"
    );
    assert!(k == 0 || a >= (mr - 1) * lda + k, "matmul: A too small");
    assert!(panel >= k * NR, "matmul: panel too small");
    assert!(c >= (mr - 1) * ldc + cols, "matmul: C too small");
    assert!(
        bias.is_none_or(|b| b.len() >= cols),
        "matmul: bias too short"
    );
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use super::NR;

    /// Dispatch on the row count so that each kernel's accumulators are registers.
    ///
    /// # Safety
    /// AVX-512F and the features it implies must be available
    /// ([`crate::cpu::has_avx512f`]). The slices' bounds (as described in
    /// [`super::micro`]) are checked here.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f")]
    pub unsafe fn micro(
        k: usize,
        ap: &[f32],
        lda: usize,
        panel: &[f32],
        c: &mut [f32],
        ldc: usize,
        mr: usize,
        cols: usize,
        acc: bool,
        bias: Option<&[f32]>,
        scale: f32,
    ) {
        super::check_tile(k, ap.len(), lda, panel.len(), c.len(), ldc, mr, cols, bias);
        let (a, b, cp) = (ap.as_ptr(), panel.as_ptr(), c.as_mut_ptr());
        let bias = bias.map_or(std::ptr::null(), <[f32]>::as_ptr);
        // SAFETY: the bounds were checked above (`mr` is 1..=14, and each kernel reads
        // `R = mr` rows), the features are the caller's.
        unsafe {
            match mr {
                14 => kernel::<14>(k, a, lda, b, cp, ldc, cols, acc, bias, scale),
                13 => kernel::<13>(k, a, lda, b, cp, ldc, cols, acc, bias, scale),
                12 => kernel::<12>(k, a, lda, b, cp, ldc, cols, acc, bias, scale),
                11 => kernel::<11>(k, a, lda, b, cp, ldc, cols, acc, bias, scale),
                10 => kernel::<10>(k, a, lda, b, cp, ldc, cols, acc, bias, scale),
                9 => kernel::<9>(k, a, lda, b, cp, ldc, cols, acc, bias, scale),
                8 => kernel::<8>(k, a, lda, b, cp, ldc, cols, acc, bias, scale),
                7 => kernel::<7>(k, a, lda, b, cp, ldc, cols, acc, bias, scale),
                6 => kernel::<6>(k, a, lda, b, cp, ldc, cols, acc, bias, scale),
                5 => kernel::<5>(k, a, lda, b, cp, ldc, cols, acc, bias, scale),
                4 => kernel::<4>(k, a, lda, b, cp, ldc, cols, acc, bias, scale),
                3 => kernel::<3>(k, a, lda, b, cp, ldc, cols, acc, bias, scale),
                2 => kernel::<2>(k, a, lda, b, cp, ldc, cols, acc, bias, scale),
                _ => kernel::<1>(k, a, lda, b, cp, ldc, cols, acc, bias, scale),
            }
        }
    }

    /// `R` rows × `cols` columns of `C` from `R` rows of `a` and the panel `b`.
    ///
    /// # Safety
    /// The CPU features of [`micro`]; `a` readable at `r·lda + kk` and `c` writable at
    /// `r·ldc + j` for r < R, kk < k, j < cols <= NR; `b` readable for `k·NR` values;
    /// `bias` null or readable for `cols` values.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn kernel<const R: usize>(
        k: usize,
        a: *const f32,
        lda: usize,
        b: *const f32,
        c: *mut f32,
        ldc: usize,
        cols: usize,
        accumulate: bool,
        bias: *const f32,
        scale: f32,
    ) {
        let mut lo = [_mm512_setzero_ps(); R];
        let mut hi = [_mm512_setzero_ps(); R];
        // SAFETY (whole body): indices stay within rows < R of k values in `a`, k·NR in `b`, and within
        // rows < R, columns < cols of `c`, per the caller's contract.
        unsafe {
            for kk in 0..k {
                let b0 = _mm512_loadu_ps(b.add(kk * NR));
                let b1 = _mm512_loadu_ps(b.add(kk * NR + 16));
                for r in 0..R {
                    let av = _mm512_set1_ps(*a.add(r * lda + kk));
                    lo[r] = _mm512_fmadd_ps(av, b0, lo[r]);
                    hi[r] = _mm512_fmadd_ps(av, b1, hi[r]);
                }
            }
            let m0: __mmask16 = if cols >= 16 {
                0xffff
            } else {
                (1u16 << cols) - 1
            };
            let m1: __mmask16 = if cols >= 32 {
                0xffff
            } else if cols > 16 {
                (1u16 << (cols - 16)) - 1
            } else {
                0
            };
            let s = _mm512_set1_ps(scale);
            let (bias0, bias1) = if bias.is_null() {
                (_mm512_setzero_ps(), _mm512_setzero_ps())
            } else {
                (
                    _mm512_maskz_loadu_ps(m0, bias),
                    // `wrapping_add`: with cols <= 16 this points past `bias`, which
                    // `add` forbids even for a load that the zero mask skips.
                    _mm512_maskz_loadu_ps(m1, bias.wrapping_add(16)),
                )
            };
            for r in 0..R {
                let p = c.add(r * ldc);
                let mut v0 = _mm512_fmadd_ps(lo[r], s, bias0);
                let mut v1 = _mm512_fmadd_ps(hi[r], s, bias1);
                // As for `bias`: past the row's end when cols <= 16 (masked off).
                let p1 = p.wrapping_add(16);
                if accumulate {
                    v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, p));
                    v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, p1));
                }
                _mm512_mask_storeu_ps(p, m0, v0);
                _mm512_mask_storeu_ps(p1, m1, v1);
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::NR;

    /// The panel's 32 columns as two halves of 16, and the `mr` rows in near-equal
    /// groups of at most 6: 6 rows × 2 registers of accumulators, 2 of `B` and one
    /// broadcast fit the 16 AVX2 registers.
    ///
    /// # Safety
    /// AVX2 and FMA must be available ([`crate::cpu::has_avx2`]). The slices' bounds (as
    /// described in [`super::micro`]) are checked here.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn micro(
        k: usize,
        ap: &[f32],
        lda: usize,
        panel: &[f32],
        c: &mut [f32],
        ldc: usize,
        mr: usize,
        cols: usize,
        acc: bool,
        bias: Option<&[f32]>,
        scale: f32,
    ) {
        super::check_tile(k, ap.len(), lda, panel.len(), c.len(), ldc, mr, cols, bias);
        let groups = mr.div_ceil(6);
        let (a, b, cp) = (ap.as_ptr(), panel.as_ptr(), c.as_mut_ptr());
        for half in 0..cols.div_ceil(16) {
            let c0 = half * 16;
            let hc = 16.min(cols - c0);
            let bias = bias.map_or(std::ptr::null(), |b| b[c0..].as_ptr());
            let mut r0 = 0;
            for g in 0..groups {
                // Rows of group g: mr split into `groups` parts differing by at most one.
                let rows = mr / groups + usize::from(g < mr % groups);
                // `wrapping_add`: with k == 0 the bounds checked allow `a` and the panel
                // to be shorter than these offsets (even empty), and `add` may not point
                // past them; the kernel then reads neither.
                let (a, b) = (a.wrapping_add(r0 * lda), b.wrapping_add(c0));
                // SAFETY: rows r0..r0+rows < mr of `a` and `c`, columns c0..c0+hc <=
                // cols of `c` and `bias`, and columns c0..c0+16 <= NR of each of the k
                // panel rows are within the slices (checked above).
                unsafe {
                    let c = cp.add(r0 * ldc + c0);
                    match rows {
                        6 => kernel::<6>(k, a, lda, b, c, ldc, hc, acc, bias, scale),
                        5 => kernel::<5>(k, a, lda, b, c, ldc, hc, acc, bias, scale),
                        4 => kernel::<4>(k, a, lda, b, c, ldc, hc, acc, bias, scale),
                        3 => kernel::<3>(k, a, lda, b, c, ldc, hc, acc, bias, scale),
                        2 => kernel::<2>(k, a, lda, b, c, ldc, hc, acc, bias, scale),
                        _ => kernel::<1>(k, a, lda, b, c, ldc, hc, acc, bias, scale),
                    }
                }
                r0 += rows;
            }
        }
    }

    /// `R` rows × up to 16 columns (`cols`) of `C`; `b` points at column 0 of the
    /// 16-column half in row 0 of the panel (row stride NR).
    ///
    /// # Safety
    /// AVX2 and FMA must be available; `a` readable at `r·lda + kk` and `c` writable at
    /// `r·ldc + j` for r < R, kk < k, j < cols <= 16; `b` readable for 16 values at
    /// each `kk·NR`; `bias` null or readable for `cols` values.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn kernel<const R: usize>(
        k: usize,
        a: *const f32,
        lda: usize,
        b: *const f32,
        c: *mut f32,
        ldc: usize,
        cols: usize,
        accumulate: bool,
        bias: *const f32,
        scale: f32,
    ) {
        let mut lo = [_mm256_setzero_ps(); R];
        let mut hi = [_mm256_setzero_ps(); R];
        // SAFETY (whole body): indices stay within rows < R of k values in `a`, k rows of
        // 16 values at stride NR in `b`, and rows < R, columns < cols of `c` and `bias`,
        // per the caller's contract.
        unsafe {
            for kk in 0..k {
                let b0 = _mm256_loadu_ps(b.add(kk * NR));
                let b1 = _mm256_loadu_ps(b.add(kk * NR + 8));
                for r in 0..R {
                    let av = _mm256_broadcast_ss(&*a.add(r * lda + kk));
                    lo[r] = _mm256_fmadd_ps(av, b0, lo[r]);
                    hi[r] = _mm256_fmadd_ps(av, b1, hi[r]);
                }
            }
            let s = _mm256_set1_ps(scale);
            let mut bv = [0.0f32; 16];
            if !bias.is_null() {
                std::ptr::copy_nonoverlapping(bias, bv.as_mut_ptr(), cols);
            }
            let (bias0, bias1) = (
                _mm256_loadu_ps(bv.as_ptr()),
                _mm256_loadu_ps(bv.as_ptr().add(8)),
            );
            for r in 0..R {
                let p = c.add(r * ldc);
                let mut v0 = _mm256_fmadd_ps(lo[r], s, bias0);
                let mut v1 = _mm256_fmadd_ps(hi[r], s, bias1);
                if cols == 16 {
                    if accumulate {
                        v0 = _mm256_add_ps(v0, _mm256_loadu_ps(p));
                        v1 = _mm256_add_ps(v1, _mm256_loadu_ps(p.add(8)));
                    }
                    _mm256_storeu_ps(p, v0);
                    _mm256_storeu_ps(p.add(8), v1);
                } else {
                    let mut t = [0.0f32; 16];
                    _mm256_storeu_ps(t.as_mut_ptr(), v0);
                    _mm256_storeu_ps(t.as_mut_ptr().add(8), v1);
                    for (j, &v) in t[..cols].iter().enumerate() {
                        let o = p.add(j);
                        *o = if accumulate { *o + v } else { v };
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(m: usize, k: usize, n: usize, a: &[f32], b: &[f32]) -> Vec<f32> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|l| a[i * k + l] * b[l * n + j]).sum();
            }
        }
        c
    }

    #[test]
    fn matches_naive_on_ragged_shapes() {
        for &(m, k, n) in &[
            (1, 1, 1),
            (5, 7, 3),
            (13, 33, 40),
            (50, 64, 97),
            (100, 16, 32),
        ] {
            let a: Vec<f32> = (0..m * k)
                .map(|i| ((i * 7) % 11) as f32 * 0.1 - 0.5)
                .collect();
            let b: Vec<f32> = (0..k * n)
                .map(|i| ((i * 5) % 13) as f32 * 0.1 - 0.6)
                .collect();
            let want = naive(m, k, n, &a, &b);
            let packed = PackedB::pack(
                k,
                n,
                View {
                    data: &b,
                    rs: n,
                    cs: 1,
                },
            );
            for parallel in [false, true] {
                // C with a wider row stride and a prior value, accumulated into.
                let ldc = n + 3;
                let mut c = vec![1.0; m * ldc];
                if parallel {
                    // The parallel form only takes dense C: use ldc = n there.
                    let mut d = vec![1.0; m * n];
                    let bias: Vec<f32> = (0..n).map(|j| j as f32).collect();
                    let twice = |r: &mut [f32]| r.iter_mut().for_each(|v| *v *= 2.0);
                    matmul_rows(m, &a, &packed, &mut d, true, &bias, twice);
                    // d = (1 + j + AB) · 2
                    for (i, (x, y)) in d.iter().zip(&want).enumerate() {
                        let j = (i % n) as f32;
                        assert!((x - 2.0 * (1.0 + j + y)).abs() < 1e-3, "{x} at {i}");
                    }
                    continue;
                }
                matmul(m, &a, k, &packed, &mut c, ldc, true, 2.0);
                for i in 0..m {
                    for j in 0..n {
                        let w = 1.0 + 2.0 * want[i * n + j];
                        assert!((c[i * ldc + j] - w).abs() < 1e-4, "{m}x{k}x{n} at {i},{j}");
                    }
                    for j in n..ldc {
                        assert_eq!(c[i * ldc + j], 1.0, "wrote past the row");
                    }
                }
            }
            // B given transposed (column stride n... as Kᵀ in attention).
            let bt: Vec<f32> = (0..n * k).map(|i| b[(i % k) * n + i / k]).collect();
            let packed = PackedB::pack(
                k,
                n,
                View {
                    data: &bt,
                    rs: 1,
                    cs: k,
                },
            );
            let mut c = vec![0.0; m * n];
            matmul(m, &a, k, &packed, &mut c, n, false, 1.0);
            for (x, y) in c.iter().zip(&want) {
                assert!((x - y).abs() < 1e-4);
            }
        }
    }

    #[test]
    fn a_sub_matrix_of_b_is_a_prefix_of_its_rows_and_columns() {
        // Attention over the first keys of a cache packed once: rows < k2 and columns
        // < n2 of B only, every kernel, A with a row stride.
        let (m, k, n, k2, n2, lda) = (5, 70, 50, 37, 33, 81);
        let a: Vec<f32> = (0..m * lda).map(|i| ((i * 7) % 13) as f32 - 6.0).collect();
        let b: Vec<f32> = (0..k * n).map(|i| ((i * 5) % 11) as f32 * 0.25).collect();
        let packed = PackedB::pack(
            k,
            n,
            View {
                data: &b,
                rs: n,
                cs: 1,
            },
        );
        for isa in [Isa::Avx512, Isa::Avx2, Isa::Portable] {
            if !isa.supported() {
                continue;
            }
            let mut c = vec![0.0f32; m * n2];
            matmul_with(isa, m, &a, lda, &packed, (k2, n2), &mut c, n2, false, 1.0);
            for i in 0..m {
                for j in 0..n2 {
                    let want: f32 = (0..k2).map(|kk| a[i * lda + kk] * b[kk * n + j]).sum();
                    assert!((c[i * n2 + j] - want).abs() < 1e-3, "{isa:?} {i} {j}");
                }
            }
        }
    }

    #[test]
    fn every_kernel_matches_naive_on_edge_tiles() {
        let isas: Vec<Isa> = [Isa::Avx512, Isa::Avx2, Isa::Portable]
            .into_iter()
            .filter(|i| i.supported())
            .collect();
        let mut seed = 7u64;
        let mut rand = move || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        // Rows 1..=15 and past a task (GROUP·MR = 56), columns around 8, 16 and 32, k
        // past KC (384).
        for &(m, k, n) in &[
            (1, 3, 1),
            (2, 9, 7),
            (5, 17, 15),
            (6, 31, 16),
            (7, 8, 17),
            (13, 40, 31),
            (14, 1, 33),
            (15, 64, 64),
            (57, 100, 9),
            (61, 390, 45),
            (3, 800, 70),
        ] {
            let a: Vec<f32> = (0..m * k).map(|_| rand()).collect();
            let b: Vec<f32> = (0..k * n).map(|_| rand()).collect();
            let want = naive(m, k, n, &a, &b);
            let packed = PackedB::pack(
                k,
                n,
                View {
                    data: &b,
                    rs: n,
                    cs: 1,
                },
            );
            for &isa in &isas {
                for accumulate in [false, true] {
                    let ldc = n + 5;
                    let mut c = vec![0.25f32; m * ldc];
                    matmul_with(
                        isa,
                        m,
                        &a,
                        k,
                        &packed,
                        (k, n),
                        &mut c,
                        ldc,
                        accumulate,
                        -1.5,
                    );
                    for i in 0..m {
                        for j in 0..ldc {
                            let got = c[i * ldc + j];
                            if j >= n {
                                assert_eq!(got, 0.25, "{isa:?} wrote past the row");
                                continue;
                            }
                            let base = if accumulate { 0.25 } else { 0.0 };
                            let w = base - 1.5 * want[i * n + j];
                            let tol = 1e-5 * (k as f32).sqrt() + 1e-6;
                            assert!(
                                (got - w).abs() <= tol,
                                "{isa:?} {m}x{k}x{n} at {i},{j}: {got} vs {w}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn an_empty_inner_dimension_gives_the_bias_on_every_kernel() {
        // k == 0 with A and the panel empty: rows past the first group of the AVX2 kernel
        // (7) and columns in its second half (20) start beyond both slices.
        let (mr, cols, ldc) = (7, 20, 23);
        let bias: Vec<f32> = (0..cols).map(|j| j as f32).collect();
        for isa in [Isa::Avx512, Isa::Avx2, Isa::Portable] {
            if !isa.supported() {
                continue;
            }
            for accumulate in [false, true] {
                let mut c = vec![1.0f32; (mr - 1) * ldc + cols];
                micro(
                    isa,
                    0,
                    &[],
                    5,
                    &[],
                    &mut c,
                    ldc,
                    mr,
                    cols,
                    accumulate,
                    Some(&bias),
                    2.0,
                );
                for (i, v) in c.iter().enumerate() {
                    let (r, j) = (i / ldc, i % ldc);
                    let base = if accumulate { 1.0 } else { 0.0 };
                    let want = if j < cols { base + bias[j] } else { 1.0 };
                    assert_eq!(*v, want, "{isa:?} at {r},{j}");
                }
            }
        }
    }

    #[test]
    fn narrow_tiles_with_bias_match_naive_on_every_kernel() {
        // cols <= 16 is where the AVX-512 kernel's second half lies wholly past the row
        // (and past the bias): every width 1..=16, plus 17 and 32, on C sized exactly.
        let isas: Vec<Isa> = [Isa::Avx512, Isa::Avx2, Isa::Portable]
            .into_iter()
            .filter(|i| i.supported())
            .collect();
        for n in (1..=17).chain([32]) {
            for &(m, k) in &[(1, 5), (3, 16), (14, 33), (15, 7)] {
                let a: Vec<f32> = (0..m * k).map(|i| ((i * 7) % 11) as f32 - 5.0).collect();
                let b: Vec<f32> = (0..k * n).map(|i| ((i * 5) % 13) as f32 * 0.5).collect();
                let bias: Vec<f32> = (0..n).map(|j| j as f32 * 0.25 - 1.0).collect();
                let want = naive(m, k, n, &a, &b);
                let view = View {
                    data: &b,
                    rs: n,
                    cs: 1,
                };
                let packed = PackedB::pack(k, n, view);
                for &isa in &isas {
                    for accumulate in [false, true] {
                        let mut c = vec![2.0f32; m * n];
                        block(
                            isa,
                            m,
                            &a,
                            k,
                            &packed,
                            (k, n),
                            &mut c,
                            n,
                            accumulate,
                            Some(&bias),
                            0.5,
                        );
                        for (i, (got, w)) in c.iter().zip(&want).enumerate() {
                            let base = if accumulate { 2.0 } else { 0.0 };
                            let w = base + bias[i % n] + 0.5 * w;
                            assert_eq!(*got, w, "{isa:?} {m}x{k}x{n} at {i}");
                        }
                    }
                }
            }
        }
    }
}
