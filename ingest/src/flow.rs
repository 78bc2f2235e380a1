//! A whitespace-tidy text sink shared by the structured loaders (Markdown, HTML, DOCX,
//! email).
//!
//! Markup formats deliver text as a stream of inline runs and structural events (a block
//! ends, a line breaks, a heading starts). Tidying the whitespace *after* the text is
//! built would move the byte offsets of the headings already recorded, so [`Flow`] tidies
//! as it goes: whitespace inside a run collapses to one space, and a break between runs is
//! written only when the next visible character arrives. The result is what
//! [`crate::normalize::tidy_whitespace`] would produce, with headings at exact offsets.
//!
//! It also supports rolling back to a checkpoint, which the HTML loader needs to drop a
//! page-layout `<header>` or `<footer>` after it turned out to hold no content.

use crate::document::{Extracted, TextBuilder};
use crate::error::DocError;
use crate::loader::LoadContext;
use crate::normalize::push_normalized_char;

/// What separates the text written so far from the next visible character. Ordered by
/// strength: a stronger break absorbs a weaker one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Sep {
    None,
    Space,
    /// Between table cells on one line.
    Cell,
    Line,
    Paragraph,
}

/// A heading being collected: its level and title so far.
#[derive(Debug)]
struct OpenHeading {
    level: u8,
    title: String,
}

/// A position [`Flow::rollback`] can return to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Checkpoint {
    len: usize,
    headings: usize,
    sep: Sep,
}

/// Tidy text under construction; see the module documentation.
#[derive(Debug)]
pub(crate) struct Flow {
    text: String,
    headings: Vec<(usize, u8, String)>,
    sep: Sep,
    /// Spaces and tabs seen in preformatted mode, written only if visible text follows on
    /// the same line (so lines never end in spaces).
    pending_ws: String,
    /// Depth of preformatted regions (`<pre>`, code blocks): whitespace is kept there.
    pre: u32,
    heading: Option<OpenHeading>,
    /// A list marker (`- `, `3. `) written before the next visible character, so that
    /// items without text leave no lone markers.
    marker: Option<String>,
    max_text_bytes: u64,
    title: Option<String>,
    metadata: Vec<(String, String)>,
    warnings: Vec<String>,
    /// Open tables (nested ones count): the text length where the outermost began.
    table_depth: u32,
    table_from: usize,
    /// `(start, end, header row)` of the tables closed so far.
    tables: Vec<(usize, usize, String)>,
}

impl Flow {
    pub(crate) fn new(ctx: &LoadContext<'_>) -> Self {
        Flow {
            text: String::new(),
            headings: Vec::new(),
            sep: Sep::None,
            pending_ws: String::new(),
            pre: 0,
            heading: None,
            marker: None,
            max_text_bytes: ctx.limits.max_text_bytes,
            title: None,
            metadata: Vec::new(),
            warnings: Vec::new(),
            table_depth: 0,
            table_from: 0,
            tables: Vec::new(),
        }
    }

    /// Append inline text. Whitespace collapses, except in preformatted mode where
    /// line breaks and indentation are kept.
    pub(crate) fn text(&mut self, s: &str) {
        let mut buf = String::with_capacity(4);
        for c in s.chars() {
            // A CR is a line end (CRLF counts once, as the LF follows).
            if c == '\r' {
                continue;
            }
            buf.clear();
            push_normalized_char(&mut buf, c);
            for c in buf.chars() {
                self.push_char(c);
            }
        }
    }

    fn push_char(&mut self, c: char) {
        if let Some(h) = &mut self.heading {
            if c.is_whitespace() {
                if !h.title.is_empty() && !h.title.ends_with(' ') {
                    h.title.push(' ');
                }
            } else {
                h.title.push(c);
            }
            return;
        }
        if self.pre > 0 {
            match c {
                '\n' => {
                    self.pending_ws.clear();
                    self.sep = if self.sep >= Sep::Line {
                        Sep::Paragraph
                    } else {
                        Sep::Line
                    };
                }
                ' ' | '\t' => self.pending_ws.push(c),
                c if c.is_whitespace() => self.pending_ws.push(' '),
                c => {
                    let indent = std::mem::take(&mut self.pending_ws);
                    if !indent.is_empty() && self.sep == Sep::Space {
                        self.sep = Sep::None;
                    }
                    self.write_sep();
                    self.text.push_str(&indent);
                    self.text.push(c);
                }
            }
            return;
        }
        if c.is_whitespace() {
            self.sep = self.sep.max(Sep::Space);
        } else {
            self.write_sep();
            self.text.push(c);
        }
    }

