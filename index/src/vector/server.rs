//! The server vector store: a collection on a Qdrant server or cluster, over gRPC.
//!
//! The client is async; this store owns a small current-thread tokio runtime and blocks on
//! it. Called from a thread where another runtime is current (a `spawn_blocking` thread of
//! `docket serve`), it blocks on a scoped thread of its own, since a thread cannot drive
//! two runtimes. Do not call it from an async task: that blocks the task's worker.
//! Writes use `wait=true`: once a call returns, the server has applied the write to its WAL,
//! so [`VectorStore::flush`] has nothing left to do. Transient failures (unavailable,
//! deadline exceeded, rate-limited, I/O) are retried with exponential backoff; all writes
//! are idempotent (deterministic point ids, delete by filter), so a retry after a lost reply
//! is safe.
//!
//! The lexical leg's scores do not depend on how the collection is sharded: a query's
//! inverse document frequencies are counted over the whole collection before the sparse
//! search (see [`sparse`](super::sparse) and [`IdfSource`]).

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use docket_ingest::Chunk;
use qdrant_client::qdrant::{
    Condition, CountPointsBuilder, CreateCollectionBuilder, CreateFieldIndexCollectionBuilder,
    DeletePointsBuilder, Distance as QDistance, FacetCountsBuilder, FieldType, Filter as QFilter,
    Fusion, GetPointsBuilder, IntegerIndexParamsBuilder, Modifier, NamedVectors,
    PayloadIncludeSelector, PointId, PointStruct, PrefetchQueryBuilder, Query, QueryPointsBuilder,
    ScoredPoint, SparseVectorParamsBuilder, SparseVectorsConfigBuilder, UpsertPointsBuilder,
    Vector, VectorInput, VectorParamsBuilder, WriteOrdering as QWriteOrdering, WriteOrderingType,
    facet_value, vectors_config,
};
use qdrant_client::{Payload, Qdrant, QdrantError};
use tokio::runtime::Runtime;

use crate::error::{Error, Result};
use crate::filter::{Filter, Hit};

use super::config::{VectorStoreConfig, WriteOrdering};
use super::payload::{
    CHUNK_ID, CONTENT_HASH, DOC_ID, FORMAT, INDEXED_FIELDS, METADATA_KV, SOURCE, TERM_IDS,
    chunk_from_payload, chunk_payload, point_id,
};
use super::plan::FilterPlan;
use super::sparse::{IdfSource, SPARSE_VECTOR, SparseEncoder, SparseVector};
use super::{Distance, Point, VectorSpec, VectorStore, check_vector};
use crate::lexical::AnalyzerConfig;

/// Points per upsert request: keeps a request around a megabyte with 384-d vectors and
/// chunk text, well under gRPC message limits.
const UPSERT_BATCH: usize = 256;

/// Longest wait between two retries.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Chunk embeddings in a collection of a Qdrant server or cluster.
pub struct ServerStore {
    client: Qdrant,
    runtime: Runtime,
    url: String,
    collection: String,
    spec: VectorSpec,
    max_retries: u32,
    initial_backoff: Duration,
    ordering: WriteOrdering,
    replication_factor: u32,
    /// The sparse lexical leg, when the collection has one, and where its idf comes from.
    lexical: Option<(SparseEncoder, IdfSource)>,
    /// The lexical leg's average chunk length, once read or decided (see
    /// [`Self::avg_terms`]).
    avg_terms: std::sync::OnceLock<f32>,
}

/// Metadata key, in the meta collection, of the lexical leg's average chunk length.
const AVG_TERMS_KEY: &str = "docket_sparse_avg_terms";

/// How [`ServerStore::fused_search`] combines the two legs on the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerFusion {
    /// Qdrant's reciprocal rank fusion.
    Rrf,
    /// Qdrant's distribution-based score fusion.
    Dbsf,
}

impl std::fmt::Debug for ServerStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerStore")
            .field("url", &self.url)
            .field("collection", &self.collection)
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

/// Whether a failed request may succeed later, and how long the server asked us to wait.
enum Failure {
    Transient(Option<Duration>),
    Permanent,
}

