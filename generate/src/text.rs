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
