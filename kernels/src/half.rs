//! Half-precision path of the linear layers, for CPUs with AVX512-FP16 (Sapphire Rapids
//! and later): `C = bias + A · B` with `A` and `B` rounded to IEEE binary16 and the
//! products summed in f16 for at most [`KB`] steps, then added into f32 accumulators.
//!
//! Why f16 and not bf16: on the Emerald Rapids CPU this was written on, a loop of
//! independent `vdpbf16ps` (bf16 pairs into f32) ran at a quarter of the rate of
//! `vfmadd231ps`, i.e. half the multiply-adds per cycle of the f32 kernel, while
//! `vfmadd231ph` ran at the `vfmadd231ps` rate with 32 lanes, twice the f32 kernel's
//! work per instruction. f16 also keeps 11 significant bits where bf16 keeps 8.
//!
//! Range. f16 overflows at 65504, so both operands are scaled by powers of two (exact):
//! each column of `B` at packing so that its largest magnitude lies in [1, 2), each row of
//! `A` when it is converted so that `max|a| · L <= LIMIT`, where `L` bounds `Σ|b|` over any
//! [`KB`]-step block of a column. Every product and partial sum of a block is then below
//! `LIMIT` = 65504 / 4 whatever the model's magnitudes, and the scales are undone in f32
//! when the tile is written. Small values lose precision only below 2^-14 of the largest
//! one (subnormals), where their contribution is beneath the f32 sum's own rounding.
//!
//! Layout. `B` is packed in panels of [`NR`] = 32 columns, one 64-byte f16 row per `k`
//! step. Each task converts its rows of `A` to f16 rows (zero rows pad the last block of
//! [`MR`]); the micro-kernel broadcasts `a` values straight from them, its 9 rows
//! addressed from two pointers. The micro-kernel is `asm!` because the f16 intrinsics
//! are not stable in Rust.

use rayon::prelude::*;

use crate::View;

/// Columns of one panel: one zmm register of 32 f16 values.
pub const NR: usize = 32;
/// Rows per micro-kernel: 9 f16 accumulators + 18 f32 accumulators + 3 scratch registers.
const MR: usize = 9;
/// Steps summed in f16 before the block is added to the f32 accumulators.
const KB: usize = 64;
/// Slice of the inner dimension per pass over the panels (a multiple of KB, so that the
/// kernel's blocks are the ones `L` was computed on).
const KC: usize = 384;
/// Row blocks per task.
const GROUP: usize = 4;
/// Bound on every f16 partial sum, a quarter of the largest f16 value.
const LIMIT: f32 = 16384.0;

const _: () = assert!(KC.is_multiple_of(KB));

/// Whether this CPU runs the f16 path: AVX512-FP16 (and the AVX-512 F/BW it builds on).
pub fn available() -> bool {
    crate::cpu::has_avx512_fp16()
}

/// 2^e as f32, for e within the normal range.
fn pow2(e: i32) -> f32 {
    f32::from_bits(((e.clamp(-126, 127) + 127) as u32) << 23)
}

/// floor(log2(x)) for a positive finite x (normal or not: subnormals give -127).
fn ilog2(x: f32) -> i32 {
    ((x.to_bits() >> 23) & 0xff) as i32 - 127
}

/// A `k × n` matrix rounded to f16 and packed in panels of [`NR`] columns, each column
/// scaled by a power of two; see the module documentation.
#[derive(Debug, Default, Clone)]
pub struct PackedH {
    /// Panel `p`, row `kk`, column `j` at `p·k·NR + kk·NR + j` (zero beyond `n`).
    data: Vec<u16>,
    /// The inverse of each column's scale, `panels · NR` values (1 beyond `n`).
    col_inv: Vec<f32>,
    /// Largest `Σ|b|` over a column and a KB-aligned block of steps (scaled values).
    l1: f32,
    k: usize,
    n: usize,
}

