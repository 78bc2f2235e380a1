//! Explain records: what produced each output row, kept per run under the index
//! (`<index>/explain/<run id>.jsonl`) for `docket explain ROW_ID`.
//!
//! A row's provenance says which chunks and models made it; its explain record says how:
//! every retrieved chunk with its fused score and each leg's rank and score (and the
//! number it had among the prompt's sources), the verifier's verdict on each answer
//! sentence (the source it cites, term coverage, cosine), the classifier's label
//! scores. Records are appended as rows are made, one JSON line each, in the file of
//! their run; the row id names the run (see [`crate::provenance::row_id`]), so a lookup
//! reads one file.
//!
//! The store is bounded: when a run starts its file, the oldest runs' files go until at
//! most [`ExplainLog::default_keep_runs`] runs and [`ExplainLog::default_max_bytes`]
//! remain (a row whose run was pruned has no explanation any more; its provenance
//! stays). Records quote answer sentences, which come from documents, so forgetting a
//! document drops every record that names it ([`ExplainLog::forget`]). Writing a record
//! is best effort for callers: a row is worth more than its explanation.

use std::collections::HashSet;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use docket_generate::answer::Answer;
use docket_index::LegHit;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::provenance::run_of;

/// The folder of an index that holds the explain records: `jobs/` for job runs,
/// `commands/` for one-off commands, each pruned on its own (a hundred searches must not
/// push out last night's job).
pub const EXPLAIN_DIR: &str = "explain";

/// What produced one output row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Explained {
    pub row_id: String,
    /// `answer`, `search`, `classify` or `summarize`.
    pub kind: String,
    /// Every document the record names (those of its chunks and its row).
    pub doc_ids: Vec<String>,
    /// The chunks that produced the row, best first, with their scores when retrieval
    /// chose them (none for a row made from a whole document).
    #[serde(default)]
    pub chunks: Vec<ChunkScore>,
    /// An answer's sentences, kept and dropped, with the verifier's support for each.
    #[serde(default)]
    pub claims: Vec<ClaimCheck>,
    /// A classification's label scores: the labels given, then the runner-up.
    #[serde(default)]
    pub labels: Vec<LabelScore>,
    /// When the record was made, RFC 3339 UTC.
    pub at: String,
}

/// One chunk and how it scored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChunkScore {
    pub chunk_id: String,
    pub doc_id: String,
    pub source: String,
    /// The fused score (the leg's own in a single-leg search); `None` for a chunk read
    /// whole rather than retrieved.
    pub score: Option<f32>,
    pub dense_rank: Option<usize>,
    pub dense_score: Option<f32>,
    pub bm25_rank: Option<usize>,
    pub bm25_score: Option<f32>,
    /// The `[n]` the chunk had among an answer's sources (`None`: it did not fit the
    /// context, or no prompt was made).
    pub n: Option<usize>,
    /// Whether a kept answer sentence cites it.
    pub cited: bool,
}

impl ChunkScore {
    /// A chunk retrieved with these scores.
    pub fn retrieved(
        chunk_id: &str,
        doc_id: &str,
        source: &str,
        score: f32,
        dense: Option<LegHit>,
        bm25: Option<LegHit>,
    ) -> ChunkScore {
        ChunkScore {
            chunk_id: chunk_id.to_owned(),
            doc_id: doc_id.to_owned(),
            source: source.to_owned(),
            score: Some(score),
            dense_rank: dense.map(|l| l.rank),
            dense_score: dense.map(|l| l.score),
            bm25_rank: bm25.map(|l| l.rank),
            bm25_score: bm25.map(|l| l.score),
            n: None,
            cited: false,
        }
    }

    /// A chunk read as part of its whole document (a summary's, a label's).
    pub fn whole(chunk_id: String, doc_id: &str, source: &str) -> ChunkScore {
        ChunkScore {
            chunk_id,
            doc_id: doc_id.to_owned(),
            source: source.to_owned(),
            score: None,
            dense_rank: None,
            dense_score: None,
            bm25_rank: None,
            bm25_score: None,
            n: None,
            cited: false,
        }
    }
}

/// A label and its score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelScore {
    pub label: String,
    pub score: f32,
}

/// One answer sentence and the verifier's verdict on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimCheck {
    pub text: String,
    pub supported: bool,
    /// The sources (`[n]`) the sentence cites.
    pub cited: Vec<usize>,
    /// The source whose span supports it.
    pub source_n: Option<usize>,
    /// Share of the sentence's content terms (weighted) the span covers.
    pub term_support: Option<f32>,
    /// Cosine of the sentence and its span, when the embedder was there.
    pub cosine: Option<f32>,
    /// Why it was dropped, if it was.
    pub note: Option<String>,
}

