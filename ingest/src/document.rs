//! The data model every later stage builds on: a [`Document`] is the normalised text of
//! one source with its pages and headings; loaders produce an [`Extracted`] (text and
//! structure only) through a [`TextBuilder`], and the caller, who knows where the bytes
//! came from, turns it into a `Document` with a stable id and a content hash.
//!
//! Offsets are byte offsets into [`Document::text`], where pages are separated by a form
//! feed (`\f`). Chunks, citations and quotes all refer to these offsets, so the text of a
//! document must be reproduced exactly from the same bytes on any machine.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Separator between pages in [`Document::text`].
pub const PAGE_BREAK: char = '\u{c}';

/// The kind of source a document came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Pdf,
    Text,
    Markdown,
    Html,
    Docx,
    Email,
    /// One row of a CSV or TSV file.
    Csv,
    /// One line of a JSON Lines file.
    Jsonl,
    /// An image file (PNG, JPEG, TIFF, ...), read by OCR.
    Image,
    /// One row of a sheet of a spreadsheet (XLSX, ODS).
    Spreadsheet,
    /// A PowerPoint presentation, a page per slide.
    Pptx,
}

impl Format {
    /// The format a file name suggests, by extension (case-insensitive).
    pub fn from_extension(ext: &str) -> Option<Format> {
        let ext = ext.to_ascii_lowercase();
        Some(match ext.as_str() {
            "pdf" => Format::Pdf,
            "txt" | "text" | "log" | "rst" => Format::Text,
            "md" | "markdown" | "mdown" | "mkd" => Format::Markdown,
            "html" | "htm" | "xhtml" => Format::Html,
            "docx" => Format::Docx,
            "eml" => Format::Email,
            "csv" | "tsv" | "tab" => Format::Csv,
            "jsonl" | "ndjson" => Format::Jsonl,
            "png" | "jpg" | "jpeg" | "jpe" | "tif" | "tiff" | "bmp" | "webp" | "pnm" | "pbm"
            | "pgm" | "ppm" => Format::Image,
            "xlsx" | "xlsm" | "ods" => Format::Spreadsheet,
            "pptx" => Format::Pptx,
            _ => return None,
        })
    }

    /// Lower-case name, as used in JSON output and metadata filters.
    pub fn name(self) -> &'static str {
        match self {
            Format::Pdf => "pdf",
            Format::Text => "text",
            Format::Markdown => "markdown",
            Format::Html => "html",
            Format::Docx => "docx",
            Format::Email => "email",
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
            Format::Image => "image",
            Format::Spreadsheet => "spreadsheet",
            Format::Pptx => "pptx",
        }
    }

    /// Whether a file of this format holds many documents, one per row (CSV, TSV,
    /// JSON Lines, spreadsheets), read row by row rather than by a [`crate::Loader`].
    pub fn is_records(self) -> bool {
        matches!(self, Format::Csv | Format::Jsonl | Format::Spreadsheet)
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// One page of a document: a byte range of [`Document::text`] (without the page break).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    /// 1-based physical page number (for PDFs, the page's position in the file).
    pub number: u32,
    pub start: usize,
    pub end: usize,
    /// False for pages that carry no text layer (scans); their text is empty and OCR
    /// would be needed. Reported, never silently dropped.
    pub has_text_layer: bool,
    /// Set when the page's text was recognised by OCR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ocr: Option<PageOcr>,
}

/// How well a page's text was recognised by OCR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageOcr {
    /// Mean word confidence, 0 to 100 (0 when no word was found).
    pub confidence: u8,
    /// Below the configured threshold: the text may be wrong.
    pub low_confidence: bool,
}

/// A heading that opens a section at `offset` in [`Document::text`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heading {
    pub offset: usize,
    /// 1 for the top level (`#`, `<h1>`, Word's Heading 1).
    pub level: u8,
    pub title: String,
}

/// A table whose rows are lines of [`Document::text`] (cells separated by ` | `): the
/// byte range of its rows and its first row, the header, which a chunk that starts in
/// the middle of the table carries in its heading path so its numbers keep their names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    pub start: usize,
    pub end: usize,
    /// The first row's text, as in the document (`Item | Price | Stock`).
    pub header: String,
}

