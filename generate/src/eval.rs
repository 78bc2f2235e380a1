//! Evaluation harnesses: classification against labelled examples, summaries against
//! reference summaries, answers against a QA set ([`answer`]). They compute typed reports; front ends print them (the reports
//! serialize to the JSON of `docket eval classify --json` and `docket eval summarize
//! --json`), and progress comes through callbacks.

pub mod answer;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use docket_index::embed::Embedder;
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use crate::Llm;
use crate::classify::llm::{LlmClassifier, argmax, calibrate};
use crate::classify::{
    Classifier, Evaluation, Examples, Features, LabelSpec, TrainConfig, ZeroShotConfig, evaluate,
    gold_indices, train_test_split,
};
use crate::error::{Error, Result};
use crate::summarize::abstractive::AbstractiveSummarizer;
use crate::summarize::rouge::{self, Rouge};
use crate::summarize::{Budget, Summarizer, SummaryConfig, lead};

/// The training and test sets of an evaluation: `test` if given (all of `all` trains),
/// else a deterministic split of `all` by `test_fraction` and `seed`; the test set cut
/// to its first `limit` rows. Either may come out empty; callers say so.
pub fn eval_sets(
    all: Examples,
    test: Option<Examples>,
    test_fraction: f64,
    seed: u64,
    limit: Option<usize>,
) -> (Examples, Examples) {
    let (train, test) = match test {
        Some(test) => (all, test),
        None => {
            let (tr, te) = train_test_split(all.len(), test_fraction, seed);
            (all.subset(&tr), all.subset(&te))
        }
    };
    let test = match limit {
        Some(n) if n < test.len() => test.subset(&(0..n).collect::<Vec<_>>()),
        _ => test,
    };
    (train, test)
}

/// The labels that occur in `examples`, sorted, without descriptions.
pub fn example_labels(examples: &Examples) -> Vec<LabelSpec> {
    let mut names = examples.labels.clone();
    names.sort();
    names.dedup();
    names.into_iter().map(|n| LabelSpec::new(n, None)).collect()
}

/// The classifier an evaluation trains (or builds) on the training set.
#[derive(Debug, Clone, PartialEq)]
pub enum ClassifyMethod {
    /// Embedding similarity to these labels (nothing is trained; needs the embedder).
    ZeroShot { labels: Vec<LabelSpec> },
    /// Supervised, on these features (embeddings need the embedder).
    Trained { features: Features },
}

/// Figures of a classification evaluation. Serializes to the object `docket eval
/// classify --json` prints, keys in its order (the LLM run's details are not part of
/// it).
#[derive(Debug, Clone, PartialEq)]
pub struct ClassifyReport {
    /// Accuracy, macro-F1, per-class scores, confusion matrix and labels.
    pub evaluation: Evaluation,
    /// Training examples (0 when nothing is trained: LLM).
    pub train: usize,
    pub test: usize,
    pub train_seconds: f64,
    /// Test texts classified per second.
    pub docs_per_second: f64,
    /// With an LLM: what calibration is worth.
    pub llm: Option<LlmRun>,
}

impl Serialize for ClassifyReport {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let e = &self.evaluation;
        let mut map = serializer.serialize_map(Some(9))?;
        map.serialize_entry("accuracy", &e.accuracy)?;
        map.serialize_entry("macro_f1", &e.macro_f1)?;
        map.serialize_entry("labels", &e.labels)?;
        map.serialize_entry("confusion", &e.confusion)?;
        map.serialize_entry("per_class", &e.per_class)?;
        map.serialize_entry("train", &self.train)?;
        map.serialize_entry("test", &self.test)?;
        map.serialize_entry("train_seconds", &self.train_seconds)?;
        map.serialize_entry("docs_per_second", &self.docs_per_second)?;
        map.end()
    }
}

/// The LLM side of a classification evaluation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LlmRun {
    pub model: String,
    /// Label probabilities for a content-free text (the model's bias).
    pub prior: Vec<f64>,
    /// The figures without calibration.
    pub uncalibrated: Evaluation,
    /// Time to classify the test set, prior included.
    pub seconds: f64,
}

