//! Text units shared by classification, summarization and their metrics: sentences
//! with byte offsets, lexical words for TF-IDF, and ROUGE's tokens.
//!
//! Sentences use Unicode sentence boundaries (UAX #29, via `unicode-segmentation`), the
//! same rule ingest's chunker cuts at, so a summary sentence never straddles a chunk
//! boundary that ingest considered a sentence start.

use std::ops::Range;

use rust_stemmers::{Algorithm, Stemmer};
use unicode_segmentation::UnicodeSegmentation;

/// Byte ranges of the sentences of `text`, in order, each trimmed of surrounding
/// whitespace (so `&text[range]` is the sentence as a reader sees it); sentences that
/// are only whitespace are dropped. Line and paragraph breaks end a sentence, as in
/// UAX #29, which keeps headings and list items apart from the prose around them.
pub fn sentence_spans(text: &str) -> Vec<Range<usize>> {
    text.split_sentence_bound_indices()
        .filter_map(|(start, s)| {
            let lead = s.len() - s.trim_start().len();
            let trimmed = s.trim();
            (!trimmed.is_empty()).then(|| start + lead..start + lead + trimmed.len())
        })
        .collect()
}

/// Sentences of prose as it comes out of files: Unicode sentence boundaries break at
/// every line feed, which cuts hard-wrapped prose (text files, PDF lines, indented
/// bullet items) mid-sentence; so a single line break inside a paragraph is read as a
/// space, unless the line before ends a sentence or the next line starts a list item
/// (`-`, `*`, `•`, `1.`, `2)`) or either line is a table row (`a | b`). A list marker
/// at the start of a sentence is left out of its range. Ranges slice `text`.
pub fn prose_sentences(text: &str) -> Vec<Range<usize>> {
    let bytes = text.as_bytes();
    // `at` may fall inside a multi-byte character (the byte before a line feed is the
    // last byte of a curly quote, say); the line is the same from its first byte.
    let line_at = |at: usize| -> &str {
        let at = floor_char_boundary(text, at);
        let start = text[..at].rfind('\n').map_or(0, |p| p + 1);
        let end = text[at..].find('\n').map_or(text.len(), |p| at + p);
        &text[start..end]
    };
    let is_table = |line: &str| line.contains('|');
    // A short line that starts a paragraph (after a blank line, a finished sentence or
    // at the start) is a heading, not the first line of a wrapped paragraph.
    let is_heading = |line_start: usize, line: &str| {
        let before = text[..line_start].trim_end_matches([' ', '\t', '\n', '\x0c']);
        let starts_paragraph = before.is_empty()
            || text[before.len()..line_start].matches('\n').count() >= 2
            || before.ends_with(['.', '!', '?', ':'].as_slice());
        let body = line.trim();
        starts_paragraph
            && body.split_whitespace().count() <= 6
            && list_marker(body).is_none()
            && !body.contains(". ")
            && !body.starts_with(char::is_lowercase)
    };
    let mut joined = String::with_capacity(text.len());
    for (i, c) in text.char_indices() {
        let soft = c == '\n' && i > 0 && bytes[i - 1] != b'\n' && {
            let prev = line_at(i - 1);
            let prev_start = i - prev.len();
            let next = line_at((i + 1).min(text.len()));
            let ends = prev
                .trim_end()
                .ends_with(['.', '!', '?', ':', ';'].as_slice());
            let next_body = next.trim_start();
            !ends
                && !next_body.is_empty()
                && !next_body.starts_with('\x0c')
                && list_marker(next_body).is_none()
                && !is_table(prev)
                && !is_table(next)
                // A line going on in lower case continues the one before.
                && (!is_heading(prev_start, prev) || next_body.starts_with(char::is_lowercase))
        };
        joined.push(if soft { ' ' } else { c });
    }
    joined
        .split_sentence_bound_indices()
        .filter(|(_, s)| s.chars().any(char::is_alphanumeric))
        // "1." alone: the numbering of a list item, split off by the boundary rules.
        .filter(|(_, s)| {
            list_marker(&format!("{} ", s.trim())).is_none_or(|n| n < s.trim().len() + 1)
        })
        .map(|(i, s)| {
            let mut start = i + (s.len() - s.trim_start().len());
            let end = start + s.trim().len();
            if let Some(n) = list_marker(&text[start..end]) {
                let rest = &text[start + n..end];
                start += n + (rest.len() - rest.trim_start().len());
            }
            start..end
        })
        .filter(|r| text[r.clone()].chars().any(char::is_alphanumeric))
        .collect()
}

/// The largest char boundary of `text` at or before byte `i` (`text.len()` past the
/// end): where a byte offset computed by arithmetic may safely cut the text.
pub fn floor_char_boundary(text: &str, i: usize) -> usize {
    if i >= text.len() {
        return text.len();
    }
    (0..=i)
        .rev()
        .find(|&b| text.is_char_boundary(b))
        .unwrap_or(0)
}

/// The smallest char boundary of `text` at or after byte `i` (`text.len()` past the
/// end).
pub fn ceil_char_boundary(text: &str, i: usize) -> usize {
    (i..text.len())
        .find(|&b| text.is_char_boundary(b))
        .unwrap_or(text.len())
}

/// `text[range]` with both ends moved outward to char boundaries and clamped to the
/// text, so an offset that arithmetic put inside a character never panics.
pub fn slice_widened(text: &str, range: Range<usize>) -> &str {
    let start = floor_char_boundary(text, range.start.min(text.len()));
    let end = ceil_char_boundary(text, range.end.max(start));
    &text[start..end]
}

