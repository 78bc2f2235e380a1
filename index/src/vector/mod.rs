//! Vector stores: where chunk embeddings live and are searched by nearest neighbour.
//!
//! Two backends share one data model, so moving from the embedded store to a cluster is a
//! config change and a re-upload:
//! - [`EmbeddedStore`] (the default): qdrant-edge in-process, persisted under
//!   `<index dir>/vectors/`;
//! - [`ServerStore`]: a Qdrant server or cluster over gRPC, chosen by
//!   [`VectorStoreConfig::qdrant_url`].
//!
//! Every point is one chunk: its id is derived from the chunk id ([`point_id`]) so that
//! upserting a chunk again overwrites it, which makes upserts idempotent and re-upserting
//! the recovery path after a crash. Its payload is the chunk itself (see [`payload`]).

mod config;
mod embedded;
mod payload;
mod plan;
mod server;
pub mod sparse;

use std::path::Path;

use docket_ingest::Chunk;

use crate::error::Result;
use crate::filter::{Filter, Hit};
use crate::lexical::AnalyzerConfig;

pub use config::{VectorStoreConfig, WriteOrdering};
pub use embedded::EmbeddedStore;
pub use payload::{point_id, source_glob_matcher};
pub use server::{ServerFusion, ServerStore};
pub use sparse::{IdfSource, SparseConfig, SparseEncoder, SparseVector, bm25_idf};

/// How vectors are compared. Scores are "higher is better" for both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Distance {
    /// Cosine similarity; vectors are normalised on upsert.
    Cosine,
    /// Raw dot product, for models that already emit unit vectors.
    Dot,
}

impl Distance {
    fn name(self) -> &'static str {
        match self {
            Distance::Cosine => "cosine",
            Distance::Dot => "dot",
        }
    }
}

/// Shape of the vectors a store holds; fixed when the store is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VectorSpec {
    pub dimension: usize,
    pub distance: Distance,
}

impl VectorSpec {
    pub fn cosine(dimension: usize) -> Self {
        VectorSpec {
            dimension,
            distance: Distance::Cosine,
        }
    }
}

/// One chunk and its embedding, as given to [`VectorStore::upsert`].
#[derive(Debug, Clone, Copy)]
pub struct Point<'a> {
    pub chunk: &'a Chunk,
    pub vector: &'a [f32],
    /// Content hash of the chunk's document, stored with the point when given.
    pub content_hash: Option<&'a str>,
}

/// A store of chunk embeddings. Implementations are synchronous and may be shared between
/// threads; writes are serialised inside the store.
///
/// Consistency contract with the catalog: a document counts as indexed only once
/// [`flush`](VectorStore::flush) has returned after its upsert. Upserts are idempotent, so
/// after a crash the recovery is to upsert again every document not marked indexed. To
/// replace a document whose chunks changed, [`delete_document`](VectorStore::delete_document)
/// first: chunks beyond the new count would otherwise stay.
pub trait VectorStore: Send + Sync + std::fmt::Debug {
    /// Dimension and distance the store was opened with.
    fn spec(&self) -> VectorSpec;

    /// Insert or overwrite points (keyed by chunk id). Fails before writing anything if a
    /// vector has the wrong dimension or is not finite.
    fn upsert(&self, points: &[Point<'_>]) -> Result<()>;

    /// Remove every point of a document. Removing an unknown document is not an error.
    fn delete_document(&self, doc_id: &str) -> Result<()>;

    /// Make every write so far durable.
    fn flush(&self) -> Result<()>;

    /// The `k` points nearest to `vector` that pass `filter`, best first.
    fn search(&self, vector: &[f32], k: usize, filter: &Filter) -> Result<Vec<Hit>>;

    /// Number of points stored.
    fn count(&self) -> Result<usize>;

    /// Whether the store holds a lexical leg of its own over every chunk (a server
    /// collection's sparse vectors), which then replaces the local BM25 index in searches.
    fn has_lexical(&self) -> bool {
        false
    }

    /// Both legs fused by the store itself (Qdrant's RRF or DBSF over `n` candidates of
    /// each leg), for comparing with docket's own fusion; `None` without a lexical leg.
    fn fused_search(
        &self,
        vector: &[f32],
        query: &str,
        k: usize,
        n: usize,
        filter: &Filter,
        fusion: ServerFusion,
    ) -> Result<Option<Vec<Hit>>> {
        let _ = (vector, query, k, n, filter, fusion);
        Ok(None)
    }

    /// Remove the store and everything in it (a temporary evaluation index's collection);
    /// a no-op for the embedded store, which lives in the index directory.
    fn delete_all(&self) -> Result<()> {
        Ok(())
    }

    /// A fingerprint of every document the store holds (ids and content hashes), for
    /// telling whether anything changed since an output was made; `None` where the
    /// catalog next to the store already tells.
    fn digest(&self) -> Result<Option<String>> {
        Ok(None)
    }

    /// The `k` best chunks for a plain-text query by the store's lexical leg; `None` when
    /// it has none.
    fn lexical_search(&self, query: &str, k: usize, filter: &Filter) -> Result<Option<Vec<Hit>>> {
        let _ = (query, k, filter);
        Ok(None)
    }

    /// The chunks stored under these ids, in the order asked; unknown ids are left out.
    fn chunks(&self, chunk_ids: &[&str]) -> Result<Vec<Chunk>>;

    /// Build search indexes (HNSW) and compact deleted points, blocking writes and searches
    /// until done. Returns whether anything was done; a no-op on a server, which optimises
    /// in the background. On the embedded store, measured (`benches/vectors.rs`, 384-d
    /// random unit vectors, 2 busy cores): exact search is 2.3 ms/query at 20k points and
    /// 23 ms at 100k; optimising takes 18 s / 166 s and makes search 4-20x faster but, with
    /// the default HNSW settings on random vectors, recall@10 drops to 0.39 / 0.14. Real
    /// embeddings are far easier for HNSW, but until recall is measured on them, do not
    /// call this at docket's scale (up to a few hundred thousand chunks).
    fn optimize(&self) -> Result<bool>;
}

/// Open the store that `config` chooses: the Qdrant server at `qdrant_url` if one is set,
/// else the embedded store under `<index_dir>/vectors/`. Creates the store (or collection)
/// if it does not exist yet. `analyzer` makes the terms of a server's lexical leg.
pub fn open_store(
    config: &VectorStoreConfig,
    index_dir: &Path,
    spec: VectorSpec,
    analyzer: &AnalyzerConfig,
) -> Result<Box<dyn VectorStore>> {
    config.validate()?;
    match &config.qdrant_url {
        Some(url) => Ok(Box::new(ServerStore::connect_with(
            url, config, spec, analyzer,
        )?)),
        None => Ok(Box::new(EmbeddedStore::open(
            &index_dir.join(EmbeddedStore::DIR_NAME),
            spec,
        )?)),
    }
}

/// Check a vector against the store's spec before it reaches the engine, whose own errors
/// would not say which chunk was at fault.
pub(crate) fn check_vector(store: &str, spec: VectorSpec, chunk_id: &str, v: &[f32]) -> Result<()> {
    if v.len() != spec.dimension {
        return Err(crate::error::Error::DimensionMismatch {
            store: store.to_owned(),
            expected: spec.dimension,
            found: v.len(),
        });
    }
    if !v.iter().all(|x| x.is_finite()) {
        return Err(crate::error::Error::NonFiniteVector {
            chunk_id: chunk_id.to_owned(),
        });
    }
    Ok(())
}