/// Progress of an evaluation that goes text by text.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassifyProgress {
    /// Texts done so far.
    pub done: usize,
    pub total: usize,
    /// Since the evaluation started.
    pub seconds: f64,
}

/// Train (or build) a classifier on `train` by `method` and evaluate it on `test`.
pub fn eval_classify(
    train: &Examples,
    test: &Examples,
    method: &ClassifyMethod,
    embedder: Option<Arc<dyn Embedder>>,
) -> Result<ClassifyReport> {
    let started = Instant::now();
    let classifier = match method {
        ClassifyMethod::ZeroShot { labels } => {
            let embedder = embedder.ok_or_else(|| Error::Config {
                setting: "embedder",
                reason: "zero-shot classification needs the embedder".into(),
            })?;
            Classifier::zero_shot(labels, &ZeroShotConfig::default(), embedder)?
        }
        ClassifyMethod::Trained { features } => {
            let config = TrainConfig {
                features: *features,
                ..TrainConfig::default()
            };
            Classifier::train(train, &config, embedder)?.0
        }
    };
    let train_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let texts: Vec<&str> = test.texts.iter().map(String::as_str).collect();
    let predicted = classifier.predict_indices(&texts, None)?;
    let secs = started.elapsed().as_secs_f64();
    let labels = classifier.labels().to_vec();
    let gold = gold_indices(&labels, &test.labels);
    Ok(ClassifyReport {
        evaluation: evaluate(&labels, &gold, &predicted),
        train: train.len(),
        test: test.len(),
        train_seconds,
        docs_per_second: test.len() as f64 / secs.max(1e-9),
        llm: None,
    })
}

/// Let `llm` label every test text among `labels` with calibrated constrained scoring
/// (as `classify --llm` does), and evaluate it with and without calibration. Every
/// test label must be one of `labels` ([`Error::Labels`] otherwise). `on_progress` is
/// called after each text.
pub fn eval_classify_llm(
    llm: &dyn Llm,
    labels: &[LabelSpec],
    test: &Examples,
    on_progress: &mut dyn FnMut(&ClassifyProgress),
) -> Result<ClassifyReport> {
    let names: Vec<String> = labels.iter().map(|l| l.name.clone()).collect();
    let gold: Vec<usize> = test
        .labels
        .iter()
        .map(|l| {
            names
                .iter()
                .position(|n| n == l)
                .ok_or_else(|| Error::Labels {
                    reason: format!("the test label {l:?} is not among the labels {names:?}"),
                })
        })
        .collect::<Result<_>>()?;
    let started = Instant::now();
    let classifier = LlmClassifier::new(llm, labels)?;
    let mut predicted = Vec::with_capacity(test.len());
    let mut raw = Vec::with_capacity(test.len());
    for (i, text) in test.texts.iter().enumerate() {
        let p = classifier.probabilities(text)?;
        raw.push(argmax(&p));
        predicted.push(argmax(&calibrate(&p, classifier.prior())));
        on_progress(&ClassifyProgress {
            done: i + 1,
            total: test.len(),
            seconds: started.elapsed().as_secs_f64(),
        });
    }
    let seconds = started.elapsed().as_secs_f64();
    Ok(ClassifyReport {
        evaluation: evaluate(&names, &gold, &predicted),
        train: 0,
        test: test.len(),
        train_seconds: 0.0,
        docs_per_second: test.len() as f64 / seconds.max(1e-9),
        llm: Some(LlmRun {
            model: llm.model_id().to_owned(),
            prior: classifier.prior().to_vec(),
            uncalibrated: evaluate(&names, &gold, &raw),
            seconds,
        }),
    })
}

/// A document with its reference summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryExample {
    pub id: String,
    pub text: String,
    pub reference: String,
}

/// The documents of `dir/corpus.jsonl` (`_id`, `text`) that have a reference summary
/// in `dir/summaries.jsonl` (`_id`, `summary`), in corpus order, the first `limit`.
pub fn read_summary_set(dir: &Path, limit: Option<usize>) -> Result<Vec<SummaryExample>> {
    let docs = read_jsonl_field(&dir.join("corpus.jsonl"), "text")?;
    let refs: HashMap<String, String> = read_jsonl_field(&dir.join("summaries.jsonl"), "summary")?
        .into_iter()
        .collect();
    let mut out: Vec<SummaryExample> = docs
        .into_iter()
        .filter_map(|(id, text)| {
            let reference = refs.get(&id)?.clone();
            Some(SummaryExample {
                id,
                text,
                reference,
            })
        })
        .collect();
    if let Some(n) = limit {
        out.truncate(n);
    }
    Ok(out)
}

