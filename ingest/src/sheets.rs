//! Spreadsheets (XLSX, ODS) read as records: every row of a sheet is one document, with
//! the text, id and title columns of CSV files ([`crate::records::RecordOptions`]).
//!
//! Both formats are zips of XML, read here with the zip and XML handling of the DOCX
//! loader: at most [`crate::docx::MAX_ZIP_ENTRIES`] entries, every part counted as it
//! inflates against [`crate::Limits::max_decompressed_bytes`], DTDs refused, nesting
//! bounded, the deadline checked as XML events are read. A sheet is parsed when the
//! iteration reaches it; its cell text is held as rows (at most `max_decompressed_bytes`
//! of it, so shared strings repeated by reference cannot multiply a small file into a
//! large one; a longer sheet fails with the file's error) and built into records one at
//! a time.
//!
//! Each sheet is read like a CSV file: its first non-empty row is the header (unless
//! `has_headers` is off, when columns are named by their letters `A`, `B`, ...; blank
//! header cells are named by their letter too), the text columns are found by name or
//! configured, and a sheet without a usable text column is one error naming it while
//! the other sheets are read. All sheets are read, or only the one `sheet` names. The
//! row's key is `sheet/id`, with the id column's value or else the row's number in the
//! sheet (as the spreadsheet shows it), so ids stay unique across sheets and stable
//! whether one sheet or all are read; `sheet` and `row` are metadata.
//!
//! Values are rendered as a reader would see them: XLSX numbers in their shortest form
//! (to 15 significant digits, as spreadsheets show them), dates and times (numbers in a
//! date format, in the 1900 or 1904 date system) as ISO 8601, percentages with `%`,
//! booleans as `TRUE`/`FALSE`, errors as their code (`#DIV/0!`), formulas by their cached
//! result. ODS cells give their displayed text, and dates their ISO value.

use std::collections::{HashMap, VecDeque};
use std::io::Cursor;
use std::path::{Path, PathBuf};

use zip::ZipArchive;

use crate::document::{Document, Format};
use crate::docx::{open_zip, read_part};
use crate::error::{DocError, Error};
use crate::loader::{Deadline, LoadContext};
use crate::records::{Record, RecordError, RecordOptions, RowBuilder, header_names};
use crate::xml::{Node, attr, local, walk};

const EXPECTED: &str = "spreadsheet (XLSX or ODS)";

/// Most columns a sheet has (Excel's limit, `XFD`); cells further right are ignored.
const MAX_COLUMNS: u32 = 16_384;

/// Bytes a held cell and row cost besides their text, counted against the sheet's cap.
const CELL_OVERHEAD: u64 = 48;
const ROW_OVERHEAD: u64 = 96;

/// One row of a sheet as read: its number and its non-empty cells, left to right.
#[derive(Debug, Default)]
struct RawRow {
    /// 1-based row number, as the spreadsheet shows it.
    number: u64,
    /// `(0-based column, value)`.
    cells: Vec<(u32, String)>,
    /// Bytes of the values.
    bytes: usize,
    /// Longer than the text cap: the values past it were dropped.
    overlong: bool,
}

/// The rows of one sheet, with a cap on the bytes they hold.
#[derive(Debug)]
struct SheetBuf {
    name: String,
    rows: VecDeque<RawRow>,
    row: RawRow,
    bytes: u64,
    max_row_bytes: u64,
    max_bytes: u64,
}

impl SheetBuf {
    fn new(name: String, ctx: &LoadContext<'_>) -> Self {
        SheetBuf {
            name,
            rows: VecDeque::new(),
            row: RawRow::default(),
            bytes: 0,
            max_row_bytes: ctx.limits.max_text_bytes,
            max_bytes: ctx.limits.max_decompressed_bytes,
        }
    }

    fn start_row(&mut self, number: u64) {
        self.row = RawRow {
            number,
            ..RawRow::default()
        };
    }

    fn cell(&mut self, col: u32, value: String) -> Result<(), DocError> {
        if value.is_empty() || col >= MAX_COLUMNS {
            return Ok(());
        }
        if (self.row.bytes + value.len()) as u64 > self.max_row_bytes {
            self.row.overlong = true;
            return Ok(());
        }
        self.bytes += value.len() as u64 + CELL_OVERHEAD;
        if self.bytes > self.max_bytes {
            return Err(DocError::TooLarge {
                what: "the cell text of one sheet",
                size: self.bytes,
                limit: self.max_bytes,
            });
        }
        self.row.bytes += value.len();
        self.row.cells.push((col, value));
        Ok(())
    }

    /// Close the current row, keeping it if it has cells.
    fn end_row(&mut self) {
        let row = std::mem::take(&mut self.row);
        if !row.cells.is_empty() || row.overlong {
            self.bytes += ROW_OVERHEAD;
            self.rows.push_back(row);
        }
    }
}

/// A spreadsheet's sheets, read one at a time.
#[derive(Debug)]
enum Book {
    Xlsx {
        zip: Box<ZipArchive<Cursor<Vec<u8>>>>,
        strings: Vec<String>,
        /// Per cell style (`s` attribute): how its numbers read.
        styles: Vec<NumberKind>,
        date1904: bool,
        /// `(name, part)` of the sheets still to read.
        sheets: VecDeque<(String, String)>,
    },
    /// ODS keeps every sheet in `content.xml`: all are read at once.
    Ods { sheets: VecDeque<SheetBuf> },
}

/// The sheet whose rows are being handed out.
#[derive(Debug)]
struct Current {
    sheet: SheetBuf,
    builder: Option<RowBuilder>,
    columns: Vec<String>,
}

/// The documents of a spreadsheet, one per row; see the module documentation.
#[derive(Debug)]
pub struct Sheets {
    path: PathBuf,
    source: String,
    book: Book,
    opts: RecordOptions,
    limits: crate::Limits,
    current: Option<Current>,
    /// Rows handed out (documents and bad rows), to tell an empty book.
    seen: u64,
    done: bool,
}

/// Open a spreadsheet read into `bytes`; `path` names it in errors and `source` is the
/// prefix of its rows' sources (`source#sheet/key`). Fails when the bytes are not an
/// XLSX or ODS file, or when the sheet `opts.sheet` names is not in it.
pub fn open(
    path: &Path,
    source: &str,
    bytes: Vec<u8>,
    opts: &RecordOptions,
    ctx: &LoadContext<'_>,
) -> Result<Sheets, Error> {
    let fail = |reason| Error::document(path, reason);
    let guarded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        open_book(bytes, opts.sheet.as_deref(), ctx)
    }));
    let book = match guarded {
        Ok(r) => r.map_err(fail)?,
        Err(payload) => {
            return Err(fail(DocError::Panic(crate::pipeline::panic_message(
                &*payload,
            ))));
        }
    };
    Ok(Sheets {
        path: path.to_path_buf(),
        source: source.to_string(),
        book,
        opts: opts.clone(),
        limits: ctx.limits.clone(),
        current: None,
        seen: 0,
        done: false,
    })
}

