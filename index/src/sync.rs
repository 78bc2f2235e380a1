//! Bringing an index up to date with a set of files: the engine of `docket index` and
//! of a job's index step.
//!
//! Incremental by content hash: a file is read and hashed, and parsed, chunked and
//! embedded only if the catalog does not hold it with that hash (records files are read
//! row by row, each row with its own hash). Crash safety is the index's (see
//! [`crate::index`]): a sync only decides what to stage and commits at the end.
//!
//! Pruning (deleting what the catalog holds and the files no longer have) is careful,
//! because a wrong delete loses work: nothing is pruned when a path could not be walked
//! or the run was stopped, nor rows of a records file that had a bad row, nor documents
//! of files the caller chose not to read ([`SyncHooks::skip`]).
//!
//! The library prints nothing: what a caller shows (progress, dry-run lines, warnings,
//! errors) comes as [`SyncEvent`]s, in walk order.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use docket_ingest::stream::{Decision, Ended, Item, StreamOptions, stream};
use docket_ingest::{Chunk, Chunker, Document, Format, IngestOptions, Ingestor, SourceFile};
use docket_ingest::{PiiKind, WalkOptions, walk};
use serde::Serialize;

use crate::catalog::{Catalog, DocEntry, DocState};
use crate::embed::Embedder;
use crate::error::{Error, Result};
use crate::index::{
    Action, CATALOG_FILE, Index, IndexSettings, LEXICAL_DIR, WriteConfig, WriteStats,
};
use crate::lexical::{LexicalConfig, read_analyzer};
use crate::manifest::Manifest;
use crate::shard::Shard;
use crate::vector::VectorStoreConfig;

/// What to sync onto an index, and how. The defaults are those of `docket index`.
#[derive(Debug, Clone)]
pub struct SyncConfig {
    /// Files and folders (folders recursively).
    pub paths: Vec<PathBuf>,
    pub walk: WalkOptions,
    pub ingest: IngestOptions,
    /// Delete the documents whose files are no longer under `paths`.
    pub prune: bool,
    /// Plan only: read the catalog, create, lock and change nothing.
    pub dry_run: bool,
    /// Only documents of this shard are read, written and pruned.
    pub shard: Option<Shard>,
    /// Embed chunks into a new index; `false` makes a BM25-only index. An existing index
    /// keeps what it was made with (asking for no vectors on one that has them is an
    /// error).
    pub embed: bool,
    pub write: WriteConfig,
    /// Where the vectors go; `None` keeps the index's store (embedded for a new one).
    pub vectors: Option<VectorStoreConfig>,
    /// Analyse each chunk for BM25 in its document's detected language
    /// ([`crate::AnalyzerConfig::per_language`]). `None` keeps what the index was made
    /// with (off for a new one), so later runs need not repeat the choice; asking for the
    /// other setting on an existing index is an error naming both.
    pub bm25_per_language: Option<bool>,
}

impl SyncConfig {
    pub fn default_embed() -> bool {
        true
    }
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            paths: Vec::new(),
            walk: WalkOptions::default(),
            ingest: IngestOptions::default(),
            prune: false,
            dry_run: false,
            shard: None,
            embed: Self::default_embed(),
            write: WriteConfig::default(),
            vectors: None,
            bm25_per_language: None,
        }
    }
}

/// What a caller adds to a sync: a way to stop it, files to leave alone, and where its
/// events go.
#[derive(Default)]
pub struct SyncHooks<'a> {
    /// Set (e.g. by a signal) to stop between files; what was staged is committed and
    /// nothing is pruned.
    pub stop: Option<&'a AtomicBool>,
    /// Files not to read this run (e.g. quarantined). Their documents stay as they are.
    pub skip: Option<&'a dyn Fn(&SourceFile) -> bool>,
    /// Receives the run's [`SyncEvent`]s as they happen.
    pub events: Option<&'a mut dyn FnMut(SyncEvent<'_>)>,
    /// Where the files whose work is under way are noted before it starts.
    pub marks: Option<Marks<'a>>,
}

/// How a caller learns, after the process died (an out-of-memory abort, a stack
/// overflow: nothing a `catch_unwind` stops), which files it died on.
///
/// Before a file's work (parse, chunk, embed) starts, the sync hands the caller every
/// file whose work may be under way from then on, and the caller notes them durably
/// ([`Marks::record`]); at the end it hands over none. To cost one note per `batch`
/// files rather than one per file, a note covers the files from the first one not yet
/// written to the stores up to `batch` files past the one starting, so it names a few
/// innocent files along with the one at fault. A file the caller suspects (it was in
/// such a note when a run died) is worked on alone ([`Marks::alone`]): noted by
/// itself, with nothing else under way until it is written, so a second death is
/// its own.
pub struct Marks<'a> {
    /// Note durably that these files' work may be under way, replacing the last note.
    /// Called from the sync's threads, one call at a time, before any work of them.
    pub record: &'a (dyn Fn(&[SourceFile]) -> std::result::Result<(), String> + Sync),
    /// Files to work on alone. Asked once per file before the work starts.
    pub alone: &'a dyn Fn(&SourceFile) -> bool,
    /// Files per note, at least 1.
    pub batch: usize,
}

impl std::fmt::Debug for Marks<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Marks")
            .field("batch", &self.batch)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for SyncHooks<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncHooks")
            .field("stop", &self.stop)
            .field("skip", &self.skip.is_some())
            .field("events", &self.events.is_some())
            .field("marks", &self.marks)
            .finish()
    }
}

/// What a dry run would do with one document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Plan {
    Add,
    Update,
    Keep,
    Delete,
}

