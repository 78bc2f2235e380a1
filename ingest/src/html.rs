//! HTML pages: the readable text of the body, with headings, paragraphs, list items and
//! table rows.
//!
//! The page is tokenized (html5gum, which decodes entities and follows the raw-text
//! rules of `<script>`/`<style>`), not built into a DOM: one pass with a bounded stack of
//! open elements, so memory and time stay linear whatever the input.
//!
//! Dropped: `script`, `style`, `noscript`, `template`, `svg`, `iframe`, `nav`, form
//! controls (`button`, `select`), media fallbacks, elements marked `hidden`,
//! `aria-hidden="true"` or `role="navigation"`. Page-layout `header`, `footer` and
//! `aside` (those not inside an `article` or `main`) are dropped too, unless they hold an
//! `<h1>`: a page whose only title sits in a header keeps it. Inside an `article` or `main`
//! they are content (an article's byline, a figure's aside) and are kept.
//!
//! Character set: BOM, then valid UTF-8, then the `<meta charset>` declared in the first
//! KB, then Windows-1252 with a warning. Valid UTF-8 is preferred over the declaration
//! because mislabelled UTF-8 pages are common and Latin-1 text is almost never valid UTF-8.

use std::collections::BTreeMap;

use encoding_rs::{Encoding, UTF_8};
use html5gum::{DefaultEmitter, HtmlString, Token, Tokenizer};

use crate::document::Extracted;
use crate::error::DocError;
use crate::flow::{Checkpoint, Flow};
use crate::loader::{LoadContext, Loader};

/// HTML nests far deeper than the objects [`crate::Limits::max_depth`] was sized for
/// (layout `div`s go 30+ deep on ordinary pages), so the stack of open elements may hold
/// this many times `max_depth`. Deeper elements are flattened: their text and line breaks
/// are kept, only their nesting is not tracked.
pub const HTML_DEPTH_FACTOR: u32 = 8;

#[derive(Debug, Clone, Copy, Default)]
pub struct HtmlLoader;

impl Loader for HtmlLoader {
    fn name(&self) -> &'static str {
        "html"
    }

    fn load(&self, bytes: &[u8], ctx: &LoadContext<'_>) -> Result<Extracted, DocError> {
        if crate::text::looks_binary(bytes) && crate::text::bom_encoding(bytes).is_none() {
            return Err(DocError::WrongFormat {
                expected: "html",
                reason: "binary data (NUL bytes) near the start".into(),
            });
        }
        let (html, warning) = decode_html(bytes);
        let mut ex = html_to_text(&html, ctx)?;
        if let Some(w) = warning {
            ex.warnings.insert(0, w);
        }
        Ok(ex)
    }
}

/// Decode the bytes of a page; see the module documentation for the order of guesses.
fn decode_html(bytes: &[u8]) -> (String, Option<String>) {
    if crate::text::bom_encoding(bytes).is_some() || std::str::from_utf8(bytes).is_ok() {
        let d = crate::text::decode(bytes, None);
        return (d.text, None);
    }
    if let Some(enc) = sniff_meta_charset(&bytes[..bytes.len().min(1024)])
        && enc != UTF_8
    {
        let (text, _) = enc.decode_without_bom_handling(bytes);
        return (text.into_owned(), None);
    }
    let d = crate::text::decode(bytes, None);
    (d.text, d.warning)
}

/// The encoding named by `charset=` in the first KB (`<meta charset>` or the
/// `http-equiv` form). UTF-16 labels are ignored, as browsers do.
fn sniff_meta_charset(head: &[u8]) -> Option<&'static Encoding> {
    let lower = head.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = find(&lower[from..], b"charset") {
        let mut j = from + i + b"charset".len();
        from = j;
        while lower.get(j).is_some_and(|c| c.is_ascii_whitespace()) {
            j += 1;
        }
        if lower.get(j) != Some(&b'=') {
            continue;
        }
        j += 1;
        while lower
            .get(j)
            .is_some_and(|c| c.is_ascii_whitespace() || *c == b'"' || *c == b'\'')
        {
            j += 1;
        }
        let start = j;
        while lower
            .get(j)
            .is_some_and(|c| c.is_ascii_alphanumeric() || b"-_:.".contains(c))
        {
            j += 1;
        }
        if let Some(enc) = Encoding::for_label(&lower[start..j]) {
            if enc.name().starts_with("UTF-16") {
                return None;
            }
            return Some(enc);
        }
    }
    None
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// What an element does to the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Its content is not text (scripts, navigation, hidden parts).
    Skip,
    Heading(u8),
    /// Separated by a blank line.
    Paragraph,
    /// Starts on its own line.
    Line,
    Pre,
    List {
        ordered: bool,
    },
    Item,
    /// A paragraph of rows, one per line, whose first row is its header.
    Table,
    Row,
    Cell,
    Head,
    Title,
    /// A page-layout header/footer/aside: dropped unless it holds an `<h1>`.
    Layout,
    Inline,
}

