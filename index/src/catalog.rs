//! The catalog: what an index holds, one entry per document, in an embedded ACID
//! database (redb) so that a crash at any moment leaves it consistent.
//!
//! It drives incremental indexing and crash recovery. A document is written to the
//! catalog as `Pending` (with its new content hash) *before* its chunks go to the vector
//! store and BM25, and becomes `Indexed` only after both stores have committed. A run
//! that dies in between leaves `Pending` entries; the next run redoes them, and since
//! both stores replace a document's chunks by document id and chunk ids are stable, the
//! redo neither duplicates nor loses chunks.
//!
//! Deleting runs the other way round: a document is marked `Deleting` *before* its
//! chunks leave the stores, and its entry is removed only after both stores committed
//! the delete. A run that dies in between leaves `Deleting` entries, never an `Indexed`
//! one whose chunks are gone (which the next run would keep as it is); the next sync
//! indexes such a document again if its file is there, and finishes the delete if not.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use docket_ingest::Format;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// doc id -> JSON-encoded [`DocEntry`].
const DOCS: TableDefinition<&str, &[u8]> = TableDefinition::new("docs");
/// doc id -> Unix seconds: documents forgotten on purpose (`docket forget`), which a
/// sync does not index again while their file is still there. Only the id is kept, a
/// hash of the source path, nothing of the document.
const FORGOTTEN: TableDefinition<&str, u64> = TableDefinition::new("forgotten");

/// Where a document stands in the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DocState {
    /// Its chunks are being written; not yet committed in both stores.
    Pending,
    /// Its chunks are committed in both stores.
    Indexed,
    /// Being deleted: its chunks may be gone from either store.
    Deleting,
}

/// One document as the catalog knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocEntry {
    pub doc_id: String,
    /// Path relative to the ingest root (`path#key` for records).
    pub source: String,
    pub format: Format,
    pub title: Option<String>,
    /// blake3 of the source bytes when it was last indexed (or is being indexed).
    pub content_hash: String,
    pub state: DocState,
    pub chunks: u32,
    pub pages: u32,
    /// Unix seconds of the last change of this entry.
    pub updated_at: u64,
}

/// The catalog of one index directory.
#[derive(Debug)]
pub struct Catalog {
    db: Database,
    path: PathBuf,
}

impl Catalog {
    /// Open the catalog at `path`, creating it if needed.
    pub fn open(path: &Path) -> Result<Self> {
        let err = |e: &dyn std::fmt::Display| Error::Catalog {
            path: path.to_path_buf(),
            reason: e.to_string(),
        };
        let db = Database::create(path).map_err(|e| err(&e))?;
        let catalog = Catalog {
            db,
            path: path.to_path_buf(),
        };
        // Create the table so that readers of a fresh catalog find it.
        let tx = catalog.db.begin_write().map_err(|e| err(&e))?;
        tx.open_table(DOCS).map_err(|e| err(&e))?;
        tx.open_table(FORGOTTEN).map_err(|e| err(&e))?;
        tx.commit().map_err(|e| err(&e))?;
        Ok(catalog)
    }

    fn err(&self, e: impl std::fmt::Display) -> Error {
        Error::Catalog {
            path: self.path.clone(),
            reason: e.to_string(),
        }
    }

    /// The entry of one document.
    pub fn get(&self, doc_id: &str) -> Result<Option<DocEntry>> {
        let tx = self.db.begin_read().map_err(|e| self.err(e))?;
        let table = tx.open_table(DOCS).map_err(|e| self.err(e))?;
        match table.get(doc_id).map_err(|e| self.err(e))? {
            Some(v) => Ok(Some(self.decode(v.value())?)),
            None => Ok(None),
        }
    }

    /// Every entry, ordered by document id.
    pub fn entries(&self) -> Result<Vec<DocEntry>> {
        let tx = self.db.begin_read().map_err(|e| self.err(e))?;
        let table = tx.open_table(DOCS).map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for item in table.iter().map_err(|e| self.err(e))? {
            let (_, v) = item.map_err(|e| self.err(e))?;
            out.push(self.decode(v.value())?);
        }
        Ok(out)
    }

    /// Write entries (insert or replace) in one durable transaction.
    pub fn put(&self, entries: &[DocEntry]) -> Result<()> {
        let tx = self.db.begin_write().map_err(|e| self.err(e))?;
        {
            let mut table = tx.open_table(DOCS).map_err(|e| self.err(e))?;
            for entry in entries {
                let bytes = serde_json::to_vec(entry).map_err(|e| self.err(e))?;
                table
                    .insert(entry.doc_id.as_str(), bytes.as_slice())
                    .map_err(|e| self.err(e))?;
            }
        }
        tx.commit().map_err(|e| self.err(e))
    }

    /// Mark documents indexed (after both stores committed them), in one transaction.
    pub fn mark_indexed(&self, doc_ids: &[&str]) -> Result<()> {
        self.set_state(doc_ids, DocState::Indexed)
    }

    /// Mark documents as being deleted (before their chunks leave the stores), in one
    /// transaction.
    pub fn mark_deleting(&self, doc_ids: &[&str]) -> Result<()> {
        self.set_state(doc_ids, DocState::Deleting)
    }

    fn set_state(&self, doc_ids: &[&str], state: DocState) -> Result<()> {
        let now = unix_now();
        let tx = self.db.begin_write().map_err(|e| self.err(e))?;
        {
            let mut table = tx.open_table(DOCS).map_err(|e| self.err(e))?;
            for id in doc_ids {
                let entry = match table.get(*id).map_err(|e| self.err(e))? {
                    Some(v) => self.decode(v.value())?,
                    None => continue,
                };
                let entry = DocEntry {
                    state,
                    updated_at: now,
                    ..entry
                };
                let bytes = serde_json::to_vec(&entry).map_err(|e| self.err(e))?;
                table
                    .insert(*id, bytes.as_slice())
                    .map_err(|e| self.err(e))?;
            }
        }
        tx.commit().map_err(|e| self.err(e))
    }

