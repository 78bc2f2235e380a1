//! The records the generate stage's use cases produce, one type per kind of result, so
//! that one fact has one field name everywhere: in `docket ... --json`, in job outputs
//! and in any other front end.
//!
//! - [`PredictionRecord`]: one classified document (JSON, or a CSV row of
//!   [`PREDICTION_COLUMNS`]).
//! - [`SummaryRecord`]: one summarized document, extractive or abstractive.
//! - [`Answer`]: one answered question (see [`crate::answer::ask`]).

use serde::Serialize;

pub use crate::answer::{Abstention, Answer, AnswerMode, CitedSource, CitedSpan};
use crate::classify::{LabelScore, Prediction};
use crate::summarize::abstractive::{AbstractiveSummary, SummaryClaim};
use crate::summarize::{Summary, SummarySentence};

/// The columns of a CSV of classified documents, in order.
pub const PREDICTION_COLUMNS: [&str; 7] = [
    "doc_id",
    "source",
    "label",
    "confidence",
    "runner_up",
    "runner_up_score",
    "labels",
];

/// One classified document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PredictionRecord {
    pub doc_id: String,
    pub source: String,
    /// The best label.
    pub label: String,
    pub confidence: f32,
    pub runner_up: Option<String>,
    pub runner_up_score: Option<f32>,
    /// The labels given (the best one alone, or every label above the threshold in
    /// multi-label mode), with their scores.
    pub labels: Vec<LabelScore>,
}

impl PredictionRecord {
    pub fn new(doc_id: &str, source: &str, p: &Prediction) -> Self {
        PredictionRecord {
            doc_id: doc_id.to_owned(),
            source: source.to_owned(),
            label: p.label.clone(),
            confidence: p.confidence,
            runner_up: p.runner_up.as_ref().map(|r| r.label.clone()),
            runner_up_score: p.runner_up.as_ref().map(|r| r.score),
            labels: p.labels.clone(),
        }
    }

    /// The record as a CSV row of [`PREDICTION_COLUMNS`]: scores to 4 decimals, an
    /// absent runner-up as empty cells, the label names joined by `|`.
    pub fn csv_row(&self) -> [String; 7] {
        let labels: Vec<&str> = self.labels.iter().map(|l| l.label.as_str()).collect();
        [
            self.doc_id.clone(),
            self.source.clone(),
            self.label.clone(),
            format!("{:.4}", self.confidence),
            self.runner_up.clone().unwrap_or_default(),
            self.runner_up_score
                .map_or(String::new(), |s| format!("{s:.4}")),
            labels.join("|"),
        ]
    }
}

/// How a summary was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SummaryMode {
    /// The document's most central sentences.
    Extractive,
    /// An LLM's summary, each sentence checked against the document.
    Abstractive,
}

/// The sentences of a summary: the document's own (extractive), or the model's with
/// the span that supports each (abstractive).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum SummarySentences {
    Extractive(Vec<SummarySentence>),
    Abstractive(Vec<SummaryClaim>),
}

/// One summarized document. The cost fields (`pieces`, `llm_calls`, `cache_hits`) say
/// what one run paid and are left out of records that outlive the run (job outputs,
/// see [`SummaryRecord::without_costs`]); `verbatim` is for abstractive summaries only.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SummaryRecord {
    pub doc_id: String,
    pub source: String,
    /// The document's title, null when it has none or it is not known.
    pub title: Option<String>,
    pub mode: SummaryMode,
    /// The embedder (extractive) or LLM (abstractive) that made the summary.
    pub model: String,
    /// The kept sentences joined by spaces.
    pub summary: String,
    pub sentences: SummarySentences,
    /// Sentences of the model's summary the document does not support (always empty
    /// for an extractive summary).
    pub dropped: Vec<SummaryClaim>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pieces: Option<usize>,
    /// Pieces summarized, when fewer than `pieces` (a document longer than
    /// `max_pieces`: the summary reads pieces spread over it, not all of it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pieces_read: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verbatim: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub llm_calls: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_hits: Option<usize>,
}

impl SummaryRecord {
    /// An extractive summary made with the embedder `model`.
    pub fn extractive(
        doc_id: &str,
        source: &str,
        title: Option<&str>,
        model: &str,
        summary: &Summary,
    ) -> Self {
        SummaryRecord {
            doc_id: doc_id.to_owned(),
            source: source.to_owned(),
            title: title.map(str::to_owned),
            mode: SummaryMode::Extractive,
            model: model.to_owned(),
            summary: summary.text(),
            sentences: SummarySentences::Extractive(summary.sentences.clone()),
            dropped: Vec::new(),
            pieces: None,
            pieces_read: None,
            verbatim: None,
            llm_calls: Some(0),
            cache_hits: Some(0),
        }
    }

