//! The lexical leg of a server collection: each chunk's analysed terms as a sparse vector.
//!
//! When the vectors live on a Qdrant server, every worker of a sharded run has only its own
//! shard in its local BM25 index. So each point also carries a sparse vector of its terms,
//! made with the BM25 index's own analyzer (same tokenizer, stopwords and stemmer). A
//! query's score is `sum over its terms of idf(term) * weight_in_query * weight_in_chunk`;
//! with the chunk weight set to BM25's term-frequency part,
//! `tf (k1 + 1) / (tf + k1 (1 - b + b len / avg_len))`, that sum is BM25 (Robertson's IDF,
//! Lucene's formula, as tantivy uses).
//!
//! Where `idf` comes from depends on the collection's layout ([`IdfSource`]). Qdrant's own
//! `idf` modifier computes it per shard, so on a collection of several shards the same
//! query scores a chunk differently depending on which shard holds it, and top-10s drift
//! from a single machine's. Collections made now have no modifier: each point also lists
//! its term ids in an indexed integer payload field, and a query first counts, exactly and
//! over the whole collection, the points holding each of its terms (`df`) and all points
//! (`N`), then sends its terms weighted by [`bm25_idf`]`(N, df)` (the formula of Qdrant's
//! modifier and of tantivy). Scores are then the same whatever the number of shards.
//! Collections made with the modifier by earlier versions keep it (exact on one shard).
//!
//! The one difference from tantivy: `avg_len`, the average chunk length in terms, cannot
//! follow the collection as it grows, since stored weights must stay comparable and equal
//! on every worker. It is fixed once per collection, when the first chunks are written:
//! the mean length of that first batch (or [`SparseConfig::avg_terms`] when set), kept in
//! the collection's metadata for every later writer. On aclsum-passages-dev (single
//! sentences), nDCG@10 of this leg is 0.6607 against tantivy's 0.6665; with a fixed
//! average of 128 terms (half a default chunk) it was 0.6530.
//!
//! Term ids are the first four bytes of the term's BLAKE3 hash: stable across workers,
//! machines and versions, with no vocabulary to share. Two terms can share an id: for a
//! vocabulary of `n` terms about `n^2 / 2^33` pairs are expected. Measured: none among the
//! 16,250 distinct words of ../shared/data's PDFs and aclsum corpora; 115 among a million
//! synthetic terms (116 expected). A shared id makes two terms match each other's chunks.

use std::collections::BTreeMap;

use docket_ingest::Chunk;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::lexical::{AnalyzerConfig, Analyzers};

/// Name of the sparse vector in the collection.
pub const SPARSE_VECTOR: &str = "bm25";

/// Settings of the sparse lexical leg on a server collection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SparseConfig {
    /// Write and search the sparse leg (new collections only; a collection made without
    /// it keeps using each machine's local BM25 index).
    #[serde(default = "SparseConfig::default_enabled")]
    pub enabled: bool,
    /// BM25's term-frequency saturation.
    #[serde(default = "SparseConfig::default_k1")]
    pub k1: f32,
    /// BM25's length normalisation (0: none, 1: full).
    #[serde(default = "SparseConfig::default_b")]
    pub b: f32,
    /// The chunk length, in analysed terms, that BM25 treats as average; by default
    /// (none) the mean of the first batch written to a new collection. A wrong value acts
    /// like a different `b`: it shifts how much long chunks are discounted, not which
    /// terms match.
    #[serde(default)]
    pub avg_terms: Option<f32>,
}

impl SparseConfig {
    pub fn default_enabled() -> bool {
        true
    }
    /// tantivy's and Lucene's value.
    pub fn default_k1() -> f32 {
        1.2
    }
    /// tantivy's and Lucene's value.
    pub fn default_b() -> f32 {
        0.75
    }