/// `(_id, field)` of every line of a JSON Lines file.
fn read_jsonl_field(path: &Path, field: &str) -> Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let parse = |line: usize, reason: String| Error::Parse {
        path: path.to_owned(),
        line,
        reason,
    };
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let v: serde_json::Value =
                serde_json::from_str(l).map_err(|e| parse(i + 1, format!("not JSON: {e}")))?;
            let get = |k: &str| {
                v[k].as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| parse(i + 1, format!("no string field {k:?}")))
            };
            Ok((get("_id")?, get(field)?))
        })
        .collect()
}

/// Progress of the abstractive side of a summary evaluation, after each document.
#[derive(Debug, Clone, PartialEq)]
pub struct SummarizeProgress {
    /// Documents done so far (this one included).
    pub done: usize,
    pub total: usize,
    pub id: String,
    pub pieces: usize,
    pub llm_calls: usize,
    pub cache_hits: usize,
    /// Sentences kept and dropped by the check.
    pub kept: usize,
    pub dropped: usize,
    /// Time this document took.
    pub seconds: f64,
}

/// What the abstractive summaries of an evaluation cost and kept.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AbstractiveRun {
    pub model: String,
    pub llm_calls: usize,
    pub cache_hits: usize,
    pub sentences_kept: usize,
    pub sentences_dropped: usize,
    /// Summaries of which no sentence was supported.
    pub empty_summaries: usize,
    pub seconds: f64,
}

/// ROUGE of the abstractive summaries.
#[derive(Debug, Clone, PartialEq)]
pub struct AbstractiveEval {
    /// The summaries as checked (unsupported sentences dropped).
    pub checked: Rouge,
    /// The model's sentences before the check, cut to the length.
    pub unchecked: Rouge,
    pub run: AbstractiveRun,
}

/// Figures of a summary evaluation (mean ROUGE F1 against the references). Serializes
/// to the object `docket eval summarize --json` prints: `docket`, `lead-N`,
/// `documents`, and with an LLM `abstractive`, `abstractive_unchecked` and
/// `abstractive_run`.
#[derive(Debug, Clone, PartialEq)]
pub struct SummarizeReport {
    /// Sentences per summary (the N of lead-N).
    pub length: usize,
    pub documents: usize,
    /// docket's extractive summaries.
    pub docket: Rouge,
    /// The first `length` sentences.
    pub lead: Rouge,
    /// Time of the extractive and lead summaries.
    pub extractive_seconds: f64,
    pub abstractive: Option<AbstractiveEval>,
}

impl SummarizeReport {
    /// The lead baseline's name: `lead-N`.
    pub fn lead_name(&self) -> String {
        format!("lead-{}", self.length)
    }
}

/// The F1 of each ROUGE variant, as reports print them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RougeF1 {
    pub rouge1: f64,
    pub rouge2: f64,
    #[serde(rename = "rougeL")]
    pub rouge_l: f64,
}

impl From<&Rouge> for RougeF1 {
    fn from(r: &Rouge) -> Self {
        RougeF1 {
            rouge1: r.rouge1.f1,
            rouge2: r.rouge2.f1,
            rouge_l: r.rouge_l.f1,
        }
    }
}

impl Serialize for SummarizeReport {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("docket", &RougeF1::from(&self.docket))?;
        map.serialize_entry(&self.lead_name(), &RougeF1::from(&self.lead))?;
        map.serialize_entry("documents", &self.documents)?;
        if let Some(a) = &self.abstractive {
            map.serialize_entry("abstractive", &RougeF1::from(&a.checked))?;
            map.serialize_entry("abstractive_unchecked", &RougeF1::from(&a.unchecked))?;
            map.serialize_entry("abstractive_run", &a.run)?;
        }
        map.end()
    }
}

