//! Element-wise and row-wise kernels of the decoder: RMS norm, SiLU·up, attention over
//! the f16 KV cache and rotary embeddings (softmax, dot products and the matrix
//! multiply are docket-kernels').
//!
//! As in docket-kernels, the kernels are plain loops over fixed-width lanes that LLVM
//! vectorises; `multiversion!` compiles each a second time with AVX-512 (and AVX2)
//! enabled and picks that copy at run time, because the workspace builds for baseline
//! x86-64 and would otherwise run them 4 lanes wide.

use docket_kernels::cpu;
use docket_kernels::{LANES, exp, lane_sum, multiversion};
use half::f16;

/// `scores[j] = scale · q·keys[j]` for each key `j < scores.len()`, the keys rows of
/// `q.len()` values stored as f16 (the KV cache): generating a token reads every
/// cached key and value, so halving their bytes speeds up long contexts. One call per
/// head, not per key, so that the dispatch is paid once.
pub fn attention_scores_f16(q: &[f32], keys: &[f16], scale: f32, scores: &mut [f32]) {
    let hd = q.len();
    assert!(
        keys.len() >= scores.len() * hd,
        "attention_scores_f16: keys"
    );
    #[cfg(target_arch = "x86_64")]
    if cpu::has_avx512f() && hd.is_multiple_of(16) {
        // SAFETY: the CPU has AVX-512F and the features it implies; `keys` holds
        // `scores.len()` rows of `hd`.
        return unsafe { avx512_f16::scores(q, keys, scale, scores) };
    }
    for (s, k) in scores.iter_mut().zip(keys.chunks_exact(hd)) {
        *s = q.iter().zip(k).map(|(a, b)| a * b.to_f32()).sum::<f32>() * scale;
    }
}