fn classify(e: &QdrantError) -> Failure {
    use tonic::Code;
    match e {
        QdrantError::ResponseError { status } => match status.code() {
            Code::Unavailable
            | Code::DeadlineExceeded
            | Code::Aborted
            | Code::ResourceExhausted
            | Code::Cancelled => Failure::Transient(None),
            // The client reports a refused or dropped connection as "internal" or "unknown".
            Code::Internal if status.message().starts_with("Failed to connect") => {
                Failure::Transient(None)
            }
            // A cluster node asked about a collection another node just created, before
            // its shards are active there ("0 of 0 read operations failed").
            Code::Internal if status.message().contains("operations failed") => {
                Failure::Transient(None)
            }
            Code::Unknown if status.message().contains("transport error") => {
                Failure::Transient(None)
            }
            _ => Failure::Permanent,
        },
        QdrantError::ResourceExhaustedError {
            retry_after_seconds,
            ..
        } => Failure::Transient(Some(Duration::from_secs(*retry_after_seconds))),
        QdrantError::Io(_) => Failure::Transient(None),
        _ => Failure::Permanent,
    }
}

impl ServerStore {
    /// Connect to the server at `url` and make sure the collection exists for `spec`: create
    /// it (with the configured shards and replicas) if missing, else check that its vectors
    /// have the same dimension and distance. Also creates the payload indexes filters need.
    /// The API key, if any, is read from the environment variable `config.api_key_env`.
    /// A new collection gets the sparse lexical leg (unless `config.sparse` turns it off),
    /// with terms from the default analyzer; see [`connect_with`](Self::connect_with).
    pub fn connect(url: &str, config: &VectorStoreConfig, spec: VectorSpec) -> Result<Self> {
        Self::connect_with(url, config, spec, &AnalyzerConfig::default())
    }

