//! `docket extract` and `docket ingest`: print what docket-ingest makes of files.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use docket_ingest::stream::{Item, StreamOptions, parse_all, stream};
use docket_ingest::{Chunk, Document, Error, Format, Ingestor, SourceFile};
use docket_pipelines::models::chunker;
use docket_pipelines::report::ReporterExt;
use docket_pipelines::sync::some_names;
use serde_json::json;

use super::flags::{ChunkArgs, ParseArgs, WalkArgs};
use super::outcome::{Outcome, with_hint};
use super::term::Term;

#[derive(Debug, Args)]
pub struct ExtractArgs {
    /// The document to extract.
    pub file: PathBuf,
    /// Print the whole document as one JSON object (pages, headings, metadata).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub parse: ParseArgs,
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Files and folders to ingest (folders recursively).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Print every chunk as a JSON line instead of a human summary.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub walk: WalkArgs,
    #[command(flatten)]
    pub parse: ParseArgs,
    #[command(flatten)]
    pub chunking: ChunkArgs,
}

pub fn extract(args: ExtractArgs, term: Term) -> Result<Outcome> {
    let ingestor = ingestor(&args.parse, term);
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
                term.error(&with_hint(e.to_string(), &e));
                failed += 1;
                continue;
            }
        };
        extracted += 1;
        warn_about(&term, &args.file, &doc);
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

/// The ingestor for these flags, telling `term` how OCR goes (a line every ten pages
/// recognised in a document, and when its last page is done).
fn ingestor(parse: &ParseArgs, term: Term) -> Ingestor {
    let options = parse.settings().ingest_options();
    let ocr = docket_ingest::Ocr::new(options.ocr.clone()).with_progress(std::sync::Arc::new(
        move |done: usize, total: usize| {
            if total > 1 && (done.is_multiple_of(10) || done == total) {
                term.line(
                    docket_pipelines::report::Level::Info,
                    &format!("OCR: {done} of {total} pages recognised"),
                );
            }
        },
    ));
    Ingestor::new(options).with_ocr(ocr)
}

/// The JSON form of a document, with each page's text inline.
fn document_json(doc: &Document) -> serde_json::Value {
    let pages: Vec<_> = doc
        .pages
        .iter()
        .map(|p| {
            let mut page = json!({"number": p.number, "text": doc.page_text(p), "has_text_layer": p.has_text_layer});
            if let Some(ocr) = p.ocr {
                page["ocr"] = json!(ocr);
            }
            page
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
        "redactions": doc.redactions,
    })
}

fn warn_about(term: &Term, path: &Path, doc: &Document) {
    for w in &doc.warnings {
        term.warn(&format!("{}: {w}", path.display()));
    }
}

/// What `docket ingest` counts, for its closing summary.
#[derive(Debug, Default)]
struct Totals {
    documents: usize,
    chunks: usize,
    pages: usize,
    /// Failures by kind (`password_required`, `corrupt`, ...).
    failed: BTreeMap<&'static str, usize>,
    no_text_pages: usize,
    /// Values of personal data redacted, by kind (with `--redact`).
    redacted: BTreeMap<docket_ingest::PiiKind, usize>,
}

impl Totals {
    fn fail(&mut self, term: &Term, e: &Error) {
        term.error(&with_hint(e.to_string(), e));
        *self.failed.entry(e.kind()).or_default() += 1;
    }

    fn failures(&self) -> usize {
        self.failed.values().sum()
    }
}

/// One line of the human output per file: a records file of many rows is one line too.
struct FileLine {
    format: Format,
    documents: usize,
    pages: usize,
    chunks: usize,
}

pub fn ingest(args: IngestArgs, term: Term) -> Result<Outcome> {
    let walk = docket_ingest::walk(&args.paths, &args.walk.options())?;
    let chunker = chunker(&args.chunking.settings(), &term)?;
    let ingestor = ingestor(&args.parse, term);
    let started = std::time::Instant::now();
    let mut totals = Totals::default();
    for e in &walk.errors {
        totals.fail(&term, e);
    }
    // Buffered: a JSON line per chunk must not cost a write call each.
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut line: Option<FileLine> = None;
    let process = |doc: &Document| chunker.chunk(doc);
    let emit =
        |file: &SourceFile, item: Item<(), docket_ingest::Result<Vec<Chunk>>>| -> Result<()> {
            match item {
                Item::Parsed {
                    doc,
                    result: Ok(chunks),
                    ..
                } => {
                    warn_about(&term, &file.path, &doc);
                    totals.documents += 1;
                    totals.pages += doc.pages.len();
                    totals.no_text_pages += doc.pages_without_text().len();
                    totals.chunks += chunks.len();
                    for (&kind, &n) in &doc.redactions {
                        *totals.redacted.entry(kind).or_default() += n;
                    }
                    if args.json {
                        for c in &chunks {
                            serde_json::to_writer(&mut out, c)?;
                            writeln!(out)?;
                        }
                    }
                    let l = line.get_or_insert(FileLine {
                        format: doc.format,
                        documents: 0,
                        pages: 0,
                        chunks: 0,
                    });
                    l.documents += 1;
                    l.pages += doc.pages.len();
                    l.chunks += chunks.len();
                }
                Item::Parsed { result: Err(e), .. } | Item::Failed { error: e, .. } => {
                    totals.fail(&term, &e)
                }
                Item::EndOfFile => {
                    if let (false, Some(l)) = (args.json, line.take()) {
                        write_file_line(&mut out, &file.source, &l)?;
                    }
                }
                Item::Unparsed { .. } | Item::Skipped => {}
            }
            Ok(())
        };
    stream(
        &ingestor,
        &walk.files,
        &StreamOptions::default(),
        parse_all,
        process,
        emit,
    )
    .context("writing the output")?;
    out.flush()?;
    let mut line = summary(&totals, &chunker, walk.skipped.len(), started);
    for (paths, what) in [
        (
            &walk.links,
            "symbolic links not followed (--follow reads those inside the folder)",
        ),
        (&walk.special, "entries that are not regular files skipped"),
    ] {
        if !paths.is_empty() {
            line.push_str(&format!("; {} {what}: {}", paths.len(), some_names(paths)));
        }
    }
    term.info(&line);
    Ok(Outcome::failed_if(totals.failures()))
}

fn write_file_line(out: &mut dyn Write, source: &str, l: &FileLine) -> std::io::Result<()> {
    let what = match l.format {
        f if f.is_records() => format!("{} rows", l.documents),
        _ => format!("{} pages", l.pages),
    };
    writeln!(
        out,
        "{source:<48} {:<9} {what:>10} {:>6} chunks",
        l.format, l.chunks
    )
}

fn summary(
    totals: &Totals,
    chunker: &docket_ingest::Chunker,
    skipped: usize,
    started: std::time::Instant,
) -> String {
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
            "; {} pages have no text layer and were not read by OCR (see the warnings)",
            totals.no_text_pages
        ));
    }
    if !totals.redacted.is_empty() {
        summary.push_str(&format!(
            "; redacted {}",
            docket_pipelines::sync::redaction_counts(&totals.redacted)
        ));
    }
    if skipped > 0 {
        summary.push_str(&format!("; {skipped} files skipped (unsupported format)"));
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
    summary
}
