//! `docket ask`: retrieve, answer, check every sentence against its sources, or abstain.

use std::io::Write;

use anyhow::{Context, Result};
use docket_generate::answer::{AnswerConfig, Claim, Source, Verifier, pack, prompt};
use docket_generate::{GenerateParams, Message, Prompt};
use docket_index::{Filter, Index, Mode};
use serde_json::json;

use crate::cli::AskArgs;
use crate::models::LazyLlm;
use crate::search_cmd::{open_for_search, parse_filters};
use crate::{Outcome, UsageError};

/// What docket says when the documents do not hold the answer.
pub const NOT_FOUND: &str = "not found in the documents";

/// Why an answer was withheld.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Abstain {
    /// No retrieved chunk is relevant enough to the question.
    NothingRelevant,
    /// No sentence of the answer survived checking.
    NothingSupported,
}

impl Abstain {
    fn code(self) -> &'static str {
        match self {
            Abstain::NothingRelevant => "nothing_relevant",
            Abstain::NothingSupported => "nothing_supported",
        }
    }
}

pub fn ask(args: AskArgs) -> Result<Outcome> {
    if args.k == 0 {
        return Err(UsageError("-k must be at least 1".into()).into());
    }
    let filter = parse_filters(&args.filters)?;
    let index = open_for_search(
        &args.index.dir,
        Mode::Hybrid,
        args.embed.embed_model.as_deref(),
    )?;
    let mut llm = LazyLlm::new(args.llm.clone(), args.extractive);
    let answered = answer(&index, &args.question, args.k, &filter, &mut llm)?;

    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer(&mut out, &answered.json())?;
        writeln!(out)?;
        return Ok(Outcome::Success);
    }
    match &answered.answer {
        None => writeln!(out, "{NOT_FOUND}")?,
        Some(text) => {
            writeln!(out, "{text}")?;
            writeln!(out)?;
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
        crate::log(&format!(
            "dropped: \"{}\" ({})",
            c.text,
            c.note.as_deref().unwrap_or("unsupported")
        ));
    }
    Ok(Outcome::Success)
}

/// A checked answer (or an abstention) to one question.
#[derive(Debug)]
pub struct Answered {
    pub question: String,
    /// None: abstained.
    pub answer: Option<String>,
    abstain: Option<Abstain>,
    mode: &'static str,
    model: Option<String>,
    retrieval: Mode,
    claims: Vec<Claim>,
    sources: Vec<Source>,
}

impl Answered {
    pub fn kept(&self) -> impl Iterator<Item = &Claim> {
        self.claims.iter().filter(|c| c.supported)
    }

    pub fn dropped(&self) -> impl Iterator<Item = &Claim> {
        self.claims.iter().filter(|c| !c.supported)
    }

    /// The answer as `docket ask --json` prints it.
    pub fn json(&self) -> serde_json::Value {
        let kept: Vec<&Claim> = self.kept().collect();
        let dropped: Vec<&Claim> = self.dropped().collect();
        json!({
            "question": self.question,
            "answer": self.answer,
            "abstained": self.abstain.map(Abstain::code),
            "mode": self.mode,
            "model": self.model,
            "retrieval": self.retrieval,
            "claims": kept,
            "dropped": dropped,
            "sources": cited_sources(&kept, &self.sources),
        })
    }
}

/// Answer `question` from `index`: retrieve, generate with the LLM (or extract the
/// best sentences when there is none), check every sentence against the source it
/// cites, and abstain when nothing relevant or nothing supported is left.
pub fn answer(
    index: &Index,
    question: &str,
    k: usize,
    filter: &Filter,
    llm: &mut LazyLlm,
) -> Result<Answered> {
    let config = AnswerConfig {
        k,
        ..AnswerConfig::default()
    };
    let results = index.search(question, config.k, Mode::Hybrid, filter, None)?;
    let analyze = |t: &str| index.analyze(t);
    let verifier = Verifier {
        config: &config,
        analyze: &analyze,
        embedder: index.embedder(),
    };
    // Chunk token counts are the embedder's; a generator's tokenizer is in the same
    // range for English text, and the budget leaves room for the difference.
    let count = |t: &str| t.len() / 4 + 1;
    let sources = pack(&results.hits, config.context_tokens, &count);

    let mut mode = "extractive";
    let mut model = None;
    let (claims, abstain) = if !verifier.relevant(question, &results.hits) {
        (Vec::new(), Some(Abstain::NothingRelevant))
    } else {
        let max_tokens = llm.max_tokens();
        let claims = match llm.get() {
            Some(llm) => {
                mode = "generated";
                model = Some(llm.model_id().to_owned());
                let (system, user) = prompt(question, &sources);
                let params = GenerateParams {
                    max_tokens,
                    ..GenerateParams::default()
                };
                let completion = llm
                    .complete(
                        &Prompt::Chat(vec![Message::system(system), Message::user(user)]),
                        &params,
                    )
                    .context("the LLM failed")?;
                let text = completion.text.trim();
                if text.to_lowercase().contains(NOT_FOUND) {
                    Vec::new()
                } else {
                    let mut claims = verifier.verify(text, &sources);
                    for c in claims.iter_mut().filter(|c| c.supported) {
                        if !verifier.on_topic(question, &c.text) {
                            c.supported = false;
                            c.note = Some("supported, but not about the question".into());
                        }
                    }
                    claims
                }
            }
            None => verifier.extract(question, &sources),
        };
        let none = claims.iter().all(|c| !c.supported);
        (claims, none.then_some(Abstain::NothingSupported))
    };
    let answer = abstain.is_none().then(|| {
        let kept: Vec<&Claim> = claims.iter().filter(|c| c.supported).collect();
        answer_text(&kept)
    });
    Ok(Answered {
        question: question.to_owned(),
        answer,
        abstain,
        mode,
        model,
        retrieval: results.mode,
        claims,
        sources,
    })
}

/// The kept sentences, each followed by the number of the source that supports it.
fn answer_text(kept: &[&Claim]) -> String {
    kept.iter()
        .map(|c| {
            let n = c.support.as_ref().map_or(0, |s| s.n);
            let text = c.text.trim_end();
            match text.strip_suffix(['.', '!', '?']) {
                Some(body) => format!("{body} [{n}]{}", &text[body.len()..]),
                None => format!("{text} [{n}]"),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The sources that support a kept sentence, with their supporting spans.
fn cited_sources(kept: &[&Claim], sources: &[Source]) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for s in sources {
        let spans: Vec<_> = kept
            .iter()
            .filter_map(|c| c.support.as_ref())
            .filter(|sup| sup.n == s.n)
            .map(|sup| json!({"start": sup.start, "end": sup.end, "page": sup.page, "text": sup.text}))
            .collect();
        if spans.is_empty() {
            continue;
        }
        out.push(json!({
            "n": s.n,
            "source": s.chunk.source,
            "doc_id": s.chunk.doc_id,
            "chunk_id": s.chunk.id,
            "title": s.chunk.title,
            "page_start": s.chunk.page_start,
            "page_end": s.chunk.page_end,
            "spans": spans,
        }));
    }
    out
}