    pub fn validate(&self) -> Result<()> {
        let bad = |name, value: f32| Error::Setting {
            name,
            reason: format!("{value} is out of range"),
        };
        if !(self.k1.is_finite() && self.k1 > 0.0) {
            return Err(bad("sparse.k1", self.k1));
        }
        if !(0.0..=1.0).contains(&self.b) {
            return Err(bad("sparse.b", self.b));
        }
        if let Some(avg) = self.avg_terms
            && !(avg.is_finite() && avg >= 1.0)
        {
            return Err(bad("sparse.avg_terms", avg));
        }
        Ok(())
    }
}

impl Default for SparseConfig {
    fn default() -> Self {
        SparseConfig {
            enabled: Self::default_enabled(),
            k1: Self::default_k1(),
            b: Self::default_b(),
            avg_terms: None,
        }
    }
}

/// A sparse vector: ascending, distinct term ids and their weights.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SparseVector {
    pub indices: Vec<u32>,
    pub values: Vec<f32>,
}

impl SparseVector {
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    /// Term counts by id, ids ascending (terms sharing an id are counted together).
    fn counts<'a>(terms: impl IntoIterator<Item = &'a str>) -> (BTreeMap<u32, f32>, f32) {
        let mut counts = BTreeMap::new();
        let mut len = 0.0;
        for t in terms {
            *counts.entry(term_id(t)).or_insert(0.0) += 1.0;
            len += 1.0;
        }
        (counts, len)
    }
}

/// Where a collection's lexical leg gets its inverse document frequencies from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdfSource {
    /// docket counts document frequencies over the whole collection and weighs the query
    /// with them (collections made by this version): the same scores on any number of
    /// shards.
    Collection,
    /// Qdrant's `idf` modifier, computed within each shard (collections made by earlier
    /// versions): exact on a single shard, approximate on several.
    PerShard,
}

/// BM25's inverse document frequency of a term held by `df` of `n` chunks: `ln(1 + (n -
/// df + 0.5) / (df + 0.5))`, as Qdrant's `idf` modifier, tantivy and Lucene compute it
/// (positive even for a term in every chunk).
pub fn bm25_idf(n: u64, df: u64) -> f32 {
    let (n, df) = (n as f32, df as f32);
    ((n - df + 0.5) / (df + 0.5) + 1.0).ln()
}

/// The id of an analysed term: the first four bytes of its BLAKE3 hash, little endian.
pub fn term_id(term: &str) -> u32 {
    let hash = blake3::hash(term.as_bytes());
    let mut first = [0u8; 4];
    first.copy_from_slice(&hash.as_bytes()[..4]);
    u32::from_le_bytes(first)
}

/// Turns chunks and queries into sparse vectors with the BM25 index's analyzer.
#[derive(Clone)]
pub struct SparseEncoder {
    analyzers: Analyzers,
    config: SparseConfig,
}

impl std::fmt::Debug for SparseEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SparseEncoder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl SparseEncoder {
    pub fn new(analyzer: &AnalyzerConfig, config: SparseConfig) -> Result<Self> {
        config.validate()?;
        Ok(SparseEncoder {
            analyzers: Analyzers::new(analyzer)?,
            config,
        })
    }

    /// The analysed terms of a chunk's title, headings and text (the fields the BM25
    /// index's body holds), in the chunk's language as the BM25 index analyses them.
    fn chunk_terms(&self, chunk: &Chunk) -> Vec<String> {
        let mut texts: Vec<&str> = Vec::with_capacity(2 + chunk.heading_path.len());
        if let Some(title) = &chunk.title {
            texts.push(title);
        }
        texts.extend(chunk.heading_path.iter().map(String::as_str));
        texts.push(&chunk.text);
        let lang = self.analyzers.language_of(&chunk.metadata);
        texts
            .iter()
            .flat_map(|t| self.analyzers.terms(lang, t))
            .collect()
    }

