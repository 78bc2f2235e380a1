//! Sentence embeddings: the [`Embedder`] trait the index stage depends on, and
//! [`BertEmbedder`], which runs a BERT-family sentence-transformers model (by default
//! all-MiniLM-L6-v2; also RoBERTa / XLM-RoBERTa ones such as multilingual e5 and bge-m3)
//! and reproduces sentence-transformers' vectors: its pooling, normalisation and
//! query/passage prompts come from the model folder (see [`SentenceConfig`],
//! [`Prompts`]).
//!
//! [`BertEmbedder`] loads a Hugging Face model directory with candle and runs the
//! encoder on its own kernels (see [`bert`]), because candle's generic tensor ops left
//! most of the CPU idle: embedding is what bounds the pipeline's speed. On CPUs with
//! AVX512-FP16 its linear layers run in f16 by default (see [`Precision`];
//! `DOCKET_EMBED_PRECISION=f32` turns that off).

mod batching;
mod bert;
mod config;
mod kernels;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub use batching::{BatchingEmbedder, DEFAULT_MAX_BATCH};
pub use config::{BGE_EN_QUERY, BGE_ZH_QUERY, BertConfig, Pooling, Prompts, SentenceConfig};

use crate::error::{Error, Result};
use crate::home::ModelLookup;
use docket_kernels::{half, matmul::Isa};

/// Turns texts into fixed-size vectors whose cosine similarity reflects meaning.
pub trait Embedder: Send + Sync {
    /// One vector of [`dim`](Embedder::dim) values per text, in the order of `texts`.
    /// Texts longer than [`max_tokens`](Embedder::max_tokens) are truncated.
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>>;

    /// Vectors of search queries, for models that embed queries and passages
    /// differently (e5's `query: ` prompt, see [`Prompts`]); [`embed`](Embedder::embed)
    /// is the passage side. By default the same as `embed`.
    fn embed_queries(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        self.embed(texts)
    }

    /// The length of every vector.
    fn dim(&self) -> usize;

    /// An identifier of the model, recorded with an index so that vectors of different
    /// models are never compared.
    fn model_id(&self) -> &str;

    /// The longest input in model tokens (special tokens included) that is embedded
    /// whole; the chunker keeps chunks within it.
    fn max_tokens(&self) -> usize;
}

/// Folder name of the default embedding model under `$DOCKET_HOME/models/`.
pub const DEFAULT_MODEL: &str = "all-minilm-l6-v2";

/// How the default model is found: `$DOCKET_EMBED_MODEL` (a model directory), then
/// `all-minilm-l6-v2` under docket's home's `models/` ([`crate::home::docket_home`],
/// where `docket models fetch` puts it); a directory counts if it holds
/// `model.safetensors`.
pub const DEFAULT_MODEL_LOOKUP: ModelLookup = ModelLookup {
    role: "embedding",
    override_var: "DOCKET_EMBED_MODEL",
    override_kind: "a model directory",
    rel: &[DEFAULT_MODEL],
    marker: Some("model.safetensors"),
};

/// Where the default model is looked for, in order (see [`DEFAULT_MODEL_LOOKUP`]).
pub fn default_model_candidates() -> Vec<PathBuf> {
    DEFAULT_MODEL_LOOKUP.candidates()
}

/// The first of [`default_model_candidates`] that holds a model.
pub fn find_default_model() -> Result<PathBuf> {
    Ok(DEFAULT_MODEL_LOOKUP.find()?)
}

/// Arithmetic of the encoder's linear layers (attention, layer norm, GELU, softmax and
/// pooling are f32 in every case).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// f32 throughout.
    F32,
    /// Weights and activations rounded to f16 (each row and column scaled by a power of
    /// two so that nothing overflows), products summed in f16 over at most 64 terms and
    /// then in f32. Needs AVX512-FP16 (Intel Sapphire Rapids and later). On a 2-core
    /// Emerald Rapids VM it embedded 256-token chunks 1.2 to 1.7 times as fast as F32
    /// per CPU-second (the gain was larger when the machine was busy), short texts about
    /// 1.6 times, with vectors at cosine >= 0.99999 to sentence-transformers' on the
    /// reference sentences (`tests/embed_reference.rs`).
    F16,
}

impl Precision {
    /// Whether this CPU can run [`Precision::F16`].
    pub fn f16_supported() -> bool {
        half::available()
    }

    /// The precision used by [`BertEmbedder::load`]: `$DOCKET_EMBED_PRECISION` when set
    /// (`f32`, `f16`, or `auto`), otherwise `auto`, which is F16 where the CPU supports
    /// it (and `$DOCKET_EMBED_KERNEL` does not ask for a kernel below AVX-512) and F32
    /// elsewhere. Asking for `f16` on a CPU without AVX512-FP16 is an error.
    pub fn from_env() -> Result<Self> {
        let value = std::env::var("DOCKET_EMBED_PRECISION").unwrap_or_default();
        Self::parse(&value)
    }

