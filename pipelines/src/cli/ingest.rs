//! `docket extract` and `docket ingest`.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use docket_ingest::{
    ApproxTokenizer, Chunk, Chunker, ChunkingConfig, Document, Error, Format, HfTokenizer,
    IngestOptions, Ingestor, SourceFile, TokenCounter,
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
        let counter: Arc<dyn TokenCounter> = match &self.embed.embed_model {
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
    let file = SourceFile::explicit(&args.file);
    let mut out = std::io::stdout().lock();
    let (mut failed, mut extracted) = (0, 0);
    let mut docs = ingestor.documents(&file);
    let first = docs.next();
    let mut rest = docs.peekable();
    // A single document that fails is the command's error: printed once, exit 1.
    if rest.peek().is_none()
        && let Some(Err(e)) = first
    {
        return Err(e.into());
    }
    for doc in first.into_iter().chain(rest) {
        let doc = match doc {
            Ok(doc) => doc,
            Err(e) => {
                log(&format!("error: {e}"));
                failed += 1;
                continue;
            }
        };
        extracted += 1;
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
    match (failed, extracted) {
        (0, _) => Ok(Outcome::Success),
        // Some rows of a records file failed: the others were printed.
        (_, 1..) => Ok(Outcome::Partial),
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

fn warn_about(path: &Path, doc: &Document) {
    for w in &doc.warnings {
        log(&format!("warning: {}: {w}", path.display()));
    }
}

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

/// What the workers hand on for one file, in walk order.
enum FileWork {
    /// A single-document file, parsed and chunked on a worker.
    Done(Box<Result<(Document, Vec<Chunk>), Error>>),
    /// A records file: streamed row by row where it is emitted, so that a file of a
    /// million rows never sits in memory.
    Records,
}

/// Per-file line of the human output: a records file of many rows is one line too.
struct FileLine {
    source: String,
    format: Format,
    documents: usize,
    pages: usize,
    chunks: usize,
}

pub fn ingest(args: IngestArgs) -> Result<Outcome> {
    let walk = docket_ingest::walk(&args.paths, &args.walk.options())?;
    let chunker = args.chunking.chunker()?;
    let ingestor = Ingestor::new(args.parse.ingest_options());
    let started = std::time::Instant::now();

    let mut totals = Totals::default();
    for e in &walk.errors {
        totals.fail(e);
    }
    // Buffered: a JSON line per chunk must not cost a write call each.
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let chunk = |doc: Result<Document, Error>| -> Result<(Document, Vec<Chunk>), Error> {
        let doc = doc?;
        let chunks = chunker.chunk(&doc)?;
        Ok((doc, chunks))
    };
    let work = |file: &SourceFile| match file.format {
        Some(Format::Csv | Format::Jsonl) => FileWork::Records,
        _ => FileWork::Done(Box::new(chunk(ingestor.load(file)))),
    };
    let mut emit = |out: &mut dyn Write,
                    file: &SourceFile,
                    result: Result<(Document, Vec<Chunk>), Error>,
                    line: &mut Option<FileLine>|
     -> Result<()> {
        let (doc, chunks) = match result {
            Ok(done) => done,
            Err(e) => {
                totals.fail(&e);
                return Ok(());
            }
        };
        warn_about(&file.path, &doc);
        totals.documents += 1;
        totals.pages += doc.pages.len();
        totals.no_text_pages += doc.pages_without_text().len();
        totals.chunks += chunks.len();
        if args.json {
            for c in &chunks {
                serde_json::to_writer(&mut *out, c)?;
                writeln!(out)?;
            }
        }
        let line = line.get_or_insert_with(|| FileLine {
            source: file.source.clone(),
            format: doc.format,
            documents: 0,
            pages: 0,
            chunks: 0,
        });
        line.documents += 1;
        line.pages += doc.pages.len();
        line.chunks += chunks.len();
        Ok(())
    };
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    crate::par::for_each_ordered(&walk.files, workers, work, |file, done| -> Result<()> {
        let mut line = None;
        match done {
            FileWork::Done(result) => emit(&mut out, file, *result, &mut line)?,
            FileWork::Records => {
                for doc in ingestor.documents(file) {
                    emit(&mut out, file, chunk(doc), &mut line)?;
                }
            }
        }
        if let (false, Some(l)) = (args.json, line) {
            let what = match l.format {
                Format::Csv | Format::Jsonl => format!("{} rows", l.documents),
                _ => format!("{} pages", l.pages),
            };
            writeln!(
                out,
                "{:<48} {:<9} {what:>10} {:>6} chunks",
                l.source, l.format, l.chunks
            )?;
        }
        Ok(())
    })
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
