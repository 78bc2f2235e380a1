//! Word documents (DOCX, Office Open XML).
//!
//! The zip is read under caps: at most [`MAX_ZIP_ENTRIES`] entries, and each part read is
//! counted as it inflates and cut at [`crate::Limits::max_decompressed_bytes`] (the sizes
//! in the zip headers are the attacker's word and are never trusted). XML parts go
//! through [`crate::xml::walk`], which refuses DTDs and so entity bombs.
//!
//! Text: the paragraphs of `word/document.xml` (runs' `w:t`, with `w:tab` as a space and
//! `w:br`/`w:cr` as line breaks), table rows one per line with cells separated by ` | `,
//! text boxes once (the VML fallback copy Word also writes is skipped), deleted revisions
//! and field instructions left out. Headings come from paragraph styles: a style's
//! outline level (`w:outlineLvl`, inherited through `w:basedOn`), else its name
//! (`heading 1`..`heading 9`, `Title`; Word stores the English names even in localized
//! documents, whose style ids are e.g. `berschrift1`), else the style id itself.
//!
//! Title and metadata come from `docProps/core.xml` (title, creator -> `author`, dates,
//! subject, keywords, description); without a core title, the first `Title`-styled
//! paragraph (or else the first level-1 heading) is the title. Footnotes and endnotes
//! are appended after the body; comments, headers and footers are not read.

use std::collections::HashMap;
use std::io::{Cursor, Read};

use zip::ZipArchive;
use zip::result::ZipError;

use crate::document::Extracted;
use crate::error::DocError;
use crate::flow::Flow;
use crate::loader::{LoadContext, Loader};
use crate::xml::{Node, attr, local, walk};

/// Most entries a DOCX zip may list. Real documents have a few dozen; a zip with
/// millions of tiny entries is an attack on the central-directory parser.
pub const MAX_ZIP_ENTRIES: usize = 10_000;

/// Open a zip container of an Office format (`expected` names it in errors), refusing
/// one with more than [`MAX_ZIP_ENTRIES`] entries before reading any.
pub(crate) fn open_zip<R: Read + std::io::Seek>(
    reader: R,
    expected: &'static str,
) -> Result<ZipArchive<R>, DocError> {
    let zip = ZipArchive::new(reader).map_err(|e| DocError::WrongFormat {
        expected,
        reason: format!("not a readable zip archive: {e}"),
    })?;
    if zip.len() > MAX_ZIP_ENTRIES {
        return Err(DocError::TooLarge {
            what: "zip entry count",
            size: zip.len() as u64,
            limit: MAX_ZIP_ENTRIES as u64,
        });
    }
    Ok(zip)
}

const EXPECTED: &str = "docx";

#[derive(Debug, Clone, Copy, Default)]
pub struct DocxLoader;

impl Loader for DocxLoader {
    fn name(&self) -> &'static str {
        "docx"
    }

    fn load(&self, bytes: &[u8], ctx: &LoadContext<'_>) -> Result<Extracted, DocError> {
        let mut zip = open_zip(Cursor::new(bytes), EXPECTED)?;
        let document = read_part(&mut zip, "word/document.xml", ctx)?.ok_or_else(|| {
            DocError::WrongFormat {
                expected: EXPECTED,
                reason: "no word/document.xml in the archive".into(),
            }
        })?;
        let styles = match read_part(&mut zip, "word/styles.xml", ctx)? {
            Some(xml) => parse_styles(&xml, ctx)?,
            None => StyleMap::default(),
        };
        let numbering = match read_part(&mut zip, "word/numbering.xml", ctx)? {
            Some(xml) => parse_numbering(&xml, ctx)?,
            None => Numbering::default(),
        };
        let mut flow = Flow::new(ctx);
        if let Some(core) = read_part(&mut zip, "docProps/core.xml", ctx)? {
            read_core(&core, &mut flow, ctx)?;
        }
        let mut body = Body {
            flow,
            styles: &styles,
            numbering: &numbering,
            counters: HashMap::new(),
            last_was_item: false,
            paras: Vec::new(),
            in_ppr: 0,
            in_t: false,
            fallback: 0,
            cells: 0,
            title_para: None,
            first_h1: None,
        };
        walk(&document, "word/document.xml", EXPECTED, ctx, |n| {
            body.node(n);
            body.flow.check(ctx)
        })?;
        // Notes follow the body: their text is worth finding, their anchors carry none.
        for part in ["word/footnotes.xml", "word/endnotes.xml"] {
            if let Some(xml) = read_part(&mut zip, part, ctx)? {
                body.paras.clear();
                body.last_was_item = false;
                walk(&xml, part, EXPECTED, ctx, |n| {
                    body.node(n);
                    body.flow.check(ctx)
                })?;
            }
        }
        let mut flow = body.flow;
        if !flow.has_title()
            && let Some(t) = body.title_para.or(body.first_h1)
        {
            flow.set_title(&t);
        }
        Ok(flow.finish())
    }
}

