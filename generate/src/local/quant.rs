//! Matrix-vector products on quantized weights: the generation hot path.
//!
//! Generating one token reads every weight once, so its speed is bounded by memory
//! traffic: f32 weights would move 4 bytes per weight, the GGUF's 4-bit blocks 0.625.
//! The weights therefore stay quantized and the activation vector is quantized to int8
//! per block of 32 (as llama.cpp's Q8_1), so that a block's dot product is one
//! `vpdpbusd` (u8 × i8 → i32, AVX-512 VNNI) over 64 weights at a time.
//!
//! Every supported block format is written as `w = d·q + m` with unsigned `q`: Q4_1
//! as is, Q4_0 with `m = -8d`, Q8_0 with `q = i8 + 128` and `m = -128d`. Then
//! `Σ w·x = Σ_b d_b·dx_b·Σ q·xq + Σ_b m_b·(dx_b·Σ xq)`: the second sum needs only
//! one number per activation block.
//!
//! Blocks are taken in pairs and laid out per row as `[q bytes | d0 d1 m0 m1 as f16]`,
//! with the 64 values of a pair in the order `[b0 0..16, b1 0..16, b0 16..32,
//! b1 16..32]`: that is the order in which a 4-bit pair unpacks (low nibbles, then
//! high nibbles) without any shuffle, and the activations are quantized into the same
//! order. Rows with an odd block count get a zero block.

use half::f16;
use rayon::prelude::*;

/// Values per quantization block.
pub const BLOCK: usize = 32;
/// Values per pair of blocks: one AVX-512 register of bytes.
const PAIR: usize = 64;

/// How the `q` of a [`QMatrix`] are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QKind {
    /// 4-bit, two per byte (from Q4_0 and Q4_1).
    Nibbles,
    /// 8-bit (from Q8_0).
    Bytes,
}

impl QKind {
    fn q_bytes(self) -> usize {
        match self {
            QKind::Nibbles => 32,
            QKind::Bytes => 64,
        }
    }

    fn pair_bytes(self) -> usize {
        self.q_bytes() + 8
    }
}

/// One GGUF block in the `w = d·q + m` form, `q` in natural order.
pub struct Block {
    pub d: f16,
    pub m: f16,
    pub q: [u8; BLOCK],
}

/// A `rows × cols` weight matrix in the pair layout described in the module docs.
#[derive(Debug, Clone)]
pub struct QMatrix {
    pub rows: usize,
    pub cols: usize,
    pub kind: QKind,
    pairs: usize,
    data: Vec<u8>,
}

impl QMatrix {
    /// Build from the row-major blocks of a GGUF tensor (`rows · cols/32` of them).
    pub fn from_blocks(
        rows: usize,
        cols: usize,
        kind: QKind,
        blocks: impl Iterator<Item = Block>,
    ) -> Self {
        let nb = cols / BLOCK;
        let pairs = nb.div_ceil(2);
        let pb = kind.pair_bytes();
        let mut data = vec![0u8; rows * pairs * pb];
        let mut blocks = blocks;
        for r in 0..rows {
            let row = &mut data[r * pairs * pb..(r + 1) * pairs * pb];
            for b in 0..nb {
                let blk = blocks.next().expect("QMatrix: too few blocks");
                let (p, half) = (b / 2, b % 2);
                let pair = &mut row[p * pb..(p + 1) * pb];
                match kind {
                    QKind::Nibbles => {
                        // Byte j of the block holds values j (low) and j + 16 (high).
                        for j in 0..16 {
                            pair[half * 16 + j] = (blk.q[j] & 0xF) | (blk.q[j + 16] << 4);
                        }
                    }
                    QKind::Bytes => {
                        for j in 0..16 {
                            pair[half * 16 + j] = blk.q[j];
                            pair[32 + half * 16 + j] = blk.q[j + 16];
                        }
                    }
                }
                let s = kind.q_bytes();
                pair[s + 2 * half..s + 2 * half + 2].copy_from_slice(&blk.d.to_le_bytes());
                pair[s + 4 + 2 * half..s + 6 + 2 * half].copy_from_slice(&blk.m.to_le_bytes());
            }
        }
        QMatrix {
            rows,
            cols,
            kind,
            pairs,
            data,
        }
    }