impl PackedH {
    /// Pack the `k × n` matrix `b`. Only call where [`available`] is true.
    pub fn pack(k: usize, n: usize, b: View<'_>) -> Self {
        assert!(available(), "PackedH::pack needs AVX512-FP16");
        let panels = n.div_ceil(NR);
        let mut col_inv = vec![1.0f32; panels * NR];
        let mut data = vec![0u16; panels * k * NR];
        let at = |kk: usize, j: usize| b.data[kk * b.rs + j * b.cs];
        // Row by row (the weights come with contiguous rows): each column's largest
        // magnitude, then its scale.
        let mut max = vec![0.0f32; n];
        for kk in 0..k {
            for (j, m) in max.iter_mut().enumerate() {
                *m = m.max(at(kk, j).abs());
            }
        }
        let mut scale = vec![0.0f32; panels * NR];
        for ((m, s), inv) in max.iter().zip(&mut scale).zip(&mut col_inv) {
            let e = if *m > 0.0 && m.is_finite() {
                ilog2(*m).clamp(-100, 100)
            } else {
                0
            };
            *s = pow2(-e);
            *inv = pow2(e);
        }
        // Then the scaled rows, converted into the panels, and Σ|b| per KB-aligned block.
        let mut l1 = 0.0f32;
        let mut sums = vec![0.0f32; n];
        let mut row = vec![0.0f32; panels * NR];
        for kk in 0..k {
            for (j, (r, sum)) in row.iter_mut().zip(&mut sums).enumerate() {
                *r = at(kk, j) * scale[j];
                *sum += r.abs();
            }
            if (kk + 1) % KB == 0 || kk + 1 == k {
                l1 = sums.iter().fold(l1, |a, &v| a.max(v));
                sums.fill(0.0);
            }
            for (p, src) in row.chunks_exact(16).enumerate() {
                let (panel, half) = (p / 2, p % 2);
                let at = panel * k * NR + kk * NR + half * 16;
                let dst: &mut [u16; 16] = (&mut data[at..at + 16]).try_into().expect("16");
                let src: &[f32; 16] = src.try_into().expect("16");
                #[cfg(target_arch = "x86_64")]
                // SAFETY: `available()` was asserted above (AVX-512F present).
                unsafe {
                    avx512::convert16(src, dst)
                };
                #[cfg(not(target_arch = "x86_64"))]
                let _ = (src, dst);
            }
        }
        PackedH {
            data,
            col_inv,
            l1,
            k,
            n,
        }
    }

    fn panel(&self, p: usize) -> &[u16] {
        &self.data[p * self.k * NR..(p + 1) * self.k * NR]
    }
}

/// f32 to f16 bits, rounded to nearest even (by the CPU's conversion instruction).
#[cfg(test)]
fn to_f16(v: f32) -> u16 {
    let mut out = [0u16; 16];
    let mut src = [0.0f32; 16];
    src[0] = v;
    #[cfg(target_arch = "x86_64")]
    // SAFETY: only reached where `available()` holds (AVX-512F present).
    unsafe {
        avx512::convert16(&src, &mut out)
    };
    out[0]
}

/// Per-thread buffers of a task: the packed rows of `A` and their inverse scales.
#[derive(Default)]
struct Scratch {
    a: Vec<u16>,
    row_inv: Vec<f32>,
    tile: Vec<f32>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::default();
}

/// As [`crate::matmul::matmul_rows`], with `b` in f16: `C = (residual ? C : 0) + bias +
/// A · B`, then `epilogue` on each task's rows, for a dense `C` (`ldc = n`).
pub fn matmul_rows<E>(
    m: usize,
    a: &[f32],
    b: &PackedH,
    c: &mut [f32],
    residual: bool,
    bias: &[f32],
    epilogue: E,
) where
    E: Fn(&mut [f32]) + Sync,
{
    let (k, n) = (b.k, b.n);
    assert!(available(), "half::matmul_rows needs AVX512-FP16");
    assert!(
        m == 0 || k == 0 || (m - 1) * k + k <= a.len(),
        "matmul: A too small"
    );
    assert!(m * n <= c.len(), "matmul: C too small");
    assert_eq!(bias.len(), n, "matmul: bias length");
    if m == 0 || n == 0 {
        return;
    }
    let task = GROUP * MR;
    c[..m * n]
        .par_chunks_mut(task * n)
        .enumerate()
        .for_each(|(t, rows)| {
            let r0 = t * task;
            let m = rows.len() / n;
            SCRATCH.with_borrow_mut(|s| {
                block(m, &a[r0 * k..], b, rows, residual, bias, s);
            });
            epilogue(rows);
        });
}

