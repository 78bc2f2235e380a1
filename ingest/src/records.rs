//! Records files: CSV, TSV and JSON Lines, where every row is one document.
//!
//! [`read`] streams: it returns an iterator ([`Records`]) that parses one row per call,
//! so a file of a million rows never sits in memory. A bad row (wrong number of fields,
//! invalid JSON, no text, longer than the text cap) is a [`RecordError::Row`] with its
//! line number and the iterator goes on with the next row; a problem with the file as a
//! whole (no usable text column, an I/O error, a row over the deadline, a quoted field
//! never closed) is a [`RecordError::File`] and ends the iteration. No row is ever held
//! whole in memory past the text cap, not even one a stray quote runs to the end of the
//! file (see the `tap` module).
//!
//! Each row becomes an [`Extracted`]: the text is the values of the text columns (tidied,
//! joined with a blank line), the title the title column's value, and every other
//! non-empty column is metadata under its header name. The row's key is the id column's
//! value (unique ids are enforced) when one is configured or a column is named `id` or
//! `_id` ([`ID_COLUMN_NAMES`]), else its 1-based position among the data rows, which
//! stays stable as long as rows are only appended.
//!
//! Text columns, when not configured, are found by name (see [`TEXT_COLUMN_NAMES`]); the
//! title column likewise ([`TITLE_COLUMN_NAMES`]). Names match case-insensitively, with
//! spaces and dashes read as underscores.
//!
//! CSV follows RFC 4180 (quoted fields may hold delimiters and newlines). TSV is read
//! without quoting, as the format defines it: a `"` in a TSV field is a character, so
//! texts with stray quotes (common in SMS and review dumps) do not swallow the next lines.
//! Fields that are not UTF-8 are decoded as Windows-1252, with a warning on the row.
//!
//! JSON Lines: one object per line, blank lines skipped. Keys are matched exactly, and an
//! auto-detected text column is looked for in the first row only (rows need not share
//! their keys; a row without the text field is a bad row). Nested objects are flattened to
//! dotted keys (`{"a":{"b":1}}` gives column `a.b`), so text and title columns may name
//! nested fields; arrays, numbers and booleans become their JSON text; nulls are absent.

mod tap;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;

use serde::{Deserialize, Deserializer, Serialize};

use crate::document::{Document, Extracted, Format, TextBuilder};
use crate::loader::{Deadline, LoadContext};
use crate::normalize::{normalize_text, tidy_whitespace};
use tap::RowTap;

/// Column names taken as the text when `text_columns` is empty, in order of preference.
/// The first one present is used.
pub const TEXT_COLUMN_NAMES: &[&str] = &[
    "text",
    "body",
    "content",
    "message",
    "review",
    "review_text",
    "reviewtext",
    "description",
    "comment",
    "comments",
    "question",
    "sentence",
    "document",
    "abstract",
    "article",
    "post",
    "tweet",
    "sms",
    "msg",
    "answer",
    "note",
    "notes",
];

/// Column names taken as the row's key when `id_column` is not set: by convention such a
/// column holds unique ids, and keys that survive reordering keep document ids stable.
pub const ID_COLUMN_NAMES: &[&str] = &["id", "_id"];

/// Column names taken as the title when `title_column` is not set.
pub const TITLE_COLUMN_NAMES: &[&str] = &["title", "subject", "headline", "summary"];

/// The syntax of a records file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordKind {
    Csv,
    Tsv,
    Jsonl,
}

impl RecordKind {
    /// The kind a file extension suggests (case-insensitive): `csv`; `tsv`, `tab`;
    /// `jsonl`, `ndjson`.
    pub fn from_extension(ext: &str) -> Option<RecordKind> {
        match ext.to_ascii_lowercase().as_str() {
            "csv" => Some(RecordKind::Csv),
            "tsv" | "tab" => Some(RecordKind::Tsv),
            "jsonl" | "ndjson" => Some(RecordKind::Jsonl),
            _ => None,
        }
    }

    /// The [`Format`] of the documents made from rows of this kind.
    pub fn format(self) -> Format {
        match self {
            RecordKind::Csv | RecordKind::Tsv => Format::Csv,
            RecordKind::Jsonl => Format::Jsonl,
        }
    }
}

/// How to turn the rows of a records file into documents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordOptions {
    /// Columns whose values make the text, in this order. Empty: the first column whose
    /// name is in [`TEXT_COLUMN_NAMES`].
    #[serde(default = "RecordOptions::default_text_columns")]
    pub text_columns: Vec<String>,
    /// Column holding a unique id, used as the row's key. `None`: the row number.
    #[serde(default = "RecordOptions::default_id_column")]
    pub id_column: Option<String>,
    /// Column holding the title. `None`: the first column named as in
    /// [`TITLE_COLUMN_NAMES`], if any.
    #[serde(default = "RecordOptions::default_title_column")]
    pub title_column: Option<String>,
    /// Field delimiter of CSV/TSV (one ASCII character, e.g. `";"`). `None`: `,` for
    /// CSV, tab for TSV.
    #[serde(
        default = "RecordOptions::default_delimiter",
        deserialize_with = "deserialize_delimiter"
    )]
    pub delimiter: Option<u8>,
    /// File syntax. `None`: guessed from the first bytes (`{` starts JSON Lines, a tab
    /// in the first line means TSV, else CSV); callers that know the file's extension
    /// should set it with [`RecordKind::from_extension`].
    #[serde(default = "RecordOptions::default_kind")]
    pub kind: Option<RecordKind>,
    /// Whether the first CSV/TSV row names the columns. Without one, columns are named
    /// `1`, `2`, ... (so `text_columns` must be given).
    #[serde(default = "RecordOptions::default_has_headers")]
    pub has_headers: bool,
    /// The text columns hold HTML fragments (review and forum dumps with `<br />`,
    /// `&amp;`): read them through the HTML loader. Off by default, since `<` in plain
    /// text would be taken as markup.
    #[serde(default = "RecordOptions::default_html")]
    pub html: bool,
    /// Spreadsheets: the one sheet to read, by name. `None`: every sheet.
    #[serde(default = "RecordOptions::default_sheet")]
    pub sheet: Option<String>,
}

