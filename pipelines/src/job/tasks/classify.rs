//! `[[classify]]`: a label for every document in scope, by a zero-shot, trained or
//! saved classifier, or by the job's LLM.

use std::io::Write;

use docket_generate::classify::llm::LlmClassifier;
use docket_generate::classify::{
    Classifier, Decision, LabelSpec, Prediction, TrainConfig, ZeroShotConfig, load_labels,
    read_examples,
};
use docket_generate::records::{PREDICTION_COLUMNS, PredictionRecord};
use docket_index::DocEntry;
use serde_json::Value;

use super::{Context, Outcome, Plan, Worker, out_err, per_document, write_jsonl};
use crate::error::{Context as _, Error, Result};
use crate::job::TaskReport;
use crate::job::spec::ClassifyTask;
use crate::job::state::State;
use crate::output::csv_cell;
use crate::provenance::{PROVENANCE_COLUMNS, provenance_cells};
use crate::report::ReporterExt;

/// Documents classified per batch (and per state commit).
const BATCH: usize = 64;

pub(super) fn run(
    ctx: &Context<'_>,
    t: &ClassifyTask,
    plan: &Plan<'_>,
    report: &mut TaskReport,
) -> Result<()> {
    let mut worker = Classify {
        ctx,
        task: t,
        name: plan.name,
        model: None,
    };
    let csv = t.output.extension().is_some_and(|e| e == "csv");
    let name = plan.name;
    let write = |state: &State, w: &mut dyn Write| -> Result<()> {
        if csv {
            write_csv(state, name, w)
        } else {
            write_jsonl(state, name, w)
        }
    };
    per_document(ctx, plan, report, &mut worker, write)
}

/// The task's rows as CSV, from the JSON rows of the state.
fn write_csv(state: &State, name: &str, w: &mut dyn Write) -> Result<()> {
    let mut out = csv::Writer::from_writer(w);
    let header = PREDICTION_COLUMNS.iter().chain(PROVENANCE_COLUMNS.iter());
    out.write_record(header)
        .map_err(|e| Error::output(name, e))?;
    state.for_each_done(name, |_, d| {
        let r = &d.row;
        let s = |k: &str| r[k].as_str().unwrap_or("").to_owned();
        let num = |k: &str| r[k].as_f64().map_or(String::new(), |x| format!("{x:.4}"));
        let labels: Vec<&str> = r["labels"]
            .as_array()
            .map(|a| a.iter().filter_map(|l| l["label"].as_str()).collect())
            .unwrap_or_default();
        let cells = [
            s("doc_id"),
            s("source"),
            s("label"),
            num("confidence"),
            s("runner_up"),
            num("runner_up_score"),
            labels.join("|"),
        ];
        let provenance = provenance_cells(&r["provenance"]);
        out.write_record(
            cells
                .iter()
                .chain(provenance.iter())
                .map(|c| csv_cell(c).into_owned()),
        )
        .map_err(|e| Error::output(name, e))
    })?;
    out.flush().map_err(out_err(name))
}

/// The classifier of a classify task, made when there is something to classify.
enum Model<'a> {
    Trained(Box<Classifier>),
    /// The LLM picks among the labels (calibrated, as `docket classify --llm`).
    Llm(LlmClassifier<'a>),
}

struct Classify<'a, 'c> {
    ctx: &'a Context<'c>,
    task: &'a ClassifyTask,
    name: &'a str,
    model: Option<Model<'a>>,
}

impl Classify<'_, '_> {
    fn labels(&self) -> Result<Vec<LabelSpec>> {
        let t = self.task;
        // Labels listed in the job file are names as written (commas included); a
        // labels file may add descriptions.
        Ok(match &t.labels_file {
            Some(f) => load_labels(f)?,
            None => t
                .labels
                .iter()
                .map(|name| LabelSpec {
                    name: name.trim().to_owned(),
                    description: None,
                })
                .collect(),
        })
    }

    fn trained(&self) -> Result<Classifier> {
        let t = self.task;
        if let Some(path) = &t.model {
            return Classifier::load(path, Some(self.ctx.embedder()?))
                .context(|| format!("cannot load the classifier {}", path.display()));
        }
        if let Some(path) = &t.examples {
            let ex = read_examples(path, &t.text_col, &t.label_col)?;
            let config = TrainConfig::default();
            let (clf, r) = Classifier::train(&ex, &config, Some(self.ctx.embedder()?))?;
            self.ctx.env.reporter.info(&format!(
                "classify {}: trained on {} examples (TF-IDF weight {:.1})",
                self.name, r.examples, r.tfidf_weight
            ));
            return Ok(clf);
        }
        let config = ZeroShotConfig::default();
        Ok(Classifier::zero_shot(
            &self.labels()?,
            &config,
            self.ctx.embedder()?,
        )?)
    }

    fn decision(&self) -> Decision {
        match self.task.multi {
            Some(threshold) => Decision::MultiLabel { threshold },
            None => Decision::Single,
        }
    }
}

fn row(e: &DocEntry, p: &Prediction) -> Value {
    serde_json::to_value(PredictionRecord::new(&e.doc_id, &e.source, p)).unwrap_or_default()
}

impl<'a> Worker for Classify<'a, '_> {
    fn uses_llm(&self) -> (bool, Option<u32>) {
        let prompt = self
            .task
            .llm
            .then_some(docket_generate::classify::llm::PROMPT_VERSION);
        (self.task.llm, prompt)
    }

    fn prepare(&mut self) -> Result<()> {
        self.model = Some(if self.task.llm {
            let labels = self.labels()?;
            let ctx: &'a Context<'_> = self.ctx;
            let Some(llm) = ctx.task_llm() else {
                return Err(Error::Unavailable(format!(
                    "task {}: llm = true but no LLM could be loaded ({})",
                    self.name,
                    ctx.llm.load_error().unwrap_or("disabled")
                )));
            };
            Model::Llm(LlmClassifier::new(llm, &labels)?.with_flagged(self.task.allow_flagged))
        } else {
            Model::Trained(Box::new(self.trained()?))
        });
        Ok(())
    }

    fn work(&mut self, items: &[(DocEntry, String)]) -> Vec<Outcome> {
        let decision = self.decision();
        match &self.model {
            Some(Model::Trained(clf)) => {
                let texts: Vec<&str> = items.iter().map(|(_, t)| t.as_str()).collect();
                match clf.predict(&texts, None, decision) {
                    Ok(preds) => items
                        .iter()
                        .zip(&preds)
                        .map(|((e, _), p)| Ok(row(e, p)))
                        .collect(),
                    // The batch failed: find the documents that fail on their own.
                    Err(_) => items
                        .iter()
                        .map(
                            |(e, text)| match clf.predict(&[text.as_str()], None, decision) {
                                Ok(p) => p.first().map(|p| row(e, p)).ok_or("no prediction".into()),
                                Err(err) => Err(err.to_string()),
                            },
                        )
                        .collect(),
                }
            }
            Some(Model::Llm(clf)) => items
                .iter()
                .map(|(e, text)| {
                    clf.predict(text)
                        .map(|p| row(e, &p))
                        .map_err(|err| err.to_string())
                })
                .collect(),
            None => items.iter().map(|_| Err("no classifier".into())).collect(),
        }
    }

    fn batch(&self) -> usize {
        BATCH
    }
}
