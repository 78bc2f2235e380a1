//! The embedded vector store: a qdrant-edge shard in a directory of the index.
//!
//! Durability (qdrant-edge 0.7.0): every update is appended to the shard's write-ahead log
//! and applied to in-memory/mmapped segments, but the WAL is *not replayed* when a shard is
//! loaded, and segments reach disk only on [`EmbeddedStore::flush`] (or a clean drop). So a
//! process killed after an upsert but before a flush reopens with the store as of the last
//! flush (see the `kill_before_flush` test): the unflushed points are gone, not half-written.
//! That is why the catalog marks a document indexed only after `flush` and why upserts are
//! idempotent: re-upserting whatever was not marked is the recovery.
//!
//! Search is exact (brute force) over the appendable segment until [`EmbeddedStore::optimize`]
//! moves points into HNSW-indexed segments (segments over the default indexing threshold,
//! about 10 MB of vectors); see [`VectorStore::optimize`] for what that costs and gives.
//!
//! The WAL is never truncated by qdrant-edge 0.7.0 either (nothing acknowledges it): it
//! grows by every upserted point (about 3.2 KiB per 384-d chunk with its text), re-upserts
//! included.
//!
//! Nor does a delete remove anything from the files: the point is marked deleted in its
//! segment, its payload (the chunk's text) stays there and in the WAL. Forgetting a
//! document therefore rebuilds the shard ([`EmbeddedStore::rebuild`]): the live points
//! are copied into a new shard beside it, which then takes its place; the old one, WAL
//! and all, is deleted.

use std::fs::{File, TryLockError};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::{PoisonError, RwLock};

use docket_ingest::Chunk;
use qdrant_edge::{
    AnyVariants, Condition, CountRequest, CreateIndex, DEFAULT_VECTOR_NAME,
    Distance as EdgeDistance, EdgeConfig, EdgeShard, EdgeVectorParamsBuilder, FacetRequest,
    FacetValue, FieldCondition, FieldIndexOperations, Filter as EdgeFilter, JsonPath, Match,
    MatchAny, MatchValue, NamedQuery, OperationError, PayloadFieldSchema, PayloadSchemaType,
    PointId, PointInsertOperations, PointOperations, PointStruct, PointStructPersisted, QueryEnum,
    ScrollRequest, SearchRequest, UpdateOperation, ValueVariants, WithPayloadInterface, WithVector,
};

use crate::error::{Error, Result};
use crate::filter::{Filter, Hit};

use super::payload::{
    CHUNK_ID, CONTENT_HASH, DOC_ID, FORMAT, INDEXED_FIELDS, METADATA_KV, SOURCE,
    chunk_from_payload, chunk_payload, point_id,
};
use super::plan::FilterPlan;
use super::{Distance, Point, VectorSpec, VectorStore, check_vector};

/// Lock file taken for as long as a store is open: qdrant-edge does not guard its directory,
/// and two writers would corrupt it.
const LOCK_FILE: &str = "docket.lock";

/// Suffix of the folder a store is rebuilt in, beside it.
const REBUILD_SUFFIX: &str = "rebuild";
/// Suffix the replaced store is renamed to until it is deleted.
const OLD_SUFFIX: &str = "old";
/// File written in a finished rebuild before it takes the store's place: a rebuild
/// folder without it was interrupted and is thrown away.
const REBUILT_MARK: &str = "docket-rebuilt";
/// Points copied per page of a rebuild.
const REBUILD_PAGE: usize = 256;

/// Chunk embeddings in a qdrant-edge shard on local disk.
pub struct EmbeddedStore {
    path: PathBuf,
    spec: VectorSpec,
    /// Writes (update, flush, optimise) take it exclusively: `EdgeShard::flush` panics if
    /// the WAL is locked by a concurrent update.
    shard: RwLock<EdgeShard>,
    _lock: File,
}

impl std::fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedStore")
            .field("path", &self.path)
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

