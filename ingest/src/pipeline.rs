//! Loading whole files into documents, safely: size caps before reading, format
//! detection, a time limit and panic isolation around every parse, so that one hostile
//! or broken file costs one failure and never the batch.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::document::{Document, Format, content_hash};
use crate::error::{DocError, Error, Result};
use crate::loader::{Limits, LoadContext, Loader};
use crate::ocr::{Ocr, OcrOptions};
use crate::records::{RecordKind, RecordOptions};
use crate::redact::{RedactOptions, Redactor};
use crate::source::SourceFile;

/// How files are read and parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestOptions {
    pub limits: Limits,
    /// Password for encrypted PDFs that the empty password does not open.
    pub pdf_password: Option<String>,
    /// How rows of CSV, TSV and JSON Lines files become documents.
    pub records: RecordOptions,
    /// When and how scanned pages and images are read by OCR.
    pub ocr: OcrOptions,
    /// Which personal data is replaced by placeholders before chunking (none by
    /// default).
    pub redact: RedactOptions,
    /// Metadata every document gets where it has no value of its own for the key: the
    /// `license` and `usage` a job file's `[sources]` declares for all its documents,
    /// which then reach every chunk, every output row and the metadata filter. Part of
    /// the content hash (a change re-ingests, as a redaction change does).
    pub metadata: BTreeMap<String, String>,
}

/// The loader for a single-document format: the one place that knows every loader
/// (here, beside the [`Ingestor`] that uses it, so the loaders themselves depend only on
/// the `loader` module's traits). Records formats (CSV, TSV, JSON Lines) yield
/// one document per row and are read by the records module instead, so they have none.
pub fn loader_for(format: crate::Format) -> Option<&'static dyn Loader> {
    use crate::Format;
    match format {
        Format::Pdf => Some(&crate::pdf::PdfLoader),
        Format::Text => Some(&crate::text::TextLoader),
        Format::Markdown => Some(&crate::markdown::MarkdownLoader),
        Format::Html => Some(&crate::html::HtmlLoader),
        Format::Docx => Some(&crate::docx::DocxLoader),
        Format::Email => Some(&crate::email::EmailLoader),
        Format::Image => Some(&crate::image::ImageLoader),
        Format::Pptx => Some(&crate::pptx::PptxLoader),
        Format::Csv | Format::Jsonl | Format::Spreadsheet => None,
    }
}

/// Open `path` for reading if it is a regular file, never blocking on a FIFO, and with
/// `no_follow` not through a symbolic link in its last component.
fn open_regular(
    path: &std::path::Path,
    no_follow: bool,
) -> std::result::Result<std::fs::File, DocError> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let follow = if no_follow { libc::O_NOFOLLOW } else { 0 };
        options.custom_flags(follow | libc::O_NONBLOCK);
    }
    let handle = options.open(path).map_err(|e| {
        #[cfg(unix)]
        if e.raw_os_error() == Some(libc::ELOOP) {
            return DocError::Unreadable("a symbolic link (not followed)".into());
        }
        DocError::Unreadable(e.to_string())
    })?;
    let kind = handle
        .metadata()
        .map_err(|e| DocError::Unreadable(e.to_string()))?
        .file_type();
    if kind.is_file() {
        Ok(handle)
    } else {
        Err(DocError::Unreadable(
            "not a regular file (a FIFO, socket or device)".into(),
        ))
    }
}

/// A reader that fails once more than `left` bytes are asked of it.
struct CappedReader<R> {
    inner: R,
    left: u64,
}