fn open_book(bytes: Vec<u8>, only: Option<&str>, ctx: &LoadContext<'_>) -> Result<Book, DocError> {
    let mut zip = open_zip(Cursor::new(bytes), EXPECTED)?;
    let names: Vec<String>;
    let book = if zip.index_for_name("content.xml").is_some()
        && zip.index_for_name("xl/workbook.xml").is_none()
    {
        let content = read_part(&mut zip, "content.xml", ctx)?.unwrap_or_default();
        let sheets = parse_ods(&content, only, ctx)?;
        names = sheets.iter().map(|s| s.name.clone()).collect();
        if only.is_some() && sheets.is_empty() {
            // Named, but not found: list them all.
            let all = parse_ods_names(&content, ctx)?;
            return Err(no_such_sheet(only, &all));
        }
        Book::Ods {
            sheets: sheets.into(),
        }
    } else {
        let workbook =
            read_part(&mut zip, "xl/workbook.xml", ctx)?.ok_or_else(|| DocError::WrongFormat {
                expected: EXPECTED,
                reason: "neither xl/workbook.xml (XLSX) nor content.xml (ODS) in the archive"
                    .into(),
            })?;
        let rels = read_part(&mut zip, "xl/_rels/workbook.xml.rels", ctx)?.unwrap_or_default();
        let targets = parse_rels(&rels, "xl/_rels/workbook.xml.rels", EXPECTED, ctx)?;
        let (listed, date1904) = parse_workbook(&workbook, ctx)?;
        let mut sheets = VecDeque::new();
        for (name, rid) in &listed {
            if let Some(target) = targets.get(rid) {
                sheets.push_back((name.clone(), resolve_target("xl/", target)));
            }
        }
        names = sheets.iter().map(|(n, _)| n.clone()).collect();
        if let Some(want) = only {
            sheets.retain(|(n, _)| n == want);
            if sheets.is_empty() {
                return Err(no_such_sheet(only, &names));
            }
        }
        let strings = match read_part(&mut zip, "xl/sharedStrings.xml", ctx)? {
            Some(xml) => parse_shared_strings(&xml, ctx)?,
            None => Vec::new(),
        };
        let styles = match read_part(&mut zip, "xl/styles.xml", ctx)? {
            Some(xml) => parse_styles(&xml, ctx)?,
            None => Vec::new(),
        };
        Book::Xlsx {
            zip: Box::new(zip),
            strings,
            styles,
            date1904,
            sheets,
        }
    };
    if names.is_empty() && only.is_none() {
        return Err(DocError::WrongFormat {
            expected: EXPECTED,
            reason: "the workbook lists no sheets".into(),
        });
    }
    Ok(book)
}

fn no_such_sheet(want: Option<&str>, names: &[String]) -> DocError {
    DocError::WrongFormat {
        expected: EXPECTED,
        reason: format!(
            "no sheet named {:?} (its sheets: {})",
            want.unwrap_or_default(),
            names.join(", ")
        ),
    }
}

impl Sheets {
    /// The next sheet's rows, or `None` when every sheet was read.
    fn next_sheet(&mut self, ctx: &LoadContext<'_>) -> Option<Result<SheetBuf, DocError>> {
        match &mut self.book {
            Book::Ods { sheets } => sheets.pop_front().map(Ok),
            Book::Xlsx {
                zip,
                strings,
                styles,
                date1904,
                sheets,
            } => {
                let (name, part) = sheets.pop_front()?;
                let xml = match read_part(zip, &part, ctx) {
                    Ok(Some(xml)) => xml,
                    Ok(None) => {
                        return Some(Err(DocError::Corrupt(format!(
                            "sheet {name:?}: no part {part}"
                        ))));
                    }
                    Err(e) => return Some(Err(e)),
                };
                let cells = XlsxCells {
                    strings,
                    styles,
                    date1904: *date1904,
                };
                Some(parse_xlsx_sheet(&xml, &part, name, &cells, ctx))
            }
        }
    }

    fn row_error(&self, line: u64, reason: String) -> Error {
        RecordError::Row { line, reason }.into_error(&self.path)
    }

    fn next_item(&mut self) -> Option<crate::Result<Document>> {
        loop {
            let Some(cur) = &mut self.current else {
                let limits = self.limits.clone();
                let mut ctx = LoadContext::new(&limits);
                ctx.deadline = Deadline::after_secs(limits.parse_timeout_secs);
                match self.next_sheet(&ctx)? {
                    Ok(sheet) => {
                        self.current = Some(Current {
                            sheet,
                            builder: None,
                            columns: Vec::new(),
                        });
                        continue;
                    }
                    Err(e) => {
                        // The file's parts are damaged or over a cap: it fails here.
                        self.done = true;
                        return Some(Err(Error::document(&self.path, e)));
                    }
                }
            };
            let Some(row) = cur.sheet.rows.pop_front() else {
                self.current = None;
                continue;
            };
            let name = cur.sheet.name.clone();
            let Some(builder) = &mut cur.builder else {
                let mut builder = RowBuilder::new(&self.opts, &self.limits);
                let header_line = row.number;
                let (names, data_row) = if self.opts.has_headers {
                    let mut fields = Vec::new();
                    for (col, value) in &row.cells {
                        fields.resize(*col as usize, String::new());
                        fields.push(value.clone());
                    }
                    let names = header_names(&fields, |i| column_letters(i as u32));
                    (names, None)
                } else {
                    let width = cur
                        .sheet
                        .rows
                        .iter()
                        .chain(std::iter::once(&row))
                        .filter_map(|r| r.cells.last().map(|c| c.0 + 1))
                        .max()
                        .unwrap_or(0);
                    ((0..width).map(column_letters).collect(), Some(row))
                };
                if let Err(reason) = builder.plan_columns(&names) {
                    self.current = None;
                    self.seen += 1;
                    return Some(Err(
                        self.row_error(header_line, format!("sheet {name:?}: {reason}"))
                    ));
                }
                cur.columns = names;
                cur.builder = Some(builder);
                if let Some(row) = data_row {
                    cur.sheet.rows.push_front(row);
                }
                continue;
            };
            self.seen += 1;
            let line = row.number;
            if row.overlong {
                let max = self.limits.max_text_bytes;
                return Some(Err(self.row_error(
                    line,
                    format!("sheet {name:?}: row longer than the limit of {max} bytes"),
                )));
            }
            let mut pairs: Vec<(String, String)> = cur
                .columns
                .iter()
                .map(|c| (c.clone(), String::new()))
                .collect();
            let mut hasher = blake3::Hasher::new();
            for (col, value) in row.cells {
                hasher.update(&col.to_le_bytes());
                hasher.update(&(value.len() as u64).to_le_bytes());
                hasher.update(value.as_bytes());
                match pairs.get_mut(col as usize) {
                    Some(pair) => pair.1 = value,
                    None => pairs.push((column_letters(col), value)),
                }
            }
            builder.rows = line;
            builder.deadline = Deadline::after_secs(self.limits.parse_timeout_secs);
            let hash = hasher.finalize().to_hex().to_string();
            return Some(match builder.build(line, pairs, hash, None) {
                Ok(record) => {
                    let Record {
                        key,
                        mut extracted,
                        content_hash,
                        ..
                    } = record;
                    extracted.metadata.insert("sheet".into(), name.clone());
                    extracted.metadata.insert("row".into(), line.to_string());
                    Ok(Record {
                        key: format!("{name}/{key}"),
                        line,
                        extracted,
                        content_hash,
                    }
                    .into_document(&self.source, Format::Spreadsheet))
                }
                Err(e) => {
                    let reason = match e {
                        RecordError::Row { reason, .. }
                        | RecordError::File { reason, .. }
                        | RecordError::Panic {
                            message: reason, ..
                        } => reason,
                    };
                    Err(self.row_error(line, format!("sheet {name:?}: {reason}")))
                }
            });
        }
    }
}