impl EmbeddedStore {
    /// Directory of the store under the index directory.
    pub const DIR_NAME: &'static str = "vectors";

    /// Open the store in `path`, creating it for `spec` if the directory holds none. An
    /// existing store must have been created with the same dimension and distance.
    pub fn open(path: &Path, spec: VectorSpec) -> Result<Self> {
        if spec.dimension == 0 {
            return Err(Error::Setting {
                name: "dimension",
                reason: "must be at least 1".into(),
            });
        }
        finish_rebuild(path)?;
        std::fs::create_dir_all(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        let lock = take_lock(path)?;
        let exists = path.join("edge_config.json").exists();
        let shard = if exists {
            EdgeShard::load(path, None).map_err(edge_err(path, "open"))?
        } else {
            let params = EdgeVectorParamsBuilder::new(spec.dimension, edge_distance(spec.distance));
            let config = EdgeConfig::builder()
                .vector(DEFAULT_VECTOR_NAME, params.build())
                .build();
            EdgeShard::new(path, config).map_err(edge_err(path, "create"))?
        };
        let store = EmbeddedStore {
            path: path.to_owned(),
            spec,
            shard: RwLock::new(shard),
            _lock: lock,
        };
        store.check_spec()?;
        store.ensure_payload_indexes()?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Rewrite the store in `path` with its live points only, so that nothing of a
    /// deleted point is left on disk: not its payload in a segment, not its upsert in the
    /// WAL. The live points (vectors and payloads) are copied into a new shard beside the
    /// store, flushed, and the new shard takes the store's place by two renames; the old
    /// folder is deleted. The store must not be open. A crash before the new shard is
    /// marked finished leaves the old store in place (the next open deletes the partial
    /// copy); after, the next open finishes the swap ([`finish_rebuild`]). Costs one copy
    /// of the store, so it is for forgetting documents, not for every delete.
    pub fn rebuild(path: &Path, spec: VectorSpec) -> Result<()> {
        let io = |p: &Path| {
            let p = p.to_owned();
            move |source| Error::Io { path: p, source }
        };
        let old = EmbeddedStore::open(path, spec)?;
        let fresh_path = sibling(path, REBUILD_SUFFIX);
        if fresh_path.exists() {
            std::fs::remove_dir_all(&fresh_path).map_err(io(&fresh_path))?;
        }
        let fresh = EmbeddedStore::open(&fresh_path, spec)?;
        {
            let from = old.read();
            let into = fresh.write();
            let mut offset = None;
            loop {
                let (records, next) = from
                    .scroll(ScrollRequest {
                        offset,
                        limit: Some(REBUILD_PAGE),
                        filter: None,
                        with_payload: Some(WithPayloadInterface::Bool(true)),
                        with_vector: WithVector::Bool(true),
                        order_by: None,
                    })
                    .map_err(edge_err(path, "read for rebuild"))?;
                let mut batch: Vec<PointStructPersisted> = Vec::with_capacity(records.len());
                for r in records {
                    let Some(vector) = r.vector else {
                        return Err(Error::Payload {
                            store: path.display().to_string(),
                            point: r.id.to_string(),
                            reason: "no vector".into(),
                        });
                    };
                    batch.push(PointStructPersisted {
                        id: r.id,
                        vector: vector.into(),
                        payload: r.payload,
                    });
                }
                if !batch.is_empty() {
                    into.update(UpdateOperation::PointOperation(
                        PointOperations::UpsertPoints(PointInsertOperations::PointsList(batch)),
                    ))
                    .map_err(edge_err(&fresh_path, "rebuild"))?;
                }
                match next {
                    Some(n) => offset = Some(n),
                    None => break,
                }
            }
        }
        fresh.flush()?;
        let (kept, copied) = (old.count()?, fresh.count()?);
        if kept != copied {
            return Err(Error::Embedded {
                path: path.to_owned(),
                operation: "rebuild",
                reason: format!("{kept} live points, {copied} copied"),
            });
        }
        drop(fresh);
        drop(old);
        let mark = fresh_path.join(REBUILT_MARK);
        std::fs::File::create(&mark)
            .and_then(|f| f.sync_all())
            .map_err(io(&mark))?;
        sync_parent(&mark)?;
        finish_rebuild(path)
    }

    fn name(&self) -> String {
        self.path.display().to_string()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, EdgeShard> {
        // A panic while holding the lock leaves the shard as the engine left it; later
        // calls report their own errors.
        self.shard.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, EdgeShard> {
        self.shard.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn check_spec(&self) -> Result<()> {
        let shard = self.read();
        let config = shard.config();
        let Some(params) = config.vectors.get(DEFAULT_VECTOR_NAME) else {
            return Err(Error::Embedded {
                path: self.path.clone(),
                operation: "open",
                reason: "the store has no unnamed dense vector (not created by docket?)".into(),
            });
        };
        if params.size != self.spec.dimension {
            return Err(Error::DimensionMismatch {
                store: self.name(),
                expected: params.size,
                found: self.spec.dimension,
            });
        }
        if params.distance != edge_distance(self.spec.distance) {
            return Err(Error::DistanceMismatch {
                store: self.name(),
                existing: format!("{:?}", params.distance).to_lowercase(),
                requested: self.spec.distance.name().to_owned(),
            });
        }
        Ok(())
    }

    /// Keyword indexes on the filter fields: the facet that resolves source globs needs one,
    /// and they keep filtered search and delete-by-document from scanning every payload.
    fn ensure_payload_indexes(&self) -> Result<()> {
        let shard = self.write();
        let existing = shard.info().payload_schema;
        for field in INDEXED_FIELDS {
            let path = json_path(field);
            if existing.contains_key(&path) {
                continue;
            }
            shard
                .update(UpdateOperation::FieldIndexOperation(
                    FieldIndexOperations::CreateIndex(CreateIndex {
                        field_name: path,
                        field_schema: Some(PayloadFieldSchema::FieldType(
                            PayloadSchemaType::Keyword,
                        )),
                    }),
                ))
                .map_err(edge_err(&self.path, "create payload index"))?;
        }
        Ok(())
    }

    /// Qdrant filter for everything but the source glob.
    fn base_filter(plan: &FilterPlan) -> Vec<Condition> {
        let mut must = Vec::new();
        if !plan.doc_ids.is_empty() {
            must.push(match_any(DOC_ID, &plan.doc_ids));
        }
        if !plan.formats.is_empty() {
            must.push(match_any(FORMAT, &plan.formats));
        }
        for kv in &plan.metadata_kv {
            must.push(match_value(METADATA_KV, kv));
        }
        must
    }

    /// Sources present among the points passing `must`.
    fn distinct_sources(&self, shard: &EdgeShard, must: &[Condition]) -> Result<Vec<String>> {
        // An upper bound on the number of distinct sources; exact, because an estimate
        // below it would silently drop sources from the answer.
        let total = shard
            .count(CountRequest {
                filter: None,
                exact: true,
            })
            .map_err(edge_err(&self.path, "count"))?;
        let response = shard
            .facet(FacetRequest {
                key: json_path(SOURCE),
                limit: total.max(1),
                filter: filter_of(must.to_vec()),
                exact: true,
            })
            .map_err(edge_err(&self.path, "list sources"))?;
        Ok(response
            .hits
            .into_iter()
            .filter_map(|hit| match hit.value {
                FacetValue::Keyword(s) => Some(s),
                _ => None,
            })
            .collect())
    }
}

impl VectorStore for EmbeddedStore {
    fn spec(&self) -> VectorSpec {
        self.spec
    }

    fn upsert(&self, points: &[Point<'_>]) -> Result<()> {
        if points.is_empty() {
            return Ok(());
        }
        let name = self.name();
        let mut batch: Vec<PointStructPersisted> = Vec::with_capacity(points.len());
        for p in points {
            check_vector(&name, self.spec, &p.chunk.id, p.vector)?;
            let mut payload = chunk_payload(p.chunk)?;
            if let Some(hash) = p.content_hash {
                payload.insert(CONTENT_HASH.to_owned(), hash.into());
            }
            batch.push(
                PointStruct::new(
                    PointId::Uuid(point_id(&p.chunk.id)),
                    p.vector,
                    serde_json::Value::Object(payload),
                )
                .into(),
            );
        }
        self.write()
            .update(UpdateOperation::PointOperation(
                PointOperations::UpsertPoints(PointInsertOperations::PointsList(batch)),
            ))
            .map_err(edge_err(&self.path, "upsert"))
    }

    fn delete_document(&self, doc_id: &str) -> Result<()> {
        let filter = EdgeFilter::new_must(match_value(DOC_ID, doc_id));
        self.write()
            .update(UpdateOperation::PointOperation(
                PointOperations::DeletePointsByFilter(filter),
            ))
            .map_err(edge_err(&self.path, "delete document"))
    }

    fn flush(&self) -> Result<()> {
        let shard = self.write();
        // qdrant-edge 0.7.0 panics (`expect`) on I/O errors while flushing instead of
        // returning them; turn that into an error so the caller does not mark anything
        // committed.
        catch_unwind(AssertUnwindSafe(|| shard.flush())).map_err(|panic| Error::Embedded {
            path: self.path.clone(),
            operation: "flush",
            reason: docket_ingest::pipeline::panic_message(&*panic),
        })
    }

    fn search(&self, vector: &[f32], k: usize, filter: &Filter) -> Result<Vec<Hit>> {
        check_vector(&self.name(), self.spec, "<query>", vector)?;
        if k == 0 {
            return Ok(Vec::new());
        }
        let plan = FilterPlan::new(filter)?;
        let shard = self.read();
        let mut must = Self::base_filter(&plan);
        if plan.needs_sources() {
            let sources = plan.select_sources(self.distinct_sources(&shard, &must)?);
            if sources.is_empty() {
                return Ok(Vec::new());
            }
            must.push(match_any(SOURCE, &sources));
        }
        let points = shard
            .search(SearchRequest {
                query: QueryEnum::Nearest(NamedQuery {
                    query: vector.to_vec().into(),
                    using: None,
                }),
                filter: filter_of(must),
                params: None,
                limit: k,
                offset: 0,
                with_payload: Some(WithPayloadInterface::Fields(vec![
                    json_path(CHUNK_ID),
                    json_path(DOC_ID),
                ])),
                with_vector: Some(WithVector::Bool(false)),
                score_threshold: None,
            })
            .map_err(edge_err(&self.path, "search"))?;
        points
            .into_iter()
            .map(|p| {
                let payload = p.payload.map(|p| p.0).unwrap_or_default();
                let field = |key: &str| payload.get(key).and_then(|v| v.as_str());
                match (field(CHUNK_ID), field(DOC_ID)) {
                    (Some(chunk_id), Some(doc_id)) => Ok(Hit {
                        chunk_id: chunk_id.to_owned(),
                        doc_id: doc_id.to_owned(),
                        score: p.score,
                    }),
                    _ => Err(Error::Payload {
                        store: self.name(),
                        point: p.id.to_string(),
                        reason: "no chunk id or document id".into(),
                    }),
                }
            })
            .collect()
    }

    fn count(&self) -> Result<usize> {
        self.read()
            .count(CountRequest {
                filter: None,
                exact: true,
            })
            .map_err(edge_err(&self.path, "count"))
    }

    fn chunks(&self, chunk_ids: &[&str]) -> Result<Vec<Chunk>> {
        let ids: Vec<PointId> = chunk_ids
            .iter()
            .map(|id| PointId::Uuid(point_id(id)))
            .collect();
        let records = self
            .read()
            .retrieve(
                &ids,
                Some(WithPayloadInterface::Bool(true)),
                Some(WithVector::Bool(false)),
            )
            .map_err(edge_err(&self.path, "retrieve"))?;
        let name = self.name();
        records
            .into_iter()
            .map(|r| chunk_from_payload(&name, r.payload.map(|p| p.0).unwrap_or_default()))
            .collect()
    }

    fn optimize(&self) -> Result<bool> {
        self.write()
            .optimize()
            .map_err(edge_err(&self.path, "optimize"))
    }
}

fn take_lock(dir: &Path) -> Result<File> {
    let path = dir.join(LOCK_FILE);
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(Error::Locked {
            path: dir.to_owned(),
        }),
        Err(TryLockError::Error(source)) => Err(Error::Io { path, source }),
    }
}

fn edge_distance(d: Distance) -> EdgeDistance {
    match d {
        Distance::Cosine => EdgeDistance::Cosine,
        Distance::Dot => EdgeDistance::Dot,
    }
}

fn edge_err<'a>(path: &'a Path, operation: &'static str) -> impl Fn(OperationError) -> Error + 'a {
    move |e| Error::Embedded {
        path: path.to_owned(),
        operation,
        reason: e.to_string(),
    }
}

/// Paths of our own fixed field names, which are all valid.
fn json_path(field: &'static str) -> JsonPath {
    JsonPath::try_from(field).unwrap_or_else(|_| unreachable!("{field} is a valid JSON path"))
}

fn match_any(field: &'static str, values: &[String]) -> Condition {
    Condition::Field(FieldCondition::new_match(
        json_path(field),
        Match::Any(MatchAny {
            any: AnyVariants::Strings(values.iter().cloned().collect()),
        }),
    ))
}

fn match_value(field: &'static str, value: &str) -> Condition {
    Condition::Field(FieldCondition::new_match(
        json_path(field),
        Match::Value(MatchValue {
            value: ValueVariants::String(value.to_owned()),
        }),
    ))
}

fn filter_of(must: Vec<Condition>) -> Option<EdgeFilter> {
    (!must.is_empty()).then(|| EdgeFilter {
        must: Some(must),
        ..Default::default()
    })
}

/// `<path>.<suffix>`, beside `path`.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".");
    name.push(suffix);
    path.with_file_name(name)
}

/// Make a rename or a new file in `path`'s folder durable.
fn sync_parent(path: &Path) -> Result<()> {
    let Some(dir) = path.parent() else {
        return Ok(());
    };
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| Error::Io {
            path: dir.to_owned(),
            source,
        })
}

/// Bring the store in `path` to one state after a [`EmbeddedStore::rebuild`] that may
/// have been interrupted: a finished rebuild takes the store's place (it holds the same
/// live points, and nothing of the deleted ones), a store moved aside before the rebuild
/// was finished goes back, and whatever is left beside the store (the old one, a
/// partial copy) is deleted.
fn finish_rebuild(path: &Path) -> Result<()> {
    let io = |p: &Path| {
        let p = p.to_owned();
        move |source| Error::Io { path: p, source }
    };
    let fresh = sibling(path, REBUILD_SUFFIX);
    let old = sibling(path, OLD_SUFFIX);
    if fresh.join(REBUILT_MARK).exists() {
        if path.exists() {
            if old.exists() {
                std::fs::remove_dir_all(&old).map_err(io(&old))?;
            }
            std::fs::rename(path, &old).map_err(io(path))?;
        }
        std::fs::rename(&fresh, path).map_err(io(&fresh))?;
        sync_parent(path)?;
    } else if !path.exists() && old.exists() {
        std::fs::rename(&old, path).map_err(io(&old))?;
        sync_parent(path)?;
    }
    let mark = path.join(REBUILT_MARK);
    if mark.exists() {
        std::fs::remove_file(&mark).map_err(io(&mark))?;
    }
    for leftover in [old, fresh] {
        if leftover.exists() {
            std::fs::remove_dir_all(&leftover).map_err(io(&leftover))?;
        }
    }
    Ok(())
}
