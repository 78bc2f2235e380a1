//! Retrieval evaluation on BEIR-format data sets: loading (`corpus.jsonl`,
//! `queries.jsonl`, a qrels TSV) and the metrics BEIR reports, so docket's rankings can
//! be compared with published and Python-measured figures.
//!
//! Metric definitions follow `pytrec_eval` (as used by BEIR): nDCG@k with the graded
//! relevance as linear gain and a `log2(rank + 1)` discount, normalised by the ideal
//! ordering of all judged documents; Recall@k over documents with relevance > 0; MRR@k
//! as BEIR computes it, the reciprocal rank of the first document with relevance > 0 in
//! the top k. One deliberate difference: a query with relevant documents but no results
//! counts as 0 in every mean, where `pytrec_eval` would silently leave it out.
//!
//! [`retrieval`] is the harness of `docket eval retrieval`: it puts a corpus through the
//! same path as user documents (chunker, embedder, both stores, fusion) into a temporary
//! index, so the figures measure what a search does. Rankings are per document: a
//! document ranks where its best chunk does.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use docket_ingest::document::content_hash;
use docket_ingest::{Chunker, Document, Format, TextBuilder};
use serde::{Deserialize, Serialize};

use crate::embed::Embedder;
use crate::error::{Error, Result};
use crate::filter::Filter;
use crate::fusion::{FusedHit, FusionConfig, FusionMethod, fuse, single_leg};
use crate::index::{Action, Index, IndexSettings, Legs, Mode};
use crate::vector::{ServerFusion, VectorStoreConfig};

/// Graded judgements: query id -> document id -> relevance (> 0 means relevant).
pub type Qrels = BTreeMap<String, BTreeMap<String, i32>>;

/// One document of a BEIR corpus.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CorpusDoc {
    #[serde(rename = "_id")]
    pub id: String,
    #[serde(default)]
    pub title: String,
    pub text: String,
}

/// One query of a BEIR data set.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Query {
    #[serde(rename = "_id")]
    pub id: String,
    pub text: String,
}

/// A BEIR data set: corpus, queries and relevance judgements.
#[derive(Debug, Clone, Default)]
pub struct BeirDataset {
    pub corpus: Vec<CorpusDoc>,
    pub queries: Vec<Query>,
    pub qrels: Qrels,
}

impl BeirDataset {
    /// Load a data set from `dir`: `corpus.jsonl`, `queries.jsonl` and the qrels from
    /// `qrels.tsv`, or else `qrels/{split}.tsv` (BEIR's layout). Only queries that have
    /// judgements are kept, since the others cannot be scored.
    pub fn load(dir: &Path, split: &str) -> Result<BeirDataset> {
        let corpus: Vec<CorpusDoc> = read_jsonl(&dir.join("corpus.jsonl"))?;
        let queries: Vec<Query> = read_jsonl(&dir.join("queries.jsonl"))?;
        let flat = dir.join("qrels.tsv");
        let qrels_path = if flat.exists() {
            flat
        } else {
            dir.join("qrels").join(format!("{split}.tsv"))
        };
        let qrels = read_qrels(&qrels_path)?;
        let queries = queries
            .into_iter()
            .filter(|q| qrels.contains_key(&q.id))
            .collect();
        Ok(BeirDataset {
            corpus,
            queries,
            qrels,
        })
    }
}

fn read_text(path: &Path) -> Result<String> {
    fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })
}

/// Read a JSON Lines file, skipping blank lines.
pub fn read_jsonl<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Vec<T>> {
    let text = read_text(path)?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        out.push(serde_json::from_str(line).map_err(|e| Error::Parse {
            path: path.to_owned(),
            line: i + 1,
            reason: e.to_string(),
        })?);
    }
    Ok(out)
}

/// Read a BEIR qrels file: a header line, then `query-id<TAB>corpus-id<TAB>score`.
pub fn read_qrels(path: &Path) -> Result<Qrels> {
    parse_qrels(&read_text(path)?, path)
}