    fn write_sep(&mut self) {
        let marker = self.marker.take();
        if !self.text.is_empty() {
            self.text.push_str(match self.sep {
                Sep::None => "",
                Sep::Space => " ",
                Sep::Cell => " | ",
                Sep::Line => "\n",
                Sep::Paragraph => "\n\n",
            });
        }
        self.sep = Sep::None;
        if let Some(m) = marker {
            self.text.push_str(&m);
        }
    }

    /// Start a list item with `marker`; it is written only if the item has text.
    pub(crate) fn marker(&mut self, marker: String) {
        if self.heading.is_none() {
            self.marker = Some(marker);
        }
    }

    /// The next text starts on a new line.
    pub(crate) fn line_break(&mut self) {
        if self.heading.is_some() {
            return self.push_char(' ');
        }
        self.pending_ws.clear();
        self.sep = self.sep.max(Sep::Line);
    }

    /// The next text starts a new paragraph (after a blank line).
    pub(crate) fn paragraph_break(&mut self) {
        if self.heading.is_some() {
            return self.push_char(' ');
        }
        self.pending_ws.clear();
        self.sep = Sep::Paragraph;
    }

    /// The next text is in the next cell of a table row (on the same line, after ` | `),
    /// unless nothing was written on this row yet.
    pub(crate) fn cell_break(&mut self) {
        if self.heading.is_some() {
            return self.push_char(' ');
        }
        self.pending_ws.clear();
        if self.sep < Sep::Line {
            self.sep = Sep::Cell;
        }
    }

    /// A table starts: its rows follow, one per line ([`Flow::line_break`]) with cells
    /// separated by [`Flow::cell_break`]. Tables nested in a cell are part of the
    /// outer table.
    pub(crate) fn start_table(&mut self) {
        if self.table_depth == 0 {
            self.table_from = self.text.len();
        }
        self.table_depth += 1;
    }

    /// The table opened by [`Flow::start_table`] ends. One of two rows or more whose
    /// first row has several cells is recorded with that row as its header (see
    /// [`crate::document::Table`]).
    pub(crate) fn end_table(&mut self) {
        if self.table_depth == 0 {
            return;
        }
        self.table_depth -= 1;
        if self.table_depth > 0 || self.table_from > self.text.len() {
            return;
        }
        let written = &self.text[self.table_from..];
        let start = self.table_from + (written.len() - written.trim_start().len());
        let rows = &self.text[start..];
        if let Some((header, _)) = rows.split_once('\n')
            && header.contains(" | ")
        {
            self.tables
                .push((start, self.text.len(), header.to_string()));
        }
    }

    /// Text up to [`Flow::end_heading`] is a heading of `level` (1 = top).
    pub(crate) fn start_heading(&mut self, level: u8) {
        if self.heading.is_none() {
            self.heading = Some(OpenHeading {
                level,
                title: String::new(),
            });
        }
    }

    /// Close the heading opened by [`Flow::start_heading`]: it becomes its own paragraph
    /// and opens a section at its offset. Returns its title (empty headings vanish).
    pub(crate) fn end_heading(&mut self) -> Option<String> {
        let h = self.heading.take()?;
        let title = h.title.trim().to_string();
        if title.is_empty() {
            return None;
        }
        self.paragraph_break();
        self.write_sep();
        self.headings
            .push((self.text.len(), h.level.max(1), title.clone()));
        self.text.push_str(&title);
        self.sep = Sep::Paragraph;
        Some(title)
    }

    /// Append text in which `\n` is a hard line break even outside preformatted mode,
    /// and a blank line a paragraph break (DOCX runs with `w:br`, plain-text e-mail
    /// bodies).
    pub(crate) fn text_with_breaks(&mut self, s: &str) {
        for (i, line) in s.split('\n').enumerate() {
            if i > 0 {
                if line.trim().is_empty() {
                    self.paragraph_break();
                } else {
                    self.line_break();
                }
            }
            self.text(line);
        }
    }

    /// A whole heading at once.
    pub(crate) fn heading(&mut self, level: u8, title: &str) -> Option<String> {
        self.start_heading(level);
        self.text(title);
        self.end_heading()
    }