/// Read one zip entry as text, counting the bytes actually inflated.
pub(crate) fn read_part<R: std::io::Read + std::io::Seek>(
    zip: &mut ZipArchive<R>,
    name: &str,
    ctx: &LoadContext<'_>,
) -> Result<Option<String>, DocError> {
    let mut entry = match zip.by_name(name) {
        Ok(e) => e,
        Err(ZipError::FileNotFound) => return Ok(None),
        Err(e) => return Err(DocError::Corrupt(format!("{name}: {e}"))),
    };
    let mut out = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = entry
            .read(&mut chunk)
            .map_err(|e| DocError::Corrupt(format!("{name}: {e}")))?;
        if n == 0 {
            break;
        }
        out.extend_from_slice(&chunk[..n]);
        ctx.check_decompressed(out.len() as u64)?;
        ctx.deadline.check()?;
    }
    Ok(Some(crate::text::decode(&out, None).text))
}

/// List formats from `word/numbering.xml`: (numId, level) -> bullet or numbered, and
/// the first number.
#[derive(Debug, Default)]
struct Numbering {
    levels: HashMap<(String, u8), ListLevel>,
}

#[derive(Debug, Clone, Copy)]
struct ListLevel {
    bullet: bool,
    start: u64,
}

fn parse_numbering(xml: &str, ctx: &LoadContext<'_>) -> Result<Numbering, DocError> {
    // abstractNumId -> level -> format; numId -> abstractNumId.
    let mut abstracts: HashMap<String, HashMap<u8, ListLevel>> = HashMap::new();
    let mut nums: Vec<(String, String)> = Vec::new();
    let mut cur_abstract: Option<String> = None;
    let mut cur_level: Option<u8> = None;
    let mut cur_num: Option<String> = None;
    walk(xml, "word/numbering.xml", EXPECTED, ctx, |n| {
        match n {
            Node::Open(e) => {
                match local(e) {
                    "abstractNum" => cur_abstract = attr(e, "abstractNumId"),
                    "lvl" => cur_level = attr(e, "ilvl").and_then(|v| v.trim().parse().ok()),
                    "numFmt" | "start" => {
                        if let (Some(a), Some(l), Some(v)) =
                            (&cur_abstract, cur_level, attr(e, "val"))
                        {
                            let lvl = abstracts.entry(a.clone()).or_default().entry(l).or_insert(
                                ListLevel {
                                    bullet: false,
                                    start: 1,
                                },
                            );
                            if local(e) == "numFmt" {
                                lvl.bullet = v == "bullet" || v == "none";
                            } else {
                                lvl.start = v.trim().parse().unwrap_or(1);
                            }
                        }
                    }
                    "num" => cur_num = attr(e, "numId"),
                    "abstractNumId" => {
                        if let (Some(num), Some(a)) = (&cur_num, attr(e, "val")) {
                            nums.push((num.clone(), a));
                        }
                    }
                    _ => {}
                }
            }
            Node::Close("abstractNum") => cur_abstract = None,
            Node::Close("lvl") => cur_level = None,
            Node::Close("num") => cur_num = None,
            _ => {}
        }
        Ok(())
    })?;
    let mut out = Numbering::default();
    for (num, a) in nums {
        for (l, lvl) in abstracts.get(&a).into_iter().flatten() {
            out.levels.insert((num.clone(), *l), *lvl);
        }
    }
    Ok(out)
}

