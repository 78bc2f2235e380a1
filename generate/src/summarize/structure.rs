//! Where each candidate sentence sits in its document: in the abstract or opening
//! paragraph (the *lead block*), the introduction, the body or the conclusion.
//!
//! Writers put their gist in known places: papers and reports in the abstract, the
//! introduction and the conclusion; news and mail in the first paragraph. The text
//! docket's loaders produce keeps paragraphs apart with blank lines and section headings
//! on lines of their own ("ABSTRACT", "1. Introduction", "5 Conclusions"), sometimes run
//! into the first line ("Abstract—We present …"), so the layout is read from the text
//! alone and works the same for PDFs, Markdown, mail and plain text.
//!
//! Without any heading the lead block is the first paragraph that holds a candidate
//! sentence; with headings but no abstract it is the first paragraph before the
//! introduction that holds at least two candidates (an abstract without its heading),
//! else the introduction's first paragraph — title, authors and affiliations before it
//! are front matter, not a lead.

use std::ops::Range;

/// The kind of section a sentence is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// The abstract, or the opening paragraph of a document without one.
    Lead,
    Introduction,
    Conclusion,
    /// Anything else, front matter included.
    Body,
}

/// The structural facts about one candidate sentence the scorer uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    pub section: Section,
    /// Index of the sentence among the candidates of its lead block (0 = first), for
    /// lead sentences only.
    pub lead_rank: Option<usize>,
    /// Whether it is the last candidate of a lead block of at least two.
    pub lead_last: bool,
    /// Whether it is the first candidate of its paragraph.
    pub paragraph_first: bool,
}

/// A heading recognised in the text: where its line starts (a sentence starting
/// there or later is in its section, which covers a heading run into the prose) and
/// the section it opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Heading {
    at: usize,
    kind: Option<Section>,
}

/// The section a heading's words name, if one the scorer knows.
fn section_named(title: &str) -> Option<Section> {
    let t = title.to_lowercase();
    let t = t.trim_matches(|c: char| !c.is_alphabetic());
    let starts = |words: &[&str]| words.iter().any(|w| t.starts_with(w));
    if starts(&["abstract", "summary", "executive summary"]) {
        Some(Section::Lead)
    } else if starts(&["introduction", "background", "motivation"]) {
        Some(Section::Introduction)
    } else if starts(&["conclusion", "concluding", "discussion", "summary and"]) {
        Some(Section::Conclusion)
    } else {
        None
    }
}

/// Strip a section number ("1", "2.3.", "IV.", "A.") from the start of a heading line.
fn strip_number(line: &str) -> &str {
    let first = line.split_whitespace().next().unwrap_or("");
    let numeric = !first.is_empty()
        && first
            .trim_end_matches('.')
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.')
        && first.chars().next().is_some_and(|c| c.is_ascii_digit());
    let roman = first.ends_with('.')
        && first.len() <= 5
        && first[..first.len() - 1]
            .chars()
            .all(|c| matches!(c, 'I' | 'V' | 'X' | 'A'..='H'));
    if numeric || roman {
        line[first.len()..].trim_start()
    } else {
        line
    }
}

/// The heading a line is, if it is one: a short line without a closing full stop that
/// is either numbered, in capitals, or names a known section; or a line that starts
/// with "Abstract" followed by punctuation and the abstract itself.
fn heading(line: &str, at: usize) -> Option<Heading> {
    let trimmed = line.trim();
    let lower = trimmed.to_lowercase();
    for word in ["abstract", "summary"] {
        if lower.starts_with(word) {
            let rest = &trimmed[word.len()..];
            let sep = rest.chars().next();
            if matches!(sep, Some('.' | ':' | '—' | '–' | '-')) && rest.trim().len() > 20 {
                return Some(Heading {
                    at,
                    kind: Some(Section::Lead),
                });
            }
        }
    }
    let words = trimmed.split_whitespace().count();
    if words == 0 || words > 8 || (trimmed.ends_with(['.', ',', ';', ':']) && words > 1) {
        return None;
    }
    let title = strip_number(trimmed);
    let kind = section_named(title);
    let numbered = title.len() < trimmed.len() && title.starts_with(char::is_uppercase);
    let letters: Vec<char> = title.chars().filter(|c| c.is_alphabetic()).collect();
    let capitals = letters.len() >= 4 && letters.iter().all(|c| c.is_uppercase());
    let named = kind.is_some() && words <= 4;
    (numbered || capitals || named).then_some(Heading { at, kind })
}

/// The headings of `text`, in order.
fn headings(text: &str) -> Vec<Heading> {
    let mut out = Vec::new();
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        if let Some(h) = heading(body, at) {
            out.push(h);
        }
        at += line.len();
    }
    out
}

/// Byte offsets where paragraphs start: the text start and after each blank line.
fn paragraph_starts(text: &str) -> Vec<usize> {
    let mut out = vec![0];
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(p) = text[i..].find('\n') {
        let nl = i + p;
        let mut j = nl + 1;
        while j < bytes.len() && matches!(bytes[j], b' ' | b'\t' | b'\r' | b'\x0c') {
            j += 1;
        }
        if j < bytes.len() && bytes[j] == b'\n' {
            out.push(j + 1);
        }
        i = nl + 1;
    }
    out
}

