//! PowerPoint presentations (PPTX, Office Open XML): a page per slide.
//!
//! Slides are read in the order the presentation lists them (`p:sldIdLst` in
//! `ppt/presentation.xml`, resolved through its relationships), not in the order of
//! their part names, which reordering slides does not change. The zip and XML are read
//! as for DOCX ([`crate::docx`]): entry count and inflated sizes capped, DTDs refused,
//! the deadline checked as XML events are read.
//!
//! A slide's text is the text runs (`a:t`) of its shapes in the slide's shape order, a
//! line per paragraph and a blank line between shapes; tables are a row per line with
//! cells separated by ` | ` as in DOCX. A title placeholder (`title`, `ctrTitle`) is the
//! slide's heading, and the first one in the deck is the document's title when
//! `docProps/core.xml` gives none. The speaker notes of a slide (the body placeholder of
//! its notes page) follow its text on the same page.

use std::io::Cursor;

use crate::document::{Extracted, TextBuilder};
use crate::docx::{open_zip, read_core, read_part};
use crate::error::DocError;
use crate::flow::Flow;
use crate::loader::{LoadContext, Loader};
use crate::sheets::{parse_rels, resolve_target};
use crate::xml::{Node, attr, local, walk};

const EXPECTED: &str = "pptx";

#[derive(Debug, Clone, Copy, Default)]
pub struct PptxLoader;

impl Loader for PptxLoader {
    fn name(&self) -> &'static str {
        "pptx"
    }

    fn load(&self, bytes: &[u8], ctx: &LoadContext<'_>) -> Result<Extracted, DocError> {
        let mut zip = open_zip(Cursor::new(bytes), EXPECTED)?;
        let presentation = read_part(&mut zip, "ppt/presentation.xml", ctx)?.ok_or_else(|| {
            DocError::WrongFormat {
                expected: EXPECTED,
                reason: "no ppt/presentation.xml in the archive".into(),
            }
        })?;
        let rels_part = "ppt/_rels/presentation.xml.rels";
        let rels = read_part(&mut zip, rels_part, ctx)?.unwrap_or_default();
        let targets = parse_rels(&rels, rels_part, EXPECTED, ctx)?;
        let mut slides = Vec::new();
        walk(&presentation, "ppt/presentation.xml", EXPECTED, ctx, |n| {
            if let Node::Open(e) = n
                && local(e) == "sldId"
                && let Some(target) = rel_id(e).and_then(|id| targets.get(&id))
            {
                slides.push(resolve_target("ppt/", target));
            }
            Ok(())
        })?;

        let mut out = TextBuilder::new();
        let mut first_title = None;
        for (i, part) in slides.iter().enumerate() {
            if i > 0 {
                out.break_page(true);
            }
            let Some(xml) = read_part(&mut zip, part, ctx)? else {
                out.warn(format!(
                    "slide {} ({part}) is missing from the archive",
                    i + 1
                ));
                continue;
            };
            let mut slide = Slide::new(ctx, false);
            walk(&xml, part, EXPECTED, ctx, |n| {
                slide.node(n);
                slide.flow.check(ctx)
            })?;
            if first_title.is_none() {
                first_title = slide.title.clone();
            }
            // The notes page, through the slide's relationships.
            let (dir, file) = part.rsplit_once('/').unwrap_or(("", part));
            let rels_part = format!("{dir}/_rels/{file}.rels");
            if let Some(rels) = read_part(&mut zip, &rels_part, ctx)? {
                let notes = parse_rels(&rels, &rels_part, EXPECTED, ctx)?
                    .into_values()
                    .find(|t| t.contains("notesSlide"));
                if let Some(target) = notes {
                    let notes_part = resolve_target(&format!("{dir}/"), &target);
                    if let Some(xml) = read_part(&mut zip, &notes_part, ctx)? {
                        let mut notes = Slide::new(ctx, true);
                        notes.flow = slide.flow;
                        notes.flow.paragraph_break();
                        walk(&xml, &notes_part, EXPECTED, ctx, |n| {
                            notes.node(n);
                            notes.flow.check(ctx)
                        })?;
                        slide.flow = notes.flow;
                    }
                }
            }
            let page = slide.flow.finish();
            let base = out.len();
            let mut at = 0;
            for h in &page.headings {
                out.push_str(&page.text[at..h.offset]);
                out.heading(h.level, h.title.as_str());
                at = h.offset;
            }
            out.push_str(&page.text[at..]);
            for t in page.tables {
                out.table(base + t.start, base + t.end, t.header);
            }
            ctx.check_text(base + page.text.len())?;
        }
        let mut core = Flow::new(ctx);
        if let Some(xml) = read_part(&mut zip, "docProps/core.xml", ctx)? {
            read_core(&xml, &mut core, ctx)?;
        }
        let core = core.finish();
        for (k, v) in core.metadata {
            out.metadata(k, v);
        }
        if let Some(t) = first_title.or(core.title) {
            out.set_title(t);
        }
        out.metadata("slides", slides.len().to_string());
        Ok(out.finish(true))
    }
}

