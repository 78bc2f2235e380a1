//! The generate stage of docket: retrieves context from the index and classifies,
//! summarizes or answers, with LLM backends behind one small trait, [`Llm`].
//!
//! Answering a question from a small BM25-only index, without any model (the answer is
//! then the sources' own sentences, each cited; with an LLM, pass it instead of `None`
//! and every sentence it writes is checked the same way):
//!
//! ```
//! use std::sync::Arc;
//!
//! use docket_generate::answer::{AskOptions, ask};
//! use docket_index::{Action, Index, IndexSettings};
//! use docket_ingest::{ApproxTokenizer, Chunker, ChunkingConfig, Document, Format, TextBuilder};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let chunker = Chunker::new(ChunkingConfig::default(), Arc::new(ApproxTokenizer))?;
//! let settings = IndexSettings {
//!     tokenizer: chunker.tokenizer_name().to_owned(),
//!     chunking: chunker.config().clone(),
//!     ..IndexSettings::default()
//! };
//! let dir = tempfile::tempdir()?;
//! let mut index = Index::create_or_open(dir.path(), None, &settings)?; // no embedder
//! let text = "Customer invoices are kept for 7 years. Support tickets are deleted after 2 years.";
//! let mut builder = TextBuilder::new();
//! builder.push_str(text);
//! let hash = docket_ingest::document::content_hash(text.as_bytes());
//! let doc = Document::new("retention.txt".into(), Format::Text, hash, builder.finish(true));
//! index.stage(&doc, chunker.chunk(&doc)?, Action::Add)?;
//! index.commit()?;
//!
//! let answer = ask(&index, "How long are invoices kept?", &AskOptions::default(), None)?;
//! assert_eq!(answer.text(), Some("Customer invoices are kept for 7 years [1]."));
//! // The citation is an exact byte span of the document's text.
//! let span = &answer.sources[0].spans[0];
//! assert_eq!(&text[span.start..span.end], "Customer invoices are kept for 7 years.");
//!
//! // Nothing relevant: the program abstains, and says why.
//! let none = ask(&index, "Who won the cup?", &AskOptions::default(), None)?;
//! assert_eq!(none.abstained, Some(docket_generate::answer::Abstention::NothingRelevant));
//! # Ok(())
//! # }
//! ```
//!
//! - [`answer`]: numbered sources for a question, program-checked citations,
//!   abstention and extractive answers.
//! - [`classify`]: zero-shot and supervised document classification, with metrics.
//! - [`summarize`]: extractive summaries with byte offsets, and ROUGE.
//! - [`text`]: sentences, words and ROUGE tokens shared by both.
//! - [`records`]: the typed records of results (predictions, summaries, answers) that
//!   every front end prints with the same field names.
//! - [`eval`]: classification and summary evaluations, as typed reports.
//! - [`LazyLlm`]: an LLM loaded on first use and shared by threads.
//! - [`LocalLlm`] runs a llama-family GGUF model (by default SmolLM2-135M-Instruct
//!   Q4_1, provisioned by `docket models fetch`) on the CPU, on docket's own kernels;
//!   [`HttpLlm`] talks to any OpenAI-compatible server (`/v1/chat/completions`).
//!
//! Both backends stream text as it is generated, honour stop sequences, a token
//! budget, a temperature and a seed. [`Llm::score`] gives the log-probability of
//! candidate continuations, which [`choose`] turns into "exactly one of these labels,
//! with a confidence": the local backend computes it from the model's own token
//! distributions; the HTTP backend reports it as unsupported.

pub mod answer;
pub mod classify;
pub mod error;
pub mod eval;
mod http;
mod lazy;
mod local;
pub mod quote;
pub mod records;
mod stream;
pub mod summarize;
#[cfg(test)]
mod testing;
pub mod text;
#[cfg(test)]
mod unicode_props;

use std::ops::ControlFlow;

use serde::{Deserialize, Serialize};

pub use error::{Error, Fault, Result};
pub use http::{HttpConfig, HttpLlm};
pub use lazy::{LazyLlm, LlmLoader};
pub use local::{
    Architecture, ChatFormat, DEFAULT_MODEL_DIR, DEFAULT_MODEL_FILE, DEFAULT_MODEL_LOOKUP,
    LocalConfig, LocalLlm, UnknownArchitecture, default_model_candidates, find_default_model,
};

/// Who speaks in a chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: String,
}

impl Message {
    pub fn system(content: impl Into<String>) -> Self {
        Message {
            role: Role::System,
            content: content.into(),
        }
    }
    pub fn user(content: impl Into<String>) -> Self {
        Message {
            role: Role::User,
            content: content.into(),
        }
    }
    pub fn assistant(content: impl Into<String>) -> Self {
        Message {
            role: Role::Assistant,
            content: content.into(),
        }
    }
}

/// What the model continues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prompt {
    /// Messages, rendered with the model's chat template (locally) or sent as chat
    /// messages (HTTP); the model answers as the assistant.
    Chat(Vec<Message>),
    /// Text the model continues as is (no template; the local backend only adds the
    /// model's beginning-of-sequence token if its metadata asks for one).
    Raw(String),
}

