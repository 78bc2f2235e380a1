//! `docket ask`: print the checked answer of docket-generate's `ask`, or its abstention.

use std::io::Write;
use std::sync::Arc;

use anyhow::Result;
use clap::{Args, ValueEnum};
use docket_generate::answer::{AnswerConfig, AnswerStrategy, AskOptions, NOT_FOUND_TEXT, ask_lazy};
use docket_index::Mode;
use docket_pipelines::models::{lazy_llm, open_for_search};
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
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer(&mut out, &answered)?;
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
    for c in answered.dropped() {
        term.info(&format!(
            "dropped: \"{}\" ({})",
            c.text,
            c.note.as_deref().unwrap_or("unsupported")
        ));
    }
    Ok(Outcome::Success)
}