impl Iterator for Sheets {
    type Item = crate::Result<Document>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.next_item()))
            .unwrap_or_else(|payload| {
                Some(Err(Error::document(
                    &self.path,
                    DocError::Panic(crate::pipeline::panic_message(&*payload)),
                )))
            });
        match item {
            None => {
                self.done = true;
                (self.seen == 0).then(|| {
                    Err(Error::document(
                        &self.path,
                        DocError::WrongFormat {
                            expected: EXPECTED,
                            reason: match &self.opts.sheet {
                                Some(s) => format!("sheet {s:?} has no rows"),
                                None => "no sheet has any rows".into(),
                            },
                        },
                    ))
                })
            }
            Some(Err(e)) if matches!(e, Error::Document { .. }) => {
                self.done = true;
                Some(Err(e))
            }
            some => some,
        }
    }
}

/// `A` for column 0, `Z`, `AA`, ... as spreadsheets name columns.
pub fn column_letters(col: u32) -> String {
    let mut n = col as u64 + 1;
    let mut out = Vec::new();
    while n > 0 {
        let r = ((n - 1) % 26) as u8;
        out.push(b'A' + r);
        n = (n - 1) / 26;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// The 0-based column and 1-based row of a cell reference such as `AB12`.
fn parse_ref(r: &str) -> (Option<u32>, Option<u64>) {
    let letters: &str = &r[..r.bytes().take_while(u8::is_ascii_alphabetic).count()];
    let col = if letters.is_empty() || letters.len() > 3 {
        None
    } else {
        Some(
            letters.bytes().fold(0u32, |acc, b| {
                acc * 26 + u32::from(b.to_ascii_uppercase() - b'A' + 1)
            }) - 1,
        )
    };
    let row = r[letters.len()..].parse().ok();
    (col, row)
}

/// Where a relationship's target lives in the zip: relative to `base` or absolute.
pub(crate) fn resolve_target(base: &str, target: &str) -> String {
    match target.strip_prefix('/') {
        Some(abs) => abs.to_string(),
        None => {
            let mut parts: Vec<&str> = base.split('/').filter(|p| !p.is_empty()).collect();
            for seg in target.split('/') {
                match seg {
                    ".." => {
                        parts.pop();
                    }
                    "." | "" => {}
                    s => parts.push(s),
                }
            }
            parts.join("/")
        }
    }
}

/// `Id -> Target` of a relationships part.
pub(crate) fn parse_rels(
    xml: &str,
    part: &str,
    expected: &'static str,
    ctx: &LoadContext<'_>,
) -> Result<HashMap<String, String>, DocError> {
    let mut out = HashMap::new();
    walk(xml, part, expected, ctx, |n| {
        if let Node::Open(e) = n
            && local(e) == "Relationship"
            && let (Some(id), Some(target)) = (attr(e, "Id"), attr(e, "Target"))
        {
            out.insert(id, target);
        }
        Ok(())
    })?;
    Ok(out)
}

/// The sheets a workbook lists, `(name, relationship id)` in order, and whether it
/// counts dates from 1904.
fn parse_workbook(
    xml: &str,
    ctx: &LoadContext<'_>,
) -> Result<(Vec<(String, String)>, bool), DocError> {
    let mut sheets = Vec::new();
    let mut date1904 = false;
    walk(xml, "xl/workbook.xml", EXPECTED, ctx, |n| {
        if let Node::Open(e) = n {
            match local(e) {
                "sheet" => {
                    if let (Some(name), Some(id)) = (attr(e, "name"), attr(e, "id")) {
                        sheets.push((name, id));
                    }
                }
                "workbookPr" => {
                    date1904 = attr(e, "date1904").is_some_and(|v| v == "1" || v == "true");
                }
                _ => {}
            }
        }
        Ok(())
    })?;
    Ok((sheets, date1904))
}

fn parse_shared_strings(xml: &str, ctx: &LoadContext<'_>) -> Result<Vec<String>, DocError> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut in_t, mut phonetic) = (false, 0u32);
    walk(xml, "xl/sharedStrings.xml", EXPECTED, ctx, |n| {
        match n {
            Node::Open(e) => match local(e) {
                "si" => cur.clear(),
                "t" => in_t = true,
                "rPh" => phonetic += 1,
                _ => {}
            },
            Node::Close("t") => in_t = false,
            Node::Close("rPh") => phonetic = phonetic.saturating_sub(1),
            Node::Close("si") => out.push(std::mem::take(&mut cur)),
            Node::Text(t) if in_t && phonetic == 0 => cur.push_str(t),
            _ => {}
        }
        Ok(())
    })?;
    Ok(out)
}

/// How the numbers of a cell style read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NumberKind {
    Plain,
    Date,
    Percent,
}

/// The number kind of each cell style (`cellXfs`), from its number format.
fn parse_styles(xml: &str, ctx: &LoadContext<'_>) -> Result<Vec<NumberKind>, DocError> {
    let mut custom: HashMap<u32, NumberKind> = HashMap::new();
    let mut xfs = Vec::new();
    let mut in_xfs = false;
    walk(xml, "xl/styles.xml", EXPECTED, ctx, |n| {
        match n {
            Node::Open(e) => match local(e) {
                "numFmt" => {
                    if let (Some(id), Some(code)) = (
                        attr(e, "numFmtId").and_then(|v| v.trim().parse().ok()),
                        attr(e, "formatCode"),
                    ) {
                        custom.insert(id, format_kind(&code));
                    }
                }
                "cellXfs" => in_xfs = true,
                "xf" if in_xfs => {
                    let id: u32 = attr(e, "numFmtId")
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    xfs.push(custom.get(&id).copied().unwrap_or_else(|| builtin_kind(id)));
                }
                _ => {}
            },
            Node::Close("cellXfs") => in_xfs = false,
            _ => {}
        }
        Ok(())
    })?;
    Ok(xfs)
}

/// The built-in number formats of Excel that show dates, times or percentages.
fn builtin_kind(id: u32) -> NumberKind {
    match id {
        9 | 10 => NumberKind::Percent,
        14..=22 | 27..=36 | 45..=47 | 50..=58 => NumberKind::Date,
        _ => NumberKind::Plain,
    }
}

/// What a custom format code shows: a date when it has date or time parts outside
/// quoted text, escapes and bracketed colours or conditions.
fn format_kind(code: &str) -> NumberKind {
    let mut chars = code.chars();
    let (mut date, mut percent) = (false, false);
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                for q in chars.by_ref() {
                    if q == '"' {
                        break;
                    }
                }
            }
            '\\' | '_' | '*' => {
                chars.next();
            }
            '[' => {
                // `[h]`, `[mm]`, `[ss]` are elapsed times; `[Red]`, `[>100]` are not.
                let inner: String = chars.by_ref().take_while(|&q| q != ']').collect();
                if inner
                    .chars()
                    .all(|q| matches!(q.to_ascii_lowercase(), 'h' | 'm' | 's'))
                    && !inner.is_empty()
                {
                    date = true;
                }
            }
            ';' => break,
            '%' => percent = true,
            c if matches!(c.to_ascii_lowercase(), 'y' | 'd' | 'h' | 's') => date = true,
            'm' | 'M' => date = true,
            _ => {}
        }
    }
    if date {
        NumberKind::Date
    } else if percent {
        NumberKind::Percent
    } else {
        NumberKind::Plain
    }
}