    /// Forget documents (after their chunks were deleted from both stores).
    pub fn remove(&self, doc_ids: &[&str]) -> Result<()> {
        let tx = self.db.begin_write().map_err(|e| self.err(e))?;
        {
            let mut table = tx.open_table(DOCS).map_err(|e| self.err(e))?;
            for id in doc_ids {
                table.remove(*id).map_err(|e| self.err(e))?;
            }
        }
        tx.commit().map_err(|e| self.err(e))
    }

    /// Note documents as forgotten: a sync leaves them out until [`Catalog::unforget`].
    pub fn forget(&self, doc_ids: &[&str]) -> Result<()> {
        let now = unix_now();
        let tx = self.db.begin_write().map_err(|e| self.err(e))?;
        {
            let mut table = tx.open_table(FORGOTTEN).map_err(|e| self.err(e))?;
            for id in doc_ids {
                table.insert(*id, now).map_err(|e| self.err(e))?;
            }
        }
        tx.commit().map_err(|e| self.err(e))
    }

    /// Let forgotten documents be indexed again. Returns how many were forgotten.
    pub fn unforget(&self, doc_ids: &[&str]) -> Result<usize> {
        let tx = self.db.begin_write().map_err(|e| self.err(e))?;
        let mut removed = 0;
        {
            let mut table = tx.open_table(FORGOTTEN).map_err(|e| self.err(e))?;
            for id in doc_ids {
                removed += usize::from(table.remove(*id).map_err(|e| self.err(e))?.is_some());
            }
        }
        tx.commit().map_err(|e| self.err(e))?;
        Ok(removed)
    }

    /// The ids of the forgotten documents.
    pub fn forgotten(&self) -> Result<HashSet<String>> {
        let tx = self.db.begin_read().map_err(|e| self.err(e))?;
        let table = tx.open_table(FORGOTTEN).map_err(|e| self.err(e))?;
        let mut out = HashSet::new();
        for item in table.iter().map_err(|e| self.err(e))? {
            let (k, _) = item.map_err(|e| self.err(e))?;
            out.insert(k.value().to_owned());
        }
        Ok(out)
    }

    /// Rewrite the database file without its free pages. redb reuses the pages a
    /// removed entry held but does not clear them, so a forgotten document's entry
    /// (title, source) would stay readable in the file until overwritten.
    pub fn compact(&mut self) -> Result<()> {
        compact(&mut self.db, &self.path)
    }

    fn decode(&self, bytes: &[u8]) -> Result<DocEntry> {
        serde_json::from_slice(bytes).map_err(|e| Error::Corrupt {
            path: self.path.clone(),
            reason: format!("bad catalog entry: {e}"),
        })
    }
}

/// Compact a redb database until it shrinks no more (one pass may leave pages another
/// can still move), so that no page freed before is left in the file.
pub fn compact(db: &mut Database, path: &Path) -> Result<()> {
    // A bounded number of passes: each moves pages towards the start of the file.
    for _ in 0..8 {
        let shrunk = db.compact().map_err(|e| Error::Catalog {
            path: path.to_path_buf(),
            reason: format!("compact: {e}"),
        })?;
        if !shrunk {
            break;
        }
    }
    Ok(())
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, hash: &str, state: DocState) -> DocEntry {
        DocEntry {
            doc_id: id.into(),
            source: format!("{id}.md"),
            format: Format::Markdown,
            title: None,
            content_hash: hash.into(),
            state,
            chunks: 2,
            pages: 1,
            updated_at: 0,
        }
    }

    #[test]
    fn entries_survive_reopen_and_change_state() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.redb");
        {
            let c = Catalog::open(&path).unwrap();
            c.put(&[
                entry("a", "h1", DocState::Pending),
                entry("b", "h2", DocState::Pending),
            ])
            .unwrap();
            c.mark_indexed(&["a"]).unwrap();
        }
        let c = Catalog::open(&path).unwrap();
        let all = c.entries().unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(c.get("a").unwrap().unwrap().state, DocState::Indexed);
        assert_eq!(c.get("b").unwrap().unwrap().state, DocState::Pending);
        c.remove(&["a"]).unwrap();
        assert!(c.get("a").unwrap().is_none());
        assert_eq!(c.entries().unwrap().len(), 1);
    }

    #[test]
    fn a_removed_entry_leaves_no_byte_after_compaction_and_forgotten_ids_persist() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.redb");
        let mut c = Catalog::open(&path).unwrap();
        let mut secret = entry("s", "h1", DocState::Indexed);
        secret.title = Some("Quixotic zebra memorandum".into());
        c.put(&[entry("a", "h0", DocState::Indexed), secret])
            .unwrap();
        let holds = |needle: &[u8]| {
            let bytes = std::fs::read(&path).unwrap();
            bytes.windows(needle.len()).any(|w| w == needle)
        };
        assert!(holds(b"Quixotic zebra"));
        c.remove(&["s"]).unwrap();
        c.forget(&["s"]).unwrap();
        c.compact().unwrap();
        assert!(!holds(b"Quixotic zebra"));
        drop(c);
        let c = Catalog::open(&path).unwrap();
        assert_eq!(c.entries().unwrap().len(), 1);
        assert_eq!(c.forgotten().unwrap(), HashSet::from(["s".to_owned()]));
        assert_eq!(c.unforget(&["s", "t"]).unwrap(), 1);
        assert!(c.forgotten().unwrap().is_empty());
    }
}
