//! Answer quality on a QA set over an index: per answer strategy, how often the answer
//! holds an expected phrase, whether its citations point into the expected files, how
//! well it abstains on questions the documents do not answer, whether any unsupported
//! sentence was kept, and the time per question.
//!
//! The QA set is JSON Lines, one question a line: `{"id", "question", "answers":
//! [phrases], "sources": [file names]}`. A question without `answers` is unanswerable
//! from the documents: the right response is an abstention. A phrase matches when it
//! occurs in the answer, case and runs of whitespace aside (PDF text wraps anywhere).

use std::path::Path;
use std::time::Instant;

use docket_index::Index;
use serde::{Deserialize, Serialize};

use crate::Llm;
use crate::answer::{Abstention, Answer, AnswerStrategy, AskOptions, ask};
use crate::error::{Error, Result};

/// One question of a QA set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QaItem {
    pub id: String,
    pub question: String,
    /// Phrases any one of which in the answer makes it right; empty: unanswerable.
    #[serde(default)]
    pub answers: Vec<String>,
    /// File names (or paths relative to the indexed folder) that hold the answer.
    #[serde(default)]
    pub sources: Vec<String>,
}

impl QaItem {
    pub fn answerable(&self) -> bool {
        !self.answers.is_empty()
    }
}

/// The questions of a QA set (JSON Lines), in file order.
pub fn read_qa_set(path: &Path) -> Result<Vec<QaItem>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| Error::Parse {
                path: path.to_owned(),
                line: i + 1,
                reason: e.to_string(),
            })
        })
        .collect()
}

/// How one question went.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QaOutcome {
    pub id: String,
    pub answerable: bool,
    pub abstained: bool,
    /// Why it abstained: nothing relevant retrieved, or nothing supported.
    pub abstention: Option<Abstention>,
    /// An expected phrase occurs in the answer.
    pub correct: bool,
    /// The answer is the extractive fallback of an LLM answer that kept nothing.
    pub fallback: bool,
    /// Cited spans, and those in an expected source file.
    pub spans: usize,
    pub spans_in_expected: usize,
    /// Kept sentences without support (the check's promise is that there are none).
    pub unsupported_kept: usize,
    pub answer: Option<String>,
}

/// The figures of one strategy over a QA set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnswerMetrics {
    pub questions: usize,
    pub answerable: usize,
    /// Answerable questions whose answer holds an expected phrase, over all answerable.
    pub accuracy: f64,
    /// Cited spans in an expected file, over all spans cited for answerable questions
    /// (`None` when nothing was cited).
    pub citation_precision: Option<f64>,
    /// Abstentions on unanswerable questions, over all abstentions (`None`: none).
    pub abstention_precision: Option<f64>,
    /// Unanswerable questions abstained on, over all unanswerable (`None`: none).
    pub abstention_recall: Option<f64>,
    /// Kept sentences that the check did not support, over all questions: must be 0.
    pub unsupported_kept: usize,
    /// Answers that are an LLM answer's extractive fallback.
    pub fallbacks: usize,
    pub seconds_per_question: f64,
}

/// One strategy's run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StrategyRun {
    pub strategy: AnswerStrategy,
    pub metrics: AnswerMetrics,
    pub outcomes: Vec<QaOutcome>,
}

/// The report of [`eval_answers`]: one run per strategy, in the order asked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnswerEvalReport {
    pub model: Option<String>,
    pub runs: Vec<StrategyRun>,
}

