//! The tokenizer of a GGUF model: tokenizer.json beside the file when there is one,
//! else built from the `tokenizer.ggml.*` metadata as llama.cpp reads it.
//!
//! Control and user-defined tokens (`<|im_end|>`, `<|eot_id|>`, ...) become added
//! tokens, so that a chat template's markers encode to single ids and a generated
//! end marker is recognised as such.

use std::collections::HashMap;
use std::path::Path;

use candle_core::quantized::gguf_file::{Content, Value};
use tokenizers::decoders::byte_fallback::ByteFallback;
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::decoders::fuse::Fuse;
use tokenizers::decoders::sequence::Sequence as DecoderSequence;
use tokenizers::decoders::strip::Strip;
use tokenizers::models::bpe::BPE;
use tokenizers::normalizers::{Prepend, Replace};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::{
    AddedToken, DecoderWrapper, NormalizerWrapper, SplitDelimiterBehavior, Tokenizer,
};

use crate::error::{Error, Result};

/// llama.cpp's token types.
const TYPE_UNKNOWN: u32 = 2;
const TYPE_CONTROL: u32 = 3;
const TYPE_USER_DEFINED: u32 = 4;

pub fn strings(ct: &Content, key: &str) -> Option<Vec<String>> {
    let v = ct.metadata.get(key)?.to_vec().ok()?;
    v.iter().map(|s| s.to_string().ok().cloned()).collect()
}

pub fn uint(ct: &Content, key: &str) -> Option<u32> {
    match ct.metadata.get(key)? {
        Value::U8(v) => Some(*v as u32),
        Value::U16(v) => Some(*v as u32),
        Value::U32(v) => Some(*v),
        Value::I32(v) => u32::try_from(*v).ok(),
        Value::U64(v) => u32::try_from(*v).ok(),
        Value::I64(v) => u32::try_from(*v).ok(),
        _ => None,
    }
}

pub fn boolean(ct: &Content, key: &str) -> Option<bool> {
    ct.metadata.get(key)?.to_bool().ok()
}

/// Load tokenizer.json beside `path` if there is one, else build it from `ct`.
pub fn load(path: &Path, ct: &Content, model: &str) -> Result<Tokenizer> {
    let err = |reason: String| Error::Tokenizer {
        model: model.to_string(),
        reason,
    };
    if let Some(json) = path.parent().map(|d| d.join("tokenizer.json"))
        && json.is_file()
    {
        return Tokenizer::from_file(&json).map_err(|e| err(format!("{}: {e}", json.display())));
    }
    let tokens = strings(ct, "tokenizer.ggml.tokens")
        .ok_or_else(|| err("no tokenizer.ggml.tokens in the metadata".into()))?;
    let kind = ct
        .metadata
        .get("tokenizer.ggml.model")
        .and_then(|v| v.to_string().ok())
        .cloned()
        .unwrap_or_default();
    let mut tok = match kind.as_str() {
        "gpt2" => byte_level_bpe(ct, &tokens).map_err(err)?,
        "llama" => sentencepiece_bpe(ct, &tokens).map_err(err)?,
        other => {
            return Err(err(format!(
                "tokenizer model `{other}` (gpt2 and llama are supported; put a tokenizer.json beside the model)"
            )));
        }
    };
    // Control and user-defined tokens are matched whole in the input.
    if let Some(types) = ct
        .metadata
        .get("tokenizer.ggml.token_type")
        .and_then(|v| v.to_vec().ok())
    {
        let mut added = Vec::new();
        for (i, t) in types.iter().enumerate() {
            let t = t
                .to_i32()
                .map(|v| v as u32)
                .or_else(|_| t.to_u32())
                .unwrap_or(1);
            if matches!(t, TYPE_UNKNOWN | TYPE_CONTROL | TYPE_USER_DEFINED) {
                let special = t != TYPE_USER_DEFINED;
                added.push(AddedToken::from(tokens[i].clone(), special).normalized(false));
            }
        }
        tok.add_special_tokens(&added);
    }
    Ok(tok)
}