    /// Enter or leave a preformatted region (nesting is counted).
    pub(crate) fn set_pre(&mut self, on: bool) {
        if on {
            self.pre += 1;
        } else {
            self.pre = self.pre.saturating_sub(1);
            self.pending_ws.clear();
        }
    }

    /// Length of the text written so far, in bytes.
    pub(crate) fn len(&self) -> usize {
        self.text.len()
    }

    pub(crate) fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            len: self.text.len(),
            headings: self.headings.len(),
            sep: self.sep,
        }
    }

    /// Forget everything written since `cp`.
    pub(crate) fn rollback(&mut self, cp: Checkpoint) {
        self.text.truncate(cp.len);
        self.tables.retain(|t| t.1 <= cp.len);
        self.table_from = self.table_from.min(cp.len);
        self.headings.truncate(cp.headings);
        self.sep = cp.sep;
        self.pending_ws.clear();
        self.heading = None;
        self.marker = None;
    }

    /// `Err(TooLarge)` once the text is over the cap, `Err(Timeout)` past the deadline.
    /// Cheap: call it once per input event.
    pub(crate) fn check(&self, ctx: &LoadContext<'_>) -> Result<(), DocError> {
        if self.text.len() as u64 > self.max_text_bytes {
            ctx.check_text(self.text.len())?;
        }
        ctx.deadline.check()
    }

    pub(crate) fn set_title(&mut self, title: &str) {
        let t = crate::normalize::tidy_whitespace(&crate::normalize::normalize_text(title))
            .replace('\n', " ");
        if !t.trim().is_empty() {
            self.title = Some(t.trim().to_string());
        }
    }

    pub(crate) fn has_title(&self) -> bool {
        self.title.is_some()
    }

    pub(crate) fn metadata(&mut self, key: &str, value: &str) {
        let v = crate::normalize::tidy_whitespace(&crate::normalize::normalize_text(value));
        if !v.is_empty() {
            self.metadata.push((key.to_string(), v));
        }
    }

    pub(crate) fn warn(&mut self, w: impl Into<String>) {
        self.warnings.push(w.into());
    }

    /// Hand the text to a [`TextBuilder`] (one page) and return the result.
    pub(crate) fn finish(mut self) -> Extracted {
        let _ = self.end_heading();
        let mut b = TextBuilder::new();
        let mut at = 0;
        for (offset, level, title) in &self.headings {
            b.push_str(&self.text[at..*offset]);
            b.heading(*level, title.as_str());
            at = *offset;
        }
        b.push_str(&self.text[at..]);
        for (start, end, header) in self.tables {
            b.table(start, end, header);
        }
        if let Some(t) = self.title {
            b.set_title(t);
        }
        for (k, v) in self.metadata {
            b.metadata(k, v);
        }
        for w in self.warnings {
            b.warn(w);
        }
        b.finish(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loader::Limits;

    fn flow() -> Flow {
        Flow::new(&LoadContext::new(&Limits::default()))
    }

    #[test]
    fn collapses_and_breaks() {
        let mut f = flow();
        f.text("  Hello \n  world ");
        f.paragraph_break();
        f.line_break();
        f.text("next");
        f.line_break();
        f.text("line");
        f.paragraph_break();
        let ex = f.finish();
        assert_eq!(ex.text, "Hello world\n\nnext\nline");
    }

    #[test]
    fn headings_at_exact_offsets() {
        let mut f = flow();
        f.text("intro");
        f.start_heading(2);
        f.text(" Sec\n tion ");
        f.end_heading();
        f.text("body");
        let ex = f.finish();
        assert_eq!(ex.text, "intro\n\nSec tion\n\nbody");
        assert_eq!(ex.headings[0].offset, 7);
        assert_eq!(ex.headings[0].title, "Sec tion");
    }

    #[test]
    fn pre_keeps_indentation_but_not_trailing_spaces() {
        let mut f = flow();
        f.text("a");
        f.paragraph_break();
        f.set_pre(true);
        f.text("fn x() {  \n    y();\n}\n");
        f.set_pre(false);
        f.paragraph_break();
        f.text("b");
        assert_eq!(f.finish().text, "a\n\nfn x() {\n    y();\n}\n\nb");
    }

    #[test]
    fn cells_and_rollback() {
        let mut f = flow();
        f.text("a");
        f.cell_break();
        f.text("b");
        let cp = f.checkpoint();
        f.line_break();
        f.text("dropped");
        f.rollback(cp);
        f.line_break();
        f.text("c");
        assert_eq!(f.finish().text, "a | b\nc");
    }
}
