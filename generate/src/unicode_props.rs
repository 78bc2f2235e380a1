//! Property tests: text with multi-byte characters (curly quotes, CJK, emoji, combining
//! marks) goes through every function that cuts text by byte offsets — sentence
//! splitting, the citation check, extraction, citation spans, the summarizers' public
//! entry points — without a panic, and every byte range they return lies inside the
//! text on char boundaries. Real documents hold such characters next to line breaks,
//! list markers and brackets, where offset arithmetic goes wrong.

use std::ops::Range;
use std::sync::Arc;

use docket_index::embed::Embedder;
use docket_ingest::Chunk;
use proptest::prelude::*;

use crate::answer::{AnswerConfig, Source, Verifier, citations, sentences};
use crate::summarize::{Summarizer, SummaryConfig, abstractive, candidates, lead};
use crate::text::{
    ceil_char_boundary, floor_char_boundary, prose_sentences, sentence_spans, slice_widened,
};

/// Pieces that stress boundaries: multi-byte characters right before line breaks,
/// list markers, brackets and sentence ends.
const PIECES: &[&str] = &[
    "’",
    "“",
    "”",
    "é",
    "e\u{301}",
    "日本語",
    "文。",
    "😀",
    "👩‍💻",
    "\n",
    "\n\n",
    " ",
    ". ",
    "? ",
    "- ",
    "• ",
    "1. ",
    "2) ",
    "[1]",
    "[2, 3]",
    "[",
    "]",
    "|",
    "\x0c",
    "Invoices",
    "are kept",
    "for 7 years",
    "per diem",
    "95 USD",
    "customer’s",
    "\u{a0}",
    "\t",
    "a",
    "Résumé",
    "1,000.5",
];

fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PIECES), 0..60).prop_map(|v| v.concat())
}

fn on_boundaries(text: &str, r: &Range<usize>) -> bool {
    r.start <= r.end
        && r.end <= text.len()
        && text.is_char_boundary(r.start)
        && text.is_char_boundary(r.end)
}

fn chunk(text: &str, start: usize) -> Chunk {
    Chunk {
        id: "doc-0".into(),
        doc_id: "doc".into(),
        ordinal: 0,
        text: text.into(),
        start,
        end: start + text.len(),
        page_start: 1,
        page_end: 2,
        heading_path: Vec::new(),
        token_count: 0,
        source: "doc.txt".into(),
        title: None,
        format: docket_ingest::Format::Text,
        metadata: Default::default(),
    }
}

/// Character-trigram counts hashed into 32 dimensions, normalised: close texts are
/// close, with no model to load.
#[derive(Debug)]
struct Trigrams;

impl Embedder for Trigrams {
    fn embed(&self, texts: &[&str]) -> docket_index::error::Result<Vec<Vec<f32>>> {
        Ok(texts
            .iter()
            .map(|t| {
                let chars: Vec<char> = t.chars().collect();
                let mut v = [0.0f32; 32];
                for w in chars.windows(3) {
                    let h = w.iter().fold(7u32, |h, c| h.wrapping_mul(31) ^ *c as u32);
                    v[(h % 32) as usize] += 1.0;
                }
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
                v.iter().map(|x| x / norm).collect()
            })
            .collect())
    }
    fn dim(&self) -> usize {
        32
    }
    fn model_id(&self) -> &str {
        "trigrams"
    }
    fn max_tokens(&self) -> usize {
        512
    }
}

fn analyze(text: &str) -> Vec<String> {
    crate::text::content_terms(text)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn sentence_splitting_and_boundary_helpers_stay_on_char_boundaries(t in text(), i in 0usize..400, j in 0usize..400) {
        for r in prose_sentences(&t).iter().chain(sentence_spans(&t).iter()) {
            prop_assert!(on_boundaries(&t, r), "{r:?} in {t:?}");
        }
        for (r, s) in sentences(&t) {
            prop_assert!(on_boundaries(&t, &r));
            prop_assert_eq!(&t[r], s);
        }
        let f = floor_char_boundary(&t, i);
        let c = ceil_char_boundary(&t, i);
        prop_assert!(t.is_char_boundary(f) && t.is_char_boundary(c) && f <= c);
        prop_assert!(f <= i.min(t.len()) && c >= i.min(t.len()));
        let _ = slice_widened(&t, i..j);
        let _ = citations(&t);
    }

    #[test]
    fn verification_and_extraction_cite_spans_on_char_boundaries(doc in text(), answer in text(), question in text(), offset in 0usize..50) {
        let config = AnswerConfig::default();
        let embedder = Trigrams;
        let sources = [Source { n: 1, chunk: chunk(&doc, offset) }];
        for embedder in [None, Some(&embedder as &dyn Embedder)] {
            let v = Verifier { config: &config, analyze: &analyze, embedder, weights: None };
            let claims = v.verify(&answer, &sources);
            let extracted = v.extract(&question, &sources);
            for c in claims.iter().chain(&extracted) {
                if let Some(s) = &c.support {
                    let r = s.start - offset..s.end - offset;
                    prop_assert!(on_boundaries(&doc, &r), "{r:?} in {doc:?}");
                    prop_assert_eq!(&doc[r], s.text.as_str());
                }
            }
            let _ = v.on_topic(&question, &answer);
        }
    }

    #[test]
    fn summarizers_return_ranges_on_char_boundaries(t in text(), max_chars in 1usize..80) {
        let config = SummaryConfig::default();
        for c in candidates(&t, &config) {
            prop_assert!(on_boundaries(&t, &c.span));
        }
        let summarizer = Summarizer::new(Arc::new(Trigrams), config.clone()).unwrap();
        for summary in [summarizer.summarize(&t).unwrap(), lead(&t, &config)] {
            for s in summary.sentences {
                prop_assert!(on_boundaries(&t, &(s.start..s.end)));
                prop_assert_eq!(&t[s.start..s.end], s.text.as_str());
            }
        }
        let _ = abstractive::clean(&t, &t);
        let _ = max_chars;
    }
}

// Fails today: `abstractive::pieces("日本語日本語\n", 1)` panics ("end byte index 20 is
// out of bounds") because `units` moves `start` past the sentence's end over the
// whitespace after it. summarize/ is being reworked on another branch; the fix belongs
// there (clamp `start` to `span.end`), then this test is un-ignored.
proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn abstractive_pieces_stay_on_char_boundaries(t in text(), max_chars in 1usize..80) {
        for r in abstractive::pieces(&t, max_chars) {
            prop_assert!(on_boundaries(&t, &r), "{r:?} in {t:?}");
        }
    }
}

#[test]
fn the_reported_panic_a_curly_quote_before_a_line_break_is_split_cleanly() {
    // The shape of the text that made `docket ask` panic: a line ending in '’'.
    let text = "The customer’\nreturns the item. It’s “fine”\n- one 日本\n";
    let got: Vec<&str> = prose_sentences(text)
        .into_iter()
        .map(|r| &text[r])
        .collect();
    assert_eq!(
        got,
        [
            "The customer’\nreturns the item.",
            "It’s “fine”",
            "one 日本"
        ]
    );
}

#[test]
fn boundary_helpers_move_offsets_out_of_characters() {
    let t = "a’b";
    // '’' is bytes 1..4.
    assert_eq!(floor_char_boundary(t, 2), 1);
    assert_eq!(ceil_char_boundary(t, 2), 4);
    assert_eq!(floor_char_boundary(t, 99), t.len());
    assert_eq!(slice_widened(t, 2..3), "’");
    assert_eq!(slice_widened(t, 9..12), "");
}
