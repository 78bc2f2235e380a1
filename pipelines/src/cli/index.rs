//! `docket index`: ingest documents and bring an index up to date with them.
//!
//! Incremental by content hash: a file is read and hashed, and parsed and embedded only
//! if the catalog does not hold it with that hash (records files are read row by row,
//! each row with its own hash). Crash safety is the index's (see `docket_index::index`):
//! this command only decides what to stage and commits at the end.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{Context, Result};
use docket_index::embed::Embedder;
use docket_index::{
    Action, DocEntry, Index, IndexSettings, Manifest, VectorStoreConfig, WriteStats,
    catalog::Catalog, index::CATALOG_FILE,
};
use docket_ingest::document::{content_hash, document_id};
use docket_ingest::{Chunk, Document, Error, Format, Ingestor, SourceFile};
use serde_json::json;

use crate::cli::{IndexArgs, StoreArgs};
use crate::job::shard::Shard;
use crate::progress::Progress;
use crate::{Outcome, UsageError, log, models};

impl StoreArgs {
    /// The vector store asked for on the command line, if any.
    pub fn config(&self) -> Option<VectorStoreConfig> {
        let url = self.qdrant_url.as_ref()?;
        Some(VectorStoreConfig {
            qdrant_url: Some(url.clone()),
            collection: self.qdrant_collection.clone(),
            api_key_env: self.qdrant_api_key_env.clone(),
            shard_number: self.qdrant_shards,
            replication_factor: self.qdrant_replicas,
            ..VectorStoreConfig::default()
        })
    }
}

/// What the workers hand on for one file.
enum FileWork {
    /// Read and hashed: kept as is (or a dry run), so not parsed.
    Known { doc_id: String, action: Action },
    /// Parsed and chunked (the file changed or is new).
    Parsed {
        action: Action,
        result: Box<Result<(Document, Vec<Chunk>), Error>>,
    },
    /// Could not be read; its document (if indexed) stays as it was.
    Failed { doc_id: String, error: Error },
    /// A records file: streamed row by row where it is emitted.
    Records,
    /// Not read: another shard's, or the run is stopping.
    Skipped,
}

/// Documents by what a run did (or, in a dry run, would do) with them.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Counts {
    pub added: usize,
    pub updated: usize,
    pub deleted: usize,
    pub kept: usize,
    pub failed: usize,
}

/// What a job adds to a plain `docket index` run.
#[derive(Default)]
pub struct SyncHooks<'a> {
    /// Only documents of this shard are read, written and pruned.
    pub shard: Option<Shard>,
    /// Set (by a signal) to stop between files; what was staged is committed.
    pub stop: Option<&'a AtomicBool>,
    /// The embedder, when the caller has loaded it already.
    pub embedder: Option<Arc<dyn Embedder>>,
    /// Files not to read this run (quarantined). Their documents stay as they are.
    pub skip: Option<&'a dyn Fn(&SourceFile) -> bool>,
}

/// A file or row that could not be ingested.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SyncFailure {
    pub source: String,
    /// The file, when the failure is one file's.
    #[serde(skip)]
    pub path: Option<std::path::PathBuf>,
    pub doc_id: String,
    pub reason: String,
}

/// The outcome of bringing an index up to date.
#[derive(Debug)]
pub struct SyncReport {
    /// The index, open (none in a dry run).
    pub index: Option<Index>,
    pub counts: Counts,
    pub failures: Vec<SyncFailure>,
    pub stats: WriteStats,
    /// Files of a format no loader knows.
    pub unsupported: usize,
    /// Files left out by `SyncHooks::skip`.
    pub skipped: usize,
    /// Documents a dry run would add or update: (source, doc id).
    pub planned: Vec<(String, String)>,
    pub embed: bool,
    pub seconds: f64,
    /// Stopped early by `SyncHooks::stop` (nothing pruned).
    pub interrupted: bool,
}