/// `out = Σ_j p[j] · values[j]`, the value rows of `out.len()` values stored as f16.
pub fn attention_mix_f16(p: &[f32], values: &[f16], out: &mut [f32]) {
    let hd = out.len();
    assert!(values.len() >= p.len() * hd, "attention_mix_f16: values");
    #[cfg(target_arch = "x86_64")]
    if cpu::has_avx512f() && hd.is_multiple_of(16) && hd <= avx512_f16::MAX_HD {
        // SAFETY: the CPU has AVX-512F and the features it implies; `values` holds
        // `p.len()` rows of `hd`.
        return unsafe { avx512_f16::mix(p, values, out) };
    }
    out.fill(0.0);
    for (&pj, v) in p.iter().zip(values.chunks_exact(hd)) {
        for (o, x) in out.iter_mut().zip(v) {
            *o = pj.mul_add(x.to_f32(), *o);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512_f16 {
    use std::arch::x86_64::*;

    use half::f16;

    /// Widest head `mix` keeps in registers.
    pub const MAX_HD: usize = 128;

    /// # Safety
    /// AVX-512F and the features it implies must be available (`cpu::has_avx512f`).
    /// That `q.len()` is a multiple of 16 and `keys` holds `scores.len()` rows of it is
    /// checked here.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn scores(q: &[f32], keys: &[f16], scale: f32, scores: &mut [f32]) {
        let hd = q.len();
        assert!(
            hd.is_multiple_of(16) && keys.len() >= scores.len() * hd,
            "scores"
        );
        // SAFETY (whole body): row `j` spans `keys[j·hd..(j+1)·hd]`, in bounds per the
        // contract; 16 halves are 32 bytes, one `__m256i`.
        unsafe {
            for (j, s) in scores.iter_mut().enumerate() {
                let k = keys.as_ptr().add(j * hd) as *const __m256i;
                let mut acc = _mm512_setzero_ps();
                for i in 0..hd / 16 {
                    let kf = _mm512_cvtph_ps(_mm256_loadu_si256(k.add(i)));
                    acc = _mm512_fmadd_ps(kf, _mm512_loadu_ps(q.as_ptr().add(i * 16)), acc);
                }
                *s = _mm512_reduce_add_ps(acc) * scale;
            }
        }
    }

    /// # Safety
    /// AVX-512F and the features it implies must be available (`cpu::has_avx512f`).
    /// That `out.len()` is a multiple of 16 and at most [`MAX_HD`], and `values` holds
    /// `p.len()` rows of it, is checked here.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn mix(p: &[f32], values: &[f16], out: &mut [f32]) {
        let hd = out.len();
        assert!(
            hd.is_multiple_of(16) && hd <= MAX_HD && values.len() >= p.len() * hd,
            "mix"
        );
        let n = hd / 16;
        let mut acc = [_mm512_setzero_ps(); MAX_HD / 16];
        // SAFETY (whole body): as in `scores`, for the value rows and `out`.
        unsafe {
            for (j, &pj) in p.iter().enumerate() {
                let w = _mm512_set1_ps(pj);
                let v = values.as_ptr().add(j * hd) as *const __m256i;
                for (i, a) in acc[..n].iter_mut().enumerate() {
                    *a = _mm512_fmadd_ps(w, _mm512_cvtph_ps(_mm256_loadu_si256(v.add(i))), *a);
                }
            }
            for (i, a) in acc[..n].iter().enumerate() {
                _mm512_storeu_ps(out.as_mut_ptr().add(i * 16), *a);
            }
        }
    }
}

multiversion! {
    /// `out[r] = x[r] / sqrt(mean(x[r]²) + eps) · w` for each row of `x` (row length
    /// `w.len()`), as llama's RMSNorm computes it.
    pub fn rms_norm_rows(x: &[f32], w: &[f32], eps: f32, out: &mut [f32]) {
        let n = w.len();
        for (row, o) in x.chunks_exact(n).zip(out.chunks_exact_mut(n)) {
            let mut acc = [0.0f32; LANES];
            let mut chunks = row.chunks_exact(LANES);
            for c in &mut chunks {
                for i in 0..LANES {
                    acc[i] = c[i].mul_add(c[i], acc[i]);
                }
            }
            let ss = lane_sum(acc) + chunks.remainder().iter().map(|v| v * v).sum::<f32>();
            let inv = 1.0 / (ss / n as f32 + eps).sqrt();
            for ((ov, xv), wv) in o.iter_mut().zip(row).zip(w) {
                *ov = xv * inv * wv;
            }
        }
    }
}

multiversion! {
    /// For each row `[gate | up]` of `rows` (row length `2·ff`): gate ← silu(gate)·up.
    pub fn silu_mul_rows(rows: &mut [f32], ff: usize) {
        for row in rows.chunks_exact_mut(2 * ff) {
            let (g, u) = row.split_at_mut(ff);
            for (gv, uv) in g.iter_mut().zip(u.iter()) {
                let x = *gv;
                *gv = x / (1.0 + exp(-x)) * uv;
            }
        }
    }
}

multiversion! {
    /// For each row `[gate | up]` of `rows` (row length `2·ff`): gate ← gelu(gate)·up,
    /// GELU in its tanh approximation as Gemma (and llama.cpp) computes it.
    pub fn gelu_mul_rows(rows: &mut [f32], ff: usize) {
        const SQRT_2_OVER_PI: f32 = 0.797_884_6;
        for row in rows.chunks_exact_mut(2 * ff) {
            let (g, u) = row.split_at_mut(ff);
            for (gv, uv) in g.iter_mut().zip(u.iter()) {
                let x = *gv;
                // tanh(z) = 1 - 2/(1 + e^{2z}), with the crate's vectorisable exp.
                let z = SQRT_2_OVER_PI * x * (1.0 + 0.044_715 * x * x);
                let t = 1.0 - 2.0 / (1.0 + exp(2.0 * z));
                *gv = 0.5 * x * (1.0 + t) * uv;
            }
        }
    }
}

/// Rotary position embedding of one head vector `x` (length ≥ `2·cos.len()`) with the
/// angles of its position: interleaved pairs `(2i, 2i+1)` as GGUF llama files expect
/// (their Q/K weights were permuted for it), or halves `(i, i+d/2)` (NeoX, Qwen2).
pub fn rope(x: &mut [f32], cos: &[f32], sin: &[f32], neox: bool) {
    let half = cos.len();
    if neox {
        for i in 0..half {
            let (a, b) = (x[i], x[i + half]);
            x[i] = a * cos[i] - b * sin[i];
            x[i + half] = a * sin[i] + b * cos[i];
        }
    } else {
        for i in 0..half {
            let (a, b) = (x[2 * i], x[2 * i + 1]);
            x[2 * i] = a * cos[i] - b * sin[i];
            x[2 * i + 1] = a * sin[i] + b * cos[i];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_match_plain_arithmetic() {
        let a: Vec<f32> = (0..37).map(|i| i as f32 * 0.1 - 1.0).collect();
        let mut out = vec![0.0; 37];
        rms_norm_rows(&a, &[2.0; 37], 0.0, &mut out);
        let ms: f32 = out.iter().map(|v| v * v).sum::<f32>() / 37.0;
        assert!((ms - 4.0).abs() < 1e-3, "{ms}");

        // Attention over 3 keys of width 20 (the portable path) and 64 (AVX-512 where
        // the CPU has it), keys and values in f16.
        for hd in [20usize, 64] {
            let keys: Vec<f32> = (0..3 * hd).map(|i| (i % 7) as f32 - 3.0).collect();
            let kh: Vec<f16> = keys.iter().map(|&x| f16::from_f32(x)).collect();
            let q: Vec<f32> = (0..hd).map(|i| i as f32 * 0.05).collect();
            let mut s = [0.0; 3];
            attention_scores_f16(&q, &kh, 0.5, &mut s);
            for (j, sv) in s.iter().enumerate() {
                let want: f32 = q
                    .iter()
                    .zip(&keys[j * hd..])
                    .map(|(a, b)| a * b)
                    .sum::<f32>()
                    * 0.5;
                assert!((sv - want).abs() < 1e-3, "{hd}: {sv} vs {want}");
            }
            let mut o = vec![9.0; hd];
            attention_mix_f16(&[0.5, 0.25, 0.25], &kh, &mut o);
            for (c, ov) in o.iter().enumerate() {
                let want = 0.5 * keys[c] + 0.25 * keys[hd + c] + 0.25 * keys[2 * hd + c];
                assert!((ov - want).abs() < 1e-5, "{hd}");
            }
        }

        let mut gu = vec![1.0, -1.0, 2.0, 3.0];
        silu_mul_rows(&mut gu, 2);
        let silu = |x: f32| x / (1.0 + (-x).exp());
        assert!((gu[0] - silu(1.0) * 2.0).abs() < 1e-6);
        assert!((gu[1] - silu(-1.0) * 3.0).abs() < 1e-6);

        // GELU (tanh form) against its formula, far into both tails included.
        let xs = [-12.0f32, -1.5, -0.3, 0.0, 0.7, 2.0, 15.0];
        let mut gu: Vec<f32> = xs.iter().copied().chain(xs.iter().map(|_| 2.0)).collect();
        gelu_mul_rows(&mut gu, xs.len());
        for (x, got) in xs.iter().zip(&gu) {
            let want = 0.5 * x * (1.0 + (0.797_884_6 * (x + 0.044_715 * x * x * x)).tanh()) * 2.0;
            assert!((got - want).abs() < 1e-5, "gelu({x}): {got} vs {want}");
        }
    }
}
