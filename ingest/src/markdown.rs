//! Markdown (CommonMark with tables, strikethrough, task lists and footnotes).
//!
//! The output is the text a reader sees, without markup: emphasis markers, link targets,
//! code fences and table pipes disappear; link text, code, and table cells stay. Lists keep
//! one item per line with a `- ` or `N. ` marker so enumerations stay readable, table rows
//! become one line with cells separated by ` | `, and code blocks keep their line breaks
//! and indentation.
//!
//! A YAML front matter block (`---` ... `---` at the very start) is read as simple
//! `key: value` lines (no YAML library: nested maps are skipped, block lists are joined
//! with `, `). `title` becomes the title, other keys metadata; the block is not text.
//! Without a front matter title, the first level-1 heading is the title.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

use crate::document::Extracted;
use crate::error::DocError;
use crate::flow::Flow;
use crate::loader::{LoadContext, Loader};
use crate::text::decode;

#[derive(Debug, Clone, Copy, Default)]
pub struct MarkdownLoader;

impl Loader for MarkdownLoader {
    fn name(&self) -> &'static str {
        "markdown"
    }

    fn load(&self, bytes: &[u8], ctx: &LoadContext<'_>) -> Result<Extracted, DocError> {
        if crate::text::looks_binary(bytes) && crate::text::bom_encoding(bytes).is_none() {
            return Err(DocError::WrongFormat {
                expected: "markdown",
                reason: "binary data (NUL bytes) near the start".into(),
            });
        }
        let decoded = decode(bytes, None);
        let mut flow = Flow::new(ctx);
        if let Some(w) = decoded.warning {
            flow.warn(w);
        }
        let (front, body) = split_front_matter(&decoded.text);
        for (key, value) in front {
            if key == "title" {
                flow.set_title(&value);
            } else {
                flow.metadata(&key, &value);
            }
        }
        render(body, &mut flow, ctx)?;
        Ok(flow.finish())
    }
}

/// Feed Markdown events into `flow`.
fn render(src: &str, flow: &mut Flow, ctx: &LoadContext<'_>) -> Result<(), DocError> {
    let opts = Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_FOOTNOTES;
    // One entry per open list: the next number for ordered lists, `None` for bullets.
    let mut lists: Vec<Option<u64>> = Vec::new();
    let mut heading_level = 0u8;
    // An HTML block, collected whole and read by the HTML loader at its end, so that
    // scripts and styles in it are dropped like in any page.
    let mut html_block: Option<String> = None;
    for event in Parser::new_ext(src, opts) {
        flow.check(ctx)?;
        match event {
            Event::Start(tag) => match tag {
                Tag::Heading { level, .. } => {
                    heading_level = level as u8;
                    flow.start_heading(heading_level);
                }
                Tag::Paragraph if lists.is_empty() => flow.paragraph_break(),
                Tag::BlockQuote(_) | Tag::FootnoteDefinition(_) => flow.paragraph_break(),
                Tag::Table(_) => {
                    flow.paragraph_break();
                    flow.start_table();
                }
                Tag::CodeBlock(_) => {
                    flow.paragraph_break();
                    flow.set_pre(true);
                }
                Tag::List(start) => {
                    if lists.is_empty() {
                        flow.paragraph_break();
                    } else {
                        flow.line_break();
                    }
                    lists.push(start);
                }
                Tag::Item => {
                    flow.line_break();
                    match lists.last_mut() {
                        Some(Some(n)) => {
                            flow.marker(format!("{n}. "));
                            *n += 1;
                        }
                        _ => flow.marker("- ".into()),
                    }
                }
                Tag::TableHead | Tag::TableRow => flow.line_break(),
                Tag::TableCell => flow.cell_break(),
                Tag::DefinitionListTitle | Tag::DefinitionListDefinition => flow.line_break(),
                Tag::HtmlBlock => html_block = Some(String::new()),
                _ => {}
            },
            Event::End(tag) => match tag {
                TagEnd::Heading(_) => {
                    if let Some(title) = flow.end_heading()
                        && heading_level == 1
                        && !flow.has_title()
                    {
                        flow.set_title(&title);
                    }
                }
                TagEnd::Paragraph => {
                    if lists.is_empty() {
                        flow.paragraph_break();
                    } else {
                        flow.line_break();
                    }
                }
                TagEnd::CodeBlock => {
                    flow.set_pre(false);
                    flow.paragraph_break();
                }
                TagEnd::List(_) => {
                    lists.pop();
                    if lists.is_empty() {
                        flow.paragraph_break();
                    } else {
                        flow.line_break();
                    }
                }
                TagEnd::HtmlBlock => {
                    if let Some(html) = html_block.take() {
                        let ex = crate::html::html_to_text(&html, ctx)?;
                        flow.paragraph_break();
                        flow.text_with_breaks(&ex.text);
                        flow.paragraph_break();
                    }
                }
                TagEnd::BlockQuote(_) | TagEnd::FootnoteDefinition => flow.paragraph_break(),
                TagEnd::Table => {
                    flow.end_table();
                    flow.paragraph_break();
                }
                TagEnd::TableHead | TagEnd::TableRow | TagEnd::Item => flow.line_break(),
                _ => {}
            },
            Event::Text(t) | Event::Code(t) | Event::InlineMath(t) | Event::DisplayMath(t) => {
                flow.text(&t)
            }
            Event::Html(h) => match &mut html_block {
                Some(block) => block.push_str(&h),
                None => strip_tags(&h, flow),
            },
            Event::InlineHtml(h) => strip_tags(&h, flow),
            Event::SoftBreak => flow.text(" "),
            Event::HardBreak => flow.line_break(),
            Event::Rule => flow.paragraph_break(),
            Event::FootnoteReference(_) | Event::TaskListMarker(_) => {}
        }
    }
    Ok(())
}

