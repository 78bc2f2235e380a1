//! Reading a Hugging Face model directory's configuration: the encoder's architecture
//! (BERT, or RoBERTa / XLM-RoBERTa, which differ only in their position ids) from
//! `config.json`; the sentence-transformers pipeline (pooling, normalisation, maximum
//! sequence length) from `modules.json`, `<pooling dir>/config.json` and
//! `sentence_bert_config.json` when they are present, in the formats of
//! sentence-transformers before and since version 5; and the query and passage prompts
//! (e5's `query: ` / `passage: `) from `config_sentence_transformers.json`, or named
//! defaults recognised from the model's folder name ([`Prompts::load`]).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The architecture of a BERT-family encoder, as in `config.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct BertConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    #[serde(default = "default_act")]
    pub hidden_act: String,
    pub max_position_embeddings: usize,
    #[serde(default = "default_type_vocab")]
    pub type_vocab_size: usize,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    #[serde(default)]
    pub position_embedding_type: Option<String>,
    #[serde(default)]
    pub model_type: Option<String>,
    /// The padding token, which RoBERTa-family position ids count from.
    #[serde(default)]
    pub pad_token_id: Option<usize>,
}

fn default_act() -> String {
    "gelu".to_string()
}
fn default_type_vocab() -> usize {
    2
}
fn default_eps() -> f64 {
    1e-12
}

/// How token vectors are reduced to one sentence vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooling {
    /// Average of the vectors of the real (non-padding) tokens.
    Mean,
    /// The vector of the first token (`[CLS]`).
    Cls,
    /// Element-wise maximum over the real tokens.
    Max,
    /// The sum of the token vectors divided by the square root of their number.
    MeanSqrtLen,
    /// The vector of the last token (decoder-style embedders, e.g. gte-Qwen).
    LastToken,
}

/// The sentence-transformers pipeline around the encoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SentenceConfig {
    pub pooling: Pooling,
    /// Whether the pooled vector is scaled to unit L2 norm.
    pub normalize: bool,
    /// Longest input in tokens, special tokens included; longer inputs are truncated.
    pub max_seq_length: usize,
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| Error::Config {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

impl BertConfig {
    /// Read and check `config.json`: only what the forward pass implements is accepted.
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join("config.json");
        let cfg: BertConfig = read_json(&path)?;
        let bad = |reason: String| Error::Config {
            path: path.clone(),
            reason,
        };
        if cfg.num_attention_heads == 0 || !cfg.hidden_size.is_multiple_of(cfg.num_attention_heads)
        {
            return Err(bad(format!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                cfg.hidden_size, cfg.num_attention_heads
            )));
        }
        if !matches!(
            cfg.hidden_act.as_str(),
            "gelu" | "gelu_new" | "gelu_pytorch_tanh"
        ) {
            return Err(bad(format!("unsupported hidden_act {:?}", cfg.hidden_act)));
        }
        if let Some(p) = &cfg.position_embedding_type
            && p != "absolute"
        {
            return Err(bad(format!("unsupported position_embedding_type {p:?}")));
        }
        if let Some(t) = &cfg.model_type
            && !matches!(t.as_str(), "bert" | "roberta" | "xlm-roberta")
        {
            return Err(bad(format!(
                "unsupported model_type {t:?} (bert, roberta or xlm-roberta)"
            )));
        }
        if cfg.max_position_embeddings <= cfg.position_offset() {
            return Err(bad(format!(
                "max_position_embeddings {} leaves no position after the offset {}",
                cfg.max_position_embeddings,
                cfg.position_offset()
            )));
        }
        Ok(cfg)
    }

    /// The position id of the first token. RoBERTa and XLM-RoBERTa (multilingual e5,
    /// bge-m3) number positions from `padding_idx + 1`, the rows below being reserved
    /// for padding; BERT from 0.
    pub fn position_offset(&self) -> usize {
        match self.model_type.as_deref() {
            Some("roberta" | "xlm-roberta") => self.pad_token_id.unwrap_or(1) + 1,
            _ => 0,
        }
    }

    /// The longest sequence the position table holds.
    pub fn max_tokens(&self) -> usize {
        self.max_position_embeddings - self.position_offset()
    }
}

