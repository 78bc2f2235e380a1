//! Classification throughput: documents classified per second from raw text, embedding
//! included, for TF-IDF, embedding, cross-validated (auto) and zero-shot classifiers.
//!
//! `cargo bench -p docket-generate --bench classify [-- CSV]`. CSV (header with
//! `review` and `score` columns) defaults to the Amazon fine-food test set in
//! ../shared/data/classify; without it, generated texts of about 60 words are used.
//! Each classifier is trained on the first half and classifies the second half.
#![allow(clippy::print_stdout)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use docket_generate::classify::{
    Classifier, Decision, Examples, Features, LabelSpec, TrainConfig, ZeroShotConfig, read_examples,
};
use docket_index::embed::{BertEmbedder, Embedder};

fn generated() -> Examples {
    const GOOD: &[&str] = &["great", "tasty", "love", "fresh", "excellent", "favorite"];
    const BAD: &[&str] = &[
        "stale",
        "awful",
        "broken",
        "bland",
        "refund",
        "disappointed",
    ];
    const FILL: &[&str] = &[
        "the", "coffee", "bag", "arrived", "box", "taste", "price", "order", "snack", "with",
        "and", "my", "kids", "this", "was", "for", "tea", "flavor", "amazon", "again",
    ];
    let mut ex = Examples::default();
    let mut x: u64 = 1;
    for i in 0..1000 {
        let pos = i % 2 == 0;
        let words: Vec<&str> = (0..60)
            .map(|j| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let r = (x >> 33) as usize;
                if j % 7 == 0 {
                    (if pos { GOOD } else { BAD })[r % 6]
                } else {
                    FILL[r % FILL.len()]
                }
            })
            .collect();
        ex.texts.push(words.join(" "));
        ex.labels.push(if pos { "great" } else { "other" }.into());
    }
    ex
}

fn main() -> anyhow::Result<()> {
    let path = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .map_or_else(
            || {
                PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                    .join("../../shared/data/classify/amazon_fine_foods_testing.csv")
            },
            PathBuf::from,
        );
    let (source, all) = match read_examples(&path, "review", "score") {
        Ok(ex) => (path.display().to_string(), ex),
        Err(_) => ("generated texts".to_string(), generated()),
    };
    let half = all.len() / 2;
    let train = all.subset(&(0..half).collect::<Vec<_>>());
    let test = all.subset(&(half..all.len()).collect::<Vec<_>>());
    let texts: Vec<&str> = test.texts.iter().map(String::as_str).collect();
    let words = texts
        .iter()
        .map(|t| t.split_whitespace().count())
        .sum::<usize>() as f64
        / texts.len() as f64;

    let embedder: Arc<dyn Embedder> = Arc::new(BertEmbedder::load_default()?);
    println!(
        "{source}: train {} / classify {} docs ({words:.0} words on average), {} threads",
        train.len(),
        test.len(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let train_emb = {
        let t: Vec<&str> = train.texts.iter().map(String::as_str).collect();
        embedder.embed(&t)?
    };
    let mut classifiers = Vec::new();
    for (name, features) in [
        ("tfidf", Features::Tfidf),
        ("embedding", Features::Embedding),
        ("auto", Features::Auto),
    ] {
        let config = TrainConfig {
            features,
            ..TrainConfig::default()
        };
        let (clf, _) = Classifier::train_with_embeddings(
            &train,
            Some(&train_emb),
            &config,
            Some(embedder.clone()),
        )?;
        classifiers.push((name, clf));
    }
    let labels = [
        LabelSpec::new("great", Some("a delighted customer who loves this product")),
        LabelSpec::new("other", Some("a disappointed customer")),
    ];
    classifiers.push((
        "zero-shot",
        Classifier::zero_shot(&labels, &ZeroShotConfig::default(), embedder.clone())?,
    ));
    for (name, clf) in &classifiers {
        // Batches of 64, as a streaming caller would send them.
        let t = Instant::now();
        let mut n = 0;
        for batch in texts.chunks(64) {
            n += clf.predict(batch, None, Decision::Single)?.len();
        }
        let secs = t.elapsed().as_secs_f64();
        println!(
            "{name:<10} {:>8.1} docs/s  (embeddings: {})",
            n as f64 / secs,
            if clf.needs_embeddings() {
                "computed"
            } else {
                "not needed"
            }
        );
    }
    Ok(())
}