/// A number as a spreadsheet shows it by default: to 15 significant digits, without
/// trailing zeros or exponent.
fn render_number(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    let rounded: f64 = format!("{v:.14e}").parse().unwrap_or(v);
    let s = rounded.to_string();
    if s == "-0" { "0".into() } else { s }
}

/// A date serial number as ISO 8601: `2024-03-01`, `2024-03-01 14:30:00`, or `14:30:00`
/// for a time of day alone. Serials count days from 1899-12-30 (with Excel's phantom
/// 1900-02-29 before March 1900) or, with `date1904`, from 1904-01-01.
fn render_date(serial: f64, date1904: bool) -> Option<String> {
    if !(0.0..2_958_466.0).contains(&serial) {
        return None;
    }
    let days = serial.floor() as i64;
    let secs = ((serial - serial.floor()) * 86_400.0).round() as i64;
    let (mut days, secs) = if secs >= 86_400 {
        (days + 1, secs - 86_400)
    } else {
        (days, secs)
    };
    let time = format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
    if days == 0 && !date1904 {
        return Some(time);
    }
    if !date1904 && days < 61 {
        // Excel counts 1900-02-29, which never was; serials before it are one day off.
        days += 1;
    }
    // Days from 1970-01-01.
    let epoch = if date1904 { -24_107 } else { -25_569 };
    let (y, m, d) = civil_from_days(days + epoch);
    let date = format!("{y:04}-{m:02}-{d:02}");
    Some(if secs == 0 {
        date
    } else {
        format!("{date} {time}")
    })
}

/// Year, month, day of a count of days from 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// What XLSX cells need to render their values.
struct XlsxCells<'a> {
    strings: &'a [String],
    styles: &'a [NumberKind],
    date1904: bool,
}

impl XlsxCells<'_> {
    fn render(&self, kind: &str, style: Option<usize>, v: &str, inline: &str) -> String {
        match kind {
            "s" => v
                .trim()
                .parse::<usize>()
                .ok()
                .and_then(|i| self.strings.get(i))
                .cloned()
                .unwrap_or_default(),
            "inlineStr" => inline.to_string(),
            "str" | "e" | "d" => v.to_string(),
            "b" => match v.trim() {
                "1" => "TRUE".into(),
                "0" => "FALSE".into(),
                other => other.into(),
            },
            _ => {
                let Ok(n) = v.trim().parse::<f64>() else {
                    return v.trim().to_string();
                };
                match style.and_then(|s| self.styles.get(s)) {
                    Some(NumberKind::Date) => {
                        render_date(n, self.date1904).unwrap_or_else(|| render_number(n))
                    }
                    Some(NumberKind::Percent) => format!("{}%", render_number(n * 100.0)),
                    _ => render_number(n),
                }
            }
        }
    }
}

fn parse_xlsx_sheet(
    xml: &str,
    part: &str,
    name: String,
    cells: &XlsxCells<'_>,
    ctx: &LoadContext<'_>,
) -> Result<SheetBuf, DocError> {
    let mut sheet = SheetBuf::new(name, ctx);
    let mut row_no = 0u64;
    let mut col = 0u32;
    // The cell being read: type, style, position, value, inline string.
    let mut kind = String::new();
    let mut style = None;
    let (mut v, mut inline) = (String::new(), String::new());
    let (mut in_v, mut in_is_t, mut in_cell) = (false, false, false);
    let mut phonetic = 0u32;
    let mut failed = None;
    walk(xml, part, EXPECTED, ctx, |n| {
        match n {
            Node::Open(e) => match local(e) {
                "row" => {
                    row_no = attr(e, "r")
                        .and_then(|r| r.trim().parse().ok())
                        .unwrap_or(row_no + 1);
                    col = 0;
                    sheet.start_row(row_no);
                }
                "c" => {
                    in_cell = true;
                    if let Some(r) = attr(e, "r") {
                        let (c, _) = parse_ref(r.trim());
                        if let Some(c) = c {
                            col = c;
                        }
                    }
                    kind = attr(e, "t").unwrap_or_default();
                    style = attr(e, "s").and_then(|s| s.trim().parse().ok());
                    v.clear();
                    inline.clear();
                }
                "v" if in_cell => in_v = true,
                "t" if in_cell => in_is_t = true,
                "rPh" => phonetic += 1,
                _ => {}
            },
            Node::Close("v") => in_v = false,
            Node::Close("t") => in_is_t = false,
            Node::Close("rPh") => phonetic = phonetic.saturating_sub(1),
            Node::Close("c") if in_cell => {
                in_cell = false;
                let value = cells.render(&kind, style, &v, &inline);
                let value = crate::normalize::normalize_text(&value).trim().to_string();
                if let Err(e) = sheet.cell(col, value) {
                    failed = Some(e);
                }
                col = col.saturating_add(1);
            }
            Node::Close("row") => sheet.end_row(),
            Node::Text(t) if in_v => v.push_str(t),
            Node::Text(t) if in_is_t && phonetic == 0 => inline.push_str(t),
            _ => {}
        }
        match failed.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    })?;
    Ok(sheet)
}

