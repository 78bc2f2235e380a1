//! Matrix products on K-quant weights (Q4_K, Q5_K, Q6_K) in their quantized form.
//!
//! The files people download (Q4_K_M, Q5_K_M, Q6_K) are made of these super-blocks of
//! 256 weights with a 6- or 8-bit scale per sub-block; a full f32 copy of a 3B model
//! would take 12 GB, so the weights stay as the GGUF stores them (byte for byte, no
//! repacking: the layout is llama.cpp's and so are the dot products). Activations are
//! quantized per 256 values to int8 with one f32 scale and the sums of each 16 values
//! (llama.cpp's Q8_K): a sub-block's minimum or its Q6_K offset of 32 then costs one
//! multiply by a precomputed sum instead of a pass over the values.
//!
//! The AVX2 kernels follow llama.cpp's `ggml_vec_dot_q*_K_q8_K`: unpack 32 weights to
//! bytes, `vpmaddubsw` them with 32 activations (u8 × i8 → i16 pairs, which cannot
//! saturate: weights are at most 63 and activations at most 127 in magnitude), then
//! `vpmaddwd` with the sub-block's scale. The portable path computes the same integer
//! sums, so both give the same result up to f32 rounding.
//!
//! A prompt runs through [`KMatrix::gemm`], which reads each weight row once for all the
//! prompt's rows (the row stays in L1 while the activations stream from L2), so that no
//! f32 copy is needed there either.

use half::f16;
use rayon::prelude::*;

/// Values per super-block.
pub const QK_K: usize = 256;

/// A K-quant block format, as `GgmlDType` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KKind {
    Q4K,
    Q5K,
    Q6K,
}

impl KKind {
    /// Bytes of one super-block in the GGUF file.
    pub fn block_bytes(self) -> usize {
        match self {
            KKind::Q4K => 144,
            KKind::Q5K => 176,
            KKind::Q6K => 210,
        }
    }
}

/// A `rows × cols` matrix of K-quant super-blocks, row-major as in the GGUF tensor.
#[derive(Debug, Clone)]
pub struct KMatrix {
    pub rows: usize,
    pub cols: usize,
    pub kind: KKind,
    data: Vec<u8>,
}

/// An activation vector (or several rows of them) quantized to Q8_K.
#[derive(Debug, Default, Clone)]
pub struct Q8K {
    /// Super-blocks per row.
    blocks: usize,
    q: Vec<i8>,
    d: Vec<f32>,
    /// Sum of each 16 values of `q`.
    bsums: Vec<i16>,
}

impl Q8K {
    /// Quantize `m` rows of `cols` values (row stride `lda`) into this buffer.
    pub fn quantize_rows(&mut self, m: usize, a: &[f32], lda: usize, cols: usize) {
        assert!(cols.is_multiple_of(QK_K), "Q8K: width {cols}");
        let nb = cols / QK_K;
        self.blocks = nb;
        self.q.clear();
        self.q.resize(m * cols, 0);
        self.d.clear();
        self.d.resize(m * nb, 0.0);
        self.bsums.clear();
        self.bsums.resize(m * nb * 16, 0);
        for i in 0..m {
            let row = &a[i * lda..i * lda + cols];
            for (b, blk) in row.chunks_exact(QK_K).enumerate() {
                let amax = blk.iter().fold(0.0f32, |acc, v| acc.max(v.abs()));
                let d = amax / 127.0;
                let id = if d > 0.0 { 1.0 / d } else { 0.0 };
                let at = i * cols + b * QK_K;
                for (j, v) in blk.iter().enumerate() {
                    self.q[at + j] = (v * id).round().clamp(-127.0, 127.0) as i8;
                }
                let bi = i * nb + b;
                self.d[bi] = d;
                for (k, s) in self.bsums[bi * 16..(bi + 1) * 16].iter_mut().enumerate() {
                    *s = self.q[at + k * 16..at + (k + 1) * 16]
                        .iter()
                        .map(|&q| q as i16)
                        .sum();
                }
            }
        }
    }

    /// Row `i`'s values, scales and sums.
    fn row(&self, i: usize) -> ActRow<'_> {
        let nb = self.blocks;
        ActRow {
            q: &self.q[i * nb * QK_K..(i + 1) * nb * QK_K],
            d: &self.d[i * nb..(i + 1) * nb],
            bsums: &self.bsums[i * nb * 16..(i + 1) * nb * 16],
        }
    }

    fn rows(&self) -> usize {
        self.d.len() / self.blocks.max(1)
    }
}

