//! Bringing an index up to date with its sources, as `docket index` and the first stage
//! of every job run do: the settings of [`crate::settings`] become the index crate's
//! [`SyncConfig`], the models are loaded only when the run needs them, and the sync's
//! events become log lines, progress and plan lines for the caller's [`Reporter`].

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use docket_index::embed::Embedder;
use docket_index::shard::Shard;
use docket_index::sync::{Marks, SyncConfig, SyncEvent, SyncHooks, SyncReport};
use docket_ingest::{PiiKind, SourceFile};

use crate::error::{Context, Result};
use crate::models;
use crate::report::{Level, Reporter};
use crate::settings::{IndexSpec, Sources};

/// One sync: what to read, where to write, and what the caller adds.
#[derive(Default)]
pub struct SyncRequest<'a> {
    /// Print the plan, change nothing.
    pub dry_run: bool,
    /// Only documents of this shard are read, written and pruned.
    pub shard: Option<Shard>,
    /// The embedder, when the caller has loaded it already (else loaded if needed).
    pub embedder: Option<Arc<dyn Embedder>>,
    /// Files not to read this run (quarantined).
    pub skip: Option<&'a dyn Fn(&SourceFile) -> bool>,
    /// Set to stop between files; what was staged is committed, nothing is pruned.
    pub stop: Option<&'a AtomicBool>,
    /// Where the files being worked on are noted (a job's state).
    pub marks: Option<Marks<'a>>,
    /// The job running this sync, whose state it holds open: the traces of pruned
    /// documents in that state are the job's to drop ([`crate::forget::forget_in_state`]);
    /// those in other jobs' states and the summary cache are dropped here.
    pub open_job: Option<&'a str>,
}

impl std::fmt::Debug for SyncRequest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncRequest")
            .field("dry_run", &self.dry_run)
            .field("shard", &self.shard)
            .finish_non_exhaustive()
    }
}

/// The index crate's sync settings for these sources and index settings.
pub fn sync_config(
    sources: &Sources,
    index: &IndexSpec,
    dry_run: bool,
    shard: Option<Shard>,
) -> SyncConfig {
    SyncConfig {
        paths: sources.paths.clone(),
        walk: sources.walk.clone(),
        ingest: sources.parse.ingest_options(),
        prune: sources.prune,
        dry_run,
        shard,
        embed: index.embed,
        write: index.write_config(),
        vectors: index.store.config(),
        bm25_per_language: index.bm25_per_language,
    }
}

/// Bring the index `index.dir` up to date with `sources`.
pub fn sync_index(
    sources: &Sources,
    index: &IndexSpec,
    request: SyncRequest<'_>,
    reporter: &dyn Reporter,
) -> Result<SyncReport> {
    let config = sync_config(sources, index, request.dry_run, request.shard);
    let chunker = models::chunker(&index.chunking, reporter)?;
    let embedder = match request.embedder {
        Some(e) => Some(e),
        None if docket_index::sync::needs_embedder(&index.dir, &config)? => Some(
            models::load_embedder(index.chunking.embed_model.as_deref(), reporter)?,
        ),
        None => None,
    };
    let started = Instant::now();
    let mut progress = None;
    let mut on_event = |event: SyncEvent<'_>| match event {
        SyncEvent::Started { files } => {
            progress = Some(reporter.progress("index", files, "files"));
        }
        SyncEvent::Planned {
            action,
            doc_id,
            source,
        } => reporter.planned(action.name(), doc_id, source),
        SyncEvent::Warning { path, message } => log(
            &progress,
            reporter,
            Level::Warning,
            &format!("{}: {message}", path.display()),
        ),
        SyncEvent::Failed(f) => log(&progress, reporter, Level::Error, &f.reason),
        SyncEvent::NotPruning { reason } => log(
            &progress,
            reporter,
            Level::Warning,
            &format!("not pruning: {reason}"),
        ),
        SyncEvent::FileDone { chunks_embedded } => {
            if let Some(p) = &progress {
                let rate = chunks_embedded as f64 / started.elapsed().as_secs_f64().max(1e-3);
                p.set_message(format!("{chunks_embedded} chunks embedded ({rate:.1}/s)"));
                p.advance(1);
            }
        }
    };
    let hooks = SyncHooks {
        stop: request.stop,
        skip: request.skip,
        events: Some(&mut on_event),
        marks: request.marks,
    };
    let report = docket_index::sync::sync(&index.dir, &config, &chunker, embedder, hooks)
        .context(|| format!("cannot sync the index {}", index.dir.display()))?;
    if let Some(p) = progress {
        p.finish();
    }
    // A pruned document leaves no more behind than a forgotten one.
    crate::forget::drop_traces(&index.dir, &report.deleted, request.open_job)?;
    Ok(report)
}

fn log(
    progress: &Option<Box<dyn crate::report::Progress + '_>>,
    reporter: &dyn Reporter,
    level: Level,
    line: &str,
) {
    match progress {
        Some(p) => p.log(level, line),
        None => reporter.log(level, line),
    }
}

/// What a sync did, as one record (`docket index --json` prints it).
#[derive(Debug, Clone, serde::Serialize)]
pub struct SyncSummary<'a> {
    pub index: &'a Path,
    #[serde(flatten)]
    pub counts: &'a docket_index::sync::Counts,
    pub chunks_embedded: usize,
    pub chunks_written: usize,
    /// Wall time, to the millisecond.
    pub seconds: f64,
    /// Values of personal data redacted in the documents written, by kind (only with
    /// redaction on; counts, never values).
    #[serde(skip_serializing_if = "none_redacted")]
    pub redacted: &'a BTreeMap<PiiKind, usize>,
}