fn role_of(name: &str) -> Role {
    match name {
        "script" | "style" | "noscript" | "template" | "svg" | "iframe" | "nav" | "button"
        | "select" | "object" | "embed" | "canvas" | "video" | "audio" | "map" | "frameset"
        | "noframes" | "dialog" => Role::Skip,
        "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
            Role::Heading(name.as_bytes()[1].saturating_sub(b'0'))
        }
        "table" => Role::Table,
        "p" | "blockquote" | "dl" | "figure" | "section" | "article" | "main" | "address"
        | "details" | "fieldset" | "form" | "center" | "hgroup" => Role::Paragraph,
        "header" | "footer" | "aside" => Role::Layout,
        "div" | "dt" | "dd" | "caption" | "figcaption" | "summary" | "body" | "legend"
        | "option" | "thead" | "tbody" | "tfoot" | "html" | "label" | "textarea" => Role::Line,
        "pre" | "listing" | "xmp" | "plaintext" => Role::Pre,
        "ul" | "menu" => Role::List { ordered: false },
        "ol" => Role::List { ordered: true },
        "li" => Role::Item,
        "tr" => Role::Row,
        "td" | "th" => Role::Cell,
        "head" => Role::Head,
        "title" => Role::Title,
        _ => Role::Inline,
    }
}

fn is_void(name: &str) -> bool {
    matches!(
        name,
        "area"
            | "base"
            | "br"
            | "col"
            | "embed"
            | "hr"
            | "img"
            | "input"
            | "link"
            | "meta"
            | "param"
            | "source"
            | "track"
            | "wbr"
    )
}

#[derive(Debug)]
struct Open {
    name: String,
    role: Role,
    /// For layout elements: where they started and whether they hold an `<h1>`.
    layout: Option<(Checkpoint, bool)>,
}

/// The state of one pass over the tokens.
#[derive(Debug)]
struct Walker<'c, 'l> {
    ctx: &'c LoadContext<'l>,
    flow: Flow,
    stack: Vec<Open>,
    max_stack: usize,
    /// Elements opened past `max_stack`, still to be closed.
    overflow: usize,
    /// Open elements whose content is skipped.
    skipping: usize,
    /// Open `<head>` elements (text there is not content).
    heads: usize,
    /// Next number of each open list (`None` for bullets).
    lists: Vec<Option<u64>>,
    title: Option<String>,
    in_title: bool,
    title_buf: String,
    first_h1: Option<String>,
    meta: BTreeMap<String, String>,
    warned_deep: bool,
    /// Text length at the last `<br>`, to see two in a row.
    last_br: Option<usize>,
}

/// Extract the text of an HTML page that is already decoded (the e-mail loader uses this
/// for HTML bodies).
pub fn html_to_text(html: &str, ctx: &LoadContext<'_>) -> Result<Extracted, DocError> {
    let mut emitter = DefaultEmitter::default();
    // Without a tree builder the tokenizer must be told that `<script>` and friends hold
    // raw text, or markup inside a script would be read as tags.
    emitter.naively_switch_states(true);
    let tokens = Tokenizer::new_with_emitter(html, emitter);
    let max_stack = ctx
        .limits
        .max_depth
        .saturating_mul(HTML_DEPTH_FACTOR)
        .max(1) as usize;
    let mut w = Walker {
        ctx,
        flow: Flow::new(ctx),
        stack: Vec::new(),
        max_stack,
        overflow: 0,
        skipping: 0,
        heads: 0,
        lists: Vec::new(),
        title: None,
        in_title: false,
        title_buf: String::new(),
        first_h1: None,
        meta: BTreeMap::new(),
        warned_deep: false,
        last_br: None,
    };
    for token in tokens {
        w.flow.check(ctx)?;
        let Ok(token) = token;
        match token {
            Token::StartTag(tag) => {
                let name = lossy(&tag.name).to_ascii_lowercase();
                let attr = |k: &str| {
                    tag.attributes
                        .get(k.as_bytes())
                        .map(|v| lossy(&v.value).into_owned())
                };
                w.start(&name, tag.self_closing, &attr);
            }
            Token::EndTag(tag) => {
                let name = lossy(&tag.name).to_ascii_lowercase();
                w.end(&name);
            }
            Token::String(s) => w.string(&lossy(&s.value)),
            Token::Comment(_) | Token::Doctype(_) | Token::Error(_) => {}
        }
    }
    w.finish()
}