/// What a paragraph style makes of a paragraph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct HeadingStyle {
    level: u8,
    /// The `Title` style: the document's title line.
    is_title: bool,
}

#[derive(Debug, Default)]
struct StyleDef {
    name: Option<String>,
    based_on: Option<String>,
    /// `w:outlineLvl` as written (0-based; 9 means body text).
    outline: Option<u8>,
}

/// Paragraph style id -> heading, resolved from `word/styles.xml`.
#[derive(Debug, Default)]
struct StyleMap {
    headings: HashMap<String, HeadingStyle>,
}

impl StyleMap {
    /// The heading a paragraph with style `id` is, if any. Ids not in styles.xml fall
    /// back to the built-in ids (`Heading1`, `Title`).
    fn get(&self, id: &str) -> Option<HeadingStyle> {
        self.headings
            .get(id)
            .copied()
            .or_else(|| heading_from_label(id))
    }
}

/// `Heading 3`, `heading3`, `Title` -> a heading.
fn heading_from_label(label: &str) -> Option<HeadingStyle> {
    let l: String = label
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    if l == "title" {
        return Some(HeadingStyle {
            level: 1,
            is_title: true,
        });
    }
    let n = l.strip_prefix("heading")?.parse::<u8>().ok()?;
    (1..=9).contains(&n).then_some(HeadingStyle {
        level: n,
        is_title: false,
    })
}

fn parse_styles(xml: &str, ctx: &LoadContext<'_>) -> Result<StyleMap, DocError> {
    let mut defs: HashMap<String, StyleDef> = HashMap::new();
    let mut current: Option<(String, StyleDef)> = None;
    walk(xml, "word/styles.xml", EXPECTED, ctx, |n| {
        match n {
            Node::Open(e) => match local(e) {
                "style" => {
                    current = (attr(e, "type").as_deref() == Some("paragraph"))
                        .then(|| attr(e, "styleId"))
                        .flatten()
                        .map(|id| (id, StyleDef::default()));
                }
                "name" => {
                    if let Some((_, d)) = &mut current {
                        d.name = attr(e, "val");
                    }
                }
                "basedOn" => {
                    if let Some((_, d)) = &mut current {
                        d.based_on = attr(e, "val");
                    }
                }
                "outlineLvl" => {
                    if let Some((_, d)) = &mut current {
                        d.outline = attr(e, "val").and_then(|v| v.trim().parse().ok());
                    }
                }
                _ => {}
            },
            Node::Close("style") => {
                if let Some((id, d)) = current.take() {
                    defs.insert(id, d);
                }
            }
            _ => {}
        }
        Ok(())
    })?;
    let mut map = StyleMap::default();
    for id in defs.keys() {
        if let Some(h) = resolve_style(&defs, id) {
            map.headings.insert(id.clone(), h);
        }
    }
    Ok(map)
}

/// Heading of style `id`: its own outline level or name, else that of the style it is
/// based on (at most 16 steps, so a `basedOn` cycle ends).
fn resolve_style(defs: &HashMap<String, StyleDef>, id: &str) -> Option<HeadingStyle> {
    let mut id = id;
    for _ in 0..16 {
        let d = defs.get(id)?;
        let by_name = d.name.as_deref().and_then(heading_from_label);
        if by_name.is_some_and(|h| h.is_title) {
            return by_name;
        }
        match d.outline {
            Some(lvl @ 0..=8) => {
                return Some(HeadingStyle {
                    level: lvl + 1,
                    is_title: false,
                });
            }
            Some(_) => return None,
            None => {}
        }
        if by_name.is_some() {
            return by_name;
        }
        if let Some(h) = heading_from_label(id) {
            return Some(h);
        }
        id = d.based_on.as_deref()?;
    }
    None
}