impl<R: std::io::Read> std::io::Read for CappedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        // One byte more than allowed tells a file at the cap from one past it.
        let want = buf
            .len()
            .min(usize::try_from(self.left.saturating_add(1)).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        if n as u64 > self.left {
            return Err(std::io::Error::other(
                "the file grew past the size limit while it was read",
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// Reads files into [`Document`]s under the configured limits.
#[derive(Debug, Clone)]
pub struct Ingestor {
    options: Arc<IngestOptions>,
    ocr: Arc<Ocr>,
    /// Set when the options ask for redaction.
    redactor: Option<Arc<Redactor>>,
}

impl Ingestor {
    pub fn new(options: IngestOptions) -> Self {
        let ocr = Arc::new(Ocr::new(options.ocr.clone()));
        let redactor = Redactor::new(&options.redact).map(Arc::new);
        Ingestor {
            options: Arc::new(options),
            ocr,
            redactor,
        }
    }

    /// Use this OCR engine (made from the same options, with a progress callback, say).
    pub fn with_ocr(mut self, ocr: Ocr) -> Self {
        self.ocr = Arc::new(ocr);
        self
    }

    /// The OCR engine documents are read with.
    pub fn ocr(&self) -> &Ocr {
        &self.ocr
    }

    pub fn options(&self) -> &IngestOptions {
        &self.options
    }

    /// The redactor documents go through, if redaction is on.
    pub fn redactor(&self) -> Option<&Redactor> {
        self.redactor.as_deref()
    }

    /// The content hash a document of these bytes gets: their blake3 digest, combined
    /// with the redaction settings when redaction is on (so a change of those settings
    /// is a change of every document, ingested again).
    pub fn content_hash(&self, bytes: &[u8]) -> String {
        let hash = content_hash(bytes);
        let hash = match &self.redactor {
            Some(r) => r.mark_hash(&hash),
            None => hash,
        };
        self.mark_metadata(hash)
    }

    /// `hash` combined with the metadata every document gets, when there is any.
    fn mark_metadata(&self, hash: String) -> String {
        if self.options.metadata.is_empty() {
            return hash;
        }
        let mut h = blake3::Hasher::new();
        h.update(hash.as_bytes());
        for (k, v) in &self.options.metadata {
            h.update(format!("\n{k:?}={v:?}").as_bytes());
        }
        h.finalize().to_hex().to_string()
    }

    /// Redact a parsed document if redaction is on: the last step before it is handed
    /// out, so that nothing downstream sees the values.
    fn finish(&self, mut doc: Document) -> Document {
        for (k, v) in &self.options.metadata {
            doc.metadata.entry(k.clone()).or_insert_with(|| v.clone());
        }
        if let Some(r) = &self.redactor {
            r.redact_document(&mut doc);
        }
        doc.content_hash = self.mark_metadata(doc.content_hash);
        doc
    }

    /// The documents of one file: one for most formats, one per row for records files.
    /// Each item fails on its own; the iterator goes on after a failed row.
    pub fn documents(&self, file: &SourceFile) -> Box<dyn Iterator<Item = Result<Document>> + '_> {
        match file.format {
            Some(f) if f.is_records() => match self.records(file) {
                Ok(rows) => Box::new(rows.map(|row| row.map(|doc| self.finish(doc)))),
                Err(e) => Box::new(std::iter::once(Err(e))),
            },
            _ => Box::new(std::iter::once(self.load(file))),
        }
    }

    /// Stream the rows of a records file as documents with sources `path#key`. The file
    /// is opened as [`read`](Self::read) opens any file and held to the same size cap,
    /// but read lazily; each row has the text cap and the parse deadline of one
    /// document (see [`crate::records::read`]).
    fn records(
        &self,
        file: &SourceFile,
    ) -> Result<Box<dyn Iterator<Item = Result<Document>> + '_>> {
        if file.format == Some(Format::Spreadsheet) {
            // A zip is read whole; its sheets are parsed one at a time as rows are asked.
            let bytes = self.read(file)?;
            let ctx = LoadContext::new(&self.options.limits);
            let sheets =
                crate::sheets::open(&file.path, &file.source, bytes, &self.options.records, &ctx)?;
            return Ok(Box::new(sheets));
        }
        let fail = |reason| Error::document(&file.path, reason);
        let handle = open_regular(&file.path, !file.explicit).map_err(fail)?;
        let size = handle
            .metadata()
            .map_err(|e| fail(DocError::Unreadable(e.to_string())))?
            .len();
        let limit = self.options.limits.max_file_bytes;
        if size > limit {
            return Err(fail(DocError::TooLarge {
                what: "the file",
                size,
                limit,
            }));
        }
        // A file that grows while it is read still stops at the cap.
        let reader = CappedReader {
            inner: handle,
            left: limit,
        };
        let mut opts = self.options.records.clone();
        let ext = file.path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if opts.kind.is_none() {
            opts.kind = RecordKind::from_extension(ext);
        }
        let format = opts.kind.map_or(Format::Csv, RecordKind::format);
        let ctx = LoadContext::new(&self.options.limits);
        let rows = crate::records::read(reader, &opts, &ctx);
        let path = file.path.clone();
        let source = file.source.clone();
        Ok(Box::new(rows.map(move |row| {
            row.map(|r| r.into_document(&source, format))
                .map_err(|e| e.into_error(&path))
        })))
    }

    /// Load a single-document file.
    pub fn load(&self, file: &SourceFile) -> Result<Document> {
        let bytes = self.read(file)?;
        self.load_bytes(file, bytes)
    }

    /// Load a single-document file from bytes already read with [`read`](Self::read)
    /// (an incremental run hashes them first and parses only what changed).
    pub fn load_bytes(&self, file: &SourceFile, bytes: Vec<u8>) -> Result<Document> {
        let fail = |reason| Error::document(&file.path, reason);
        let format = detect(file, &bytes).ok_or_else(|| {
            fail(DocError::Unsupported(match file.path.extension() {
                Some(ext) => format!("no loader for .{} files", ext.to_string_lossy()),
                None => "cannot tell the format of a file without extension".into(),
            }))
        })?;
        let hash = content_hash(&bytes);
        let extracted = self.parse_guarded(format, bytes).map_err(fail)?;
        let doc = Document::new(file.source.clone(), format, hash, extracted);
        Ok(self.finish(doc))
    }

    /// Read the file's bytes: opened without following a symbolic link and without
    /// blocking, checked on the open handle to be a regular file (a FIFO or a device
    /// could block forever or never end), refused if over the size cap before reading,
    /// and read with at most cap + 1 bytes (a file that grows meanwhile still fails).
    pub fn read(&self, file: &SourceFile) -> Result<Vec<u8>> {
        use std::io::Read;
        let fail = |reason| Error::document(&file.path, reason);
        let unreadable = |e: std::io::Error| fail(DocError::Unreadable(e.to_string()));
        let limit = self.options.limits.max_file_bytes;
        // A file the user named is read even through a link: that is what they asked.
        let handle = open_regular(&file.path, !file.explicit).map_err(fail)?;
        let size = handle.metadata().map_err(unreadable)?.len();
        if size > limit {
            return Err(fail(DocError::TooLarge {
                what: "the file",
                size,
                limit,
            }));
        }
        let mut bytes = Vec::with_capacity(size as usize);
        handle
            .take(limit.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(unreadable)?;
        if bytes.len() as u64 > limit {
            return Err(fail(DocError::TooLarge {
                what: "the file",
                size: bytes.len() as u64,
                limit,
            }));
        }
        Ok(bytes)
    }

    /// Parse bytes of a known format on a worker thread, with the time limit and panic
    /// isolation. A parse that overruns its deadline without noticing is abandoned: the
    /// document fails with `Timeout` and the batch goes on (the stuck thread ends with
    /// the process).
    pub fn parse_guarded(
        &self,
        format: Format,
        bytes: Vec<u8>,
    ) -> Result<crate::Extracted, DocError> {
        let loader = loader_for(format).ok_or_else(|| {
            DocError::Unsupported(match format {
                f if f.is_records() => format!("{format} files are records, read per row"),
                _ => format!("no loader for {format} files in this build"),
            })
        })?;
        let options = Arc::clone(&self.options);
        let ocr = Arc::clone(&self.ocr);
        let secs = options.limits.parse_timeout_secs;
        let (tx, rx) = mpsc::sync_channel(1);
        let spawned = std::thread::Builder::new()
            .name(format!("parse-{format}"))
            .spawn(move || {
                let mut ctx = LoadContext::new(&options.limits);
                ctx.pdf_password = options.pdf_password.as_deref();
                ctx.ocr = Some(&ocr);
                let result = catch_unwind(AssertUnwindSafe(|| loader.load(&bytes, &ctx)))
                    .unwrap_or_else(|payload| Err(DocError::Panic(panic_message(&*payload))));
                let result = result.and_then(|ex| ctx.check_text(ex.text.len()).map(|()| ex));
                let _ = tx.send(result);
            });
        if let Err(e) = spawned {
            return Err(DocError::Unreadable(format!(
                "cannot start a parser thread: {e}"
            )));
        }
        // Loaders check the deadline themselves; the grace period covers a check that
        // comes a little late.
        let wait = if secs == 0 {
            Duration::MAX
        } else {
            Duration::from_secs(secs) + Duration::from_secs(secs / 10 + 2)
        };
        match rx.recv_timeout(wait) {
            Ok(result) => result,
            Err(mpsc::RecvTimeoutError::Timeout) => Err(DocError::Timeout { secs }),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                Err(DocError::Panic("the parser thread died".into()))
            }
        }
    }
}

/// The format of a file: by extension, else by content for files named directly.
fn detect(file: &SourceFile, bytes: &[u8]) -> Option<Format> {
    if let Some(f) = file.format {
        return Some(f);
    }
    let head = &bytes[..bytes.len().min(1024)];
    if head.windows(5).any(|w| w == b"%PDF-") {
        return Some(Format::Pdf);
    }
    if head.starts_with(b"PK\x03\x04") {
        return zip_format(bytes);
    }
    if crate::ocr::ImageKind::sniff(head).is_some() {
        return Some(Format::Image);
    }
    let looks_like_text = !head.contains(&0) && is_utf8_prefix(head);
    (file.explicit && looks_like_text).then_some(Format::Text)
}

/// Which Office format a zip is, by its main part (`[Content_Types].xml` names it too,
/// but the part itself must be there to read): DOCX, PPTX, XLSX or an ODS spreadsheet.
/// Entry names are stored uncompressed in the zip's headers.
fn zip_format(bytes: &[u8]) -> Option<Format> {
    let has = |name: &[u8]| bytes.windows(name.len()).any(|w| w == name);
    if has(b"word/document.xml") {
        Some(Format::Docx)
    } else if has(b"ppt/presentation.xml") {
        Some(Format::Pptx)
    } else if has(b"xl/workbook.xml") || has(b"application/vnd.oasis.opendocument.spreadsheet") {
        Some(Format::Spreadsheet)
    } else {
        None
    }
}

/// Valid UTF-8, or valid up to a character cut at the end of the window.
fn is_utf8_prefix(head: &[u8]) -> bool {
    match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none(),
    }
}

/// The message a panic was raised with (its payload is a `&str` or a `String` for
/// `panic!` with a message), for reporting a caught panic as an error.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn office_zips_without_an_extension_are_told_apart_by_their_main_part() {
        let dir = tempfile::tempdir().unwrap();
        let deck = dir.path().join("deck");
        std::fs::write(
            &deck,
            crate::pptx::tests::pptx(&[("Only slide", "Body")], &[1]),
        )
        .unwrap();
        let doc = Ingestor::new(IngestOptions::default())
            .load(&SourceFile::explicit(&deck))
            .unwrap();
        assert_eq!(doc.format, Format::Pptx);
        assert_eq!(doc.text, "Only slide\n\nBody");
        let book = crate::sheets::tests::xlsx(&[("S", "")], &[]);
        assert_eq!(zip_format(&book), Some(Format::Spreadsheet));
        let docx = crate::sheets::tests::zip_of(&[("word/document.xml", String::new())]);
        assert_eq!(zip_format(&docx), Some(Format::Docx));
        assert_eq!(zip_format(b"PK\x03\x04 other"), None);
    }

    #[cfg(unix)]
    #[test]
    fn links_fifos_and_growing_files_are_refused_on_the_open_handle() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("a.txt");
        std::fs::write(&real, "hello").unwrap();
        let link = dir.path().join("link.txt");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let ingestor = Ingestor::new(IngestOptions::default());
        let walked = SourceFile {
            explicit: false,
            ..SourceFile::explicit(&link)
        };
        let e = ingestor.read(&walked).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        // A link the user named is what they asked for.
        assert_eq!(
            ingestor.read(&SourceFile::explicit(&link)).unwrap(),
            b"hello"
        );
        assert_eq!(
            ingestor.read(&SourceFile::explicit(&real)).unwrap(),
            b"hello"
        );
        let fifo = dir.path().join("pipe.txt");
        if std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .is_ok_and(|s| s.success())
        {
            // Would block forever if opened blocking.
            let e = ingestor.read(&SourceFile::explicit(&fifo)).unwrap_err();
            assert!(e.to_string().contains("not a regular file"), "{e}");
        }
        // Records files (read row by row) are opened the same way.
        let csv = dir.path().join("rows.csv");
        std::fs::write(&csv, "text\nhello\n").unwrap();
        let csv_link = dir.path().join("rows-link.csv");
        std::os::unix::fs::symlink(&csv, &csv_link).unwrap();
        let walked = SourceFile {
            explicit: false,
            ..SourceFile::explicit(&csv_link)
        };
        let rows: Vec<_> = ingestor.documents(&walked).collect();
        assert_eq!(rows.len(), 1);
        let e = rows[0].as_ref().unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        let csv_fifo = dir.path().join("pipe.csv");
        if std::process::Command::new("mkfifo")
            .arg(&csv_fifo)
            .status()
            .is_ok_and(|s| s.success())
        {
            let rows: Vec<_> = ingestor
                .documents(&SourceFile::explicit(&csv_fifo))
                .collect();
            let e = rows[0].as_ref().unwrap_err();
            assert!(e.to_string().contains("not a regular file"), "{e}");
        }
        let mut small = IngestOptions::default();
        small.limits.max_file_bytes = 4;
        let rows: Vec<_> = Ingestor::new(small.clone())
            .documents(&SourceFile::explicit(&csv))
            .collect();
        assert_eq!(rows.len(), 1);
        let e = rows[0].as_ref().unwrap_err();
        assert!(e.to_string().contains("too large"), "{e}");
        let e = Ingestor::new(small)
            .read(&SourceFile::explicit(&real))
            .unwrap_err();
        assert!(e.to_string().contains("too large"), "{e}");
    }
}