fn lossy(s: &HtmlString) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(&s.0)
}

impl Walker<'_, '_> {
    fn start(&mut self, name: &str, self_closing: bool, attr: &dyn Fn(&str) -> Option<String>) {
        if self.skipping == 0 {
            match name {
                "meta" => return self.meta_tag(attr),
                "br" => {
                    // Two `<br>` in a row are a blank line, as a reader sees them.
                    let at = self.flow.len();
                    if self.last_br == Some(at) {
                        self.flow.paragraph_break();
                    } else {
                        self.flow.line_break();
                    }
                    self.last_br = Some(at);
                    return;
                }
                "hr" => return self.flow.paragraph_break(),
                "html" => {
                    if let Some(lang) = attr("lang") {
                        self.meta.entry("language".into()).or_insert(lang);
                    }
                }
                _ => {}
            }
        }
        if is_void(name) {
            return;
        }
        // The end tags HTML lets authors leave out.
        match name {
            "li" => self.close_implied(&["li"], &["ul", "ol", "menu"]),
            "p" => self.close_implied(&["p"], &["div", "td", "th", "li", "blockquote"]),
            "td" | "th" => self.close_implied(&["td", "th"], &["tr", "table"]),
            "tr" => self.close_implied(&["tr"], &["table"]),
            "dt" | "dd" => self.close_implied(&["dt", "dd"], &["dl"]),
            "option" => self.close_implied(&["option"], &["select"]),
            _ => {}
        }
        // Content in a head that was never closed starts the body, as in browsers.
        if self.heads > 0
            && !matches!(
                name,
                "title"
                    | "meta"
                    | "link"
                    | "style"
                    | "script"
                    | "base"
                    | "noscript"
                    | "template"
                    | "head"
                    | "html"
            )
        {
            self.close_implied(&["head"], &[]);
        }
        let hidden = attr("hidden").is_some()
            || attr("aria-hidden").is_some_and(|v| v.eq_ignore_ascii_case("true"))
            || attr("role").is_some_and(|v| v.eq_ignore_ascii_case("navigation"));
        let mut role = if hidden { Role::Skip } else { role_of(name) };
        if role == Role::Layout
            && self
                .stack
                .iter()
                .any(|o| o.name == "article" || o.name == "main")
        {
            role = Role::Paragraph;
        }
        if self_closing && role == Role::Skip {
            // `<iframe/>`, `<svg/>`: nothing inside to skip.
            return;
        }
        if self.stack.len() >= self.max_stack {
            if !self.warned_deep {
                self.warned_deep = true;
                self.flow.warn(format!(
                    "HTML nested deeper than {} elements: deeper structure was flattened",
                    self.max_stack
                ));
            }
            self.overflow += 1;
            if self.skipping == 0 {
                self.open_effects(role, attr);
            }
            return;
        }
        let mut layout = None;
        if self.skipping == 0 {
            if role == Role::Layout {
                layout = Some((self.flow.checkpoint(), false));
            }
            self.open_effects(role, attr);
        }
        if role == Role::Skip {
            self.skipping += 1;
        }
        if role == Role::Head {
            self.heads += 1;
        }
        self.stack.push(Open {
            name: name.to_string(),
            role,
            layout,
        });
    }

    /// Breaks and markers when an element opens (outside skipped content).
    fn open_effects(&mut self, role: Role, attr: &dyn Fn(&str) -> Option<String>) {
        match role {
            Role::Heading(level) => {
                if level == 1 {
                    for o in &mut self.stack {
                        if let Some((_, h1)) = &mut o.layout {
                            *h1 = true;
                        }
                    }
                }
                self.flow.start_heading(level)
            }
            Role::Paragraph | Role::Layout => self.flow.paragraph_break(),
            Role::Table => {
                self.flow.paragraph_break();
                self.flow.start_table();
            }
            Role::Line | Role::Row => self.flow.line_break(),
            Role::Pre => {
                self.flow.paragraph_break();
                self.flow.set_pre(true);
            }
            Role::List { ordered } => {
                if self.lists.is_empty() {
                    self.flow.paragraph_break();
                } else {
                    self.flow.line_break();
                }
                let start = attr("start")
                    .and_then(|s| s.trim().parse::<u64>().ok())
                    .unwrap_or(1);
                self.lists.push(ordered.then_some(start));
            }
            Role::Item => {
                self.flow.line_break();
                match self.lists.last_mut() {
                    Some(Some(n)) => {
                        self.flow.marker(format!("{n}. "));
                        *n += 1;
                    }
                    _ => self.flow.marker("- ".into()),
                }
            }
            Role::Cell => self.flow.cell_break(),
            Role::Title => {
                self.in_title = true;
                self.title_buf.clear();
            }
            Role::Skip | Role::Head | Role::Inline => {}
        }
    }