/// Parse qrels text; `path` is only used in error messages.
pub fn parse_qrels(text: &str, path: &Path) -> Result<Qrels> {
    let mut qrels = Qrels::new();
    let bad = |line: usize, reason: String| Error::Parse {
        path: PathBuf::from(path),
        line,
        reason,
    };
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        if i == 0 && cols.first() == Some(&"query-id") {
            continue;
        }
        let [qid, did, score] = cols[..] else {
            return Err(bad(
                i + 1,
                format!("expected 3 tab-separated columns, found {}", cols.len()),
            ));
        };
        let score: i32 = score
            .trim()
            .parse()
            .map_err(|_| bad(i + 1, format!("score {score:?} is not an integer")))?;
        qrels
            .entry(qid.to_owned())
            .or_default()
            .insert(did.to_owned(), score);
    }
    Ok(qrels)
}

/// nDCG@k of one ranking (document ids, best first) against one query's judgements.
pub fn ndcg_at_k(ranking: &[String], judged: &BTreeMap<String, i32>, k: usize) -> f64 {
    let gain = |rel: i32| f64::from(rel.max(0));
    let discount = |rank0: usize| 1.0 / ((rank0 + 2) as f64).log2();
    let mut seen = HashSet::new();
    let dcg: f64 = ranking
        .iter()
        .filter(|d| seen.insert(d.as_str()))
        .take(k)
        .enumerate()
        .map(|(i, d)| gain(judged.get(d).copied().unwrap_or(0)) * discount(i))
        .sum();
    let mut ideal: Vec<i32> = judged.values().copied().filter(|&r| r > 0).collect();
    ideal.sort_unstable_by(|a, b| b.cmp(a));
    let idcg: f64 = ideal
        .iter()
        .take(k)
        .enumerate()
        .map(|(i, &r)| gain(r) * discount(i))
        .sum();
    if idcg == 0.0 { 0.0 } else { dcg / idcg }
}

/// Recall@k: the share of relevant documents (relevance > 0) found in the top k.
pub fn recall_at_k(ranking: &[String], judged: &BTreeMap<String, i32>, k: usize) -> f64 {
    let relevant: HashSet<&str> = judged
        .iter()
        .filter(|(_, r)| **r > 0)
        .map(|(d, _)| d.as_str())
        .collect();
    if relevant.is_empty() {
        return 0.0;
    }
    let found: HashSet<&str> = ranking
        .iter()
        .take(k)
        .map(String::as_str)
        .filter(|d| relevant.contains(d))
        .collect();
    found.len() as f64 / relevant.len() as f64
}

/// MRR@k: 1 / rank of the first relevant document in the top k, 0 if there is none.
pub fn mrr_at_k(ranking: &[String], judged: &BTreeMap<String, i32>, k: usize) -> f64 {
    ranking
        .iter()
        .take(k)
        .position(|d| judged.get(d).is_some_and(|&r| r > 0))
        .map_or(0.0, |i| 1.0 / (i + 1) as f64)
}

/// The mean metrics BEIR reports, over the judged queries.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Metrics {
    pub ndcg_at_10: f64,
    pub recall_at_100: f64,
    pub mrr_at_10: f64,
    /// Queries averaged over: those with at least one relevant document.
    pub queries: usize,
}

/// Mean metrics of a run (query id -> ranked document ids, best first). Every query of
/// `qrels` with a relevant document counts; one missing from the run scores 0.
pub fn evaluate(run: &HashMap<String, Vec<String>>, qrels: &Qrels) -> Metrics {
    let mut m = Metrics::default();
    let empty = Vec::new();
    for (qid, judged) in qrels {
        if !judged.values().any(|&r| r > 0) {
            continue;
        }
        let ranking = run.get(qid).unwrap_or(&empty);
        m.ndcg_at_10 += ndcg_at_k(ranking, judged, 10);
        m.recall_at_100 += recall_at_k(ranking, judged, 100);
        m.mrr_at_10 += mrr_at_k(ranking, judged, 10);
        m.queries += 1;
    }
    if m.queries > 0 {
        let n = m.queries as f64;
        m.ndcg_at_10 /= n;
        m.recall_at_100 /= n;
        m.mrr_at_10 /= n;
    }
    m
}