#[derive(Clone, Copy)]
struct ActRow<'a> {
    q: &'a [i8],
    d: &'a [f32],
    bsums: &'a [i16],
}

/// A pointer to an output matrix that tasks write at disjoint positions.
#[derive(Clone, Copy)]
struct Out(*mut f32);
// SAFETY: tasks write disjoint elements (each its own weight rows' columns).
unsafe impl Send for Out {}
unsafe impl Sync for Out {}

impl Out {
    /// The element at `i` (a method, so that closures capture the `Send` wrapper and
    /// not its raw pointer field).
    fn at(self, i: usize) -> *mut f32 {
        self.0.wrapping_add(i)
    }
}

impl KMatrix {
    /// Take a GGUF tensor's bytes (`rows · cols/256` super-blocks of `kind`).
    pub fn new(rows: usize, cols: usize, kind: KKind, data: Vec<u8>) -> Option<KMatrix> {
        (cols.is_multiple_of(QK_K) && data.len() == rows * cols / QK_K * kind.block_bytes())
            .then_some(KMatrix {
                rows,
                cols,
                kind,
                data,
            })
    }

    /// `a`'s rows followed by `b`'s, if they have the same kind and width.
    pub fn concat_rows(a: &KMatrix, b: &KMatrix) -> Option<KMatrix> {
        (a.kind == b.kind && a.cols == b.cols).then(|| KMatrix {
            rows: a.rows + b.rows,
            cols: a.cols,
            kind: a.kind,
            data: [a.data.as_slice(), b.data.as_slice()].concat(),
        })
    }

    pub fn bytes(&self) -> usize {
        self.data.len()
    }

    fn row_bytes(&self) -> usize {
        self.cols / QK_K * self.kind.block_bytes()
    }

    fn row(&self, r: usize) -> &[u8] {
        let rb = self.row_bytes();
        &self.data[r * rb..(r + 1) * rb]
    }

    /// Row `r` as f32 (the embedding lookup, and the reference of the tests).
    pub fn dequantize_row(&self, r: usize, out: &mut [f32]) {
        let bb = self.kind.block_bytes();
        for (blk, o) in self
            .row(r)
            .chunks_exact(bb)
            .zip(out[..self.cols].chunks_exact_mut(QK_K))
        {
            dequantize_block(self.kind, blk, o);
        }
    }

    /// `c[i·ldc + r] (+)= Σ_k W[r][k]·a_i[k]` for every row `r` of the weights and
    /// every row `i` of the activations, spread over the current rayon pool.
    pub fn gemm(&self, a: &Q8K, c: &mut [f32], ldc: usize, accumulate: bool) {
        assert_eq!(a.blocks * QK_K, self.cols, "KMatrix: activation width");
        let m = a.rows();
        assert!(
            m == 0 || c.len() >= (m - 1) * ldc + self.rows,
            "KMatrix: output"
        );
        let threads = rayon::current_num_threads().max(1);
        let chunk = self.rows.div_ceil(threads * 4).max(4);
        let out = Out(c.as_mut_ptr());
        (0..self.rows.div_ceil(chunk))
            .into_par_iter()
            .for_each(|t| {
                for r in t * chunk..((t + 1) * chunk).min(self.rows) {
                    let w = self.row(r);
                    for i in 0..m {
                        let v = self.dot(w, a.row(i));
                        // SAFETY: `i·ldc + r` is within `c` (checked above), and only the
                        // task owning row `r` writes column `r`.
                        unsafe {
                            let p = out.at(i * ldc + r);
                            *p = if accumulate { *p + v } else { v };
                        }
                    }
                }
            });
    }

    fn dot(&self, w: &[u8], x: ActRow<'_>) -> f32 {
        #[cfg(target_arch = "x86_64")]
        if docket_kernels::cpu::has_avx2() {
            // SAFETY: the CPU has AVX2 and FMA; `w` and `x` hold the same number of
            // super-blocks (checked in the kernel).
            return unsafe {
                match self.kind {
                    KKind::Q4K => avx2::q4k(w, x),
                    KKind::Q5K => avx2::q5k(w, x),
                    KKind::Q6K => avx2::q6k(w, x),
                }
            };
        }
        dot_portable(self.kind, w, x)
    }
}