    /// Concatenate the rows of matrices of the same kind and width (Q, K and V into
    /// one QKV matrix), or `None` if they differ.
    pub fn concat_rows(parts: &[&QMatrix]) -> Option<QMatrix> {
        let first = parts.first()?;
        if parts
            .iter()
            .any(|p| p.kind != first.kind || p.cols != first.cols)
        {
            return None;
        }
        Some(QMatrix {
            rows: parts.iter().map(|p| p.rows).sum(),
            cols: first.cols,
            kind: first.kind,
            pairs: first.pairs,
            data: parts.iter().flat_map(|p| p.data.iter().copied()).collect(),
        })
    }

    pub fn bytes(&self) -> usize {
        self.data.len()
    }

    fn row(&self, r: usize) -> &[u8] {
        let rb = self.pairs * self.kind.pair_bytes();
        &self.data[r * rb..(r + 1) * rb]
    }

    /// Row `r` as f32 (the embedding lookup).
    pub fn dequantize_row(&self, r: usize, out: &mut [f32]) {
        let row = self.row(r);
        let pb = self.kind.pair_bytes();
        let s = self.kind.q_bytes();
        for (b, chunk) in out[..self.cols].chunks_exact_mut(BLOCK).enumerate() {
            let (p, half) = (b / 2, b % 2);
            let pair = &row[p * pb..(p + 1) * pb];
            let h = |o: usize| f16::from_le_bytes([pair[o], pair[o + 1]]).to_f32();
            let (d, m) = (h(s + 2 * half), h(s + 4 + 2 * half));
            for (j, o) in chunk.iter_mut().enumerate() {
                let q = q_at(self.kind, pair, half, j);
                *o = d * q as f32 + m;
            }
        }
    }

    /// `y[r] (+)= Σ_c W[r][c]·x[c]` for every row, spread over the current rayon pool.
    pub fn gemv(&self, x: &QActs, y: &mut [f32], accumulate: bool) {
        assert_eq!(x.pairs, self.pairs, "gemv: activation width");
        assert!(y.len() >= self.rows, "gemv: output too short");
        // Enough tasks per thread for balance, few enough that dispatch stays cheap.
        let threads = rayon::current_num_threads().max(1);
        let chunk = self.rows.div_ceil(threads * 4).next_multiple_of(8).max(8);
        y[..self.rows]
            .par_chunks_mut(chunk)
            .enumerate()
            .for_each(|(t, ys)| {
                let r0 = t * chunk;
                let mut i = 0;
                while i < ys.len() {
                    let (v0, v1) = if i + 1 < ys.len() {
                        self.rows_dot(r0 + i, x)
                    } else {
                        (self.row_dot(r0 + i, x), 0.0)
                    };
                    for (j, v) in [(i, v0), (i + 1, v1)] {
                        if let Some(yv) = ys.get_mut(j) {
                            *yv = if accumulate { *yv + v } else { v };
                        }
                    }
                    i += 2;
                }
            });
    }

    /// Rows `r` and `r + 1` at once, sharing the activations' loads.
    fn rows_dot(&self, r: usize, x: &QActs) -> (f32, f32) {
        #[cfg(target_arch = "x86_64")]
        if docket_kernels::cpu::has_vnni() {
            // SAFETY: as in `row_dot`, for two rows.
            return unsafe {
                vnni::rows_dot(self.kind, self.pairs, self.row(r), self.row(r + 1), x)
            };
        }
        (self.row_dot(r, x), self.row_dot(r + 1, x))
    }