impl RecordOptions {
    pub fn default_text_columns() -> Vec<String> {
        Vec::new()
    }
    pub fn default_id_column() -> Option<String> {
        None
    }
    pub fn default_title_column() -> Option<String> {
        None
    }
    pub fn default_delimiter() -> Option<u8> {
        None
    }
    pub fn default_kind() -> Option<RecordKind> {
        None
    }
    pub fn default_has_headers() -> bool {
        true
    }
    pub fn default_html() -> bool {
        false
    }
    pub fn default_sheet() -> Option<String> {
        None
    }
}

impl Default for RecordOptions {
    fn default() -> Self {
        RecordOptions {
            text_columns: Self::default_text_columns(),
            id_column: Self::default_id_column(),
            title_column: Self::default_title_column(),
            delimiter: Self::default_delimiter(),
            kind: Self::default_kind(),
            has_headers: Self::default_has_headers(),
            html: Self::default_html(),
            sheet: Self::default_sheet(),
        }
    }
}

/// A delimiter is written as a one-character string in configuration files (`";"`,
/// `"\t"`); a byte value is accepted too.
fn deserialize_delimiter<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u8>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Delim {
        Char(String),
        Byte(u8),
    }
    match Option::<Delim>::deserialize(d)? {
        None => Ok(None),
        Some(Delim::Byte(b)) if b.is_ascii() => Ok(Some(b)),
        Some(Delim::Char(s)) if s.len() == 1 && s.is_ascii() => Ok(Some(s.as_bytes()[0])),
        Some(_) => Err(serde::de::Error::custom(
            "delimiter must be a single ASCII character",
        )),
    }
}

/// One row of a records file, as a document without identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The id column's value, else the 1-based row number (header excluded).
    pub key: String,
    /// 1-based line of the file where the row starts.
    pub line: u64,
    pub extracted: Extracted,
    /// blake3 hex digest of the row's content (of its fields for CSV/TSV, of the line
    /// for JSON Lines): tells whether the row changed.
    pub content_hash: String,
}

impl Record {
    /// The row as a [`Document`] whose source is `path#key` (path relative to the
    /// ingest root), so ids are stable across runs.
    pub fn into_document(self, path: &str, format: Format) -> Document {
        Document::new(
            format!("{path}#{}", self.key),
            format,
            self.content_hash,
            self.extracted,
        )
    }
}

/// Why a row, or the whole file, could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// This row is skipped; the iterator goes on with the next one.
    #[error("line {line}: {reason}")]
    Row { line: u64, reason: String },
    /// The file cannot be read as records (no usable text column, I/O error, timeout,
    /// an unclosed quote); the iterator ends after this error.
    #[error("line {line}: {reason}")]
    File { line: u64, reason: String },
    /// The parser panicked (a bug); the iterator ends after this error.
    #[error("line {line}: internal error while parsing (a bug, please report it): {message}")]
    Panic { line: u64, message: String },
}

impl RecordError {
    /// 1-based line of the file the error is about.
    pub fn line(&self) -> u64 {
        match self {
            RecordError::Row { line, .. }
            | RecordError::File { line, .. }
            | RecordError::Panic { line, .. } => *line,
        }
    }

    /// True when the iteration stops after this error.
    pub fn is_fatal(&self) -> bool {
        !matches!(self, RecordError::Row { .. })
    }

    /// Attach the path of the file, for the user.
    pub fn into_error(self, path: impl Into<PathBuf>) -> crate::Error {
        let line = self.line();
        let reason = match self {
            RecordError::Row { reason, .. } | RecordError::File { reason, .. } => reason,
            RecordError::Panic { message, .. } => {
                return crate::Error::document(path, crate::DocError::Panic(message));
            }
        };
        crate::Error::Record {
            path: path.into(),
            line,
            reason,
        }
    }
}

/// Stream the rows of a records file. `reader` is read lazily (it is buffered here).
///
/// Each row is one document's parse: `ctx.limits.max_text_bytes` caps its length in the
/// file (a longer row is a bad row, and never sits in memory whole) and
/// `ctx.limits.parse_timeout_secs` the time its reading and parsing take (the file then
/// fails). `ctx.deadline` is not used: a file of a million rows may take longer than
/// one document, and each row gets its own deadline. A panic while reading a row ends
/// the iteration with [`RecordError::Panic`].
pub fn read<R: Read>(reader: R, opts: &RecordOptions, ctx: &LoadContext<'_>) -> Records<R> {
    let mut input = BufReader::with_capacity(64 * 1024, reader);
    let mut pending = None;
    let mut kind = opts.kind.unwrap_or(RecordKind::Csv);
    match input.fill_buf() {
        Ok(buf) => {
            let bom = buf.starts_with(b"\xEF\xBB\xBF");
            if opts.kind.is_none() {
                kind = sniff(&buf[if bom { 3 } else { 0 }..]);
            }
            if bom {
                input.consume(3);
            }
        }
        Err(e) => {
            pending = Some(RecordError::File {
                line: 0,
                reason: format!("read error: {e}"),
            })
        }
    }
    let source = match kind {
        RecordKind::Jsonl => Source::Jsonl {
            input,
            line: 0,
            buf: Vec::new(),
        },
        RecordKind::Csv | RecordKind::Tsv => {
            let delimiter =
                opts.delimiter
                    .unwrap_or(if kind == RecordKind::Tsv { b'\t' } else { b',' });
            let quoting = kind == RecordKind::Csv;
            let tap = RowTap::new(input, quoting, delimiter, ctx.limits.max_text_bytes);
            let csv = csv::ReaderBuilder::new()
                .delimiter(delimiter)
                .has_headers(false)
                .flexible(true)
                .quoting(quoting)
                .from_reader(tap);
            Source::Csv {
                reader: Box::new(csv),
                record: csv::ByteRecord::new(),
            }
        }
    };
    Records {
        source,
        kind,
        b: RowBuilder::new(opts, ctx.limits),
        columns: None,
        pending,
        done: false,
    }
}