#[derive(Deserialize)]
struct Module {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    path: String,
}

#[derive(Deserialize)]
struct PoolingFile {
    #[serde(default)]
    pooling_mode_cls_token: bool,
    #[serde(default)]
    pooling_mode_mean_tokens: bool,
    #[serde(default)]
    pooling_mode_max_tokens: bool,
    #[serde(default)]
    pooling_mode_mean_sqrt_len_tokens: bool,
    #[serde(default)]
    pooling_mode_lasttoken: bool,
    /// sentence-transformers 5 and later: one mode by name.
    #[serde(default)]
    pooling_mode: Option<String>,
    /// Whether the prompt's tokens count in the pooling (false for instructor-style
    /// models, which docket does not implement).
    #[serde(default = "default_include_prompt")]
    include_prompt: bool,
}

fn default_include_prompt() -> bool {
    true
}

#[derive(Deserialize)]
struct SbertFile {
    max_seq_length: Option<usize>,
}

/// `tokenizer_config.json`, where sentence-transformers 5 and later keep the maximum
/// length.
#[derive(Deserialize)]
struct TokenizerConfigFile {
    model_max_length: Option<f64>,
}

impl SentenceConfig {
    /// Read the sentence-transformers files of `dir`. Without `modules.json` the model
    /// is a plain encoder: mean pooling and normalisation, the usual choice for
    /// retrieval. The maximum length is `sentence_bert_config.json`'s, else the
    /// tokenizer's `model_max_length`, and never exceeds the position table.
    pub fn load(dir: &Path, bert: &BertConfig) -> Result<Self> {
        let mut cfg = SentenceConfig {
            pooling: Pooling::Mean,
            normalize: true,
            max_seq_length: bert.max_tokens(),
        };
        let tok_config = dir.join("tokenizer_config.json");
        if tok_config.is_file()
            && let Some(n) = read_json::<TokenizerConfigFile>(&tok_config)?.model_max_length
            && n >= 1.0
            && n < bert.max_tokens() as f64
        {
            cfg.max_seq_length = n as usize;
        }
        let modules_path = dir.join("modules.json");
        if modules_path.is_file() {
            let modules: Vec<Module> = read_json(&modules_path)?;
            cfg.normalize = modules.iter().any(|m| m.kind.ends_with(".Normalize"));
            if let Some(p) = modules.iter().find(|m| m.kind.ends_with(".Pooling")) {
                let path: PathBuf = dir.join(&p.path).join("config.json");
                cfg.pooling = pooling_from(&path, &read_json(&path)?)?;
            }
        }
        let sbert = dir.join("sentence_bert_config.json");
        if sbert.is_file()
            && let Some(n) = read_json::<SbertFile>(&sbert)?.max_seq_length
        {
            cfg.max_seq_length = n.min(bert.max_tokens());
        }
        Ok(cfg)
    }
}

fn pooling_from(path: &Path, f: &PoolingFile) -> Result<Pooling> {
    if !f.include_prompt {
        return Err(Error::Config {
            path: path.to_path_buf(),
            reason: "include_prompt = false (pooling without the prompt's tokens) is not supported"
                .into(),
        });
    }
    let mut modes = Vec::new();
    if let Some(m) = &f.pooling_mode {
        modes.push(m.as_str());
    }
    if f.pooling_mode_cls_token {
        modes.push("cls");
    }
    if f.pooling_mode_mean_tokens {
        modes.push("mean");
    }
    if f.pooling_mode_max_tokens {
        modes.push("max");
    }
    if f.pooling_mode_mean_sqrt_len_tokens {
        modes.push("mean_sqrt_len_tokens");
    }
    if f.pooling_mode_lasttoken {
        modes.push("lasttoken");
    }
    modes.sort_unstable();
    modes.dedup();
    match modes.as_slice() {
        ["mean"] => Ok(Pooling::Mean),
        ["cls"] => Ok(Pooling::Cls),
        ["max"] => Ok(Pooling::Max),
        ["mean_sqrt_len_tokens"] => Ok(Pooling::MeanSqrtLen),
        ["lasttoken"] => Ok(Pooling::LastToken),
        other => Err(Error::Config {
            path: path.to_path_buf(),
            reason: format!(
                "unsupported pooling {other:?} (one of mean, cls, max, mean_sqrt_len_tokens, lasttoken)"
            ),
        }),
    }
}