impl Prompt {
    /// A chat of one user message.
    pub fn user(content: impl Into<String>) -> Self {
        Prompt::Chat(vec![Message::user(content)])
    }
}

/// How to generate. Defaults: greedy (temperature 0), 256 tokens, no stop sequence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerateParams {
    /// Most tokens to generate.
    #[serde(default = "default_max_tokens")]
    pub max_tokens: usize,
    /// 0 picks the most likely token every time (reproducible); higher values sample
    /// more freely.
    #[serde(default = "default_temperature")]
    pub temperature: f32,
    /// Sample only from the most likely tokens whose probabilities add up to this.
    #[serde(default = "default_top_p")]
    pub top_p: f32,
    /// Seed of the sampler, so that a sampled answer can be reproduced.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Generation stops before the first of these strings, which is not returned.
    #[serde(default = "default_stop")]
    pub stop: Vec<String>,
}

fn default_max_tokens() -> usize {
    256
}
fn default_temperature() -> f32 {
    0.0
}
fn default_top_p() -> f32 {
    1.0
}
fn default_seed() -> u64 {
    0
}
fn default_stop() -> Vec<String> {
    Vec::new()
}

impl Default for GenerateParams {
    fn default() -> Self {
        GenerateParams {
            max_tokens: default_max_tokens(),
            temperature: default_temperature(),
            top_p: default_top_p(),
            seed: default_seed(),
            stop: default_stop(),
        }
    }
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// The model ended its answer, or a stop sequence was met.
    Stop,
    /// `max_tokens` or the model's context ran out.
    Length,
    /// The streaming callback asked to stop.
    Cancelled,
}

/// A finished generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// The generated text, without the stop sequence.
    pub text: String,
    pub finish: FinishReason,
    /// Tokens of the prompt as the model saw it (template included), when known.
    pub prompt_tokens: usize,
    /// Tokens generated.
    pub completion_tokens: usize,
}

/// The log-probability the model gives a continuation of a prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct ContinuationScore {
    /// Natural-log probability of each token of the continuation given all before it.
    pub token_logprobs: Vec<f32>,
    /// Their sum: the log-probability of the whole continuation.
    pub logprob: f64,
}

/// A text generator. Implementations are shareable across threads; a backend that
/// can only run one generation at a time makes callers take turns.
pub trait Llm: Send + Sync {
    /// Identifies the model (file name or served model name), for logs and records.
    fn model_id(&self) -> &str;

    /// Generate a continuation of `prompt`, passing each new piece of text to
    /// `on_text` as soon as it is final (stop sequences are held back until they can
    /// be ruled out). `on_text` returning `ControlFlow::Break` ends generation with
    /// [`FinishReason::Cancelled`].
    fn generate(
        &self,
        prompt: &Prompt,
        params: &GenerateParams,
        on_text: &mut dyn FnMut(&str) -> ControlFlow<()>,
    ) -> Result<Completion>;

    /// Generate without streaming.
    fn complete(&self, prompt: &Prompt, params: &GenerateParams) -> Result<Completion> {
        self.generate(prompt, params, &mut |_| ControlFlow::Continue(()))
    }

    /// The log-probability of each of `continuations` as the model's answer to
    /// `prompt` (for a chat prompt: the start of the assistant's reply). Backends that
    /// cannot compute it return [`Error::Unsupported`].
    fn score(&self, prompt: &Prompt, continuations: &[&str]) -> Result<Vec<ContinuationScore>>;
}

/// The label the model finds most likely as its answer, and how sure it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    /// Index of the chosen label.
    pub index: usize,
    /// Probability of each label, normalised over the labels (they sum to 1).
    pub probabilities: Vec<f64>,
    /// The raw scores.
    pub scores: Vec<ContinuationScore>,
}

impl Choice {
    /// Probability of the chosen label.
    pub fn confidence(&self) -> f64 {
        self.probabilities[self.index]
    }
}

/// Constrained classification: score every label as the answer to `prompt` and pick the
/// most likely, with probabilities renormalised over the labels. The probability of a
/// label is that of its whole token sequence, so labels of different lengths compare
/// fairly only if the prompt asks for exactly one of them.
pub fn choose(llm: &dyn Llm, prompt: &Prompt, labels: &[&str]) -> Result<Choice> {
    if labels.is_empty() {
        return Err(Error::Config {
            setting: "labels",
            reason: "at least one label is needed".into(),
        });
    }
    let scores = llm.score(prompt, labels)?;
    let max = scores
        .iter()
        .map(|s| s.logprob)
        .fold(f64::NEG_INFINITY, f64::max);
    let exps: Vec<f64> = scores.iter().map(|s| (s.logprob - max).exp()).collect();
    let sum: f64 = exps.iter().sum();
    let probabilities: Vec<f64> = exps.iter().map(|e| e / sum).collect();
    let index =
        probabilities.iter().enumerate().fold(
            0,
            |best, (i, p)| if *p > probabilities[best] { i } else { best },
        );
    Ok(Choice {
        index,
        probabilities,
        scores,
    })
}