pub fn index(args: IndexArgs) -> Result<Outcome> {
    let report = sync(&args, SyncHooks::default())?;
    let dir = &args.index.dir;
    let counts = &report.counts;
    let stats = &report.stats;
    let seconds = report.seconds;
    let mut out = std::io::stdout().lock();
    if args.json && !args.dry_run {
        serde_json::to_writer(
            &mut out,
            &json!({
                "index": dir,
                "added": counts.added,
                "updated": counts.updated,
                "deleted": counts.deleted,
                "kept": counts.kept,
                "failed": counts.failed,
                "chunks_embedded": stats.chunks_embedded,
                "chunks_written": stats.chunks_written,
                "seconds": (seconds * 1000.0).round() / 1000.0,
            }),
        )?;
        writeln!(out)?;
    }
    out.flush()?;
    log(&summary_line(dir, &args, &report));
    Ok(if counts.failed > 0 {
        Outcome::Partial
    } else {
        Outcome::Success
    })
}

/// The one-line human summary of an index run.
pub fn summary_line(dir: &Path, args: &IndexArgs, report: &SyncReport) -> String {
    let counts = &report.counts;
    let stats = &report.stats;
    let seconds = report.seconds;
    let verb = if args.dry_run { "would be" } else { "were" };
    let mut summary = format!(
        "{}: {} documents {verb} added, {} updated, {} deleted, {} unchanged",
        dir.display(),
        counts.added,
        counts.updated,
        counts.deleted,
        counts.kept
    );
    if !args.dry_run && stats.chunks_written > 0 {
        let rate = stats.chunks_embedded as f64 / seconds.max(1e-9);
        summary.push_str(&format!(
            "; {} chunks written, {} embedded in {seconds:.1}s ({rate:.1} chunks/s)",
            stats.chunks_written, stats.chunks_embedded
        ));
    }
    if !args.dry_run && !report.embed {
        summary.push_str("; BM25 only (no embeddings)");
    }
    if counts.failed > 0 {
        summary.push_str(&format!(
            "; {} failed (see the errors above)",
            counts.failed
        ));
    }
    if report.unsupported > 0 {
        summary.push_str(&format!(
            "; {} files skipped (unsupported format)",
            report.unsupported
        ));
    }
    if report.skipped > 0 {
        summary.push_str(&format!("; {} quarantined files not read", report.skipped));
    }
    if report.interrupted {
        summary.push_str("; interrupted (nothing pruned)");
    }
    summary
}