/// The relationship id of an element (`r:id`, the only `id` attribute in the
/// relationships namespace; `sldId` also has a plain numeric `id`).
fn rel_id(e: &quick_xml::events::BytesStart<'_>) -> Option<String> {
    e.attributes()
        .with_checks(false)
        .flatten()
        .find(|a| a.key.local_name().as_ref() == "id" && a.key.prefix().is_some())
        .and_then(|a| {
            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .ok()
                .map(std::borrow::Cow::into_owned)
        })
}

/// The walk over one slide (or its notes page).
#[derive(Debug)]
struct Slide {
    flow: Flow,
    /// A notes page: only its body placeholder is read.
    notes: bool,
    /// The current shape's placeholder type, once seen.
    placeholder: Option<String>,
    /// The current shape's text goes to the flow.
    reading: bool,
    in_t: bool,
    /// Open table cells.
    cells: u32,
    /// Paragraphs written in the current shape.
    paras: u32,
    title: Option<String>,
}

impl Slide {
    fn new(ctx: &LoadContext<'_>, notes: bool) -> Self {
        Slide {
            flow: Flow::new(ctx),
            notes,
            placeholder: None,
            reading: false,
            in_t: false,
            cells: 0,
            paras: 0,
            title: None,
        }
    }

    fn is_title(&self) -> bool {
        matches!(self.placeholder.as_deref(), Some("title" | "ctrTitle"))
    }