/// Up to `GROUP · MR` rows of `C` (dense, `n` wide) from the same rows of `A` (dense,
/// `k` wide).
fn block(
    rows: usize,
    a: &[f32],
    b: &PackedH,
    c: &mut [f32],
    residual: bool,
    bias: &[f32],
    s: &mut Scratch,
) {
    let (k, n) = (b.k, b.n);
    let blocks = rows.div_ceil(MR);
    pack_a(rows, a, k, b.l1, s);
    if s.tile.len() < MR * NR {
        s.tile.resize(MR * NR, 0.0);
    }
    for k0 in (0..k.max(1)).step_by(KC) {
        let kc = KC.min(k - k0);
        for p in 0..n.div_ceil(NR) {
            let cols = NR.min(n - p * NR);
            let panel = &b.panel(p)[k0 * NR..(k0 + kc) * NR];
            for i in 0..blocks {
                let mr = MR.min(rows - i * MR);
                let ap = &s.a[i * MR * k + k0..];
                let tile = &mut s.tile[..MR * NR];
                micro(kc, ap, k, panel, tile);
                let first = k0 == 0;
                let out = Tile {
                    tile,
                    row_inv: &s.row_inv[i * MR..i * MR + mr],
                    col_inv: &b.col_inv[p * NR..p * NR + NR],
                    bias: first.then(|| &bias[p * NR..p * NR + cols]),
                    accumulate: residual || !first,
                };
                let off = i * MR * n + p * NR;
                out.store(&mut c[off..off + (mr - 1) * n + cols], n, cols);
            }
        }
    }
}

/// Convert `rows` rows of `a` (`k` wide, dense) to f16 rows in `s.a` (`k` wide), each
/// scaled by a power of two chosen from its largest magnitude and `l1` (its inverse in
/// `s.row_inv`); rows up to a multiple of MR past `rows` are zero.
fn pack_a(rows: usize, a: &[f32], k: usize, l1: f32, s: &mut Scratch) {
    let padded = rows.div_ceil(MR) * MR;
    s.a.clear();
    s.a.resize(padded * k, 0);
    s.row_inv.clear();
    s.row_inv.resize(padded, 1.0);
    for ((row, dst), inv) in a[..rows * k]
        .chunks_exact(k.max(1))
        .zip(s.a.chunks_exact_mut(k.max(1)))
        .zip(&mut s.row_inv)
    {
        let e = row_exponent(row, l1);
        *inv = pow2(-e);
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `pack_a` runs only under `matmul_rows`, which checked `available()`.
        unsafe {
            avx512::convert_row(row, pow2(e), dst)
        };
    }
}

/// The power of two by which `row` of `A` is scaled: the largest that keeps
/// `max|row| · max(l1, 1) <= LIMIT`.
fn row_exponent(row: &[f32], l1: f32) -> i32 {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: only reached where `available()` holds (AVX-512F present).
    let max = unsafe { avx512::max_abs(row) };
    #[cfg(not(target_arch = "x86_64"))]
    let max = row.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let bound = max * l1.max(1.0);
    if bound > 0.0 && bound.is_finite() {
        ilog2(LIMIT / bound).clamp(-100, 100)
    } else {
        0
    }
}

/// The product tile of one micro-kernel call and how to write it into `C`.
struct Tile<'a> {
    /// MR rows of NR f32 sums, in the scaled domain.
    tile: &'a [f32],
    row_inv: &'a [f32],
    col_inv: &'a [f32],
    bias: Option<&'a [f32]>,
    accumulate: bool,
}