    /// An abstractive summary.
    pub fn abstractive(
        doc_id: &str,
        source: &str,
        title: Option<&str>,
        summary: &AbstractiveSummary,
    ) -> Self {
        SummaryRecord {
            doc_id: doc_id.to_owned(),
            source: source.to_owned(),
            title: title.map(str::to_owned),
            mode: SummaryMode::Abstractive,
            model: summary.model.clone(),
            summary: summary.text(),
            sentences: SummarySentences::Abstractive(summary.sentences.clone()),
            dropped: summary.dropped.clone(),
            pieces: Some(summary.pieces),
            pieces_read: (summary.pieces_read < summary.pieces).then_some(summary.pieces_read),
            verbatim: Some(summary.verbatim),
            llm_calls: Some(summary.llm_calls),
            cache_hits: Some(summary.cache_hits),
        }
    }

    /// The record without what the run cost (pieces, calls, cache hits): what a
    /// document's summary is, for outputs kept across runs.
    pub fn without_costs(self) -> Self {
        SummaryRecord {
            pieces: None,
            pieces_read: None,
            llm_calls: None,
            cache_hits: None,
            ..self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summarize::abstractive::Evidence;

    /// The keys of a JSON object, in order (today's outputs keep their keys' order).
    fn keys(v: &serde_json::Value) -> Vec<&str> {
        v.as_object().unwrap().keys().map(String::as_str).collect()
    }

    #[test]
    fn a_prediction_is_the_json_row_and_the_csv_row_of_docket_classify() {
        let p = Prediction {
            label: "billing".into(),
            confidence: 0.91234,
            runner_up: Some(LabelScore {
                label: "shipping".into(),
                score: 0.05,
            }),
            labels: vec![
                LabelScore {
                    label: "billing".into(),
                    score: 0.91234,
                },
                LabelScore {
                    label: "refunds".into(),
                    score: 0.6,
                },
            ],
        };
        let r = PredictionRecord::new("d1", "a.txt", &p);
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(keys(&v), PREDICTION_COLUMNS);
        assert_eq!(v["runner_up"], "shipping");
        assert_eq!(v["labels"][1]["label"], "refunds");
        assert_eq!(
            r.csv_row(),
            [
                "d1",
                "a.txt",
                "billing",
                "0.9123",
                "shipping",
                "0.0500",
                "billing|refunds"
            ]
        );
        let alone = PredictionRecord::new(
            "d2",
            "b.txt",
            &Prediction {
                runner_up: None,
                ..p
            },
        );
        assert_eq!(alone.csv_row()[4..6], [String::new(), String::new()]);
        assert!(serde_json::to_value(&alone).unwrap()["runner_up_score"].is_null());
    }

    fn abstractive() -> AbstractiveSummary {
        let claim = |text: &str, supported| SummaryClaim {
            text: text.into(),
            supported,
            support: Some(Evidence {
                start: 0,
                end: 10,
                page: 1,
                text: "Boots ship.".into(),
                term_support: 1.0,
            }),
            note: None,
        };
        AbstractiveSummary {
            sentences: vec![claim("Boots ship.", true)],
            dropped: vec![claim("Boots fly.", false)],
            draft: vec!["Boots ship.".into(), "Boots fly.".into()],
            model: "smol".into(),
            pieces: 1,
            pieces_read: 1,
            verbatim: false,
            llm_calls: 1,
            cache_hits: 0,
        }
    }

    #[test]
    fn one_summary_record_holds_both_kinds_and_leaves_costs_out_when_asked() {
        let ex = Summary {
            sentences: vec![SummarySentence {
                start: 0,
                end: 11,
                text: "Boots ship.".into(),
                position: 0,
                score: 1.0,
            }],
        };
        let e = serde_json::to_value(SummaryRecord::extractive(
            "d1", "a.txt", None, "minilm", &ex,
        ))
        .unwrap();
        assert_eq!(
            keys(&e),
            [
                "doc_id",
                "source",
                "title",
                "mode",
                "model",
                "summary",
                "sentences",
                "dropped",
                "llm_calls",
                "cache_hits"
            ]
        );
        assert_eq!(e["mode"], "extractive");
        assert_eq!(e["sentences"][0]["position"], 0);
        assert_eq!(e["dropped"], serde_json::json!([]));

        let record = SummaryRecord::abstractive("d1", "a.txt", Some("Boots"), &abstractive());
        let a = serde_json::to_value(&record).unwrap();
        assert_eq!(
            keys(&a),
            [
                "doc_id",
                "source",
                "title",
                "mode",
                "model",
                "summary",
                "sentences",
                "dropped",
                "pieces",
                "verbatim",
                "llm_calls",
                "cache_hits"
            ]
        );
        assert_eq!(a["sentences"][0]["support"]["page"], 1);
        assert_eq!(a["dropped"][0]["text"], "Boots fly.");
        let kept = serde_json::to_value(record.without_costs()).unwrap();
        assert_eq!(
            keys(&kept),
            [
                "doc_id",
                "source",
                "title",
                "mode",
                "model",
                "summary",
                "sentences",
                "dropped",
                "verbatim"
            ]
        );
        assert_eq!(kept["title"], "Boots");
    }
}