    fn row_dot(&self, r: usize, x: &QActs) -> f32 {
        let row = self.row(r);
        #[cfg(target_arch = "x86_64")]
        if docket_kernels::cpu::has_vnni() {
            // SAFETY: the CPU has the features the kernel is compiled for; `row` holds
            // `pairs` pairs of this kind and `x` as many pairs of activations.
            return unsafe { vnni::row_dot(self.kind, self.pairs, row, x) };
        }
        #[cfg(target_arch = "x86_64")]
        if docket_kernels::cpu::has_avx2() {
            // SAFETY: the CPU has AVX2 and FMA; lengths are checked in the kernel.
            return unsafe { avx2::row_dot(self.kind, self.pairs, row, x) };
        }
        row_dot_portable(self.kind, self.pairs, row, x)
    }
}

/// The CPUs without AVX-512 VNNI: `vpmaddubsw` (u8 × i8 → i16 pairs) on 32 bytes at a
/// time, as llama.cpp's AVX2 kernels. Nibbles (≤ 15) cannot saturate it; bytes can
/// (255 · 127 · 2), so they are taken as signed `q − 128` (with the sign moved onto
/// the activations, llama.cpp's trick), and the 128 folded into the block's minimum:
/// `Σ (d·q + m)·x = d·Σ (q−128)·x + (m + 128·d)·Σ x`.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::{PAIR, QActs, QKind};
    use half::f16;

    /// # Safety
    /// The CPU must have AVX2 and FMA. That `row` holds `pairs` pairs of `kind` and
    /// `x` was quantized to `pairs` pairs is checked here.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn row_dot(kind: QKind, pairs: usize, row: &[u8], x: &QActs) -> f32 {
        let pb = kind.pair_bytes();
        let qb = kind.q_bytes();
        assert!(row.len() >= pairs * pb, "row_dot: row");
        assert!(
            x.q.len() >= pairs * PAIR && x.d.len() >= 2 * pairs && x.s.len() >= 2 * pairs,
            "row_dot: activations"
        );
        let ones = _mm256_set1_epi16(1);
        let m4 = _mm256_set1_epi8(0x0F);
        let flip = _mm256_set1_epi8(-128);
        let mut acc = _mm256_setzero_ps();
        let mut acc_min = 0.0f32;
        for p in 0..pairs {
            let pair = &row[p * pb..(p + 1) * pb];
            let h = |o: usize| f16::from_le_bytes([pair[o], pair[o + 1]]).to_f32();
            let (d0, d1, mut m0, mut m1) = (h(qb), h(qb + 2), h(qb + 4), h(qb + 6));
            // SAFETY: `pair` holds `qb` quant bytes, the activations 64 bytes from
            // `p · PAIR`, both checked above.
            let isum = unsafe {
                let a0 = _mm256_loadu_si256(x.q.as_ptr().add(p * PAIR) as *const __m256i);
                let a1 = _mm256_loadu_si256(x.q.as_ptr().add(p * PAIR + 32) as *const __m256i);
                match kind {
                    QKind::Nibbles => {
                        let bits = _mm256_loadu_si256(pair.as_ptr() as *const __m256i);
                        let lo = _mm256_and_si256(bits, m4);
                        let hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4);
                        let s = _mm256_add_epi16(
                            _mm256_maddubs_epi16(lo, a0),
                            _mm256_maddubs_epi16(hi, a1),
                        );
                        _mm256_madd_epi16(s, ones)
                    }
                    QKind::Bytes => {
                        m0 += 128.0 * d0;
                        m1 += 128.0 * d1;
                        let signed = |o: usize, a: __m256i| {
                            let q = _mm256_xor_si256(
                                _mm256_loadu_si256(pair.as_ptr().add(o) as *const __m256i),
                                flip,
                            );
                            let prod = _mm256_maddubs_epi16(
                                _mm256_sign_epi8(q, q),
                                _mm256_sign_epi8(a, q),
                            );
                            _mm256_madd_epi16(prod, ones)
                        };
                        _mm256_add_epi32(signed(0, a0), signed(32, a1))
                    }
                }
            };
            // Lanes 0..4 hold block 2p's sums, 4..8 block 2p+1's.
            let (b0, b1) = (2 * p, 2 * p + 1);
            let scale = _mm256_set_m128(_mm_set1_ps(d1 * x.d[b1]), _mm_set1_ps(d0 * x.d[b0]));
            acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), scale, acc);
            acc_min += m0 * x.s[b0] + m1 * x.s[b1];
        }
        let s = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps(s, s, 1))) + acc_min
    }
}