    /// The average length, in analysed terms, of these chunks (at least 1).
    pub fn mean_terms<'a>(&self, chunks: impl ExactSizeIterator<Item = &'a Chunk>) -> f32 {
        let n = chunks.len();
        if n == 0 {
            return 1.0;
        }
        let total: usize = chunks.map(|c| self.chunk_terms(c).len()).sum();
        (total as f32 / n as f32).max(1.0)
    }

    /// The fixed average length of the settings, if any.
    pub fn configured_avg_terms(&self) -> Option<f32> {
        self.config.avg_terms
    }

    /// A chunk's vector: BM25's term-frequency weight of each of its terms, for a
    /// collection whose average chunk length is `avg_terms`.
    pub fn document(&self, chunk: &Chunk, avg_terms: f32) -> SparseVector {
        let terms = self.chunk_terms(chunk);
        let (counts, len) = SparseVector::counts(terms.iter().map(String::as_str));
        let SparseConfig { k1, b, .. } = self.config;
        let norm = k1 * (1.0 - b + b * len / avg_terms.max(1.0));
        let (indices, values) = counts
            .into_iter()
            .map(|(id, tf)| (id, tf * (k1 + 1.0) / (tf + norm)))
            .unzip();
        SparseVector { indices, values }
    }

    /// A query's vector: each analysed term weighted by how often the query has it, as
    /// the BM25 index weighs a repeated query term. The query is analysed in every
    /// language (a collection's languages are not known here; terms of languages it
    /// does not hold match nothing).
    pub fn query(&self, text: &str) -> SparseVector {
        let terms = self
            .analyzers
            .query_terms(text, &self.analyzers.all_languages());
        let (counts, _) = SparseVector::counts(terms.iter().map(String::as_str));
        let (indices, values) = counts.into_iter().unzip();
        SparseVector { indices, values }
    }
}