    fn node(&mut self, n: Node<'_, '_>) {
        match n {
            Node::Open(e) => match local(e) {
                "sp" | "graphicFrame" => {
                    self.placeholder = None;
                    self.paras = 0;
                    self.reading = !self.notes;
                }
                "ph" => {
                    // A placeholder without a type is a body.
                    let kind = attr(e, "type").unwrap_or_else(|| "body".into());
                    // Footers, dates and slide numbers repeat on every slide.
                    let furniture =
                        matches!(kind.as_str(), "sldNum" | "dt" | "ftr" | "hdr" | "sldImg");
                    self.reading = !furniture && (!self.notes || kind == "body");
                    self.placeholder = Some(kind);
                }
                "txBody" if self.reading => {
                    self.flow.paragraph_break();
                    if self.is_title() && self.cells == 0 {
                        self.flow.start_heading(1);
                    }
                }
                "tbl" if self.reading => {
                    self.flow.paragraph_break();
                    self.flow.start_table();
                }
                "tr" if self.reading => self.flow.line_break(),
                "tc" if self.reading => {
                    self.cells += 1;
                    self.flow.cell_break();
                }
                "p" if self.reading => {
                    if self.paras > 0 && self.cells == 0 {
                        self.flow.line_break();
                    } else if self.cells > 0 {
                        self.flow.text(" ");
                    }
                    self.paras += 1;
                }
                "t" => self.in_t = self.reading,
                "br" if self.reading => self.flow.line_break(),
                _ => {}
            },
            Node::Close("t") => self.in_t = false,
            Node::Close("tbl") if self.reading => {
                self.flow.end_table();
                self.flow.paragraph_break();
            }
            Node::Close("tc") => self.cells = self.cells.saturating_sub(1),
            Node::Close("txBody") if self.reading && self.is_title() && self.cells == 0 => {
                let t = self.flow.end_heading();
                if self.title.is_none() {
                    self.title = t;
                }
            }
            Node::Close("sp" | "graphicFrame") => {
                self.reading = false;
                self.placeholder = None;
            }
            Node::Text(t) if self.in_t => self.flow.text(t),
            _ => {}
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::loader::Limits;
    use std::io::Write;

    /// A minimal PPTX: slides listed in `order` (their file numbers), each with a title
    /// and a body, the second with a notes page.
    pub(crate) fn pptx(slides: &[(&str, &str)], order: &[usize]) -> Vec<u8> {
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default();
        let mut put = |name: &str, body: String| {
            zip.start_file(name, opts).unwrap();
            zip.write_all(body.as_bytes()).unwrap();
        };
        let ns = r#"xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main""#;
        let ids: String = order
            .iter()
            .enumerate()
            .map(|(i, n)| format!(r#"<p:sldId id="{}" r:id="rId{n}"/>"#, 256 + i))
            .collect();
        put(
            "ppt/presentation.xml",
            format!(
                r#"<?xml version="1.0"?><p:presentation {ns}><p:sldIdLst>{ids}</p:sldIdLst></p:presentation>"#
            ),
        );
        let rels: String = (1..=slides.len())
            .map(|n| format!(r#"<Relationship Id="rId{n}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/slide" Target="slides/slide{n}.xml"/>"#))
            .collect();
        put(
            "ppt/_rels/presentation.xml.rels",
            format!(
                r#"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{rels}</Relationships>"#
            ),
        );
        for (i, (title, body)) in slides.iter().enumerate() {
            let n = i + 1;
            let paras: String = body
                .split('\n')
                .map(|l| format!("<a:p><a:r><a:t>{l}</a:t></a:r></a:p>"))
                .collect();
            put(
                &format!("ppt/slides/slide{n}.xml"),
                format!(
                    r#"<?xml version="1.0"?><p:sld {ns}><p:cSld><p:spTree>
                    <p:sp><p:nvSpPr><p:cNvPr id="2" name="Title"/><p:cNvSpPr/><p:nvPr><p:ph type="title"/></p:nvPr></p:nvSpPr><p:txBody><a:p><a:r><a:t>{title}</a:t></a:r></a:p></p:txBody></p:sp>
                    <p:sp><p:nvSpPr><p:cNvPr id="3" name="Body"/><p:cNvSpPr/><p:nvPr><p:ph idx="1"/></p:nvPr></p:nvSpPr><p:txBody>{paras}</p:txBody></p:sp>
                    </p:spTree></p:cSld></p:sld>"#
                ),
            );
            if n == 2 {
                put(
                    "ppt/slides/_rels/slide2.xml.rels",
                    r#"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/notesSlide" Target="../notesSlides/notesSlide1.xml"/></Relationships>"#.into(),
                );
                put(
                    "ppt/notesSlides/notesSlide1.xml",
                    format!(
                        r#"<?xml version="1.0"?><p:notes {ns}><p:cSld><p:spTree>
                        <p:sp><p:nvSpPr><p:cNvPr id="2" name="Image"/><p:cNvSpPr/><p:nvPr><p:ph type="sldImg"/></p:nvPr></p:nvSpPr></p:sp>
                        <p:sp><p:nvSpPr><p:cNvPr id="3" name="Notes"/><p:cNvSpPr/><p:nvPr><p:ph type="body" idx="1"/></p:nvPr></p:nvSpPr><p:txBody><a:p><a:r><a:t>Speaker note for slide two.</a:t></a:r></a:p></p:txBody></p:sp>
                        <p:sp><p:nvSpPr><p:cNvPr id="4" name="Number"/><p:cNvSpPr/><p:nvPr><p:ph type="sldNum" idx="5"/></p:nvPr></p:nvSpPr><p:txBody><a:p><a:r><a:t>2</a:t></a:r></a:p></p:txBody></p:sp>
                        </p:spTree></p:cSld></p:notes>"#
                    ),
                );
            }
        }
        zip.finish().unwrap().into_inner()
    }

    #[test]
    fn a_page_per_slide_in_presentation_order_with_titles_and_notes() {
        let bytes = pptx(
            &[
                ("Quarterly review", "Revenue grew 12%\nCosts fell"),
                ("Hiring plan", "Two engineers"),
                ("Roadmap", "Ship the API"),
            ],
            // The deck shows slide file 3 first.
            &[3, 1, 2],
        );
        let limits = Limits::default();
        let ex = PptxLoader.load(&bytes, &LoadContext::new(&limits)).unwrap();
        let pages: Vec<&str> = ex.pages.iter().map(|p| &ex.text[p.start..p.end]).collect();
        assert_eq!(
            pages,
            [
                "Roadmap\n\nShip the API",
                "Quarterly review\n\nRevenue grew 12%\nCosts fell",
                "Hiring plan\n\nTwo engineers\n\nSpeaker note for slide two."
            ]
        );
        assert_eq!(ex.title.as_deref(), Some("Roadmap"));
        let titles: Vec<&str> = ex.headings.iter().map(|h| h.title.as_str()).collect();
        assert_eq!(titles, ["Roadmap", "Quarterly review", "Hiring plan"]);
        assert_eq!(&ex.text[ex.headings[1].offset..][..16], "Quarterly review");
        assert_eq!(ex.metadata["slides"], "3");
    }

    #[test]
    fn not_a_presentation_is_a_clear_error() {
        let limits = Limits::default();
        let e = PptxLoader
            .load(b"not a zip", &LoadContext::new(&limits))
            .unwrap_err();
        assert!(e.to_string().contains("not a pptx file"), "{e}");
    }
}