/// The place of each candidate sentence (`spans`, in document order) in `text`.
pub fn layout(text: &str, spans: &[Range<usize>]) -> Vec<Place> {
    let paras = paragraph_starts(text);
    let para_of = |at: usize| paras.partition_point(|&p| p <= at).saturating_sub(1);
    let heads = headings(text);
    // The section of each sentence: that of the last heading that opens before it.
    let mut sections: Vec<Section> = spans
        .iter()
        .map(|s| {
            let i = heads.partition_point(|h| h.at <= s.start);
            i.checked_sub(1)
                .and_then(|i| heads[i].kind)
                .unwrap_or(Section::Body)
        })
        .collect();
    if !sections.contains(&Section::Lead) {
        let intro = sections.iter().position(|s| *s == Section::Introduction);
        let mut per_para = std::collections::BTreeMap::<usize, usize>::new();
        for s in spans.iter().take(intro.unwrap_or(spans.len())) {
            *per_para.entry(para_of(s.start)).or_default() += 1;
        }
        let need = if heads.is_empty() { 1 } else { 2 };
        let lead_para = per_para
            .iter()
            .find(|(_, n)| **n >= need)
            .map(|(p, _)| *p)
            .or_else(|| intro.map(|i| para_of(spans[i].start)));
        if let Some(p) = lead_para {
            for (sec, s) in sections.iter_mut().zip(spans) {
                if para_of(s.start) == p {
                    *sec = Section::Lead;
                }
            }
        }
    }
    let lead_total = sections.iter().filter(|s| **s == Section::Lead).count();
    let mut lead_seen = 0;
    let mut places = Vec::with_capacity(spans.len());
    for (i, (sec, s)) in sections.iter().zip(spans).enumerate() {
        let lead_rank = (*sec == Section::Lead).then(|| {
            lead_seen += 1;
            lead_seen - 1
        });
        places.push(Place {
            section: *sec,
            lead_rank,
            lead_last: lead_total >= 2 && lead_rank == Some(lead_total - 1),
            paragraph_first: i == 0 || para_of(spans[i - 1].start) != para_of(s.start),
        });
    }
    places
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::prose_sentences;

    fn places(text: &str) -> Vec<(String, Place)> {
        let spans = prose_sentences(text);
        let spans: Vec<_> = spans
            .into_iter()
            .filter(|s| text[s.clone()].split_whitespace().count() >= 4)
            .collect();
        layout(text, &spans)
            .into_iter()
            .zip(&spans)
            .map(|(p, s)| (text[s.clone()].to_owned(), p))
            .collect()
    }

    #[test]
    fn headings_name_sections() {
        let text = "A Title For The Paper\n\nJane Doe\nSome University\n\nABSTRACT\n\n\
            We study the thing in depth here. It works well on all data.\n\n\
            1. INTRODUCTION\n\nThe thing matters to many people now. Others have tried it before.\n\n\
            2 Method\n\nWe do a careful step by step.\n\n\
            5 Conclusions\n\nThe thing is solved by our method.\n";
        let p = places(text);
        let sec = |needle: &str| p.iter().find(|(s, _)| s.contains(needle)).unwrap().1;
        assert_eq!(sec("We study").section, Section::Lead);
        assert_eq!(sec("We study").lead_rank, Some(0));
        assert!(sec("It works").lead_last);
        assert_eq!(sec("matters").section, Section::Introduction);
        assert!(sec("matters").paragraph_first);
        assert!(!sec("Others have").paragraph_first);
        assert_eq!(sec("careful").section, Section::Body);
        assert_eq!(sec("solved").section, Section::Conclusion);
    }

    #[test]
    fn an_abstract_run_into_its_heading_is_the_lead() {
        let text = "Title Here\n\nAbstract—We present a new parser for things. It is fast.\n\n\
            I. INTRODUCTION\n\nParsing is old and well known by now.\n";
        let p = places(text);
        assert_eq!(p[0].0, "Abstract—We present a new parser for things.");
        assert_eq!(p[0].1.section, Section::Lead);
        assert_eq!(p[1].1.section, Section::Introduction);
    }

    #[test]
    fn without_headings_the_first_paragraph_is_the_lead() {
        let text = "The council voted on the budget today after a long debate. \
            The vote was close in the end.\n\n\
            Members argued about the cost of roads for hours.\n";
        let p = places(text);
        assert_eq!(p[0].1.section, Section::Lead);
        assert!(p[1].1.lead_last);
        assert_eq!(p[2].1.section, Section::Body);
        assert_eq!(p[2].1.lead_rank, None);
    }

    #[test]
    fn front_matter_is_not_the_lead_when_there_is_no_abstract() {
        let text = "A Paper Title\n\nJane Doe, Some Big University of Places\n\n\
            1 Introduction\n\nParsing is old and well known by now. We make it fast.\n\n\
            2 Method\n\nWe cut the input into many small pieces.\n";
        let p = places(text);
        let lead: Vec<&str> = p
            .iter()
            .filter(|(_, p)| p.section == Section::Lead)
            .map(|(s, _)| s.as_str())
            .collect();
        assert_eq!(
            lead,
            ["Parsing is old and well known by now.", "We make it fast."]
        );
    }
}