/// What [`retrieval`] measures.
#[derive(Debug, Clone, Default)]
pub struct RetrievalConfig {
    /// Modes to score; empty means dense, BM25 and hybrid.
    pub modes: Vec<Mode>,
    /// The fusion the hybrid mode is scored with.
    pub fusion: FusionConfig,
    /// Also score the grid of fusion settings ([`tuning_grid`]).
    pub tune: bool,
    /// With `tune`: the index to store the best fusion in, for its hybrid searches.
    pub store_tuned: Option<PathBuf>,
    /// Index into this vector store instead of a temporary embedded one: a server
    /// collection (dropped afterwards), whose sparse leg is then the BM25 leg scored, and
    /// whose own fusions (Qdrant's RRF and DBSF) are scored too.
    pub vectors: Option<VectorStoreConfig>,
}

impl RetrievalConfig {
    /// The modes scored, in order, without repeats next to each other.
    pub fn modes(&self) -> Vec<Mode> {
        if self.modes.is_empty() {
            return vec![Mode::Dense, Mode::Bm25, Mode::Hybrid];
        }
        let mut modes = self.modes.clone();
        modes.dedup();
        modes
    }

    /// Whether the run needs an embedder (any mode but BM25, or tuning), so that a
    /// caller loads the model only then.
    pub fn needs_embedder(&self) -> bool {
        self.tune || self.modes().iter().any(|m| *m != Mode::Bm25)
    }
}

/// One mode's scores.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModeMetrics {
    pub mode: Mode,
    pub metrics: Metrics,
}

/// One point of the tuning grid.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TunedFusion {
    pub fusion: FusionConfig,
    pub metrics: Metrics,
}

/// What [`retrieval`] found.
#[derive(Debug, Clone, Serialize)]
pub struct RetrievalReport {
    /// Corpus documents indexed, and the chunks they made.
    pub documents: usize,
    pub chunks: usize,
    pub queries: usize,
    /// Time to index the corpus, and to retrieve both legs of every query.
    pub index_seconds: f64,
    pub query_seconds: f64,
    /// The fusion the hybrid mode was scored with.
    pub fusion: FusionConfig,
    /// Scores per mode, in [`RetrievalConfig::modes`] order.
    pub modes: Vec<ModeMetrics>,
    /// With `tune`: every grid point, best first (highest nDCG@10; among equals, the BM25
    /// weight nearest an even split).
    pub tuned: Option<Vec<TunedFusion>>,
    /// The index the best fusion was stored in.
    pub stored_in: Option<PathBuf>,
    /// On a server collection: the server's own fusions, by name (`qdrant-rrf`,
    /// `qdrant-dbsf`).
    pub server_fusions: Vec<(String, Metrics)>,
}

/// The fusion settings `tune` scores: convex and RRF, each with BM25 weights 0 to 1 in
/// steps of 0.05.
pub fn tuning_grid() -> Vec<FusionConfig> {
    let mut grid = Vec::new();
    for method in [FusionMethod::Convex, FusionMethod::Rrf] {
        for step in 0..=20 {
            grid.push(FusionConfig {
                method,
                bm25_weight: step as f32 / 20.0,
                ..FusionConfig::default()
            });
        }
    }
    grid
}