impl<'a> SyncSummary<'a> {
    pub fn new(dir: &'a Path, report: &'a SyncReport) -> Self {
        SyncSummary {
            index: dir,
            counts: &report.counts,
            chunks_embedded: report.stats.chunks_embedded,
            chunks_written: report.stats.chunks_written,
            seconds: (report.seconds * 1000.0).round() / 1000.0,
            redacted: &report.redacted,
        }
    }
}

/// The one-line human summary of a sync.
pub fn summary_line(dir: &Path, dry_run: bool, report: &SyncReport) -> String {
    let counts = &report.counts;
    let stats = &report.stats;
    let seconds = report.seconds;
    let verb = if dry_run { "would be" } else { "were" };
    let mut summary = format!(
        "{}: {} documents {verb} added, {} updated, {} deleted, {} unchanged",
        dir.display(),
        counts.added,
        counts.updated,
        counts.deleted,
        counts.kept
    );
    if !dry_run && stats.chunks_written > 0 {
        let rate = stats.chunks_embedded as f64 / seconds.max(1e-9);
        summary.push_str(&format!(
            "; {} chunks written, {} embedded in {seconds:.1}s ({rate:.1} chunks/s)",
            stats.chunks_written, stats.chunks_embedded
        ));
    }
    if !dry_run && !report.embed {
        summary.push_str("; BM25 only (no embeddings)");
    }
    if !report.redacted.is_empty() {
        summary.push_str(&format!(
            "; redacted {}",
            redaction_counts(&report.redacted)
        ));
    }
    let notes = [
        (counts.failed, "failed (see the errors above)"),
        (report.unsupported, "files skipped (unsupported format)"),
        (report.skipped, "quarantined files not read"),
    ];
    for (n, what) in notes {
        if n > 0 {
            summary.push_str(&format!("; {n} {what}"));
        }
    }
    if !report.links.is_empty() {
        summary.push_str(&format!(
            "; {} symbolic links not followed ({})",
            report.links.len(),
            some_names(&report.links)
        ));
    }
    if !report.special.is_empty() {
        summary.push_str(&format!(
            "; {} entries that are not regular files skipped ({})",
            report.special.len(),
            some_names(&report.special)
        ));
    }
    if report.interrupted {
        summary.push_str("; interrupted (nothing pruned)");
    }
    summary
}

fn none_redacted(counts: &&BTreeMap<PiiKind, usize>) -> bool {
    counts.is_empty()
}

/// Redaction counts by kind for a summary line: `3 email, 1 phone`.
pub fn redaction_counts(counts: &BTreeMap<PiiKind, usize>) -> String {
    counts
        .iter()
        .map(|(kind, n)| format!("{n} {kind}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The first few of `paths`, for a summary line.
pub fn some_names(paths: &[std::path::PathBuf]) -> String {
    let mut names: Vec<String> = paths
        .iter()
        .take(3)
        .map(|p| p.display().to_string())
        .collect();
    if paths.len() > 3 {
        names.push(format!("and {} more", paths.len() - 3));
    }
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_settings_become_the_index_crates_sync_config() {
        let sources: Sources = toml::from_str(
            "paths = [\"a\"]\nexclude = [\"*.tmp\"]\nprune = false\nmax_file_mib = 1\n",
        )
        .unwrap();
        let index: IndexSpec = toml::from_str("embed = false\ncommit_every = 4\n").unwrap();
        let shard: Shard = "1/3".parse().unwrap();
        let c = sync_config(&sources, &index, true, Some(shard));
        assert_eq!(c.walk.exclude, ["*.tmp"]);
        assert!(!c.prune && c.dry_run && !c.embed);
        assert_eq!(c.ingest.limits.max_file_bytes, 1024 * 1024);
        assert_eq!(c.write.commit_chunks, 4);
        assert_eq!(c.shard, Some(shard));
        assert!(c.vectors.is_none());
    }

    #[test]
    fn the_summary_says_what_happened_and_what_was_left_out() {
        let report = SyncReport {
            index: None,
            counts: docket_index::sync::Counts {
                added: 2,
                updated: 1,
                deleted: 0,
                kept: 5,
                failed: 1,
            },
            failures: Vec::new(),
            stats: Default::default(),
            unsupported: 3,
            links: vec!["a".into(), "b".into(), "c".into(), "d".into()],
            special: Vec::new(),
            skipped: 0,
            planned: Vec::new(),
            embed: false,
            seconds: 1.0,
            interrupted: true,
            deleted: Vec::new(),
            redacted: BTreeMap::new(),
        };
        let json = serde_json::to_value(SyncSummary::new(Path::new("ix"), &report)).unwrap();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "index",
                "added",
                "updated",
                "deleted",
                "kept",
                "failed",
                "chunks_embedded",
                "chunks_written",
                "seconds"
            ]
        );
        let line = summary_line(Path::new("ix"), true, &report);
        assert!(
            line.starts_with("ix: 2 documents would be added, 1 updated, 0 deleted, 5 unchanged"),
            "{line}"
        );
        assert!(
            line.contains("1 failed") && line.contains("3 files skipped"),
            "{line}"
        );
        assert!(line.ends_with("interrupted (nothing pruned)"), "{line}");
        assert!(
            line.contains("4 symbolic links not followed (a, b, c, and 1 more)"),
            "{line}"
        );
        assert!(
            !line.contains("BM25 only"),
            "a dry run says nothing of what it would write: {line}"
        );
    }
}
