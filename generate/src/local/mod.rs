//! [`LocalLlm`]: a llama-family GGUF model run on the CPU by docket's own forward pass
//! (see [`model`]).

mod arch;
mod chat;
mod kernels;
mod kquant;
mod model;
mod quant;
mod tokenizer;

use std::collections::HashSet;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use candle_core::quantized::gguf_file;
use docket_index::home::ModelLookup;
use serde::{Deserialize, Serialize};

pub use arch::{Architecture, UnknownArchitecture};
pub use chat::{ChatFormat, ChatTemplate};

use crate::error::{Error, Result};
use crate::stream::{Rng, StopFilter, logprob, sample};
use crate::{Completion, ContinuationScore, FinishReason, GenerateParams, Llm, Prompt};

/// Folder of the default generator under `$DOCKET_HOME/models/` (see docket's
/// `models fetch`).
pub const DEFAULT_MODEL_DIR: &str = "smollm2-135m-instruct-q4_1";
/// The default generator's file in that folder.
pub const DEFAULT_MODEL_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";

/// How the default model is found: `$DOCKET_LLM_MODEL` (a .gguf file), then
/// [`DEFAULT_MODEL_FILE`] in `models/smollm2-135m-instruct-q4_1` under docket's home
/// (`docket_index::home::docket_home`, where `docket models fetch` puts it).
pub const DEFAULT_MODEL_LOOKUP: ModelLookup = ModelLookup {
    role: "generator",
    override_var: "DOCKET_LLM_MODEL",
    override_kind: "a .gguf file",
    rel: &[DEFAULT_MODEL_DIR, DEFAULT_MODEL_FILE],
    marker: None,
};

/// Where the default model is looked for, in order (see [`DEFAULT_MODEL_LOOKUP`]).
pub fn default_model_candidates() -> Vec<PathBuf> {
    DEFAULT_MODEL_LOOKUP.candidates()
}

/// The first of [`default_model_candidates`] that exists.
pub fn find_default_model() -> Result<PathBuf> {
    Ok(DEFAULT_MODEL_LOOKUP.find()?)
}

/// Settings of the local backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocalConfig {
    /// Worker threads; 0 uses every core.
    #[serde(default = "default_threads")]
    pub threads: usize,
    /// Most memory, in MiB, for the f32 copies of the weights that make prompt
    /// processing fast (about 4 bytes per weight: 430 MiB for the 135M default). A
    /// larger model runs its prompts on the quantized weights instead, several times
    /// slower.
    #[serde(default = "default_f32_budget_mib")]
    pub f32_budget_mib: usize,
    /// Caps the context below the model's own (whose KV cache could be large).
    #[serde(default = "default_max_context")]
    pub max_context: Option<usize>,
}

fn default_threads() -> usize {
    0
}
fn default_f32_budget_mib() -> usize {
    2048
}
fn default_max_context() -> Option<usize> {
    None
}

impl Default for LocalConfig {
    fn default() -> Self {
        LocalConfig {
            threads: default_threads(),
            f32_budget_mib: default_f32_budget_mib(),
            max_context: default_max_context(),
        }
    }
}

/// The KV cache and the tokens it holds, kept between calls so that prompts sharing
/// a prefix (the same instructions before different documents) skip it.
#[derive(Debug, Default)]
struct State {
    ws: model::Workspace,
    tokens: Vec<u32>,
}

/// A llama-family GGUF model (SmolLM2, Llama 2/3, Mistral, Qwen2) on the CPU.
///
/// One generation runs at a time (calls from several threads take turns), on the
/// backend's own thread pool.
#[derive(Debug)]
pub struct LocalLlm {
    model_id: String,
    model: model::Model,
    tokenizer: tokenizers::Tokenizer,
    chat: ChatFormat,
    /// The file's own template; `chat` renders when there is none.
    template: Option<ChatTemplate>,
    bos: Option<u32>,
    add_bos: bool,
    stop_ids: HashSet<u32>,
    context: usize,
    pool: rayon::ThreadPool,
    state: Mutex<State>,
}

