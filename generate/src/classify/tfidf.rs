//! TF-IDF features over word n-grams, as scikit-learn's `TfidfVectorizer` with
//! `sublinear_tf=True` computes them (smoothed idf, L2-normalised rows), so docket's
//! lexical classifier is the baseline people know, not a variant of it.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::logistic::SparseVec;
use crate::text::lexical_words;

/// How texts become TF-IDF vectors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TfidfConfig {
    /// Longest word n-gram (1: words only; 2: words and word pairs). Pairs capture
    /// negation and phrases ("not good", "free entry") that single words miss.
    #[serde(default = "TfidfConfig::default_ngram_max")]
    pub ngram_max: usize,
    /// Terms in fewer training texts than this are left out of the vocabulary.
    #[serde(default = "TfidfConfig::default_min_df")]
    pub min_df: usize,
}

impl TfidfConfig {
    pub fn default_ngram_max() -> usize {
        2
    }
    pub fn default_min_df() -> usize {
        1
    }
}

impl Default for TfidfConfig {
    fn default() -> Self {
        TfidfConfig {
            ngram_max: Self::default_ngram_max(),
            min_df: Self::default_min_df(),
        }
    }
}

/// A fitted vocabulary with its inverse document frequencies.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(from = "SavedTfidf", into = "SavedTfidf")]
pub struct Tfidf {
    config: TfidfConfig,
    terms: Vec<String>,
    idf: Vec<f32>,
    index: HashMap<String, u32>,
}

/// The saved form: the index is rebuilt from `terms` on load.
#[derive(Serialize, Deserialize)]
struct SavedTfidf {
    config: TfidfConfig,
    terms: Vec<String>,
    idf: Vec<f32>,
}

impl From<SavedTfidf> for Tfidf {
    fn from(s: SavedTfidf) -> Self {
        let index = s
            .terms
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), i as u32))
            .collect();
        Tfidf {
            config: s.config,
            terms: s.terms,
            idf: s.idf,
            index,
        }
    }
}

impl From<Tfidf> for SavedTfidf {
    fn from(t: Tfidf) -> Self {
        SavedTfidf {
            config: t.config,
            terms: t.terms,
            idf: t.idf,
        }
    }
}

/// The n-grams of `text` (words joined by one space).
fn ngrams(text: &str, n_max: usize) -> Vec<String> {
    let words: Vec<String> = lexical_words(text).collect();
    let mut out = words.clone();
    for n in 2..=n_max {
        out.extend(words.windows(n).map(|w| w.join(" ")));
    }
    out
}

impl Tfidf {
    /// Learn the vocabulary and idf of `texts`.
    pub fn fit(texts: &[&str], config: TfidfConfig) -> Self {
        let mut df: HashMap<String, u32> = HashMap::new();
        for t in texts {
            let mut grams = ngrams(t, config.ngram_max);
            grams.sort_unstable();
            grams.dedup();
            for g in grams {
                *df.entry(g).or_default() += 1;
            }
        }
        let mut terms: Vec<(String, u32)> = df
            .into_iter()
            .filter(|(_, d)| *d as usize >= config.min_df)
            .collect();
        // Sorted, so the same texts always give the same feature indices.
        terms.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let n = texts.len() as f64;
        let idf = terms
            .iter()
            .map(|(_, d)| (((1.0 + n) / (1.0 + f64::from(*d))).ln() + 1.0) as f32)
            .collect();
        let terms: Vec<String> = terms.into_iter().map(|(t, _)| t).collect();
        Tfidf::from(SavedTfidf { config, terms, idf })
    }

    /// Number of features.
    pub fn dim(&self) -> usize {
        self.terms.len()
    }

    /// The L2-normalised TF-IDF vector of `text` (1 + ln tf, times idf); terms outside
    /// the vocabulary are ignored.
    pub fn transform(&self, text: &str) -> SparseVec {
        let mut counts: HashMap<u32, u32> = HashMap::new();
        for g in ngrams(text, self.config.ngram_max) {
            if let Some(&i) = self.index.get(&g) {
                *counts.entry(i).or_default() += 1;
            }
        }
        let mut v: SparseVec = counts
            .into_iter()
            .map(|(i, c)| (i, (1.0 + (c as f32).ln()) * self.idf[i as usize]))
            .collect();
        v.sort_unstable_by_key(|&(i, _)| i);
        let norm = v.iter().map(|(_, x)| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            v.iter_mut().for_each(|(_, x)| *x /= norm);
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_scikit_learn_on_a_small_corpus() {
        // Expected values from TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
        // fitted on the same three texts (scikit-learn 1.9).
        let texts = ["the cat sat", "the dog sat", "the cat ran the cat"];
        let t = Tfidf::fit(&texts, TfidfConfig::default());
        assert_eq!(t.dim(), 5 + 6);
        let expect = [
            (0, "the", 0.336315),
            (0, "cat", 0.433067),
            (0, "the cat", 0.433067),
            (0, "cat sat", 0.569431),
            (2, "the", 0.369705),
            (2, "cat", 0.476063),
            (2, "ran the", 0.369705),
        ];
        for (doc, term, want) in expect {
            let v = t.transform(texts[doc]);
            let i = t.index[term];
            let got = v.iter().find(|(j, _)| *j == i).map_or(0.0, |(_, x)| *x);
            assert!((got - want).abs() < 1e-5, "{doc} {term}: {got} vs {want}");
        }
        assert!(t.transform("completely unseen words").is_empty());
    }
}