/// GPT-2 style byte-level BPE; the pre-tokenizer follows `tokenizer.ggml.pre` as
/// llama.cpp does.
fn byte_level_bpe(ct: &Content, tokens: &[String]) -> std::result::Result<Tokenizer, String> {
    let merges: Vec<(String, String)> = strings(ct, "tokenizer.ggml.merges")
        .ok_or("no tokenizer.ggml.merges in the metadata")?
        .into_iter()
        .map(|m| {
            m.split_once(' ')
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .ok_or_else(|| format!("invalid merge `{m}`"))
        })
        .collect::<std::result::Result<_, _>>()?;
    let vocab: tokenizers::models::bpe::Vocab = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| (t.clone(), i as u32))
        .collect();
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .build()
        .map_err(|e| e.to_string())?;
    let mut tok = Tokenizer::new(bpe);
    let pre = ct
        .metadata
        .get("tokenizer.ggml.pre")
        .and_then(|v| v.to_string().ok())
        .cloned()
        .unwrap_or_default();
    // Regexes of llama.cpp's pre-tokenizer types (llama-vocab.cpp).
    const LLAMA3: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    const QWEN2: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    let split = |re: &str| -> std::result::Result<_, String> {
        let s = Split::new(
            SplitPattern::Regex(re.into()),
            SplitDelimiterBehavior::Isolated,
            false,
        )
        .map_err(|e| e.to_string())?;
        Ok(Sequence::new(vec![
            s.into(),
            ByteLevel::new(false, false, false).into(),
        ]))
    };
    match pre.as_str() {
        "llama3" | "llama-bpe" | "smaug-bpe" => {
            tok.with_pre_tokenizer(Some(split(LLAMA3)?));
        }
        "qwen2" | "deepseek-llm" => {
            tok.with_pre_tokenizer(Some(split(QWEN2)?));
        }
        // SmolLM's tokenizer.json: every digit apart, then GPT-2's byte-level split.
        "smollm" => {
            tok.with_pre_tokenizer(Some(Sequence::new(vec![
                Digits::new(true).into(),
                ByteLevel::new(false, true, true).into(),
            ])));
        }
        _ => {
            tok.with_pre_tokenizer(Some(ByteLevel::new(false, true, true)));
        }
    }
    tok.with_decoder(Some(ByteLevelDecoder::default()));
    Ok(tok)
}

/// SentencePiece BPE (Llama 2, Mistral): merges are derived from the scores (each token
/// that is the concatenation of two others is a merge, ranked by its score), with byte
/// fallback and `▁` for spaces, as tokenizer.json files of these models have it.
fn sentencepiece_bpe(ct: &Content, tokens: &[String]) -> std::result::Result<Tokenizer, String> {
    let scores: Vec<f32> = ct
        .metadata
        .get("tokenizer.ggml.scores")
        .and_then(|v| v.to_vec().ok())
        .map(|v| v.iter().map(|s| s.to_f32().unwrap_or(0.0)).collect())
        .unwrap_or_else(|| vec![0.0; tokens.len()]);
    let ids: HashMap<&str, usize> = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| (t.as_str(), i))
        .collect();
    let mut merges: Vec<(f32, usize, String, String)> = Vec::new();
    for (id, t) in tokens.iter().enumerate() {
        for (i, _) in t.char_indices().skip(1) {
            let (a, b) = t.split_at(i);
            if ids.contains_key(a) && ids.contains_key(b) {
                merges.push((
                    scores.get(id).copied().unwrap_or(0.0),
                    id,
                    a.into(),
                    b.into(),
                ));
            }
        }
    }
    merges.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)));
    let vocab: tokenizers::models::bpe::Vocab = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| (t.clone(), i as u32))
        .collect();
    let unk = uint(ct, "tokenizer.ggml.unknown_token_id")
        .and_then(|i| tokens.get(i as usize))
        .cloned()
        .unwrap_or_else(|| "<unk>".into());
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, merges.into_iter().map(|m| (m.2, m.3)).collect())
        .unk_token(unk)
        .byte_fallback(true)
        .fuse_unk(true)
        .build()
        .map_err(|e| e.to_string())?;
    let mut tok = Tokenizer::new(bpe);
    let mut norms: Vec<NormalizerWrapper> = Vec::new();
    if boolean(ct, "tokenizer.ggml.add_space_prefix").unwrap_or(true) {
        norms.push(Prepend::new("▁".into()).into());
    }
    norms.push(Replace::new(" ", "▁").map_err(|e| e.to_string())?.into());
    tok.with_normalizer(Some(tokenizers::normalizers::Sequence::new(norms)));
    let decoders: Vec<DecoderWrapper> = vec![
        Replace::new("▁", " ").map_err(|e| e.to_string())?.into(),
        ByteFallback::default().into(),
        Fuse::default().into(),
        Strip::new(' ', 1, 0).into(),
    ];
    tok.with_decoder(Some(DecoderSequence::new(decoders)));
    Ok(tok)
}