impl Explained {
    /// The record of an answer: every retrieved chunk with its scores (the cited ones
    /// marked), every sentence with its support.
    pub fn answer(row_id: &str, a: &Answer) -> Explained {
        let cited: HashSet<&str> = a.sources.iter().map(|s| s.chunk_id.as_str()).collect();
        let chunks: Vec<ChunkScore> = a
            .retrieved
            .iter()
            .map(|r| ChunkScore {
                n: r.n,
                cited: cited.contains(r.chunk_id.as_str()),
                ..ChunkScore::retrieved(&r.chunk_id, &r.doc_id, &r.source, r.score, r.dense, r.bm25)
            })
            .collect();
        let claims = a
            .claims
            .iter()
            .chain(&a.dropped)
            .map(|c| ClaimCheck {
                text: c.text.clone(),
                supported: c.supported,
                cited: c.cited.clone(),
                source_n: c.support.as_ref().map(|s| s.n),
                term_support: c.support.as_ref().map(|s| s.term_support),
                cosine: c.support.as_ref().and_then(|s| s.cosine),
                note: c.note.clone(),
            })
            .collect();
        Explained {
            row_id: row_id.to_owned(),
            kind: "answer".into(),
            doc_ids: doc_ids(&chunks),
            chunks,
            claims,
            labels: Vec::new(),
            at: crate::provenance::now_rfc3339(),
        }
    }

    /// The record of a row made from chunks (`kind`: a search hit, a summary, a label),
    /// with label scores for a classification.
    pub fn chunks(
        row_id: &str,
        kind: &str,
        chunks: Vec<ChunkScore>,
        labels: Vec<LabelScore>,
    ) -> Explained {
        Explained {
            row_id: row_id.to_owned(),
            kind: kind.to_owned(),
            doc_ids: doc_ids(&chunks),
            chunks,
            claims: Vec::new(),
            labels,
            at: crate::provenance::now_rfc3339(),
        }
    }
}

/// The plain-text form `docket explain` prints: the chunks with their scores, the
/// sentences with their support, the labels with theirs.
impl std::fmt::Display for Explained {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let num = |x: Option<f32>| x.map_or("-".to_owned(), |x| format!("{x:.4}"));
        let rank = |x: Option<usize>| x.map_or("-".to_owned(), |x| format!("#{x}"));
        writeln!(f, "row      {}", self.row_id)?;
        writeln!(f, "kind     {}", self.kind)?;
        writeln!(f, "made     {}", self.at)?;
        if !self.chunks.is_empty() {
            writeln!(
                f,
                "chunks   (fused score; dense rank, score; bm25 rank, score)"
            )?;
        }
        for c in &self.chunks {
            let mut marks = Vec::new();
            if let Some(n) = c.n {
                marks.push(format!("source [{n}]"));
            }
            if c.cited {
                marks.push("cited".to_owned());
            }
            writeln!(
                f,
                "  {} {}  {}; dense {} {}; bm25 {} {}{}",
                c.chunk_id,
                c.source,
                num(c.score),
                rank(c.dense_rank),
                num(c.dense_score),
                rank(c.bm25_rank),
                num(c.bm25_score),
                if marks.is_empty() {
                    String::new()
                } else {
                    format!("  ({})", marks.join(", "))
                }
            )?;
        }
        if !self.claims.is_empty() {
            writeln!(f, "sentences (kept or dropped; cited sources; support)")?;
        }
        for c in &self.claims {
            let cited: Vec<String> = c.cited.iter().map(|n| format!("[{n}]")).collect();
            writeln!(
                f,
                "  {} \"{}\" cites {}; supported by {} (terms {}, cosine {}){}",
                if c.supported { "kept   " } else { "dropped" },
                c.text.split_whitespace().collect::<Vec<_>>().join(" "),
                if cited.is_empty() {
                    "nothing".to_owned()
                } else {
                    cited.join("")
                },
                c.source_n.map_or("-".to_owned(), |n| format!("[{n}]")),
                num(c.term_support),
                num(c.cosine),
                c.note.as_ref().map_or(String::new(), |n| format!(": {n}"))
            )?;
        }
        if !self.labels.is_empty() {
            writeln!(f, "labels")?;
        }
        for l in &self.labels {
            writeln!(f, "  {} {:.4}", l.label, l.score)?;
        }
        Ok(())
    }
}

