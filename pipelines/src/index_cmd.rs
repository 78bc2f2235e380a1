//! `docket index`: ingest documents and bring an index up to date with them.
//!
//! Incremental by content hash: a file is read and hashed, and parsed and embedded only
//! if the catalog does not hold it with that hash (records files are read row by row,
//! each row with its own hash). Crash safety is the index's (see `docket_index::index`):
//! this command only decides what to stage and commits at the end.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use docket_index::{
    Action, DocEntry, Index, IndexSettings, Manifest, VectorStoreConfig, catalog::Catalog,
    index::CATALOG_FILE,
};
use docket_ingest::document::{content_hash, document_id};
use docket_ingest::{Chunk, Document, Error, Format, Ingestor, SourceFile};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::cli::{IndexArgs, StoreArgs};
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
}

#[derive(Debug, Default)]
struct Counts {
    add: usize,
    update: usize,
    keep: usize,
    delete: usize,
    failed: usize,
}

/// Progress on stderr: a bar over files when stderr is a terminal, nothing otherwise
/// (indicatif hides it); log lines go above the bar.
struct Progress {
    bar: ProgressBar,
}

impl Progress {
    fn new(files: usize) -> Progress {
        let bar = ProgressBar::new(files as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} {elapsed_precise} [{bar:30}] {pos}/{len} files {msg} (ETA {eta})",
            )
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(Duration::from_millis(250));
        Progress { bar }
    }

    fn log(&self, line: &str) {
        self.bar.suspend(|| log(line));
    }
}

pub fn index(args: IndexArgs) -> Result<Outcome> {
    let started = Instant::now();
    let dir = args.index.dir.clone();
    let walk = docket_ingest::walk(&args.paths, &args.walk.options())?;
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
            Some(models::load_embedder(
                args.chunking.embed.embed_model.as_deref(),
            )?)
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

    let progress = Progress::new(walk.files.len());
    let mut counts = Counts::default();
    for e in &walk.errors {
        progress.log(&format!("error: {e}"));
        counts.failed += 1;
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
        if matches!(file.format, Some(Format::Csv | Format::Jsonl)) {
            return FileWork::Records;
        }
        let doc_id = document_id(&file.source);
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
            Action::Add => counts.add += 1,
            Action::Update => counts.update += 1,
            Action::Keep => counts.keep += 1,
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
            FileWork::Known { doc_id, action } => {
                seen.insert(doc_id.clone());
                match action {
                    Action::Add => counts.add += 1,
                    Action::Update => counts.update += 1,
                    Action::Keep => counts.keep += 1,
                }
                if args.dry_run {
                    plan_line(&mut out, action_name(action), &doc_id, &file.source)?;
                }
            }
            FileWork::Failed { doc_id, error } => {
                seen.insert(doc_id);
                counts.failed += 1;
                progress.log(&format!("error: {error}"));
            }
            FileWork::Parsed { action, result } => match *result {
                Ok((doc, chunks)) => {
                    seen.insert(doc.id.clone());
                    warn_about(&progress, &file.path, &doc);
                    stage(&mut index, &mut counts, &mut out, action, &doc, chunks)?;
                }
                Err(error) => {
                    seen.insert(document_id(&file.source));
                    counts.failed += 1;
                    progress.log(&format!("error: {error}"));
                }
            },
            FileWork::Records => {
                for row in ingestor.documents(file) {
                    let doc = match row {
                        Ok(doc) => doc,
                        Err(error) => {
                            counts.failed += 1;
                            protected.push(file.source.clone());
                            progress.log(&format!("error: {error}"));
                            continue;
                        }
                    };
                    seen.insert(doc.id.clone());
                    let action = Index::action(known.get(&doc.id), &doc.content_hash);
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
                            progress.log(&format!("error: {error}"));
                        }
                    }
                }
            }
        }
        progress.bar.inc(1);
        if let Some(index) = &index {
            let embedded = index.stats().chunks_embedded;
            let rate = embedded as f64 / started.elapsed().as_secs_f64().max(1e-3);
            progress
                .bar
                .set_message(format!("{embedded} chunks embedded ({rate:.1}/s)"));
        }
        Ok(())
    })?;
    if let Some(index) = index.as_mut() {
        index.commit().context("cannot commit the index")?;
    }

    // Prune: what the catalog holds and this run did not find.
    if args.prune {
        if walk.errors.is_empty() {
            let gone: Vec<&DocEntry> = known
                .values()
                .filter(|e| !seen.contains(&e.doc_id))
                .filter(|e| {
                    !protected.iter().any(|p| {
                        e.source
                            .strip_prefix(p.as_str())
                            .is_some_and(|r| r.starts_with('#'))
                    })
                })
                .collect();
            counts.delete = gone.len();
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
    progress.bar.finish_and_clear();

    let seconds = started.elapsed().as_secs_f64();
    let stats = index.as_ref().map(Index::stats).unwrap_or_default();
    if args.json && !args.dry_run {
        serde_json::to_writer(
            &mut out,
            &json!({
                "index": dir,
                "added": counts.add,
                "updated": counts.update,
                "deleted": counts.delete,
                "kept": counts.keep,
                "failed": counts.failed,
                "chunks_embedded": stats.chunks_embedded,
                "chunks_written": stats.chunks_written,
                "seconds": (seconds * 1000.0).round() / 1000.0,
            }),
        )?;
        writeln!(out)?;
    }
    out.flush()?;
    let verb = if args.dry_run { "would be" } else { "were" };
    let mut summary = format!(
        "{}: {} documents {verb} added, {} updated, {} deleted, {} unchanged",
        dir.display(),
        counts.add,
        counts.update,
        counts.delete,
        counts.keep
    );
    if !args.dry_run && stats.chunks_written > 0 {
        let rate = stats.chunks_embedded as f64 / seconds.max(1e-9);
        summary.push_str(&format!(
            "; {} chunks written, {} embedded in {seconds:.1}s ({rate:.1} chunks/s)",
            stats.chunks_written, stats.chunks_embedded
        ));
    }
    if !args.dry_run && !embed {
        summary.push_str("; BM25 only (no embeddings)");
    }
    if counts.failed > 0 {
        summary.push_str(&format!(
            "; {} failed (see the errors above)",
            counts.failed
        ));
    }
    if !walk.skipped.is_empty() {
        summary.push_str(&format!(
            "; {} files skipped (unsupported format)",
            walk.skipped.len()
        ));
    }
    log(&summary);
    Ok(if counts.failed > 0 {
        Outcome::Partial
    } else {
        Outcome::Success
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