    /// Breaks when an element closes (outside skipped content).
    fn close_effects(&mut self, open: Open) {
        match open.role {
            Role::Heading(level) => {
                if let Some(t) = self.flow.end_heading()
                    && level == 1
                    && self.first_h1.is_none()
                {
                    self.first_h1 = Some(t);
                }
            }
            Role::Paragraph => self.flow.paragraph_break(),
            Role::Table => {
                self.flow.end_table();
                self.flow.paragraph_break();
            }
            Role::Layout => {
                if let Some((cp, false)) = open.layout {
                    self.flow.rollback(cp);
                }
                self.flow.paragraph_break();
            }
            Role::Line | Role::Row | Role::Item => self.flow.line_break(),
            Role::Pre => {
                self.flow.set_pre(false);
                self.flow.paragraph_break();
            }
            Role::List { .. } => {
                self.lists.pop();
                if self.lists.is_empty() {
                    self.flow.paragraph_break();
                } else {
                    self.flow.line_break();
                }
            }
            Role::Title => {
                self.in_title = false;
                if self.title.is_none() {
                    self.title = Some(std::mem::take(&mut self.title_buf));
                }
            }
            Role::Cell | Role::Skip | Role::Head | Role::Inline => {}
        }
    }

    /// Close open `names` up to (not past) the nearest of `stop`, as the parser would for
    /// omitted end tags.
    fn close_implied(&mut self, names: &[&str], stop: &[&str]) {
        for i in (0..self.stack.len()).rev() {
            let n = self.stack[i].name.as_str();
            if stop.contains(&n) {
                return;
            }
            if names.contains(&n) {
                self.pop_to(i);
                return;
            }
        }
    }

    fn end(&mut self, name: &str) {
        if self.overflow > 0 {
            // A flattened element closes: keep its break, there is nothing to pop.
            self.overflow -= 1;
            if self.skipping == 0 && name != "br" {
                self.close_effects(Open {
                    name: name.to_string(),
                    role: match role_of(name) {
                        Role::List { .. } | Role::Layout | Role::Title | Role::Skip => Role::Inline,
                        r => r,
                    },
                    layout: None,
                });
            }
            return;
        }
        if name == "br" && self.skipping == 0 {
            // `</br>` is a line break in every browser.
            return self.flow.line_break();
        }
        if let Some(i) = self.stack.iter().rposition(|o| o.name == name) {
            self.pop_to(i);
        } else if self.skipping == 0 && matches!(role_of(name), Role::Paragraph | Role::Table) {
            // A stray `</p>` still ends a paragraph.
            self.flow.paragraph_break();
        }
    }

    /// Pop the stack down to and including index `i`, closing each element.
    fn pop_to(&mut self, i: usize) {
        while self.stack.len() > i {
            let Some(open) = self.stack.pop() else {
                break;
            };
            if open.role == Role::Head {
                self.heads = self.heads.saturating_sub(1);
            }
            if open.role == Role::Skip {
                self.skipping = self.skipping.saturating_sub(1);
            } else if self.skipping == 0 {
                self.close_effects(open);
            }
        }
    }

    fn string(&mut self, s: &str) {
        if self.in_title && self.skipping == 0 {
            self.title_buf.push_str(s);
            return;
        }
        if self.skipping > 0 || self.heads > 0 {
            return;
        }
        self.flow.text(s);
    }

    fn meta_tag(&mut self, attr: &dyn Fn(&str) -> Option<String>) {
        let key = attr("name")
            .or_else(|| attr("property"))
            .map(|k| k.trim().to_ascii_lowercase());
        let (Some(key), Some(content)) = (key, attr("content")) else {
            return;
        };
        let key = match key.as_str() {
            "description" | "author" | "keywords" => key,
            "og:title" => "og:title".into(),
            "og:description" => "og:description".into(),
            _ => return,
        };
        self.meta.entry(key).or_insert(content);
    }

