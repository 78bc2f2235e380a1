//! The documents a bulk command works on (`docket classify`, `docket summarize`): the
//! files under some paths, parsed as `docket index` would, or every document of an
//! index, read back from it. Either way the caller sees one document at a time, in a
//! stable order, so a million documents never sit in memory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use docket_index::{DocEntry, Index};
use docket_ingest::stream::{Item, StreamOptions, parse_all, stream};
use docket_ingest::{Document, Ingestor, SourceFile};

use crate::error::{Context, Result};
use crate::report::{Reporter, ReporterExt};
use crate::settings::Sources;

/// One document to classify or summarize.
#[derive(Debug, Clone)]
pub struct DocItem {
    pub doc_id: String,
    pub source: String,
    pub title: Option<String>,
    pub text: String,
    /// As the catalog keeps it (blake3 of the bytes, see `Ingestor::content_hash`).
    pub content_hash: String,
    /// The document's metadata (`license`, `usage`, front matter keys).
    pub metadata: BTreeMap<String, String>,
    /// Its chunks' ids when it comes from an index (a file read now is not chunked).
    pub chunk_ids: Vec<String>,
}

impl DocItem {
    /// The document as provenance names it.
    pub fn doc_ref(&self) -> crate::provenance::DocRef {
        use crate::settings::{LICENSE_KEY, USAGE_KEY};
        crate::provenance::DocRef {
            doc_id: self.doc_id.clone(),
            source: self.source.clone(),
            content_hash: self.content_hash.clone(),
            license: self.metadata.get(LICENSE_KEY).cloned(),
            usage: self.metadata.get(USAGE_KEY).cloned(),
        }
    }
}

/// Where the documents come from.
#[derive(Debug, Clone, Copy)]
pub enum DocSource<'a> {
    /// Files and folders (records files: one document per row).
    Files(&'a Sources),
    /// Every document of the index in this directory, by source.
    Index(&'a Path),
}

/// Feed `each` every document of `from`, in a stable order (files are parsed on all
/// cores by docket-ingest's ordered stream, and handed on in walk order). Documents that
/// fail to load are reported as errors and counted; the count is returned.
pub fn for_each_document(
    from: DocSource<'_>,
    reporter: &dyn Reporter,
    mut each: impl FnMut(DocItem) -> Result<()>,
) -> Result<usize> {
    let sources = match from {
        DocSource::Index(dir) => {
            from_index(dir, &mut each)?;
            return Ok(0);
        }
        DocSource::Files(sources) => sources,
    };
    let walk = docket_ingest::walk(&sources.paths, &sources.walk)?;
    let mut failed = 0;
    for e in &walk.errors {
        reporter.error(&e.to_string());
        failed += 1;
    }
    let ingestor = Ingestor::new(sources.parse.ingest_options());
    let emit = |_: &SourceFile, it: Item<(), ()>| -> Result<()> {
        match it {
            Item::Parsed { doc, .. } => each(item(doc)),
            Item::Failed { error, .. } => {
                reporter.error(&error.to_string());
                failed += 1;
                Ok(())
            }
            Item::Unparsed { .. } | Item::Skipped | Item::EndOfFile => Ok(()),
        }
    };
    let options = StreamOptions::default();
    stream(&ingestor, &walk.files, &options, parse_all, |_| (), emit)?;
    Ok(failed)
}

fn item(doc: Document) -> DocItem {
    DocItem {
        doc_id: doc.id,
        source: doc.source,
        title: doc.title,
        text: doc.text,
        content_hash: doc.content_hash,
        metadata: doc.metadata,
        chunk_ids: Vec::new(),
    }
}

fn from_index(dir: &Path, each: &mut impl FnMut(DocItem) -> Result<()>) -> Result<()> {
    let index =
        Index::open(dir, None).context(|| format!("cannot open the index {}", dir.display()))?;
    let mut entries: Vec<DocEntry> = index.catalog().entries()?;
    entries.sort_by(|a, b| a.source.cmp(&b.source));
    for e in entries {
        let chunks = index.document_chunks(&e)?;
        let text = docket_index::index::text_of_chunks(&chunks);
        let metadata = index.document_metadata(&e)?;
        each(DocItem {
            chunk_ids: chunks.into_iter().map(|c| c.id).collect(),
            doc_id: e.doc_id,
            source: e.source,
            title: e.title,
            text,
            content_hash: e.content_hash,
            metadata,
        })?;
    }
    Ok(())
}

/// Where abstractive summaries are cached: with the index they were read from, else in
/// docket's home (shared by every folder summarized).
pub fn summary_cache_dir(from_index: Option<&Path>) -> PathBuf {
    match from_index {
        Some(index) => index.join("cache").join("summaries"),
        None => crate::models::docket_home().join("cache").join("summaries"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Collect, Level};

    #[test]
    fn files_come_in_walk_order_and_failures_are_counted() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.md"), "# B\n\nSecond document.\n").unwrap();
        std::fs::write(dir.path().join("a.txt"), "First document.\n").unwrap();
        std::fs::write(dir.path().join("c.pdf"), "not a pdf").unwrap();
        let sources: Sources =
            toml::from_str(&format!("paths = [{:?}]", dir.path().display().to_string())).unwrap();
        let reporter = Collect::default();
        let mut seen = Vec::new();
        let failed = for_each_document(DocSource::Files(&sources), &reporter, |d| {
            seen.push(d.source);
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, ["a.txt", "b.md"]);
        assert_eq!(failed, 1);
        assert_eq!(reporter.messages(Level::Error).len(), 1);
    }
}
