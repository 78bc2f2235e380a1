//! `docket summarize`: print docket-generate's summaries of whole documents, extractive
//! or abstractive (rows are its `SummaryRecord`, as in job outputs).

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use docket_generate::Llm;
use docket_generate::records::SummaryRecord;
use docket_generate::summarize::abstractive::{AbstractiveConfig, AbstractiveSummarizer, DirCache};
use docket_generate::summarize::{Budget, Summarizer, SummaryConfig};
use docket_pipelines::documents::{DocItem, DocSource, for_each_document, summary_cache_dir};
use docket_pipelines::models::{load_embedder, load_llm};
use docket_pipelines::provenance::{ModelRef, OneOff, Provenance};
use docket_pipelines::report::ReporterExt;

use super::flags::{EmbedModelArgs, IndexDirArgs, LlmArgs, ParseArgs, WalkArgs, sources};
use super::outcome::{Outcome, UsageError};
use super::term::Term;

#[derive(Debug, Args)]
pub struct SummarizeArgs {
    /// Files and folders to summarize.
    pub paths: Vec<PathBuf>,
    /// Documents of the index to summarize, by source path or id.
    #[arg(long, value_name = "SOURCE|ID")]
    pub doc: Vec<String>,
    /// Summarize every document of the index.
    #[arg(long)]
    pub all: bool,
    /// Sentences per summary.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub length: usize,
    /// A budget in words instead of sentences.
    #[arg(long, value_name = "N")]
    pub words: Option<usize>,
    /// One JSON object per document, with each sentence's byte offsets.
    #[arg(long)]
    pub json: bool,
    /// Write the summary with the LLM (map-reduce over pieces of the document) instead
    /// of picking sentences. Each sentence is checked against the document: kept ones
    /// carry the span that supports them, unsupported ones are dropped.
    #[arg(long)]
    pub abstractive: bool,
    /// With --abstractive: neither read nor write the cache of the model's answers
    /// (<index>/cache/summaries for --doc/--all, else $DOCKET_HOME/cache/summaries).
    #[arg(long, requires = "abstractive")]
    pub no_cache: bool,
    /// Keep paragraphs flagged as instructions to an assistant in what is summarized
    /// (see `docket status`); by default they are left out.
    #[arg(long)]
    pub allow_flagged: bool,
    #[command(flatten)]
    pub llm: LlmArgs,
    #[command(flatten)]
    pub index: IndexDirArgs,
    #[command(flatten)]
    pub embed: EmbedModelArgs,
    #[command(flatten)]
    pub walk: WalkArgs,
    #[command(flatten)]
    pub parse: ParseArgs,
}

impl SummarizeArgs {
    fn budget(&self) -> Budget {
        match self.words {
            Some(w) => Budget::Words(w),
            None => Budget::Sentences(self.length),
        }
    }
}

/// How `summarize` writes summaries.
enum Engine<'a> {
    Extractive {
        summarizer: Summarizer,
        model: String,
    },
    Abstractive {
        summarizer: AbstractiveSummarizer<'a>,
        model: String,
    },
}

impl Engine<'_> {
    fn record(&self, item: &DocItem) -> docket_pipelines::Result<SummaryRecord> {
        let title = item.title.as_deref();
        Ok(match self {
            Engine::Extractive { summarizer, model } => {
                let summary = summarizer.summarize(&item.text)?;
                SummaryRecord::extractive(&item.doc_id, &item.source, title, model, &summary)
            }
            Engine::Abstractive { summarizer, .. } => {
                let summary = docket_pipelines::error::Context::context(
                    summarizer.summarize(&item.text),
                    || format!("cannot summarize {}", item.source),
                )?;
                SummaryRecord::abstractive(&item.doc_id, &item.source, title, &summary)
            }
        })
    }
}

pub fn summarize(args: SummarizeArgs, term: Term) -> Result<Outcome> {
    if args.paths.is_empty() && !args.all && args.doc.is_empty() {
        return Err(UsageError(
            "give files or folders to summarize, --doc SOURCE|ID for documents of the index, or --all".into(),
        )
        .into());
    }
    let llm: Option<Box<dyn Llm>> = match args.abstractive {
        true => Some(
            load_llm(&args.llm.spec(), &term)
                .context("--abstractive needs an LLM, and none could be loaded")?,
        ),
        false => None,
    };
    let from_index = args.paths.is_empty().then_some(args.index.dir.as_path());
    let cache =
        (args.abstractive && !args.no_cache).then(|| DirCache::new(summary_cache_dir(from_index)));
    let engine = match &llm {
        Some(llm) => {
            let config = AbstractiveConfig {
                budget: args.budget(),
                final_max_tokens: args.llm.max_tokens,
                allow_flagged: args.allow_flagged,
                ..AbstractiveConfig::default()
            };
            let mut s = AbstractiveSummarizer::new(llm.as_ref(), config)?;
            if let Some(cache) = &cache {
                s = s.with_cache(cache);
            }
            Engine::Abstractive {
                summarizer: s,
                model: llm.model_id().to_owned(),
            }
        }
        // Abstractive sentences are checked by their terms alone: only the extractive
        // path needs the embedder.
        None => {
            let embedder = load_embedder(args.embed.embed_model.as_deref(), &term)?;
            let config = SummaryConfig {
                budget: args.budget(),
                allow_flagged: args.allow_flagged,
                ..SummaryConfig::default()
            };
            let model = embedder.model_id().to_owned();
            Engine::Extractive {
                summarizer: Summarizer::new(embedder, config)?,
                model,
            }
        }
    };
    run(&args, &engine, &term, cache.as_ref())
}

