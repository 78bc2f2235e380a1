//! ROUGE-1, ROUGE-2 and ROUGE-L (sentence-level LCS, `rougeL`), computed as Google's
//! `rouge-score` package computes them, so docket's figures compare with published ones.
//! Tokens come from [`rouge_tokens`](crate::text::rouge_tokens).

use std::collections::HashMap;

use serde::Serialize;

use crate::text::rouge_tokens;

/// Precision, recall and their harmonic mean for one ROUGE variant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct RougeScore {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

impl RougeScore {
    fn new(overlap: usize, candidate_len: usize, reference_len: usize) -> Self {
        // rouge-score divides by max(len, 1): an empty side scores 0, not NaN.
        let precision = overlap as f64 / candidate_len.max(1) as f64;
        let recall = overlap as f64 / reference_len.max(1) as f64;
        let f1 = if precision + recall > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        };
        RougeScore {
            precision,
            recall,
            f1,
        }
    }
}

/// ROUGE-1, ROUGE-2 and ROUGE-L of one candidate against one reference.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Rouge {
    pub rouge1: RougeScore,
    pub rouge2: RougeScore,
    pub rouge_l: RougeScore,
}

/// Score `candidate` against `reference`; `stem` as `rouge-score`'s `use_stemmer`.
pub fn rouge(reference: &str, candidate: &str, stem: bool) -> Rouge {
    let r = rouge_tokens(reference, stem);
    let c = rouge_tokens(candidate, stem);
    Rouge {
        rouge1: rouge_n(&r, &c, 1),
        rouge2: rouge_n(&r, &c, 2),
        rouge_l: rouge_l(&r, &c),
    }
}

/// ROUGE-N: clipped overlap of the n-grams of the two token sequences.
pub fn rouge_n<S: AsRef<str>>(reference: &[S], candidate: &[S], n: usize) -> RougeScore {
    let (r, c) = (ngram_counts(reference, n), ngram_counts(candidate, n));
    let overlap = c
        .iter()
        .map(|(g, &k)| k.min(r.get(g).copied().unwrap_or(0)))
        .sum();
    RougeScore::new(overlap, c.values().sum(), r.values().sum())
}

fn ngram_counts<S: AsRef<str>>(tokens: &[S], n: usize) -> HashMap<Vec<&str>, usize> {
    let mut m: HashMap<Vec<&str>, usize> = HashMap::new();
    if n > 0 && tokens.len() >= n {
        for w in tokens.windows(n) {
            *m.entry(w.iter().map(AsRef::as_ref).collect()).or_default() += 1;
        }
    }
    m
}

/// ROUGE-L: longest common subsequence of the two token sequences.
pub fn rouge_l<S: AsRef<str>>(reference: &[S], candidate: &[S]) -> RougeScore {
    if reference.is_empty() || candidate.is_empty() {
        return RougeScore::default();
    }
    // One row of the LCS table at a time: O(|r|·|c|) time, O(|c|) memory.
    let mut prev = vec![0usize; candidate.len() + 1];
    let mut cur = vec![0usize; candidate.len() + 1];
    for r in reference {
        for (j, c) in candidate.iter().enumerate() {
            cur[j + 1] = if r.as_ref() == c.as_ref() {
                prev[j] + 1
            } else {
                cur[j].max(prev[j + 1])
            };
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    RougeScore::new(prev[candidate.len()], candidate.len(), reference.len())
}

/// Mean of each field over several scores (the corpus-level figure papers report).
pub fn mean(scores: &[Rouge]) -> Rouge {
    let n = scores.len().max(1) as f64;
    let avg = |f: fn(&Rouge) -> RougeScore| {
        let mut m = RougeScore::default();
        for s in scores {
            let x = f(s);
            m.precision += x.precision / n;
            m.recall += x.recall / n;
            m.f1 += x.f1 / n;
        }
        m
    };
    Rouge {
        rouge1: avg(|s| s.rouge1),
        rouge2: avg(|s| s.rouge2),
        rouge_l: avg(|s| s.rouge_l),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values from Google's rouge-score 0.1.2, written by
    /// tests/fixtures/make_rouge_cases.py.
    const CASES: &str = include_str!("../../tests/fixtures/rouge_cases.json");

    #[derive(serde::Deserialize)]
    struct Case {
        reference: String,
        candidate: String,
        plain: Expected,
        porter: Expected,
        snowball: Expected,
    }

    #[derive(serde::Deserialize)]
    struct Expected {
        rouge1: f64,
        rouge2: f64,
        #[serde(rename = "rougeL")]
        rouge_l: f64,
    }

    fn check(got: Rouge, want: &Expected, tol: f64, what: &str) {
        for (name, g, w) in [
            ("rouge1", got.rouge1.f1, want.rouge1),
            ("rouge2", got.rouge2.f1, want.rouge2),
            ("rougeL", got.rouge_l.f1, want.rouge_l),
        ] {
            assert!((g - w).abs() <= tol, "{what} {name}: {g} vs {w}");
        }
    }

    #[test]
    fn matches_rouge_score() {
        let cases: Vec<Case> = serde_json::from_str(CASES).unwrap();
        assert!(cases.len() >= 10);
        for c in &cases {
            let what = format!("{:?} / {:?}", c.reference, c.candidate);
            // Unstemmed, and stemmed with the same (Snowball) stemmer: exact.
            check(
                rouge(&c.reference, &c.candidate, false),
                &c.plain,
                1e-12,
                &what,
            );
            check(
                rouge(&c.reference, &c.candidate, true),
                &c.snowball,
                1e-12,
                &what,
            );
            // rouge-score's own NLTK Porter stemmer differs on a few words.
            check(
                rouge(&c.reference, &c.candidate, true),
                &c.porter,
                0.1,
                &what,
            );
        }
    }

    #[test]
    fn lcs_is_order_sensitive_where_unigrams_are_not() {
        let r = rouge(
            "police killed the gunman",
            "the gunman killed police",
            false,
        );
        assert_eq!(r.rouge1.f1, 1.0);
        assert_eq!(r.rouge_l.f1, 0.5);
    }
}