impl LocalLlm {
    /// Load a GGUF file with the default settings.
    pub fn load(path: &Path) -> Result<Self> {
        Self::load_with(path, &LocalConfig::default())
    }

    /// Load the default model (see [`find_default_model`]).
    pub fn load_default() -> Result<Self> {
        Self::load(&find_default_model()?)
    }

    /// Load a GGUF file.
    pub fn load_with(path: &Path, config: &LocalConfig) -> Result<Self> {
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut file = std::fs::File::open(path).map_err(io)?;
        let content = gguf_file::Content::read(&mut file).map_err(|e| Error::Gguf {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let model_id = path
            .file_stem()
            .map_or_else(|| "model".into(), |n| n.to_string_lossy().into_owned());
        let tokenizer = tokenizer::load(path, &content, &model_id)?;
        let md_str = |k: &str| {
            content
                .metadata
                .get(k)
                .and_then(|v| v.to_string().ok())
                .cloned()
        };
        let bos = tokenizer::uint(&content, "tokenizer.ggml.bos_token_id");
        let eos = tokenizer::uint(&content, "tokenizer.ggml.eos_token_id");
        let add_bos = tokenizer::boolean(&content, "tokenizer.ggml.add_bos_token")
            .unwrap_or(md_str("tokenizer.ggml.model").as_deref() == Some("llama"));
        let mut stop_ids: HashSet<u32> =
            ["tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id"]
                .iter()
                .filter_map(|k| tokenizer::uint(&content, k))
                .collect();
        for t in [
            "<|im_end|>",
            "<|eot_id|>",
            "<|end_of_text|>",
            "<|endoftext|>",
            "<|end|>",
            "<|eom_id|>",
            "<end_of_turn>",
            "</s>",
        ] {
            stop_ids.extend(tokenizer.token_to_id(t));
        }
        let template = md_str("tokenizer.chat_template");
        // The architecture is parsed (and an unsupported one refused) with the rest of
        // the model's shape, before any weight is read.
        let model = model::Model::load(
            path,
            content,
            file,
            model::LoadOptions {
                f32_budget: config.f32_budget_mib.saturating_mul(1 << 20),
            },
        )?;
        let has_token = |t: &str| tokenizer.token_to_id(t).is_some();
        let chat = ChatFormat::detect(template.as_deref(), model.hp.arch, has_token);
        // A template the engine cannot compile leaves the recognised format in charge.
        let text = |id: Option<u32>| id.and_then(|id| tokenizer.id_to_token(id));
        let template = template.and_then(|source| {
            ChatTemplate::new(&source, text(bos).as_deref(), text(eos).as_deref()).ok()
        });
        let context = config
            .max_context
            .map_or(model.hp.context, |c| c.min(model.hp.context));
        let threads = match config.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("docket-llm-{i}"))
            .build()
            .map_err(|e| Error::Runtime {
                reason: e.to_string(),
            })?;
        Ok(LocalLlm {
            model_id,
            model,
            tokenizer,
            chat,
            template,
            bos,
            add_bos,
            stop_ids,
            context,
            pool,
            state: Mutex::new(State::default()),
        })
    }

    /// Tokens the model attends to at most: the prompt and what is generated.
    pub fn context_length(&self) -> usize {
        self.context
    }

    /// The chat format the prompts are rendered in.
    pub fn chat_format(&self) -> &ChatFormat {
        &self.chat
    }

    /// The model's architecture.
    pub fn architecture(&self) -> Architecture {
        self.model.hp.arch
    }

    /// Worker threads.
    pub fn threads(&self) -> usize {
        self.pool.current_num_threads()
    }

    /// Bytes of weights held in memory.
    pub fn weight_bytes(&self) -> usize {
        self.model.bytes()
    }

    /// Token ids of `text` alone (special markers in it are recognised).
    pub fn tokenize(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self
            .tokenizer
            .encode(text, false)
            .map_err(|e| self.tok_err(e.to_string()))?;
        Ok(enc.get_ids().to_vec())
    }

    /// Text of token ids, special tokens left out.
    pub fn detokenize(&self, ids: &[u32]) -> Result<String> {
        self.tokenizer
            .decode(ids, true)
            .map_err(|e| self.tok_err(e.to_string()))
    }

    /// The token ids the model sees for `prompt`: template applied, BOS added.
    pub fn prompt_tokens(&self, prompt: &Prompt) -> Result<Vec<u32>> {
        let (text, wants_bos) = match prompt {
            Prompt::Chat(messages) => self.render_chat(messages)?,
            Prompt::Raw(text) => (text.clone(), false),
        };
        let mut ids = Vec::new();
        if let Some(bos) = self.bos.filter(|_| self.add_bos || wants_bos) {
            ids.push(bos);
        }
        ids.extend(self.tokenize(&text)?);
        Ok(ids)
    }

    /// The prompt text of a chat and whether it must follow a BOS token. A template
    /// that writes the BOS token's text itself has it taken off again and asks for the
    /// token, so that the prompt starts with one BOS whatever the file's `add_bos_token`
    /// says (as llama.cpp does).
    fn render_chat(&self, messages: &[crate::Message]) -> Result<(String, bool)> {
        let Some(template) = &self.template else {
            return Ok((self.chat.render(messages), self.chat.wants_bos()));
        };
        let text = template
            .render_folding_system(messages, true)
            .map_err(|reason| Error::ChatTemplate {
                model: self.model_id.clone(),
                reason,
            })?;
        let bos = template.bos_token();
        match text.strip_prefix(bos).filter(|_| !bos.is_empty()) {
            Some(rest) => Ok((rest.to_string(), true)),
            None => Ok((text, false)),
        }
    }

    /// Logits over the vocabulary for the token after `tokens`, computing only what the
    /// cache does not already hold.
    pub fn next_logits(&self, tokens: &[u32]) -> Result<Vec<f32>> {
        let mut state = self.lock();
        self.prefill(&mut state, tokens)?;
        Ok(state.ws.logits.clone())
    }

    /// Forget the cached prompt, so that the next call computes everything (for
    /// benchmarks).
    pub fn clear_cache(&self) {
        let mut state = self.lock();
        state.ws.truncate(0);
        state.tokens.clear();
    }

    fn tok_err(&self, reason: String) -> Error {
        Error::Tokenizer {
            model: self.model_id.clone(),
            reason,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn check_fits(&self, tokens: usize) -> Result<()> {
        if tokens > self.context {
            return Err(Error::PromptTooLong {
                model: self.model_id.clone(),
                tokens,
                context: self.context,
            });
        }
        Ok(())
    }

    /// Bring the cache to `tokens` (reusing the longest common prefix with what it
    /// holds) and leave the logits of the last token in `state.ws.logits`.
    fn prefill(&self, state: &mut State, tokens: &[u32]) -> Result<()> {
        if tokens.is_empty() {
            return Err(Error::Config {
                setting: "prompt",
                reason: "the prompt has no tokens".into(),
            });
        }
        self.check_fits(tokens.len())?;
        let common = state
            .tokens
            .iter()
            .zip(tokens)
            .take_while(|(a, b)| a == b)
            .count()
            .min(tokens.len() - 1);
        state.ws.truncate(common);
        state.tokens.truncate(common);
        // The last token always runs alone, on the path generation uses, so that a
        // prompt's next-token distribution does not depend on how much of it was
        // cached (batched and single-row products round differently, and a seeded
        // sample must not change with the cache).
        let last = tokens.len() - 1;
        for chunk in tokens[common..last].chunks(model::MAX_BATCH) {
            self.forward(state, chunk, false);
        }
        self.forward(state, &tokens[last..], false);
        Ok(())
    }

    fn forward(&self, state: &mut State, tokens: &[u32], all_logits: bool) {
        let (model, ws) = (&self.model, &mut state.ws);
        self.pool.install(|| model.forward(tokens, ws, all_logits));
        state.tokens.extend_from_slice(tokens);
    }
}

/// Turns token ids into text as they come, holding back an incomplete UTF-8 sequence
/// (byte-level tokens can split a character) and letting the tokenizer see enough
/// context to place spaces right.
struct Detok {
    ids: Vec<u32>,
    prefix: usize,
    read: usize,
}

impl Detok {
    fn push(&mut self, llm: &LocalLlm, id: u32) -> Result<Option<String>> {
        self.ids.push(id);
        let before = llm.detokenize(&self.ids[self.prefix..self.read])?;
        let now = llm.detokenize(&self.ids[self.prefix..])?;
        if now.len() > before.len() && !now.ends_with('\u{FFFD}') {
            let piece = now.get(before.len()..).unwrap_or_default().to_string();
            self.prefix = self.read;
            self.read = self.ids.len();
            Ok(Some(piece))
        } else {
            Ok(None)
        }
    }
}

impl Llm for LocalLlm {
    fn model_id(&self) -> &str {
        &self.model_id
    }

    fn generate(
        &self,
        prompt: &Prompt,
        params: &GenerateParams,
        on_text: &mut dyn FnMut(&str) -> ControlFlow<()>,
    ) -> Result<Completion> {
        let tokens = self.prompt_tokens(prompt)?;
        // Room for at least one generated token.
        self.check_fits(tokens.len() + 1)?;
        let mut state = self.lock();
        self.prefill(&mut state, &tokens)?;
        let mut rng = Rng::new(params.seed);
        let mut stop = StopFilter::new(&params.stop);
        let mut detok = Detok {
            ids: Vec::new(),
            prefix: 0,
            read: 0,
        };
        let mut generated = 0;
        let mut finish = FinishReason::Length;
        while generated < params.max_tokens {
            let next = sample(&state.ws.logits, params.temperature, params.top_p, &mut rng);
            generated += 1;
            if self.stop_ids.contains(&next) {
                finish = FinishReason::Stop;
                break;
            }
            if let Some(piece) = detok.push(self, next)? {
                let (out, stopped) = stop.push(&piece);
                let flow = if out.is_empty() {
                    ControlFlow::Continue(())
                } else {
                    on_text(&out)
                };
                if stopped {
                    finish = FinishReason::Stop;
                    break;
                }
                if flow.is_break() {
                    finish = FinishReason::Cancelled;
                    break;
                }
            }
            if generated >= params.max_tokens || state.tokens.len() + 1 > self.context {
                break;
            }
            self.forward(&mut state, &[next], false);
        }
        if finish != FinishReason::Stop || stop.text.is_empty() {
            let rest = stop.finish();
            if !rest.is_empty() && finish != FinishReason::Cancelled {
                let _ = on_text(&rest);
            }
        }
        Ok(Completion {
            text: stop.text,
            finish,
            prompt_tokens: tokens.len(),
            completion_tokens: generated,
        })
    }

    fn score(&self, prompt: &Prompt, continuations: &[&str]) -> Result<Vec<ContinuationScore>> {
        let tokens = self.prompt_tokens(prompt)?;
        let mut state = self.lock();
        self.prefill(&mut state, &tokens)?;
        let first = state.ws.logits.clone();
        let p = tokens.len();
        let vocab = self.model.hp.vocab;
        let mut out = Vec::with_capacity(continuations.len());
        for cont in continuations {
            let ids = self.tokenize(cont)?;
            let Some(&id0) = ids.first() else {
                out.push(ContinuationScore {
                    token_logprobs: Vec::new(),
                    logprob: 0.0,
                });
                continue;
            };
            self.check_fits(p + ids.len())?;
            let mut lps = vec![logprob(&first, id0)];
            if ids.len() > 1 {
                state.ws.truncate(p);
                state.tokens.truncate(p);
                self.forward(&mut state, &ids[..ids.len() - 1], true);
                for (i, &id) in ids[1..].iter().enumerate() {
                    lps.push(logprob(&state.ws.logits[i * vocab..(i + 1) * vocab], id));
                }
                state.ws.truncate(p);
                state.tokens.truncate(p);
            }
            out.push(ContinuationScore {
                logprob: lps.iter().map(|&l| l as f64).sum(),
                token_logprobs: lps,
            });
        }
        // The cache holds the prompt, but the logits are the last continuation's.
        state.ws.truncate(p - 1);
        state.tokens.truncate(p - 1);
        Ok(out)
    }
}