/// The distinct documents of `chunks`, in order.
fn doc_ids(chunks: &[ChunkScore]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in chunks {
        if !out.contains(&c.doc_id) {
            out.push(c.doc_id.clone());
        }
    }
    out
}

/// The explain records of one index (see the module documentation).
#[derive(Debug, Clone)]
pub struct ExplainLog {
    dir: PathBuf,
    keep_runs: usize,
    max_bytes: u64,
}

impl ExplainLog {
    /// Runs whose records are kept: enough to explain the last weeks of a daily job and
    /// the recent one-off questions.
    pub fn default_keep_runs() -> usize {
        64
    }

    /// Most bytes the records of all runs may take (a run's own are never cut).
    pub fn default_max_bytes() -> u64 {
        256 << 20
    }

    /// The records of job runs on the index in `index_dir`.
    pub fn jobs(index_dir: &Path) -> ExplainLog {
        Self::at(index_dir.join(EXPLAIN_DIR).join("jobs"))
    }

    /// The records of one-off commands (`docket ask`, `search`, `classify`) on the index
    /// in `index_dir`.
    pub fn commands(index_dir: &Path) -> ExplainLog {
        Self::at(index_dir.join(EXPLAIN_DIR).join("commands"))
    }

    fn at(dir: PathBuf) -> ExplainLog {
        ExplainLog {
            dir,
            keep_runs: Self::default_keep_runs(),
            max_bytes: Self::default_max_bytes(),
        }
    }

    /// The record of `row_id` among the index's job and command records.
    pub fn find_in(index_dir: &Path, row_id: &str) -> Result<Option<Explained>> {
        match Self::jobs(index_dir).find(row_id)? {
            Some(r) => Ok(Some(r)),
            None => Self::commands(index_dir).find(row_id),
        }
    }

    /// Drop the records that name `doc_ids` from the index's job and command records.
    pub fn forget_in(index_dir: &Path, doc_ids: &HashSet<String>) -> Result<usize> {
        Ok(Self::jobs(index_dir).forget(doc_ids)? + Self::commands(index_dir).forget(doc_ids)?)
    }

    /// Keep at most `runs` runs and `bytes` bytes.
    pub fn with_limits(mut self, runs: usize, bytes: u64) -> ExplainLog {
        self.keep_runs = runs.max(1);
        self.max_bytes = bytes;
        self
    }

    fn file(&self, run_id: &str) -> PathBuf {
        self.dir.join(format!("{run_id}.jsonl"))
    }

    /// Append `records` to the file of the run `run_id`; a run's first records prune
    /// the oldest runs first.
    pub fn append(&self, run_id: &str, records: &[Explained]) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        if run_id.is_empty() || run_id.contains(['/', '\\']) || run_id.starts_with('.') {
            return Err(Error::Usage(format!("not a run id: {run_id:?}")));
        }
        let path = self.file(run_id);
        if !path.exists() {
            std::fs::create_dir_all(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
            self.prune(self.keep_runs.saturating_sub(1))?;
        }
        let mut lines = Vec::new();
        for r in records {
            serde_json::to_writer(&mut lines, r).map_err(|e| Error::output("explain", e))?;
            lines.push(b'\n');
        }
        // One write of whole lines: a crash leaves at most a torn last line, which
        // readers skip.
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        file.write_all(&lines).map_err(|e| Error::io(&path, e))
    }

    /// The record of `row_id`, if its run's file holds one (the last, if several).
    pub fn find(&self, row_id: &str) -> Result<Option<Explained>> {
        let run = run_of(row_id);
        if run.is_empty() || run.contains('\\') || run.starts_with('.') {
            return Ok(None);
        }
        let path = self.file(run);
        let mut found = None;
        for_each_record(&path, |r| {
            if r.row_id == row_id {
                found = Some(r);
            }
        })?;
        Ok(found)
    }