/// Inline HTML inside Markdown: keep the text between tags, drop comments, and turn
/// `<br>` and block tags into breaks. HTML blocks go through the HTML loader instead.
fn strip_tags(html: &str, flow: &mut Flow) {
    let mut rest = html;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("<!--") {
            rest = after.find("-->").map_or("", |i| &after[i + 3..]);
        } else if rest.starts_with('<') {
            let end = rest.find('>').map_or(rest.len(), |i| i + 1);
            let tag = rest[1..end]
                .trim_start_matches('/')
                .split(|c: char| !c.is_ascii_alphanumeric())
                .next()
                .unwrap_or("")
                .to_ascii_lowercase();
            match tag.as_str() {
                "br" => flow.line_break(),
                "p" | "div" | "table" | "ul" | "ol" | "blockquote" | "pre" | "section" => {
                    flow.paragraph_break()
                }
                "li" | "tr" => flow.line_break(),
                "td" | "th" => flow.cell_break(),
                _ => {}
            }
            rest = &rest[end..];
        } else {
            let end = rest.find('<').unwrap_or(rest.len());
            flow.text(&rest[..end]);
            rest = &rest[end..];
        }
    }
}

/// Split front matter from the body: YAML between `---` lines, or TOML between `+++`
/// lines. Returns its `key: value` (`key = value`) pairs, keys lower case, quotes
/// stripped, YAML block lists joined with `, `, and the remaining Markdown.
pub fn split_front_matter(src: &str) -> (Vec<(String, String)>, &str) {
    let src = src.strip_prefix('\u{feff}').unwrap_or(src);
    let first_line = src.split_inclusive('\n').next().unwrap_or("");
    let (fence, sep) = match first_line.trim_end() {
        "---" => ("---", ':'),
        "+++" => ("+++", '='),
        _ => return (Vec::new(), src),
    };
    let after = &src[first_line.len()..];
    // The block ends at a line that is the fence (or `...` for YAML).
    let mut offset = 0;
    let mut end = None;
    for line in after.split_inclusive('\n') {
        let t = line.trim_end();
        if t == fence || (fence == "---" && t == "...") {
            end = Some((offset, offset + line.len()));
            break;
        }
        offset += line.len();
    }
    let Some((block_end, body_start)) = end else {
        return (Vec::new(), src);
    };
    let mut pairs: Vec<(String, String)> = Vec::new();
    // Index in `pairs` of a key whose value is an indented block list.
    let mut list_key: Option<usize> = None;
    for line in after[..block_end].lines() {
        let indented = line.starts_with([' ', '\t']);
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if indented || t.starts_with("- ") {
            if let (Some(i), Some(item)) = (list_key, t.strip_prefix("- ")) {
                let item = unquote(item.trim());
                let v = &mut pairs[i].1;
                if !v.is_empty() {
                    v.push_str(", ");
                }
                v.push_str(item);
            }
            continue;
        }
        list_key = None;
        let Some((k, v)) = t.split_once(sep) else {
            continue;
        };
        let key = k.trim().to_ascii_lowercase();
        if key.is_empty() {
            continue;
        }
        let v = v.trim();
        pairs.push((key, unquote(v).to_string()));
        if v.is_empty() {
            list_key = Some(pairs.len() - 1);
        }
    }
    pairs.retain(|(_, v)| !v.is_empty());
    (pairs, &after[body_start..])
}

