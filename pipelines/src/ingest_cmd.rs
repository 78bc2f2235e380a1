//! `docket extract` and `docket ingest`.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use docket_ingest::{
    ApproxTokenizer, Chunk, Chunker, ChunkingConfig, Document, Error, HfTokenizer, IngestOptions,
    Ingestor, SourceFile, TokenCounter, WalkOptions,
};
use serde_json::json;

use crate::cli::{ChunkArgs, ExtractArgs, IngestArgs, ParseArgs};
use crate::{Outcome, log, models};

impl ParseArgs {
    pub fn ingest_options(&self) -> IngestOptions {
        let mut options = IngestOptions {
            pdf_password: self.pdf_password.clone(),
            ..IngestOptions::default()
        };
        if let Some(mib) = self.max_file_mib {
            options.limits.max_file_bytes = mib.saturating_mul(1024 * 1024);
        }
        if let Some(secs) = self.parse_timeout {
            options.limits.parse_timeout_secs = secs;
        }
        options.records.text_columns = self.text_columns.clone();
        options.records.id_column = self.id_column.clone();
        options.records.title_column = self.title_column.clone();
        options.records.html = self.records_html;
        options
    }
}

impl ChunkArgs {
    /// The chunker: sizes from the flags, tokens counted with the embedding model's
    /// tokenizer. Without a model (and none can be fetched) token counts are
    /// approximated, with a warning.
    pub fn chunker(&self) -> Result<Chunker> {
        let mut config = ChunkingConfig::default();
        if let Some(n) = self.chunk_tokens {
            config.target_tokens = n;
        }
        if let Some(n) = self.chunk_overlap {
            config.overlap_tokens = n;
        }
        let counter: Arc<dyn TokenCounter> = match &self.embed_model {
            Some(dir) => Arc::new(HfTokenizer::from_file(&dir.join("tokenizer.json"))?),
            None => match models::EMBEDDER.ensure() {
                Ok(dir) => Arc::new(HfTokenizer::from_file(&dir.join("tokenizer.json"))?),
                Err(e) => {
                    log(&format!(
                        "warning: no embedding model tokenizer ({e:#}); chunk sizes are approximate"
                    ));
                    Arc::new(ApproxTokenizer)
                }
            },
        };
        Ok(Chunker::new(config, counter)?)
    }
}

pub fn extract(args: ExtractArgs) -> Result<Outcome> {
    let ingestor = Ingestor::new(args.parse.ingest_options());
    let file = explicit_file(&args.file);
    let mut out = std::io::stdout().lock();
    let mut failed = 0;
    for doc in ingestor.documents(&file) {
        let doc = match doc {
            Ok(doc) => doc,
            Err(e) => {
                log(&format!("error: {e}"));
                failed += 1;
                continue;
            }
        };
        warn_about(&args.file, &doc);
        if args.json {
            serde_json::to_writer(&mut out, &document_json(&doc))?;
            writeln!(out)?;
        } else {
            out.write_all(doc.text.as_bytes())?;
            writeln!(out)?;
        }
    }
    out.flush()?;
    match failed {
        0 => Ok(Outcome::Success),
        _ => Err(anyhow::anyhow!(
            "{} could not be extracted",
            args.file.display()
        )),
    }
}

/// The JSON form of a document, with each page's text inline.
fn document_json(doc: &Document) -> serde_json::Value {
    let pages: Vec<_> = doc
        .pages
        .iter()
        .map(|p| {
            json!({"number": p.number, "text": doc.page_text(p), "has_text_layer": p.has_text_layer})
        })
        .collect();
    json!({
        "id": doc.id,
        "source": doc.source,
        "title": doc.title,
        "format": doc.format,
        "content_hash": doc.content_hash,
        "pages": pages,
        "headings": doc.headings,
        "metadata": doc.metadata,
        "warnings": doc.warnings,
    })
}

fn explicit_file(path: &Path) -> SourceFile {
    SourceFile {
        path: path.to_path_buf(),
        source: path
            .file_name()
            .map_or_else(|| path.to_string_lossy(), |n| n.to_string_lossy())
            .into_owned(),
        format: docket_ingest::source::format_of(path),
        explicit: true,
    }
}

fn warn_about(path: &Path, doc: &Document) {
    for w in &doc.warnings {
        log(&format!("warning: {}: {w}", path.display()));
    }
}

