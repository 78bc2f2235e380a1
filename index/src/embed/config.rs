//! Reading a Hugging Face model directory's configuration: the BERT architecture from
//! `config.json`, and the sentence-transformers pipeline (pooling, normalisation, maximum
//! sequence length) from `modules.json`, `<pooling dir>/config.json` and
//! `sentence_bert_config.json` when they are present.

use std::path::{Path, PathBuf};

use serde::Deserialize;

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
            && t != "bert"
        {
            return Err(bad(format!("unsupported model_type {t:?}")));
        }
        Ok(cfg)
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
    pooling_mode: Option<String>,
}

#[derive(Deserialize)]
struct SbertFile {
    max_seq_length: Option<usize>,
}

impl SentenceConfig {
    /// Read the sentence-transformers files of `dir`. Without `modules.json` the model
    /// is a plain encoder: mean pooling and normalisation, the usual choice for
    /// retrieval. The maximum length never exceeds the position table.
    pub fn load(dir: &Path, bert: &BertConfig) -> Result<Self> {
        let mut cfg = SentenceConfig {
            pooling: Pooling::Mean,
            normalize: true,
            max_seq_length: bert.max_position_embeddings,
        };
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
            cfg.max_seq_length = n.min(bert.max_position_embeddings);
        }
        Ok(cfg)
    }
}

fn pooling_from(path: &Path, f: &PoolingFile) -> Result<Pooling> {
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
    modes.dedup();
    match modes.as_slice() {
        ["mean"] => Ok(Pooling::Mean),
        ["cls"] => Ok(Pooling::Cls),
        ["max"] => Ok(Pooling::Max),
        other => Err(Error::Config {
            path: path.to_path_buf(),
            reason: format!("unsupported pooling {other:?} (one of mean, cls, max)"),
        }),
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
    fn unsupported_settings_name_the_file() {
        let dir = model_dir(&[
            ("modules.json", MODULES),
            (
                "1_Pooling/config.json",
                r#"{"pooling_mode_mean_sqrt_len_tokens": true}"#,
            ),
        ]);
        let bert = BertConfig::load(dir.path()).unwrap();
        let err = SentenceConfig::load(dir.path(), &bert)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("1_Pooling") && err.contains("mean_sqrt_len"),
            "{err}"
        );

        let empty = tempfile::tempdir().unwrap();
        let err = BertConfig::load(empty.path()).unwrap_err().to_string();
        assert!(err.contains("config.json"), "{err}");
    }
}
