//! Forgetting documents: `docket forget` and what pruning leaves behind.
//!
//! An index holds a document in more places than its two stores: the catalog, every
//! job's state (results, failures, answers that cite it), the abstractive summary
//! cache and the explain records under the index. [`forget`] removes the document from all of them and makes
//! sure the bytes leave the files (see [`docket_index::Index::forget`] for the stores);
//! outputs are rewritten without its rows by the next run of each job. A forgotten
//! document is not indexed again while its file is there, until [`unforget`].
//! [`drop_traces`] is the part outside the index proper, which a prune needs too.

use std::collections::HashSet;
use std::path::Path;

use docket_generate::summarize::abstractive::DirCache;
use docket_index::Index;
use serde::Serialize;

use crate::documents::summary_cache_dir;
use crate::error::{Error, Result};
use crate::explain::ExplainLog;
use crate::job::lock::RunLock;
use crate::job::state::State;

/// One document forgotten.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ForgottenDoc {
    pub doc_id: String,
    pub source: String,
}

/// What [`forget`] or [`drop_traces`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Forgotten {
    pub documents: Vec<ForgottenDoc>,
    /// Task results dropped from job states (rows of the documents, answers citing them).
    pub job_results: usize,
    /// Abstractive summary cache entries deleted.
    pub cache_entries: usize,
    /// Explain records dropped (every record that names the documents).
    pub explain_records: usize,
}

/// Forget the documents `which` names (a document id, a source as the catalog holds it,
/// or a records file's source for all its rows) in the index `dir`. Takes the run lock,
/// so no job runs meanwhile. A name that matches nothing is a usage error, and nothing
/// is forgotten then.
pub fn forget(dir: &Path, which: &[String]) -> Result<Forgotten> {
    let _lock = RunLock::acquire(&dir.join("run.lock"), "forget")?;
    let mut index = Index::open_for_delete(dir)?;
    let entries = index.catalog().entries()?;
    let mut documents = Vec::new();
    let mut seen = HashSet::new();
    for name in which {
        let rows = format!("{name}#");
        let matched: Vec<_> = entries
            .iter()
            .filter(|e| e.doc_id == *name || e.source == *name || e.source.starts_with(&rows))
            .collect();
        if matched.is_empty() {
            return Err(Error::Usage(format!(
                "{}: no document with id or source {name:?}",
                dir.display()
            )));
        }
        for e in matched {
            if seen.insert(e.doc_id.clone()) {
                documents.push(ForgottenDoc {
                    doc_id: e.doc_id.clone(),
                    source: e.source.clone(),
                });
            }
        }
    }
    let ids: Vec<String> = documents.iter().map(|d| d.doc_id.clone()).collect();
    index.forget(&ids)?;
    drop(index);
    let mut out = drop_traces(dir, &ids, None)?;
    out.documents = documents;
    Ok(out)
}

/// Let forgotten documents (by id) be indexed again by the next sync. Returns how many
/// were forgotten.
pub fn unforget(dir: &Path, doc_ids: &[String]) -> Result<usize> {
    let _lock = RunLock::acquire(&dir.join("run.lock"), "forget")?;
    let index = Index::open_for_delete(dir)?;
    let ids: Vec<&str> = doc_ids.iter().map(String::as_str).collect();
    Ok(index.catalog().unforget(&ids)?)
}

/// Remove what deleted documents left outside the index's stores: their rows in every
/// job state under `<dir>/jobs/` (compacted after, so the bytes go) but the one named
/// `open_job`, which its running caller holds open and cleans itself
/// ([`forget_in_state`]), their abstractive summary cache entries, and the explain
/// records that name them ([`ExplainLog::forget`]).
pub fn drop_traces(dir: &Path, doc_ids: &[String], open_job: Option<&str>) -> Result<Forgotten> {
    let mut out = Forgotten::default();
    if doc_ids.is_empty() {
        return Ok(out);
    }
    let ids: HashSet<String> = doc_ids.iter().cloned().collect();
    let jobs = dir.join("jobs");
    if jobs.is_dir() {
        let listing = std::fs::read_dir(&jobs).map_err(|e| Error::io(&jobs, e))?;
        for entry in listing {
            let entry = entry.map_err(|e| Error::io(&jobs, e))?;
            let path = entry.path();
            let name = entry.file_name();
            if !path.join("state.redb").is_file() || open_job.is_some_and(|j| name == j) {
                continue;
            }
            let mut state = State::open(&path)?;
            out.job_results += forget_in_state(&mut state, &ids)?;
        }
    }
    let cache = DirCache::new(summary_cache_dir(Some(dir)));
    for id in doc_ids {
        out.cache_entries += cache.forget_document(id)?;
    }
    out.explain_records = ExplainLog::forget_in(dir, &ids)?;
    Ok(out)
}

/// Drop the documents' rows from one job state and compact it.
pub fn forget_in_state(state: &mut State, doc_ids: &HashSet<String>) -> Result<usize> {
    let removed = state.forget_documents(doc_ids)?;
    state.compact()?;
    Ok(removed)
}