fn q_at(kind: QKind, pair: &[u8], half: usize, j: usize) -> u8 {
    match kind {
        QKind::Nibbles => {
            let byte = pair[half * 16 + (j % 16)];
            if j < 16 { byte & 0xF } else { byte >> 4 }
        }
        QKind::Bytes => pair[(j / 16) * 32 + half * 16 + (j % 16)],
    }
}

fn row_dot_portable(kind: QKind, pairs: usize, row: &[u8], x: &QActs) -> f32 {
    let pb = kind.pair_bytes();
    let s = kind.q_bytes();
    let mut total = 0.0f32;
    for p in 0..pairs {
        let pair = &row[p * pb..(p + 1) * pb];
        let xq = &x.q[p * PAIR..(p + 1) * PAIR];
        for half in 0..2 {
            let h = |o: usize| f16::from_le_bytes([pair[o], pair[o + 1]]).to_f32();
            let (d, m) = (h(s + 2 * half), h(s + 4 + 2 * half));
            let mut isum = 0i32;
            for j in 0..BLOCK {
                let xi = xq[(j / 16) * 32 + half * 16 + (j % 16)];
                isum += q_at(kind, pair, half, j) as i32 * xi as i32;
            }
            let b = 2 * p + half;
            total += d * x.d[b] * isum as f32 + m * x.s[b];
        }
    }
    total
}

/// An activation vector quantized for [`QMatrix::gemv`]: per block `b` of 32 values,
/// `x ≈ d_b · q` with `q` in -127..=127, and `s_b = d_b · Σ q`.
#[derive(Debug, Default, Clone)]
pub struct QActs {
    pairs: usize,
    /// The int8 values in pair order.
    q: Vec<i8>,
    /// `d` per block.
    d: Vec<f32>,
    /// `s` per block.
    s: Vec<f32>,
    /// Per pair, `d` spread to the 16 i32 lanes of a `vpdpbusd` result.
    dx16: Vec<f32>,
    /// Per pair, `[0, 0, s0, s1]`, matching the `[d0, d1, m0, m1]` of a weight pair.
    s4: Vec<f32>,
}