impl Plan {
    pub fn name(self) -> &'static str {
        match self {
            Plan::Add => "add",
            Plan::Update => "update",
            Plan::Keep => "keep",
            Plan::Delete => "delete",
        }
    }
}

impl From<Action> for Plan {
    fn from(action: Action) -> Plan {
        match action {
            Action::Add => Plan::Add,
            Action::Update => Plan::Update,
            Action::Keep => Plan::Keep,
        }
    }
}

/// Why a sync asked to prune did not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotPruning {
    /// Stopped by [`SyncHooks::stop`].
    Interrupted,
    /// A path could not be walked, so its files' absence means nothing.
    UnreadPaths,
}

impl std::fmt::Display for NotPruning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NotPruning::Interrupted => "the run was interrupted",
            NotPruning::UnreadPaths => "some paths could not be read",
        })
    }
}

/// Something a sync reports while it runs, in walk order.
#[derive(Debug)]
pub enum SyncEvent<'a> {
    /// The walk is done: this many files will be read.
    Started { files: usize },
    /// Dry run: what would happen to a document (kept ones too; deletes come last).
    Planned {
        action: Plan,
        doc_id: &'a str,
        source: &'a str,
    },
    /// A document was parsed with a warning (e.g. pages without text).
    Warning { path: &'a Path, message: &'a str },
    /// A file, row or path failed; it is also in [`SyncReport::failures`].
    Failed(&'a SyncFailure),
    /// One more file is done; `chunks_embedded` so far (0 in a dry run).
    FileDone { chunks_embedded: usize },
    /// Pruning was asked for and not done.
    NotPruning { reason: NotPruning },
}

/// Documents by what a run did (or, in a dry run, would do) with them.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub added: usize,
    pub updated: usize,
    pub deleted: usize,
    pub kept: usize,
    pub failed: usize,
}

/// A file, row or path that could not be ingested.
#[derive(Debug, Clone, Serialize)]
pub struct SyncFailure {
    pub source: String,
    /// The file, when the failure is one file's.
    #[serde(skip)]
    pub path: Option<PathBuf>,
    pub doc_id: String,
    pub reason: String,
}

/// The outcome of a sync.
#[derive(Debug)]
pub struct SyncReport {
    /// The index, open (none in a dry run).
    pub index: Option<Index>,
    pub counts: Counts,
    pub failures: Vec<SyncFailure>,
    pub stats: WriteStats,
    /// Files of a format no loader knows.
    pub unsupported: usize,
    /// Symbolic links not followed (following is off, or the target is outside the
    /// walked folder), and entries that are not regular files (FIFOs, sockets,
    /// devices): none of them was read.
    pub links: Vec<PathBuf>,
    pub special: Vec<PathBuf>,
    /// Files left out by [`SyncHooks::skip`].
    pub skipped: usize,
    /// Documents a dry run would add or update: (source, doc id).
    pub planned: Vec<(String, String)>,
    /// Whether the index embeds (false: BM25 only).
    pub embed: bool,
    pub seconds: f64,
    /// Stopped early by [`SyncHooks::stop`] (nothing pruned).
    pub interrupted: bool,
    /// Ids of the documents deleted (pruned, or deletes a killed run left), whose traces
    /// outside the index (job results, caches) the caller drops.
    pub deleted: Vec<String>,
    /// Values of personal data replaced by placeholders in the documents written this
    /// run, by kind (counts only: the values are kept nowhere).
    pub redacted: BTreeMap<PiiKind, usize>,
}

/// Whether the index in `dir` embeds under `config`: the manifest decides for an
/// existing index, `config.embed` for a new one. Asking for no vectors on an index that
/// holds them is an error, since its dense leg would silently go stale.
pub fn embeds(dir: &Path, config: &SyncConfig) -> Result<bool> {
    let existing = Manifest::load(dir)?;
    let has_vectors = existing.as_ref().map(|m| m.embedder.is_some());
    if !config.embed && has_vectors == Some(true) {
        return Err(Error::Setting {
            name: "embed",
            reason: format!(
                "{} holds vectors; building without embeddings applies only to a new index",
                dir.display()
            ),
        });
    }
    Ok(has_vectors.unwrap_or(config.embed))
}

/// Whether [`sync`] with this config will need an embedder, so that a caller loads the
/// model only then (a dry run or a BM25-only index needs none).
pub fn needs_embedder(dir: &Path, config: &SyncConfig) -> Result<bool> {
    Ok(!config.dry_run && embeds(dir, config)?)
}