fn sniff(head: &[u8]) -> RecordKind {
    let first = head.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'{') {
        return RecordKind::Jsonl;
    }
    let line = head.split(|b| *b == b'\n').next().unwrap_or(head);
    if line.contains(&b'\t') {
        RecordKind::Tsv
    } else {
        RecordKind::Csv
    }
}

#[derive(Debug)]
enum Source<R: Read> {
    Csv {
        reader: Box<csv::Reader<RowTap<BufReader<R>>>>,
        record: csv::ByteRecord,
    },
    Jsonl {
        input: BufReader<R>,
        line: u64,
        buf: Vec<u8>,
    },
}

/// Which columns play which part, resolved once per file.
#[derive(Debug, Clone)]
struct Plan {
    text: Vec<String>,
    /// The configured title column; `None` means found per row by name.
    title: Option<String>,
    id: Option<String>,
}

/// Turns the `(column, value)` pairs of one row into a [`Record`]: the part of reading
/// records that does not depend on the file's syntax, shared with spreadsheets
/// ([`crate::sheets`]).
#[derive(Debug)]
pub(crate) struct RowBuilder {
    pub(crate) opts: RecordOptions,
    max_text_bytes: u64,
    /// For HTML text columns.
    limits: crate::Limits,
    /// The current row's deadline.
    pub(crate) deadline: Deadline,
    plan: Option<Plan>,
    /// Data rows seen so far (bad ones included), for row-number keys.
    pub(crate) rows: u64,
    /// blake3 of each id seen -> its line, to refuse duplicate ids.
    seen_ids: HashMap<[u8; 16], u64>,
}

/// The iterator [`read`] returns.
#[derive(Debug)]
pub struct Records<R: Read> {
    source: Source<R>,
    kind: RecordKind,
    b: RowBuilder,
    /// CSV/TSV column names, once the header is read.
    columns: Option<Vec<String>>,
    pending: Option<RecordError>,
    done: bool,
}

impl<R: Read> Records<R> {
    /// The syntax being read (given or sniffed).
    pub fn kind(&self) -> RecordKind {
        self.kind
    }

    /// The CSV/TSV column names, once the first row has been read.
    pub fn columns(&self) -> Option<&[String]> {
        self.columns.as_deref()
    }

    fn next_row(&mut self) -> Option<Result<Record, RecordError>> {
        self.b.deadline = Deadline::after_secs(self.b.limits.parse_timeout_secs);
        match self.kind {
            RecordKind::Jsonl => self.next_jsonl(),
            RecordKind::Csv | RecordKind::Tsv => self.next_csv(),
        }
    }

    fn next_csv(&mut self) -> Option<Result<Record, RecordError>> {
        let max = self.b.max_text_bytes;
        let Source::Csv { reader, record } = &mut self.source else {
            return None;
        };
        reader.get_mut().deadline = self.b.deadline;
        loop {
            match reader.read_byte_record(record) {
                Ok(false) => return None,
                Ok(true) => {}
                Err(e) => {
                    let line = e.position().map_or(0, |p| p.line());
                    let reason = match e.kind() {
                        csv::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => {
                            io.to_string()
                        }
                        _ => e.to_string(),
                    };
                    return Some(Err(RecordError::File { line, reason }));
                }
            }
            // The CSV reader's own line count is off for CRLF files; the tap knows
            // where each row starts.
            let start = reader
                .get_mut()
                .claim(record.position().map_or(0, |p| p.byte()));
            let line = start.map_or(0, |s| s.line);
            if let Some(opened) = start.and_then(|s| s.unclosed) {
                return Some(Err(RecordError::File {
                    line,
                    reason: format!(
                        "unclosed quote: the quoted field opened on line {opened} runs to the end of the file, so the rows after it cannot be told apart (a stray \" at the start of a field?)"
                    ),
                }));
            }
            if start.is_some_and(|s| s.overlong) {
                if self.columns.is_none() {
                    return Some(Err(RecordError::File {
                        line,
                        reason: format!("the first row is longer than the limit of {max} bytes"),
                    }));
                }
                self.b.rows += 1;
                return Some(Err(RecordError::Row {
                    line,
                    reason: format!("row longer than the limit of {max} bytes"),
                }));
            }
            let mut warning = None;
            let fields: Vec<String> = record
                .iter()
                .map(|f| match std::str::from_utf8(f) {
                    Ok(s) => s.to_string(),
                    Err(_) => {
                        warning =
                            Some("not valid UTF-8: decoded as Windows-1252 (Latin-1)".to_string());
                        encoding_rs::WINDOWS_1252
                            .decode_without_bom_handling(f)
                            .0
                            .into_owned()
                    }
                })
                .collect();
            if self.columns.is_none() {
                let names = if self.b.opts.has_headers {
                    header_names(&fields, |i| (i + 1).to_string())
                } else {
                    (1..=fields.len()).map(|i| i.to_string()).collect()
                };
                let plan = match resolve_plan(&self.b.opts, &names) {
                    Ok(p) => p,
                    Err(reason) => return Some(Err(RecordError::File { line, reason })),
                };
                self.columns = Some(names);
                self.b.plan = Some(plan);
                if self.b.opts.has_headers {
                    continue;
                }
            }
            // A blank line in CSV is no row.
            if fields.len() == 1 && fields[0].trim().is_empty() {
                continue;
            }
            self.b.rows += 1;
            let columns = self.columns.as_deref().unwrap_or_default();
            if fields.len() != columns.len() {
                return Some(Err(RecordError::Row {
                    line,
                    reason: format!("expected {} fields, found {}", columns.len(), fields.len()),
                }));
            }
            let mut hasher = blake3::Hasher::new();
            for f in record.iter() {
                hasher.update(&(f.len() as u64).to_le_bytes());
                hasher.update(f);
            }
            let hash = hasher.finalize().to_hex().to_string();
            let pairs: Vec<(String, String)> = columns.iter().cloned().zip(fields).collect();
            return Some(self.b.build(line, pairs, hash, warning));
        }
    }