    /// The run files, oldest first (run ids start with their UTC time).
    fn runs(&self) -> Result<Vec<(PathBuf, u64)>> {
        let listing = match std::fs::read_dir(&self.dir) {
            Ok(l) => l,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(&self.dir, e)),
        };
        let mut out = Vec::new();
        for entry in listing {
            let entry = entry.map_err(|e| Error::io(&self.dir, e))?;
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "jsonl") {
                let len = entry.metadata().map_or(0, |m| m.len());
                out.push((path, len));
            }
        }
        out.sort();
        Ok(out)
    }

    /// Delete the oldest runs' files until at most `keep` runs remain and, but for the
    /// newest, they fit in the byte budget. Returns how many went.
    pub fn prune(&self, keep: usize) -> Result<usize> {
        let mut runs = self.runs()?;
        let mut total: u64 = runs.iter().map(|(_, n)| n).sum();
        let mut removed = 0;
        while !runs.is_empty() && (runs.len() > keep || (total > self.max_bytes && runs.len() > 1))
        {
            let (path, len) = runs.remove(0);
            std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
            total -= len;
            removed += 1;
        }
        Ok(removed)
    }

    /// Drop every record that names one of `doc_ids` (their sentences are quotes of
    /// the documents), rewriting the files that held one. Returns how many went.
    pub fn forget(&self, doc_ids: &HashSet<String>) -> Result<usize> {
        let mut removed = 0;
        for (path, _) in self.runs()? {
            let mut kept = Vec::new();
            let mut dropped = 0;
            for_each_record(&path, |r| {
                if r.doc_ids.iter().any(|d| doc_ids.contains(d))
                    || r.chunks.iter().any(|c| doc_ids.contains(&c.doc_id))
                {
                    dropped += 1;
                } else {
                    kept.push(r);
                }
            })?;
            if dropped == 0 {
                continue;
            }
            removed += dropped;
            if kept.is_empty() {
                std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
                continue;
            }
            crate::output::write_atomic(&path, |w| {
                for r in &kept {
                    serde_json::to_writer(&mut *w, r).map_err(|e| Error::output("explain", e))?;
                    w.write_all(b"\n").map_err(|e| Error::io(&path, e))?;
                }
                Ok(())
            })?;
        }
        Ok(removed)
    }
}

/// Every readable record of the file at `path` (none if it does not exist); a torn or
/// foreign line is skipped.
fn for_each_record(path: &Path, mut each: impl FnMut(Explained)) -> Result<()> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(path, e)),
    };
    for line in std::io::BufReader::new(file).lines() {
        let line = line.map_err(|e| Error::io(path, e))?;
        if let Ok(r) = serde_json::from_str::<Explained>(&line) {
            each(r);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(row: &str, doc: &str) -> Explained {
        Explained::chunks(
            row,
            "search",
            vec![ChunkScore::whole(format!("{doc}-0"), doc, "a.md")],
            Vec::new(),
        )
    }

    #[test]
    fn records_are_found_by_row_id_pruned_by_run_and_forgotten_by_document() {
        let dir = tempfile::tempdir().unwrap();
        let log = ExplainLog::commands(dir.path()).with_limits(2, u64::MAX);
        log.append(
            "20260101T000000Z-aaaaaaaa",
            &[record("20260101T000000Z-aaaaaaaa/search/1", "d1")],
        )
        .unwrap();
        let run2 = "20260102T000000Z-bbbbbbbb";
        log.append(
            run2,
            &[
                record(&format!("{run2}/search/1"), "d1"),
                record(&format!("{run2}/search/2"), "d2"),
            ],
        )
        .unwrap();
        let found = ExplainLog::find_in(dir.path(), &format!("{run2}/search/2"))
            .unwrap()
            .unwrap();
        assert_eq!(found.doc_ids, ["d2"]);
        assert!(log.find(&format!("{run2}/search/3")).unwrap().is_none());
        assert!(log.find("../../etc/passwd").unwrap().is_none());
        // A third run prunes the first.
        log.append(
            "20260103T000000Z-cccccccc",
            &[record("20260103T000000Z-cccccccc/ask/1", "d3")],
        )
        .unwrap();
        assert!(
            log.find("20260101T000000Z-aaaaaaaa/search/1")
                .unwrap()
                .is_none()
        );
        assert!(log.find(&format!("{run2}/search/1")).unwrap().is_some());
        // Forgetting d1 drops its record and keeps d2's.
        let gone = ExplainLog::forget_in(dir.path(), &HashSet::from(["d1".to_owned()])).unwrap();
        assert_eq!(gone, 1);
        assert!(log.find(&format!("{run2}/search/1")).unwrap().is_none());
        assert!(log.find(&format!("{run2}/search/2")).unwrap().is_some());
        let text = std::fs::read_to_string(log.file(run2)).unwrap();
        assert!(!text.contains("d1-0"), "{text}");
    }
}
