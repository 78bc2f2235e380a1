//! An index directory: the manifest, the catalog, the BM25 index and the vector store,
//! kept in step. This is the one type the commands use to write and to search.
//!
//! ```text
//! <dir>/manifest.json   settings the contents depend on (model, chunking, backend, fusion)
//! <dir>/catalog.redb    one entry per document: content hash, state, chunk count
//! <dir>/bm25/           tantivy index of chunk text, metadata and stored chunks
//! <dir>/vectors/        embedded Qdrant shard (absent when vectors live on a server)
//! ```
//!
//! Writing is crash-safe by ordering, not by a distributed transaction. For each batch:
//! embed, then mark the batch's documents `Pending` in the catalog (durably), then
//! replace their chunks in both stores, and at a commit point commit BM25, flush the
//! vectors and only then mark the documents `Indexed`. A process killed at any moment
//! leaves each document either as it was (the catalog still says `Indexed` with the old
//! hash, or has no entry) or `Pending`; [`Index::plan`] redoes both, and since chunk ids
//! are stable and documents are replaced by id, the redo neither duplicates nor loses
//! chunks.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use docket_ingest::{Chunk, ChunkingConfig, Document, Format};
use serde::{Deserialize, Serialize};

use crate::catalog::{Catalog, DocEntry, DocState, unix_now};
use crate::embed::Embedder;
use crate::error::{Error, Result};
use crate::filter::{Filter, Hit};
use crate::fusion::{FusedHit, FusionConfig, LegHit, fuse, single_leg};
use crate::lexical::{Bm25Index, DocFreqs, LexicalConfig, LexicalIndex, Snippet};
use crate::manifest::{Manifest, SCHEMA_VERSION};
use crate::snapshot::{self, WriteLock};
use crate::vector::{
    EmbeddedStore, Point, ServerFusion, VectorSpec, VectorStore, VectorStoreConfig, open_store,
};

/// File name of the catalog inside an index directory.
pub const CATALOG_FILE: &str = "catalog.redb";
/// Folder of the BM25 index inside an index directory.
pub const LEXICAL_DIR: &str = "bm25";

/// The settings an index is created with (and checked against when reopened).
#[derive(Debug, Clone, Default)]
pub struct IndexSettings {
    /// Name of the tokenizer chunk sizes were counted with.
    pub tokenizer: String,
    pub chunking: ChunkingConfig,
    /// Where the vectors go. `None` keeps what the index was made with (the embedded
    /// store for a new index).
    pub vectors: Option<VectorStoreConfig>,
    pub lexical: LexicalConfig,
    pub write: WriteConfig,
}

/// How often a writing run embeds and commits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WriteConfig {
    /// Chunks gathered before they are embedded and written in one go: large enough to
    /// keep the embedder's batches full, small enough to bound memory.
    #[serde(default = "WriteConfig::default_batch_chunks")]
    pub batch_chunks: usize,
    /// Chunks written between commits. A commit makes everything before it survive a
    /// crash; more frequent commits cost a little speed and lose less work.
    #[serde(default = "WriteConfig::default_commit_chunks")]
    pub commit_chunks: usize,
    /// Longest time between commits, in seconds, for slow (large-model) runs.
    #[serde(default = "WriteConfig::default_commit_secs")]
    pub commit_secs: u64,
}

impl WriteConfig {
    pub fn default_batch_chunks() -> usize {
        256
    }
    pub fn default_commit_chunks() -> usize {
        4096
    }
    pub fn default_commit_secs() -> u64 {
        60
    }
}

impl Default for WriteConfig {
    fn default() -> Self {
        WriteConfig {
            batch_chunks: Self::default_batch_chunks(),
            commit_chunks: Self::default_commit_chunks(),
            commit_secs: Self::default_commit_secs(),
        }
    }
}

/// What a writing run must do with one document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Not in the index yet.
    Add,
    /// In the index with other content, or left half-written by an interrupted run.
    Update,
    /// In the index with this content.
    Keep,
}

/// Counts of what a writing run did so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct WriteStats {
    pub added: usize,
    pub updated: usize,
    pub deleted: usize,
    /// Chunks embedded (0 for a BM25-only index).
    pub chunks_embedded: usize,
    /// Chunks written to the stores.
    pub chunks_written: usize,
    /// Documents committed (marked indexed).
    pub committed: usize,
}

/// Search mode: which legs run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Both legs, fused.
    Hybrid,
    /// Nearest vectors only.
    Dense,
    /// BM25 only.
    Bm25,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Hybrid => "hybrid",
            Mode::Dense => "dense",
            Mode::Bm25 => "bm25",
        }
    }
}