    fn next_jsonl(&mut self) -> Option<Result<Record, RecordError>> {
        let max = self.b.max_text_bytes;
        let Source::Jsonl { input, line, buf } = &mut self.source else {
            return None;
        };
        loop {
            if let Err(e) = self.b.deadline.check() {
                return Some(Err(RecordError::File {
                    line: *line,
                    reason: e.to_string(),
                }));
            }
            buf.clear();
            *line += 1;
            let at = *line;
            // Read at most the row cap (plus the newline) so one huge line cannot fill
            // memory; the rest of an over-long line is skipped.
            let n = match input.by_ref().take(max + 2).read_until(b'\n', buf) {
                Ok(n) => n,
                Err(e) => {
                    return Some(Err(RecordError::File {
                        line: at,
                        reason: format!("read error: {e}"),
                    }));
                }
            };
            if n == 0 {
                return None;
            }
            if !buf.ends_with(b"\n") && buf.len() as u64 > max {
                if let Err(e) = skip_line(input) {
                    return Some(Err(RecordError::File {
                        line: at,
                        reason: format!("read error: {e}"),
                    }));
                }
                self.b.rows += 1;
                return Some(Err(RecordError::Row {
                    line: at,
                    reason: format!("line longer than the limit of {max} bytes"),
                }));
            }
            let raw = trim_line_end(buf);
            if raw.iter().all(|b| b.is_ascii_whitespace()) {
                continue;
            }
            self.b.rows += 1;
            let hash = blake3::hash(raw).to_hex().to_string();
            let value: serde_json::Value = match serde_json::from_slice(raw) {
                Ok(v) => v,
                Err(e) => {
                    return Some(Err(RecordError::Row {
                        line: at,
                        reason: format!("invalid JSON: {e}"),
                    }));
                }
            };
            let serde_json::Value::Object(obj) = value else {
                return Some(Err(RecordError::Row {
                    line: at,
                    reason: "not a JSON object".into(),
                }));
            };
            let mut pairs = Vec::new();
            flatten("", &obj, &mut pairs);
            if self.b.plan.is_none() {
                let names: Vec<String> = pairs.iter().map(|(k, _)| k.clone()).collect();
                match jsonl_plan(&self.b.opts, &names) {
                    Ok(p) => self.b.plan = Some(p),
                    Err(reason) => return Some(Err(RecordError::File { line: at, reason })),
                }
            }
            return Some(self.b.build(at, pairs, hash, None));
        }
    }
}

impl RowBuilder {
    pub(crate) fn new(opts: &RecordOptions, limits: &crate::Limits) -> Self {
        RowBuilder {
            opts: opts.clone(),
            max_text_bytes: limits.max_text_bytes,
            limits: limits.clone(),
            deadline: Deadline::none(),
            plan: None,
            rows: 0,
            seen_ids: HashMap::new(),
        }
    }

    /// Resolve which of `names` (a header) play which part: a bad configuration names
    /// the columns available.
    pub(crate) fn plan_columns(&mut self, names: &[String]) -> Result<(), String> {
        self.plan = Some(resolve_plan(&self.opts, names)?);
        Ok(())
    }