/// Summarize every document of `set` in `length` sentences, extractively with
/// `embedder`, by lead, and with `abstractive` if given, and score each against the
/// reference (ROUGE with stemming, as `rouge-score`). `on_progress` is called after
/// each abstractive summary.
pub fn eval_summarize(
    set: &[SummaryExample],
    length: usize,
    embedder: Arc<dyn Embedder>,
    abstractive: Option<&AbstractiveSummarizer<'_>>,
    on_progress: &mut dyn FnMut(&SummarizeProgress),
) -> Result<SummarizeReport> {
    let config = SummaryConfig {
        budget: Budget::Sentences(length),
        ..SummaryConfig::default()
    };
    let summarizer = Summarizer::new(embedder, config.clone())?;
    let started = Instant::now();
    let mut ours = Vec::with_capacity(set.len());
    let mut leads = Vec::with_capacity(set.len());
    for ex in set {
        let summary = summarizer.summarize(&ex.text)?;
        ours.push(rouge::rouge(&ex.reference, &summary.text(), true));
        leads.push(rouge::rouge(
            &ex.reference,
            &lead(&ex.text, &config).text(),
            true,
        ));
    }
    let extractive_seconds = started.elapsed().as_secs_f64();
    let abstractive = match abstractive {
        Some(s) => Some(eval_abstractive(set, length, s, on_progress)?),
        None => None,
    };
    Ok(SummarizeReport {
        length,
        documents: set.len(),
        docket: rouge::mean(&ours),
        lead: rouge::mean(&leads),
        extractive_seconds,
        abstractive,
    })
}