fn run(
    args: &SummarizeArgs,
    engine: &Engine<'_>,
    term: &Term,
    cache: Option<&DirCache>,
) -> Result<Outcome> {
    let started = Instant::now();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let (mut done, mut calls, mut hits) = (0usize, 0usize, 0usize);
    let sources = sources(&args.paths, &args.walk, &args.parse, false);
    let from = match args.paths.is_empty() {
        true => DocSource::Index(&args.index.dir),
        false => DocSource::Files(&sources),
    };
    let wanted = |item: &DocItem| {
        !args.paths.is_empty()
            || args.all
            || args
                .doc
                .iter()
                .any(|w| *w == item.source || *w == item.doc_id)
    };
    // Each JSON row's provenance: the model that wrote it, and the prompt's version
    // for an abstractive one.
    let run = OneOff::new("summarize");
    let (models, prompt) = match engine {
        Engine::Extractive { model, .. } => (
            vec![ModelRef::embedder(
                &run.hashes,
                model,
                args.embed.embed_model.as_deref(),
            )],
            None,
        ),
        Engine::Abstractive { model, .. } => (
            vec![ModelRef::llm(&run.hashes, model, &args.llm.spec())],
            Some(docket_generate::summarize::abstractive::PROMPT_VERSION),
        ),
    };
    let failed = for_each_document(from, term, |item| {
        if !wanted(&item) {
            return Ok(());
        }
        done += 1;
        let record = engine.record(&item)?;
        calls += record.llm_calls.unwrap_or(0);
        hits += record.cache_hits.unwrap_or(0);
        let provenance = args.json.then(|| {
            let docs = [item.doc_ref()];
            run.provenance(
                &item.source,
                &docs,
                item.chunk_ids.clone(),
                models.clone(),
                prompt,
            )
        });
        print(&mut out, provenance.as_ref(), &record, term)
            .map_err(|e| docket_pipelines::Error::output("the summaries", e))
    })?;
    out.flush()?;
    if done == 0 && !args.doc.is_empty() {
        bail!("no document of the index matches {:?}", args.doc);
    }
    let secs = started.elapsed().as_secs_f64();
    match engine {
        Engine::Extractive { .. } => term.info(&format!("summarized {done} documents in {secs:.1}s")),
        Engine::Abstractive { model, .. } => term.info(&format!(
            "summarized {done} documents with {model} in {secs:.1}s: {calls} LLM calls, {hits} cache hits{}",
            match cache {
                Some(c) => format!(" (cache {})", c.dir().display()),
                None => " (no cache)".to_owned(),
            }
        )),
    }
    Ok(Outcome::failed_if(failed))
}

/// One summary: a JSON line (given its provenance), or the source and the summary
/// (with each abstractive sentence's supporting span) for a person; dropped sentences
/// go to stderr.
fn print(
    out: &mut dyn Write,
    json: Option<&Provenance>,
    r: &SummaryRecord,
    term: &Term,
) -> std::io::Result<()> {
    for c in &r.dropped {
        term.info(&format!(
            "dropped from {}: \"{}\" ({})",
            r.source,
            c.text,
            c.note.as_deref().unwrap_or("unsupported")
        ));
    }
    if let Some(provenance) = json {
        let mut value = serde_json::to_value(r).map_err(std::io::Error::other)?;
        value["provenance"] = provenance.to_value();
        serde_json::to_writer(&mut *out, &value)?;
        return writeln!(out);
    }
    writeln!(out, "== {}", r.source)?;
    let docket_generate::records::SummarySentences::Abstractive(claims) = &r.sentences else {
        return writeln!(out, "{}\n", r.summary);
    };
    if claims.is_empty() && !r.dropped.is_empty() {
        writeln!(
            out,
            "(no sentence of the model's summary is supported by the document; the dropped ones are on stderr)"
        )?;
    }
    writeln!(out, "{}", r.summary)?;
    for (i, c) in claims.iter().enumerate() {
        if let Some(e) = &c.support {
            let text = e.text.split_whitespace().collect::<Vec<_>>().join(" ");
            writeln!(
                out,
                "  [{}] bytes {}-{}, page {}: \"{text}\"",
                i + 1,
                e.start,
                e.end,
                e.page
            )?;
        }
    }
    writeln!(out)
}