/// Lowercase with every run of whitespace one space: how phrases are matched.
fn normalized(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Whether the cited `source` (a path as indexed) is the expected file `want` (a file
/// name, or a path's tail).
fn same_source(source: &str, want: &str) -> bool {
    source == want || source.ends_with(&format!("/{want}"))
}

/// How `answer` fares on `item`.
pub fn judge(item: &QaItem, answer: &Answer) -> QaOutcome {
    let text = answer.answer.as_deref().map(normalized);
    let correct = text
        .as_deref()
        .is_some_and(|t| item.answers.iter().any(|a| t.contains(&normalized(a))));
    let spans: Vec<&str> = answer
        .sources
        .iter()
        .flat_map(|s| s.spans.iter().map(move |_| s.source.as_str()))
        .collect();
    let spans_in_expected = spans
        .iter()
        .filter(|s| item.sources.iter().any(|w| same_source(s, w)))
        .count();
    QaOutcome {
        id: item.id.clone(),
        answerable: item.answerable(),
        abstained: answer.abstained.is_some(),
        abstention: answer.abstained,
        correct,
        fallback: answer.fallback.is_some(),
        spans: spans.len(),
        spans_in_expected,
        unsupported_kept: answer
            .claims
            .iter()
            .filter(|c| !c.supported || c.support.is_none())
            .count(),
        answer: answer.answer.clone(),
    }
}

/// The figures over `outcomes`, which took `seconds` in all.
pub fn metrics(outcomes: &[QaOutcome], seconds: f64) -> AnswerMetrics {
    let ratio = |num: usize, den: usize| (den > 0).then(|| num as f64 / den as f64);
    let answerable: Vec<&QaOutcome> = outcomes.iter().filter(|o| o.answerable).collect();
    let unanswerable = outcomes.len() - answerable.len();
    let abstained = outcomes.iter().filter(|o| o.abstained).count();
    let right_abstentions = outcomes
        .iter()
        .filter(|o| o.abstained && !o.answerable)
        .count();
    let spans: usize = answerable.iter().map(|o| o.spans).sum();
    let in_expected: usize = answerable.iter().map(|o| o.spans_in_expected).sum();
    AnswerMetrics {
        questions: outcomes.len(),
        answerable: answerable.len(),
        accuracy: ratio(
            answerable.iter().filter(|o| o.correct).count(),
            answerable.len(),
        )
        .unwrap_or(0.0),
        citation_precision: ratio(in_expected, spans),
        abstention_precision: ratio(right_abstentions, abstained),
        abstention_recall: ratio(right_abstentions, unanswerable),
        unsupported_kept: outcomes.iter().map(|o| o.unsupported_kept).sum(),
        fallbacks: outcomes.iter().filter(|o| o.fallback).count(),
        seconds_per_question: seconds / outcomes.len().max(1) as f64,
    }
}

/// Ask every question of `items` of `index` with each of `strategies` (the rest of
/// `options` as given), and measure. `progress` hears each strategy and question
/// number after it is answered.
pub fn eval_answers(
    index: &Index,
    items: &[QaItem],
    strategies: &[AnswerStrategy],
    options: &AskOptions,
    llm: Option<&dyn Llm>,
    progress: &mut dyn FnMut(AnswerStrategy, usize),
) -> Result<AnswerEvalReport> {
    let mut runs = Vec::new();
    for &strategy in strategies {
        let options = AskOptions {
            strategy,
            ..options.clone()
        };
        let started = Instant::now();
        let mut outcomes = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let answer = ask(index, &item.question, &options, llm)?;
            outcomes.push(judge(item, &answer));
            progress(strategy, i + 1);
        }
        let seconds = started.elapsed().as_secs_f64();
        runs.push(StrategyRun {
            strategy,
            metrics: metrics(&outcomes, seconds),
            outcomes,
        });
    }
    Ok(AnswerEvalReport {
        model: llm.map(|l| l.model_id().to_owned()),
        runs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answer::{AnswerMode, CitedSource, CitedSpan};
    use docket_index::Mode;

    fn item(id: &str, answers: &[&str], sources: &[&str]) -> QaItem {
        QaItem {
            id: id.into(),
            question: format!("question {id}?"),
            answers: answers.iter().map(|s| s.to_string()).collect(),
            sources: sources.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn answer(text: Option<&str>, cited: &[&str]) -> Answer {
        Answer {
            question: "q".into(),
            answer: text.map(str::to_owned),
            abstained: text.is_none().then_some(Abstention::NothingRelevant),
            mode: AnswerMode::Extractive,
            model: None,
            retrieval: Mode::Hybrid,
            claims: Vec::new(),
            dropped: Vec::new(),
            sources: cited
                .iter()
                .enumerate()
                .map(|(n, s)| CitedSource {
                    n: n + 1,
                    source: s.to_string(),
                    doc_id: "d".into(),
                    chunk_id: "c".into(),
                    title: None,
                    page_start: 1,
                    page_end: 1,
                    spans: vec![CitedSpan {
                        start: 0,
                        end: 1,
                        page: 1,
                        text: "x".into(),
                    }],
                })
                .collect(),
            fallback: None,
            retrieved: Vec::new(),
        }
    }

    #[test]
    fn phrases_match_across_case_and_line_breaks_and_sources_by_file_name() {
        let q = item("1", &["three days a week"], &["remote-work.md"]);
        let a = answer(
            Some("Staff may work from home up to Three days\na week [1]."),
            &["policies/remote-work.md", "policies/travel.md"],
        );
        let o = judge(&q, &a);
        assert!(o.correct && !o.abstained);
        assert_eq!((o.spans, o.spans_in_expected), (2, 1));
        assert!(!judge(&q, &answer(Some("Two days [1]."), &[])).correct);
        let abstained = judge(&q, &answer(None, &[]));
        assert_eq!(abstained.abstention, Some(Abstention::NothingRelevant));
        assert!(!same_source(
            "policies/not-remote-work.md",
            "remote-work.md"
        ));
    }

    #[test]
    fn metrics_on_a_tiny_set() {
        let set = [
            (
                item("a", &["7 years"], &["retention.md"]),
                answer(Some("Kept 7 years."), &["retention.md"]),
            ),
            (
                item("b", &["95 USD"], &["travel.md"]),
                answer(Some("Per diem 65 USD."), &["retention.md"]),
            ),
            (item("c", &["USB"], &["it.md"]), answer(None, &[])),
            (item("d", &[], &[]), answer(None, &[])),
            (item("e", &[], &[]), answer(Some("Something."), &["x.md"])),
        ];
        let outcomes: Vec<QaOutcome> = set.iter().map(|(q, a)| judge(q, a)).collect();
        let m = metrics(&outcomes, 10.0);
        assert_eq!((m.questions, m.answerable), (5, 3));
        assert!((m.accuracy - 1.0 / 3.0).abs() < 1e-9);
        // Spans of answerable questions: a's (right), b's (wrong); e's do not count.
        assert_eq!(m.citation_precision, Some(0.5));
        // Abstained on c (answerable) and d (unanswerable); e answered.
        assert_eq!(m.abstention_precision, Some(0.5));
        assert_eq!(m.abstention_recall, Some(0.5));
        assert_eq!(m.unsupported_kept, 0);
        assert!((m.seconds_per_question - 2.0).abs() < 1e-9);
    }

    #[test]
    fn a_qa_set_is_read_line_by_line_and_rejects_unknown_fields() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("qa.jsonl");
        std::fs::write(
            &path,
            "{\"id\":\"1\",\"question\":\"How long?\",\"answers\":[\"7 years\"],\"sources\":[\"r.md\"]}\n\n{\"id\":\"2\",\"question\":\"Who?\"}\n",
        )
        .unwrap();
        let set = read_qa_set(&path).unwrap();
        assert_eq!(set.len(), 2);
        assert!(set[0].answerable() && !set[1].answerable());
        std::fs::write(
            &path,
            "{\"id\":\"1\",\"question\":\"q\",\"answer\":\"x\"}\n",
        )
        .unwrap();
        assert!(matches!(
            read_qa_set(&path),
            Err(Error::Parse { line: 1, .. })
        ));
    }
}