fn h(b: &[u8]) -> f32 {
    f16::from_le_bytes([b[0], b[1]]).to_f32()
}

/// The 6-bit scale and minimum of sub-block `j` of a Q4_K/Q5_K super-block
/// (llama.cpp's `get_scale_min_k4`).
fn scale_min(j: usize, s: &[u8]) -> (u8, u8) {
    if j < 4 {
        (s[j] & 63, s[j + 4] & 63)
    } else {
        (
            (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4),
            (s[j + 4] >> 4) | ((s[j] >> 6) << 4),
        )
    }
}

/// The unsigned quantized value `l` (0..256) of a super-block and, for Q6_K, the index
/// of its 16-value scale; Q4_K/Q5_K have one scale per 32 values.
fn q_at(kind: KKind, b: &[u8], l: usize) -> u8 {
    match kind {
        KKind::Q4K => {
            let qs = &b[16..];
            let (chunk, j) = (l / 64, l % 64);
            let byte = qs[chunk * 32 + j % 32];
            if j < 32 { byte & 0xF } else { byte >> 4 }
        }
        KKind::Q5K => {
            let (qh, qs) = (&b[16..48], &b[48..]);
            let (chunk, j) = (l / 64, l % 64);
            let byte = qs[chunk * 32 + j % 32];
            let (lo, bit) = if j < 32 {
                (byte & 0xF, 2 * chunk)
            } else {
                (byte >> 4, 2 * chunk + 1)
            };
            lo | (((qh[j % 32] >> bit) & 1) << 4)
        }
        KKind::Q6K => {
            let (ql, qh) = (&b[..128], &b[128..192]);
            let (n, j) = (l / 128, l % 128);
            let (ql, qh) = (&ql[n * 64..], &qh[n * 32..]);
            let (quarter, i) = (j / 32, j % 32);
            let lo = match quarter {
                0 => ql[i] & 0xF,
                1 => ql[i + 32] & 0xF,
                2 => ql[i] >> 4,
                _ => ql[i + 32] >> 4,
            };
            lo | (((qh[i] >> (2 * quarter)) & 3) << 4)
        }
    }
}

/// One super-block as f32, as llama.cpp's `dequantize_row_q*_K` computes it.
fn dequantize_block(kind: KKind, b: &[u8], out: &mut [f32]) {
    match kind {
        KKind::Q4K | KKind::Q5K => {
            let (d, dmin) = (h(&b[0..2]), h(&b[2..4]));
            let sc = &b[4..16];
            for (l, o) in out.iter_mut().enumerate() {
                let (s, m) = scale_min(l / 32, sc);
                *o = d * s as f32 * q_at(kind, b, l) as f32 - dmin * m as f32;
            }
        }
        KKind::Q6K => {
            let d = h(&b[208..210]);
            let sc = &b[192..208];
            for (l, o) in out.iter_mut().enumerate() {
                let s = sc[l / 16] as i8;
                *o = d * s as f32 * (q_at(kind, b, l) as i32 - 32) as f32;
            }
        }
    }
}