/// The names of the sheets of an ODS `content.xml`, in order.
fn parse_ods_names(xml: &str, ctx: &LoadContext<'_>) -> Result<Vec<String>, DocError> {
    let mut names = Vec::new();
    walk(xml, "content.xml", EXPECTED, ctx, |n| {
        if let Node::Open(e) = n
            && local(e) == "table"
            && let Some(name) = attr(e, "name")
        {
            names.push(name);
        }
        Ok(())
    })?;
    Ok(names)
}

/// The sheets of an ODS `content.xml` (only the one named `only`, if given).
fn parse_ods(
    xml: &str,
    only: Option<&str>,
    ctx: &LoadContext<'_>,
) -> Result<Vec<SheetBuf>, DocError> {
    let mut sheets: Vec<SheetBuf> = Vec::new();
    let mut sheet: Option<SheetBuf> = None;
    // Tables nested in cells are read as part of the cell's text.
    let mut depth = 0u32;
    let mut row_no = 0u64;
    let mut row_repeat = 1u64;
    let mut col = 0u32;
    let mut col_repeat = 1u32;
    let mut in_cell = false;
    // The cell being read: its typed value (dates), displayed text, paragraphs.
    let mut typed: Option<String> = None;
    let mut text = String::new();
    let mut paras = 0u32;
    let mut note = 0u32;
    let mut failed = None;
    walk(xml, "content.xml", EXPECTED, ctx, |n| {
        match n {
            Node::Open(e) => match local(e) {
                "table" => {
                    depth += 1;
                    if depth == 1 {
                        let name =
                            attr(e, "name").unwrap_or_else(|| format!("Sheet{}", sheets.len() + 1));
                        sheet = (only.is_none() || only == Some(name.as_str()))
                            .then(|| SheetBuf::new(name, ctx));
                        row_no = 0;
                    }
                }
                "table-row" if depth == 1 && !in_cell => {
                    row_repeat = attr(e, "number-rows-repeated")
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(1u64)
                        .max(1);
                    col = 0;
                    if let Some(s) = &mut sheet {
                        s.start_row(row_no + 1);
                    }
                }
                "table-cell" | "covered-table-cell" if depth == 1 && !in_cell => {
                    in_cell = true;
                    col_repeat = attr(e, "number-columns-repeated")
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(1u32)
                        .max(1);
                    typed = match attr(e, "value-type").as_deref() {
                        Some("date") => attr(e, "date-value").map(|d| {
                            let d = d.trim().trim_end_matches("T00:00:00");
                            d.replacen('T', " ", 1)
                        }),
                        Some("boolean") => attr(e, "boolean-value")
                            .map(|b| if b.trim() == "true" { "TRUE" } else { "FALSE" }.to_string()),
                        _ => None,
                    };
                    text.clear();
                    paras = 0;
                }
                "annotation" => note += 1,
                "p" | "h" if in_cell && note == 0 => {
                    if paras > 0 {
                        text.push('\n');
                    }
                    paras += 1;
                }
                "s" if in_cell && note == 0 => {
                    let count = attr(e, "c")
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(1usize)
                        .min(1024);
                    text.extend(std::iter::repeat_n(' ', count));
                }
                "tab" if in_cell && note == 0 => text.push('\t'),
                "line-break" if in_cell && note == 0 => text.push('\n'),
                _ => {}
            },
            Node::Close("annotation") => note = note.saturating_sub(1),
            Node::Close("table") => {
                depth = depth.saturating_sub(1);
                if depth == 0
                    && let Some(s) = sheet.take()
                {
                    sheets.push(s);
                }
            }
            Node::Close("table-cell" | "covered-table-cell") if depth == 1 && in_cell => {
                in_cell = false;
                let value = typed.take().unwrap_or_else(|| std::mem::take(&mut text));
                let value = crate::normalize::normalize_text(&value).trim().to_string();
                if let Some(s) = &mut sheet
                    && !value.is_empty()
                {
                    for i in 0..col_repeat.min(MAX_COLUMNS) {
                        if let Err(e) = s.cell(col.saturating_add(i), value.clone()) {
                            failed = Some(e);
                            break;
                        }
                    }
                }
                col = col.saturating_add(col_repeat);
            }
            Node::Close("table-row") if depth == 1 && !in_cell => {
                if let Some(s) = &mut sheet {
                    let row = std::mem::take(&mut s.row);
                    if row.cells.is_empty() && !row.overlong {
                        // Empty rows, however many, cost nothing.
                    } else {
                        // A repeated row with content is that many rows; each is held,
                        // so the sheet's cap bounds them.
                        for i in 0..row_repeat {
                            s.bytes += row.bytes as u64
                                + ROW_OVERHEAD
                                + CELL_OVERHEAD * row.cells.len() as u64;
                            if s.bytes > s.max_bytes {
                                failed = Some(DocError::TooLarge {
                                    what: "the cell text of one sheet",
                                    size: s.bytes,
                                    limit: s.max_bytes,
                                });
                                break;
                            }
                            s.rows.push_back(RawRow {
                                number: row_no + 1 + i,
                                cells: row.cells.clone(),
                                bytes: row.bytes,
                                overlong: row.overlong,
                            });
                        }
                    }
                }
                row_no = row_no.saturating_add(row_repeat);
            }
            Node::Text(t) if in_cell && note == 0 => text.push_str(t),
            _ => {}
        }
        match failed.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    })?;
    Ok(sheets)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::pipeline::{IngestOptions, Ingestor};
    use crate::source::SourceFile;
    use std::io::Write;

    /// A zip of `(name, content)` parts.
    pub(crate) fn zip_of(parts: &[(&str, String)]) -> Vec<u8> {
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, body) in parts {
            zip.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            zip.write_all(body.as_bytes()).unwrap();
        }
        zip.finish().unwrap().into_inner()
    }

    /// A minimal XLSX: sheets as `(name, sheetData rows XML)`, shared strings, and two
    /// cell styles: 0 plain, 1 a date (built-in format 14), 2 a percentage.
    pub(crate) fn xlsx(sheets: &[(&str, &str)], shared: &[&str]) -> Vec<u8> {
        let main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
        let rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
        let listed: String = sheets
            .iter()
            .enumerate()
            .map(|(i, (name, _))| {
                format!(
                    r#"<sheet name="{name}" sheetId="{}" r:id="rId{}"/>"#,
                    i + 1,
                    i + 1
                )
            })
            .collect();
        let rels: String = (1..=sheets.len())
            .map(|n| {
                format!(r#"<Relationship Id="rId{n}" Type="{rel}/worksheet" Target="worksheets/sheet{n}.xml"/>"#)
            })
            .collect();
        let strings: String = shared
            .iter()
            .map(|t| format!("<si><t xml:space=\"preserve\">{t}</t></si>"))
            .collect();
        let mut parts = vec![
            (
                "[Content_Types].xml",
                r#"<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>"#.to_string(),
            ),
            (
                "xl/workbook.xml",
                format!(r#"<?xml version="1.0"?><workbook xmlns="{main}" xmlns:r="{rel}"><sheets>{listed}</sheets></workbook>"#),
            ),
            (
                "xl/_rels/workbook.xml.rels",
                format!(r#"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{rels}</Relationships>"#),
            ),
            (
                "xl/sharedStrings.xml",
                format!(r#"<?xml version="1.0"?><sst xmlns="{main}">{strings}</sst>"#),
            ),
            (
                "xl/styles.xml",
                format!(r#"<?xml version="1.0"?><styleSheet xmlns="{main}"><cellStyleXfs><xf numFmtId="14"/></cellStyleXfs><cellXfs><xf numFmtId="0"/><xf numFmtId="14"/><xf numFmtId="10"/></cellXfs></styleSheet>"#),
            ),
        ];
        let names: Vec<String> = (1..=sheets.len())
            .map(|n| format!("xl/worksheets/sheet{n}.xml"))
            .collect();
        for (i, (_, rows)) in sheets.iter().enumerate() {
            parts.push((
                names[i].as_str(),
                format!(r#"<?xml version="1.0"?><worksheet xmlns="{main}"><sheetData>{rows}</sheetData></worksheet>"#),
            ));
        }
        zip_of(&parts)
    }

    /// The documents of a file `name` holding `bytes`; errors as the user reads them,
    /// with the path relative to the file's folder.
    fn documents(
        name: &str,
        bytes: &[u8],
        options: IngestOptions,
    ) -> Vec<Result<Document, String>> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let prefix = format!("{}/", dir.path().display());
        Ingestor::new(options)
            .documents(&SourceFile::explicit(&path))
            .map(|d| d.map_err(|e| e.to_string().replacen(&prefix, "", 1)))
            .collect()
    }

    fn ok(d: &Result<Document, String>) -> &Document {
        d.as_ref().unwrap()
    }

    /// Two sheets: reviews with an id, title, text, a number, a date and a
    /// percentage; notes with text only (keys by row number).
    fn book() -> Vec<u8> {
        xlsx(
            &[
                (
                    "Reviews",
                    r#"<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c><c r="C1" t="s"><v>2</v></c><c r="D1" t="inlineStr"><is><t>score</t></is></c><c r="E1" t="s"><v>3</v></c><c r="F1" t="s"><v>4</v></c></row>
                       <row r="2"><c r="A2" t="s"><v>5</v></c><c r="B2" t="s"><v>6</v></c><c r="C2" t="s"><v>7</v></c><c r="D2"><v>4.5</v></c><c r="E2" s="1"><v>45352</v></c><c r="F2" s="2"><v>0.125</v></c></row>
                       <row r="4"><c r="A4"><v>17</v></c><c r="C4" t="str"><f>CONCAT("a","b")</f><v>Second review, from a formula</v></c><c r="D4" t="b"><v>1</v></c></row>"#,
                ),
                (
                    "Notes",
                    r#"<row r="1"><c r="A1" t="inlineStr"><is><t>note</t></is></c></row><row r="3"><c r="A3" t="inlineStr"><is><t>Call the supplier</t></is></c></row>"#,
                ),
            ],
            &[
                "id",
                "title",
                "text",
                "date",
                "share",
                "r1",
                "Great kettle",
                "Boils fast &amp; quiet.",
            ],
        )
    }

    #[test]
    fn xlsx_rows_are_records_of_every_sheet() {
        let docs = documents("book.xlsx", &book(), IngestOptions::default());
        assert_eq!(docs.len(), 3, "{docs:?}");
        let d = ok(&docs[0]);
        assert_eq!(d.source, "book.xlsx#Reviews/r1");
        assert_eq!(d.format, Format::Spreadsheet);
        assert_eq!(d.text, "Boils fast & quiet.");
        assert_eq!(d.title.as_deref(), Some("Great kettle"));
        assert_eq!(d.metadata["score"], "4.5");
        assert_eq!(d.metadata["date"], "2024-03-01");
        assert_eq!(d.metadata["share"], "12.5%");
        assert_eq!(d.metadata["sheet"], "Reviews");
        assert_eq!(d.metadata["row"], "2");
        assert_eq!(d.metadata["id"], "r1");
        let d = ok(&docs[1]);
        assert_eq!(d.source, "book.xlsx#Reviews/17");
        assert_eq!(d.text, "Second review, from a formula");
        assert_eq!(d.metadata["score"], "TRUE");
        assert_eq!(d.metadata["row"], "4");
        let d = ok(&docs[2]);
        // No id column: the key is the row number the spreadsheet shows.
        assert_eq!(d.source, "book.xlsx#Notes/3");
        assert_eq!(d.text, "Call the supplier");
        // Reading the same rows again gives the same ids and hashes.
        let again = documents("book.xlsx", &book(), IngestOptions::default());
        assert_eq!(ok(&again[2]).id, d.id);
        assert_eq!(ok(&again[0]).content_hash, ok(&docs[0]).content_hash);
    }

    #[test]
    fn one_sheet_by_name_keeps_its_ids() {
        let mut options = IngestOptions::default();
        options.records.sheet = Some("Notes".into());
        let docs = documents("book.xlsx", &book(), options.clone());
        assert_eq!(docs.len(), 1);
        let all = documents("book.xlsx", &book(), IngestOptions::default());
        assert_eq!(ok(&docs[0]).id, ok(&all[2]).id);
        options.records.sheet = Some("Missing".into());
        let docs = documents("book.xlsx", &book(), options);
        let e = docs[0].clone().unwrap_err();
        assert!(
            e.contains("book.xlsx")
                && e.contains("no sheet named \"Missing\" (its sheets: Reviews, Notes)"),
            "{e}"
        );
    }

    #[test]
    fn a_sheet_without_a_text_column_is_one_error_and_the_others_are_read() {
        let bytes = xlsx(
            &[
                (
                    "Totals",
                    r#"<row r="1"><c r="A1" t="inlineStr"><is><t>sum</t></is></c></row><row r="2"><c r="A2"><v>3</v></c></row>"#,
                ),
                (
                    "Feedback",
                    r#"<row r="1"><c r="B1" t="inlineStr"><is><t>comment</t></is></c></row><row r="2"><c r="B2" t="inlineStr"><is><t>Too loud</t></is></c></row>"#,
                ),
            ],
            &[],
        );
        let docs = documents("mixed.xlsx", &bytes, IngestOptions::default());
        assert_eq!(docs.len(), 2, "{docs:?}");
        let e = docs[0].clone().unwrap_err();
        assert!(
            e.starts_with("mixed.xlsx:1: sheet \"Totals\": no text column found"),
            "{e}"
        );
        let d = ok(&docs[1]);
        assert_eq!(d.text, "Too loud");
        // The blank header cell of column A is named by its letter.
        assert_eq!(d.source, "mixed.xlsx#Feedback/2");
    }

    #[test]
    fn headerless_sheets_name_columns_by_letter() {
        let bytes = xlsx(
            &[(
                "S",
                r#"<row r="1"><c r="A1"><v>1</v></c><c r="B1" t="inlineStr"><is><t>first</t></is></c></row><row r="2"><c r="B2" t="inlineStr"><is><t>second</t></is></c></row>"#,
            )],
            &[],
        );
        let mut options = IngestOptions::default();
        options.records.has_headers = false;
        options.records.text_columns = vec!["B".into()];
        let docs = documents("plain.xlsx", &bytes, options);
        assert_eq!(docs.len(), 2);
        assert_eq!(ok(&docs[0]).text, "first");
        assert_eq!(ok(&docs[0]).metadata["A"], "1");
        assert_eq!(ok(&docs[1]).source, "plain.xlsx#S/2");
    }

    #[test]
    fn empty_and_garbled_spreadsheets_fail_naming_the_file() {
        let empty = xlsx(&[("Sheet1", "")], &[]);
        let docs = documents("empty.xlsx", &empty, IngestOptions::default());
        assert_eq!(docs.len(), 1);
        let e = docs[0].clone().unwrap_err();
        assert_eq!(
            e,
            "empty.xlsx: not a spreadsheet (XLSX or ODS) file: no sheet has any rows"
        );

        let docs = documents(
            "junk.xlsx",
            b"PK\x03\x04 this is no zip",
            IngestOptions::default(),
        );
        let e = docs[0].clone().unwrap_err();
        assert!(
            e.starts_with("junk.xlsx: not a spreadsheet (XLSX or ODS) file: not a readable zip"),
            "{e}"
        );

        let docx_like = zip_of(&[("word/document.xml", "<w:document/>".into())]);
        let docs = documents("wrong.xlsx", &docx_like, IngestOptions::default());
        let e = docs[0].clone().unwrap_err();
        assert!(
            e.contains("wrong.xlsx") && e.contains("neither xl/workbook.xml"),
            "{e}"
        );

        let broken = xlsx(
            &[
                (
                    "Good",
                    r#"<row r="1"><c r="A1" t="inlineStr"><is><t>text</t></is></c></row><row r="2"><c r="A2" t="inlineStr"><is><t>fine</t></is></c></row>"#,
                ),
                ("Bad", "<row><c><v>1</v></row>"),
            ],
            &[],
        );
        let docs = documents("broken.xlsx", &broken, IngestOptions::default());
        assert_eq!(docs.len(), 2, "{docs:?}");
        assert_eq!(ok(&docs[0]).text, "fine");
        let e = docs[1].clone().unwrap_err();
        assert!(
            e.starts_with("broken.xlsx: truncated or corrupt: xl/worksheets/sheet2.xml"),
            "{e}"
        );

        let dtd = xlsx(&[("S", "")], &[]);
        let mut dtd_parts = Vec::new();
        {
            let mut zip = ZipArchive::new(Cursor::new(dtd)).unwrap();
            for i in 0..zip.len() {
                let mut f = zip.by_index(i).unwrap();
                let mut body = String::new();
                std::io::Read::read_to_string(&mut f, &mut body).unwrap();
                let name = f.name().unwrap().to_string();
                if name == "xl/sharedStrings.xml" {
                    body = r#"<?xml version="1.0"?><!DOCTYPE lol [<!ENTITY a "aaaa">]><sst><si><t>&a;</t></si></sst>"#.into();
                }
                dtd_parts.push((name, body));
            }
        }
        let parts: Vec<(&str, String)> = dtd_parts
            .iter()
            .map(|(n, b)| (n.as_str(), b.clone()))
            .collect();
        let docs = documents("bomb.xlsx", &zip_of(&parts), IngestOptions::default());
        let e = docs[0].clone().unwrap_err();
        assert!(
            e.contains("bomb.xlsx") && e.contains("document type declaration"),
            "{e}"
        );
    }

    #[test]
    fn shared_strings_repeated_by_reference_are_capped() {
        // A 4 KiB string referenced by 2,000 cells: 8 MB of text from a tiny file.
        let big = "x".repeat(4096);
        let rows: String = std::iter::once(
            r#"<row r="1"><c r="A1" t="inlineStr"><is><t>text</t></is></c></row>"#.to_string(),
        )
        .chain((2..2002).map(|r| format!(r#"<row r="{r}"><c r="A{r}" t="s"><v>0</v></c></row>"#)))
        .collect();
        let bytes = xlsx(&[("S", &rows)], &[&big]);
        assert!(bytes.len() < 64 * 1024);
        let mut options = IngestOptions::default();
        options.limits.max_decompressed_bytes = 1024 * 1024;
        let docs = documents("amplified.xlsx", &bytes, options.clone());
        assert_eq!(docs.len(), 1);
        let e = docs[0].clone().unwrap_err();
        assert!(
            e.starts_with("amplified.xlsx: too large: the cell text of one sheet"),
            "{e}"
        );
        // A row over the text cap is one bad row.
        options.limits.max_decompressed_bytes = 64 * 1024 * 1024;
        options.limits.max_text_bytes = 1000;
        let docs = documents("amplified.xlsx", &bytes, options);
        assert_eq!(docs.len(), 2000);
        let e = docs[0].clone().unwrap_err();
        assert_eq!(
            e,
            "amplified.xlsx:2: sheet \"S\": row longer than the limit of 1000 bytes"
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Sheet XML made of a soup of the elements and attributes the readers act on
        /// (cells without rows, rows inside cells, huge repeats, references past the
        /// last column, shared string indexes out of range) gives rows or errors, and
        /// never a panic.
        #[test]
        fn any_soup_of_sheet_xml_reads_without_panic(
            picks in proptest::collection::vec(0usize..18, 0..60)
        ) {
            const XLSX: [&str; 18] = [
                "<row>", "</row>", r#"<row r="9999999999">"#, "<c>", "</c>",
                r#"<c r="XFD1" t="s">"#, r#"<c r="ZZZZ9" s="1">"#, r#"<c t="inlineStr">"#,
                "<v>", "</v>", "<is><t>", "</t></is>", "0", "45352.5", "-1e308",
                "text", r#"<c t="b">"#, r#"<c s="99" t="e">"#,
            ];
            const ODS: [&str; 18] = [
                "<table:table-row>", "</table:table-row>",
                r#"<table:table-row table:number-rows-repeated="4294967295">"#,
                "<table:table-cell>", "</table:table-cell>",
                r#"<table:table-cell table:number-columns-repeated="99999">"#,
                r#"<table:table-cell office:value-type="date" office:date-value="T">"#,
                "<text:p>", "</text:p>", r#"<text:s text:c="999999"/>"#,
                r#"<table:table table:name="In">"#, "</table:table>",
                "<office:annotation>", "</office:annotation>", "text", "x",
                "<table:covered-table-cell/>", "<text:line-break/>",
            ];
            let soup = |tokens: &[&str]| picks.iter().map(|&i| tokens[i]).collect::<String>();
            let header = r#"<row r="1"><c r="A1" t="inlineStr"><is><t>text</t></is></c></row>"#;
            let book = xlsx(&[("S", &format!("{header}{}", soup(&XLSX)))], &["shared"]);
            let _ = documents("soup.xlsx", &book, IngestOptions::default());
            let sheet = format!(
                r#"<table:table table:name="T"><table:table-row><table:table-cell><text:p>text</text:p></table:table-cell></table:table-row>{}</table:table>"#,
                soup(&ODS)
            );
            let mut options = IngestOptions::default();
            options.limits.max_decompressed_bytes = 4 * 1024 * 1024;
            let _ = documents("soup.ods", &ods(&sheet), options);
        }
    }

    pub(crate) fn ods(tables: &str) -> Vec<u8> {
        zip_of(&[
            (
                "mimetype",
                "application/vnd.oasis.opendocument.spreadsheet".into(),
            ),
            (
                "content.xml",
                format!(
                    r#"<?xml version="1.0"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"><office:body><office:spreadsheet>{tables}</office:spreadsheet></office:body></office:document-content>"#
                ),
            ),
        ])
    }

    #[test]
    fn ods_sheets_with_repeats_dates_and_displayed_numbers() {
        let bytes = ods(r#"<table:table table:name="Tickets">
                 <table:table-row><table:table-cell office:value-type="string"><text:p>subject</text:p></table:table-cell><table:table-cell><text:p>body</text:p></table:table-cell><table:table-cell table:number-columns-repeated="2"/><table:table-cell><text:p>opened</text:p></table:table-cell><table:table-cell><text:p>cost</text:p></table:table-cell></table:table-row>
                 <table:table-row table:number-rows-repeated="3"><table:table-cell table:number-columns-repeated="1024"/></table:table-row>
                 <table:table-row><table:table-cell><text:p>Printer</text:p></table:table-cell><table:table-cell><text:p>Paper jam<text:s text:c="2"/>again</text:p><text:p>tray 2</text:p><office:annotation><text:p>ignored</text:p></office:annotation></table:table-cell><table:table-cell table:number-columns-repeated="2"/><table:table-cell office:value-type="date" office:date-value="2024-03-01T00:00:00"><text:p>01/03/24</text:p></table:table-cell><table:table-cell office:value-type="currency" office:value="12.5"><text:p>€12.50</text:p></table:table-cell></table:table-row>
                 <table:table-row table:number-rows-repeated="2"><table:table-cell><text:p>Same</text:p></table:table-cell><table:table-cell><text:p>Twice</text:p></table:table-cell></table:table-row>
                 <table:table-row table:number-rows-repeated="1048000"><table:table-cell table:number-columns-repeated="16384"/></table:table-row>
               </table:table>
               <table:table table:name="Empty"><table:table-row><table:table-cell/></table:table-row></table:table>"#);
        let docs = documents("tickets.ods", &bytes, IngestOptions::default());
        assert_eq!(docs.len(), 3, "{docs:?}");
        let d = ok(&docs[0]);
        assert_eq!(d.source, "tickets.ods#Tickets/5");
        assert_eq!(d.title.as_deref(), Some("Printer"));
        assert_eq!(d.text, "Paper jam again\ntray 2");
        assert_eq!(d.metadata["opened"], "2024-03-01");
        assert_eq!(d.metadata["cost"], "€12.50");
        assert_eq!(ok(&docs[1]).source, "tickets.ods#Tickets/6");
        assert_eq!(ok(&docs[2]).source, "tickets.ods#Tickets/7");
        assert_eq!(ok(&docs[2]).text, "Twice");
    }

    #[test]
    fn column_letters_and_refs() {
        assert_eq!(column_letters(0), "A");
        assert_eq!(column_letters(25), "Z");
        assert_eq!(column_letters(26), "AA");
        assert_eq!(column_letters(16_383), "XFD");
        assert_eq!(parse_ref("AB12"), (Some(27), Some(12)));
        assert_eq!(parse_ref("c3"), (Some(2), Some(3)));
    }

    #[test]
    fn numbers_and_dates_render_as_a_reader_sees_them() {
        assert_eq!(render_number(0.1 + 0.2), "0.3");
        assert_eq!(render_number(1234.0), "1234");
        assert_eq!(render_number(-2.5), "-2.5");
        assert_eq!(render_date(45352.0, false).unwrap(), "2024-03-01");
        assert_eq!(
            render_date(45352.604166666664, false).unwrap(),
            "2024-03-01 14:30:00"
        );
        assert_eq!(render_date(0.5, false).unwrap(), "12:00:00");
        assert_eq!(render_date(1.0, false).unwrap(), "1900-01-01");
        assert_eq!(render_date(61.0, false).unwrap(), "1900-03-01");
        assert_eq!(render_date(0.0, true).unwrap(), "1904-01-01");
        assert_eq!(format_kind("yyyy-mm-dd"), NumberKind::Date);
        assert_eq!(format_kind("[h]:mm"), NumberKind::Date);
        assert_eq!(format_kind("0.00%"), NumberKind::Percent);
        assert_eq!(format_kind("[Red]#,##0.00"), NumberKind::Plain);
        assert_eq!(format_kind("\"days\" 0"), NumberKind::Plain);
        assert_eq!(
            resolve_target("xl/", "worksheets/sheet1.xml"),
            "xl/worksheets/sheet1.xml"
        );
        assert_eq!(
            resolve_target("xl/", "/xl/worksheets/s.xml"),
            "xl/worksheets/s.xml"
        );
        assert_eq!(
            resolve_target("ppt/slides/", "../notesSlides/n1.xml"),
            "ppt/notesSlides/n1.xml"
        );
    }
}