/// What a loader extracts from the bytes of one source: text and structure, no identity.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extracted {
    pub title: Option<String>,
    pub text: String,
    pub pages: Vec<Page>,
    pub headings: Vec<Heading>,
    pub metadata: BTreeMap<String, String>,
    /// Things the user should know that did not stop the parse (e.g. pages without a text
    /// layer, a damaged cross-reference table that was rebuilt).
    pub warnings: Vec<String>,
    /// Tables with a header row, in order.
    pub tables: Vec<Table>,
}

/// Builds the text of a document page by page, recording headings and page ranges.
#[derive(Debug, Default)]
pub struct TextBuilder {
    out: Extracted,
    page_start: usize,
    page_ocr: Option<PageOcr>,
}

impl TextBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Append text to the current page.
    pub fn push_str(&mut self, s: &str) {
        self.out.text.push_str(s);
    }

    /// Append one character to the current page.
    pub fn push(&mut self, c: char) {
        self.out.text.push(c);
    }

    /// The text of the current page so far.
    pub fn current_page(&self) -> &str {
        &self.out.text[self.page_start..]
    }

    /// Length in bytes of the text so far.
    pub fn len(&self) -> usize {
        self.out.text.len()
    }

    pub fn is_empty(&self) -> bool {
        self.out.text.is_empty()
    }

    /// Record that a section with this heading starts at the current offset. The caller
    /// pushes the heading's own text if it belongs in the body (it usually does).
    pub fn heading(&mut self, level: u8, title: impl Into<String>) {
        let title = title.into().trim().to_string();
        if title.is_empty() {
            return;
        }
        self.out.headings.push(Heading {
            offset: self.out.text.len(),
            level: level.max(1),
            title,
        });
    }

    /// Record that the current page's text was recognised by OCR, with this mean word
    /// confidence (0 to 100).
    pub fn page_ocr(&mut self, confidence: f32, low_confidence: bool) {
        self.page_ocr = Some(PageOcr {
            confidence: confidence.round().clamp(0.0, 100.0) as u8,
            low_confidence,
        });
    }

    /// Close the current page and start the next one.
    pub fn break_page(&mut self, has_text_layer: bool) {
        self.close_page(has_text_layer);
        self.out.text.push(PAGE_BREAK);
        self.page_start = self.out.text.len();
    }

    pub fn set_title(&mut self, title: impl Into<String>) {
        let title = title.into().trim().to_string();
        if !title.is_empty() {
            self.out.title = Some(title);
        }
    }

    pub fn metadata(&mut self, key: impl Into<String>, value: impl Into<String>) {
        let value = value.into().trim().to_string();
        if !value.is_empty() {
            self.out.metadata.insert(key.into(), value);
        }
    }

    pub fn warn(&mut self, warning: impl Into<String>) {
        self.out.warnings.push(warning.into());
    }

    /// Record that `[start, end)` of the text so far is a table whose first line (its
    /// header row) is `header`.
    pub fn table(&mut self, start: usize, end: usize, header: impl Into<String>) {
        let header = header.into();
        if start < end && end <= self.out.text.len() && !header.is_empty() {
            self.out.tables.push(Table { start, end, header });
        }
    }

    /// Close the last page and return the result.
    pub fn finish(mut self, has_text_layer: bool) -> Extracted {
        self.close_page(has_text_layer);
        self.out
    }

    fn close_page(&mut self, has_text_layer: bool) {
        let number = self.out.pages.len() as u32 + 1;
        self.out.pages.push(Page {
            number,
            start: self.page_start,
            end: self.out.text.len(),
            has_text_layer,
            ocr: self.page_ocr.take(),
        });
    }
}

/// One parsed source, ready to chunk: normalised text, pages, headings and metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    /// Stable across runs and machines: derived from the source path relative to the
    /// ingest root (plus the record key for rows of a records file).
    pub id: String,
    /// Path of the source relative to the ingest root (`/` separated), with `#key` for
    /// records.
    pub source: String,
    pub title: Option<String>,
    pub format: Format,
    /// blake3 of the source bytes (of the row, for records): tells whether it changed.
    pub content_hash: String,
    pub text: String,
    pub pages: Vec<Page>,
    pub headings: Vec<Heading>,
    pub metadata: BTreeMap<String, String>,
    pub warnings: Vec<String>,
    /// Tables with a header row (see [`Table`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<Table>,
    /// How many values of each kind of personal data were replaced by placeholders
    /// (see [`crate::redact`]); the values themselves are kept nowhere.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub redactions: BTreeMap<crate::redact::PiiKind, usize>,
}

