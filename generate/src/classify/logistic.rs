//! Multinomial logistic regression with L2 regularisation, trained by L-BFGS.
//!
//! Written here rather than taken from a crate because what docket needs is small (one
//! convex objective on dense or sparse rows, trained in well under a second on a few
//! thousand examples) while the available crates pull in a linear-algebra stack. The
//! objective is scikit-learn's `LogisticRegression(C)` (multinomial, intercept not
//! penalised), so a given `C` means the same thing as there.

use serde::{Deserialize, Serialize};

/// A sparse feature vector: (feature index, value), indices ascending.
pub type SparseVec = Vec<(u32, f32)>;

/// Training or prediction inputs: dense rows (embeddings) or sparse rows (TF-IDF).
#[derive(Debug, Clone, Copy)]
pub enum Rows<'a> {
    Dense(&'a [Vec<f32>]),
    Sparse(&'a [SparseVec]),
}

impl Rows<'_> {
    pub fn len(&self) -> usize {
        match self {
            Rows::Dense(r) => r.len(),
            Rows::Sparse(r) => r.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// For each class k, `w[k] · x_i` accumulated into `out` (length `classes`).
    fn dot(&self, i: usize, w: &[f64], dim: usize, out: &mut [f64]) {
        let stride = dim + 1;
        for (k, o) in out.iter_mut().enumerate() {
            let wk = &w[k * stride..(k + 1) * stride];
            let mut s = wk[dim];
            match self {
                Rows::Dense(r) => {
                    for (x, wv) in r[i].iter().zip(wk) {
                        s += f64::from(*x) * wv;
                    }
                }
                Rows::Sparse(r) => {
                    for &(j, x) in &r[i] {
                        s += f64::from(x) * wk[j as usize];
                    }
                }
            }
            *o = s;
        }
    }

    /// `g[k] += coef[k] * x_i` for each class, bias included.
    fn add(&self, i: usize, coef: &[f64], dim: usize, g: &mut [f64]) {
        let stride = dim + 1;
        for (k, &c) in coef.iter().enumerate() {
            if c == 0.0 {
                continue;
            }
            let gk = &mut g[k * stride..(k + 1) * stride];
            match self {
                Rows::Dense(r) => {
                    for (x, gv) in r[i].iter().zip(gk.iter_mut()) {
                        *gv += c * f64::from(*x);
                    }
                }
                Rows::Sparse(r) => {
                    for &(j, x) in &r[i] {
                        gk[j as usize] += c * f64::from(x);
                    }
                }
            }
            gk[dim] += c;
        }
    }
}

/// Settings of one training run.
#[derive(Debug, Clone, Copy)]
pub struct LrParams {
    /// Inverse regularisation strength, as scikit-learn's `C`.
    pub c: f64,
    /// Iteration cap of L-BFGS; convergence usually comes well before it.
    pub max_iter: usize,
    /// Stop when the largest gradient component (of the mean loss) falls below this:
    /// scikit-learn's default `tol`. Tighter gains nothing in accuracy and, at large
    /// `C`, costs hundreds of iterations.
    pub tol: f64,
}

impl Default for LrParams {
    fn default() -> Self {
        LrParams {
            c: 1.0,
            max_iter: 500,
            tol: 1e-4,
        }
    }
}

/// Trained weights: `classes` rows of `dim` weights followed by one bias.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LrModel {
    pub classes: usize,
    pub dim: usize,
    pub weights: Vec<f32>,
}

impl LrModel {
    /// Class probabilities of every row.
    pub fn predict(&self, rows: Rows<'_>) -> Vec<Vec<f32>> {
        let w: Vec<f64> = self.weights.iter().map(|&x| f64::from(x)).collect();
        (0..rows.len())
            .map(|i| {
                let mut z = vec![0.0; self.classes];
                rows.dot(i, &w, self.dim, &mut z);
                softmax_in_place(&mut z);
                z.into_iter().map(|p| p as f32).collect()
            })
            .collect()
    }
}

fn softmax_in_place(z: &mut [f64]) {
    let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut sum = 0.0;
    for v in z.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    for v in z.iter_mut() {
        *v /= sum;
    }
}

/// Mean cross-entropy plus `lambda/2 ||W||²` (biases excluded) and its gradient.
fn objective(
    rows: Rows<'_>,
    y: &[usize],
    classes: usize,
    dim: usize,
    lambda: f64,
    w: &[f64],
    grad: &mut [f64],
) -> f64 {
    let n = rows.len() as f64;
    grad.iter_mut().for_each(|g| *g = 0.0);
    let mut loss = 0.0;
    let mut z = vec![0.0; classes];
    for (i, &yi) in y.iter().enumerate() {
        rows.dot(i, w, dim, &mut z);
        softmax_in_place(&mut z);
        loss -= z[yi].max(1e-300).ln();
        z[yi] -= 1.0;
        z.iter_mut().for_each(|v| *v /= n);
        rows.add(i, &z, dim, grad);
    }
    loss /= n;
    let stride = dim + 1;
    for k in 0..classes {
        for j in 0..dim {
            let idx = k * stride + j;
            loss += 0.5 * lambda * w[idx] * w[idx];
            grad[idx] += lambda * w[idx];
        }
    }
    loss
}

/// Train on `rows` with labels `y` in `0..classes`.
pub fn train(rows: Rows<'_>, y: &[usize], classes: usize, dim: usize, p: LrParams) -> LrModel {
    let n = rows.len().max(1) as f64;
    // scikit-learn minimises C·Σloss + ½||w||²; dividing by C·n gives the mean loss
    // plus ½·λ||w||² with λ = 1/(C·n), the same minimiser on a better-scaled objective.
    let lambda = 1.0 / (p.c * n);
    let size = classes * (dim + 1);
    let mut f = |w: &[f64], g: &mut [f64]| objective(rows, y, classes, dim, lambda, w, g);
    let w = lbfgs(&mut f, vec![0.0; size], p.max_iter, p.tol);
    LrModel {
        classes,
        dim,
        weights: w.into_iter().map(|x| x as f32).collect(),
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Minimise a smooth convex function by L-BFGS (memory 10) with a backtracking
/// Armijo line search.
fn lbfgs(
    f: &mut dyn FnMut(&[f64], &mut [f64]) -> f64,
    mut x: Vec<f64>,
    max_iter: usize,
    tol: f64,
) -> Vec<f64> {
    const MEMORY: usize = 10;
    let n = x.len();
    let mut g = vec![0.0; n];
    let mut fx = f(&x, &mut g);
    let mut s_hist: Vec<Vec<f64>> = Vec::new();
    let mut y_hist: Vec<Vec<f64>> = Vec::new();
    let mut rho: Vec<f64> = Vec::new();
    let mut x_new = vec![0.0; n];
    let mut g_new = vec![0.0; n];
    for _ in 0..max_iter {
        if g.iter().fold(0.0f64, |m, v| m.max(v.abs())) < tol {
            break;
        }
        // Two-loop recursion: d = -H g.
        let mut d: Vec<f64> = g.iter().map(|v| -v).collect();
        let mut alpha = vec![0.0; s_hist.len()];
        for i in (0..s_hist.len()).rev() {
            alpha[i] = rho[i] * dot(&s_hist[i], &d);
            for (dv, yv) in d.iter_mut().zip(&y_hist[i]) {
                *dv -= alpha[i] * yv;
            }
        }
        let gamma = match (s_hist.last(), y_hist.last()) {
            (Some(s), Some(y)) => dot(s, y) / dot(y, y),
            _ => 1.0 / dot(&g, &g).sqrt().max(1e-12),
        };
        d.iter_mut().for_each(|v| *v *= gamma);
        for i in 0..s_hist.len() {
            let beta = rho[i] * dot(&y_hist[i], &d);
            for (dv, sv) in d.iter_mut().zip(&s_hist[i]) {
                *dv += (alpha[i] - beta) * sv;
            }
        }
        let mut slope = dot(&g, &d);
        if slope >= 0.0 {
            // Not a descent direction (numerical trouble): restart from steepest descent.
            s_hist.clear();
            y_hist.clear();
            rho.clear();
            d = g.iter().map(|v| -v).collect();
            slope = dot(&g, &d);
        }
        let mut step = 1.0;
        let mut f_new;
        loop {
            for ((xn, xv), dv) in x_new.iter_mut().zip(&x).zip(&d) {
                *xn = xv + step * dv;
            }
            f_new = f(&x_new, &mut g_new);
            if f_new <= fx + 1e-4 * step * slope || step < 1e-12 {
                break;
            }
            step *= 0.5;
        }
        let s: Vec<f64> = x_new.iter().zip(&x).map(|(a, b)| a - b).collect();
        let yv: Vec<f64> = g_new.iter().zip(&g).map(|(a, b)| a - b).collect();
        let sy = dot(&s, &yv);
        let converged = (fx - f_new).abs() <= 1e-10 * fx.abs().max(1e-10);
        std::mem::swap(&mut x, &mut x_new);
        std::mem::swap(&mut g, &mut g_new);
        fx = f_new;
        if converged {
            break;
        }
        if sy > 1e-12 {
            if s_hist.len() == MEMORY {
                s_hist.remove(0);
                y_hist.remove(0);
                rho.remove(0);
            }
            s_hist.push(s);
            y_hist.push(yv);
            rho.push(1.0 / sy);
        }
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learns_a_separable_dense_problem() {
        // Class = which of three coordinates is largest.
        let mut rows = Vec::new();
        let mut y = Vec::new();
        for i in 0..60 {
            let k = i % 3;
            let mut v = vec![0.1 * ((i * 7 % 5) as f32), 0.2, 0.05 * ((i % 4) as f32)];
            v[k] += 2.0;
            rows.push(v);
            y.push(k);
        }
        let m = train(Rows::Dense(&rows), &y, 3, 3, LrParams::default());
        let p = m.predict(Rows::Dense(&rows));
        for (pi, &yi) in p.iter().zip(&y) {
            let best = (0..3).max_by(|&a, &b| pi[a].total_cmp(&pi[b])).unwrap();
            assert_eq!(best, yi);
            assert!((pi.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        }
    }

    #[test]
    fn matches_the_closed_form_of_a_symmetric_problem() {
        // Two points, one per class, mirror images: the optimum has zero bias and
        // weights that balance the logistic loss against the L2 penalty.
        let rows = vec![vec![1.0f32], vec![-1.0]];
        let y = vec![0, 1];
        let m = train(Rows::Dense(&rows), &y, 2, 1, LrParams::default());
        // Softmax with 2 classes: margin u = w0 - w1, w1 = -w0 by symmetry, so u = 2·w0.
        // Objective (C=1, n=2): mean loss ln(1+e^-u) + ½·(1/2)·(w0²+w1²) = ... + u²/8.
        // Stationary: -1/(1+e^u) + u/4 = 0 → u ≈ 1.04260.
        let u = f64::from(m.weights[0] - m.weights[2]);
        assert!((u - 1.04260).abs() < 1e-3, "{u}");
        assert!(m.weights[1].abs() < 1e-4 && m.weights[3].abs() < 1e-4);
    }
}