impl QActs {
    /// Quantize `x` (its length a multiple of 32) into this buffer.
    pub fn quantize(&mut self, x: &[f32]) {
        let nb = x.len() / BLOCK;
        let pairs = nb.div_ceil(2);
        self.pairs = pairs;
        self.q.clear();
        self.q.resize(pairs * PAIR, 0);
        self.d.clear();
        self.d.resize(pairs * 2, 0.0);
        self.s.clear();
        self.s.resize(pairs * 2, 0.0);
        for (b, blk) in x.chunks_exact(BLOCK).enumerate() {
            let amax = blk.iter().fold(0.0f32, |a, v| a.max(v.abs()));
            let d = amax / 127.0;
            let id = if d > 0.0 { 1.0 / d } else { 0.0 };
            let (p, half) = (b / 2, b % 2);
            let mut sum = 0i32;
            for (j, v) in blk.iter().enumerate() {
                let q = (v * id).round() as i8;
                sum += q as i32;
                self.q[p * PAIR + (j / 16) * 32 + half * 16 + (j % 16)] = q;
            }
            self.d[b] = d;
            self.s[b] = d * sum as f32;
        }
        self.dx16.clear();
        self.s4.clear();
        for p in 0..pairs {
            let (d0, d1) = (self.d[2 * p], self.d[2 * p + 1]);
            for lane in 0..16 {
                self.dx16.push(if (lane / 4) % 2 == 0 { d0 } else { d1 });
            }
            self.s4
                .extend_from_slice(&[0.0, 0.0, self.s[2 * p], self.s[2 * p + 1]]);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod vnni {
    use std::arch::x86_64::*;

    use super::{PAIR, QActs, QKind};

    /// One row's dot product with the quantized activations.
    ///
    /// # Safety
    /// The CPU must have every feature this is compiled for: AVX-512F/BW/VNNI, AVX2,
    /// FMA and F16C (`docket_kernels::cpu::has_vnni`). That `row` holds `pairs` pairs of
    /// `kind` and `x` was quantized to `pairs` pairs is checked here.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni,avx2,fma,f16c")]
    pub unsafe fn row_dot(kind: QKind, pairs: usize, row: &[u8], x: &QActs) -> f32 {
        assert!(row.len() >= pairs * kind.pair_bytes(), "row_dot: row");
        check_acts(pairs, x);
        let spread = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1);
        let mut acc = _mm512_setzero_ps();
        let mut acc_min = _mm_setzero_ps();
        let pb = kind.pair_bytes();
        let qb = kind.q_bytes();
        let (w, xq, dx, s4) = (row.as_ptr(), x.q.as_ptr(), x.dx16.as_ptr(), x.s4.as_ptr());
        // SAFETY (whole body): every pointer offset stays within `pairs` pairs of the
        // buffers, per the caller's contract.
        unsafe {
            for p in 0..pairs {
                let wp = w.add(p * pb);
                let q = match kind {
                    QKind::Nibbles => {
                        let packed = _mm256_loadu_si256(wp as *const __m256i);
                        let mask = _mm256_set1_epi8(0x0F);
                        let lo = _mm256_and_si256(packed, mask);
                        let hi = _mm256_and_si256(_mm256_srli_epi16(packed, 4), mask);
                        _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1)
                    }
                    QKind::Bytes => _mm512_loadu_si512(wp as *const __m512i),
                };
                let a = _mm512_loadu_si512(xq.add(p * PAIR) as *const __m512i);
                let isum = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q, a);
                let scales = _mm_cvtph_ps(_mm_loadl_epi64(wp.add(qb) as *const __m128i));
                let dw = _mm512_permutexvar_ps(spread, _mm512_castps128_ps512(scales));
                let scale = _mm512_mul_ps(dw, _mm512_loadu_ps(dx.add(p * 16)));
                acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), scale, acc);
                acc_min = _mm_fmadd_ps(scales, _mm_loadu_ps(s4.add(p * 4)), acc_min);
            }
            let mins = _mm_add_ps(acc_min, _mm_movehl_ps(acc_min, acc_min));
            // Lanes 2 and 3 hold the m·s sums; after the add, lane 0 holds 0 + s-part
            // of lane 2, lane 1 that of lane 3.
            let m = _mm_cvtss_f32(_mm_add_ss(mins, _mm_shuffle_ps(mins, mins, 1)));
            _mm512_reduce_add_ps(acc) + m
        }
    }

    /// The activations hold `pairs` pairs: their values, scales and sums.
    fn check_acts(pairs: usize, x: &QActs) {
        assert!(
            x.q.len() >= pairs * PAIR && x.dx16.len() >= pairs * 16 && x.s4.len() >= pairs * 4,
            "quantized activations too short"
        );
    }

    /// Two rows' dot products with the same activations.
    ///
    /// # Safety
    /// As [`row_dot`], for both rows.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni,avx2,fma,f16c")]
    pub unsafe fn rows_dot(
        kind: QKind,
        pairs: usize,
        r0: &[u8],
        r1: &[u8],
        x: &QActs,
    ) -> (f32, f32) {
        assert!(
            r0.len() >= pairs * kind.pair_bytes() && r1.len() >= pairs * kind.pair_bytes(),
            "rows_dot: rows"
        );
        check_acts(pairs, x);
        let spread = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1);
        let mut acc0 = _mm512_setzero_ps();
        let mut acc1 = _mm512_setzero_ps();
        let mut min0 = _mm_setzero_ps();
        let mut min1 = _mm_setzero_ps();
        let pb = kind.pair_bytes();
        let qb = kind.q_bytes();
        let (w0, w1, xq, dx, s4) = (
            r0.as_ptr(),
            r1.as_ptr(),
            x.q.as_ptr(),
            x.dx16.as_ptr(),
            x.s4.as_ptr(),
        );
        // SAFETY (whole body): offsets stay within `pairs` pairs, per the contract.
        unsafe {
            let load_q = |wp: *const u8| match kind {
                QKind::Nibbles => {
                    let packed = _mm256_loadu_si256(wp as *const __m256i);
                    let mask = _mm256_set1_epi8(0x0F);
                    let lo = _mm256_and_si256(packed, mask);
                    let hi = _mm256_and_si256(_mm256_srli_epi16(packed, 4), mask);
                    _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1)
                }
                QKind::Bytes => _mm512_loadu_si512(wp as *const __m512i),
            };
            for p in 0..pairs {
                let a = _mm512_loadu_si512(xq.add(p * PAIR) as *const __m512i);
                let dxv = _mm512_loadu_ps(dx.add(p * 16));
                let sv = _mm_loadu_ps(s4.add(p * 4));
                let (wp0, wp1) = (w0.add(p * pb), w1.add(p * pb));
                let i0 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), load_q(wp0), a);
                let i1 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), load_q(wp1), a);
                let sc0 = _mm_cvtph_ps(_mm_loadl_epi64(wp0.add(qb) as *const __m128i));
                let sc1 = _mm_cvtph_ps(_mm_loadl_epi64(wp1.add(qb) as *const __m128i));
                let d0 = _mm512_permutexvar_ps(spread, _mm512_castps128_ps512(sc0));
                let d1 = _mm512_permutexvar_ps(spread, _mm512_castps128_ps512(sc1));
                acc0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i0), _mm512_mul_ps(d0, dxv), acc0);
                acc1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i1), _mm512_mul_ps(d1, dxv), acc1);
                min0 = _mm_fmadd_ps(sc0, sv, min0);
                min1 = _mm_fmadd_ps(sc1, sv, min1);
            }
            let fold = |m: __m128| {
                let s = _mm_add_ps(m, _mm_movehl_ps(m, m));
                _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps(s, s, 1)))
            };
            (
                _mm512_reduce_add_ps(acc0) + fold(min0),
                _mm512_reduce_add_ps(acc1) + fold(min1),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocks(rows: usize, cols: usize, kind: QKind) -> Vec<Block> {
        (0..rows * cols / BLOCK)
            .map(|i| {
                let mut q = [0u8; BLOCK];
                for (j, v) in q.iter_mut().enumerate() {
                    *v = ((i * 7 + j * 5) % if kind == QKind::Nibbles { 16 } else { 256 }) as u8;
                }
                Block {
                    d: f16::from_f32(0.01 + (i % 3) as f32 * 0.005),
                    m: f16::from_f32(-0.05 * (i % 4) as f32),
                    q,
                }
            })
            .collect()
    }

    #[test]
    fn gemv_matches_dequantized_product() {
        for kind in [QKind::Nibbles, QKind::Bytes] {
            for (rows, cols) in [(5, 32), (17, 96), (40, 576)] {
                let bl = blocks(rows, cols, kind);
                let w = QMatrix::from_blocks(rows, cols, kind, bl.into_iter());
                let x: Vec<f32> = (0..cols)
                    .map(|i| ((i * 13) % 17) as f32 * 0.1 - 0.8)
                    .collect();
                let mut qa = QActs::default();
                qa.quantize(&x);
                let mut y = vec![0.0; rows];
                w.gemv(&qa, &mut y, false);
                let mut row = vec![0.0; cols];
                for (r, yv) in y.iter().enumerate() {
                    w.dequantize_row(r, &mut row);
                    let want: f32 = row.iter().zip(&x).map(|(a, b)| a * b).sum();
                    let scale: f32 = row.iter().zip(&x).map(|(a, b)| (a * b).abs()).sum();
                    assert!(
                        (yv - want).abs() <= 0.01 * scale + 1e-4,
                        "{kind:?} {rows}x{cols} row {r}: {yv} vs {want}"
                    );
                    let portable = row_dot_portable(w.kind, w.pairs, w.row(r), &qa);
                    assert!((portable - yv).abs() <= 1e-3 * scale + 1e-5);
                }
            }
        }
    }
}