/// Why a search ran in another mode than asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fallback {
    /// The index holds no vectors (it was built without an embedding model).
    NoVectors,
    /// The index has vectors but no embedding model was given to embed the query.
    NoEmbedder,
}

/// One search hit: the chunk, its fused score and where each leg ranked it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchHit {
    pub chunk: Chunk,
    pub score: f32,
    pub dense: Option<LegHit>,
    pub bm25: Option<LegHit>,
}

/// The result of [`Index::search`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchResults {
    /// The mode that actually ran.
    pub mode: Mode,
    /// Set when `mode` is not the one asked for.
    pub fallback: Option<Fallback>,
    pub hits: Vec<SearchHit>,
}

/// The two legs' rankings of one query, before fusion.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Legs {
    pub dense: Vec<Hit>,
    pub bm25: Vec<Hit>,
}

/// What `docket status` shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Status {
    pub path: PathBuf,
    pub documents: usize,
    /// Documents left `Pending` by an interrupted run (redone by the next one).
    pub pending: usize,
    /// Chunks according to the catalog.
    pub chunks: u64,
    /// Chunks in the BM25 index.
    pub bm25_chunks: u64,
    /// Points in the vector store (`None` without vectors).
    pub vector_points: Option<usize>,
    pub pages: u64,
    pub embedder: Option<String>,
    pub dimension: Option<usize>,
    /// `embedded` or the server's URL and collection.
    pub backend: String,
    /// Where searches find the lexical leg and the chunks: this directory's BM25 index,
    /// or the server collection's sparse vectors (every worker's chunks).
    pub lexical: String,
    pub tokenizer: String,
    pub chunking: ChunkingConfig,
    pub fusion: FusionConfig,
    pub documents_by_format: BTreeMap<String, usize>,
    /// Bytes under the index directory.
    pub bytes_on_disk: u64,
    /// Unix seconds of the latest catalog change.
    pub updated_at: Option<u64>,
    /// Chunks ingest flagged as instructions to an assistant (at most
    /// [`Index::STATUS_FLAGGED`]), which answers and summaries leave out by default.
    pub flagged: Vec<FlaggedChunk>,
}

/// A chunk flagged at ingest, as `docket status` lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlaggedChunk {
    pub source: String,
    pub chunk_id: String,
    pub page: u32,
    /// The rule that fired and the words it fired on.
    pub reason: String,
}

/// A document and its chunks waiting to be embedded and written.
struct Staged {
    entry: DocEntry,
    action: Action,
    chunks: Vec<Chunk>,
}

/// An open index directory.
pub struct Index {
    dir: PathBuf,
    manifest: Manifest,
    catalog: Catalog,
    lexical: Bm25Index,
    vectors: Option<Box<dyn VectorStore>>,
    embedder: Option<Arc<dyn Embedder>>,
    write: WriteConfig,
    staged: Vec<Staged>,
    staged_chunks: usize,
    /// Documents written since the last commit, to be marked indexed by it.
    uncommitted: Vec<String>,
    uncommitted_chunks: usize,
    last_commit: Instant,
    stats: WriteStats,
    /// Held by a writing handle (see [`crate::snapshot`]); `None` for a reading one.
    write_lock: Option<WriteLock>,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index")
            .field("dir", &self.dir)
            .field("manifest", &self.manifest)
            .finish_non_exhaustive()
    }
}

impl Index {
    /// Open the index at `dir` for writing, creating it with `settings` if it does not
    /// exist. An existing index must have been made with the same model, tokenizer,
    /// chunking and vector backend ([`Error::ManifestMismatch`] otherwise). Without an
    /// embedder the index is BM25-only.
    pub fn create_or_open(
        dir: &Path,
        embedder: Option<Arc<dyn Embedder>>,
        settings: &IndexSettings,
    ) -> Result<Index> {
        let wanted = Manifest {
            schema_version: SCHEMA_VERSION,
            embedder: embedder.as_ref().map(|e| e.model_id().to_owned()),
            dimension: embedder.as_ref().map(|e| e.dim()),
            tokenizer: settings.tokenizer.clone(),
            chunking: settings.chunking.clone(),
            vectors: settings.vectors.clone().unwrap_or_default(),
            fusion: None,
        };
        let manifest = match Manifest::load(dir)? {
            Some(found) => {
                let wanted = Manifest {
                    // Keep the recorded backend unless one was asked for explicitly.
                    vectors: settings
                        .vectors
                        .clone()
                        .unwrap_or_else(|| found.vectors.clone()),
                    fusion: found.fusion.clone(),
                    ..wanted
                };
                found.check(&wanted, dir)?;
                found
            }
            None => {
                wanted.vectors.validate()?;
                std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
                wanted.save(dir)?;
                wanted
            }
        };
        let write_lock = WriteLock::acquire(dir)?;
        let mut index = Self::open_parts(
            dir,
            manifest,
            embedder,
            settings.lexical.clone(),
            settings.write.clone(),
        )?;
        index.write_lock = Some(write_lock);
        Ok(index)
    }

