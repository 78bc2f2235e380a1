//! Element-wise and row-wise kernels of the encoder: layer norm, GELU, softmax.
//!
//! The element-wise kernels are written as plain loops over fixed-width lanes so that
//! LLVM vectorises them; [`multiversion!`] compiles each one a second time with AVX-512
//! enabled and picks that copy at run time when the CPU has it, because the workspace
//! builds for baseline x86-64 and would otherwise run them 4 lanes wide.

/// Lanes of the manual reductions: one AVX-512 register of f32.
const LANES: usize = 16;

/// Compile a function a second time with AVX-512 (and a third with AVX2+FMA) enabled
/// and pick the best copy the CPU runs, at run time. Exported for the local LLM's
/// kernels (docket-generate), which are written the same way.
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
                if std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512bw")
                    && std::arch::is_x86_feature_detected!("avx512vl")
                {
                    // SAFETY: the CPU has the features `avx512` is compiled for.
                    return unsafe { avx512($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                {
                    // SAFETY: the CPU has the features `avx2` is compiled for.
                    return unsafe { avx2($($arg),*) };
                }
            }
            generic($($arg),*)
        }
    };
}

/// e^x for x in [-87, 88] (clamped outside), relative error ~2e-7. Branch-free so that
/// it vectorises, unlike the libm call behind `f32::exp`. The `mul_add`s become FMA
/// instructions in the AVX2/AVX-512 copies (and a slow libm call in the portable one,
/// which only CPUs older than 2013 run).
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    let x = x.clamp(-87.0, 88.0);
    // Round to nearest by the 1.5·2^23 trick: plain arithmetic vectorises, while
    // `f32::round` (ties away from zero) becomes a libm call per element.
    const SHIFT: f32 = 12_582_912.0;
    let t = x.mul_add(std::f32::consts::LOG2_E, SHIFT);
    let n = t - SHIFT;
    // The low mantissa bits of `t` hold n as an integer: reading them avoids the
    // float-to-int `as` cast, whose saturating semantics LLVM does not vectorise.
    let ni = t.to_bits().wrapping_sub(SHIFT.to_bits());
    let r = (-n).mul_add(LN2_LO, (-n).mul_add(LN2_HI, x));
    // Taylor series to degree 7 (error < 2e-7 for |r| <= ln2/2), in Horner form with
    // explicit FMAs: Rust never contracts `a * b + c` by itself.
    let p = [
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
        0.5,
        1.0,
        1.0,
    ]
    .iter()
    .fold(1.0 / 5040.0, |acc: f32, &c| acc.mul_add(r, c));
    p * f32::from_bits(ni.wrapping_add(127) << 23)
}

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

#[inline(always)]
fn lane_sum(acc: [f32; LANES]) -> f32 {
    acc.iter().sum()
}

multiversion! {
    /// Softmax of each row of `rows` (row length `n`), in place.
    pub fn softmax_rows(rows: &mut [f32], n: usize) {
        for row in rows.chunks_exact_mut(n) {
            let mut mx = [f32::NEG_INFINITY; LANES];
            let mut chunks = row.chunks_exact(LANES);
            for c in &mut chunks {
                for i in 0..LANES {
                    mx[i] = mx[i].max(c[i]);
                }
            }
            let mut m = chunks.remainder().iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
            for v in mx {
                m = m.max(v);
            }
            let mut acc = [0.0f32; LANES];
            let mut chunks = row.chunks_exact_mut(LANES);
            for c in &mut chunks {
                for i in 0..LANES {
                    let e = exp(c[i] - m);
                    c[i] = e;
                    acc[i] += e;
                }
            }
            let mut sum = lane_sum(acc);
            for v in chunks.into_remainder() {
                *v = exp(*v - m);
                sum += *v;
            }
            let inv = 1.0 / sum;
            for v in row.iter_mut() {
                *v *= inv;
            }
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

/// A strided matrix view: element (r, c) is `data[r * rs + c * cs]`.
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    pub data: &'a [f32],
    pub rs: usize,
    pub cs: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_and_erf_are_accurate() {
        for i in -800..=800 {
            let x = i as f32 / 10.0;
            let want = (x as f64).exp();
            assert!(((exp(x) as f64 - want) / want).abs() < 1e-6, "exp({x})");
        }
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
    fn softmax_and_layer_norm() {
        let mut rows: Vec<f32> = (0..40).map(|i| (i % 7) as f32 * 0.3).collect();
        softmax_rows(&mut rows, 20);
        for row in rows.chunks(20) {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        }
        let mut rows: Vec<f32> = (0..34).map(|i| i as f32).collect();
        layer_norm_rows(&mut rows, &[1.0; 17], &[0.5; 17], 0.0);
        let mean: f32 = rows[..17].iter().sum::<f32>() / 17.0;
        assert!((mean - 0.5).abs() < 1e-5);
    }
}