impl Document {
    /// Give extracted text an identity. `source` is the display path relative to the
    /// ingest root; `bytes_hash` the blake3 hex digest of the source bytes.
    pub fn new(source: String, format: Format, content_hash: String, ex: Extracted) -> Self {
        let mut ex = ex;
        cap_fields(&mut ex);
        Document {
            id: document_id(&source),
            source,
            title: ex.title,
            format,
            content_hash,
            text: ex.text,
            pages: ex.pages,
            headings: ex.headings,
            metadata: ex.metadata,
            warnings: ex.warnings,
            tables: ex.tables,
            redactions: BTreeMap::new(),
        }
    }

    /// The text of one page (without the page break).
    pub fn page_text(&self, page: &Page) -> &str {
        &self.text[page.start..page.end]
    }

    /// The page that holds byte `offset` (the last page for offsets at the very end).
    pub fn page_at(&self, offset: usize) -> u32 {
        let idx = self.pages.partition_point(|p| p.end < offset);
        self.pages
            .get(idx)
            .or(self.pages.last())
            .map_or(1, |p| p.number)
    }

    /// Titles of the headings that enclose byte `offset`, outermost first.
    pub fn heading_path_at(&self, offset: usize) -> Vec<String> {
        let mut path: Vec<&Heading> = Vec::new();
        for h in self.headings.iter().take_while(|h| h.offset <= offset) {
            while path.last().is_some_and(|top| top.level >= h.level) {
                path.pop();
            }
            path.push(h);
        }
        path.into_iter().map(|h| h.title.clone()).collect()
    }

    /// The header row of the table that byte `offset` falls in past its header row, if
    /// any: what a chunk starting there needs to say what its cells mean.
    pub fn table_header_at(&self, offset: usize) -> Option<&str> {
        let i = self.tables.partition_point(|t| t.start <= offset);
        let t = self.tables[..i].last()?;
        let rows = t.start + self.text.get(t.start..t.end)?.find('\n')?;
        (offset > rows && offset < t.end).then_some(t.header.as_str())
    }

    /// Pages that have no text layer (scans) and were not read by OCR: their content is
    /// missing.
    pub fn pages_without_text(&self) -> Vec<u32> {
        self.pages
            .iter()
            .filter(|p| !p.has_text_layer && p.ocr.is_none())
            .map(|p| p.number)
            .collect()
    }
}

/// Stable document id for a source path relative to the ingest root: 16 hex digits of
/// blake3, so ids are fixed-width, safe in any store and independent of the machine.
pub fn document_id(source: &str) -> String {
    let hash = blake3::hash(source.as_bytes());
    hash.to_hex()[..16].to_string()
}

/// The longest title, heading or metadata value kept, in bytes. These fields are
/// copied into every chunk (a chunk carries its heading path, title and metadata), so a
/// hostile 12 MiB heading would otherwise cost 12 MiB per chunk.
pub const MAX_FIELD_BYTES: usize = 4096;

