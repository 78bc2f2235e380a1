//! `docket ask`: print the checked answer of docket-generate's `ask`, or its abstention.

use std::io::Write;
use std::sync::Arc;

use anyhow::Result;
use clap::{Args, ValueEnum};
use docket_generate::answer::{AnswerConfig, AnswerStrategy, AskOptions, NOT_FOUND_TEXT, ask_lazy};
use docket_index::Mode;
use docket_pipelines::explain::{ExplainLog, Explained};
use docket_pipelines::models::{lazy_llm, open_for_search};
use docket_pipelines::provenance::OneOff;
use docket_pipelines::report::ReporterExt;

use super::flags::{EmbedModelArgs, FilterArgs, IndexDirArgs, LlmArgs};
use super::outcome::{Outcome, UsageError};
use super::term::Term;

#[derive(Debug, Args)]
pub struct AskArgs {
    /// The question.
    pub question: String,
    #[command(flatten)]
    pub index: IndexDirArgs,
    /// Chunks retrieved (the best that fit the model's context go into the prompt).
    #[arg(short, long, value_name = "N", default_value_t = AnswerConfig::default_k())]
    pub k: usize,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Print the answer, its checked sentences and sources as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Answer with the sources' own sentences closest to the question, without an LLM
    /// (also what happens when no LLM can be loaded); the same as `--strategy
    /// extractive`.
    #[arg(long, conflicts_with = "strategy")]
    pub extractive: bool,
    /// How the LLM takes part: `extractive` (the default, measured best with the
    /// default model) quotes the sentences closest to the question and loads no LLM,
    /// `select` has the LLM choose among the closest sentences (every one supported by
    /// construction), `generate` has it write an answer whose sentences are checked.
    /// When the LLM's answer keeps nothing, the extractive one is given instead.
    #[arg(long, value_enum, default_value_t = Strategy::Extractive)]
    pub strategy: Strategy,
    /// Also print what produced the answer (as `docket explain` does): every retrieved
    /// chunk with its scores, every sentence with its support; with --json, in an
    /// `explain` field.
    #[arg(long)]
    pub explain: bool,
    /// Let chunks flagged at ingest as instructions to an assistant (see `docket
    /// status`) into the context; by default they are left out.
    #[arg(long)]
    pub allow_flagged: bool,
    #[command(flatten)]
    pub llm: LlmArgs,
    #[command(flatten)]
    pub embed: EmbedModelArgs,
}

/// `--strategy`: the library's [`AnswerStrategy`] as a flag value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Strategy {
    Select,
    Generate,
    Extractive,
}

impl Strategy {
    pub fn library(self) -> AnswerStrategy {
        match self {
            Strategy::Select => AnswerStrategy::Select,
            Strategy::Generate => AnswerStrategy::Generate,
            Strategy::Extractive => AnswerStrategy::Extractive,
        }
    }
}

pub fn ask(args: AskArgs, term: Term) -> Result<Outcome> {
    if args.k == 0 {
        return Err(UsageError("-k must be at least 1".into()).into());
    }
    let filter = args.filter.filter()?;
    let index = open_for_search(
        &args.index.dir,
        Mode::Hybrid,
        args.embed.embed_model.as_deref(),
        &term,
    )?;
    // Loaded only when a question has relevant sources to answer from.
    let strategy = if args.extractive {
        AnswerStrategy::Extractive
    } else {
        args.strategy.library()
    };
    let no_llm = strategy == AnswerStrategy::Extractive;
    let llm = lazy_llm(&args.llm.spec(), no_llm, Arc::new(term));
    let options = AskOptions {
        config: AnswerConfig {
            k: args.k,
            ..AnswerConfig::default()
        },
        filter,
        max_tokens: args.llm.max_tokens,
        strategy,
        allow_flagged: args.allow_flagged,
    };
    let answered = ask_lazy(&index, &args.question, &options, &llm)?;
    if let Some(e) = llm.load_error() {
        term.notice(&format!("{e}; answering extractively"));
    }
    if let Some(why) = &answered.fallback {
        term.info(&format!("{why}; answering extractively"));
    }
    // The row's provenance, and what produced it kept for `docket explain`.
    let run = OneOff::new("ask");
    let models = run.embedder(&index, args.embed.embed_model.as_deref());
    let provenance = run.answer(&index, "1", &answered, models, Some(&args.llm.spec()));
    let explained = Explained::answer(&provenance.row_id, &answered);
    if let Err(e) =
        ExplainLog::commands(&args.index.dir).append(&run.run_id, std::slice::from_ref(&explained))
    {
        term.notice(&format!("the answer's explain record is not kept: {e}"));
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        let mut value = serde_json::to_value(&answered)?;
        value["provenance"] = provenance.to_value();
        if args.explain {
            value["explain"] = serde_json::to_value(&explained)?;
        }
        serde_json::to_writer(&mut out, &value)?;
        writeln!(out)?;
        return Ok(Outcome::Success);
    }
    match &answered.answer {
        None => writeln!(out, "{NOT_FOUND_TEXT}")?,
        Some(text) => {
            writeln!(out, "{text}\n")?;
            for c in answered.kept() {
                if let Some(s) = &c.support {
                    writeln!(
                        out,
                        "[{}] {}, page {}, bytes {}-{}: \"{}\"",
                        s.n,
                        s.source,
                        s.page,
                        s.start,
                        s.end,
                        s.text.split_whitespace().collect::<Vec<_>>().join(" ")
                    )?;
                }
            }
        }
    }
    if args.explain {
        writeln!(out, "\n{explained}")?;
    } else {
        term.info(&format!(
            "row {} (docket explain shows what made it)",
            provenance.row_id
        ));
    }
    for c in answered.dropped() {
        term.info(&format!(
            "dropped: \"{}\" ({})",
            c.text,
            c.note.as_deref().unwrap_or("unsupported")
        ));
    }
    Ok(Outcome::Success)
}