/// Score retrieval on `data`: index its corpus into a temporary index with `chunker`
/// and `embedder` (needed unless only BM25 is scored, see
/// [`RetrievalConfig::needs_embedder`]), retrieve both legs once per query, and score
/// every mode and fusion setting from those legs.
pub fn retrieval(
    data: &BeirDataset,
    config: &RetrievalConfig,
    chunker: &Chunker,
    embedder: Option<Arc<dyn Embedder>>,
) -> Result<RetrievalReport> {
    if data.queries.is_empty() {
        return Err(Error::Setting {
            name: "queries",
            reason: "no query has relevance judgements".into(),
        });
    }
    let dense = config.needs_embedder();
    if dense && embedder.is_none() {
        return Err(Error::Setting {
            name: "mode",
            reason: "dense and hybrid retrieval and tuning need an embedder".into(),
        });
    }
    let tmp = tempfile::tempdir().map_err(|e| Error::io(std::env::temp_dir(), e))?;
    let started = Instant::now();
    let (index, corpus_id, chunks) =
        index_corpus(tmp.path(), data, chunker, embedder, config.vectors.clone())?;
    let index_seconds = started.elapsed().as_secs_f64();
    let scored = score_index(&index, data, config, &corpus_id);
    // A server collection is dropped whatever the scoring gave.
    let dropped = index.delete_vectors();
    let (modes, query_seconds, tuned, server_fusions) = scored?;
    dropped?;
    let mut stored_in = None;
    if let (Some(best), Some(dir)) = (tuned.as_ref().and_then(|t| t.first()), &config.store_tuned) {
        Index::open(dir, None)?.set_fusion(best.fusion.clone())?;
        stored_in = Some(dir.clone());
    }
    Ok(RetrievalReport {
        documents: data.corpus.len(),
        chunks,
        queries: data.queries.len(),
        index_seconds,
        query_seconds,
        fusion: config.fusion.clone(),
        modes,
        tuned,
        stored_in,
        server_fusions,
    })
}

/// What [`score_index`] found: scores per mode, seconds of retrieval, the tuning grid
/// and the server's fusions.
type Scored = (
    Vec<ModeMetrics>,
    f64,
    Option<Vec<TunedFusion>>,
    Vec<(String, Metrics)>,
);

fn score_index(
    index: &Index,
    data: &BeirDataset,
    config: &RetrievalConfig,
    corpus_id: &HashMap<String, String>,
) -> Result<Scored> {
    let dense = config.needs_embedder();

    // Both legs once per query; every mode and fusion setting is computed from them.
    let started = Instant::now();
    let leg_mode = if dense { Mode::Hybrid } else { Mode::Bm25 };
    // As many hits per leg as a search fuses (and at least 100 for Recall@100).
    let n = config.fusion.candidates.max(100);
    let legs = data
        .queries
        .iter()
        .map(|q| -> Result<(String, Legs)> {
            Ok((
                q.id.clone(),
                index.legs(&q.text, n, &Filter::default(), leg_mode)?,
            ))
        })
        .collect::<Result<Vec<(String, Legs)>>>()?;
    let query_seconds = started.elapsed().as_secs_f64();
    let score = |mode: Mode, fusion: &FusionConfig| -> Metrics {
        let run: HashMap<String, Vec<String>> = legs
            .iter()
            .map(|(qid, l)| (qid.clone(), documents(&rank(mode, fusion, l), corpus_id)))
            .collect();
        evaluate(&run, &data.qrels)
    };
    let modes = config
        .modes()
        .into_iter()
        .map(|mode| ModeMetrics {
            mode,
            metrics: score(mode, &config.fusion),
        })
        .collect();
    let tuned = config.tune.then(|| tune(|f| score(Mode::Hybrid, f)));
    let mut server_fusions = Vec::new();
    if dense && index.searches_server() {
        for (name, fusion) in [
            ("qdrant-rrf", ServerFusion::Rrf),
            ("qdrant-dbsf", ServerFusion::Dbsf),
        ] {
            let mut run = HashMap::with_capacity(data.queries.len());
            for q in &data.queries {
                let hits = index
                    .server_fused(&q.text, n, &Filter::default(), fusion)?
                    .unwrap_or_default();
                let mut seen = HashSet::new();
                let ranked: Vec<String> = hits
                    .iter()
                    .filter(|h| seen.insert(h.doc_id.as_str()))
                    .filter_map(|h| corpus_id.get(&h.doc_id).cloned())
                    .collect();
                run.insert(q.id.clone(), ranked);
            }
            server_fusions.push((name.to_owned(), evaluate(&run, &data.qrels)));
        }
    }
    Ok((modes, query_seconds, tuned, server_fusions))
}