/// Bytes of a list marker (`- `, `* `, `• `, `12. `, `3) `) at the start of `line`.
fn list_marker(line: &str) -> Option<usize> {
    for m in ["- ", "* ", "• ", "– "] {
        if line.starts_with(m) {
            return Some(m.len());
        }
    }
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    if (1..=3).contains(&digits) {
        let rest = &line.as_bytes()[digits..];
        if rest.len() >= 2 && matches!(rest[0], b'.' | b')') && rest[1] == b' ' {
            return Some(digits + 2);
        }
    }
    None
}

/// Lowercased words of `text` for lexical features: Unicode words (UAX #29) of at least
/// two characters, as scikit-learn's default `\b\w\w+\b` keeps, so one-letter noise
/// ("a", "I", stray initials) does not dilute the vocabulary.
pub fn lexical_words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.unicode_words()
        .filter(|w| w.chars().nth(1).is_some())
        .map(str::to_lowercase)
}

/// Words of `text` as ROUGE counts them, exactly as Google's `rouge-score` package
/// does: lowercase, every run of characters other than ASCII `a-z0-9` is a separator,
/// and with `stem` words longer than three characters are stemmed.
///
/// The stemmer is Snowball English (Porter2, `rust-stemmers`); `rouge-score` uses NLTK's
/// Porter stemmer, which differs on a few suffixes (e.g. "-ly", "-ing" after doubled
/// consonants), so stemmed scores can differ from it in the third decimal place.
/// Unstemmed scores are identical.
pub fn rouge_tokens(text: &str, stem: bool) -> Vec<String> {
    let lower = text.to_lowercase();
    let stemmer = stem.then(|| Stemmer::create(Algorithm::English));
    lower
        .split(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit()))
        .filter(|t| !t.is_empty())
        .map(|t| match &stemmer {
            Some(s) if t.len() > 3 => s.stem(t).into_owned(),
            _ => t.to_owned(),
        })
        .filter(|t| !t.is_empty())
        .collect()
}

/// Lucene's English stopwords, the list the BM25 index drops by default.
const STOPWORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these",
    "they", "this", "to", "was", "will", "with",
];

/// Content terms of `text` as docket's default BM25 analyzer sees them: runs of
/// alphanumeric characters, lowercased, stopwords dropped, Snowball-stemmed (English).
/// For checking a generated sentence against a document without an index at hand; the
/// same terms the index would give, so a check reads the same either way.
pub fn content_terms(text: &str) -> Vec<String> {
    let stemmer = Stemmer::create(Algorithm::English);
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .filter(|w| !STOPWORDS.contains(&w.as_str()))
        .map(|w| stemmer.stem(&w).into_owned())
        .collect()
}

/// Number of whitespace-separated words, the unit of word budgets.
pub fn word_count(text: &str) -> usize {
    text.split_whitespace().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prose_sentences_join_wrapped_lines_and_keep_list_items_and_table_rows_apart() {
        let text = "Results\nWe ship the new boots to every store in the\nnorth first. Then\nwe wait.\n\
                    - one item\n- two\n  wrapped items\n\n\
                    Notes:\n   - Buying team to cut\n     the order by 12%.\n   - Next bullet.\n\
                    1. First step\n2) Second step\n| a | b |\n| c | d |\nNext para.";
        let got: Vec<&str> = prose_sentences(text)
            .into_iter()
            .map(|r| &text[r])
            .collect();
        assert_eq!(
            got,
            [
                "Results",
                "We ship the new boots to every store in the\nnorth first.",
                "Then\nwe wait.",
                "one item",
                "two\n  wrapped items",
                "Notes:",
                "Buying team to cut\n     the order by 12%.",
                "Next bullet.",
                "First step",
                "Second step",
                "| a | b |",
                "| c | d |",
                "Next para."
            ]
        );
    }

    #[test]
    fn sentence_spans_slice_back_to_trimmed_sentences() {
        let text = "  First one here. Second, with a comma!\n\nA heading\nLast line ";
        let spans = sentence_spans(text);
        let got: Vec<&str> = spans.iter().map(|r| &text[r.clone()]).collect();
        assert_eq!(
            got,
            [
                "First one here.",
                "Second, with a comma!",
                "A heading",
                "Last line"
            ]
        );
    }

    #[test]
    fn sentence_spans_keep_multibyte_offsets() {
        let text = "Café déjà vu. Ünïcödé ends—here.";
        for r in sentence_spans(text) {
            assert!(text.is_char_boundary(r.start) && text.is_char_boundary(r.end));
        }
        assert_eq!(sentence_spans(text).len(), 2);
    }

    #[test]
    fn rouge_tokens_follow_rouge_score() {
        assert_eq!(
            rouge_tokens("The cat's 3.5-inch WHISKERS, café!", false),
            ["the", "cat", "s", "3", "5", "inch", "whiskers", "caf"]
        );
        assert_eq!(
            rouge_tokens("running runs ran cats", true),
            ["run", "run", "ran", "cat"]
        );
    }

    #[test]
    fn content_terms_are_stemmed_without_stopwords() {
        assert_eq!(
            content_terms("The models were running in 2 Data-Centers"),
            ["model", "were", "run", "2", "data", "center"]
        );
    }

    #[test]
    fn lexical_words_drop_single_letters() {
        let w: Vec<String> = lexical_words("I love a GOOD tea, don't you?").collect();
        assert_eq!(w, ["love", "good", "tea", "don't", "you"]);
    }
}