impl Tile<'_> {
    /// `C[r][j] = (accumulate ? C[r][j] : 0) + bias[j] + tile[r][j] · row_inv[r] ·
    /// col_inv[j]` for the tile's rows and `cols` columns; `c` starts at the tile's
    /// corner and has row stride `ldc`.
    fn store(&self, c: &mut [f32], ldc: usize, cols: usize) {
        debug_assert!(c.len() >= (self.row_inv.len() - 1) * ldc + cols);
        #[cfg(target_arch = "x86_64")]
        // SAFETY: AVX-512F is present (checked by `matmul_rows`); `c` covers every row
        // and column written, per the assertion above and the callers' bounds.
        unsafe {
            avx512::store(self, c, ldc, cols)
        }
    }
}

/// `tile[r·NR + j] = Σ_kk a[r·lda + kk] · panel[kk·NR + j]` for all MR rows and NR
/// columns, in f16 blocks of KB steps summed in f32.
fn micro(k: usize, a: &[u16], lda: usize, panel: &[u16], tile: &mut [f32]) {
    assert!(k == 0 || a.len() >= (MR - 1) * lda + k);
    assert!(panel.len() >= k * NR && tile.len() >= MR * NR);
    if k == 0 {
        tile.fill(0.0);
        return;
    }
    #[cfg(target_arch = "x86_64")]
    // SAFETY: AVX512-FP16 is present (checked by `matmul_rows`); the slices hold the
    // MR rows of k values, k·NR and MR·NR values the kernel reads and writes (asserted
    // above).
    unsafe {
        avx512::kernel(k, a.as_ptr(), lda, panel.as_ptr(), tile.as_mut_ptr())
    };
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::asm;
    use std::arch::x86_64::*;

    use super::{KB, MR, NR, Tile};

    /// Round 16 f32 values to f16 bits.
    ///
    /// # Safety
    /// AVX-512F and the features it implies must be available (as [`super::available`]
    /// ensures).
    #[target_feature(enable = "avx512f")]
    pub unsafe fn convert16(src: &[f32; 16], dst: &mut [u16; 16]) {
        // SAFETY: both arrays hold 16 elements; the loads and stores are unaligned.
        unsafe {
            let v = _mm512_loadu_ps(src.as_ptr());
            let h = _mm512_cvtps_ph::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(v);
            _mm256_storeu_si256(dst.as_mut_ptr().cast(), h);
        }
    }

    /// `dst[i] = f16(row[i] · scale)` for every i (`dst` as long as `row`).
    ///
    /// # Safety
    /// AVX-512F and the features it implies must be available (as [`super::available`]
    /// ensures).
    #[target_feature(enable = "avx512f")]
    pub unsafe fn convert_row(row: &[f32], scale: f32, dst: &mut [u16]) {
        assert_eq!(row.len(), dst.len());
        let s = _mm512_set1_ps(scale);
        let mut chunks = row.chunks_exact(16);
        let mut out = dst.chunks_exact_mut(16);
        for (c, d) in (&mut chunks).zip(&mut out) {
            // SAFETY: `c` and `d` hold 16 values each.
            unsafe {
                let v = _mm512_mul_ps(_mm512_loadu_ps(c.as_ptr()), s);
                let h = _mm512_cvtps_ph::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(v);
                _mm256_storeu_si256(d.as_mut_ptr().cast(), h);
            }
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut buf = [0.0f32; 16];
            let mut half = [0u16; 16];
            for (b, v) in buf.iter_mut().zip(rest) {
                *b = v * scale;
            }
            // SAFETY: AVX-512F is available, per the contract.
            unsafe { convert16(&buf, &mut half) };
            out.into_remainder().copy_from_slice(&half[..rest.len()]);
        }
    }

    /// The largest magnitude of the finite values of `row`, 0 for an empty row.
    ///
    /// # Safety
    /// AVX-512F and the features it implies must be available (as [`super::available`]
    /// ensures).
    #[target_feature(enable = "avx512f")]
    pub unsafe fn max_abs(row: &[f32]) -> f32 {
        let mut m = _mm512_setzero_ps();
        let mut chunks = row.chunks_exact(16);
        for c in &mut chunks {
            // SAFETY: `c` holds 16 values.
            m = _mm512_max_ps(m, _mm512_abs_ps(unsafe { _mm512_loadu_ps(c.as_ptr()) }));
        }
        let tail = chunks
            .remainder()
            .iter()
            .fold(0.0f32, |a, v| a.max(v.abs()));
        _mm512_reduce_max_ps(m).max(tail)
    }

    /// See [`Tile::store`].
    ///
    /// # Safety
    /// AVX-512F and the features it implies must be available (as [`super::available`]
    /// ensures). The bounds (`c` holds `(rows - 1) · ldc + cols` values, the tile MR·NR,
    /// the scales and the bias enough for `cols`) are checked here.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn store(t: &Tile<'_>, c: &mut [f32], ldc: usize, cols: usize) {
        let rows = t.row_inv.len();
        assert!(
            (1..=MR).contains(&rows) && (1..=NR).contains(&cols),
            "store: shape"
        );
        assert!(c.len() >= (rows - 1) * ldc + cols, "store: C too small");
        assert!(
            t.tile.len() >= MR * NR && t.col_inv.len() >= NR,
            "store: tile"
        );
        assert!(t.bias.is_none_or(|b| b.len() >= cols), "store: bias");
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
        // SAFETY: `tile` has MR·NR values, `col_inv` NR, `bias` `cols` (masked loads),
        // and each row of `c` written holds `cols` values (masked stores).
        unsafe {
            let ci0 = _mm512_loadu_ps(t.col_inv.as_ptr());
            let ci1 = _mm512_loadu_ps(t.col_inv.as_ptr().add(16));
            let (b0, b1) = match t.bias {
                Some(b) => (
                    _mm512_maskz_loadu_ps(m0, b.as_ptr()),
                    _mm512_maskz_loadu_ps(m1, b.as_ptr().wrapping_add(16)),
                ),
                None => (_mm512_setzero_ps(), _mm512_setzero_ps()),
            };
            for (r, &ri) in t.row_inv.iter().enumerate() {
                let s = _mm512_set1_ps(ri);
                let src = t.tile.as_ptr().add(r * NR);
                let dst = c.as_mut_ptr().add(r * ldc);
                let mut v0 = _mm512_fmadd_ps(_mm512_loadu_ps(src), _mm512_mul_ps(s, ci0), b0);
                let mut v1 =
                    _mm512_fmadd_ps(_mm512_loadu_ps(src.add(16)), _mm512_mul_ps(s, ci1), b1);
                if t.accumulate {
                    v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, dst));
                    v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, dst.wrapping_add(16)));
                }
                _mm512_mask_storeu_ps(dst, m0, v0);
                _mm512_mask_storeu_ps(dst.wrapping_add(16), m1, v1);
            }
        }
    }

    /// The f16 micro-kernel: `out[r·NR + j] = Σ_kk a[r·lda + kk] · b[kk·NR + j]` for
    /// r < MR, j < NR, summing each block of up to KB steps in f16 and the blocks in f32.
    ///
    /// # Safety
    /// AVX512-FP16 must be available, `k > 0`, `a` readable for MR rows of `k` f16 values
    /// at stride `lda`, `b` for `k·NR` values and `out` writable for `MR·NR` f32 values.
    pub unsafe fn kernel(k: usize, a: *const u16, lda: usize, b: *const u16, out: *mut f32) {
        const _: () = assert!(MR == 9 && NR == 32);
        // SAFETY: per the contract the loads stay within the first k values of MR rows
        // of `a` (each pointer advanced by one value per step) and k·NR of `b` (NR per
        // step), the stores within MR·NR of `out` (prefetches may point past `b`, but a
        // prefetch never faults); the asm uses no stack and declares every register it
        // changes.
        unsafe {
            asm!(
            // Zero the f32 accumulators: row r in zmm(9 + r) (columns 0..16) and
            // zmm(18 + r) (columns 16..32). Rows 0..5 of A are read from a0, 5..9 from
            // a1 = a0 + 5 rows; then blocks of at most KB steps are accumulated in f16 in
            // zmm0..zmm8 (one row per register).
            "vpxord zmm9, zmm9, zmm9",
            "vpxord zmm10, zmm10, zmm10",
            "vpxord zmm11, zmm11, zmm11",
            "vpxord zmm12, zmm12, zmm12",
            "vpxord zmm13, zmm13, zmm13",
            "vpxord zmm14, zmm14, zmm14",
            "vpxord zmm15, zmm15, zmm15",
            "vpxord zmm16, zmm16, zmm16",
            "vpxord zmm17, zmm17, zmm17",
            "vpxord zmm18, zmm18, zmm18",
            "vpxord zmm19, zmm19, zmm19",
            "vpxord zmm20, zmm20, zmm20",
            "vpxord zmm21, zmm21, zmm21",
            "vpxord zmm22, zmm22, zmm22",
            "vpxord zmm23, zmm23, zmm23",
            "vpxord zmm24, zmm24, zmm24",
            "vpxord zmm25, zmm25, zmm25",
            "vpxord zmm26, zmm26, zmm26",
            "2:",
            "mov {cnt}, {kb}",
            "cmp {k}, {cnt}",
            "cmovb {cnt}, {k}",
            "sub {k}, {cnt}",
            "vpxord zmm0, zmm0, zmm0",
            "vpxord zmm1, zmm1, zmm1",
            "vpxord zmm2, zmm2, zmm2",
            "vpxord zmm3, zmm3, zmm3",
            "vpxord zmm4, zmm4, zmm4",
            "vpxord zmm5, zmm5, zmm5",
            "vpxord zmm6, zmm6, zmm6",
            "vpxord zmm7, zmm7, zmm7",
            "vpxord zmm8, zmm8, zmm8",
            "3:",
            // The panel streams from L2: fetch 8 steps ahead (~5% faster, measured).
            "prefetcht0 [{b}+512]",
            "vmovdqu16 zmm27, zmmword ptr [{b}]",
            "vfmadd231ph zmm0, zmm27, word ptr [{a0}]{{1to32}}",
            "vfmadd231ph zmm1, zmm27, word ptr [{a0}+{l}]{{1to32}}",
            "vfmadd231ph zmm2, zmm27, word ptr [{a0}+{l}*2]{{1to32}}",
            "vfmadd231ph zmm3, zmm27, word ptr [{a0}+{l3}]{{1to32}}",
            "vfmadd231ph zmm4, zmm27, word ptr [{a0}+{l}*4]{{1to32}}",
            "vfmadd231ph zmm5, zmm27, word ptr [{a1}]{{1to32}}",
            "vfmadd231ph zmm6, zmm27, word ptr [{a1}+{l}]{{1to32}}",
            "vfmadd231ph zmm7, zmm27, word ptr [{a1}+{l}*2]{{1to32}}",
            "vfmadd231ph zmm8, zmm27, word ptr [{a1}+{l3}]{{1to32}}",
            "add {a0}, 2",
            "add {a1}, 2",
            "add {b}, 64",
            "dec {cnt}",
            "jnz 3b",
            // Add the block into the f32 accumulators.
            "vextracti64x4 ymm28, zmm0, 1",
            "vcvtph2psx zmm29, ymm0",
            "vcvtph2psx zmm28, ymm28",
            "vaddps zmm9, zmm9, zmm29",
            "vaddps zmm18, zmm18, zmm28",
            "vextracti64x4 ymm28, zmm1, 1",
            "vcvtph2psx zmm29, ymm1",
            "vcvtph2psx zmm28, ymm28",
            "vaddps zmm10, zmm10, zmm29",
            "vaddps zmm19, zmm19, zmm28",
            "vextracti64x4 ymm28, zmm2, 1",
            "vcvtph2psx zmm29, ymm2",
            "vcvtph2psx zmm28, ymm28",
            "vaddps zmm11, zmm11, zmm29",
            "vaddps zmm20, zmm20, zmm28",
            "vextracti64x4 ymm28, zmm3, 1",
            "vcvtph2psx zmm29, ymm3",
            "vcvtph2psx zmm28, ymm28",
            "vaddps zmm12, zmm12, zmm29",
            "vaddps zmm21, zmm21, zmm28",
            "vextracti64x4 ymm28, zmm4, 1",
            "vcvtph2psx zmm29, ymm4",
            "vcvtph2psx zmm28, ymm28",
            "vaddps zmm13, zmm13, zmm29",
            "vaddps zmm22, zmm22, zmm28",
            "vextracti64x4 ymm28, zmm5, 1",
            "vcvtph2psx zmm29, ymm5",
            "vcvtph2psx zmm28, ymm28",
            "vaddps zmm14, zmm14, zmm29",
            "vaddps zmm23, zmm23, zmm28",
            "vextracti64x4 ymm28, zmm6, 1",
            "vcvtph2psx zmm29, ymm6",
            "vcvtph2psx zmm28, ymm28",
            "vaddps zmm15, zmm15, zmm29",
            "vaddps zmm24, zmm24, zmm28",
            "vextracti64x4 ymm28, zmm7, 1",
            "vcvtph2psx zmm29, ymm7",
            "vcvtph2psx zmm28, ymm28",
            "vaddps zmm16, zmm16, zmm29",
            "vaddps zmm25, zmm25, zmm28",
            "vextracti64x4 ymm28, zmm8, 1",
            "vcvtph2psx zmm29, ymm8",
            "vcvtph2psx zmm28, ymm28",
            "vaddps zmm17, zmm17, zmm29",
            "vaddps zmm26, zmm26, zmm28",
            "test {k}, {k}",
            "jnz 2b",
            "vmovups zmmword ptr [{out}+0], zmm9",
            "vmovups zmmword ptr [{out}+64], zmm18",
            "vmovups zmmword ptr [{out}+128], zmm10",
            "vmovups zmmword ptr [{out}+192], zmm19",
            "vmovups zmmword ptr [{out}+256], zmm11",
            "vmovups zmmword ptr [{out}+320], zmm20",
            "vmovups zmmword ptr [{out}+384], zmm12",
            "vmovups zmmword ptr [{out}+448], zmm21",
            "vmovups zmmword ptr [{out}+512], zmm13",
            "vmovups zmmword ptr [{out}+576], zmm22",
            "vmovups zmmword ptr [{out}+640], zmm14",
            "vmovups zmmword ptr [{out}+704], zmm23",
            "vmovups zmmword ptr [{out}+768], zmm15",
            "vmovups zmmword ptr [{out}+832], zmm24",
            "vmovups zmmword ptr [{out}+896], zmm16",
            "vmovups zmmword ptr [{out}+960], zmm25",
            "vmovups zmmword ptr [{out}+1024], zmm17",
            "vmovups zmmword ptr [{out}+1088], zmm26",
                k = inout(reg) k => _,
                a0 = inout(reg) a => _,
                a1 = inout(reg) a.wrapping_add(5 * lda) => _,
                l = in(reg) lda * 2,
                l3 = in(reg) lda * 6,
                b = inout(reg) b => _,
                cnt = out(reg) _,
                kb = const KB,
                out = in(reg) out,
                                out("zmm0") _, out("zmm1") _, out("zmm2") _, out("zmm3") _, out("zmm4") _, out("zmm5") _, out("zmm6") _, out("zmm7") _, out("zmm8") _, out("zmm9") _, out("zmm10") _, out("zmm11") _, out("zmm12") _, out("zmm13") _, out("zmm14") _, out("zmm15") _, out("zmm16") _, out("zmm17") _, out("zmm18") _, out("zmm19") _, out("zmm20") _, out("zmm21") _, out("zmm22") _, out("zmm23") _, out("zmm24") _, out("zmm25") _, out("zmm26") _, out("zmm27") _, out("zmm28") _, out("zmm29") _,
                options(nostack),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic spread of values, including a few large ones.
    fn values(len: usize, seed: u64, big: f32) -> Vec<f32> {
        let mut s = seed;
        (0..len)
            .map(|i| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let u = (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
                if i % 97 == 3 { u * big } else { u }
            })
            .collect()
    }

    /// f16 bits to f32 (normal and subnormal values; the tests make no others).
    fn from_f16(h: u16) -> f32 {
        let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
        let e = ((h >> 10) & 0x1f) as i32;
        let m = (h & 0x3ff) as f32;
        sign * if e == 0 {
            m * pow2(-24)
        } else {
            (1.0 + m / 1024.0) * pow2(e - 15)
        }
    }

    #[test]
    fn matches_f32_reference_on_ragged_shapes() {
        if !available() {
            return;
        }
        // Rows past one block (9) and one task (36), columns around 32, k around KB (64)
        // and KC (384); some large values, and weights far below 1.
        for &(m, k, n, big, wscale) in &[
            (1, 1, 1, 1.0, 0.1),
            (5, 7, 3, 1.0, 0.1),
            (9, 64, 32, 1.0, 0.1),
            (13, 33, 40, 10.0, 0.1),
            (37, 65, 97, 100.0, 0.1),
            (50, 385, 70, 1.0, 0.1),
            (40, 1536, 33, 1e4, 0.1),
            (3, 800, 20, 1.0, 1e-6),
        ] {
            let a = values(m * k, 1, big);
            let b: Vec<f32> = values(k * n, 2, big).iter().map(|v| v * wscale).collect();
            let bias: Vec<f32> = (0..n).map(|j| j as f32 * 0.01).collect();
            let packed = PackedH::pack(
                k,
                n,
                View {
                    data: &b,
                    rs: n,
                    cs: 1,
                },
            );
            // The operands as the kernel sees them: rounded to f16 in the scaled domain.
            let mut bq = vec![0.0f64; k * n];
            for j in 0..n {
                let panel = packed.panel(j / NR);
                for l in 0..k {
                    let h = panel[l * NR + j % NR];
                    bq[l * n + j] = from_f16(h) as f64 * packed.col_inv[j] as f64;
                }
            }
            let mut aq = vec![0.0f64; m * k];
            let mut row_inv = vec![0.0f64; m];
            for i in 0..m {
                let e = row_exponent(&a[i * k..(i + 1) * k], packed.l1);
                row_inv[i] = pow2(-e) as f64;
                for l in 0..k {
                    aq[i * k + l] = from_f16(to_f16(a[i * k + l] * pow2(e))) as f64 * row_inv[i];
                }
            }
            for residual in [false, true] {
                let mut c = vec![0.5f32; m * n];
                matmul_rows(m, &a, &packed, &mut c, residual, &bias, |r| {
                    r.iter_mut().for_each(|v| *v *= 2.0)
                });
                for i in 0..m {
                    for j in 0..n {
                        // Each f16 step rounds its partial sum once: error at most 2^-11
                        // of it, or 2^-25 (scaled) among subnormals.
                        let mut want = bias[j] as f64 + if residual { 0.5 } else { 0.0 };
                        let (mut bound, mut mag) = (0.0f64, want.abs());
                        let unscale = row_inv[i] * packed.col_inv[j] as f64;
                        for block in (0..k).collect::<Vec<_>>().chunks(KB) {
                            let mut partial = 0.0f64;
                            for &l in block {
                                let p = aq[i * k + l] * bq[l * n + j];
                                partial += p;
                                mag += p.abs();
                                bound += partial.abs() * 2f64.powi(-11) + 2f64.powi(-25) * unscale;
                            }
                            want += partial;
                        }
                        let got = c[i * n + j] as f64 / 2.0;
                        let tol = 1.05 * bound + 1e-6 * mag + 1e-30;
                        assert!(
                            (got - want).abs() <= tol,
                            "{m}x{k}x{n} at {i},{j}: {got} vs {want} (tol {tol})"
                        );
                    }
                }
            }
        }
    }
}