    /// Turn one row's `(column, value)` pairs into a record.
    pub(crate) fn build(
        &mut self,
        line: u64,
        pairs: Vec<(String, String)>,
        hash: String,
        warning: Option<String>,
    ) -> Result<Record, RecordError> {
        let row_err = |reason: String| RecordError::Row { line, reason };
        let Some(plan) = &self.plan else {
            return Err(row_err("no column plan".into()));
        };
        let get = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v);
        let mut parts = Vec::new();
        for col in &plan.text {
            if let Some(v) = get(col) {
                let t = if self.opts.html {
                    let ctx = LoadContext {
                        limits: &self.limits,
                        deadline: self.deadline,
                        pdf_password: None,
                        ocr: None,
                    };
                    crate::html::html_to_text(v, &ctx)
                        .map_err(|e| row_err(format!("column {col}: {e}")))?
                        .text
                } else {
                    tidy_whitespace(&normalize_text(v))
                };
                if !t.is_empty() {
                    parts.push(t);
                }
            }
        }
        if parts.is_empty() {
            let missing: Vec<&str> = plan
                .text
                .iter()
                .filter(|c| get(c).is_none())
                .map(String::as_str)
                .collect();
            return Err(row_err(if missing.is_empty() {
                format!("no text in {}", plan.text.join(", "))
            } else {
                format!("missing text field {}", missing.join(", "))
            }));
        }
        let text = parts.join("\n\n");
        if text.len() as u64 > self.max_text_bytes {
            return Err(row_err(format!(
                "text is {} bytes, over the limit of {}",
                text.len(),
                self.max_text_bytes
            )));
        }
        let key = match &plan.id {
            Some(id_col) => {
                let id = get(id_col).map(|v| v.trim()).unwrap_or_default();
                if id.is_empty() {
                    return Err(row_err(format!("no value in id column {id_col}")));
                }
                let digest = blake3::hash(id.as_bytes());
                let mut short = [0u8; 16];
                short.copy_from_slice(&digest.as_bytes()[..16]);
                if let Some(first) = self.seen_ids.get(&short) {
                    return Err(row_err(format!(
                        "duplicate id {id:?} (first seen on line {first})"
                    )));
                }
                self.seen_ids.insert(short, line);
                id.to_string()
            }
            None => self.rows.to_string(),
        };
        let mut b = TextBuilder::new();
        b.push_str(&text);
        // Without a configured title column, the first title-like column of this row
        // (JSON Lines rows need not share their keys).
        let title_col = plan.title.clone().or_else(|| {
            TITLE_COLUMN_NAMES.iter().find_map(|cand| {
                pairs
                    .iter()
                    .find(|(k, _)| canon(k) == *cand && !plan.text.contains(k))
                    .map(|(k, _)| k.clone())
            })
        });
        if let Some(t) = title_col.as_deref().and_then(get) {
            b.set_title(tidy_whitespace(&normalize_text(t)).replace('\n', " "));
        }
        for (k, v) in &pairs {
            if plan.text.contains(k) || title_col.as_ref() == Some(k) {
                continue;
            }
            b.metadata(k.clone(), normalize_text(v));
        }
        if let Some(w) = warning {
            b.warn(w);
        }
        Ok(Record {
            key,
            line,
            extracted: b.finish(true),
            content_hash: hash,
        })
    }
}

impl<R: Read> Iterator for Records<R> {
    type Item = Result<Record, RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if let Some(e) = self.pending.take() {
            self.done = true;
            return Some(Err(e));
        }
        // A panic in the parser is a bug, but it costs this file, not the caller: the
        // rows are read on the caller's thread, outside the loaders' isolation.
        let item = catch_unwind(AssertUnwindSafe(|| self.next_row())).unwrap_or_else(|payload| {
            Some(Err(RecordError::Panic {
                line: 0,
                message: crate::pipeline::panic_message(&*payload),
            }))
        });
        if item
            .as_ref()
            .is_none_or(|r| r.as_ref().is_err_and(RecordError::is_fatal))
        {
            self.done = true;
        }
        item
    }
}

/// Header names: trimmed, blank ones named by `blank` of their 0-based position,
/// duplicates suffixed `_2`, `_3`.
pub(crate) fn header_names(fields: &[String], blank: impl Fn(usize) -> String) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(fields.len());
    for (i, f) in fields.iter().enumerate() {
        let base = match f.trim() {
            "" => blank(i),
            t => t.to_string(),
        };
        let mut name = base.clone();
        let mut n = 2;
        while out.contains(&name) {
            name = format!("{base}_{n}");
            n += 1;
        }
        out.push(name);
    }
    out
}

