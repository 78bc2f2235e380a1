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

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};

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
#[derive(Debug, Clone, Copy, PartialEq, Default)]
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
}
