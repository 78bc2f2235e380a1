//! The report of one run, written as JSON beside the outputs (and wherever `--report`
//! says), and the one-line summary logged at the end of a run.

use std::collections::BTreeMap;
use std::path::PathBuf;

use docket_index::FlaggedChunk;
use docket_index::sync::{Counts, SyncFailure};
use docket_ingest::PiiKind;
use serde::Serialize;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Success,
    /// Some documents failed; the rest were processed.
    Partial,
    /// Stopped by a signal; what was done is saved.
    Interrupted,
    /// A fatal error ended the run.
    Failed,
}

impl Status {
    /// The exit code of a `docket run` that ended so (recorded in the report, so a
    /// scheduler reading it needs no other table).
    pub fn exit_code(self) -> u8 {
        match self {
            Status::Success => 0,
            Status::Partial => 2,
            Status::Interrupted => 130,
            Status::Failed => 1,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Success => "success",
            Status::Partial => "partial",
            Status::Interrupted => "interrupted",
            Status::Failed => "failed",
        }
    }
}

/// The report of one run.
#[derive(Debug, Serialize)]
pub struct RunReport {
    pub job: String,
    /// This run's id, as every output row's provenance gives it.
    pub run_id: String,
    pub job_file: PathBuf,
    pub started: String,
    pub finished: String,
    pub seconds: f64,
    pub status: Status,
    pub exit_code: u8,
    pub dry_run: bool,
    pub force: bool,
    pub shard: Option<String>,
    pub index: IndexReport,
    pub tasks: Vec<TaskReport>,
    pub models: Models,
    /// A fatal error, if the run ended on one.
    pub error: Option<String>,
}

/// What the index stage of a run did.
#[derive(Debug, Default, Serialize)]
pub struct IndexReport {
    pub dir: PathBuf,
    #[serde(flatten)]
    pub counts: Counts,
    pub chunks_embedded: usize,
    pub chunks_written: usize,
    /// Files not read because their failures reached the limit.
    pub quarantined: usize,
    pub failures: Vec<SyncFailure>,
    pub seconds: f64,
    /// Values of personal data redacted in the documents written this run, by kind
    /// (`[sources] redact`; counts, never values). Empty without redaction.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub redacted: BTreeMap<PiiKind, usize>,
    /// Chunks ingest flagged as instructions to an assistant (the first
    /// `Index::STATUS_FLAGGED`), which answers and summaries leave out by default.
    pub flagged: Vec<FlaggedChunk>,
}

/// The models a run used.
#[derive(Debug, Default, Serialize)]
pub struct Models {
    pub embedder: Option<String>,
    pub llm: Option<String>,
}

/// What one task did.
#[derive(Debug, Default, Serialize)]
pub struct TaskReport {
    pub name: String,
    pub kind: &'static str,
    pub output: PathBuf,
    /// Documents (or questions) in the task's scope.
    pub total: usize,
    /// Done by this run (in a dry run: would be done).
    pub done: usize,
    /// Skipped: already done on the same content with the same settings.
    pub unchanged: usize,
    pub failed: usize,
    /// Not tried: failed too often on this content (see `docket report`).
    pub quarantined: usize,
    /// Results dropped because their document left the index or the task's filter.
    pub removed: usize,
    pub failures: Vec<TaskFailure>,
    pub seconds: f64,
    pub interrupted: bool,
}

/// One document (or question) a task failed on in this run.
#[derive(Debug, Clone, Serialize)]
pub struct TaskFailure {
    pub key: String,
    pub doc_id: String,
    pub attempts: u32,
    pub quarantined: bool,
    pub reason: String,
}

impl RunReport {
    /// The one-line summary logged at the end of a run.
    pub fn summary_line(&self) -> String {
        let ix = &self.index;
        let mut line = format!(
            "{} {}{}: index +{} ~{} -{} ={} ({} failed, {} chunks embedded)",
            if self.dry_run { "dry run" } else { "run" },
            self.job,
            self.shard
                .as_ref()
                .map_or(String::new(), |s| format!(" [shard {s}]")),
            ix.counts.added,
            ix.counts.updated,
            ix.counts.deleted,
            ix.counts.kept,
            ix.counts.failed,
            ix.chunks_embedded
        );
        if !ix.redacted.is_empty() {
            line.push_str(&format!(
                "; redacted {}",
                crate::sync::redaction_counts(&ix.redacted)
            ));
        }
        for t in &self.tasks {
            line.push_str(&format!(
                "; {} {}: {} done, {} unchanged, {} failed, {} quarantined",
                t.kind, t.name, t.done, t.unchanged, t.failed, t.quarantined
            ));
        }
        let nothing = !self.dry_run
            && ix.counts.added + ix.counts.updated + ix.counts.deleted == 0
            && ix.chunks_embedded == 0
            && self.tasks.iter().all(|t| t.done == 0 && t.removed == 0);
        if nothing && self.error.is_none() {
            line.push_str("; nothing changed: no embedding, no generation");
        }
        line.push_str(&format!(
            "; {} in {:.1}s",
            self.status.as_str(),
            self.seconds
        ));
        line
    }

    /// Documents that failed in the index stage or in any task.
    pub fn failed(&self) -> usize {
        self.index.counts.failed + self.tasks.iter().map(|t| t.failed).sum::<usize>()
    }
}