    /// [`connect`](Self::connect), with the sparse leg's terms made by `analyzer` (the
    /// BM25 index's, so both lexical legs agree).
    pub fn connect_with(
        url: &str,
        config: &VectorStoreConfig,
        spec: VectorSpec,
        analyzer: &AnalyzerConfig,
    ) -> Result<Self> {
        config.validate()?;
        let collection = config.collection.clone();
        let api_key = std::env::var(&config.api_key_env)
            .ok()
            .filter(|k| !k.is_empty());
        let client = Qdrant::from_url(url)
            .api_key(api_key)
            .timeout(Duration::from_secs(config.timeout_secs))
            .connect_timeout(Duration::from_secs(config.timeout_secs))
            // The compatibility check prints to stdout; the first request below tells
            // whether the server answers.
            .skip_compatibility_check()
            .build()
            .map_err(|e| Error::Server {
                collection: collection.clone(),
                operation: "connect",
                reason: e.to_string(),
            })?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Server {
                collection: collection.clone(),
                operation: "start client runtime",
                reason: e.to_string(),
            })?;
        let mut store = ServerStore {
            client,
            runtime,
            url: url.to_owned(),
            collection,
            spec,
            max_retries: config.max_retries,
            initial_backoff: Duration::from_millis(config.initial_backoff_ms),
            ordering: config.write_ordering,
            replication_factor: config.replication_factor,
            lexical: None,
            avg_terms: std::sync::OnceLock::new(),
        };
        if let Some(idf) = store.ensure_collection(config)? {
            store.lexical = Some((SparseEncoder::new(analyzer, config.sparse.clone())?, idf));
        }
        Ok(store)
    }

    pub fn collection(&self) -> &str {
        &self.collection
    }

    /// Where the collection's lexical leg gets its idf from; `None` without the leg.
    pub fn idf_source(&self) -> Option<IdfSource> {
        self.lexical.as_ref().map(|(_, idf)| *idf)
    }

    /// The number of points and, for each term id, the number of points holding it: exact
    /// counts over the whole collection, sent together so the query waits for about one
    /// round trip.
    fn doc_freqs(&self, term_ids: &[u32]) -> Result<(u64, Vec<u64>)> {
        let count = |filter: Option<QFilter>| {
            let mut request = CountPointsBuilder::new(&self.collection).exact(true);
            if let Some(f) = filter {
                request = request.filter(f);
            }
            let response = self.client.count(request);
            async move {
                let counted = response.await?.result.map(|r| r.count).unwrap_or(0);
                Ok::<u64, QdrantError>(counted)
            }
        };
        self.call("count term frequencies", || {
            let total = count(None);
            let per_term = futures_util::future::try_join_all(term_ids.iter().map(|&id| {
                count(Some(QFilter::must([Condition::matches(
                    TERM_IDS,
                    i64::from(id),
                )])))
            }));
            futures_util::future::try_join(total, per_term)
        })
    }

    /// A query's sparse vector as the collection scores it: with the collection's idf
    /// already in its weights, or raw where the server applies its own modifier.
    fn sparse_query(
        &self,
        encoder: &SparseEncoder,
        idf: IdfSource,
        query: &str,
    ) -> Result<SparseVector> {
        let raw = encoder.query(query);
        if raw.is_empty() || idf == IdfSource::PerShard {
            return Ok(raw);
        }
        let (n, doc_freqs) = self.doc_freqs(&raw.indices)?;
        Ok(raw.weighted_by_idf(n, &doc_freqs))
    }

    /// The collection that holds the lexical leg's average chunk length in its metadata:
    /// creating a collection is atomic on a cluster (through its consensus), so the first
    /// writer to create it decides the value for everyone.
    fn meta_collection(&self) -> String {
        format!("{}__docket_meta", self.collection)
    }

    fn read_avg_terms(&self) -> Result<Option<f32>> {
        let meta = self.meta_collection();
        if !self.call("check meta collection", || {
            self.client.collection_exists(&meta)
        })? {
            return Ok(None);
        }
        let info = self.call("read meta collection", || {
            self.client.collection_info(&meta)
        })?;
        let value = info
            .result
            .and_then(|i| i.config)
            .and_then(|c| c.metadata.get(AVG_TERMS_KEY).cloned())
            .map(|v| v.into_json())
            .and_then(|v| v.as_f64());
        Ok(value.map(|v| v as f32))
    }

    /// The average chunk length the lexical leg's weights use: the collection's, else
    /// (first write to it) the configured one or the mean of `first`, made the
    /// collection's by creating the meta collection; if another writer created it first,
    /// its value wins.
    fn avg_terms(&self, encoder: &SparseEncoder, first: &[Point<'_>]) -> Result<f32> {
        if let Some(v) = self.avg_terms.get() {
            return Ok(*v);
        }
        let value = match self.read_avg_terms()? {
            Some(v) => v,
            None => {
                let estimate = encoder
                    .configured_avg_terms()
                    .unwrap_or_else(|| encoder.mean_terms(first.iter().map(|p| p.chunk)));
                let meta = self.meta_collection();
                let metadata: HashMap<String, serde_json::Value> =
                    [(AVG_TERMS_KEY.to_owned(), serde_json::json!(estimate))].into();
                let created = self.call("create meta collection", || {
                    self.client.create_collection(
                        CreateCollectionBuilder::new(&meta)
                            .vectors_config(VectorParamsBuilder::new(1, QDistance::Dot))
                            .replication_factor(self.replication_factor)
                            .metadata(metadata.clone()),
                    )
                });
                match (created, self.read_avg_terms()?) {
                    (_, Some(v)) => v,
                    (Err(e), None) => return Err(e),
                    (Ok(_), None) => estimate,
                }
            }
        };
        Ok(*self.avg_terms.get_or_init(|| value))
    }

    fn ordering(&self) -> QWriteOrdering {
        let kind = match self.ordering {
            WriteOrdering::Weak => WriteOrderingType::Weak,
            WriteOrdering::Medium => WriteOrderingType::Medium,
            WriteOrdering::Strong => WriteOrderingType::Strong,
        };
        QWriteOrdering {
            r#type: kind as i32,
        }
    }

    /// Run one request to completion, retrying transient failures with exponential backoff.
    fn call<T, F, Fut>(&self, operation: &'static str, request: F) -> Result<T>
    where
        F: FnMut() -> Fut + Send,
        Fut: Future<Output = std::result::Result<T, QdrantError>>,
        T: Send,
    {
        // A thread of another runtime (`docket serve`'s blocking pool) cannot block on
        // this one; a scoped thread of its own can.
        if tokio::runtime::Handle::try_current().is_ok() {
            return std::thread::scope(|s| {
                s.spawn(|| self.call_here(operation, request))
                    .join()
                    .unwrap_or_else(|_| {
                        Err(Error::Server {
                            collection: self.collection.clone(),
                            operation,
                            reason: "the request's thread panicked".into(),
                        })
                    })
            });
        }
        self.call_here(operation, request)
    }

    fn call_here<T, F, Fut>(&self, operation: &'static str, mut request: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = std::result::Result<T, QdrantError>>,
    {
        self.runtime.block_on(async {
            let mut backoff = self.initial_backoff;
            let mut attempt = 1;
            loop {
                let err = match request().await {
                    Ok(v) => return Ok(v),
                    Err(e) => e,
                };
                match classify(&err) {
                    Failure::Transient(asked) if attempt <= self.max_retries => {
                        let wait = asked.unwrap_or(backoff).max(backoff).min(MAX_BACKOFF);
                        tokio::time::sleep(wait).await;
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                        attempt += 1;
                    }
                    Failure::Transient(_) => {
                        return Err(Error::ServerTransient {
                            collection: self.collection.clone(),
                            operation,
                            attempts: attempt,
                            reason: err.to_string(),
                        });
                    }
                    Failure::Permanent => {
                        return Err(Error::Server {
                            collection: self.collection.clone(),
                            operation,
                            reason: err.to_string(),
                        });
                    }
                }
            }
        })
    }

    /// Create the collection if missing and check it; returns where its sparse lexical leg
    /// gets its idf from, `None` when it has no such leg.
    fn ensure_collection(&self, config: &VectorStoreConfig) -> Result<Option<IdfSource>> {
        let name = &self.collection;
        let exists = self.call("check collection", || self.client.collection_exists(name))?;
        if !exists {
            let created = self.call("create collection", || {
                let mut request = CreateCollectionBuilder::new(name)
                    .vectors_config(VectorParamsBuilder::new(
                        self.spec.dimension as u64,
                        server_distance(self.spec.distance),
                    ))
                    .shard_number(config.shard_number)
                    .replication_factor(config.replication_factor)
                    .write_consistency_factor(config.write_consistency_factor);
                if config.sparse.enabled {
                    // No `idf` modifier: it would be computed per shard. Queries bring
                    // the collection's idf in their weights instead.
                    let mut sparse = SparseVectorsConfigBuilder::default();
                    sparse.add_named_vector_params(
                        SPARSE_VECTOR,
                        SparseVectorParamsBuilder::default().modifier(Modifier::None as i32),
                    );
                    request = request.sparse_vectors_config(sparse);
                }
                self.client.create_collection(request)
            });
            // Another process may have created it in between; the check below decides.
            if let Err(e) = created
                && !self.call("check collection", || self.client.collection_exists(name))?
            {
                return Err(e);
            }
        }
        let idf = self.check_spec()?;
        if idf == Some(IdfSource::Collection) {
            // Only lookups (a term's points), no ranges.
            self.call("create payload index", || {
                self.client.create_field_index(
                    CreateFieldIndexCollectionBuilder::new(name, TERM_IDS, FieldType::Integer)
                        .field_index_params(IntegerIndexParamsBuilder::new(true, false))
                        .wait(true),
                )
            })?;
        }
        for field in INDEXED_FIELDS {
            // Creating an index that exists is accepted by the server.
            self.call("create payload index", || {
                self.client.create_field_index(
                    CreateFieldIndexCollectionBuilder::new(name, field, FieldType::Keyword)
                        .wait(true),
                )
            })?;
        }
        Ok(idf)
    }

    /// Check the collection's vectors against the spec; returns where its sparse lexical
    /// leg gets its idf from (the `idf` modifier, set by earlier versions, means per
    /// shard), `None` when it has no such leg.
    fn check_spec(&self) -> Result<Option<IdfSource>> {
        let info = self.call("read collection", || {
            self.client.collection_info(&self.collection)
        })?;
        let params = info.result.and_then(|i| i.config).and_then(|c| c.params);
        let idf = params
            .as_ref()
            .and_then(|p| p.sparse_vectors_config.as_ref())
            .and_then(|s| s.map.get(SPARSE_VECTOR))
            .map(|p| match p.modifier {
                Some(m) if m == Modifier::Idf as i32 => IdfSource::PerShard,
                _ => IdfSource::Collection,
            });
        let params = params.and_then(|p| p.vectors_config).and_then(|v| v.config);
        let Some(vectors_config::Config::Params(params)) = params else {
            return Err(Error::Server {
                collection: self.collection.clone(),
                operation: "read collection",
                reason: "the collection has no single unnamed vector (not created by docket?)"
                    .into(),
            });
        };
        let store = format!("{} collection {}", self.url, self.collection);
        if params.size != self.spec.dimension as u64 {
            return Err(Error::DimensionMismatch {
                store,
                expected: usize::try_from(params.size).unwrap_or(usize::MAX),
                found: self.spec.dimension,
            });
        }
        let wanted = server_distance(self.spec.distance);
        if params.distance != wanted as i32 {
            return Err(Error::DistanceMismatch {
                store,
                existing: QDistance::try_from(params.distance)
                    .map(|d| d.as_str_name().to_lowercase())
                    .unwrap_or_else(|_| params.distance.to_string()),
                requested: self.spec.distance.name().to_owned(),
            });
        }
        Ok(idf)
    }

    fn store_name(&self) -> String {
        format!("{} collection {}", self.url, self.collection)
    }

    /// Conditions for everything but the source glob.
    fn base_conditions(plan: &FilterPlan) -> Vec<Condition> {
        let mut must = Vec::new();
        if !plan.doc_ids.is_empty() {
            must.push(Condition::matches(DOC_ID, plan.doc_ids.clone()));
        }
        if !plan.formats.is_empty() {
            must.push(Condition::matches(FORMAT, plan.formats.clone()));
        }
        for kv in &plan.metadata_kv {
            must.push(Condition::matches(METADATA_KV, kv.clone()));
        }
        must
    }

    /// The filter's conditions, or `None` when nothing can pass it.
    fn conditions(&self, filter: &Filter) -> Result<Option<Vec<Condition>>> {
        let plan = FilterPlan::new(filter)?;
        let mut must = Self::base_conditions(&plan);
        if plan.needs_sources() {
            let sources = plan.select_sources(self.distinct_sources(&must)?);
            if sources.is_empty() {
                return Ok(None);
            }
            must.push(Condition::matches(SOURCE, sources));
        }
        Ok(Some(must))
    }

    /// Run a query and read its hits.
    fn query(
        &self,
        operation: &'static str,
        k: usize,
        must: &[Condition],
        build: impl Fn() -> QueryPointsBuilder + Sync,
    ) -> Result<Vec<Hit>> {
        let response = self.call(operation, || {
            let mut request = build()
                .limit(k as u64)
                .with_payload(PayloadIncludeSelector::new(vec![
                    CHUNK_ID.to_owned(),
                    DOC_ID.to_owned(),
                ]));
            if !must.is_empty() {
                request = request.filter(QFilter::must(must.to_vec()));
            }
            self.client.query(request)
        })?;
        response.result.into_iter().map(|p| self.hit(p)).collect()
    }

    fn hit(&self, p: ScoredPoint) -> Result<Hit> {
        let field = |key: &str| {
            p.payload
                .get(key)
                .and_then(|v| v.as_str())
                .map(|s| s.to_owned())
        };
        match (field(CHUNK_ID), field(DOC_ID)) {
            (Some(chunk_id), Some(doc_id)) => Ok(Hit {
                chunk_id,
                doc_id,
                score: p.score,
            }),
            _ => Err(Error::Payload {
                store: self.store_name(),
                point: format!("{:?}", p.id),
                reason: "no chunk id or document id".into(),
            }),
        }
    }

    fn distinct_sources(&self, must: &[Condition]) -> Result<Vec<String>> {
        let total = self.count()?;
        let response = self.call("list sources", || {
            let mut request = FacetCountsBuilder::new(&self.collection, SOURCE)
                .limit(total.max(1) as u64)
                .exact(true);
            if !must.is_empty() {
                request = request.filter(QFilter::must(must.to_vec()));
            }
            self.client.facet(request)
        })?;
        Ok(response
            .hits
            .into_iter()
            .filter_map(|hit| match hit.value?.variant? {
                facet_value::Variant::StringValue(s) => Some(s),
                _ => None,
            })
            .collect())
    }
}

impl VectorStore for ServerStore {
    fn spec(&self) -> VectorSpec {
        self.spec
    }

    fn upsert(&self, points: &[Point<'_>]) -> Result<()> {
        let name = self.store_name();
        let mut all = Vec::with_capacity(points.len());
        for p in points {
            check_vector(&name, self.spec, &p.chunk.id, p.vector)?;
            let mut payload = chunk_payload(p.chunk)?;
            if let Some(hash) = p.content_hash {
                payload.insert(CONTENT_HASH.to_owned(), hash.into());
            }
            let id = point_id(&p.chunk.id).to_string();
            all.push(match &self.lexical {
                Some((encoder, idf)) => {
                    let sparse = encoder.document(p.chunk, self.avg_terms(encoder, points)?);
                    if *idf == IdfSource::Collection {
                        let ids = sparse.indices.iter().map(|&id| i64::from(id).into());
                        payload
                            .insert(TERM_IDS.to_owned(), serde_json::Value::Array(ids.collect()));
                    }
                    let mut vectors =
                        NamedVectors::default().add_vector("", Vector::new_dense(p.vector));
                    // Qdrant refuses an empty sparse vector; a chunk without terms has none.
                    if !sparse.is_empty() {
                        vectors = vectors.add_vector(
                            SPARSE_VECTOR,
                            Vector::new_sparse(sparse.indices, sparse.values),
                        );
                    }
                    PointStruct::new(id, vectors, Payload::from(payload))
                }
                None => PointStruct::new(id, p.vector.to_vec(), Payload::from(payload)),
            });
        }
        for batch in all.chunks(UPSERT_BATCH) {
            self.call("upsert", || {
                self.client.upsert_points(
                    UpsertPointsBuilder::new(&self.collection, batch.to_vec())
                        .wait(true)
                        .ordering(self.ordering()),
                )
            })?;
        }
        Ok(())
    }

    fn delete_document(&self, doc_id: &str) -> Result<()> {
        self.call("delete document", || {
            self.client.delete_points(
                DeletePointsBuilder::new(&self.collection)
                    .points(QFilter::must([Condition::matches(
                        DOC_ID,
                        doc_id.to_owned(),
                    )]))
                    .wait(true)
                    .ordering(self.ordering()),
            )
        })?;
        Ok(())
    }

    fn flush(&self) -> Result<()> {
        // Every write already waited for the server to apply it.
        Ok(())
    }

    fn search(&self, vector: &[f32], k: usize, filter: &Filter) -> Result<Vec<Hit>> {
        check_vector(&self.store_name(), self.spec, "<query>", vector)?;
        if k == 0 {
            return Ok(Vec::new());
        }
        let Some(must) = self.conditions(filter)? else {
            return Ok(Vec::new());
        };
        self.query("search", k, &must, || {
            QueryPointsBuilder::new(&self.collection).query(Query::new_nearest(vector.to_vec()))
        })
    }

    fn has_lexical(&self) -> bool {
        self.lexical.is_some()
    }

    fn fused_search(
        &self,
        vector: &[f32],
        query: &str,
        k: usize,
        n: usize,
        filter: &Filter,
        fusion: ServerFusion,
    ) -> Result<Option<Vec<Hit>>> {
        let Some((encoder, idf)) = &self.lexical else {
            return Ok(None);
        };
        check_vector(&self.store_name(), self.spec, "<query>", vector)?;
        let Some(must) = self.conditions(filter)? else {
            return Ok(Some(Vec::new()));
        };
        let sparse = self.sparse_query(encoder, *idf, query)?;
        let fusion = match fusion {
            ServerFusion::Rrf => Fusion::Rrf,
            ServerFusion::Dbsf => Fusion::Dbsf,
        };
        let leg_filter = (!must.is_empty()).then(|| QFilter::must(must.clone()));
        let hits = self.query("fused search", k, &[], || {
            let mut dense = PrefetchQueryBuilder::default()
                .query(Query::new_nearest(vector.to_vec()))
                .limit(n as u64);
            let mut lexical = PrefetchQueryBuilder::default()
                .query(Query::new_nearest(VectorInput::new_sparse(
                    sparse.indices.clone(),
                    sparse.values.clone(),
                )))
                .using(SPARSE_VECTOR)
                .limit(n as u64);
            if let Some(f) = &leg_filter {
                dense = dense.filter(f.clone());
                lexical = lexical.filter(f.clone());
            }
            let mut request = QueryPointsBuilder::new(&self.collection).add_prefetch(dense);
            if !sparse.is_empty() {
                request = request.add_prefetch(lexical);
            }
            request.query(Query::new_fusion(fusion))
        })?;
        Ok(Some(hits))
    }

    fn delete_all(&self) -> Result<()> {
        self.call("delete collection", || {
            self.client.delete_collection(&self.collection)
        })?;
        let meta = self.meta_collection();
        self.call("delete meta collection", || {
            self.client.delete_collection(&meta)
        })?;
        Ok(())
    }

    fn digest(&self) -> Result<Option<String>> {
        // Two exact facets: every document id and every content hash with their chunk
        // counts. An edit changes a hash, a rename an id, a deletion both.
        let total = self.count()?.max(1) as u64;
        let mut h = blake3::Hasher::new();
        for field in [DOC_ID, CONTENT_HASH] {
            let response = self.call("fingerprint documents", || {
                self.client.facet(
                    FacetCountsBuilder::new(&self.collection, field)
                        .limit(total)
                        .exact(true),
                )
            })?;
            let mut values: Vec<(String, u64)> = response
                .hits
                .into_iter()
                .filter_map(|hit| match hit.value?.variant? {
                    facet_value::Variant::StringValue(s) => Some((s, hit.count)),
                    _ => None,
                })
                .collect();
            values.sort();
            for (value, count) in values {
                h.update(value.as_bytes());
                h.update(&[0]);
                h.update(&count.to_le_bytes());
            }
            h.update(&[0xff]);
        }
        Ok(Some(h.finalize().to_hex().to_string()))
    }

    fn lexical_search(&self, query: &str, k: usize, filter: &Filter) -> Result<Option<Vec<Hit>>> {
        let Some((encoder, idf)) = &self.lexical else {
            return Ok(None);
        };
        if k == 0 {
            return Ok(Some(Vec::new()));
        }
        let sparse = self.sparse_query(encoder, *idf, query)?;
        if sparse.is_empty() {
            return Ok(Some(Vec::new()));
        }
        let Some(must) = self.conditions(filter)? else {
            return Ok(Some(Vec::new()));
        };
        let hits = self.query("lexical search", k, &must, || {
            QueryPointsBuilder::new(&self.collection)
                .query(Query::new_nearest(VectorInput::new_sparse(
                    sparse.indices.clone(),
                    sparse.values.clone(),
                )))
                .using(SPARSE_VECTOR)
        })?;
        Ok(Some(hits))
    }

    fn count(&self) -> Result<usize> {
        let response = self.call("count", || {
            self.client
                .count(CountPointsBuilder::new(&self.collection).exact(true))
        })?;
        let count = response.result.map(|r| r.count).unwrap_or(0);
        Ok(usize::try_from(count).unwrap_or(usize::MAX))
    }

    fn chunks(&self, chunk_ids: &[&str]) -> Result<Vec<Chunk>> {
        if chunk_ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<PointId> = chunk_ids
            .iter()
            .map(|id| PointId::from(point_id(id).to_string()))
            .collect();
        let response = self.call("retrieve", || {
            self.client
                .get_points(GetPointsBuilder::new(&self.collection, ids.clone()).with_payload(true))
        })?;
        let name = self.store_name();
        let mut by_id: HashMap<String, Chunk> = HashMap::new();
        for p in response.result {
            let map = p
                .payload
                .into_iter()
                .map(|(k, v)| (k, v.into_json()))
                .collect();
            let chunk = chunk_from_payload(&name, map)?;
            by_id.insert(chunk.id.clone(), chunk);
        }
        // The server answers in its own order; give the caller theirs.
        Ok(chunk_ids
            .iter()
            .filter_map(|id| by_id.remove(*id))
            .collect())
    }

    fn optimize(&self) -> Result<bool> {
        // The server's optimisers run in the background.
        Ok(false)
    }
}

fn server_distance(d: Distance) -> QDistance {
    match d {
        Distance::Cosine => QDistance::Cosine,
        Distance::Dot => QDistance::Dot,
    }
}