/// `docProps/core.xml`: Dublin Core title, creator, dates and the like.
pub(crate) fn read_core(xml: &str, flow: &mut Flow, ctx: &LoadContext<'_>) -> Result<(), DocError> {
    let mut current: Option<&'static str> = None;
    let mut values: Vec<(&'static str, String)> = Vec::new();
    walk(xml, "docProps/core.xml", EXPECTED, ctx, |n| {
        match n {
            Node::Open(e) => {
                current = match local(e) {
                    "title" => Some("title"),
                    "creator" => Some("author"),
                    "created" => Some("created"),
                    "modified" => Some("modified"),
                    "subject" => Some("subject"),
                    "keywords" => Some("keywords"),
                    "description" => Some("description"),
                    "lastModifiedBy" => Some("last_modified_by"),
                    _ => None,
                };
                if let Some(k) = current {
                    values.push((k, String::new()));
                }
            }
            Node::Text(t) => {
                if current.is_some()
                    && let Some((_, v)) = values.last_mut()
                {
                    v.push_str(t);
                }
            }
            Node::Close(_) => current = None,
        }
        Ok(())
    })?;
    for (k, v) in values {
        if k == "title" {
            flow.set_title(&v);
        } else {
            flow.metadata(k, &v);
        }
    }
    Ok(())
}

/// A paragraph being read.
#[derive(Debug, Default)]
struct Para {
    text: String,
    style: Option<String>,
    /// Direct `w:outlineLvl` in the paragraph's properties.
    outline: Option<u8>,
    /// List membership (`w:numPr`): numbering id and level.
    num_id: Option<String>,
    ilvl: u8,
}

/// The walk over `word/document.xml`.
#[derive(Debug)]
struct Body<'s> {
    flow: Flow,
    styles: &'s StyleMap,
    numbering: &'s Numbering,
    /// Next number per (numId, level) of numbered lists.
    counters: HashMap<(String, u8), u64>,
    /// The last paragraph written was a list item (items are one per line).
    last_was_item: bool,
    /// Open paragraphs: more than one inside text boxes.
    paras: Vec<Para>,
    /// Inside `w:pPr` (where `w:tab` is a tab stop, not a tab).
    in_ppr: u32,
    in_t: bool,
    /// Inside `mc:Fallback`: a second copy of content already read.
    fallback: u32,
    /// Open table cells.
    cells: u32,
    title_para: Option<String>,
    first_h1: Option<String>,
}