/// Texts put before what is embedded: models trained with them (e5: `query: ` and
/// `passage: `; bge v1.5: an instruction before queries only) lose much of their
/// retrieval quality without them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prompts {
    /// Before a search query.
    #[serde(default)]
    pub query: String,
    /// Before a passage (a chunk, or any text that is not a query).
    #[serde(default)]
    pub passage: String,
}

/// The query instruction of the English bge v1.5 models.
pub const BGE_EN_QUERY: &str = "Represent this sentence for searching relevant passages: ";
/// The query instruction of the Chinese bge v1.5 models.
pub const BGE_ZH_QUERY: &str = "为这个句子生成表示以用于检索相关文章：";

#[derive(Deserialize)]
struct StConfigFile {
    prompts: Option<std::collections::HashMap<String, String>>,
}

impl Prompts {
    /// No prompts.
    pub fn none() -> Self {
        Self::default()
    }

    /// e5's prompts (`query: ` and `passage: `), for e5 and multilingual e5.
    pub fn e5() -> Self {
        Prompts {
            query: "query: ".into(),
            passage: "passage: ".into(),
        }
    }

    /// The prompts of the model in `dir`: the `prompts` of its
    /// `config_sentence_transformers.json` when it has them (`query`, and `passage` or
    /// else `document`), else named defaults by the folder's name, which is the model's
    /// name as downloaded: a name with `e5` (but not `instruct`, whose prompts are
    /// task-specific) gets [`Prompts::e5`]; `bge-…-en…` / `bge-…-zh…` (v1 and v1.5, not
    /// bge-m3, which has none) get the bge query instruction; anything else none.
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join("config_sentence_transformers.json");
        if path.is_file()
            && let Some(prompts) = read_json::<StConfigFile>(&path)?.prompts
        {
            let get = |k: &str| prompts.get(k).filter(|p| !p.is_empty()).cloned();
            return Ok(Prompts {
                query: get("query").unwrap_or_default(),
                passage: get("passage")
                    .or_else(|| get("document"))
                    .unwrap_or_default(),
            });
        }
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        Ok(Self::by_name(&name))
    }

    /// The named defaults of [`load`](Self::load) for a model name (lower case).
    pub fn by_name(name: &str) -> Self {
        let has_word = |w: &str| {
            name.split(|c: char| !c.is_ascii_alphanumeric())
                .any(|part| part == w)
        };
        if has_word("e5") && !name.contains("instruct") {
            Self::e5()
        } else if has_word("bge") && !has_word("m3") && has_word("en") {
            Prompts {
                query: BGE_EN_QUERY.into(),
                passage: String::new(),
            }
        } else if has_word("bge") && !has_word("m3") && has_word("zh") {
            Prompts {
                query: BGE_ZH_QUERY.into(),
                passage: String::new(),
            }
        } else {
            Self::none()
        }
    }

    /// Whether there is any prompt.
    pub fn is_empty(&self) -> bool {
        self.query.is_empty() && self.passage.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bert_json() -> &'static str {
        r#"{"vocab_size": 10, "hidden_size": 8, "num_hidden_layers": 1,
            "num_attention_heads": 2, "intermediate_size": 16,
            "max_position_embeddings": 512, "model_type": "bert"}"#
    }

    fn model_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.json"), bert_json()).unwrap();
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        dir
    }

    const MODULES: &str = r#"[
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]"#;

    #[test]
    fn pooling_and_length_come_from_the_sentence_transformers_files() {
        let dir = model_dir(&[
            ("modules.json", MODULES),
            (
                "1_Pooling/config.json",
                r#"{"pooling_mode_cls_token": true}"#,
            ),
            ("sentence_bert_config.json", r#"{"max_seq_length": 128}"#),
        ]);
        let bert = BertConfig::load(dir.path()).unwrap();
        let s = SentenceConfig::load(dir.path(), &bert).unwrap();
        assert_eq!(
            s,
            SentenceConfig {
                pooling: Pooling::Cls,
                normalize: false,
                max_seq_length: 128
            }
        );
    }

    #[test]
    fn a_plain_encoder_gets_mean_pooling_and_normalisation() {
        let dir = model_dir(&[]);
        let bert = BertConfig::load(dir.path()).unwrap();
        let s = SentenceConfig::load(dir.path(), &bert).unwrap();
        assert_eq!(s.pooling, Pooling::Mean);
        assert!(s.normalize);
        assert_eq!(s.max_seq_length, 512);
    }

    #[test]
    fn prompts_come_from_the_config_or_the_model_name() {
        assert_eq!(Prompts::by_name("multilingual-e5-small"), Prompts::e5());
        assert_eq!(Prompts::by_name("e5-base-v2"), Prompts::e5());
        assert_eq!(
            Prompts::by_name("multilingual-e5-large-instruct"),
            Prompts::none()
        );
        assert_eq!(Prompts::by_name("bge-small-en-v1.5").query, BGE_EN_QUERY);
        assert_eq!(Prompts::by_name("bge-m3"), Prompts::none());
        assert_eq!(Prompts::by_name("all-minilm-l6-v2"), Prompts::none());
        // The file wins over the name, `document` standing in for `passage`.
        let dir = tempfile::Builder::new()
            .prefix("e5-small")
            .tempdir()
            .unwrap();
        std::fs::write(
            dir.path().join("config_sentence_transformers.json"),
            r#"{"prompts": {"query": "Q: ", "document": "D: "}}"#,
        )
        .unwrap();
        assert_eq!(
            Prompts::load(dir.path()).unwrap(),
            Prompts {
                query: "Q: ".into(),
                passage: "D: ".into()
            }
        );
    }

    #[test]
    fn sentence_transformers_5_files_and_roberta_positions() {
        let dir = model_dir(&[
            ("modules.json", MODULES),
            (
                "1_Pooling/config.json",
                r#"{"embedding_dimension": 8, "pooling_mode": "lasttoken", "include_prompt": true}"#,
            ),
            ("tokenizer_config.json", r#"{"model_max_length": 100}"#),
        ]);
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"vocab_size": 10, "hidden_size": 8, "num_hidden_layers": 1,
                "num_attention_heads": 2, "intermediate_size": 16, "pad_token_id": 1,
                "max_position_embeddings": 514, "model_type": "xlm-roberta"}"#,
        )
        .unwrap();
        let cfg = BertConfig::load(dir.path()).unwrap();
        assert_eq!((cfg.position_offset(), cfg.max_tokens()), (2, 512));
        let s = SentenceConfig::load(dir.path(), &cfg).unwrap();
        assert_eq!((s.pooling, s.max_seq_length), (Pooling::LastToken, 100));
    }

    #[test]
    fn unsupported_settings_name_the_file() {
        let dir = model_dir(&[
            ("modules.json", MODULES),
            (
                "1_Pooling/config.json",
                r#"{"pooling_mode": "weightedmean"}"#,
            ),
        ]);
        let bert = BertConfig::load(dir.path()).unwrap();
        let err = SentenceConfig::load(dir.path(), &bert)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("1_Pooling") && err.contains("weightedmean"),
            "{err}"
        );

        let empty = tempfile::tempdir().unwrap();
        let err = BertConfig::load(empty.path()).unwrap_err().to_string();
        assert!(err.contains("config.json"), "{err}");
    }
}