/// What one file gave: its path, and its documents with their chunks, or failures.
type FileResult = (
    std::path::PathBuf,
    Vec<Result<(Document, Vec<Chunk>), Error>>,
);

#[derive(Debug, Default)]
struct Totals {
    documents: usize,
    chunks: usize,
    pages: usize,
    /// Failures by kind (`password_required`, `corrupt`, ...), for the closing summary.
    failed: std::collections::BTreeMap<&'static str, usize>,
    no_text_pages: usize,
}

impl Totals {
    fn fail(&mut self, e: &Error) {
        log(&format!("error: {e}"));
        *self.failed.entry(e.kind()).or_default() += 1;
    }

    fn failures(&self) -> usize {
        self.failed.values().sum()
    }
}

pub fn ingest(args: IngestArgs) -> Result<Outcome> {
    let walk_options = WalkOptions {
        include: args.include.clone(),
        exclude: args.exclude.clone(),
        hidden: args.hidden,
        no_ignore: args.no_ignore,
    };
    let walk = docket_ingest::walk(&args.paths, &walk_options)?;
    let chunker = args.chunking.chunker()?;
    let ingestor = Ingestor::new(args.parse.ingest_options());
    let started = std::time::Instant::now();

    let mut totals = Totals::default();
    for e in &walk.errors {
        totals.fail(e);
    }
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut out = std::io::stdout().lock();
    let work = |file: &SourceFile| -> FileResult {
        let results = ingestor
            .documents(file)
            .map(|doc| {
                let doc = doc?;
                let chunks = chunker.chunk(&doc)?;
                Ok((doc, chunks))
            })
            .collect();
        (file.path.clone(), results)
    };
    crate::par::for_each_ordered(
        &walk.files,
        workers,
        work,
        |(path, results)| -> Result<()> {
            // One human line per file: a records file of many rows is one line too.
            let mut line: Option<(String, docket_ingest::Format, usize, usize, usize)> = None;
            for r in results {
                match r {
                    Ok((doc, chunks)) => {
                        warn_about(&path, &doc);
                        totals.documents += 1;
                        totals.pages += doc.pages.len();
                        totals.no_text_pages += doc.pages_without_text().len();
                        totals.chunks += chunks.len();
                        if args.json {
                            for c in &chunks {
                                serde_json::to_writer(&mut out, c)?;
                                writeln!(out)?;
                            }
                        }
                        let (_, _, docs, pages, n) = line.get_or_insert_with(|| {
                            let file = doc.source.split_once('#').map_or(&*doc.source, |(f, _)| f);
                            (file.to_string(), doc.format, 0, 0, 0)
                        });
                        *docs += 1;
                        *pages += doc.pages.len();
                        *n += chunks.len();
                    }
                    Err(e) => totals.fail(&e),
                }
            }
            if let (false, Some((source, format, docs, pages, chunks))) = (args.json, line) {
                let what = match format {
                    docket_ingest::Format::Csv | docket_ingest::Format::Jsonl => {
                        format!("{docs} rows")
                    }
                    _ => format!("{pages} pages"),
                };
                writeln!(
                    out,
                    "{source:<48} {format:<9} {what:>10} {chunks:>6} chunks"
                )?;
            }
            Ok(())
        },
    )
    .context("writing the output")?;
    out.flush()?;

    let mut summary = format!(
        "ingested {} documents ({} pages) into {} chunks of up to {} {} tokens in {:.1}s",
        totals.documents,
        totals.pages,
        totals.chunks,
        chunker.config().target_tokens,
        chunker.tokenizer_name(),
        started.elapsed().as_secs_f64()
    );
    if totals.no_text_pages > 0 {
        summary.push_str(&format!(
            "; {} pages have no text layer (scans: OCR is not supported)",
            totals.no_text_pages
        ));
    }
    if !walk.skipped.is_empty() {
        summary.push_str(&format!(
            "; {} files skipped (unsupported format)",
            walk.skipped.len()
        ));
    }
    if totals.failures() > 0 {
        let kinds: Vec<String> = totals
            .failed
            .iter()
            .map(|(k, n)| format!("{n} {k}"))
            .collect();
        summary.push_str(&format!(
            "; {} failed: {} (see the errors above)",
            totals.failures(),
            kinds.join(", ")
        ));
    }
    log(&summary);
    if totals.failures() > 0 {
        Ok(Outcome::Partial)
    } else {
        Ok(Outcome::Success)
    }
}