fn unquote(v: &str) -> &str {
    for q in ['"', '\''] {
        if let Some(inner) = v.strip_prefix(q).and_then(|s| s.strip_suffix(q)) {
            return inner;
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loader::Limits;

    fn load(src: &str) -> Extracted {
        MarkdownLoader
            .load(src.as_bytes(), &LoadContext::new(&Limits::default()))
            .unwrap()
    }

    #[test]
    fn headings_lists_code_and_links() {
        let ex = load(
            "# Guide\n\nSome *emphasis* and a [link](http://x.test/a).\n\n\
             ## Install\n\n- one\n- two\n  1. nested\n\n```sh\ncargo  build\n  --release\n```\n\n\
             ### Notes\n\nLine one  \nline two\nsoft.\n",
        );
        assert_eq!(
            ex.text,
            "Guide\n\nSome emphasis and a link.\n\nInstall\n\n- one\n- two\n1. nested\n\n\
             cargo  build\n  --release\n\nNotes\n\nLine one\nline two soft."
        );
        assert_eq!(ex.title.as_deref(), Some("Guide"));
        let hs: Vec<_> = ex
            .headings
            .iter()
            .map(|h| {
                (
                    h.level,
                    h.title.as_str(),
                    &ex.text[h.offset..h.offset + h.title.len()],
                )
            })
            .collect();
        assert_eq!(
            hs,
            vec![
                (1, "Guide", "Guide"),
                (2, "Install", "Install"),
                (3, "Notes", "Notes")
            ]
        );
    }

    #[test]
    fn front_matter_and_tables() {
        let ex = load(
            "---\ntitle: \"Quarterly report\"\nauthor: Ann Lee\ntags:\n  - finance\n  - q3\n---\n\
             # Heading one\n\n| Name | Qty |\n|------|----:|\n| `a`  | 1   |\n| b    | 2   |\n\n\
             > quoted <b>bold</b> text\n",
        );
        assert_eq!(ex.title.as_deref(), Some("Quarterly report"));
        assert_eq!(ex.metadata["author"], "Ann Lee");
        assert_eq!(ex.metadata["tags"], "finance, q3");
        assert!(!ex.metadata.contains_key("title"));
        assert_eq!(
            ex.text,
            "Heading one\n\nName | Qty\na | 1\nb | 2\n\nquoted bold text"
        );
    }

    #[test]
    fn html_blocks_and_toml_front_matter() {
        let ex = load(
            "+++\ntitle = \"Hugo page\"\ndraft = false\n+++\n\nIntro.\n\n\
             <div class=\"note\">\n<script>track()</script><p>Inside <b>html</b></p>\n</div>\n\nAfter.\n",
        );
        assert_eq!(ex.title.as_deref(), Some("Hugo page"));
        assert_eq!(ex.metadata["draft"], "false");
        assert_eq!(ex.text, "Intro.\n\nInside html\n\nAfter.");
    }

    #[test]
    fn pathological_nesting_is_fine() {
        let limits = Limits::default();
        let ctx = LoadContext::new(&limits);
        let quotes = format!("{}deep\n", ">".repeat(50_000));
        let ex = MarkdownLoader.load(quotes.as_bytes(), &ctx).unwrap();
        assert_eq!(ex.text, "deep");
        let lists: String = (0..2_000)
            .map(|i| format!("{}- item\n", "  ".repeat(i)))
            .collect();
        let ex = MarkdownLoader.load(lists.as_bytes(), &ctx).unwrap();
        assert!(ex.text.starts_with("- item\n- item"));
    }

    #[test]
    fn no_front_matter_when_unclosed() {
        let (pairs, body) = split_front_matter("---\ntitle: x\nno end");
        assert!(pairs.is_empty());
        assert_eq!(body, "---\ntitle: x\nno end");
    }
}