impl Body<'_> {
    fn node(&mut self, n: Node<'_, '_>) {
        match n {
            Node::Open(e) => {
                let name = local(e);
                if name == "Fallback" {
                    self.fallback += 1;
                }
                if self.fallback > 0 {
                    return;
                }
                match name {
                    "p" => self.paras.push(Para::default()),
                    "pPr" => self.in_ppr += 1,
                    "pStyle" if self.in_ppr > 0 => {
                        if let Some(p) = self.paras.last_mut() {
                            p.style = attr(e, "val");
                        }
                    }
                    "outlineLvl" if self.in_ppr > 0 => {
                        if let Some(p) = self.paras.last_mut() {
                            p.outline = attr(e, "val").and_then(|v| v.trim().parse().ok());
                        }
                    }
                    "numId" if self.in_ppr > 0 => {
                        if let Some(p) = self.paras.last_mut() {
                            p.num_id = attr(e, "val").filter(|v| v.trim() != "0");
                        }
                    }
                    "ilvl" if self.in_ppr > 0 => {
                        if let Some(p) = self.paras.last_mut() {
                            p.ilvl = attr(e, "val")
                                .and_then(|v| v.trim().parse().ok())
                                .unwrap_or(0);
                        }
                    }
                    "t" => self.in_t = true,
                    "tab" if self.in_ppr == 0 => self.push('\t'),
                    "br" | "cr" => self.push('\n'),
                    "noBreakHyphen" => self.push('-'),
                    "tbl" => {
                        self.last_was_item = false;
                        self.flow.paragraph_break();
                        self.flow.start_table();
                    }
                    "tr" => self.flow.line_break(),
                    "tc" => {
                        self.cells += 1;
                        self.flow.cell_break();
                    }
                    _ => {}
                }
            }
            Node::Close(name) => {
                if name == "Fallback" {
                    self.fallback = self.fallback.saturating_sub(1);
                    return;
                }
                if self.fallback > 0 {
                    return;
                }
                match name {
                    "p" => {
                        if let Some(p) = self.paras.pop() {
                            self.emit(p);
                        }
                    }
                    "pPr" => self.in_ppr = self.in_ppr.saturating_sub(1),
                    "t" => self.in_t = false,
                    "tbl" => {
                        self.flow.end_table();
                        self.flow.paragraph_break();
                    }
                    "tr" => self.flow.line_break(),
                    "tc" => self.cells = self.cells.saturating_sub(1),
                    _ => {}
                }
            }
            Node::Text(t) => {
                if self.in_t
                    && self.fallback == 0
                    && let Some(p) = self.paras.last_mut()
                {
                    p.text.push_str(t);
                }
            }
        }
    }

    fn push(&mut self, c: char) {
        if let Some(p) = self.paras.last_mut() {
            p.text.push(c);
        }
    }

    fn emit(&mut self, p: Para) {
        if p.text.trim().is_empty() {
            return;
        }
        if self.cells > 0 {
            // Paragraphs of one cell stay on the row's line.
            self.flow.text(" ");
            self.flow.text(&p.text);
            self.flow.text(" ");
            return;
        }
        let heading = match p.outline {
            Some(lvl @ 0..=8) => Some(HeadingStyle {
                level: lvl + 1,
                is_title: false,
            }),
            _ => p.style.as_deref().and_then(|s| self.styles.get(s)),
        };
        if heading.is_none()
            && let Some(num_id) = p.num_id.clone()
        {
            return self.emit_item(p, num_id);
        }
        self.last_was_item = false;
        match heading {
            Some(h) => {
                let t = self.flow.heading(h.level, &p.text);
                if h.is_title && self.title_para.is_none() {
                    self.title_para = t;
                } else if h.level == 1 && self.first_h1.is_none() {
                    self.first_h1 = t;
                }
            }
            None => {
                self.flow.paragraph_break();
                self.flow.text_with_breaks(&p.text);
                self.flow.paragraph_break();
            }
        }
    }
}