    fn parse(value: &str) -> Result<Self> {
        let err = |reason: String| Error::Runtime {
            model: "DOCKET_EMBED_PRECISION".into(),
            reason,
        };
        match value.trim().to_ascii_lowercase().as_str() {
            "" | "auto" => Ok(if Self::f16_supported() && Isa::selected() == Isa::Avx512 {
                Precision::F16
            } else {
                Precision::F32
            }),
            "f32" | "fp32" => Ok(Precision::F32),
            "f16" | "fp16" if Self::f16_supported() => Ok(Precision::F16),
            "f16" | "fp16" => Err(err("f16 needs a CPU with AVX512-FP16".into())),
            other => Err(err(format!(
                "unknown precision {other:?} (expected f32, f16 or auto)"
            ))),
        }
    }
}

/// Inputs per forward pass are capped at this many tokens in all, which bounds the
/// buffers (about 50 MB for MiniLM) whatever the number of texts.
const MAX_BATCH_TOKENS: usize = 16 * 512;

/// A BERT-family sentence-transformers model on the CPU.
///
/// Each call to [`embed`](Embedder::embed) runs on the embedder's own thread pool (all
/// cores by default) and reuses one set of buffers; calls from several threads
/// therefore take turns, which costs nothing since each one already uses every core.
#[derive(Debug)]
pub struct BertEmbedder {
    /// The name the model is known by (its folder's, unless replaced).
    name: String,
    /// `name`, with the prompts when there are any (see [`model_id_of`]).
    model_id: String,
    dir: PathBuf,
    tokenizer: tokenizers::Tokenizer,
    precision: Precision,
    encoder: bert::Encoder,
    sentence: SentenceConfig,
    prompts: Prompts,
    pool: rayon::ThreadPool,
    workspace: Mutex<bert::Workspace>,
}

impl BertEmbedder {
    /// Load the model in `dir` (config.json, tokenizer.json, model.safetensors and the
    /// optional sentence-transformers files), running on all available cores.
    pub fn load(dir: &Path) -> Result<Self> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::load_with_threads(dir, threads)
    }

    /// As [`load`](Self::load), with a pool of `threads` worker threads.
    pub fn load_with_threads(dir: &Path, threads: usize) -> Result<Self> {
        Self::load_with_options(dir, threads, Precision::from_env()?)
    }

    /// As [`load`](Self::load), with a pool of `threads` worker threads and the linear
    /// layers in `precision` (an error if the CPU cannot run it, see
    /// [`Precision::f16_supported`]).
    pub fn load_with_options(dir: &Path, threads: usize, precision: Precision) -> Result<Self> {
        let model_id = dir
            .file_name()
            .map_or_else(|| "model".into(), |n| n.to_string_lossy().into_owned());
        let config = BertConfig::load(dir)?;
        let sentence = SentenceConfig::load(dir, &config)?;
        let prompts = Prompts::load(dir)?;
        let tokenizer = load_tokenizer(&dir.join("tokenizer.json"), sentence.max_seq_length)?;
        if precision == Precision::F16 && !Precision::f16_supported() {
            return Err(Error::Runtime {
                model: model_id,
                reason: "f16 precision needs a CPU with AVX512-FP16".into(),
            });
        }
        let encoder = bert::Encoder::load(&dir.join("model.safetensors"), &config, precision)?;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.max(1))
            .thread_name(|i| format!("docket-embed-{i}"))
            .build()
            .map_err(|e| Error::Runtime {
                model: model_id.clone(),
                reason: format!("cannot start the embedding threads: {e}"),
            })?;
        Ok(BertEmbedder {
            model_id: model_id_of(&model_id, &prompts),
            name: model_id,
            dir: dir.to_path_buf(),
            tokenizer,
            precision,
            encoder,
            sentence,
            prompts,
            pool,
            workspace: Mutex::new(bert::Workspace::default()),
        })
    }

    /// Load the default model (see [`find_default_model`]).
    pub fn load_default() -> Result<Self> {
        Self::load(&find_default_model()?)
    }

    /// Replace the model identifier (by default the directory's name).
    pub fn with_model_id(mut self, id: impl Into<String>) -> Self {
        self.name = id.into();
        self.model_id = model_id_of(&self.name, &self.prompts);
        self
    }

    /// Override the pooling read from the model's files (for models that ship without
    /// them, or to compare poolings).
    pub fn with_pooling(mut self, pooling: Pooling) -> Self {
        self.sentence.pooling = pooling;
        self
    }

    /// Replace the prompts read from the model's files or recognised from its name (see
    /// [`Prompts::load`]). Vectors made with other prompts are not comparable, so the
    /// prompts are part of the [`model_id`](Embedder::model_id) when there are any.
    pub fn with_prompts(mut self, prompts: Prompts) -> Self {
        self.model_id = model_id_of(&self.name, &prompts);
        self.prompts = prompts;
        self
    }

    /// The prompts put before queries and passages.
    pub fn prompts(&self) -> &Prompts {
        &self.prompts
    }

    /// The pooling and normalisation read from the model's files.
    pub fn sentence_config(&self) -> SentenceConfig {
        self.sentence
    }

    /// The arithmetic of the linear layers.
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// Worker threads of the forward pass.
    pub fn threads(&self) -> usize {
        self.pool.current_num_threads()
    }

    /// Token ids of `text` as the model sees it: special tokens added, truncated to
    /// [`max_tokens`](Embedder::max_tokens).
    pub fn token_count(&self, text: &str) -> Result<usize> {
        Ok(self.encode(&[text])?[0].get_ids().len())
    }

    fn encode(&self, texts: &[&str]) -> Result<Vec<tokenizers::Encoding>> {
        self.tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| Error::Tokenizer {
                path: self.dir.join("tokenizer.json"),
                reason: e.to_string(),
            })
    }
}