impl SparseVector {
    /// This query vector with each term's weight multiplied by its [`bm25_idf`] in a
    /// collection of `n` chunks, `doc_freqs` giving each term's document frequency in the
    /// order of `indices`. Terms no chunk holds are left out: they match nothing.
    pub fn weighted_by_idf(&self, n: u64, doc_freqs: &[u64]) -> SparseVector {
        let mut weighted = SparseVector::default();
        for ((&id, &w), &df) in self.indices.iter().zip(&self.values).zip(doc_freqs) {
            if df > 0 {
                weighted.indices.push(id);
                weighted.values.push(w * bm25_idf(n, df));
            }
        }
        weighted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An encoder of English only, whose terms the weights below are worked out for.
    fn encoder() -> SparseEncoder {
        let english = AnalyzerConfig {
            per_language: false,
            ..AnalyzerConfig::default()
        };
        SparseEncoder::new(&english, SparseConfig::default()).expect("encoder")
    }

    #[test]
    fn chunks_are_analysed_in_their_language_and_queries_in_all() {
        let multilingual = AnalyzerConfig {
            per_language: true,
            ..AnalyzerConfig::default()
        };
        let e = SparseEncoder::new(&multilingual, SparseConfig::default()).unwrap();
        let mut c = chunk(None, "Арендатор расторг договор аренды.");
        c.heading_path.clear();
        c.metadata.insert("lang".into(), "rus".into());
        let d = e.document(&c, 10.0);
        // Russian stems, as the BM25 index makes them: same terms, same ids.
        let bm25 = Analyzers::new(&multilingual).unwrap();
        let mut want: Vec<u32> = bm25
            .terms(crate::lexical::Language::Russian, &c.text)
            .iter()
            .map(|t| term_id(t))
            .collect();
        want.sort_unstable();
        want.dedup();
        assert_eq!(d.indices, want);
        assert!(d.indices.contains(&term_id("договор")));
        // Another case in the query meets the chunk's stem.
        let q = e.query("договора");
        assert!(q.indices.contains(&term_id("договор")), "{q:?}");
    }

    fn chunk(title: Option<&str>, text: &str) -> Chunk {
        Chunk {
            id: "d-0".into(),
            doc_id: "d".into(),
            ordinal: 0,
            text: text.into(),
            start: 0,
            end: text.len(),
            page_start: 1,
            page_end: 1,
            heading_path: vec!["Leave policy".into()],
            token_count: 10,
            source: "d.md".into(),
            title: title.map(Into::into),
            format: docket_ingest::Format::Markdown,
            metadata: Default::default(),
        }
    }

    #[test]
    fn term_ids_are_pinned() {
        // Changing the derivation would orphan every sparse vector already stored.
        let h = blake3::hash(b"model");
        assert_eq!(
            term_id("model"),
            u32::from_le_bytes(h.as_bytes()[..4].try_into().unwrap())
        );
        assert_ne!(term_id("model"), term_id("models"));
    }

    #[test]
    fn query_terms_are_analysed_like_the_bm25_index() {
        let e = encoder();
        let q = e.query("The models and the Modeling of models");
        // "the", "and", "of" are stopwords; models/modeling stem to "model".
        assert_eq!(q.indices, vec![term_id("model")]);
        assert_eq!(q.values, vec![3.0]);
        assert!(e.query("the and of").is_empty());
    }

    #[test]
    fn document_weights_are_bm25_term_frequency_parts() {
        let e = encoder();
        let c = chunk(Some("Annual leave"), "Leave is booked in the portal.");
        let v = e.document(&c, 128.0);
        assert!(v.indices.windows(2).all(|w| w[0] < w[1]), "ascending ids");
        // Terms: annual, leav (title) + leav, polici (heading) + leav, book, portal.
        let len = 7.0;
        let norm = 1.2 * (1.0 - 0.75 + 0.75 * len / 128.0);
        let at = |t: &str| v.values[v.indices.iter().position(|&i| i == term_id(t)).unwrap()];
        assert!((at("leav") - 3.0 * 2.2 / (3.0 + norm)).abs() < 1e-6);
        assert!((at("portal") - 2.2 / (1.0 + norm)).abs() < 1e-6);
        // More occurrences weigh more, but saturate below k1 + 1.
        assert!(at("leav") > at("portal") && at("leav") < 2.2);
    }

    #[test]
    fn idf_follows_the_bm25_formula() {
        // ln(1 + (10 - 1 + 0.5) / 1.5) and a term in every chunk.
        assert!((bm25_idf(10, 1) - (1.0f32 + 9.5 / 1.5).ln()).abs() < 1e-6);
        assert!((bm25_idf(10, 10) - (1.0f32 + 0.5 / 10.5).ln()).abs() < 1e-6);
        assert!(bm25_idf(10, 10) > 0.0);
        // Rarer terms weigh more.
        assert!(bm25_idf(1000, 3) > bm25_idf(1000, 30));
    }

    #[test]
    fn query_weights_take_the_collection_idf_and_drop_unknown_terms() {
        let q = encoder().query("portal portal leave budget");
        // Ids ascend, so the document frequencies are given in that order.
        let df_of = |id: u32| match id {
            i if i == term_id("portal") => 4,
            i if i == term_id("leav") => 50,
            _ => 0,
        };
        let dfs: Vec<u64> = q.indices.iter().map(|&i| df_of(i)).collect();
        let w = q.weighted_by_idf(100, &dfs);
        assert_eq!(w.indices.len(), 2, "budget is in no chunk");
        let at = |t: &str| w.values[w.indices.iter().position(|&i| i == term_id(t)).unwrap()];
        assert!((at("portal") - 2.0 * bm25_idf(100, 4)).abs() < 1e-6);
        assert!((at("leav") - bm25_idf(100, 50)).abs() < 1e-6);
    }

    #[test]
    fn settings_out_of_range_are_named() {
        let c = SparseConfig {
            b: 1.5,
            ..SparseConfig::default()
        };
        assert!(matches!(
            c.validate(),
            Err(Error::Setting {
                name: "sparse.b",
                ..
            })
        ));
    }
}
