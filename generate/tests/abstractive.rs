//! Abstractive summaries with the real default generator (SmolLM2-135M-Instruct Q4_1,
//! provisioned by `docket models fetch`): what comes back is checked against the
//! document, and the cache spares every call it can. A counting adapter around the
//! model records each call, so the tests see exactly what was asked.
//!
//! Skipped, with a SKIPPED line, when the model file is absent.

use std::ops::ControlFlow;
use std::sync::{Mutex, OnceLock};

use docket_generate::summarize::Budget;
use docket_generate::summarize::abstractive::{
    AbstractiveConfig, AbstractiveSummarizer, AbstractiveSummary, MemoryCache, pieces,
};
use docket_generate::{
    Completion, ContinuationScore, GenerateParams, Llm, LocalLlm, Prompt, Result,
};

const DOC: &str = include_str!("fixtures/abstractive_doc.txt");

/// The default model, or `None` (after a SKIPPED line) when it is not provisioned.
fn llm() -> Option<&'static LocalLlm> {
    static LLM: OnceLock<Result<LocalLlm, String>> = OnceLock::new();
    let found = LLM.get_or_init(|| match docket_generate::find_default_model() {
        Ok(path) => Ok(LocalLlm::load(&path).expect("load the default model")),
        Err(e) => Err(e.to_string()),
    });
    match found {
        Ok(llm) => Some(llm),
        Err(why) => {
            skipped(why);
            None
        }
    }
}

#[expect(
    clippy::print_stderr,
    reason = "a skipped test must say so in the test output"
)]
fn skipped(why: &str) {
    eprintln!("SKIPPED: {why}");
}

/// Passes calls to the real model and records the user message of each.
struct Counting<'a> {
    inner: &'a dyn Llm,
    prompts: Mutex<Vec<String>>,
}

impl<'a> Counting<'a> {
    fn new(inner: &'a dyn Llm) -> Self {
        Counting {
            inner,
            prompts: Mutex::new(Vec::new()),
        }
    }

    /// The prompts recorded since the last call, emptied.
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.prompts.lock().unwrap())
    }
}

impl Llm for Counting<'_> {
    fn model_id(&self) -> &str {
        self.inner.model_id()
    }

    fn generate(
        &self,
        prompt: &Prompt,
        params: &GenerateParams,
        on_text: &mut dyn FnMut(&str) -> ControlFlow<()>,
    ) -> Result<Completion> {
        let user = match prompt {
            Prompt::Chat(m) => m.last().map(|m| m.content.clone()).unwrap_or_default(),
            Prompt::Raw(t) => t.clone(),
        };
        self.prompts.lock().unwrap().push(user);
        self.inner.generate(prompt, params, on_text)
    }

    fn score(&self, prompt: &Prompt, continuations: &[&str]) -> Result<Vec<ContinuationScore>> {
        self.inner.score(prompt, continuations)
    }
}

/// Small pieces and short answers: a multi-piece document that runs in seconds.
fn config() -> AbstractiveConfig {
    AbstractiveConfig {
        budget: Budget::Sentences(2),
        piece_tokens: 120,
        chars_per_token: 3.5,
        partial_sentences: 2,
        partial_max_tokens: 48,
        final_max_tokens: 80,
        ..AbstractiveConfig::default()
    }
}

fn is_reduce(prompt: &str) -> bool {
    prompt.contains("summarize consecutive parts of one document")
}

/// The model wrote something, and every kept sentence points at a span of `text` that
/// holds most of its content terms and every number it states. (Which sentences of a
/// 135M model survive the check depends on its exact numerics: all may be dropped.)
#[track_caller]
fn assert_traceable(s: &AbstractiveSummary, text: &str) {
    assert!(!s.draft.is_empty(), "the model wrote nothing: {s:#?}");
    for c in &s.dropped {
        assert!(!c.supported && c.note.is_some(), "{c:#?}");
    }
    for c in &s.sentences {
        assert!(c.supported, "{c:#?}");
        let ev = c.support.as_ref().expect("a kept sentence has its span");
        assert_eq!(&text[ev.start..ev.end], ev.text);
        assert!(ev.term_support >= config().min_term_support, "{c:#?}");
        for n in c
            .text
            .split(|ch: char| !ch.is_ascii_digit())
            .filter(|n| !n.is_empty())
        {
            assert!(text.contains(n), "{n} is not in the document: {c:#?}");
        }
    }
}

#[test]
fn summaries_are_traceable_and_cached_and_an_edit_redoes_only_its_piece() {
    let Some(model) = llm() else { return };
    let llm = Counting::new(model);
    let cache = MemoryCache::default();
    let summarizer = AbstractiveSummarizer::new(&llm, config())
        .unwrap()
        .with_cache(&cache);
    let cut = pieces(DOC, config().piece_chars());
    assert!(cut.len() >= 3, "the fixture should take several pieces");

    // (a) A summary comes back, and each kept sentence is supported by the document.
    let first = summarizer.summarize(DOC).unwrap();
    assert_traceable(&first, DOC);
    assert_eq!(first.pieces, cut.len());
    let calls = llm.take();
    assert_eq!(first.llm_calls, calls.len());
    assert_eq!(
        calls.iter().filter(|p| !is_reduce(p)).count(),
        cut.len(),
        "one map call per piece"
    );
    assert!(calls.iter().any(|p| is_reduce(p)));

    // (b) The same text again: everything comes from the cache.
    let again = summarizer.summarize(DOC).unwrap();
    assert!(llm.take().is_empty(), "no call on an unchanged document");
    assert_eq!(again.llm_calls, 0);
    assert_eq!(again.cache_hits, first.llm_calls);
    assert_eq!(again.text(), first.text());

    // (c) Rewrite one sentence of the second piece: that piece and the reduce are redone,
    // nothing else.
    let old = "The temporary branch lends books and offers internet access on weekdays.";
    let new = "The temporary branch is open from nine to five and lends laptops to students.";
    assert!(DOC[cut[1].clone()].contains(old));
    let edited = DOC.replacen(old, new, 1);
    let after = pieces(&edited, config().piece_chars());
    assert_eq!(after.len(), cut.len(), "the edit moves no cut");
    let third = summarizer.summarize(&edited).unwrap();
    let calls = llm.take();
    let maps: Vec<&String> = calls.iter().filter(|p| !is_reduce(p)).collect();
    assert_eq!(maps.len(), 1, "{calls:#?}");
    assert!(maps[0].contains(new), "the map call is the edited piece's");
    // The rest are reduce calls (one, or more when the partial summaries are long
    // enough to be combined in groups first): no unchanged piece is summarized again.
    assert!(
        calls.len() >= 2 && calls.iter().filter(|p| is_reduce(p)).count() == calls.len() - 1,
        "the edited piece and the reduce: {calls:#?}"
    );
    assert_eq!(third.llm_calls, calls.len());
    assert!(third.cache_hits >= cut.len() - 1);
    assert_traceable(&third, &edited);
}

#[test]
fn a_short_document_takes_one_call() {
    let Some(model) = llm() else { return };
    let llm = Counting::new(model);
    let text = DOC.split("\n\n").nth(1).unwrap();
    let s = AbstractiveSummarizer::new(&llm, config())
        .unwrap()
        .summarize(text)
        .unwrap();
    assert_eq!((s.pieces, s.llm_calls, s.cache_hits), (1, 1, 0));
    assert_eq!(llm.take().len(), 1);
    assert_traceable(&s, text);
}