/// The model id of a model `name` used with `prompts`: the name alone without prompts
/// (so the ids of indexes made before prompts existed stay valid), else the name with
/// the prompts, so that an index made with other prompts is refused, not mixed.
fn model_id_of(name: &str, prompts: &Prompts) -> String {
    if prompts.is_empty() {
        name.to_string()
    } else {
        format!(
            "{name} [query {:?}, passage {:?}]",
            prompts.query, prompts.passage
        )
    }
}

/// Load tokenizer.json with truncation at `max_len` tokens (special tokens included, as
/// sentence-transformers does) and no padding: the file of all-MiniLM-L6-v2 asks for
/// truncation at 128 and fixed padding to 128, neither of which sentence-transformers
/// uses.
fn load_tokenizer(path: &Path, max_len: usize) -> Result<tokenizers::Tokenizer> {
    let err = |reason: String| Error::Tokenizer {
        path: path.to_path_buf(),
        reason,
    };
    let mut tok = tokenizers::Tokenizer::from_file(path).map_err(|e| err(e.to_string()))?;
    tok.with_padding(None);
    tok.with_truncation(Some(tokenizers::TruncationParams {
        max_length: max_len,
        ..Default::default()
    }))
    .map_err(|e| err(e.to_string()))?;
    Ok(tok)
}

/// Texts tokenized at once by [`BertEmbedder::embed`]: a tokenizer `Encoding` of 256
/// tokens costs some tens of KB, so a caller handing over every sentence of a long
/// document at once (a summary's candidates) would need gigabytes without windows.
const EMBED_WINDOW: usize = 1024;

impl BertEmbedder {
    /// Embed one window of texts (see [`EMBED_WINDOW`]).
    fn embed_window(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let encodings = self.pool.install(|| self.encode(texts))?;
        // Longest first, so each forward pass gathers texts of similar length; with no
        // padding this only keeps batches even, but it bounds the attention buffers.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(encodings[i].get_ids().len()));
        let mut out = vec![Vec::new(); texts.len()];
        let mut guard = self
            .workspace
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let ws: &mut bert::Workspace = &mut guard;
        let max_pos = self.encoder.max_positions();
        let mut i = 0;
        while i < order.len() {
            let mut batch = Vec::new();
            let mut tokens = 0;
            while i < order.len() {
                let e = &encodings[order[i]];
                let n = e.get_ids().len().min(max_pos);
                if !batch.is_empty() && tokens + n > MAX_BATCH_TOKENS {
                    break;
                }
                tokens += n;
                batch.push(order[i]);
                i += 1;
            }
            let seqs: Vec<bert::Seq<'_>> = batch
                .iter()
                .map(|&j| {
                    let e = &encodings[j];
                    let n = e.get_ids().len().min(max_pos);
                    bert::Seq {
                        ids: &e.get_ids()[..n],
                        types: &e.get_type_ids()[..n],
                    }
                })
                .collect();
            let vectors = self
                .pool
                .install(|| self.encoder.forward(&seqs, self.sentence.pooling, ws));
            for (j, mut v) in batch.into_iter().zip(vectors) {
                if self.sentence.normalize {
                    normalize(&mut v);
                }
                out[j] = v;
            }
        }
        Ok(out)
    }
}

impl BertEmbedder {
    /// Embed `texts`, each after `prompt`.
    fn embed_prompted(&self, prompt: &str, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(texts.len());
        for window in texts.chunks(EMBED_WINDOW) {
            if prompt.is_empty() {
                out.extend(self.embed_window(window)?);
            } else {
                let owned: Vec<String> = window.iter().map(|t| format!("{prompt}{t}")).collect();
                let refs: Vec<&str> = owned.iter().map(String::as_str).collect();
                out.extend(self.embed_window(&refs)?);
            }
        }
        Ok(out)
    }
}

impl Embedder for BertEmbedder {
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        self.embed_prompted(&self.prompts.passage, texts)
    }

    fn embed_queries(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        self.embed_prompted(&self.prompts.query, texts)
    }

    fn dim(&self) -> usize {
        self.encoder.hidden()
    }

    fn model_id(&self) -> &str {
        &self.model_id
    }

    fn max_tokens(&self) -> usize {
        self.sentence.max_seq_length
    }
}

/// Scale `v` to unit L2 norm, as torch's `normalize` does (norm floored at 1e-12).
fn normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    v.iter_mut().for_each(|x| *x /= norm);
}