/// The abstractive side of [`eval_summarize`].
fn eval_abstractive(
    set: &[SummaryExample],
    length: usize,
    summarizer: &AbstractiveSummarizer<'_>,
    on_progress: &mut dyn FnMut(&SummarizeProgress),
) -> Result<AbstractiveEval> {
    let started = Instant::now();
    let mut checked = Vec::with_capacity(set.len());
    let mut unchecked = Vec::with_capacity(set.len());
    let mut run = AbstractiveRun {
        model: summarizer.model_id().to_owned(),
        ..AbstractiveRun::default()
    };
    for (i, ex) in set.iter().enumerate() {
        let t = Instant::now();
        let summary = summarizer.summarize(&ex.text)?;
        run.llm_calls += summary.llm_calls;
        run.cache_hits += summary.cache_hits;
        run.sentences_kept += summary.sentences.len();
        run.sentences_dropped += summary.dropped.len();
        run.empty_summaries += usize::from(summary.sentences.is_empty());
        checked.push(rouge::rouge(&ex.reference, &summary.text(), true));
        let draft: Vec<&str> = summary
            .draft
            .iter()
            .take(length)
            .map(String::as_str)
            .collect();
        unchecked.push(rouge::rouge(&ex.reference, &draft.join(" "), true));
        on_progress(&SummarizeProgress {
            done: i + 1,
            total: set.len(),
            id: ex.id.clone(),
            pieces: summary.pieces,
            llm_calls: summary.llm_calls,
            cache_hits: summary.cache_hits,
            kept: summary.sentences.len(),
            dropped: summary.dropped.len(),
            seconds: t.elapsed().as_secs_f64(),
        });
    }
    run.seconds = started.elapsed().as_secs_f64();
    Ok(AbstractiveEval {
        checked: rouge::mean(&checked),
        unchecked: rouge::mean(&unchecked),
        run,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::llm::tests::Scorer;
    use crate::summarize::abstractive::AbstractiveConfig;
    use crate::testing::FixedReply;

    fn examples(rows: &[(&str, &str)]) -> Examples {
        Examples {
            texts: rows.iter().map(|r| r.0.to_owned()).collect(),
            labels: rows.iter().map(|r| r.1.to_owned()).collect(),
        }
    }

    fn tickets() -> Examples {
        examples(&[
            ("I was charged twice for my order", "billing"),
            ("Please refund the double charge on my card", "billing"),
            ("My invoice shows the wrong amount", "billing"),
            ("The charge on my invoice is wrong", "billing"),
            ("The package has not arrived after two weeks", "shipping"),
            ("Where is my parcel, the tracking has not moved", "shipping"),
            (
                "The courier left the package at the wrong house",
                "shipping",
            ),
            ("My parcel arrived damaged by the courier", "shipping"),
        ])
    }

    #[test]
    fn sets_are_split_or_taken_as_given_and_cut_to_the_limit() {
        let (train, test) = eval_sets(tickets(), None, 0.25, 7, None);
        assert_eq!((train.len(), test.len()), (6, 2));
        let given = examples(&[("a", "x"), ("b", "y"), ("c", "x")]);
        let (train, test) = eval_sets(tickets(), Some(given), 0.25, 7, Some(2));
        assert_eq!((train.len(), test.len()), (8, 2));
        assert_eq!(test.texts, ["a", "b"]);
        let names: Vec<String> = example_labels(&tickets())
            .into_iter()
            .map(|l| l.name)
            .collect();
        assert_eq!(names, ["billing", "shipping"]);
    }

    #[test]
    fn tfidf_evaluation_reports_the_figures_of_eval_classify() {
        let test = examples(&[
            ("I was charged twice, refund the charge", "billing"),
            (
                "The parcel has not arrived, where is the courier",
                "shipping",
            ),
        ]);
        let method = ClassifyMethod::Trained {
            features: Features::Tfidf,
        };
        let r = eval_classify(&tickets(), &test, &method, None).unwrap();
        assert_eq!((r.train, r.test), (8, 2));
        assert_eq!(r.evaluation.accuracy, 1.0, "{r:#?}");
        assert!(r.docs_per_second > 0.0);
        let v = serde_json::to_value(&r).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "accuracy",
                "macro_f1",
                "labels",
                "confusion",
                "per_class",
                "train",
                "test",
                "train_seconds",
                "docs_per_second"
            ]
        );
        assert_eq!(v["per_class"][0]["label"], "billing");
        let zero_shot = ClassifyMethod::ZeroShot {
            labels: example_labels(&tickets()),
        };
        assert!(matches!(
            eval_classify(&tickets(), &test, &zero_shot, None),
            Err(Error::Config { .. })
        ));
    }

    #[test]
    fn llm_evaluation_reports_calibrated_and_raw_figures() {
        // Biased towards billing for any text; relative to the bias every text reads
        // as shipping, so calibration turns all-billing into all-shipping.
        let llm = Scorer {
            biased: vec![("billing", 0.9f64.ln()), ("shipping", 0.1f64.ln())],
            text: vec![("billing", 0.7f64.ln()), ("shipping", 0.3f64.ln())],
        };
        let labels = example_labels(&tickets());
        let test = examples(&[("parcel late", "shipping"), ("charged twice", "billing")]);
        let mut seen = Vec::new();
        let r = eval_classify_llm(&llm, &labels, &test, &mut |p| seen.push(p.done)).unwrap();
        assert_eq!(seen, [1, 2]);
        assert_eq!(r.evaluation.accuracy, 0.5);
        assert_eq!(r.evaluation.confusion, [[0, 1], [0, 1]]);
        let run = r.llm.as_ref().unwrap();
        assert_eq!(run.model, "scorer");
        assert_eq!(run.uncalibrated.confusion, [[1, 0], [1, 0]]);
        assert!((run.prior[0] - 0.9).abs() < 1e-9);
        assert_eq!((r.train, r.test), (0, 2));
        let v = serde_json::to_value(&r).unwrap();
        assert!(v.get("llm").is_none(), "the JSON is eval classify's");
        let unknown = examples(&[("x", "refunds")]);
        let err = eval_classify_llm(&llm, &labels, &unknown, &mut |_| {}).unwrap_err();
        assert!(err.to_string().contains("\"refunds\""), "{err}");
    }

    #[test]
    fn summary_sets_pair_documents_with_references() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("corpus.jsonl"),
            "{\"_id\": \"a\", \"text\": \"A text.\"}\n\n{\"_id\": \"b\", \"text\": \"B text.\"}\n{\"_id\": \"c\", \"text\": \"C text.\"}\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("summaries.jsonl"),
            "{\"_id\": \"c\", \"summary\": \"C.\"}\n{\"_id\": \"a\", \"summary\": \"A.\"}\n",
        )
        .unwrap();
        let set = read_summary_set(dir.path(), None).unwrap();
        let ids: Vec<&str> = set.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["a", "c"]);
        assert_eq!(set[1].reference, "C.");
        assert_eq!(read_summary_set(dir.path(), Some(1)).unwrap().len(), 1);
        std::fs::write(dir.path().join("summaries.jsonl"), "{\"_id\": 1}\n").unwrap();
        let err = read_summary_set(dir.path(), None).unwrap_err();
        assert!(
            err.to_string()
                .contains("summaries.jsonl:1: no string field"),
            "{err}"
        );
    }

    #[test]
    fn the_summary_report_serializes_as_eval_summarize_json() {
        let r = |x: f64| Rouge {
            rouge1: rouge::RougeScore {
                precision: x,
                recall: x,
                f1: x,
            },
            ..Rouge::default()
        };
        let mut report = SummarizeReport {
            length: 3,
            documents: 2,
            docket: r(0.4),
            lead: r(0.3),
            extractive_seconds: 1.0,
            abstractive: None,
        };
        let v = serde_json::to_value(&report).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "docket": {"rouge1": 0.4, "rouge2": 0.0, "rougeL": 0.0},
                "lead-3": {"rouge1": 0.3, "rouge2": 0.0, "rougeL": 0.0},
                "documents": 2,
            })
        );
        report.abstractive = Some(AbstractiveEval {
            checked: r(0.2),
            unchecked: r(0.25),
            run: AbstractiveRun {
                model: "smol".into(),
                llm_calls: 2,
                ..AbstractiveRun::default()
            },
        });
        let v = serde_json::to_value(&report).unwrap();
        assert_eq!(v["abstractive"]["rouge1"], 0.2);
        assert_eq!(v["abstractive_unchecked"]["rouge1"], 0.25);
        assert_eq!(
            v["abstractive_run"],
            serde_json::json!({"model": "smol", "llm_calls": 2, "cache_hits": 0,
                "sentences_kept": 0, "sentences_dropped": 0, "empty_summaries": 0,
                "seconds": 0.0})
        );
    }

    #[test]
    #[expect(
        clippy::print_stderr,
        reason = "a skipped test says why: the embedding model is not installed"
    )]
    fn summaries_are_scored_against_the_references() {
        let Ok(dir) = docket_index::embed::find_default_model() else {
            eprintln!("skipped: the default embedding model is not installed");
            return;
        };
        let embedder: Arc<dyn Embedder> =
            Arc::new(docket_index::embed::BertEmbedder::load(&dir).unwrap());
        let doc = "The new boots ship to every store in the north first. Sales of the old boots ended in May. The factory in Porto makes the soles. Prices stay the same this year. Stores in the south get the boots in June.";
        let set: Vec<SummaryExample> = ["a", "b", "c"]
            .iter()
            .map(|id| SummaryExample {
                id: (*id).to_owned(),
                text: doc.to_owned(),
                reference: "The new boots ship to the north first, the south in June.".into(),
            })
            .collect();
        let llm = FixedReply("The new boots ship to every store in the north first.");
        let config = AbstractiveConfig {
            budget: Budget::Sentences(1),
            ..AbstractiveConfig::default()
        };
        let s = AbstractiveSummarizer::new(&llm, config).unwrap();
        let mut progress = Vec::new();
        let r = eval_summarize(&set, 1, embedder, Some(&s), &mut |p| {
            progress.push((p.done, p.id.clone(), p.kept))
        })
        .unwrap();
        assert_eq!(r.documents, 3);
        assert!(r.docket.rouge1.f1 > 0.0 && r.lead.rouge1.f1 > 0.0, "{r:#?}");
        let a = r.abstractive.as_ref().unwrap();
        assert_eq!(a.run.model, "fixed");
        assert_eq!((a.run.llm_calls, a.run.sentences_kept), (3, 3), "{a:#?}");
        assert_eq!(a.checked, a.unchecked, "nothing was dropped");
        assert_eq!(progress[2], (3, "c".to_owned(), 1));
    }
}
