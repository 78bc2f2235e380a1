//! `docket ask`: retrieve, answer, check every sentence against its sources, or abstain.

use std::io::Write;

use anyhow::{Context, Result};
use docket_generate::answer::{AnswerConfig, Claim, Source, Verifier, pack, prompt};
use docket_generate::{GenerateParams, Message, Prompt};
use docket_index::Mode;
use serde_json::json;

use crate::cli::AskArgs;
use crate::search_cmd::{open_for_search, parse_filters};
use crate::{Outcome, UsageError, log, models};

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
    let config = AnswerConfig {
        k: args.k,
        ..AnswerConfig::default()
    };
    let index = open_for_search(
        &args.index.dir,
        Mode::Hybrid,
        args.embed.embed_model.as_deref(),
    )?;
    let results = index.search(&args.question, config.k, Mode::Hybrid, &filter, None)?;
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
    let (claims, abstain) = if !verifier.relevant(&args.question, &results.hits) {
        (Vec::new(), Some(Abstain::NothingRelevant))
    } else {
        let llm = if args.extractive {
            None
        } else {
            match models::load_llm(&args.llm) {
                Ok(llm) => Some(llm),
                Err(e) => {
                    log(&format!("notice: {e:#}; answering extractively"));
                    None
                }
            }
        };
        let claims = match &llm {
            Some(llm) => {
                mode = "generated";
                model = Some(llm.model_id().to_owned());
                let (system, user) = prompt(&args.question, &sources);
                let params = GenerateParams {
                    max_tokens: args.llm.max_tokens,
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
                        if !verifier.on_topic(&args.question, &c.text) {
                            c.supported = false;
                            c.note = Some("supported, but not about the question".into());
                        }
                    }
                    claims
                }
            }
            None => verifier.extract(&args.question, &sources),
        };
        let none = claims.iter().all(|c| !c.supported);
        (claims, none.then_some(Abstain::NothingSupported))
    };
    let kept: Vec<&Claim> = claims.iter().filter(|c| c.supported).collect();
    let dropped: Vec<&Claim> = claims.iter().filter(|c| !c.supported).collect();
    let answer = abstain.is_none().then(|| answer_text(&kept));

    let mut out = std::io::stdout().lock();
    if args.json {
        let value = json!({
            "question": args.question,
            "answer": answer,
            "abstained": abstain.map(Abstain::code),
            "mode": mode,
            "model": model,
            "retrieval": results.mode,
            "claims": kept,
            "dropped": dropped,
            "sources": cited_sources(&kept, &sources),
        });
        serde_json::to_writer(&mut out, &value)?;
        writeln!(out)?;
        return Ok(Outcome::Success);
    }
    match &answer {
        None => writeln!(out, "{NOT_FOUND}")?,
        Some(text) => {
            writeln!(out, "{text}")?;
            writeln!(out)?;
            for c in &kept {
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
    for c in &dropped {
        crate::log(&format!(
            "dropped: \"{}\" ({})",
            c.text,
            c.note.as_deref().unwrap_or("unsupported")
        ));
    }
    Ok(Outcome::Success)
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
