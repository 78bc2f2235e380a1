//! The embedder against sentence-transformers: vectors for the sentences of
//! `fixtures/minilm_reference.json` (made by `fixtures/make_minilm_reference.py`) must
//! match to cosine >= 0.999.
//!
//! Needs the all-MiniLM-L6-v2 model (see `find_default_model`); without it these tests
//! fail and say how to fetch it.

use std::sync::OnceLock;

use docket_index::embed::{BertEmbedder, Embedder, Pooling, Precision, find_default_model};

struct Case {
    text: String,
    tokens_untruncated: usize,
    vector: Vec<f32>,
}

fn cases() -> Vec<Case> {
    let raw = include_str!("fixtures/minilm_reference.json");
    let json: serde_json::Value = serde_json::from_str(raw).expect("fixture is JSON");
    json["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| Case {
            text: c["text"].as_str().expect("text").to_string(),
            tokens_untruncated: c["tokens_untruncated"].as_u64().expect("tokens") as usize,
            vector: c["vector"]
                .as_array()
                .expect("vector")
                .iter()
                .map(|x| x.as_f64().expect("number") as f32)
                .collect(),
        })
        .collect()
}

fn embedder() -> &'static BertEmbedder {
    static E: OnceLock<BertEmbedder> = OnceLock::new();
    E.get_or_init(|| {
        let dir = find_default_model().unwrap_or_else(|e| panic!("{e}"));
        BertEmbedder::load(&dir).unwrap_or_else(|e| panic!("{e}"))
    })
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}

#[test]
fn vectors_match_sentence_transformers() {
    let e = embedder();
    let cases = cases();
    assert!(cases.len() >= 8);
    assert_eq!(e.dim(), 384);
    assert_eq!(e.max_tokens(), 256);
    assert_eq!(e.sentence_config().pooling, Pooling::Mean);
    assert!(e.sentence_config().normalize);
    let texts: Vec<&str> = cases.iter().map(|c| c.text.as_str()).collect();
    let got = e.embed(&texts).expect("embed");
    assert_eq!(got.len(), cases.len());
    let mut worst = 1.0f32;
    for (c, v) in cases.iter().zip(&got) {
        assert_eq!(v.len(), 384);
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "{:?}: norm {norm}", c.text);
        let cos = cosine(v, &c.vector);
        worst = worst.min(cos);
        assert!(cos >= 0.999, "{:?}: cosine {cos} < 0.999", c.text);
    }
    // The fixture must tell the sentences apart, or matching it would prove nothing.
    for (i, a) in cases.iter().enumerate() {
        for b in &cases[i + 1..] {
            assert!(cosine(&a.vector, &b.vector) < 0.95);
        }
    }
    // Printed with --nocapture: the figure for reports.
    #[allow(clippy::print_stderr)]
    {
        eprintln!("worst cosine against sentence-transformers: {worst:.7}");
    }
}

/// The worst cosine between `e`'s vectors and the fixture's, asserting the 0.999 bar.
fn worst_cosine(e: &BertEmbedder) -> f32 {
    let cases = cases();
    let texts: Vec<&str> = cases.iter().map(|c| c.text.as_str()).collect();
    let got = e.embed(&texts).expect("embed");
    let mut worst = 1.0f32;
    for (c, v) in cases.iter().zip(&got) {
        let cos = cosine(v, &c.vector);
        worst = worst.min(cos);
        assert!(cos >= 0.999, "{:?}: cosine {cos} < 0.999", c.text);
    }
    worst
}

#[test]
fn every_precision_matches_sentence_transformers() {
    // The default test above runs whatever `DOCKET_EMBED_PRECISION` / the CPU selects;
    // here each precision this CPU supports is checked explicitly.
    let dir = find_default_model().unwrap_or_else(|e| panic!("{e}"));
    let mut precisions = vec![Precision::F32];
    if Precision::f16_supported() {
        precisions.push(Precision::F16);
    }
    for p in precisions {
        let e = BertEmbedder::load_with_options(&dir, 2, p).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(e.precision(), p);
        let worst = worst_cosine(&e);
        #[allow(clippy::print_stderr)]
        {
            eprintln!("{p:?}: worst cosine against sentence-transformers: {worst:.7}");
        }
    }
}

#[test]
fn the_check_tells_a_wrong_pipeline_apart() {
    // The same weights with CLS pooling instead of mean pooling must fail the 0.999 bar
    // on most sentences: the fixture is sensitive to mistakes of that size.
    let dir = find_default_model().unwrap_or_else(|e| panic!("{e}"));
    let cls = BertEmbedder::load_with_threads(&dir, 2)
        .unwrap()
        .with_pooling(Pooling::Cls);
    let cases = cases();
    let texts: Vec<&str> = cases.iter().map(|c| c.text.as_str()).collect();
    let got = cls.embed(&texts).unwrap();
    let failing = cases
        .iter()
        .zip(&got)
        .filter(|(c, v)| cosine(v, &c.vector) < 0.999)
        .count();
    assert!(failing >= cases.len() - 1, "only {failing} fail");
}

#[test]
fn long_inputs_are_truncated_to_max_seq_length() {
    let e = embedder();
    let cases = cases();
    let long = cases
        .iter()
        .find(|c| c.tokens_untruncated > 256)
        .expect("fixture has a text over 256 tokens");
    assert_eq!(e.token_count(&long.text).unwrap(), 256);
    // Text past the window does not change the vector.
    let extended = format!(
        "{} {}",
        long.text,
        "completely different trailing words ".repeat(50)
    );
    let v = e.embed(&[&long.text, &extended]).unwrap();
    assert!(cosine(&v[0], &v[1]) > 0.99999);
}

#[test]
fn batching_does_not_change_vectors() {
    let e = embedder();
    let cases = cases();
    let texts: Vec<&str> = cases.iter().map(|c| c.text.as_str()).collect();
    let together = e.embed(&texts).unwrap();
    for (t, v) in texts.iter().zip(&together) {
        let alone = e.embed(&[t]).unwrap();
        assert!(cosine(&alone[0], v) > 0.99999, "{t:?}");
    }
    assert!(e.embed(&[]).unwrap().is_empty());
}