impl Body<'_> {
    /// A list paragraph: on its own line, after `- ` or its number.
    fn emit_item(&mut self, p: Para, num_id: String) {
        if self.last_was_item {
            self.flow.line_break();
        } else {
            self.flow.paragraph_break();
        }
        self.last_was_item = true;
        let level = self
            .numbering
            .levels
            .get(&(num_id.clone(), p.ilvl))
            .copied();
        // A new item at a level restarts the numbering of the levels below it.
        self.counters
            .retain(|(id, l), _| !(*id == num_id && *l > p.ilvl));
        match level {
            Some(ListLevel {
                bullet: false,
                start,
            }) => {
                let n = self.counters.entry((num_id, p.ilvl)).or_insert(start);
                self.flow.marker(format!("{n}. "));
                *n += 1;
            }
            _ => self.flow.marker("- ".into()),
        }
        self.flow.text_with_breaks(&p.text);
        self.flow.line_break();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loader::Limits;
    use std::io::Write;
    use zip::write::SimpleFileOptions;

    const NS: &str = r#"xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main""#;

    fn docx(parts: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, data) in parts {
            w.start_file(*name, SimpleFileOptions::default()).unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    fn para(style: Option<&str>, text: &str) -> String {
        let ppr = style.map_or(String::new(), |s| {
            format!(r#"<w:pPr><w:pStyle w:val="{s}"/></w:pPr>"#)
        });
        format!(r#"<w:p>{ppr}<w:r><w:t xml:space="preserve">{text}</w:t></w:r></w:p>"#)
    }

    fn document(body: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document {NS}><w:body>{body}</w:body></w:document>"#
        )
    }

    fn load_with(bytes: &[u8], limits: &Limits) -> Result<Extracted, DocError> {
        DocxLoader.load(bytes, &LoadContext::new(limits))
    }

    #[test]
    fn paragraphs_headings_tables_and_localized_styles() {
        let styles = format!(
            r#"<w:styles {NS}>
            <w:style w:type="paragraph" w:styleId="berschrift1"><w:name w:val="heading 1"/>
              <w:pPr><w:outlineLvl w:val="0"/></w:pPr></w:style>
            <w:style w:type="paragraph" w:styleId="Kapitel"><w:name w:val="Kapitel"/>
              <w:basedOn w:val="berschrift1"/></w:style>
            <w:style w:type="paragraph" w:styleId="Unter"><w:name w:val="Unter"/>
              <w:pPr><w:outlineLvl w:val="1"/></w:pPr></w:style>
            <w:style w:type="paragraph" w:styleId="Loop"><w:basedOn w:val="Loop"/></w:style>
            </w:styles>"#
        );
        let body = [
            para(Some("Title"), "My &amp; Doc"),
            para(Some("berschrift1"), "Einleitung"),
            r#"<w:p><w:r><w:t>Tab</w:t><w:tab/><w:t>bed</w:t><w:br/><w:t>next line</w:t></w:r></w:p>"#.into(),
            para(Some("Unter"), "Teil"),
            para(Some("Loop"), "not a heading"),
            r#"<w:tbl><w:tr><w:tc><w:p><w:r><w:t>A</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>B</w:t></w:r></w:p></w:tc></w:tr>
               <w:tr><w:tc><w:p><w:r><w:t>1</w:t></w:r></w:p><w:p><w:r><w:t>x</w:t></w:r></w:p></w:tc><w:tc><w:p/></w:tc></w:tr></w:tbl>"#.into(),
            para(Some("Kapitel"), "Schluss"),
            r#"<w:p><w:r><mc:AlternateContent xmlns:mc="m"><mc:Choice><w:t>box</w:t></mc:Choice><mc:Fallback><w:t>box</w:t></mc:Fallback></mc:AlternateContent></w:r><w:del><w:r><w:delText>gone</w:delText></w:r></w:del></w:p>"#.into(),
        ]
        .concat();
        let core = r#"<cp:coreProperties xmlns:cp="c" xmlns:dc="d" xmlns:dcterms="t"><dc:creator>Ann Lee</dc:creator><dcterms:created>2024-01-02T03:04:05Z</dcterms:created></cp:coreProperties>"#;
        let bytes = docx(&[
            ("word/document.xml", document(&body).as_bytes()),
            ("word/styles.xml", styles.as_bytes()),
            ("docProps/core.xml", core.as_bytes()),
        ]);
        let ex = load_with(&bytes, &Limits::default()).unwrap();
        assert_eq!(
            ex.text,
            "My & Doc\n\nEinleitung\n\nTab bed\nnext line\n\nTeil\n\nnot a heading\n\n\
             A | B\n1 x\n\nSchluss\n\nbox"
        );
        let hs: Vec<_> = ex
            .headings
            .iter()
            .map(|h| (h.level, h.title.as_str()))
            .collect();
        assert_eq!(
            hs,
            vec![
                (1, "My & Doc"),
                (1, "Einleitung"),
                (2, "Teil"),
                (1, "Schluss")
            ]
        );
        assert_eq!(ex.title.as_deref(), Some("My & Doc"));
        assert_eq!(ex.metadata["author"], "Ann Lee");
        assert_eq!(ex.metadata["created"], "2024-01-02T03:04:05Z");
    }

    #[test]
    fn zip_bomb_entry_is_cut_at_the_cap() {
        let limits = Limits {
            max_decompressed_bytes: 1 << 20,
            ..Limits::default()
        };
        let big = format!(
            "{}{}",
            document(""),
            " ".repeat(4 << 20) // compresses to a few KB
        );
        let bytes = docx(&[("word/document.xml", big.as_bytes())]);
        assert!(bytes.len() < 64 * 1024);
        let err = load_with(&bytes, &limits).unwrap_err();
        assert_eq!(err.kind(), "too_large", "{err}");
    }

    #[test]
    fn zip_bomb_with_lying_header_sizes() {
        let limits = Limits {
            max_decompressed_bytes: 1 << 20,
            ..Limits::default()
        };
        let big = format!("{}{}", document(""), " ".repeat(4 << 20));
        let mut bytes = docx(&[("word/document.xml", big.as_bytes())]);
        // Claim 100 bytes uncompressed in both the local and the central header.
        for (sig, at) in [(b"PK\x03\x04", 22), (b"PK\x01\x02", 24)] {
            let pos = bytes.windows(4).position(|w| w == sig).unwrap();
            bytes[pos + at..pos + at + 4].copy_from_slice(&100u32.to_le_bytes());
        }
        // Either the zip reader stops at the claimed size (the XML is then cut short),
        // or our count stops it at the cap: never 4 MB in memory unnoticed.
        let err = load_with(&bytes, &limits).unwrap_err();
        assert!(
            matches!(err.kind(), "too_large" | "corrupt"),
            "unexpected {err}"
        );
    }

    #[test]
    fn too_many_entries() {
        let names: Vec<String> = (0..=MAX_ZIP_ENTRIES).map(|i| format!("f{i}")).collect();
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for n in &names {
            w.start_file(n.as_str(), SimpleFileOptions::default())
                .unwrap();
        }
        let bytes = w.finish().unwrap().into_inner();
        let err = load_with(&bytes, &Limits::default()).unwrap_err();
        assert_eq!(err.kind(), "too_large", "{err}");
    }

    #[test]
    fn billion_laughs_is_refused() {
        let xml = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">]>
<w:document xmlns:w="w"><w:body><w:p><w:r><w:t>&lol2;</w:t></w:r></w:p></w:body></w:document>"#;
        let bytes = docx(&[("word/document.xml", xml.as_bytes())]);
        let err = load_with(&bytes, &Limits::default()).unwrap_err();
        assert_eq!(err.kind(), "wrong_format", "{err}");
        // An undefined entity without a DTD is an error, not expanded or dropped silently.
        let xml = document(&para(None, "a &lol; b"));
        let bytes = docx(&[("word/document.xml", xml.as_bytes())]);
        let err = load_with(&bytes, &Limits::default()).unwrap_err();
        assert_eq!(err.kind(), "corrupt", "{err}");
    }

    #[test]
    fn deep_xml_and_not_a_zip() {
        let deep = format!("{}{}", "<w:sdt>".repeat(100), "</w:sdt>".repeat(100));
        let bytes = docx(&[("word/document.xml", document(&deep).as_bytes())]);
        let err = load_with(&bytes, &Limits::default()).unwrap_err();
        assert_eq!(err.kind(), "too_deep");
        let err = load_with(b"PK not really", &Limits::default()).unwrap_err();
        assert_eq!(err.kind(), "wrong_format");
        let bytes = docx(&[("other.xml", b"<a/>".as_slice())]);
        let err = load_with(&bytes, &Limits::default()).unwrap_err();
        assert_eq!(err.kind(), "wrong_format");
    }
}