    fn finish(mut self) -> Result<Extracted, DocError> {
        // Close whatever the page left open (a header with no end tag is still judged).
        self.pop_to(0);
        self.flow.check(self.ctx)?;
        let og_title = self.meta.remove("og:title");
        let og_description = self.meta.remove("og:description");
        let title = [self.title.take(), og_title, self.first_h1.take()]
            .into_iter()
            .flatten()
            .find(|t| !t.trim().is_empty());
        if let Some(t) = title {
            self.flow.set_title(&t);
        }
        if let Some(d) = og_description {
            self.meta.entry("description".into()).or_insert(d);
        }
        for (k, v) in &self.meta {
            self.flow.metadata(k, v);
        }
        Ok(self.flow.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loader::Limits;

    fn load(html: &str) -> Extracted {
        HtmlLoader
            .load(html.as_bytes(), &LoadContext::new(&Limits::default()))
            .unwrap()
    }

    #[test]
    fn page_with_boilerplate() {
        let ex = load(
            r#"<!DOCTYPE html><html lang="en"><head><title>The  Page</title>
            <meta name="description" content="About things">
            <meta name="author" content="Ann">
            <style>p { color: red }</style><script>var x = "<p>no</p>";</script></head>
            <body><header><a href="/">Site</a> <nav><a>Home</a></nav></header>
            <main><article><header><p class=byline>By Ann</p></header>
            <h1>Main &amp; heading</h1><p>First<br>line &eacute;t&eacute;.</p>
            <ul><li>one<li>two</ul><ol start=3><li>three</li></ol>
            <table><tr><th>A<th>B<tr><td>1</td><td>2</td></table>
            <h2>Sub</h2><p>More <b>bold</b> text</p></article>
            <aside>related inside main</aside></main>
            <footer>Copyright</footer><noscript>enable js</noscript></body></html>"#,
        );
        assert_eq!(
            ex.text,
            "By Ann\n\nMain & heading\n\nFirst\nline été.\n\n- one\n- two\n\n3. three\n\n\
             A | B\n1 | 2\n\nSub\n\nMore bold text\n\nrelated inside main"
        );
        assert_eq!(ex.title.as_deref(), Some("The Page"));
        assert_eq!(ex.metadata["description"], "About things");
        assert_eq!(ex.metadata["author"], "Ann");
        assert_eq!(ex.metadata["language"], "en");
        let hs: Vec<_> = ex
            .headings
            .iter()
            .map(|h| (h.level, h.title.as_str()))
            .collect();
        assert_eq!(hs, vec![(1, "Main & heading"), (2, "Sub")]);
        for h in &ex.headings {
            assert!(ex.text[h.offset..].starts_with(&h.title));
        }
    }

    #[test]
    fn header_with_the_only_h1_is_kept() {
        let ex = load("<body><header><h1>Title</h1></header><p>Body</p></body>");
        assert_eq!(ex.text, "Title\n\nBody");
        assert_eq!(ex.title.as_deref(), Some("Title"));
    }

    #[test]
    fn latin1_meta_charset() {
        let bytes = b"<html><head><meta charset=\"iso-8859-1\"></head><body>caf\xe9</body></html>";
        let ex = HtmlLoader
            .load(bytes, &LoadContext::new(&Limits::default()))
            .unwrap();
        assert_eq!(ex.text, "café");
        assert!(ex.warnings.is_empty());
        let ex = HtmlLoader
            .load(b"<p>caf\xe9</p>", &LoadContext::new(&Limits::default()))
            .unwrap();
        assert_eq!(ex.text, "café");
        assert_eq!(ex.warnings.len(), 1);
    }

    #[test]
    fn unclosed_head() {
        let ex = load("<html><head><title>T</title><p>text");
        assert_eq!(ex.text, "text");
        assert_eq!(ex.title.as_deref(), Some("T"));
    }

    #[test]
    fn pre_keeps_lines() {
        let ex = load(
            "<ul><li><a><img></a></li><li> x </li></ul><p>a</p><pre>x  = 1\n  y\n</pre><p>b</p>",
        );
        assert_eq!(ex.text, "- x\n\na\n\nx  = 1\n  y\n\nb");
    }

    #[test]
    fn deep_nesting_is_flattened_not_fatal() {
        let n = 100_000;
        let html = format!(
            "{}deep text{}<p>after</p>",
            "<div><span>".repeat(n),
            "</span></div>".repeat(n)
        );
        let ex = load(&html);
        assert_eq!(ex.text, "deep text\n\nafter");
        assert_eq!(ex.warnings.len(), 1);
        // Unclosed elements are as harmless.
        let ex = load(&format!("{}x", "<b><script>".repeat(1000)));
        assert_eq!(ex.text, "");
    }
}