    /// Open an existing index to search it or read its status. `embedder` embeds
    /// queries; it must be the model the index was made with. Without it, searches fall
    /// back to BM25.
    pub fn open(dir: &Path, embedder: Option<Arc<dyn Embedder>>) -> Result<Index> {
        let manifest = Manifest::load(dir)?.ok_or_else(|| Error::NotAnIndex {
            path: dir.to_owned(),
        })?;
        if let Some(e) = &embedder {
            let wanted = Manifest {
                embedder: Some(e.model_id().to_owned()),
                dimension: Some(e.dim()),
                ..manifest.clone()
            };
            manifest.check(&wanted, dir)?;
        }
        let lexical = LexicalConfig {
            analyzer: crate::lexical::read_analyzer(&dir.join(LEXICAL_DIR))?,
            ..LexicalConfig::default()
        };
        Self::open_parts(dir, manifest, embedder, lexical, WriteConfig::default())
    }

    /// Open an existing index to delete or forget documents in it: with the write lock,
    /// but no embedder (deleting embeds nothing) and the settings it was made with.
    pub fn open_for_delete(dir: &Path) -> Result<Index> {
        let manifest = Manifest::load(dir)?.ok_or_else(|| Error::NotAnIndex {
            path: dir.to_owned(),
        })?;
        let write_lock = WriteLock::acquire(dir)?;
        let lexical = LexicalConfig {
            analyzer: crate::lexical::read_analyzer(&dir.join(LEXICAL_DIR))?,
            ..LexicalConfig::default()
        };
        let mut index = Self::open_parts(dir, manifest, None, lexical, WriteConfig::default())?;
        index.write_lock = Some(write_lock);
        Ok(index)
    }