/// Bring the index in `dir` up to date with the files under `config.paths`.
///
/// The chunker and (when [`needs_embedder`] says so) the embedder come from the caller:
/// finding and loading models is not the library's job.
pub fn sync(
    dir: &Path,
    config: &SyncConfig,
    chunker: &Chunker,
    embedder: Option<Arc<dyn Embedder>>,
    hooks: SyncHooks<'_>,
) -> Result<SyncReport> {
    let started = Instant::now();
    let mut found = walk(&config.paths, &config.walk)?;
    // Quarantined files are not read, but their documents are not pruned either.
    let mut unread: HashSet<String> = HashSet::new();
    let mut skipped = 0;
    if let Some(skip) = hooks.skip {
        found.files.retain(|f| {
            let skip = skip(f);
            if skip {
                skipped += 1;
                unread.insert(f.source.clone());
            }
            !skip
        });
    }
    let embed = embeds(dir, config)?;
    let (index, known, forgotten) = open(dir, config, chunker, embedder, embed)?;
    let mut noop = |_: SyncEvent<'_>| {};
    let events: &mut dyn FnMut(SyncEvent<'_>) = match hooks.events {
        Some(events) => events,
        None => &mut noop,
    };
    events(SyncEvent::Started {
        files: found.files.len(),
    });
    let gate = match (hooks.marks, config.dry_run) {
        (Some(marks), false) => Some(Gate::new(&found.files, marks, hooks.stop)),
        _ => None,
    };
    let mut run = Run {
        events,
        dry_run: config.dry_run,
        index,
        counts: Counts::default(),
        redacted: BTreeMap::new(),
        failures: Vec::new(),
        planned: Vec::new(),
        seen: HashSet::new(),
        protected: Vec::new(),
        deleted_ids: Vec::new(),
        gate: gate.as_ref(),
        position: 0,
    };
    for e in &found.errors {
        run.fail(e.to_string(), None, String::new(), e);
    }
    let ended = run.ingest(
        &found.files,
        config,
        chunker,
        &known,
        &forgotten,
        hooks.stop,
    );
    if let Some(gate) = &gate {
        gate.close();
    }
    let ended = ended?;
    if let Some(index) = run.index.as_mut() {
        index.commit()?;
    }
    if let Some(gate) = &gate {
        gate.finish()?;
    }
    let interrupted = ended == Ended::Stopped;
    let pruned = config.prune
        && run.prune(
            &known,
            config.shard,
            &unread,
            interrupted,
            !found.errors.is_empty(),
        )?;
    if !pruned && !interrupted {
        run.finish_deletes(&known, config.shard)?;
    }
    let stats = run.index.as_ref().map(Index::stats).unwrap_or_default();
    Ok(SyncReport {
        index: run.index,
        counts: run.counts,
        failures: run.failures,
        stats,
        unsupported: found.skipped.len(),
        links: found.links,
        special: found.special,
        skipped,
        planned: run.planned,
        embed,
        seconds: started.elapsed().as_secs_f64(),
        interrupted,
        deleted: run.deleted_ids,
        redacted: run.redacted,
    })
}

/// What a sync opens: the index to write to (none for a dry run), what its catalog
/// holds, and the documents forgotten on purpose (not indexed again).
type Opened = (Option<Index>, HashMap<String, DocEntry>, HashSet<String>);

/// The index to write to and what its catalog holds. A dry run reads the catalog only:
/// it must not create or lock anything.
fn open(
    dir: &Path,
    config: &SyncConfig,
    chunker: &Chunker,
    embedder: Option<Arc<dyn Embedder>>,
    embed: bool,
) -> Result<Opened> {
    if config.dry_run {
        let catalog = dir.join(CATALOG_FILE);
        if !catalog.exists() {
            return Ok((None, HashMap::new(), HashSet::new()));
        }
        let catalog = Catalog::open(&catalog)?;
        let entries = catalog.entries()?;
        return Ok((
            None,
            entries.into_iter().map(|e| (e.doc_id.clone(), e)).collect(),
            catalog.forgotten()?,
        ));
    }
    let embedder = match (embed, embedder) {
        (true, Some(e)) => Some(e),
        (true, None) if Manifest::load(dir)?.is_some() => {
            return Err(Error::EmbedderRequired {
                path: dir.to_owned(),
            });
        }
        (true, None) => {
            return Err(Error::Setting {
                name: "embed",
                reason: format!(
                    "{}: a new index with embeddings needs an embedder",
                    dir.display()
                ),
            });
        }
        (false, _) => None,
    };
    let mut analyzer = read_analyzer(&dir.join(LEXICAL_DIR))?;
    if let Some(per_language) = config.bm25_per_language {
        analyzer.per_language = per_language;
    }
    let settings = IndexSettings {
        tokenizer: chunker.tokenizer_name().to_owned(),
        chunking: chunker.config().clone(),
        vectors: config.vectors.clone(),
        write: config.write.clone(),
        lexical: LexicalConfig {
            analyzer,
            ..LexicalConfig::default()
        },
    };
    let index = Index::create_or_open(dir, embedder, &settings)?;
    let known = index.known()?;
    let forgotten = index.catalog().forgotten()?;
    Ok((Some(index), known, forgotten))
}

/// The sync's side of [`Marks`]: decides when a note is due and what it covers, and
/// holds a file's work back until the note that covers it is written.
struct Gate<'a> {
    files: &'a [SourceFile],
    alone: Vec<bool>,
    record: &'a (dyn Fn(&[SourceFile]) -> std::result::Result<(), String> + Sync),
    batch: usize,
    stop: Option<&'a AtomicBool>,
    /// Files whose work is over (written to the stores, or never begun): a prefix of
    /// `files`, advanced by the caller's thread as files end.
    done: AtomicUsize,
    /// The run ended (or failed): nobody waits any more.
    closed: AtomicBool,
    noted: Mutex<Noted>,
}

/// What the last note covered.
#[derive(Default)]
struct Noted {
    /// Files before this position are covered (from `done` on).
    until: usize,
    /// Whether any note was written (then the end writes an empty one).
    any: bool,
    error: Option<String>,
}

impl<'a> Gate<'a> {
    fn new(files: &'a [SourceFile], marks: Marks<'a>, stop: Option<&'a AtomicBool>) -> Self {
        Gate {
            files,
            alone: files.iter().map(|f| (marks.alone)(f)).collect(),
            record: marks.record,
            batch: marks.batch.max(1),
            stop,
            done: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
            noted: Mutex::new(Noted::default()),
        }
    }

    fn is_alone(&self, position: usize) -> bool {
        self.alone.get(position).copied().unwrap_or(false)
    }

