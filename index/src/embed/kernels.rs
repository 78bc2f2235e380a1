//! Element-wise and row-wise kernels of the encoder: layer norm and GELU.
//!
//! Written like docket-kernels' (plain loops over fixed-width lanes that LLVM
//! vectorises, compiled again with AVX-512 and AVX2 by [`multiversion!`]); `exp`,
//! softmax and the matrix multiply are docket-kernels' own.

use docket_kernels::{LANES, exp, lane_sum, multiversion};

/// erf(x) by Abramowitz & Stegun 7.1.26, absolute error below 1.5e-7: far below what the
/// f32 sums around it keep.
#[inline(always)]
fn erf(x: f32) -> f32 {
    let a = x.abs();
    let t = 1.0 / a.mul_add(0.327_591_1, 1.0);
    let poly = [-1.453_152, 1.421_413_8, -0.284_496_74, 0.254_829_6]
        .iter()
        .fold(1.061_405_4, |acc: f32, &c| acc.mul_add(t, c))
        * t;
    let y = (-poly).mul_add(exp(-a * a), 1.0);
    y.copysign(x)
}

multiversion! {
    /// GELU as in BERT (`hidden_act = "gelu"`): x·Φ(x) with the exact erf form.
    pub fn gelu_erf(xs: &mut [f32]) {
        for x in xs.iter_mut() {
            let v = *x;
            *x = 0.5 * v * (1.0 + erf(v * std::f32::consts::FRAC_1_SQRT_2));
        }
    }
}

multiversion! {
    /// GELU with the tanh approximation (`gelu_new`, `gelu_pytorch_tanh`).
    pub fn gelu_tanh(xs: &mut [f32]) {
        const C: f32 = 0.797_884_6; // sqrt(2/pi)
        for x in xs.iter_mut() {
            let v = *x;
            let u = C * (v + 0.044_715 * v * v * v);
            // tanh(u) = 1 - 2 / (e^{2u} + 1), exact enough and free of branches.
            let t = 1.0 - 2.0 / (exp(2.0 * u) + 1.0);
            *x = 0.5 * v * (1.0 + t);
        }
    }
}

multiversion! {
    /// Layer norm of each row of `rows` in place: (x - mean) / sqrt(var + eps) · g + b,
    /// with the biased variance, as PyTorch computes it.
    pub fn layer_norm_rows(rows: &mut [f32], gamma: &[f32], beta: &[f32], eps: f32) {
        let n = gamma.len();
        for row in rows.chunks_exact_mut(n) {
            let mut acc = [0.0f32; LANES];
            let mut chunks = row.chunks_exact(LANES);
            for c in &mut chunks {
                for i in 0..LANES {
                    acc[i] += c[i];
                }
            }
            let mean = (lane_sum(acc) + chunks.remainder().iter().sum::<f32>()) / n as f32;
            let mut acc = [0.0f32; LANES];
            let mut chunks = row.chunks_exact(LANES);
            for c in &mut chunks {
                for i in 0..LANES {
                    let d = c[i] - mean;
                    acc[i] += d * d;
                }
            }
            let rem: f32 = chunks.remainder().iter().map(|v| (v - mean) * (v - mean)).sum();
            let var = (lane_sum(acc) + rem) / n as f32;
            let inv = 1.0 / (var + eps).sqrt();
            for ((v, g), b) in row.iter_mut().zip(gamma).zip(beta) {
                *v = (*v - mean) * inv * g + b;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_is_accurate() {
        // erf values from tables.
        for (x, want) in [
            (0.0, 0.0),
            (0.5, 0.520_499_9),
            (1.0, 0.842_700_8),
            (-2.0, -0.995_322_3),
        ] {
            assert!((erf(x) - want).abs() < 3e-7, "erf({x}) = {}", erf(x));
        }
    }

    #[test]
    fn layer_norm_centres_rows() {
        let mut rows: Vec<f32> = (0..34).map(|i| i as f32).collect();
        layer_norm_rows(&mut rows, &[1.0; 17], &[0.5; 17], 0.0);
        let mean: f32 = rows[..17].iter().sum::<f32>() / 17.0;
        assert!((mean - 0.5).abs() < 1e-5);
    }
}
