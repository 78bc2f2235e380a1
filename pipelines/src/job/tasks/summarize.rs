//! `[[summarize]]`: a summary of every document in scope, extractive or written by the
//! job's LLM (every sentence checked, calls cached under the index).

use std::io::Write;

use docket_generate::records::SummaryRecord;
use docket_generate::summarize::abstractive::{AbstractiveConfig, AbstractiveSummarizer, DirCache};
use docket_generate::summarize::{Budget, Summarizer, SummaryConfig};
use docket_index::DocEntry;

use super::{Context, Outcome, Plan, Worker, out_err, per_document, write_jsonl};
use crate::error::{Error, Result};
use crate::job::TaskReport;
use crate::job::spec::SummarizeTask;
use crate::job::state::State;

pub(super) fn run(
    ctx: &Context<'_>,
    t: &SummarizeTask,
    plan: &Plan<'_>,
    report: &mut TaskReport,
) -> Result<()> {
    let mut worker = Summarize {
        ctx,
        task: t,
        summarizer: None,
        cache: DirCache::new(ctx.job.spec.index.dir.join("cache").join("summaries")),
    };
    let markdown = t.output.extension().is_some_and(|e| e == "md");
    let (job, name) = (ctx.job.name.as_str(), plan.name);
    let write = |state: &State, w: &mut dyn Write| -> Result<()> {
        if markdown {
            write_digest(state, job, name, w)
        } else {
            write_jsonl(state, name, w)
        }
    };
    per_document(ctx, plan, report, &mut worker, write)
}

/// A Markdown digest: one section per document.
fn write_digest(state: &State, job: &str, name: &str, w: &mut dyn Write) -> Result<()> {
    writeln!(w, "# {job}: {name}\n").map_err(out_err(name))?;
    state.for_each_done(name, |_, d| {
        let r = &d.row;
        writeln!(w, "## {}\n", r["source"].as_str().unwrap_or("")).map_err(out_err(name))?;
        super::write_provenance_comment(w, r).map_err(out_err(name))?;
        match r["summary"].as_str() {
            // One paragraph: the sentences keep the line breaks of their source.
            Some(text) if !text.is_empty() => writeln!(
                w,
                "{}\n",
                text.split_whitespace().collect::<Vec<_>>().join(" ")
            ),
            _ => writeln!(
                w,
                "_(no sentence of the summary is supported by the document)_\n"
            ),
        }
        .map_err(out_err(name))
    })
}

struct Summarize<'a, 'c> {
    ctx: &'a Context<'c>,
    task: &'a SummarizeTask,
    /// The extractive summarizer (abstractive summaries are made per call, since they
    /// borrow the LLM).
    summarizer: Option<Summarizer>,
    cache: DirCache,
}

impl Summarize<'_, '_> {
    fn budget(&self) -> Budget {
        match self.task.words {
            Some(w) => Budget::Words(w),
            None => Budget::Sentences(self.task.length),
        }
    }

    fn abstractive(&self, e: &DocEntry, text: &str) -> Outcome {
        let config = AbstractiveConfig {
            budget: self.budget(),
            final_max_tokens: self.ctx.job.spec.llm.max_tokens,
            allow_flagged: self.task.allow_flagged,
            ..AbstractiveConfig::default()
        };
        let Some(llm) = self.ctx.task_llm() else {
            return Err("no LLM could be loaded for an abstractive summary".into());
        };
        // Noted per document, for `docket forget`.
        let cache = self.cache.for_document(&e.doc_id);
        let summary = AbstractiveSummarizer::new(llm, config)
            .map(|s| s.with_cache(&cache))
            .and_then(|s| s.summarize(text))
            .map_err(|err| err.to_string())?;
        // An empty summary (nothing the model wrote is supported) is a result, not a
        // failure: asking again would give the same answer from the cache.
        let record = SummaryRecord::abstractive(&e.doc_id, &e.source, e.title.as_deref(), &summary);
        Ok(serde_json::to_value(record.without_costs()).unwrap_or_default())
    }

    fn extractive(&self, e: &DocEntry, text: &str) -> Outcome {
        let s = self.summarizer.as_ref().ok_or("no summarizer")?;
        let summary = s.summarize(text).map_err(|err| err.to_string())?;
        if summary.sentences.is_empty() {
            return Err("no sentence to summarize".into());
        }
        let model = self.ctx.embedder.get().map_or("", |m| m.model_id());
        let record =
            SummaryRecord::extractive(&e.doc_id, &e.source, e.title.as_deref(), model, &summary);
        Ok(serde_json::to_value(record.without_costs()).unwrap_or_default())
    }
}

impl Worker for Summarize<'_, '_> {
    fn uses_llm(&self) -> (bool, Option<u32>) {
        match self.task.abstractive {
            true => (
                true,
                Some(docket_generate::summarize::abstractive::PROMPT_VERSION),
            ),
            false => (false, None),
        }
    }

    fn prepare(&mut self) -> Result<()> {
        if self.task.abstractive {
            if self.ctx.task_llm().is_none() {
                return Err(Error::Unavailable(format!(
                    "abstractive summaries need an LLM, and none could be loaded ({})",
                    self.ctx.llm.load_error().unwrap_or("disabled")
                )));
            }
            return Ok(());
        }
        let config = SummaryConfig {
            budget: self.budget(),
            allow_flagged: self.task.allow_flagged,
            ..SummaryConfig::default()
        };
        self.summarizer = Some(Summarizer::new(self.ctx.embedder()?, config)?);
        Ok(())
    }

    fn work(&mut self, items: &[(DocEntry, String)]) -> Vec<Outcome> {
        items
            .iter()
            .map(|(e, text)| {
                if self.task.abstractive {
                    self.abstractive(e, text)
                } else {
                    self.extractive(e, text)
                }
            })
            .collect()
    }
}