    /// Called before the work of the file at `position` starts: wait while it must not
    /// start yet, then make sure a note covers it. A file to be worked on alone waits
    /// until every file before it is done; any other file waits until the files to be
    /// worked on alone before it are done (so nothing runs beside them). Only workers
    /// wait (`may_wait`): the caller's thread ends files, and writes out what is staged
    /// before a file to be worked on alone, so it never has to.
    fn enter(&self, position: usize, may_wait: bool) {
        let alone = self.is_alone(position);
        loop {
            let mut noted = self.noted.lock().unwrap_or_else(|p| p.into_inner());
            let done = self.done.load(Ordering::SeqCst).min(position);
            let busy = if alone {
                done < position
            } else {
                self.alone[done..position].iter().any(|&a| a)
            };
            let gone = self.closed.load(Ordering::SeqCst)
                || self.stop.is_some_and(|s| s.load(Ordering::SeqCst));
            if busy && may_wait && !gone {
                drop(noted);
                std::thread::sleep(Duration::from_millis(1));
                continue;
            }
            if alone {
                self.note(&mut noted, position, position + 1);
            } else if position >= noted.until {
                // Up to `batch` files on, stopping short of a file to be worked on alone.
                let end = (position + self.batch).min(self.files.len());
                let end = (position + 1..end)
                    .find(|&i| self.is_alone(i))
                    .unwrap_or(end);
                self.note(&mut noted, done, end);
            }
            return;
        }
    }

    fn note(&self, noted: &mut Noted, from: usize, until: usize) {
        if let Err(e) = (self.record)(&self.files[from..until]) {
            noted.error.get_or_insert(e);
        }
        noted.until = until;
        noted.any = true;
    }

    /// The file at `position` has ended and `idle` says whether nothing is left staged:
    /// then every file up to it is done.
    fn ended(&self, position: usize, idle: bool) {
        if idle {
            self.done.fetch_max(position + 1, Ordering::SeqCst);
        }
    }

    /// Whether the file at `position` must have its writes flushed when it ends: it was
    /// worked on alone, or the next one must be.
    fn flush_after(&self, position: usize) -> bool {
        self.is_alone(position) || self.is_alone(position + 1)
    }

    fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
    }

    /// After the run's last commit: note that nothing is under way, and report a note
    /// that could not be written.
    fn finish(&self) -> Result<()> {
        let mut noted = self.noted.lock().unwrap_or_else(|p| p.into_inner());
        if noted.any
            && noted.error.is_none()
            && let Err(e) = (self.record)(&[])
        {
            noted.error = Some(e);
        }
        match noted.error.take() {
            Some(reason) => Err(Error::Marks { reason }),
            None => Ok(()),
        }
    }
}

/// A sync's state while the documents stream by.
struct Run<'e> {
    events: &'e mut dyn FnMut(SyncEvent<'_>),
    dry_run: bool,
    index: Option<Index>,
    counts: Counts,
    /// Values redacted in the documents written, by kind.
    redacted: BTreeMap<PiiKind, usize>,
    failures: Vec<SyncFailure>,
    planned: Vec<(String, String)>,
    /// Documents found this run: not pruned.
    seen: HashSet<String>,
    /// Records files with a failed row or that failed whole: their rows are not pruned.
    protected: Vec<String>,
    /// Documents deleted.
    deleted_ids: Vec<String>,
    gate: Option<&'e Gate<'e>>,
    /// The position of the file being handed on.
    position: usize,
}

type Chunked = std::result::Result<Vec<Chunk>, docket_ingest::Error>;

fn is_records(file: &SourceFile) -> bool {
    file.format.is_some_and(Format::is_records)
}