/// Score every grid point; best first: highest nDCG@10, among equals the BM25 weight
/// nearest an even split.
fn tune(score: impl Fn(&FusionConfig) -> Metrics) -> Vec<TunedFusion> {
    let mut grid: Vec<TunedFusion> = tuning_grid()
        .into_iter()
        .map(|fusion| TunedFusion {
            metrics: score(&fusion),
            fusion,
        })
        .collect();
    grid.sort_by(|a, b| {
        b.metrics.ndcg_at_10.total_cmp(&a.metrics.ndcg_at_10).then(
            (a.fusion.bm25_weight - 0.5)
                .abs()
                .total_cmp(&(b.fusion.bm25_weight - 0.5).abs()),
        )
    });
    grid
}

/// The corpus in a new index in `dir`: the index, document id -> corpus id, and the
/// number of chunks.
fn index_corpus(
    dir: &Path,
    data: &BeirDataset,
    chunker: &Chunker,
    embedder: Option<Arc<dyn Embedder>>,
    vectors: Option<VectorStoreConfig>,
) -> Result<(Index, HashMap<String, String>, usize)> {
    let settings = IndexSettings {
        tokenizer: chunker.tokenizer_name().to_owned(),
        chunking: chunker.config().clone(),
        vectors,
        ..IndexSettings::default()
    };
    let mut index = Index::create_or_open(dir, embedder, &settings)?;
    let mut corpus_id: HashMap<String, String> = HashMap::with_capacity(data.corpus.len());
    let mut chunks = 0;
    for d in &data.corpus {
        let mut b = TextBuilder::new();
        if !d.title.trim().is_empty() {
            b.set_title(d.title.trim());
        }
        b.push_str(&d.text);
        let doc = Document::new(
            d.id.clone(),
            Format::Text,
            content_hash(d.text.as_bytes()),
            b.finish(true),
        );
        corpus_id.insert(doc.id.clone(), d.id.clone());
        let doc_chunks = chunker.chunk(&doc)?;
        chunks += doc_chunks.len();
        index.stage(&doc, doc_chunks, Action::Add)?;
    }
    index.commit()?;
    Ok((index, corpus_id, chunks))
}

/// One query's ranking in `mode`, from both legs' hits.
fn rank(mode: Mode, fusion: &FusionConfig, legs: &Legs) -> Vec<FusedHit> {
    match mode {
        Mode::Dense => single_leg(&legs.dense, true),
        Mode::Bm25 => single_leg(&legs.bm25, false),
        Mode::Hybrid => fuse(&legs.dense, &legs.bm25, fusion),
    }
}