/// Lower case, spaces and dashes as underscores: how column names are compared.
fn canon(name: &str) -> String {
    name.trim()
        .chars()
        .map(|c| match c {
            ' ' | '-' => '_',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

/// The column among `names` that `wanted` designates: exact, else by [`canon`].
fn find_column(names: &[String], wanted: &str) -> Option<String> {
    names
        .iter()
        .find(|n| *n == wanted)
        .or_else(|| names.iter().find(|n| canon(n) == canon(wanted)))
        .cloned()
}

/// JSON Lines rows need not share their keys, and a key whose value is null is absent:
/// configured columns are used as given (a row without them is a bad row), and only an
/// auto-detected text column is looked for, in the first row.
fn jsonl_plan(opts: &RecordOptions, first_row: &[String]) -> Result<Plan, String> {
    let text = if opts.text_columns.is_empty() {
        resolve_plan(opts, first_row)?.text
    } else {
        opts.text_columns.clone()
    };
    let id = opts.id_column.clone().or_else(|| {
        ID_COLUMN_NAMES
            .iter()
            .find_map(|cand| first_row.iter().find(|n| canon(n) == *cand))
            .cloned()
    });
    Ok(Plan {
        text,
        title: opts.title_column.clone(),
        id,
    })
}

/// Match the configured columns against the header (the error lists the columns
/// available) and find the text column by name when none is configured.
fn resolve_plan(opts: &RecordOptions, names: &[String]) -> Result<Plan, String> {
    let available = || names.join(", ");
    let text = if opts.text_columns.is_empty() {
        let found = TEXT_COLUMN_NAMES
            .iter()
            .find_map(|cand| names.iter().find(|n| canon(n) == *cand));
        match found {
            Some(c) => vec![c.clone()],
            None => {
                return Err(format!(
                    "no text column found by name; set text_columns to some of: {}",
                    available()
                ));
            }
        }
    } else {
        let mut cols = Vec::new();
        for want in &opts.text_columns {
            match find_column(names, want) {
                Some(c) => cols.push(c),
                None => {
                    return Err(format!(
                        "text column {want:?} not found; available columns: {}",
                        available()
                    ));
                }
            }
        }
        cols
    };
    let id = match &opts.id_column {
        Some(want) => Some(find_column(names, want).ok_or_else(|| {
            format!(
                "id column {want:?} not found; available columns: {}",
                available()
            )
        })?),
        None => ID_COLUMN_NAMES
            .iter()
            .find_map(|cand| names.iter().find(|n| canon(n) == *cand))
            .cloned(),
    };
    let title = match &opts.title_column {
        Some(want) => Some(find_column(names, want).ok_or_else(|| {
            format!(
                "title column {want:?} not found; available columns: {}",
                available()
            )
        })?),
        None => None,
    };
    Ok(Plan { text, title, id })
}

/// Flatten a JSON object into `(dotted.key, text)` pairs.
fn flatten(
    prefix: &str,
    obj: &serde_json::Map<String, serde_json::Value>,
    out: &mut Vec<(String, String)>,
) {
    for (k, v) in obj {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            serde_json::Value::Null => {}
            serde_json::Value::String(s) => out.push((key, s.clone())),
            serde_json::Value::Object(inner) => flatten(&key, inner, out),
            other => out.push((key, other.to_string())),
        }
    }
}

fn trim_line_end(buf: &[u8]) -> &[u8] {
    let mut end = buf.len();
    while end > 0 && matches!(buf[end - 1], b'\n' | b'\r') {
        end -= 1;
    }
    &buf[..end]
}

/// Discard input up to and including the next newline.
fn skip_line<R: BufRead>(input: &mut R) -> std::io::Result<()> {
    loop {
        let buf = input.fill_buf()?;
        if buf.is_empty() {
            return Ok(());
        }
        match buf.iter().position(|b| *b == b'\n') {
            Some(i) => {
                input.consume(i + 1);
                return Ok(());
            }
            None => {
                let n = buf.len();
                input.consume(n);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loader::Limits;

    fn rows(data: &str, opts: &RecordOptions) -> Vec<Result<Record, RecordError>> {
        let limits = Limits::default();
        read(data.as_bytes(), opts, &LoadContext::new(&limits)).collect()
    }

    #[test]
    fn csv_with_quoted_newlines_bom_and_auto_columns() {
        let data = "\u{feff}id,Title,Body,score\r\n1,First,\"line one\r\nline \"\"two\"\"\",5\r\n\
                    2,Second,plain,3\r\n3,bad row\r\n\r\n4,,\"  \",1\r\n5,Fifth,last,\r\n";
        let out = rows(data, &RecordOptions::default());
        assert_eq!(out.len(), 5);
        let r = out[0].as_ref().unwrap();
        assert_eq!(r.key, "1");
        assert_eq!(r.line, 2);
        assert_eq!(r.extracted.text, "line one\nline \"two\"");
        assert_eq!(r.extracted.title.as_deref(), Some("First"));
        assert_eq!(r.extracted.metadata["id"], "1");
        assert_eq!(r.extracted.metadata["score"], "5");
        assert!(!r.extracted.metadata.contains_key("Body"));
        let r = out[1].as_ref().unwrap();
        assert_eq!((r.key.as_str(), r.line), ("2", 4));
        assert_eq!(
            out[2].as_ref().unwrap_err(),
            &RecordError::Row {
                line: 5,
                reason: "expected 4 fields, found 2".into()
            }
        );
        assert_eq!(out[3].as_ref().unwrap_err().line(), 7);
        let r = out[4].as_ref().unwrap();
        assert_eq!((r.key.as_str(), r.line), ("5", 8));
        assert!(!r.extracted.metadata.contains_key("score"));
        assert_ne!(out[0].as_ref().unwrap().content_hash, r.content_hash);
    }

    #[test]
    fn tsv_keeps_stray_quotes_and_uses_id_column() {
        let data = "label\tmsg\tuid\nham\t\"Quoted\" start and 6\" end\ta\nspam\tWin \"big\ta\n";
        let opts = RecordOptions {
            kind: Some(RecordKind::Tsv),
            id_column: Some("UID".into()),
            ..RecordOptions::default()
        };
        let out = rows(data, &opts);
        let r = out[0].as_ref().unwrap();
        assert_eq!(r.key, "a");
        assert_eq!(r.extracted.text, "\"Quoted\" start and 6\" end");
        assert_eq!(r.extracted.metadata["label"], "ham");
        let e = out[1].as_ref().unwrap_err();
        assert_eq!(e.line(), 3);
        assert!(e.to_string().contains("duplicate id"), "{e}");
        assert!(!e.is_fatal());
    }

    #[test]
    fn no_text_column_lists_the_columns() {
        let out = rows("a,b\n1,2\n", &RecordOptions::default());
        assert_eq!(out.len(), 1);
        let e = out[0].as_ref().unwrap_err();
        assert!(e.is_fatal());
        assert!(e.to_string().contains("a, b"), "{e}");
        let opts = RecordOptions {
            text_columns: vec!["nope".into()],
            ..RecordOptions::default()
        };
        let e = rows("a,b\n1,2\n", &opts).remove(0).unwrap_err();
        assert!(
            e.to_string()
                .contains("\"nope\" not found; available columns: a, b")
        );
    }

    #[test]
    fn jsonl_flattens_and_continues_after_bad_lines() {
        let data = "{\"id\":7,\"text\":\"hello\",\"meta\":{\"lang\":\"en\",\"n\":2},\"tags\":[\"a\"],\"x\":null}\n\
                    {not json}\n\n[1,2]\n{\"body\":\"no text key\"}\n{\"id\":9,\"text\":\"  second\\nrow \",\"title\":\"T\"}";
        let out = rows(data, &RecordOptions::default());
        assert_eq!(out.len(), 5);
        let r = out[0].as_ref().unwrap();
        assert_eq!(r.key, "7", "an `id` field is the key");
        assert_eq!(r.extracted.text, "hello");
        assert_eq!(r.extracted.metadata["id"], "7");
        assert_eq!(r.extracted.metadata["meta.lang"], "en");
        assert_eq!(r.extracted.metadata["meta.n"], "2");
        assert_eq!(r.extracted.metadata["tags"], "[\"a\"]");
        assert!(!r.extracted.metadata.contains_key("x"));
        assert!(
            out[1]
                .as_ref()
                .unwrap_err()
                .to_string()
                .starts_with("line 2: invalid JSON")
        );
        assert_eq!(out[2].as_ref().unwrap_err().line(), 4);
        assert_eq!(
            out[3].as_ref().unwrap_err().to_string(),
            "line 5: missing text field text"
        );
        let r = out[4].as_ref().unwrap();
        assert_eq!((r.key.as_str(), r.line), ("9", 6));
        assert_eq!(r.extracted.text, "second\nrow");
        assert_eq!(r.extracted.title.as_deref(), Some("T"));
    }

    #[test]
    fn jsonl_configured_columns_may_be_absent_in_some_rows() {
        let opts = RecordOptions {
            text_columns: vec!["body".into()],
            id_column: Some("id".into()),
            ..RecordOptions::default()
        };
        let out = rows(
            "{\"id\":\"a\",\"body\":null}\n{\"id\":\"b\",\"body\":\"hi\"}\n{\"body\":\"x\"}\n",
            &opts,
        );
        assert_eq!(out.len(), 3);
        assert_eq!(
            out[0].as_ref().unwrap_err().to_string(),
            "line 1: missing text field body"
        );
        assert_eq!(out[1].as_ref().unwrap().key, "b");
        assert!(
            out[2]
                .as_ref()
                .unwrap_err()
                .to_string()
                .contains("id column")
        );
    }

    #[test]
    fn jsonl_overlong_line_is_one_bad_row() {
        let limits = Limits {
            max_text_bytes: 64,
            ..Limits::default()
        };
        let data = format!(
            "{{\"text\":\"{}\"}}\n{{\"text\":\"ok\"}}\n",
            "x".repeat(1000)
        );
        let out: Vec<_> = read(
            data.as_bytes(),
            &RecordOptions::default(),
            &LoadContext::new(&limits),
        )
        .collect();
        assert_eq!(out.len(), 2);
        assert!(
            out[0]
                .as_ref()
                .unwrap_err()
                .to_string()
                .contains("longer than")
        );
        assert_eq!(out[1].as_ref().unwrap().extracted.text, "ok");
        assert_eq!(out[1].as_ref().unwrap().line, 2);
    }

    fn rows_with(
        data: &[u8],
        opts: &RecordOptions,
        limits: &Limits,
    ) -> Vec<Result<Record, RecordError>> {
        read(data, opts, &LoadContext::new(limits)).collect()
    }

    /// Regression (issue 13): a stray quote at the start of a field on row 2 of a 19 MB
    /// CSV made the rest of the file one record of 39,296 chunks.
    #[test]
    fn csv_unclosed_quote_fails_the_file_at_its_row() {
        let mut data = String::from("id,text\n1,\"fine\"\n2,\"stray quote\n");
        for i in 3..60_000 {
            data.push_str(&format!("{i},row {i}, with a comma\n"));
        }
        for max in [Limits::default().max_text_bytes, 64 * 1024] {
            let limits = Limits {
                max_text_bytes: max,
                ..Limits::default()
            };
            let out = rows_with(data.as_bytes(), &RecordOptions::default(), &limits);
            assert_eq!(out.len(), 2, "cap {max}: one good row, then the file fails");
            assert_eq!(out[0].as_ref().unwrap().extracted.text, "fine");
            let e = out[1].as_ref().unwrap_err();
            assert!(e.is_fatal());
            assert_eq!(e.line(), 3);
            assert!(
                e.to_string()
                    .contains("unclosed quote: the quoted field opened on line 3"),
                "{e}"
            );
            let e = e.clone().into_error("big.csv").to_string();
            assert!(e.starts_with("big.csv:3: unclosed quote"), "{e}");
        }
    }

    #[test]
    fn csv_and_tsv_rows_over_the_cap_are_bad_rows_and_reading_goes_on() {
        let limits = Limits {
            max_text_bytes: 100,
            ..Limits::default()
        };
        let long = "x".repeat(300);
        // A long quoted field (with delimiters, quotes and line ends in it), a long
        // unquoted one, and a long column that is not the text.
        let data = format!(
            "id,text,notes\r\n1,a,b\r\n2,\"{long},\"\"q\"\"\n{long}\",c\r\n3,ok,d\r\n4,{long},e\r\n5,short,{long}\r\n6,\"last\",f\r\n"
        );
        let out = rows_with(data.as_bytes(), &RecordOptions::default(), &limits);
        let seen: Vec<(u64, Result<&str, &str>)> = out
            .iter()
            .map(|r| match r {
                Ok(r) => (r.line, Ok(r.key.as_str())),
                Err(e) => (e.line(), Err(if e.is_fatal() { "fatal" } else { "bad" })),
            })
            .collect();
        assert_eq!(
            seen,
            [
                (2, Ok("1")),
                (3, Err("bad")),
                (5, Ok("3")),
                (6, Err("bad")),
                (7, Err("bad")),
                (8, Ok("6"))
            ]
        );
        assert!(
            out[1]
                .as_ref()
                .unwrap_err()
                .to_string()
                .contains("row longer than the limit of 100 bytes")
        );
        assert_eq!(out[5].as_ref().unwrap().extracted.text, "last");
        let tsv = format!("id\ttext\n1\t\"{long}\n2\tok\n");
        let opts = RecordOptions {
            kind: Some(RecordKind::Tsv),
            ..RecordOptions::default()
        };
        let out = rows_with(tsv.as_bytes(), &opts, &limits);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].as_ref().unwrap_err().line(), 2);
        assert_eq!(out[1].as_ref().unwrap().extracted.text, "ok");
    }

    /// Yields `head`, then `fill` forever.
    struct Endless {
        head: &'static [u8],
        at: usize,
        fill: u8,
    }

    impl Read for Endless {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len();
            for b in buf.iter_mut() {
                *b = self.head.get(self.at).copied().unwrap_or(self.fill);
                self.at += 1;
            }
            Ok(n)
        }
    }

    #[test]
    fn a_row_that_never_ends_stops_at_the_deadline() {
        let limits = Limits {
            max_text_bytes: 4096,
            parse_timeout_secs: 1,
            ..Limits::default()
        };
        for (kind, head) in [
            (RecordKind::Csv, &b"text\nok\n\"open"[..]),
            (RecordKind::Jsonl, &b"{\"text\":\"ok\"}\n"[..]),
        ] {
            let input = Endless {
                head,
                at: 0,
                fill: if kind == RecordKind::Jsonl {
                    b'\n'
                } else {
                    b'a'
                },
            };
            let opts = RecordOptions {
                kind: Some(kind),
                ..RecordOptions::default()
            };
            let out: Vec<_> = read(input, &opts, &LoadContext::new(&limits)).collect();
            assert_eq!(out.len(), 2, "{kind:?}");
            assert_eq!(out[0].as_ref().unwrap().extracted.text, "ok");
            let e = out[1].as_ref().unwrap_err();
            assert!(
                e.is_fatal() && e.to_string().contains("longer than the limit of 1 s"),
                "{e}"
            );
        }
    }

    #[test]
    fn a_panic_while_reading_ends_the_file_with_an_error() {
        struct Bomb(usize);
        impl Read for Bomb {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                self.0 += 1;
                if self.0 > 1 {
                    panic!("reader exploded");
                }
                let data = b"text\nfirst\n";
                buf[..data.len()].copy_from_slice(data);
                Ok(data.len())
            }
        }
        let limits = Limits::default();
        let opts = RecordOptions {
            kind: Some(RecordKind::Csv),
            ..RecordOptions::default()
        };
        let out: Vec<_> = read(Bomb(0), &opts, &LoadContext::new(&limits)).collect();
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].as_ref().unwrap().extracted.text, "first");
        let e = out[1].clone().unwrap_err();
        assert!(e.is_fatal());
        let e = e.into_error("x.csv");
        assert_eq!(e.fault(), crate::Fault::Bug);
        assert!(e.to_string().contains("reader exploded"), "{e}");
    }

    proptest::proptest! {
        /// The tap follows the CSV reader's idea of rows: every row it reports starts
        /// where the CSV reader's row does, on the right line, and it passes the bytes
        /// through unchanged.
        #[test]
        fn the_tap_agrees_with_the_csv_reader(
            bytes in proptest::collection::vec(
                proptest::sample::select(vec![b'a', b',', b'"', b'\n', b'\r', b' ']),
                0..300,
            )
        ) {
            let tap = RowTap::new(bytes.as_slice(), true, b',', u64::MAX);
            let mut tapped = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(tap);
            let mut plain = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(bytes.as_slice());
            let (mut a, mut b) = (csv::ByteRecord::new(), csv::ByteRecord::new());
            loop {
                let more = tapped.read_byte_record(&mut a).unwrap();
                proptest::prop_assert_eq!(more, plain.read_byte_record(&mut b).unwrap());
                if !more {
                    break;
                }
                proptest::prop_assert_eq!(&a, &b);
                let pos = a.position().unwrap().byte() as usize;
                let first = pos + bytes[pos..].iter().take_while(|c| matches!(c, b'\r' | b'\n')).count();
                let start = tapped.get_mut().claim(pos as u64).unwrap();
                proptest::prop_assert_eq!(start.offset as usize, first);
                let line = bytes[..first].iter().filter(|c| **c == b'\n').count() as u64 + 1;
                proptest::prop_assert_eq!(start.line, line);
            }
        }
    }

    #[test]
    fn options_from_json() {
        let o: RecordOptions =
            serde_json::from_str(r#"{"text_columns":["a","b"],"delimiter":";","kind":"csv"}"#)
                .unwrap();
        assert_eq!(o.delimiter, Some(b';'));
        assert_eq!(o.kind, Some(RecordKind::Csv));
        assert!(o.has_headers);
        assert!(serde_json::from_str::<RecordOptions>(r#"{"txt":["a"]}"#).is_err());
        assert!(serde_json::from_str::<RecordOptions>(r#"{"delimiter":";;"}"#).is_err());
        let out = rows("a;b\nx;y\n", &o);
        assert_eq!(out[0].as_ref().unwrap().extracted.text, "x\n\ny");
    }

    #[test]
    fn html_text_columns() {
        let opts = RecordOptions {
            html: true,
            ..RecordOptions::default()
        };
        let out = rows("review\n\"Good.<br /><br />Fish &amp; chips.\"\n", &opts);
        assert_eq!(
            out[0].as_ref().unwrap().extracted.text,
            "Good.\n\nFish & chips."
        );
    }

    #[test]
    fn headerless_and_latin1() {
        let opts = RecordOptions {
            has_headers: false,
            text_columns: vec!["2".into()],
            ..RecordOptions::default()
        };
        let limits = Limits::default();
        let out: Vec<_> = read(
            b"1,caf\xe9\n2,ok\n".as_slice(),
            &opts,
            &LoadContext::new(&limits),
        )
        .collect();
        let r = out[0].as_ref().unwrap();
        assert_eq!(r.extracted.text, "café");
        assert_eq!(r.extracted.warnings.len(), 1);
        assert_eq!(r.extracted.metadata["1"], "1");
        assert_eq!(out[1].as_ref().unwrap().key, "2");
    }
}
