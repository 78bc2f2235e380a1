//! Row-wise and reduction kernels every model uses: `exp`, softmax, dot products.
//!
//! They are plain loops over fixed-width lanes so that LLVM vectorises them;
//! [`multiversion!`](crate::multiversion) compiles each one again with AVX-512 (and
//! AVX2+FMA) enabled and picks that copy at run time, because the workspace builds for
//! baseline x86-64 and would otherwise run them 4 lanes wide.

/// Lanes of the manual reductions: one AVX-512 register of f32. The models' own
/// element-wise kernels use it too, so that they vectorise the same way.
pub const LANES: usize = 16;

/// The sum of a lane accumulator.
#[inline(always)]
pub fn lane_sum(acc: [f32; LANES]) -> f32 {
    acc.iter().sum()
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

/// Softmax of `row` in place (the body of [`softmax_rows`], inlined into each of its
/// copies).
#[inline(always)]
fn softmax_row(row: &mut [f32]) {
    let mut mx = [f32::NEG_INFINITY; LANES];
    let mut chunks = row.chunks_exact(LANES);
    for c in &mut chunks {
        for i in 0..LANES {
            mx[i] = mx[i].max(c[i]);
        }
    }
    let mut m = chunks
        .remainder()
        .iter()
        .fold(f32::NEG_INFINITY, |a, &b| a.max(b));
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

crate::multiversion! {
    /// Softmax of each row of `rows` (row length `n`, a trailing partial row left as
    /// is), in place: the encoder's attention rows, or one decoder row with
    /// `n = rows.len()`.
    pub fn softmax_rows(rows: &mut [f32], n: usize) {
        if n == 0 {
            return;
        }
        for row in rows.chunks_exact_mut(n) {
            softmax_row(row);
        }
    }
}

crate::multiversion! {
    /// Σ a·b over the shorter of the two.
    pub fn dot(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        let (a, b) = (&a[..n], &b[..n]);
        let mut acc = [0.0f32; LANES];
        let mut ca = a.chunks_exact(LANES);
        let mut cb = b.chunks_exact(LANES);
        for (x, y) in (&mut ca).zip(&mut cb) {
            for i in 0..LANES {
                acc[i] = x[i].mul_add(y[i], acc[i]);
            }
        }
        let rem: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
        lane_sum(acc) + rem
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_accurate() {
        for i in -800..=800 {
            let x = i as f32 / 10.0;
            let want = (x as f64).exp();
            assert!(((exp(x) as f64 - want) / want).abs() < 1e-6, "exp({x})");
        }
    }

    #[test]
    fn softmax_rows_sum_to_one_and_keep_order() {
        let mut rows: Vec<f32> = (0..40).map(|i| (i % 7) as f32 * 0.3).collect();
        softmax_rows(&mut rows, 20);
        for row in rows.chunks(20) {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        }
        // One row of 37 (lanes and a remainder), as the decoder calls it.
        let mut row: Vec<f32> = (0..37).map(|i| i as f32 * 0.1 - 1.0).collect();
        softmax_rows(&mut row, 37);
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        assert!(row[36] > row[0]);
        let want = (-3.6f64).exp() * row[36] as f64;
        assert!((row[0] as f64 - want).abs() < 1e-6);
        // An empty row length is a no-op, not a panic.
        let mut none = [1.0f32; 3];
        softmax_rows(&mut none, 0);
        assert_eq!(none, [1.0; 3]);
    }

    #[test]
    fn dot_matches_plain_arithmetic() {
        let a: Vec<f32> = (0..37).map(|i| i as f32 * 0.1 - 1.0).collect();
        let b: Vec<f32> = (0..40).map(|i| (i % 5) as f32 - 2.0).collect();
        let want: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - want).abs() < 1e-4);
    }
}