fn dot_portable(kind: KKind, w: &[u8], x: ActRow<'_>) -> f32 {
    let bb = kind.block_bytes();
    let mut total = 0.0f32;
    for (i, b) in w.chunks_exact(bb).enumerate() {
        let xq = &x.q[i * QK_K..(i + 1) * QK_K];
        let bs = &x.bsums[i * 16..(i + 1) * 16];
        match kind {
            KKind::Q4K | KKind::Q5K => {
                let (d, dmin) = (h(&b[0..2]), h(&b[2..4]));
                let (mut sumi, mut summ) = (0i32, 0i32);
                for j in 0..8 {
                    let (s, m) = scale_min(j, &b[4..16]);
                    let dot: i32 = (0..32)
                        .map(|l| q_at(kind, b, j * 32 + l) as i32 * xq[j * 32 + l] as i32)
                        .sum();
                    sumi += s as i32 * dot;
                    summ += m as i32 * (bs[2 * j] as i32 + bs[2 * j + 1] as i32);
                }
                total += x.d[i] * (d * sumi as f32 - dmin * summ as f32);
            }
            KKind::Q6K => {
                let d = h(&b[208..210]);
                let mut sumi = 0i32;
                for k in 0..16 {
                    let s = b[192 + k] as i8 as i32;
                    let dot: i32 = (0..16)
                        .map(|l| q_at(kind, b, k * 16 + l) as i32 * xq[k * 16 + l] as i32)
                        .sum();
                    sumi += s * (dot - 32 * bs[k] as i32);
                }
                total += x.d[i] * d * sumi as f32;
            }
        }
    }
    total
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::{ActRow, KKind, QK_K, h, scale_min};

    fn check(kind: KKind, w: &[u8], x: ActRow<'_>) -> usize {
        let nb = w.len() / kind.block_bytes();
        assert!(
            x.q.len() >= nb * QK_K && x.d.len() >= nb && x.bsums.len() >= nb * 16,
            "K-quant dot: activations"
        );
        nb
    }

    /// Horizontal sum of 8 f32.
    #[target_feature(enable = "avx2,fma")]
    fn hsum(v: __m256) -> f32 {
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps(s, s, 1)))
    }

    /// Σ of a sub-block pair's products: `q` (32 unsigned weights) × `a` (32 int8
    /// activations), the 16 pair sums weighted by `scale` (i16 lanes).
    #[target_feature(enable = "avx2,fma")]
    fn dot32(q: __m256i, a: __m256i, scale: __m256i) -> __m256i {
        _mm256_madd_epi16(scale, _mm256_maddubs_epi16(q, a))
    }

    /// # Safety
    /// The CPU must have AVX2 and FMA. Lengths are checked here.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn q4k(w: &[u8], x: ActRow<'_>) -> f32 {
        let nb = check(KKind::Q4K, w, x);
        let m4 = _mm256_set1_epi8(0x0F);
        let mut acc = _mm256_setzero_ps();
        let mut acc_m = 0.0f32;
        for i in 0..nb {
            let b = &w[i * 144..(i + 1) * 144];
            let (d, dmin) = (h(&b[0..2]) * x.d[i], h(&b[2..4]) * x.d[i]);
            let mut summ = 0i32;
            let bs = &x.bsums[i * 16..(i + 1) * 16];
            let mut sc = [0i16; 8];
            for (j, s) in sc.iter_mut().enumerate() {
                let (v, m) = scale_min(j, &b[4..16]);
                *s = v as i16;
                summ += m as i32 * (bs[2 * j] as i32 + bs[2 * j + 1] as i32);
            }
            acc_m += dmin * summ as f32;
            let mut sumi = _mm256_setzero_si256();
            // SAFETY: 4 × 32 weight bytes from offset 16 of a 144-byte block, and 256
            // activations of block `i`, all within the checked lengths.
            unsafe {
                let qs = b.as_ptr().add(16);
                let aq = x.q.as_ptr().add(i * QK_K);
                for j in 0..4 {
                    let bits = _mm256_loadu_si256(qs.add(j * 32) as *const __m256i);
                    let lo = _mm256_and_si256(bits, m4);
                    let hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4);
                    let a0 = _mm256_loadu_si256(aq.add(j * 64) as *const __m256i);
                    let a1 = _mm256_loadu_si256(aq.add(j * 64 + 32) as *const __m256i);
                    let p0 = dot32(lo, a0, _mm256_set1_epi16(sc[2 * j]));
                    let p1 = dot32(hi, a1, _mm256_set1_epi16(sc[2 * j + 1]));
                    sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(p0, p1));
                }
            }
            acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
        }
        hsum(acc) - acc_m
    }

    /// # Safety
    /// The CPU must have AVX2 and FMA. Lengths are checked here.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn q5k(w: &[u8], x: ActRow<'_>) -> f32 {
        let nb = check(KKind::Q5K, w, x);
        let m4 = _mm256_set1_epi8(0x0F);
        let sixteen = _mm256_set1_epi8(16);
        let mut acc = _mm256_setzero_ps();
        let mut acc_m = 0.0f32;
        for i in 0..nb {
            let b = &w[i * 176..(i + 1) * 176];
            let (d, dmin) = (h(&b[0..2]) * x.d[i], h(&b[2..4]) * x.d[i]);
            let mut summ = 0i32;
            let bs = &x.bsums[i * 16..(i + 1) * 16];
            let mut sc = [0i16; 8];
            for (j, s) in sc.iter_mut().enumerate() {
                let (v, m) = scale_min(j, &b[4..16]);
                *s = v as i16;
                summ += m as i32 * (bs[2 * j] as i32 + bs[2 * j + 1] as i32);
            }
            acc_m += dmin * summ as f32;
            let mut sumi = _mm256_setzero_si256();
            // SAFETY: the 32 high-bit bytes at 16, 4 × 32 low-bit bytes at 48 of a
            // 176-byte block, and 256 activations of block `i`: within the lengths.
            unsafe {
                let hbits = _mm256_loadu_si256(b.as_ptr().add(16) as *const __m256i);
                let qs = b.as_ptr().add(48);
                let aq = x.q.as_ptr().add(i * QK_K);
                for j in 0..4 {
                    let bits = _mm256_loadu_si256(qs.add(j * 32) as *const __m256i);
                    // Bit 2j of each high byte is bit 4 of the low nibble's value,
                    // bit 2j+1 that of the high nibble's.
                    let high = |bit: usize| {
                        let mask = _mm256_set1_epi8((1u8 << bit) as i8);
                        let set = _mm256_cmpeq_epi8(_mm256_and_si256(hbits, mask), mask);
                        _mm256_and_si256(set, sixteen)
                    };
                    let lo = _mm256_or_si256(_mm256_and_si256(bits, m4), high(2 * j));
                    let hi = _mm256_or_si256(
                        _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4),
                        high(2 * j + 1),
                    );
                    let a0 = _mm256_loadu_si256(aq.add(j * 64) as *const __m256i);
                    let a1 = _mm256_loadu_si256(aq.add(j * 64 + 32) as *const __m256i);
                    let p0 = dot32(lo, a0, _mm256_set1_epi16(sc[2 * j]));
                    let p1 = dot32(hi, a1, _mm256_set1_epi16(sc[2 * j + 1]));
                    sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(p0, p1));
                }
            }
            acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
        }
        hsum(acc) - acc_m
    }

    /// # Safety
    /// The CPU must have AVX2 and FMA. Lengths are checked here.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn q6k(w: &[u8], x: ActRow<'_>) -> f32 {
        let nb = check(KKind::Q6K, w, x);
        let m4 = _mm256_set1_epi8(0x0F);
        let m2 = _mm256_set1_epi8(3);
        let mut acc = _mm256_setzero_ps();
        for i in 0..nb {
            let b = &w[i * 210..(i + 1) * 210];
            let d = h(&b[208..210]) * x.d[i];
            let mut sumi = _mm256_setzero_si256();
            // SAFETY: 128 low-bit bytes, 64 high-bit bytes and 16 scales of a 210-byte
            // block, 256 activations and 16 sums of block `i`: within the lengths.
            unsafe {
                let sc = b.as_ptr().add(192) as *const i8;
                // The offset of 32: Σ_k scale_k · 32 · bsum_k, subtracted once.
                let scales16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(sc as *const __m128i));
                let bsums = _mm256_loadu_si256(x.bsums.as_ptr().add(i * 16) as *const __m256i);
                let offset = _mm256_slli_epi32(_mm256_madd_epi16(scales16, bsums), 5);
                sumi = _mm256_sub_epi32(sumi, offset);
                let aq = x.q.as_ptr().add(i * QK_K);
                for n in 0..2 {
                    let ql = b.as_ptr().add(n * 64);
                    let qh = _mm256_loadu_si256(b.as_ptr().add(128 + n * 32) as *const __m256i);
                    let l0 = _mm256_loadu_si256(ql as *const __m256i);
                    let l1 = _mm256_loadu_si256(ql.add(32) as *const __m256i);
                    let hi = |shift: i32| {
                        let v = match shift {
                            0 => qh,
                            2 => _mm256_srli_epi16(qh, 2),
                            4 => _mm256_srli_epi16(qh, 4),
                            _ => _mm256_srli_epi16(qh, 6),
                        };
                        _mm256_slli_epi16(_mm256_and_si256(v, m2), 4)
                    };
                    let q = [
                        _mm256_or_si256(_mm256_and_si256(l0, m4), hi(0)),
                        _mm256_or_si256(_mm256_and_si256(l1, m4), hi(2)),
                        _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), hi(4)),
                        _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4), hi(6)),
                    ];
                    for (k, qk) in q.into_iter().enumerate() {
                        // Values 32k..32k+32 of this half: scales 2k and 2k+1 of its 8.
                        let s0 = *sc.add(n * 8 + 2 * k) as i16;
                        let s1 = *sc.add(n * 8 + 2 * k + 1) as i16;
                        let scale = _mm256_set_m128i(_mm_set1_epi16(s1), _mm_set1_epi16(s0));
                        let a = _mm256_loadu_si256(aq.add(n * 128 + k * 32) as *const __m256i);
                        sumi = _mm256_add_epi32(sumi, dot32(qk, a, scale));
                    }
                }
            }
            acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
        }
        hsum(acc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Super-blocks written by the `gguf` Python package (random bytes with sane
    /// scales) and its `gguf.quants.dequantize` of them, little-endian f32: see
    /// `testdata/kquants.py`, which wrote them.
    const FIXTURES: [(KKind, &[u8], &[u8]); 3] = [
        (
            KKind::Q4K,
            include_bytes!("testdata/q4_k.bin"),
            include_bytes!("testdata/q4_k.f32"),
        ),
        (
            KKind::Q5K,
            include_bytes!("testdata/q5_k.bin"),
            include_bytes!("testdata/q5_k.f32"),
        ),
        (
            KKind::Q6K,
            include_bytes!("testdata/q6_k.bin"),
            include_bytes!("testdata/q6_k.f32"),
        ),
    ];

    fn matrix(kind: KKind, bytes: &[u8]) -> KMatrix {
        let blocks = bytes.len() / kind.block_bytes();
        // The fixture is 2 rows of blocks/2 super-blocks.
        KMatrix::new(2, blocks / 2 * QK_K, kind, bytes.to_vec()).expect("fixture shape")
    }

    #[test]
    fn dequantization_equals_the_gguf_package() {
        for (kind, bytes, want) in FIXTURES {
            let w = matrix(kind, bytes);
            let want: Vec<f32> = want
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            assert_eq!(want.len(), w.rows * w.cols, "{kind:?}");
            let mut row = vec![0.0; w.cols];
            for r in 0..w.rows {
                w.dequantize_row(r, &mut row);
                for (c, (g, e)) in row.iter().zip(&want[r * w.cols..]).enumerate() {
                    assert!(
                        (g - e).abs() <= 1e-6 * e.abs().max(1.0),
                        "{kind:?} row {r} col {c}: {g} vs {e}"
                    );
                }
            }
        }
    }

    /// Each kind's product equals the dequantized weights times the activations, within
    /// the error of quantizing the activations to int8 (1% of Σ|w·x|), on the AVX2 and
    /// portable paths alike; rows of activations through `gemm` equal one at a time.
    #[test]
    fn gemm_matches_the_dequantized_product() {
        for (kind, bytes, _) in FIXTURES {
            let w = matrix(kind, bytes);
            let m = 3;
            let a: Vec<f32> = (0..m * w.cols)
                .map(|i| ((i * 37) % 101) as f32 * 0.02 - 1.0)
                .collect();
            let mut qa = Q8K::default();
            qa.quantize_rows(m, &a, w.cols, w.cols);
            let mut c = vec![0.5; m * w.rows];
            w.gemm(&qa, &mut c, w.rows, true);
            let mut row = vec![0.0; w.cols];
            for r in 0..w.rows {
                w.dequantize_row(r, &mut row);
                for i in 0..m {
                    let x = &a[i * w.cols..(i + 1) * w.cols];
                    let want: f32 = row.iter().zip(x).map(|(p, q)| p * q).sum();
                    let scale: f32 = row.iter().zip(x).map(|(p, q)| (p * q).abs()).sum();
                    let got = c[i * w.rows + r] - 0.5;
                    assert!(
                        (got - want).abs() <= 0.01 * scale + 1e-4,
                        "{kind:?} row {r} act {i}: {got} vs {want}"
                    );
                    let portable = dot_portable(kind, w.row(r), qa.row(i));
                    assert!(
                        (portable - got).abs() <= 1e-4 * scale + 1e-5,
                        "{kind:?} portable {portable} vs {got}"
                    );
                }
            }
        }
    }
}