    fn open_parts(
        dir: &Path,
        manifest: Manifest,
        embedder: Option<Arc<dyn Embedder>>,
        lexical: LexicalConfig,
        write: WriteConfig,
    ) -> Result<Index> {
        let catalog = Catalog::open(&dir.join(CATALOG_FILE))?;
        let vectors = match manifest.dimension {
            Some(dimension) => Some(open_store(
                &manifest.vectors,
                dir,
                VectorSpec::cosine(dimension),
                &lexical.analyzer,
            )?),
            None => None,
        };
        let lexical = Bm25Index::open(&dir.join(LEXICAL_DIR), lexical)?;
        Ok(Index {
            dir: dir.to_owned(),
            manifest,
            catalog,
            lexical,
            vectors,
            embedder,
            write,
            staged: Vec::new(),
            staged_chunks: 0,
            uncommitted: Vec::new(),
            uncommitted_chunks: 0,
            last_commit: Instant::now(),
            stats: WriteStats::default(),
            write_lock: None,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The terms of `text` as the BM25 index sees them (stemmed, stopwords removed).
    pub fn analyze(&self, text: &str) -> Vec<String> {
        self.lexical.analyze(text)
    }

    /// How many chunks hold each of `terms` (analyzed terms, as
    /// [`analyze`](Self::analyze) gives them), and how many chunks there are: how
    /// specific a query's terms are in this index, as BM25 weighs them. A term no chunk
    /// holds is one the documents never use.
    pub fn doc_freqs(&self, terms: &[String]) -> Result<DocFreqs> {
        self.lexical.doc_freqs(terms)
    }

    /// The embedder queries are embedded with, if any.
    pub fn embedder(&self) -> Option<&dyn Embedder> {
        self.embedder.as_deref()
    }

    /// Whether dense search can run: the index has vectors and a query embedder.
    pub fn has_dense(&self) -> bool {
        self.vectors.is_some() && self.embedder.is_some()
    }

    /// The fusion settings searches use: those tuned for this index, else the default.
    pub fn fusion(&self) -> FusionConfig {
        self.manifest.fusion.clone().unwrap_or_default()
    }

    /// Store tuned fusion settings in the manifest, for every later search.
    pub fn set_fusion(&mut self, fusion: FusionConfig) -> Result<()> {
        fusion.validate()?;
        self.manifest.fusion = Some(fusion);
        self.manifest.save(&self.dir)
    }

    /// What a run must do with a document of this id and content hash, given the
    /// catalog's entry for it (see [`Catalog::entries`] to look many up at once).
    pub fn action(known: Option<&DocEntry>, content_hash: &str) -> Action {
        match known {
            None => Action::Add,
            Some(e) if e.state == DocState::Indexed && e.content_hash == content_hash => {
                Action::Keep
            }
            Some(_) => Action::Update,
        }
    }

    /// Queue a document and its chunks for writing; embeds and writes once enough
    /// chunks are queued, and commits at the configured interval. `action` comes from
    /// [`Index::action`]; a kept document is ignored.
    pub fn stage(&mut self, doc: &Document, chunks: Vec<Chunk>, action: Action) -> Result<()> {
        if action == Action::Keep {
            return Ok(());
        }
        let entry = DocEntry {
            doc_id: doc.id.clone(),
            source: doc.source.clone(),
            format: doc.format,
            title: doc.title.clone(),
            content_hash: doc.content_hash.clone(),
            state: DocState::Pending,
            chunks: chunks.len() as u32,
            pages: doc.pages.len() as u32,
            updated_at: unix_now(),
        };
        self.staged_chunks += chunks.len();
        self.staged.push(Staged {
            entry,
            action,
            chunks,
        });
        if self.staged_chunks >= self.write.batch_chunks {
            self.write_staged()?;
        }
        if self.uncommitted_chunks >= self.write.commit_chunks
            || (!self.uncommitted.is_empty()
                && self.last_commit.elapsed().as_secs() >= self.write.commit_secs)
        {
            self.commit()?;
        }
        Ok(())
    }

    /// Documents staged and not yet embedded and written (their work is not done).
    pub fn staged_documents(&self) -> usize {
        self.staged.len()
    }

    /// Embed and write what is staged now, without committing (a commit still makes
    /// it durable): so that the work of the documents staged so far is over.
    pub fn flush(&mut self) -> Result<()> {
        self.write_staged()
    }

    /// Embed and write everything staged (not yet committed).
    fn write_staged(&mut self) -> Result<()> {
        if self.staged.is_empty() {
            return Ok(());
        }
        let staged = std::mem::take(&mut self.staged);
        self.staged_chunks = 0;
        // Embedding first: it is the slow step, and a crash during it changes nothing.
        let vectors = match (&self.vectors, &self.embedder) {
            (Some(_), Some(embedder)) => {
                let texts: Vec<String> = staged
                    .iter()
                    .flat_map(|s| s.chunks.iter().map(embedding_text))
                    .collect();
                let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
                let v = embedder.embed(&refs)?;
                self.stats.chunks_embedded += v.len();
                Some(v)
            }
            (Some(_), None) => {
                return Err(Error::EmbedderRequired {
                    path: self.dir.clone(),
                });
            }
            _ => None,
        };
        let entries: Vec<DocEntry> = staged.iter().map(|s| s.entry.clone()).collect();
        self.catalog.put(&entries)?;
        let mut next = 0;
        for s in &staged {
            let id = &s.entry.doc_id;
            if s.action == Action::Update {
                self.lexical.delete_document(id)?;
                if let Some(store) = &self.vectors {
                    store.delete_document(id)?;
                }
            }
            self.lexical.add(&s.chunks)?;
            if let (Some(store), Some(vectors)) = (&self.vectors, &vectors) {
                let points: Vec<Point<'_>> = s
                    .chunks
                    .iter()
                    .zip(&vectors[next..next + s.chunks.len()])
                    .map(|(chunk, vector)| Point {
                        chunk,
                        vector,
                        content_hash: Some(&s.entry.content_hash),
                    })
                    .collect();
                store.upsert(&points)?;
            }
            next += s.chunks.len();
            match s.action {
                Action::Add => self.stats.added += 1,
                Action::Update => self.stats.updated += 1,
                Action::Keep => {}
            }
            self.stats.chunks_written += s.chunks.len();
            self.uncommitted_chunks += s.chunks.len();
            self.uncommitted.push(id.clone());
        }
        Ok(())
    }

    /// Write what is staged, commit both stores, then mark the documents indexed.
    pub fn commit(&mut self) -> Result<()> {
        self.write_staged()?;
        self.lexical.commit()?;
        if let Some(store) = &self.vectors {
            store.flush()?;
        }
        let ids: Vec<&str> = self.uncommitted.iter().map(String::as_str).collect();
        self.catalog.mark_indexed(&ids)?;
        self.stats.committed += ids.len();
        let changed = !ids.is_empty();
        self.uncommitted.clear();
        self.uncommitted_chunks = 0;
        self.last_commit = Instant::now();
        if changed {
            self.publish()?;
        }
        Ok(())
    }

    /// After a commit: count it, and let a reader that serves snapshots copy it.
    fn publish(&mut self) -> Result<()> {
        if let Some(lock) = &mut self.write_lock {
            let generation = snapshot::bump_generation(&self.dir)?;
            lock.yield_to_reader(&self.dir, generation)?;
        }
        Ok(())
    }

    /// Delete documents: mark them `Deleting` in the catalog, delete their chunks from
    /// both stores and commit them, then forget them in the catalog. Anything staged is
    /// committed first. A crash at any point leaves each document as it was or
    /// `Deleting`, which the next sync finishes (or redoes as an update when the file is
    /// there), never an `Indexed` entry whose chunks are gone.
    pub fn delete(&mut self, doc_ids: &[String]) -> Result<()> {
        self.commit()?;
        if doc_ids.is_empty() {
            return Ok(());
        }
        let ids: Vec<&str> = doc_ids.iter().map(String::as_str).collect();
        self.catalog.mark_deleting(&ids)?;
        self.purge(&ids)?;
        self.catalog.remove(&ids)?;
        self.stats.deleted += ids.len();
        self.publish()
    }

    /// Forget documents: delete them ([`Index::delete`]), note them as forgotten so
    /// that a sync does not index them again while their files are there (until
    /// [`Catalog::unforget`]), and remove every byte of them from the directory's files
    /// ([`Index::purge_traces`]).
    pub fn forget(&mut self, doc_ids: &[String]) -> Result<()> {
        let ids: Vec<&str> = doc_ids.iter().map(String::as_str).collect();
        // Noted first: a crash after it leaves the documents `Deleting` or gone, and the
        // next sync finishes the delete instead of indexing them again.
        self.catalog.forget(&ids)?;
        self.delete(doc_ids)?;
        self.purge_traces()
    }

    /// Remove what deleted documents left in the files: their terms and stored text in
    /// BM25 segments (merged away), their payloads in the embedded vector store's
    /// segments and WAL (the store is rebuilt from its live points) and their catalog
    /// entries in free pages (compacted). A Qdrant server keeps its own files; deleted
    /// points there are dropped by its optimizer, not by docket. Costs a rewrite of the
    /// BM25 index and of the embedded store, so it runs after deletes, not after writes.
    pub fn purge_traces(&mut self) -> Result<()> {
        self.commit()?;
        self.lexical.purge_deleted()?;
        if let (Some(dimension), None) =
            (self.manifest.dimension, &self.manifest.vectors.qdrant_url)
            && self.vectors.is_some()
        {
            let spec = VectorSpec::cosine(dimension);
            // The store must be closed to be replaced.
            self.vectors = None;
            EmbeddedStore::rebuild(&self.dir.join(EmbeddedStore::DIR_NAME), spec)?;
            self.vectors = Some(open_store(
                &self.manifest.vectors,
                &self.dir,
                spec,
                &self.lexical.config().analyzer,
            )?);
        }
        self.catalog.compact()?;
        self.publish()
    }

    /// Delete documents' chunks from both stores and commit both.
    pub(crate) fn purge(&mut self, doc_ids: &[&str]) -> Result<()> {
        for id in doc_ids {
            self.lexical.delete_document(id)?;
            if let Some(store) = &self.vectors {
                store.delete_document(id)?;
            }
        }
        self.lexical.commit()?;
        if let Some(store) = &self.vectors {
            store.flush()?;
        }
        Ok(())
    }

    /// What this handle wrote so far.
    pub fn stats(&self) -> WriteStats {
        self.stats
    }

    /// The two legs' rankings for a query, `n` hits each. The dense leg is empty when
    /// the index cannot run it.
    pub fn legs(&self, query: &str, n: usize, filter: &Filter, mode: Mode) -> Result<Legs> {
        let mut legs = Legs::default();
        if mode != Mode::Dense {
            let remote = match &self.vectors {
                Some(store) => store.lexical_search(query, n, filter)?,
                None => None,
            };
            legs.bm25 = match remote {
                Some(hits) => hits,
                None => self.lexical.search(query, n, filter)?,
            };
        }
        if mode != Mode::Bm25
            && let (Some(store), Some(embedder)) = (&self.vectors, &self.embedder)
        {
            let v = embedder.embed_queries(&[query])?;
            legs.dense = store.search(&v[0], n, filter)?;
        }
        Ok(legs)
    }

    /// Search: the `k` best chunks for `query` that pass `filter`. Hybrid and dense
    /// searches fall back to BM25 when the index cannot embed the query, saying so in
    /// [`SearchResults::fallback`]; an explicit dense search fails instead.
    pub fn search(
        &self,
        query: &str,
        k: usize,
        mode: Mode,
        filter: &Filter,
        fusion: Option<&FusionConfig>,
    ) -> Result<SearchResults> {
        let fallback = if self.vectors.is_none() {
            Some(Fallback::NoVectors)
        } else if self.embedder.is_none() {
            Some(Fallback::NoEmbedder)
        } else {
            None
        };
        let (mode, fallback) = match (mode, fallback) {
            (Mode::Bm25, _) => (Mode::Bm25, None),
            (_, None) => (mode, None),
            (Mode::Dense, Some(_)) => {
                return Err(Error::EmbedderRequired {
                    path: self.dir.clone(),
                });
            }
            (Mode::Hybrid, Some(f)) => (Mode::Bm25, Some(f)),
        };
        let default_fusion = self.fusion();
        let fusion = fusion.unwrap_or(&default_fusion);
        fusion.validate()?;
        let n = if mode == Mode::Hybrid {
            fusion.candidates.max(k)
        } else {
            k
        };
        let legs = self.legs(query, n, filter, mode)?;
        let fused: Vec<FusedHit> = match mode {
            Mode::Hybrid => fuse(&legs.dense, &legs.bm25, fusion),
            Mode::Dense => single_leg(&legs.dense, true),
            Mode::Bm25 => single_leg(&legs.bm25, false),
        };
        let fused: Vec<FusedHit> = fused.into_iter().take(k).collect();
        let mut chunks = self.chunks_of(fused.iter().map(|f| f.chunk_id.as_str()))?;
        let mut hits = Vec::with_capacity(fused.len());
        for f in fused {
            let Some(chunk) = chunks.remove(&f.chunk_id) else {
                continue;
            };
            hits.push(SearchHit {
                chunk,
                score: f.score,
                dense: f.dense,
                bm25: f.bm25,
            });
        }
        Ok(SearchResults {
            mode,
            fallback,
            hits,
        })
    }

    /// A fingerprint of every document in the server collection searches read (see
    /// [`searches_server`](Self::searches_server)); `None` when they read this directory,
    /// whose catalog tells what changed.
    pub fn server_digest(&self) -> Result<Option<String>> {
        match &self.vectors {
            Some(store) if store.has_lexical() => store.digest(),
            _ => Ok(None),
        }
    }

    /// The `n` best chunks for `query` by the server's own fusion of both legs; `None`
    /// unless searches read a server collection and the index can embed the query.
    pub fn server_fused(
        &self,
        query: &str,
        n: usize,
        filter: &Filter,
        fusion: ServerFusion,
    ) -> Result<Option<Vec<Hit>>> {
        match (&self.vectors, &self.embedder) {
            (Some(store), Some(embedder)) if store.has_lexical() => {
                let v = embedder.embed_queries(&[query])?;
                store.fused_search(&v[0], query, n, n, filter, fusion)
            }
            _ => Ok(None),
        }
    }

    /// Remove the vector store's data (a temporary index's server collection).
    pub fn delete_vectors(&self) -> Result<()> {
        match &self.vectors {
            Some(store) => store.delete_all(),
            None => Ok(()),
        }
    }

    /// Whether searches read the whole collection on a server (its sparse lexical leg and
    /// its payloads) rather than this directory's BM25 index, which holds only what this
    /// machine indexed (one shard of a sharded run).
    pub fn searches_server(&self) -> bool {
        self.vectors.as_ref().is_some_and(|s| s.has_lexical())
    }

    /// The stored chunks with these ids: from the server collection when searches read
    /// it, else from the BM25 index (both stores hold every chunk written here, and
    /// BM25's copy is one local read away).
    fn chunks_of<'a>(&self, ids: impl Iterator<Item = &'a str>) -> Result<HashMap<String, Chunk>> {
        let ids: Vec<&str> = ids.collect();
        let found = match &self.vectors {
            Some(store) if store.has_lexical() => store.chunks(&ids)?,
            _ => {
                let mut out = Vec::with_capacity(ids.len());
                for id in ids {
                    out.extend(self.lexical.chunk(id)?);
                }
                out
            }
        };
        Ok(found.into_iter().map(|c| (c.id.clone(), c)).collect())
    }

    /// A fragment of a chunk around the query's terms (its start when none occurs).
    pub fn snippet(&self, query: &str, chunk: &Chunk, max_chars: usize) -> Result<Snippet> {
        let found = self.lexical.snippet(query, &chunk.id, max_chars)?;
        Ok(match found {
            Some(s) if !s.fragment.is_empty() => s,
            _ => {
                let text = chunk.text.trim_start();
                let end = text
                    .char_indices()
                    .nth(max_chars)
                    .map_or(text.len(), |(i, _)| i);
                Snippet {
                    fragment: text[..end].to_owned(),
                    highlighted: Vec::new(),
                }
            }
        })
    }

    /// Most flagged chunks [`Index::status`] lists.
    pub const STATUS_FLAGGED: usize = 100;

    /// Documents, chunks, model, backend, size on disk and the flagged chunks.
    pub fn status(&self) -> Result<Status> {
        let entries = self.catalog.entries()?;
        let mut by_format: BTreeMap<String, usize> = BTreeMap::new();
        for e in &entries {
            *by_format.entry(format_name(e.format)).or_default() += 1;
        }
        let backend = match &self.manifest.vectors.qdrant_url {
            _ if self.manifest.dimension.is_none() => "none (BM25 only)".to_owned(),
            Some(url) => format!(
                "qdrant {url} collection {}",
                self.manifest.vectors.collection
            ),
            None => format!("embedded ({})", EmbeddedStore::DIR_NAME),
        };
        Ok(Status {
            path: self.dir.clone(),
            documents: entries.len(),
            pending: entries
                .iter()
                .filter(|e| e.state == DocState::Pending)
                .count(),
            chunks: entries.iter().map(|e| u64::from(e.chunks)).sum(),
            bm25_chunks: self.lexical.count()?,
            vector_points: match &self.vectors {
                Some(store) => Some(store.count()?),
                None => None,
            },
            pages: entries.iter().map(|e| u64::from(e.pages)).sum(),
            embedder: self.manifest.embedder.clone(),
            dimension: self.manifest.dimension,
            backend,
            lexical: if self.searches_server() {
                "the collection's sparse BM25 vectors (whole collection)".to_owned()
            } else {
                "BM25 index in this directory".to_owned()
            },
            tokenizer: self.manifest.tokenizer.clone(),
            chunking: self.manifest.chunking.clone(),
            fusion: self.fusion(),
            documents_by_format: by_format,
            bytes_on_disk: dir_size(&self.dir),
            updated_at: entries.iter().map(|e| e.updated_at).max(),
            flagged: self.flagged_chunks(Self::STATUS_FLAGGED)?,
        })
    }

    /// Up to `limit` chunks that ingest flagged as instructions to an assistant
    /// (`docket_ingest::instructions`), by source and position; their metadata holds
    /// the reason. From this directory's BM25 index.
    pub fn flagged_chunks(&self, limit: usize) -> Result<Vec<FlaggedChunk>> {
        use docket_ingest::instructions::{FLAG_INSTRUCTION, FLAG_KEY, FLAG_REASON_KEY};
        let chunks = self
            .lexical
            .chunks_with_metadata(FLAG_KEY, FLAG_INSTRUCTION, limit)?;
        Ok(chunks
            .into_iter()
            .map(|c| FlaggedChunk {
                reason: c.metadata.get(FLAG_REASON_KEY).cloned().unwrap_or_default(),
                source: c.source,
                chunk_id: c.id,
                page: c.page_start,
            })
            .collect())
    }

    /// The chunks of a catalogued document, in order (from the BM25 index, which stores
    /// them whole).
    pub fn document_chunks(&self, entry: &DocEntry) -> Result<Vec<Chunk>> {
        let mut out = Vec::with_capacity(entry.chunks as usize);
        for ordinal in 0..entry.chunks {
            if let Some(c) = self.lexical.chunk(&format!("{}-{ordinal}", entry.doc_id))? {
                out.push(c);
            }
        }
        Ok(out)
    }

    /// A catalogued document's metadata (front matter keys, `license`, `usage`, ...) as
    /// its first chunk carries it, without the flag ingest puts on single chunks; empty
    /// when the chunk is not in the BM25 index. One chunk read, not the document.
    pub fn document_metadata(&self, entry: &DocEntry) -> Result<BTreeMap<String, String>> {
        use docket_ingest::instructions::{FLAG_KEY, FLAG_REASON_KEY};
        let mut metadata = match self.lexical.chunk(&format!("{}-0", entry.doc_id))? {
            Some(c) => c.metadata,
            None => BTreeMap::new(),
        };
        metadata.remove(FLAG_KEY);
        metadata.remove(FLAG_REASON_KEY);
        Ok(metadata)
    }

    /// A document's text rebuilt from its chunks: each chunk is its exact byte range of
    /// the ingested text, so offsets into the result are offsets into the document
    /// (anything no chunk covers, such as blank lines between sections, reads as spaces).
    pub fn document_text(&self, entry: &DocEntry) -> Result<String> {
        Ok(text_of_chunks(&self.document_chunks(entry)?))
    }

    /// The catalog's entries by document id, for planning a run.
    pub fn known(&self) -> Result<HashMap<String, DocEntry>> {
        Ok(self
            .catalog
            .entries()?
            .into_iter()
            .map(|e| (e.doc_id.clone(), e))
            .collect())
    }
}

/// A document's text from its chunks, as [`Index::document_text`] rebuilds it (for a
/// caller that also needs the chunks themselves).
pub fn text_of_chunks(chunks: &[Chunk]) -> String {
    let len = chunks.iter().map(|c| c.end).max().unwrap_or(0);
    let mut bytes = vec![b' '; len];
    for c in chunks {
        if c.end - c.start == c.text.len() {
            bytes[c.start..c.end].copy_from_slice(c.text.as_bytes());
        }
    }
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// The text a chunk is embedded as: its title (when it has one that the text does not
/// already start with) and its text. A chunk cut from the middle of a document often
/// does not name what it is about; the title puts it back in context. A chunk cut from
/// the middle of a table carries the table's header row last in its heading path
/// (cells joined by ` | `): it goes on the line before the rows, so they read as a
/// table with its header.
pub fn embedding_text(chunk: &Chunk) -> String {
    let header = chunk
        .heading_path
        .last()
        .filter(|h| h.contains(" | ") && !chunk.text.starts_with(h.as_str()));
    let body = match header {
        Some(h) => format!("{h}\n{}", chunk.text),
        None => chunk.text.clone(),
    };
    match chunk.title.as_deref().map(str::trim) {
        Some(t) if !t.is_empty() && !chunk.text.trim_start().starts_with(t) => {
            format!("{t}\n\n{body}")
        }
        _ => body,
    }
}

fn format_name(format: Format) -> String {
    serde_json::to_value(format)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{format:?}").to_lowercase())
}

/// Bytes a file takes on disk: its allocated blocks, since the vector store's WAL and
/// mmap files are sparse (64 MiB long, mostly holes, for a small index).
#[cfg(unix)]
fn disk_bytes(m: &std::fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    m.blocks() * 512
}

#[cfg(not(unix))]
fn disk_bytes(m: &std::fs::Metadata) -> u64 {
    m.len()
}

/// Bytes of the files under `dir` on disk (0 for what cannot be read).
fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path()),
            Ok(_) => e.metadata().map_or(0, |m| disk_bytes(&m)),
            Err(_) => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(text: &str, heading_path: &[&str]) -> Chunk {
        Chunk {
            id: "d-1".into(),
            doc_id: "d".into(),
            ordinal: 1,
            text: text.into(),
            start: 40,
            end: 40 + text.len(),
            page_start: 1,
            page_end: 1,
            heading_path: heading_path.iter().map(|h| h.to_string()).collect(),
            token_count: 9,
            source: "prices.html".into(),
            title: Some("Prices".into()),
            format: docket_ingest::Format::Html,
            metadata: Default::default(),
        }
    }

    #[test]
    fn a_mid_table_chunk_is_embedded_under_its_header_row() {
        let rows = "Model F | 135 EUR | 17\nModel G | 142 EUR | 20";
        let c = chunk(rows, &["Price list", "Product | Price | Stock"]);
        assert_eq!(
            embedding_text(&c),
            format!("Prices\n\nProduct | Price | Stock\n{rows}")
        );
        // Plain headings stay out of the embedded text, as before.
        let c = chunk("Lunch is at noon.", &["Canteen"]);
        assert_eq!(embedding_text(&c), "Prices\n\nLunch is at noon.");
    }
}