impl Run<'_> {
    /// Stream the files through the index, in walk order.
    fn ingest(
        &mut self,
        files: &[SourceFile],
        config: &SyncConfig,
        chunker: &Chunker,
        known: &HashMap<String, DocEntry>,
        forgotten: &HashSet<String>,
        stop: Option<&AtomicBool>,
    ) -> Result<Ended> {
        let ingestor = Ingestor::new(config.ingest.clone());
        let shard = config.shard;
        // A forgotten document is left out like one of another shard: not read, not
        // written, and (having no catalog entry) not pruned.
        let in_shard = move |doc_id: &str| {
            shard.is_none_or(|s| s.contains(doc_id)) && !forgotten.contains(doc_id)
        };
        let gate = self.gate;
        let caller = std::thread::current().id();
        let before_work = move |position: usize| {
            if let Some(gate) = gate {
                gate.enter(position, std::thread::current().id() != caller);
            }
        };
        let options = StreamOptions {
            stop,
            keep_id: Some(&in_shard),
            before_work: Some(&before_work),
            ..StreamOptions::default()
        };
        let dry_run = self.dry_run;
        let decide = |doc_id: &str, hash: &str| match Index::action(known.get(doc_id), hash) {
            action if action == Action::Keep || dry_run => Decision::Leave(action),
            action => Decision::Parse(action),
        };
        let process = |doc: &Document| chunker.chunk(doc);
        stream(&ingestor, files, &options, decide, process, |file, item| {
            self.item(file, item)
        })
    }

    fn item(&mut self, file: &SourceFile, item: Item<Action, Chunked>) -> Result<()> {
        match item {
            Item::Parsed { doc, tag, result } => self.parsed(file, doc, tag, result)?,
            Item::Unparsed {
                doc_id,
                source,
                tag,
            } => {
                if !self.first_time(file, &doc_id) {
                    return Ok(());
                }
                self.count(tag);
                if self.dry_run {
                    if tag != Action::Keep {
                        self.planned.push((source.clone(), doc_id.clone()));
                    }
                    (self.events)(SyncEvent::Planned {
                        action: tag.into(),
                        doc_id: &doc_id,
                        source: &source,
                    });
                }
            }
            Item::Failed { doc_id, error } => {
                if is_records(file) {
                    self.protected.push(file.source.clone());
                    self.fail(file.source.clone(), None, String::new(), &error);
                } else {
                    let doc_id = doc_id.unwrap_or_default();
                    self.seen.insert(doc_id.clone());
                    self.fail(file.source.clone(), Some(&file.path), doc_id, &error);
                }
            }
            Item::Skipped => {}
            Item::EndOfFile => {
                self.file_ended()?;
                let chunks_embedded = self.index.as_ref().map_or(0, |i| i.stats().chunks_embedded);
                (self.events)(SyncEvent::FileDone { chunks_embedded });
            }
        }
        Ok(())
    }

    /// Tell the gate a file has ended, writing out what is staged when a file to be
    /// worked on alone comes next or just was.
    fn file_ended(&mut self) -> Result<()> {
        let position = self.position;
        self.position += 1;
        let Some(gate) = self.gate else {
            return Ok(());
        };
        let idle = match self.index.as_mut() {
            Some(index) => {
                if gate.flush_after(position) {
                    index.flush()?;
                }
                index.staged_documents() == 0
            }
            None => true,
        };
        gate.ended(position, idle);
        Ok(())
    }

    /// A parsed (new or changed) document: stage it, or fail it if it did not chunk.
    fn parsed(
        &mut self,
        file: &SourceFile,
        doc: Document,
        action: Action,
        chunks: Chunked,
    ) -> Result<()> {
        if !self.first_time(file, &doc.id) {
            return Ok(());
        }
        let records = is_records(file);
        if !records {
            for message in &doc.warnings {
                (self.events)(SyncEvent::Warning {
                    path: &file.path,
                    message,
                });
            }
        }
        match chunks {
            Ok(chunks) => {
                self.count(action);
                for (&kind, &n) in &doc.redactions {
                    *self.redacted.entry(kind).or_default() += n;
                }
                match self.index.as_mut() {
                    Some(index) => index.stage(&doc, chunks, action),
                    None => Ok(()),
                }
            }
            Err(error) if records => {
                self.fail(doc.source.clone(), None, doc.id.clone(), &error);
                Ok(())
            }
            Err(error) => {
                self.fail(file.source.clone(), Some(&file.path), doc.id, &error);
                Ok(())
            }
        }
    }

    /// Whether this is the first input of the run with this document id. Two inputs
    /// that map to one id (two roots holding the same relative path, a file named and
    /// also found in a folder) would otherwise both be written; the second is a
    /// failure instead, and the first stays.
    fn first_time(&mut self, file: &SourceFile, doc_id: &str) -> bool {
        if self.seen.insert(doc_id.to_owned()) {
            return true;
        }
        let reason = format!(
            "{}: the same document (source {}) as an earlier input of this run; not indexed twice",
            file.path.display(),
            file.source
        );
        self.fail(file.source.clone(), None, doc_id.to_owned(), &reason);
        false
    }

    fn count(&mut self, action: Action) {
        match action {
            Action::Add => self.counts.added += 1,
            Action::Update => self.counts.updated += 1,
            Action::Keep => self.counts.kept += 1,
        }
    }

    fn fail(
        &mut self,
        source: String,
        path: Option<&Path>,
        doc_id: String,
        error: &dyn std::fmt::Display,
    ) {
        self.counts.failed += 1;
        self.failures.push(SyncFailure {
            source,
            path: path.map(Path::to_path_buf),
            doc_id,
            reason: error.to_string(),
        });
        if let Some(failure) = self.failures.last() {
            (self.events)(SyncEvent::Failed(failure));
        }
    }

    /// Delete what the catalog holds and this run did not find, unless that absence
    /// means nothing (see the module's documentation). Whether it did.
    fn prune(
        &mut self,
        known: &HashMap<String, DocEntry>,
        shard: Option<Shard>,
        unread: &HashSet<String>,
        interrupted: bool,
        walk_failed: bool,
    ) -> Result<bool> {
        let reason = if interrupted {
            NotPruning::Interrupted
        } else if walk_failed {
            NotPruning::UnreadPaths
        } else {
            self.delete(known, shard, unread)?;
            return Ok(true);
        };
        (self.events)(SyncEvent::NotPruning { reason });
        Ok(false)
    }

    /// Finish the deletes a killed run left (`Deleting` entries), unless this run found
    /// their document again (it was then indexed anew as an update). The delete was
    /// decided already, so this happens without pruning too.
    fn finish_deletes(
        &mut self,
        known: &HashMap<String, DocEntry>,
        shard: Option<Shard>,
    ) -> Result<()> {
        let unfinished: Vec<&DocEntry> = known
            .values()
            .filter(|e| e.state == DocState::Deleting)
            .filter(|e| !self.seen.contains(&e.doc_id))
            .filter(|e| shard.is_none_or(|s| s.contains(&e.doc_id)))
            .collect();
        self.remove(unfinished)
    }

    fn delete(
        &mut self,
        known: &HashMap<String, DocEntry>,
        shard: Option<Shard>,
        unread: &HashSet<String>,
    ) -> Result<()> {
        // A row's source is `file#key`: it belongs to that file.
        let row_of = |source: &str, file: &str| {
            source
                .strip_prefix(file)
                .is_some_and(|r| r.starts_with('#'))
        };
        let gone: Vec<&DocEntry> = known
            .values()
            .filter(|e| !self.seen.contains(&e.doc_id))
            .filter(|e| shard.is_none_or(|s| s.contains(&e.doc_id)))
            .filter(|e| {
                // A delete a killed run began is finished whatever the file's state.
                e.state == DocState::Deleting
                    || (!unread.contains(&e.source)
                        && !unread.iter().any(|p| row_of(&e.source, p))
                        && !self.protected.iter().any(|p| row_of(&e.source, p)))
            })
            .collect();
        self.remove(gone)
    }

    /// Delete these documents (a dry run lists them).
    fn remove(&mut self, mut gone: Vec<&DocEntry>) -> Result<()> {
        self.counts.deleted += gone.len();
        match self.index.as_mut() {
            Some(index) => {
                let mut ids: Vec<String> = gone.iter().map(|e| e.doc_id.clone()).collect();
                ids.sort();
                index.delete(&ids)?;
                // A pruned document leaves no more trace than a forgotten one.
                if !ids.is_empty() {
                    index.purge_traces()?;
                }
                self.deleted_ids.extend(ids);
            }
            None => {
                gone.sort_by(|a, b| a.source.cmp(&b.source));
                for e in gone {
                    (self.events)(SyncEvent::Planned {
                        action: Plan::Delete,
                        doc_id: &e.doc_id,
                        source: &e.source,
                    });
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use docket_ingest::document::document_id;
    use docket_ingest::{ApproxTokenizer, ChunkingConfig};
    use std::sync::atomic::Ordering;

    struct Setup {
        docs: tempfile::TempDir,
        index: tempfile::TempDir,
        chunker: Chunker,
    }

    fn setup(files: &[(&str, &str)]) -> Setup {
        let s = Setup {
            docs: tempfile::tempdir().unwrap(),
            index: tempfile::tempdir().unwrap(),
            chunker: Chunker::new(ChunkingConfig::default(), Arc::new(ApproxTokenizer)).unwrap(),
        };
        for (name, text) in files {
            s.write(name, text);
        }
        s
    }

    impl Setup {
        fn write(&self, name: &str, text: &str) {
            std::fs::write(self.docs.path().join(name), text).unwrap();
        }

        fn remove(&self, name: &str) {
            std::fs::remove_file(self.docs.path().join(name)).unwrap();
        }

        fn dir(&self) -> PathBuf {
            self.index.path().join("ix")
        }

        fn config(&self) -> SyncConfig {
            SyncConfig {
                paths: vec![self.docs.path().to_path_buf()],
                prune: true,
                embed: false,
                ..SyncConfig::default()
            }
        }

        /// Sync with `config`, closing the index; the counts and the sources it holds.
        fn run(&self, config: &SyncConfig, hooks: SyncHooks<'_>) -> (SyncReport, Vec<String>) {
            let mut report = sync(&self.dir(), config, &self.chunker, None, hooks).unwrap();
            let mut sources: Vec<String> = match report.index.take() {
                Some(index) => index
                    .known()
                    .unwrap()
                    .into_values()
                    .map(|e| e.source)
                    .collect(),
                None => Vec::new(),
            };
            sources.sort();
            (report, sources)
        }
    }

    fn counts(added: usize, updated: usize, deleted: usize, kept: usize, failed: usize) -> Counts {
        Counts {
            added,
            updated,
            deleted,
            kept,
            failed,
        }
    }

    #[test]
    fn two_inputs_with_one_document_id_are_written_once_and_the_second_fails() {
        let s = setup(&[("a.txt", "alpha text")]);
        // The same relative path under a second root, and the first root's file named.
        let other = tempfile::tempdir().unwrap();
        std::fs::write(other.path().join("a.txt"), "another alpha").unwrap();
        let config = SyncConfig {
            paths: vec![
                s.docs.path().to_path_buf(),
                other.path().to_path_buf(),
                s.docs.path().join("a.txt"),
            ],
            ..s.config()
        };
        let (r, held) = s.run(&config, SyncHooks::default());
        assert_eq!(r.counts, counts(1, 0, 0, 0, 2));
        assert_eq!(held, ["a.txt"]);
        assert!(
            r.failures
                .iter()
                .all(|f| f.reason.contains("earlier input")),
            "{:?}",
            r.failures
        );
        // The next run keeps it, still refusing the twins.
        let (r, _) = s.run(&config, SyncHooks::default());
        assert_eq!(r.counts, counts(0, 0, 0, 1, 2));
    }

    /// Delete `doc_ids` as a run killed after both stores committed the delete and
    /// before the catalog forgot the documents would.
    fn delete_killed_before_forget(dir: &Path, doc_ids: &[&str]) {
        let mut index = Index::open(dir, None).unwrap();
        index.catalog().mark_deleting(doc_ids).unwrap();
        index.purge(doc_ids).unwrap();
    }

    /// Regression (issue 13): a kill between the stores' delete and the catalog update
    /// left an `Indexed` entry whose chunks were gone, which the next run kept as it was.
    #[test]
    fn a_delete_killed_midway_is_finished_or_redone_by_the_next_sync() {
        let s = setup(&[("a.txt", "alpha text"), ("b.txt", "beta text")]);
        s.run(&s.config(), SyncHooks::default());
        let b = document_id("b.txt");
        delete_killed_before_forget(&s.dir(), &[b.as_str()]);
        // The file is still there (or came back): it is indexed again, chunks and all.
        let no_prune = SyncConfig {
            prune: false,
            ..s.config()
        };
        let (r, held) = s.run(&no_prune, SyncHooks::default());
        assert_eq!(r.counts, counts(0, 1, 0, 1, 0));
        assert_eq!(held, ["a.txt", "b.txt"]);
        let index = Index::open(&s.dir(), None).unwrap();
        let entry = index.catalog().get(&b).unwrap().unwrap();
        assert_eq!(entry.state, DocState::Indexed);
        assert_eq!(index.document_text(&entry).unwrap(), "beta text");
        drop(index);
        // The file is gone: the next sync finishes the delete, even without pruning.
        delete_killed_before_forget(&s.dir(), &[b.as_str()]);
        s.remove("b.txt");
        let (r, held) = s.run(&no_prune, SyncHooks::default());
        assert_eq!(r.counts, counts(0, 0, 1, 1, 0));
        assert_eq!(held, ["a.txt"]);
    }

    /// Sync with marks (`batch` files per note, `alone` worked on alone) and return the
    /// notes, each the sources it covered.
    fn noted(s: &Setup, batch: usize, alone: &[&str]) -> Vec<Vec<String>> {
        let notes = Mutex::new(Vec::new());
        let record = |files: &[SourceFile]| {
            let sources = files.iter().map(|f| f.source.clone()).collect();
            notes.lock().unwrap().push(sources);
            Ok(())
        };
        let alone = |f: &SourceFile| alone.contains(&f.source.as_str());
        let hooks = SyncHooks {
            marks: Some(Marks {
                record: &record,
                alone: &alone,
                batch,
            }),
            ..SyncHooks::default()
        };
        s.run(&s.config(), hooks);
        notes.into_inner().unwrap()
    }

    /// Issue 13: the files being parsed are noted before their work starts, a few per
    /// note, a suspect alone, and a run with nothing to parse notes nothing.
    #[test]
    fn files_are_noted_before_their_work_a_batch_at_a_time_and_suspects_alone() {
        let names: Vec<String> = (0..9).map(|i| format!("f{i}.txt")).collect();
        let files: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "some text")).collect();
        let s = setup(&files);
        let notes = noted(&s, 4, &["f5.txt"]);
        let (last, notes) = notes.split_last().unwrap();
        assert!(last.is_empty(), "the end notes that nothing is under way");
        let covered: HashSet<&String> = notes.iter().flatten().collect();
        assert_eq!(covered.len(), 9, "every parsed file was noted: {notes:?}");
        assert!(
            notes.len() <= 5,
            "a note per batch, not per file: {notes:?}"
        );
        for note in notes {
            if note.contains(&"f5.txt".to_owned()) {
                assert_eq!(note, &["f5.txt"], "a suspect is noted alone: {notes:?}");
            }
        }
        assert!(
            noted(&s, 4, &[]).is_empty(),
            "nothing parsed, nothing noted"
        );
    }

    #[test]
    fn adds_keeps_updates_and_prunes() {
        let s = setup(&[("a.txt", "alpha text"), ("b.md", "# B\n\nbeta text")]);
        let (r, held) = s.run(&s.config(), SyncHooks::default());
        assert_eq!(r.counts, counts(2, 0, 0, 0, 0));
        assert!(!r.embed && r.stats.chunks_written == 2);
        assert_eq!(held, ["a.txt", "b.md"]);
        let (r, _) = s.run(&s.config(), SyncHooks::default());
        assert_eq!(r.counts, counts(0, 0, 0, 2, 0));
        s.write("a.txt", "alpha changed");
        s.remove("b.md");
        let (r, held) = s.run(&s.config(), SyncHooks::default());
        assert_eq!(r.counts, counts(0, 1, 1, 0, 0));
        assert_eq!(held, ["a.txt"]);
    }

    #[test]
    fn a_dry_run_plans_and_creates_nothing() {
        let s = setup(&[("a.txt", "alpha"), ("b.txt", "beta"), ("c.txt", "gamma")]);
        let dry = SyncConfig {
            dry_run: true,
            ..s.config()
        };
        let (r, _) = s.run(&dry, SyncHooks::default());
        assert_eq!(r.counts, counts(3, 0, 0, 0, 0));
        assert!(!s.dir().exists(), "a dry run creates nothing");
        s.run(&s.config(), SyncHooks::default());
        s.write("a.txt", "alpha changed");
        s.remove("b.txt");
        let mut plan = Vec::new();
        let mut events = |e: SyncEvent<'_>| {
            if let SyncEvent::Planned { action, source, .. } = e {
                plan.push(format!("{} {source}", action.name()));
            }
        };
        let hooks = SyncHooks {
            events: Some(&mut events),
            ..SyncHooks::default()
        };
        let (r, _) = s.run(&dry, hooks);
        assert_eq!(plan, ["update a.txt", "keep c.txt", "delete b.txt"]);
        assert_eq!(r.counts, counts(0, 1, 1, 1, 0));
        assert_eq!(r.planned, [("a.txt".into(), document_id("a.txt"))]);
        let (_, held) = s.run(&s.config(), SyncHooks::default());
        assert_eq!(held, ["a.txt", "c.txt"], "the dry run changed nothing");
    }

    #[test]
    fn a_shard_reads_writes_and_prunes_only_its_documents() {
        let names: Vec<String> = (0..12).map(|i| format!("f{i}.txt")).collect();
        let files: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "text")).collect();
        let s = setup(&files);
        let shard = Shard { index: 1, count: 3 };
        let mut mine: Vec<String> = names
            .iter()
            .filter(|n| shard.contains(&document_id(n)))
            .cloned()
            .collect();
        mine.sort();
        assert!(!mine.is_empty() && mine.len() < names.len());
        let config = SyncConfig {
            shard: Some(shard),
            ..s.config()
        };
        let (r, held) = s.run(&config, SyncHooks::default());
        assert_eq!(r.counts.added, mine.len());
        assert_eq!(held, mine);
    }

    #[test]
    fn a_stopped_run_prunes_nothing() {
        let s = setup(&[("a.txt", "alpha"), ("b.txt", "beta")]);
        s.run(&s.config(), SyncHooks::default());
        s.remove("b.txt");
        let stop = AtomicBool::new(true);
        let mut reasons = Vec::new();
        let mut events = |e: SyncEvent<'_>| {
            if let SyncEvent::NotPruning { reason } = e {
                reasons.push(reason);
            }
        };
        let hooks = SyncHooks {
            stop: Some(&stop),
            events: Some(&mut events),
            ..SyncHooks::default()
        };
        let (r, held) = s.run(&s.config(), hooks);
        assert!(r.interrupted);
        assert_eq!(r.counts.deleted, 0);
        assert_eq!(held, ["a.txt", "b.txt"]);
        assert_eq!(reasons, [NotPruning::Interrupted]);
        stop.store(false, Ordering::SeqCst);
    }

    #[test]
    fn a_failing_file_is_a_failure_and_its_document_stays() {
        let s = setup(&[("a.txt", "alpha"), ("big.txt", &"word ".repeat(100))]);
        s.run(&s.config(), SyncHooks::default());
        s.write("bad.pdf", "this is not a PDF");
        let mut config = s.config();
        // big.txt cannot be read any more: too large.
        config.ingest.limits.max_file_bytes = 100;
        let mut failed = Vec::new();
        let mut events = |e: SyncEvent<'_>| {
            if let SyncEvent::Failed(f) = e {
                failed.push(f.source.clone());
            }
        };
        let hooks = SyncHooks {
            events: Some(&mut events),
            ..SyncHooks::default()
        };
        let (r, held) = s.run(&config, hooks);
        assert_eq!(r.counts, counts(0, 0, 0, 1, 2));
        assert_eq!(failed, ["bad.pdf", "big.txt"]);
        assert_eq!(r.failures[0].doc_id, document_id("bad.pdf"));
        assert!(r.failures[0].path.is_some());
        assert_eq!(held, ["a.txt", "big.txt"]);
    }

    #[test]
    fn a_records_file_with_a_bad_row_keeps_its_rows() {
        let row = |id: &str| format!("{{\"id\":\"{id}\",\"text\":\"row {id}\"}}\n");
        let s = setup(&[("rows.jsonl", &(row("a") + &row("b")))]);
        let (r, held) = s.run(&s.config(), SyncHooks::default());
        assert_eq!(r.counts.added, 2);
        assert_eq!(held, ["rows.jsonl#a", "rows.jsonl#b"]);
        s.write("rows.jsonl", &(row("a") + "not json\n"));
        let (r, held) = s.run(&s.config(), SyncHooks::default());
        assert_eq!(r.counts, counts(0, 0, 0, 1, 1));
        assert_eq!(held, ["rows.jsonl#a", "rows.jsonl#b"]);
        s.write("rows.jsonl", &row("a"));
        let (r, held) = s.run(&s.config(), SyncHooks::default());
        assert_eq!(r.counts, counts(0, 0, 1, 1, 0));
        assert_eq!(held, ["rows.jsonl#a"]);
    }

    #[test]
    fn skipped_files_are_not_read_nor_pruned() {
        let s = setup(&[("a.txt", "alpha"), ("q.txt", "quarantined")]);
        s.run(&s.config(), SyncHooks::default());
        s.write("q.txt", "changed, but quarantined");
        let skip = |f: &SourceFile| f.source == "q.txt";
        let hooks = SyncHooks {
            skip: Some(&skip),
            ..SyncHooks::default()
        };
        let (r, held) = s.run(&s.config(), hooks);
        assert_eq!(r.counts, counts(0, 0, 0, 1, 0));
        assert_eq!(r.skipped, 1);
        assert_eq!(held, ["a.txt", "q.txt"]);
    }

    #[test]
    fn the_manifest_decides_embedding_and_an_embedder_is_required() {
        let s = setup(&[("a.txt", "alpha")]);
        let with = SyncConfig {
            embed: true,
            ..s.config()
        };
        assert!(needs_embedder(&s.dir(), &with).unwrap());
        let dry = SyncConfig {
            dry_run: true,
            ..with.clone()
        };
        assert!(!needs_embedder(&s.dir(), &dry).unwrap());
        let err = sync(&s.dir(), &with, &s.chunker, None, SyncHooks::default()).unwrap_err();
        assert!(matches!(err, Error::Setting { name: "embed", .. }), "{err}");
        // A BM25-only index stays BM25-only.
        s.run(&s.config(), SyncHooks::default());
        assert!(!needs_embedder(&s.dir(), &with).unwrap());
        let (r, _) = s.run(&with, SyncHooks::default());
        assert!(!r.embed);
    }

    #[test]
    fn an_index_with_vectors_needs_its_embedder_and_keeps_its_vectors() {
        let s = setup(&[("a.txt", "alpha")]);
        std::fs::create_dir_all(s.dir()).unwrap();
        Manifest {
            schema_version: crate::SCHEMA_VERSION,
            embedder: Some("all-minilm-l6-v2".into()),
            dimension: Some(384),
            tokenizer: s.chunker.tokenizer_name().to_owned(),
            chunking: s.chunker.config().clone(),
            vectors: VectorStoreConfig::default(),
            fusion: None,
        }
        .save(&s.dir())
        .unwrap();
        let bm25_only = s.config();
        let err = needs_embedder(&s.dir(), &bm25_only).unwrap_err();
        assert!(matches!(err, Error::Setting { name: "embed", .. }), "{err}");
        assert!(!err.to_string().contains("--"), "{err}");
        let with = SyncConfig {
            embed: true,
            ..s.config()
        };
        assert!(needs_embedder(&s.dir(), &with).unwrap());
        let err = sync(&s.dir(), &with, &s.chunker, None, SyncHooks::default()).unwrap_err();
        assert!(matches!(err, Error::EmbedderRequired { .. }), "{err}");
    }
}
