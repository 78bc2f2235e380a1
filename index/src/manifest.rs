//! The manifest of an index directory: the settings its contents were made with.
//!
//! Vectors of two models, or chunks cut two ways, must never be mixed in one index: a
//! search would compare incomparable things and give no error. So the manifest is
//! written when an index is created, and opening the index with other settings fails
//! with [`Error::ManifestMismatch`] naming the setting.

use std::io::Write;
use std::path::{Path, PathBuf};

use docket_ingest::ChunkingConfig;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fusion::FusionConfig;
use crate::vector::VectorStoreConfig;

/// Version of the on-disk layout of an index directory.
pub const SCHEMA_VERSION: u32 = 1;

/// File name of the manifest inside an index directory.
pub const MANIFEST_FILE: &str = "manifest.json";

/// The settings an index's contents depend on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub schema_version: u32,
    /// Embedding model id (e.g. `all-minilm-l6-v2`); `None` for a BM25-only index.
    pub embedder: Option<String>,
    /// Dimension of the vectors, with `embedder`.
    pub dimension: Option<usize>,
    /// Tokenizer chunk sizes are counted with.
    pub tokenizer: String,
    pub chunking: ChunkingConfig,
    /// Where the vectors live: the embedded store, or a Qdrant server and collection.
    /// Later runs use it without being told again. The API key is never stored.
    #[serde(default)]
    pub vectors: VectorStoreConfig,
    /// Fusion settings tuned for this index by `docket eval retrieval --tune`; `None`
    /// means the default.
    #[serde(default)]
    pub fusion: Option<FusionConfig>,
}

impl Manifest {
    fn path(dir: &Path) -> PathBuf {
        dir.join(MANIFEST_FILE)
    }

    /// The manifest of the index at `dir`, if it has one.
    pub fn load(dir: &Path) -> Result<Option<Manifest>> {
        let path = Self::path(dir);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(path, e)),
        };
        // Check the version before the fields, so a future layout gets the clear error.
        let version: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| Error::Corrupt {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        let found = version["schema_version"].as_u64().unwrap_or(0) as u32;
        if found != SCHEMA_VERSION {
            return Err(Error::SchemaVersion {
                path,
                found,
                supported: SCHEMA_VERSION,
            });
        }
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::Corrupt {
                path,
                reason: e.to_string(),
            })
    }

    /// Write the manifest atomically (temporary file, fsync, rename).
    pub fn save(&self, dir: &Path) -> Result<()> {
        let path = Self::path(dir);
        let tmp = dir.join(format!("{MANIFEST_FILE}.tmp"));
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            // The rename itself must reach the disk too.
            std::fs::File::open(dir)?.sync_all()
        };
        write().map_err(|e| Error::io(&path, e))
    }

    /// Fail unless an index made with `self` can be used with the settings `wanted`.
    pub fn check(&self, wanted: &Manifest, dir: &Path) -> Result<()> {
        let mismatch = |setting, found: String, wanted: String| Error::ManifestMismatch {
            path: dir.to_path_buf(),
            setting,
            found,
            wanted,
        };
        let show = |o: &Option<String>| o.clone().unwrap_or_else(|| "no embedder".into());
        if self.embedder != wanted.embedder {
            return Err(mismatch(
                "embedding model",
                show(&self.embedder),
                show(&wanted.embedder),
            ));
        }
        if self.dimension != wanted.dimension {
            return Err(mismatch(
                "vector dimension",
                format!("{:?}", self.dimension),
                format!("{:?}", wanted.dimension),
            ));
        }
        if self.tokenizer != wanted.tokenizer {
            return Err(mismatch(
                "tokenizer",
                self.tokenizer.clone(),
                wanted.tokenizer.clone(),
            ));
        }
        let backend = |v: &VectorStoreConfig| match &v.qdrant_url {
            Some(url) => format!("Qdrant at {url}, collection {}", v.collection),
            None => "the embedded vector store".to_owned(),
        };
        if self.dimension.is_some()
            && (self.vectors.qdrant_url != wanted.vectors.qdrant_url
                || (self.vectors.qdrant_url.is_some()
                    && self.vectors.collection != wanted.vectors.collection))
        {
            return Err(mismatch(
                "vectors in",
                backend(&self.vectors),
                backend(&wanted.vectors),
            ));
        }
        if self.chunking != wanted.chunking {
            let c = |c: &ChunkingConfig| {
                format!(
                    "chunks of {} tokens overlapping {}",
                    c.target_tokens, c.overlap_tokens
                )
            };
            return Err(mismatch("chunking", c(&self.chunking), c(&wanted.chunking)));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        Manifest {
            schema_version: SCHEMA_VERSION,
            embedder: Some("all-minilm-l6-v2".into()),
            dimension: Some(384),
            tokenizer: "all-minilm-l6-v2".into(),
            chunking: ChunkingConfig::default(),
            vectors: VectorStoreConfig::default(),
            fusion: None,
        }
    }

    #[test]
    fn round_trip_and_mismatches_are_named() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Manifest::load(dir.path()).unwrap(), None);
        let m = manifest();
        m.save(dir.path()).unwrap();
        let loaded = Manifest::load(dir.path()).unwrap().unwrap();
        assert_eq!(loaded, m);
        loaded.check(&m, dir.path()).unwrap();

        let other_model = Manifest {
            embedder: Some("bge-small".into()),
            ..manifest()
        };
        let e = loaded
            .check(&other_model, dir.path())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("embedding model all-minilm-l6-v2, not bge-small"),
            "{e}"
        );

        let other_chunks = Manifest {
            chunking: ChunkingConfig {
                target_tokens: 128,
                overlap_tokens: 16,
            },
            ..manifest()
        };
        let e = loaded
            .check(&other_chunks, dir.path())
            .unwrap_err()
            .to_string();
        assert!(e.contains("chunks of 256 tokens"), "{e}");
    }

    #[test]
    fn other_schema_versions_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(MANIFEST_FILE), r#"{"schema_version": 99}"#).unwrap();
        let e = Manifest::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("schema version 99"), "{e}");
    }
}