/// Bring the index in `args` up to date with the files under `args.paths`.
pub fn sync(args: &IndexArgs, hooks: SyncHooks<'_>) -> Result<SyncReport> {
    let started = Instant::now();
    let stopping = || hooks.stop.is_some_and(|s| s.load(Ordering::SeqCst));
    let in_shard = |doc_id: &str| hooks.shard.is_none_or(|s| s.contains(doc_id));
    let dir = args.index.dir.clone();
    let mut walk = docket_ingest::walk(&args.paths, &args.walk.options())?;
    let mut skipped = 0;
    // Quarantined files are not read, but their documents are not pruned either.
    let mut kept_unread: HashSet<String> = HashSet::new();
    if let Some(skip) = hooks.skip {
        walk.files.retain(|f| {
            if skip(f) {
                skipped += 1;
                kept_unread.insert(f.source.clone());
                false
            } else {
                true
            }
        });
    }
    let chunker = args.chunking.chunker()?;
    let ingestor = Ingestor::new(args.parse.ingest_options());
    let existing = Manifest::load(&dir)?;
    if args.no_embed && existing.as_ref().is_some_and(|m| m.embedder.is_some()) {
        return Err(UsageError(format!(
            "{} holds vectors; --no-embed applies only to a new index",
            dir.display()
        ))
        .into());
    }
    let embed = existing
        .as_ref()
        .map_or(!args.no_embed, |m| m.embedder.is_some());

    // A dry run reads the catalog only: it must not create or lock anything.
    let mut index = None;
    let known: HashMap<String, DocEntry> = if args.dry_run {
        if dir.join(CATALOG_FILE).exists() {
            Catalog::open(&dir.join(CATALOG_FILE))?
                .entries()?
                .into_iter()
                .map(|e| (e.doc_id.clone(), e))
                .collect()
        } else {
            HashMap::new()
        }
    } else {
        let embedder = if embed {
            match &hooks.embedder {
                Some(e) => Some(e.clone()),
                None => Some(models::load_embedder(
                    args.chunking.embed.embed_model.as_deref(),
                )?),
            }
        } else {
            None
        };
        let settings = IndexSettings {
            tokenizer: chunker.tokenizer_name().to_owned(),
            chunking: chunker.config().clone(),
            vectors: args.store.config(),
            write: docket_index::WriteConfig {
                commit_chunks: args.commit_every.max(1),
                batch_chunks: docket_index::WriteConfig::default_batch_chunks()
                    .min(args.commit_every.max(1)),
                ..docket_index::WriteConfig::default()
            },
            ..IndexSettings::default()
        };
        let opened = Index::create_or_open(&dir, embedder, &settings)
            .with_context(|| format!("cannot open the index {}", dir.display()))?;
        let known = opened.known()?;
        index = Some(opened);
        known
    };

    let progress = Progress::new("index", walk.files.len(), "files");
    let mut counts = Counts::default();
    let mut failures: Vec<SyncFailure> = Vec::new();
    let mut planned: Vec<(String, String)> = Vec::new();
    let mut interrupted = false;
    let mut fail = |progress: &Progress,
                    source: &str,
                    path: Option<&Path>,
                    doc_id: String,
                    error: &dyn std::fmt::Display| {
        progress.log(&format!("error: {error}"));
        failures.push(SyncFailure {
            source: source.to_owned(),
            path: path.map(Path::to_path_buf),
            doc_id,
            reason: error.to_string(),
        });
    };
    for e in &walk.errors {
        counts.failed += 1;
        fail(&progress, &e.to_string(), None, String::new(), e);
    }
    let mut seen: HashSet<String> = HashSet::new();
    // Records files with a failed row or that failed whole: their rows are not pruned.
    let mut protected: Vec<String> = Vec::new();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let plan_line = |out: &mut dyn Write, action: &str, doc_id: &str, source: &str| -> Result<()> {
        if args.json {
            serde_json::to_writer(
                &mut *out,
                &json!({"action": action, "doc_id": doc_id, "source": source}),
            )?;
            writeln!(out)?;
        } else if action != "keep" {
            writeln!(out, "{action:<7} {source}")?;
        }
        Ok(())
    };

    let work = |file: &SourceFile| -> FileWork {
        if stopping() {
            return FileWork::Skipped;
        }
        if matches!(file.format, Some(Format::Csv | Format::Jsonl)) {
            return FileWork::Records;
        }
        let doc_id = document_id(&file.source);
        if !in_shard(&doc_id) {
            return FileWork::Skipped;
        }
        let bytes = match ingestor.read(file) {
            Ok(b) => b,
            Err(error) => return FileWork::Failed { doc_id, error },
        };
        let action = Index::action(known.get(&doc_id), &content_hash(&bytes));
        if action == Action::Keep || args.dry_run {
            return FileWork::Known { doc_id, action };
        }
        let result = ingestor
            .load_bytes(file, bytes)
            .and_then(|doc| chunker.chunk(&doc).map(|chunks| (doc, chunks)));
        FileWork::Parsed {
            action,
            result: Box::new(result),
        }
    };

    // Stage one parsed document (or count it kept), in walk order.
    let stage = |index: &mut Option<Index>,
                 counts: &mut Counts,
                 out: &mut dyn Write,
                 action: Action,
                 doc: &Document,
                 chunks: Vec<Chunk>|
     -> Result<()> {
        match action {
            Action::Add => counts.added += 1,
            Action::Update => counts.updated += 1,
            Action::Keep => counts.kept += 1,
        }
        match index {
            Some(index) => index
                .stage(doc, chunks, action)
                .with_context(|| format!("cannot index {}", doc.source)),
            None => plan_line(out, action_name(action), &doc.id, &doc.source),
        }
    };

    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    crate::par::for_each_ordered(&walk.files, workers, work, |file, done| -> Result<()> {
        match done {
            FileWork::Skipped => {
                // Not read: keep its documents (another shard's are not this run's to
                // prune, and a stopped run prunes nothing).
                if stopping() {
                    interrupted = true;
                }
            }
            FileWork::Known { doc_id, action } => {
                seen.insert(doc_id.clone());
                match action {
                    Action::Add => counts.added += 1,
                    Action::Update => counts.updated += 1,
                    Action::Keep => counts.kept += 1,
                }
                if args.dry_run {
                    if action != Action::Keep {
                        planned.push((file.source.clone(), doc_id.clone()));
                    }
                    plan_line(&mut out, action_name(action), &doc_id, &file.source)?;
                }
            }
            FileWork::Failed { doc_id, error } => {
                seen.insert(doc_id.clone());
                counts.failed += 1;
                fail(&progress, &file.source, Some(&file.path), doc_id, &error);
            }
            FileWork::Parsed { action, result } => match *result {
                Ok((doc, chunks)) => {
                    seen.insert(doc.id.clone());
                    warn_about(&progress, &file.path, &doc);
                    stage(&mut index, &mut counts, &mut out, action, &doc, chunks)?;
                }
                Err(error) => {
                    let doc_id = document_id(&file.source);
                    seen.insert(doc_id.clone());
                    counts.failed += 1;
                    fail(&progress, &file.source, Some(&file.path), doc_id, &error);
                }
            },
            FileWork::Records => {
                for row in ingestor.documents(file) {
                    if stopping() {
                        interrupted = true;
                        protected.push(file.source.clone());
                        break;
                    }
                    let doc = match row {
                        Ok(doc) => doc,
                        Err(error) => {
                            counts.failed += 1;
                            protected.push(file.source.clone());
                            fail(&progress, &file.source, None, String::new(), &error);
                            continue;
                        }
                    };
                    if !in_shard(&doc.id) {
                        continue;
                    }
                    seen.insert(doc.id.clone());
                    let action = Index::action(known.get(&doc.id), &doc.content_hash);
                    if args.dry_run && action != Action::Keep {
                        planned.push((doc.source.clone(), doc.id.clone()));
                    }
                    if action == Action::Keep || args.dry_run {
                        stage(&mut index, &mut counts, &mut out, action, &doc, Vec::new())?;
                        continue;
                    }
                    match chunker.chunk(&doc) {
                        Ok(chunks) => {
                            stage(&mut index, &mut counts, &mut out, action, &doc, chunks)?
                        }
                        Err(error) => {
                            counts.failed += 1;
                            fail(&progress, &doc.source, None, doc.id.clone(), &error);
                        }
                    }
                }
            }
        }
        if let Some(index) = &index {
            let embedded = index.stats().chunks_embedded;
            let rate = embedded as f64 / started.elapsed().as_secs_f64().max(1e-3);
            progress.set_message(format!("{embedded} chunks embedded ({rate:.1}/s)"));
        }
        progress.advance(1);
        Ok(())
    })?;
    if let Some(index) = index.as_mut() {
        index.commit().context("cannot commit the index")?;
    }

    // Prune: what the catalog holds and this run did not find.
    if args.prune && interrupted {
        progress.log("warning: not pruning: the run was interrupted");
    } else if args.prune {
        if walk.errors.is_empty() {
            let gone: Vec<&DocEntry> = known
                .values()
                .filter(|e| !seen.contains(&e.doc_id))
                .filter(|e| in_shard(&e.doc_id))
                .filter(|e| {
                    !kept_unread.contains(&e.source)
                        && !kept_unread.iter().any(|p| {
                            e.source
                                .strip_prefix(p.as_str())
                                .is_some_and(|r| r.starts_with('#'))
                        })
                })
                .filter(|e| {
                    !protected.iter().any(|p| {
                        e.source
                            .strip_prefix(p.as_str())
                            .is_some_and(|r| r.starts_with('#'))
                    })
                })
                .collect();
            counts.deleted = gone.len();
            let mut ids: Vec<String> = gone.iter().map(|e| e.doc_id.clone()).collect();
            ids.sort();
            match index.as_mut() {
                Some(index) => index.delete(&ids).context("cannot delete from the index")?,
                None => {
                    let mut gone = gone;
                    gone.sort_by(|a, b| a.source.cmp(&b.source));
                    for e in gone {
                        plan_line(&mut out, "delete", &e.doc_id, &e.source)?;
                    }
                }
            }
        } else {
            progress
                .log("warning: not pruning: some paths could not be read (see the errors above)");
        }
    }
    progress.finish();
    out.flush()?;
    drop(out);
    let stats = index.as_ref().map(Index::stats).unwrap_or_default();
    Ok(SyncReport {
        index,
        counts,
        failures,
        stats,
        unsupported: walk.skipped.len(),
        skipped,
        planned,
        embed,
        seconds: started.elapsed().as_secs_f64(),
        interrupted,
    })
}

fn action_name(action: Action) -> &'static str {
    match action {
        Action::Add => "add",
        Action::Update => "update",
        Action::Keep => "keep",
    }
}

fn warn_about(progress: &Progress, path: &Path, doc: &Document) {
    for w in &doc.warnings {
        progress.log(&format!("warning: {}: {w}", path.display()));
    }
}