/// `s` cut to at most `max` bytes at a character boundary; whether it was cut.
fn cut_field(s: &mut String, max: usize) -> bool {
    if s.len() <= max {
        return false;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
    true
}

/// Cap the fields that go into every chunk, with a warning naming what was cut.
fn cap_fields(ex: &mut Extracted) {
    let mut cut = Vec::new();
    if ex
        .title
        .as_mut()
        .is_some_and(|t| cut_field(t, MAX_FIELD_BYTES))
    {
        cut.push("the title".to_owned());
    }
    let mut headings = 0;
    for h in &mut ex.headings {
        headings += usize::from(cut_field(&mut h.title, MAX_FIELD_BYTES));
    }
    if headings > 0 {
        cut.push(format!("{headings} headings"));
    }
    let mut headers = 0;
    for t in &mut ex.tables {
        headers += usize::from(cut_field(&mut t.header, MAX_FIELD_BYTES));
    }
    if headers > 0 {
        cut.push(format!("{headers} table headers"));
    }
    for (key, value) in ex.metadata.iter_mut() {
        if cut_field(value, MAX_FIELD_BYTES) {
            cut.push(format!("metadata field {key}"));
        }
    }
    if !cut.is_empty() {
        ex.warnings.push(format!(
            "{} cut to {MAX_FIELD_BYTES} bytes (they are copied into every chunk)",
            cut.join(", ")
        ));
    }
}

/// blake3 hex digest of some bytes, the content hash of a source.
pub fn content_hash(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

#[cfg(test)]
mod tests {

    #[test]
    fn regression_a_huge_heading_is_cut_once_not_copied_whole_into_every_chunk() {
        // A Markdown file whose heading is megabytes long made every chunk carry it.
        let heading = "Ä".repeat(600_000); // 1.2 MB, two bytes a character
        let mut text = format!("# {heading}\n\n");
        for i in 0..200 {
            text.push_str(&format!(
                "Paragraph {i} with enough words to make chunks.\n\n"
            ));
        }
        let ex = crate::loader_for(Format::Markdown)
            .unwrap()
            .load(
                text.as_bytes(),
                &crate::LoadContext::new(&crate::Limits::default()),
            )
            .unwrap();
        let doc = Document::new("big.md".into(), Format::Markdown, "h".into(), ex);
        assert!(
            doc.headings
                .iter()
                .all(|h| h.title.len() <= MAX_FIELD_BYTES)
        );
        assert!(
            doc.warnings.iter().any(|w| w.contains("1 headings cut")),
            "{:?}",
            doc.warnings
        );
        let chunker = crate::Chunker::new(
            crate::ChunkingConfig {
                target_tokens: 32,
                overlap_tokens: 0,
            },
            std::sync::Arc::new(crate::ApproxTokenizer),
        )
        .unwrap();
        let chunks = chunker.chunk(&doc).unwrap();
        assert!(chunks.len() > 10);
        for c in &chunks {
            let path: usize = c.heading_path.iter().map(String::len).sum();
            assert!(
                path <= MAX_FIELD_BYTES,
                "chunk {} carries {path} bytes of headings",
                c.id
            );
        }
        let mut s = "ab€".to_owned();
        assert!(
            cut_field(&mut s, 3) && s == "ab",
            "cut at a character boundary: {s}"
        );
    }

    use super::*;

    #[test]
    fn builder_records_pages_and_headings() {
        let mut b = TextBuilder::new();
        b.heading(1, "Intro");
        b.push_str("Intro\n\nfirst page");
        b.break_page(true);
        b.heading(2, "Details");
        b.push_str("Details\n\nsecond page");
        let ex = b.finish(true);
        let doc = Document::new("a/b.md".into(), Format::Markdown, content_hash(b"x"), ex);
        assert_eq!(doc.pages.len(), 2);
        assert_eq!(doc.page_text(&doc.pages[0]), "Intro\n\nfirst page");
        assert_eq!(doc.page_text(&doc.pages[1]), "Details\n\nsecond page");
        let second = doc.text.find("second").unwrap();
        assert_eq!(doc.page_at(second), 2);
        assert_eq!(doc.page_at(0), 1);
        assert_eq!(doc.heading_path_at(second), vec!["Intro", "Details"]);
        assert_eq!(doc.heading_path_at(0), vec!["Intro"]);
    }

    #[test]
    fn sibling_headings_replace_each_other() {
        let mut b = TextBuilder::new();
        b.heading(1, "A");
        b.push_str("A\n");
        b.heading(2, "A.1");
        b.push_str("A.1\n");
        b.heading(2, "A.2");
        b.push_str("A.2\n");
        b.heading(1, "B");
        b.push_str("B\n");
        let doc = Document::new("x".into(), Format::Text, String::new(), b.finish(true));
        let at = |s: &str| doc.heading_path_at(doc.text.find(s).unwrap());
        assert_eq!(at("A.2"), vec!["A", "A.2"]);
        assert_eq!(at("B"), vec!["B"]);
    }

    #[test]
    fn ids_are_stable_and_distinct() {
        assert_eq!(document_id("docs/a.pdf"), document_id("docs/a.pdf"));
        assert_ne!(document_id("docs/a.pdf"), document_id("docs/b.pdf"));
        assert_eq!(document_id("docs/a.pdf").len(), 16);
    }
}
