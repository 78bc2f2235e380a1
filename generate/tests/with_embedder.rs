//! Classification and summarization with the real default embedder
//! (all-MiniLM-L6-v2, found by `find_default_model`; `docket models fetch` puts it
//! there) on the small committed fixtures in tests/fixtures.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use docket_generate::Error;
use docket_generate::classify::{
    Classifier, Decision, Features, TrainConfig, ZeroShotConfig, load_labels, read_examples,
};
use docket_generate::summarize::{Budget, Summarizer, SummaryConfig};
use docket_index::embed::{BertEmbedder, Embedder, find_default_model};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn embedder() -> Arc<dyn Embedder> {
    static E: OnceLock<Arc<BertEmbedder>> = OnceLock::new();
    E.get_or_init(|| {
        let dir =
            find_default_model().expect("default embedding model (run `docket models fetch`)");
        Arc::new(BertEmbedder::load(&dir).expect("load the default model"))
    })
    .clone()
}

const UNSEEN: [&str; 4] = [
    "The midfielder was sent off and his team lost the cup final on penalties.",
    "Fry the mushrooms in olive oil and finish the sauce with cream and parsley.",
    "Our sprinter finished third in the hundred metres at the world championships.",
    "Grate the cheese over the gratin and bake until golden and bubbling.",
];
const UNSEEN_LABELS: [&str; 4] = ["sport", "cooking", "sport", "cooking"];

#[test]
fn zero_shot_from_a_labels_file() {
    let labels = load_labels(&fixture("topics_labels.csv")).unwrap();
    let clf = Classifier::zero_shot(&labels, &ZeroShotConfig::default(), embedder()).unwrap();
    let p = clf.predict(&UNSEEN, None, Decision::Single).unwrap();
    let got: Vec<&str> = p.iter().map(|p| p.label.as_str()).collect();
    assert_eq!(got, UNSEEN_LABELS);
    for p in &p {
        let r = p.runner_up.as_ref().unwrap();
        assert!(p.confidence > r.score);
        assert!((p.confidence + r.score - 1.0).abs() < 1e-4);
    }
}

#[test]
fn embeddings_learn_the_topics_and_the_saved_model_checks_its_embedder() {
    let ex = read_examples(&fixture("tiny_labelled.csv"), "text", "label").unwrap();
    for features in [Features::Embedding, Features::Auto] {
        let config = TrainConfig {
            features,
            ..TrainConfig::default()
        };
        let (clf, report) = Classifier::train(&ex, &config, Some(embedder())).unwrap();
        assert_eq!(report.folds, 5);
        let pred = clf.predict(&UNSEEN, None, Decision::Single).unwrap();
        let got: Vec<&str> = pred.iter().map(|p| p.label.as_str()).collect();
        // TF-IDF alone cannot do this: the unseen texts share almost no words with
        // the training ones; the embedding model must carry the meaning.
        if features == Features::Embedding {
            assert_eq!(got, UNSEEN_LABELS);
        }
    }
    let config = TrainConfig {
        features: Features::Embedding,
        ..TrainConfig::default()
    };
    let (clf, _) = Classifier::train(&ex, &config, Some(embedder())).unwrap();
    assert_eq!(clf.embedder_id(), Some(embedder().model_id()));

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("topics.json");
    clf.save(&path).unwrap();
    let back = Classifier::load(&path, Some(embedder())).unwrap();
    assert_eq!(
        clf.scores(&UNSEEN, None).unwrap(),
        back.scores(&UNSEEN, None).unwrap()
    );
    let other: Arc<dyn Embedder> = Arc::new(
        BertEmbedder::load(&find_default_model().unwrap())
            .unwrap()
            .with_model_id("some-other-model"),
    );
    let err = Classifier::load(&path, Some(other)).unwrap_err();
    assert!(matches!(err, Error::EmbedderMismatch { .. }), "{err}");
    assert!(err.to_string().contains("some-other-model"), "{err}");
    assert!(matches!(
        Classifier::load(&path, None),
        Err(Error::EmbedderMissing { .. })
    ));
}

#[test]
fn summary_is_non_redundant_cited_and_skips_junk() {
    let text = std::fs::read_to_string(fixture("summary_doc.txt")).unwrap();
    let s = Summarizer::new(embedder(), SummaryConfig::default())
        .unwrap()
        .summarize(&text)
        .unwrap();
    assert_eq!(s.sentences.len(), 3);
    let mut last = 0;
    for x in &s.sentences {
        assert_eq!(&text[x.start..x.end], x.text);
        assert!(x.start >= last, "document order");
        last = x.end;
        assert!(
            !x.text.contains("12.4") && !x.text.contains("Journal"),
            "{}",
            x.text
        );
        assert!(
            !x.text.contains("weather"),
            "off-topic sentence picked: {}",
            x.text
        );
    }
    // The duplicated sentence appears at most once.
    let dup = "The solar panels on school roofs";
    assert!(
        s.sentences
            .iter()
            .filter(|x| x.text.starts_with(dup))
            .count()
            <= 1
    );

    let words = Summarizer::new(
        embedder(),
        SummaryConfig {
            budget: Budget::Words(25),
            ..SummaryConfig::default()
        },
    )
    .unwrap()
    .summarize(&text)
    .unwrap();
    assert!(words.words() <= 25, "{}", words.words());
    assert!(!words.sentences.is_empty());
}
