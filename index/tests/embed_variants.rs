//! The embedder against sentence-transformers on two tiny random-weight model folders
//! (`fixtures/tiny_encoders`, written with their reference vectors by
//! `make_tiny_encoders.py`): an XLM-RoBERTa encoder with a SentencePiece tokenizer, CLS
//! pooling, normalisation and e5's prompts, and a BERT encoder with mean pooling. Every
//! pooling sentence-transformers has must give its vectors at cosine >= 0.9999, and each
//! folder's own pipeline (pooling, normalisation, prompts) is read from its files.

use std::path::PathBuf;

use docket_index::embed::{BertEmbedder, Embedder, Pooling, Precision, Prompts};
use serde_json::Value;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny_encoders")
}

fn reference() -> Value {
    let text = std::fs::read_to_string(fixtures().join("reference.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn load(name: &str) -> BertEmbedder {
    BertEmbedder::load_with_options(&fixtures().join(name), 1, Precision::F32)
        .unwrap_or_else(|e| panic!("{e}"))
}

fn vectors(v: &Value) -> Vec<Vec<f32>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|row| {
            row.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect()
        })
        .collect()
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}

fn assert_same(got: &[Vec<f32>], want: &[Vec<f32>], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let c = cosine(g, w);
        assert!(c >= 0.9999, "{what}, text {i}: cosine {c}");
    }
}

fn texts(r: &Value) -> Vec<String> {
    r["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn every_pooling_matches_sentence_transformers() {
    let r = reference();
    let texts = texts(&r);
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    for name in ["xlm-roberta", "bert"] {
        let model = &r["models"][name];
        for (mode, pooling) in [
            ("cls", Pooling::Cls),
            ("mean", Pooling::Mean),
            ("max", Pooling::Max),
            ("mean_sqrt_len_tokens", Pooling::MeanSqrtLen),
            ("lasttoken", Pooling::LastToken),
        ] {
            let e = load(name)
                .with_pooling(pooling)
                .with_prompts(Prompts::none());
            assert_same(
                &e.embed(&refs).unwrap(),
                &vectors(&model["pooling"][mode]),
                &format!("{name} {mode}"),
            );
        }
        let e = load(name);
        for (text, want) in texts.iter().zip(model["tokens"].as_array().unwrap()) {
            assert_eq!(
                e.token_count(text).unwrap() as u64,
                want.as_u64().unwrap(),
                "{name}: tokens of {text:?}"
            );
        }
    }
}

#[test]
fn each_folder_s_own_pipeline_is_read_from_its_files() {
    let r = reference();
    let texts = texts(&r);
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();

    let xlmr = load("xlm-roberta");
    let s = xlmr.sentence_config();
    assert_eq!(
        (s.pooling, s.normalize, s.max_seq_length),
        (Pooling::Cls, true, 32)
    );
    assert_eq!(xlmr.prompts(), &Prompts::e5());
    assert!(xlmr.model_id().contains("query: "), "{}", xlmr.model_id());
    let model = &r["models"]["xlm-roberta"];
    let passages = xlmr.embed(&refs).unwrap();
    assert_same(
        &passages,
        &vectors(&model["passage"]),
        "xlm-roberta passages",
    );
    assert_same(
        &xlmr.embed_queries(&refs).unwrap(),
        &vectors(&model["query"]),
        "xlm-roberta queries",
    );
    for v in &passages {
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "normalised: {norm}");
    }
    let bare = xlmr.with_prompts(Prompts::none());
    assert_eq!(bare.model_id(), "xlm-roberta");
    assert_same(
        &bare.embed(&refs).unwrap(),
        &vectors(&model["own"]),
        "xlm-roberta",
    );

    let bert = load("bert");
    let s = bert.sentence_config();
    assert_eq!((s.pooling, s.normalize), (Pooling::Mean, false));
    assert_eq!(bert.prompts(), &Prompts::none());
    assert_eq!(bert.model_id(), "bert");
    let own = bert.embed(&refs).unwrap();
    let want = vectors(&r["models"]["bert"]["own"]);
    assert_same(&own, &want, "bert");
    // Not normalised: the lengths match too.
    for (g, w) in own.iter().zip(&want) {
        let (ng, nw) = (
            g.iter().map(|x| x * x).sum::<f32>().sqrt(),
            w.iter().map(|x| x * x).sum::<f32>().sqrt(),
        );
        assert!((ng - nw).abs() <= 1e-3 * nw, "norm {ng} vs {nw}");
    }
}