/// Corpus ids of a chunk ranking, each document once, at its best chunk's place.
fn documents(hits: &[FusedHit], corpus_id: &HashMap<String, String>) -> Vec<String> {
    let mut seen = HashSet::new();
    hits.iter()
        .filter(|h| seen.insert(h.doc_id.as_str()))
        .filter_map(|h| corpus_id.get(&h.doc_id).cloned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn judged(v: &[(&str, i32)]) -> BTreeMap<String, i32> {
        v.iter().map(|(d, r)| (d.to_string(), *r)).collect()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn ndcg_uses_graded_gain_and_log2_discount() {
        // Ranking: a(rel 1), x(0), b(rel 2). DCG = 1/log2(2) + 2/log2(4) = 1 + 1 = 2.
        // Ideal: b(2), a(1): 2/1 + 1/log2(3).
        let q = judged(&[("a", 1), ("b", 2), ("n", 0)]);
        let got = ndcg_at_k(&ids(&["a", "x", "b"]), &q, 10);
        let want = 2.0 / (2.0 + 1.0 / 3f64.log2());
        assert!(close(got, want), "{got} != {want}");
        assert!(close(ndcg_at_k(&ids(&["b", "a"]), &q, 10), 1.0));
        assert!(close(ndcg_at_k(&ids(&["x", "n"]), &q, 10), 0.0));
    }

    #[test]
    fn ndcg_cuts_at_k_on_both_sides() {
        // k = 1: only the first result counts, and the ideal is one document of gain 2.
        let q = judged(&[("a", 1), ("b", 2)]);
        assert!(close(ndcg_at_k(&ids(&["a", "b"]), &q, 1), 0.5));
        // A relevant document at rank 11 is outside nDCG@10.
        let mut r: Vec<String> = (0..10).map(|i| format!("x{i}")).collect();
        r.push("a".into());
        assert!(close(ndcg_at_k(&r, &q, 10), 0.0));
    }

    #[test]
    fn ndcg_counts_a_repeated_document_once() {
        let q = judged(&[("a", 1), ("b", 1)]);
        let dup = ndcg_at_k(&ids(&["a", "a"]), &q, 10);
        let once = ndcg_at_k(&ids(&["a"]), &q, 10);
        assert!(close(dup, once));
    }

    #[test]
    fn recall_counts_relevant_found_in_top_k() {
        let q = judged(&[("a", 1), ("b", 3), ("c", 1), ("n", 0)]);
        assert!(close(
            recall_at_k(&ids(&["a", "n", "b"]), &q, 100),
            2.0 / 3.0
        ));
        assert!(close(recall_at_k(&ids(&["n", "a", "b"]), &q, 2), 1.0 / 3.0));
        assert!(close(recall_at_k(&ids(&["a", "a"]), &q, 100), 1.0 / 3.0));
    }

    #[test]
    fn mrr_is_reciprocal_rank_of_first_relevant_within_k() {
        let q = judged(&[("a", 1), ("b", 2), ("n", 0)]);
        assert!(close(
            mrr_at_k(&ids(&["n", "x", "b", "a"]), &q, 10),
            1.0 / 3.0
        ));
        assert!(close(mrr_at_k(&ids(&["n", "x", "b"]), &q, 2), 0.0));
        assert!(close(mrr_at_k(&ids(&["a"]), &q, 10), 1.0));
    }

    #[test]
    fn evaluate_averages_over_judged_queries_and_counts_missing_runs_as_zero() {
        let mut qrels = Qrels::new();
        qrels.insert("q1".into(), judged(&[("a", 1)]));
        qrels.insert("q2".into(), judged(&[("b", 1)]));
        // No relevant document: not averaged over.
        qrels.insert("q3".into(), judged(&[("c", 0)]));
        let mut run = HashMap::new();
        run.insert("q1".to_string(), ids(&["x", "a"]));
        let m = evaluate(&run, &qrels);
        assert_eq!(m.queries, 2);
        assert!(close(m.mrr_at_10, 0.25));
        assert!(close(m.recall_at_100, 0.5));
        // q1: 1/log2(3) (relevant at rank 2), q2: 0.
        assert!(close(m.ndcg_at_10, 0.5 / 3f64.log2()));
    }

    #[test]
    fn qrels_parse_with_header_and_reject_bad_lines() {
        let path = Path::new("qrels.tsv");
        let q = parse_qrels(
            "query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td2\t2\r\n\n",
            path,
        )
        .expect("parses");
        assert_eq!(q["q1"]["d1"], 1);
        assert_eq!(q["q1"]["d2"], 2);
        let err = parse_qrels("query-id\tcorpus-id\tscore\nq1\td1\n", path).unwrap_err();
        assert!(matches!(err, Error::Parse { line: 2, .. }), "{err}");
        let err = parse_qrels("q1\td1\thigh\n", path).unwrap_err();
        assert!(matches!(err, Error::Parse { line: 1, .. }), "{err}");
    }

    #[test]
    fn dataset_loads_from_beir_layout() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(
            dir.path().join("corpus.jsonl"),
            "{\"_id\":\"d1\",\"title\":\"T\",\"text\":\"one\"}\n{\"_id\":\"d2\",\"text\":\"two\"}\n",
        )
        .expect("write");
        fs::write(
            dir.path().join("queries.jsonl"),
            "{\"_id\":\"q1\",\"text\":\"one?\"}\n{\"_id\":\"q2\",\"text\":\"unjudged\"}\n",
        )
        .expect("write");
        fs::create_dir(dir.path().join("qrels")).expect("mkdir");
        fs::write(
            dir.path().join("qrels/test.tsv"),
            "query-id\tcorpus-id\tscore\nq1\td1\t1\n",
        )
        .expect("write");
        let ds = BeirDataset::load(dir.path(), "test").expect("loads");
        assert_eq!(ds.corpus.len(), 2);
        assert_eq!(ds.corpus[0].title, "T");
        assert_eq!(ds.corpus[1].title, "");
        assert_eq!(ds.queries.len(), 1, "unjudged query dropped");
        assert_eq!(ds.qrels["q1"]["d1"], 1);

        fs::write(dir.path().join("corpus.jsonl"), "{\"_id\":\"d1\"}\n").expect("write");
        let err = BeirDataset::load(dir.path(), "test").unwrap_err();
        assert!(matches!(err, Error::Parse { line: 1, .. }), "{err}");
    }

    fn tiny_set() -> BeirDataset {
        let doc = |id: &str, text: &str| CorpusDoc {
            id: id.into(),
            title: String::new(),
            text: text.into(),
        };
        let query = |id: &str, text: &str| Query {
            id: id.into(),
            text: text.into(),
        };
        let mut qrels = Qrels::new();
        qrels.insert("q1".into(), judged(&[("d1", 1)]));
        qrels.insert("q2".into(), judged(&[("d2", 1)]));
        qrels.insert("q3".into(), judged(&[("d3", 2)]));
        BeirDataset {
            corpus: vec![
                doc(
                    "d1",
                    "The travel policy covers flights and hotels for staff.",
                ),
                doc(
                    "d2",
                    "Expense reports are due within thirty days of purchase.",
                ),
                doc(
                    "d3",
                    "Security badges must be worn inside the office building.",
                ),
            ],
            queries: vec![
                query("q1", "travel policy flights"),
                query("q2", "expense reports due"),
                query("q3", "security badges office"),
            ],
            qrels,
        }
    }

    fn chunker() -> Chunker {
        Chunker::new(
            docket_ingest::ChunkingConfig::default(),
            Arc::new(docket_ingest::ApproxTokenizer),
        )
        .expect("chunker")
    }

    #[test]
    fn retrieval_scores_bm25_on_a_tiny_set() {
        let config = RetrievalConfig {
            modes: vec![Mode::Bm25, Mode::Bm25],
            ..RetrievalConfig::default()
        };
        assert!(!config.needs_embedder());
        let report = retrieval(&tiny_set(), &config, &chunker(), None).expect("runs");
        assert_eq!((report.documents, report.chunks, report.queries), (3, 3, 3));
        assert_eq!(report.modes.len(), 1, "repeated modes are scored once");
        let m = report.modes[0].metrics;
        assert_eq!(m.queries, 3);
        assert!(close(m.mrr_at_10, 1.0) && close(m.ndcg_at_10, 1.0), "{m:?}");
        assert!(report.tuned.is_none());
        let json = serde_json::to_value(&report).expect("serialises");
        assert_eq!(json["modes"][0]["mode"], "bm25");
    }

    #[test]
    fn retrieval_without_an_embedder_refuses_dense_modes() {
        let config = RetrievalConfig::default();
        assert!(config.needs_embedder());
        assert!(retrieval(&tiny_set(), &config, &chunker(), None).is_err());
        let empty = BeirDataset::default();
        let bm25 = RetrievalConfig {
            modes: vec![Mode::Bm25],
            ..RetrievalConfig::default()
        };
        assert!(retrieval(&empty, &bm25, &chunker(), None).is_err());
    }

    #[test]
    fn tuning_sorts_best_first_and_breaks_ties_towards_an_even_split() {
        assert_eq!(tuning_grid().len(), 42);
        // Every setting scores the same except convex at 0.9.
        let grid = tune(|f| Metrics {
            ndcg_at_10: if f.method == FusionMethod::Convex && (f.bm25_weight - 0.9).abs() < 1e-6 {
                0.9
            } else {
                0.5
            },
            ..Metrics::default()
        });
        assert_eq!(grid.len(), 42);
        assert_eq!(grid[0].fusion.bm25_weight, 0.9);
        assert_eq!(grid[1].fusion.bm25_weight, 0.5);
        assert_eq!(grid[2].fusion.bm25_weight, 0.5);
    }
}
