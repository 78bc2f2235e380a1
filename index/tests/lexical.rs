//! The BM25 index against a real tantivy index in a temporary directory.

use std::collections::BTreeMap;
use std::path::Path;

use docket_index::lexical::{AnalyzerConfig, Language};
use docket_index::{Bm25Index, Error, Filter, LexicalConfig, LexicalIndex};
use docket_ingest::{Chunk, Format};

fn chunk(doc_id: &str, ordinal: u32, text: &str) -> Chunk {
    Chunk {
        id: format!("{doc_id}-{ordinal}"),
        doc_id: doc_id.to_string(),
        ordinal,
        text: text.to_string(),
        start: 10 * ordinal as usize,
        end: 10 * ordinal as usize + text.len(),
        page_start: 1,
        page_end: 2,
        heading_path: vec!["Intro".into(), "Scope".into()],
        token_count: 7,
        source: format!("docs/{doc_id}.md"),
        title: Some(format!("Title of {doc_id}")),
        format: Format::Markdown,
        metadata: BTreeMap::new(),
    }
}

fn open(dir: &Path) -> Bm25Index {
    Bm25Index::open(&dir.join("bm25"), LexicalConfig::default()).expect("open")
}

fn ids(hits: &[docket_index::Hit]) -> Vec<&str> {
    hits.iter().map(|h| h.chunk_id.as_str()).collect()
}

fn none() -> Filter {
    Filter::default()
}

#[test]
fn chunks_become_visible_only_after_commit() {
    let dir = tempfile::tempdir().unwrap();
    let idx = open(dir.path());
    idx.add(&[chunk("a", 0, "the quick brown fox")]).unwrap();
    assert_eq!(idx.count().unwrap(), 0);
    assert!(idx.search("fox", 10, &none()).unwrap().is_empty());
    idx.commit().unwrap();
    assert_eq!(idx.count().unwrap(), 1);
    assert_eq!(ids(&idx.search("fox", 10, &none()).unwrap()), ["a-0"]);
}

#[test]
fn replacing_a_document_in_one_commit_leaves_no_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let idx = open(dir.path());
    idx.add(&[
        chunk("a", 0, "apples and pears"),
        chunk("a", 1, "pears only"),
    ])
    .unwrap();
    idx.add(&[chunk("b", 0, "pears from b")]).unwrap();
    idx.commit().unwrap();
    assert_eq!(idx.count().unwrap(), 3);

    // Same ids, new text; twice before one commit, as a re-ingest retry would.
    for _ in 0..2 {
        idx.replace_document("a", &[chunk("a", 0, "bananas and pears")])
            .unwrap();
    }
    idx.commit().unwrap();
    assert_eq!(idx.count().unwrap(), 2);
    let hits = idx.search("pears", 10, &none()).unwrap();
    let mut got = ids(&hits);
    got.sort();
    assert_eq!(got, ["a-0", "b-0"]);
    assert!(idx.search("apples", 10, &none()).unwrap().is_empty());
    assert_eq!(ids(&idx.search("bananas", 10, &none()).unwrap()), ["a-0"]);

    // Delete and re-add across separate calls in one commit behaves the same.
    idx.delete_document("b").unwrap();
    idx.add(&[chunk("b", 0, "pears from b again")]).unwrap();
    idx.commit().unwrap();
    assert_eq!(idx.count().unwrap(), 2);
}

#[test]
fn delete_removes_every_chunk_of_that_document_only() {
    let dir = tempfile::tempdir().unwrap();
    let idx = open(dir.path());
    idx.add(&[chunk("a", 0, "shared word"), chunk("a", 1, "shared again")])
        .unwrap();
    idx.add(&[chunk("ab", 0, "shared too")]).unwrap();
    idx.commit().unwrap();
    idx.delete_document("a").unwrap();
    // Not yet committed: still visible.
    assert_eq!(idx.count().unwrap(), 3);
    idx.commit().unwrap();
    assert_eq!(ids(&idx.search("shared", 10, &none()).unwrap()), ["ab-0"]);
}

#[test]
fn reopening_keeps_committed_chunks_and_drops_uncommitted_ones() {
    let dir = tempfile::tempdir().unwrap();
    {
        let idx = open(dir.path());
        idx.add(&[chunk("a", 0, "durable text")]).unwrap();
        idx.commit().unwrap();
        idx.add(&[chunk("b", 0, "lost text")]).unwrap();
        // Dropped without commit, as in a crash.
    }
    let idx = open(dir.path());
    assert_eq!(idx.count().unwrap(), 1);
    assert_eq!(ids(&idx.search("text", 10, &none()).unwrap()), ["a-0"]);
    // The reopened index is writable: the write lock was released.
    idx.add(&[chunk("c", 0, "more text")]).unwrap();
    idx.commit().unwrap();
    assert_eq!(idx.count().unwrap(), 2);
}

#[test]
fn rollback_discards_queued_changes() {
    let dir = tempfile::tempdir().unwrap();
    let idx = open(dir.path());
    idx.add(&[chunk("a", 0, "kept")]).unwrap();
    idx.commit().unwrap();
    idx.add(&[chunk("b", 0, "discarded")]).unwrap();
    idx.delete_document("a").unwrap();
    idx.rollback().unwrap();
    idx.commit().unwrap();
    assert_eq!(idx.count().unwrap(), 1);
    assert_eq!(ids(&idx.search("kept", 10, &none()).unwrap()), ["a-0"]);
}

#[test]
fn a_second_writer_is_refused_but_readers_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let first = open(dir.path());
    first.add(&[chunk("a", 0, "text")]).unwrap();
    first.commit().unwrap();
    let second = open(dir.path());
    assert_eq!(second.search("text", 5, &none()).unwrap().len(), 1);
    // A reader's commit only refreshes its view; it takes no lock.
    first.add(&[chunk("c", 0, "text")]).unwrap();
    first.commit().unwrap();
    second.commit().unwrap();
    assert_eq!(second.count().unwrap(), 2);
    let err = second.add(&[chunk("b", 0, "text")]).unwrap_err();
    assert!(matches!(err, Error::LexicalLocked { .. }), "{err}");
}

#[test]
fn english_analyzer_stems_and_drops_stopwords() {
    let dir = tempfile::tempdir().unwrap();
    let idx = open(dir.path());
    assert_eq!(idx.analyze("The Running models"), ["run", "model"]);
    idx.add(&[
        chunk("a", 0, "We ran the model; running models is fun."),
        chunk("b", 0, "Something else entirely."),
    ])
    .unwrap();
    idx.commit().unwrap();
    assert_eq!(
        ids(&idx.search("Model RUNS", 10, &none()).unwrap()),
        ["a-0"]
    );
    // Only stopwords and punctuation: no term, no hit, no error.
    assert!(
        idx.search("the and of ...", 10, &none())
            .unwrap()
            .is_empty()
    );
    assert!(idx.search("", 10, &none()).unwrap().is_empty());
}

#[test]
fn query_syntax_characters_are_plain_text() {
    let dir = tempfile::tempdir().unwrap();
    let idx = open(dir.path());
    idx.add(&[chunk("a", 0, "title field value")]).unwrap();
    idx.commit().unwrap();
    for q in [
        "title:(value",
        "\"value",
        "value AND -field^2",
        "a[b]{c}~ value*",
    ] {
        let hits = idx.search(q, 10, &none()).unwrap();
        assert_eq!(ids(&hits), ["a-0"], "query {q:?}");
    }
}

#[test]
fn ranking_prefers_rarer_and_repeated_terms() {
    let dir = tempfile::tempdir().unwrap();
    let idx = open(dir.path());
    // Text only (no title, no headings), so lengths are exactly the texts'.
    let plain = |doc: &str, text: &str| Chunk {
        title: None,
        heading_path: Vec::new(),
        ..chunk(doc, 0, text)
    };
    let mut chunks = vec![plain("a", "zebra zebra zebra"), plain("b", "zebra lion")];
    for i in 0..5 {
        chunks.push(plain(&format!("c{i}"), "lion pride"));
    }
    idx.add(&chunks).unwrap();
    idx.commit().unwrap();
    // zebra is rarer than lion: both zebra chunks outrank the lion-only ones.
    let hits = idx.search("zebra lion", 10, &none()).unwrap();
    assert_eq!(hits.len(), 7);
    let mut top = ids(&hits)[..2].to_vec();
    top.sort();
    assert_eq!(top, ["a-0", "b-0"]);
    assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
    // More occurrences score higher (a has zebra three times, b once).
    assert_eq!(ids(&idx.search("zebra", 1, &none()).unwrap()), ["a-0"]);
    // A term repeated in the query weighs more: "lion lion zebra" prefers b to a.
    assert_eq!(
        ids(&idx.search("lion lion lion zebra", 1, &none()).unwrap()),
        ["b-0"]
    );
    assert!(idx.search("zebra", 0, &none()).unwrap().is_empty());
}

#[test]
fn title_and_headings_are_searchable_and_can_be_boosted() {
    let chunks = || {
        // Longer than the text match, so only a boost can put them first.
        let mut in_title = chunk("t", 0, "nothing relevant here either way");
        in_title.title = Some("Quarterly budget".into());
        let mut in_heading = chunk("h", 0, "nothing relevant here either way");
        in_heading.heading_path = vec!["Budget".into()];
        let in_text = chunk("x", 0, "nothing relevant budget");
        vec![in_title, in_heading, in_text]
    };
    let dir = tempfile::tempdir().unwrap();
    let idx = open(dir.path());
    idx.add(&chunks()).unwrap();
    idx.commit().unwrap();
    let hits = idx.search("budget", 10, &none()).unwrap();
    let mut got = ids(&hits);
    got.sort();
    assert_eq!(got, ["h-0", "t-0", "x-0"]);
    assert_eq!(hits[0].chunk_id, "x-0");

    let boosted = LexicalConfig {
        title_boost: 2.0,
        ..LexicalConfig::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let idx = Bm25Index::open(dir.path(), boosted).unwrap();
    idx.add(&chunks()).unwrap();
    idx.commit().unwrap();
    assert_eq!(idx.search("budget", 1, &none()).unwrap()[0].chunk_id, "t-0");
    let boosted = LexicalConfig {
        heading_boost: 2.0,
        ..LexicalConfig::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let idx = Bm25Index::open(dir.path(), boosted).unwrap();
    idx.add(&chunks()).unwrap();
    idx.commit().unwrap();
    assert_eq!(idx.search("budget", 1, &none()).unwrap()[0].chunk_id, "h-0");
}

fn filtered_index(dir: &Path) -> Bm25Index {
    let idx = open(dir);
    let mut pdf = chunk("pdf", 0, "budget budget budget report");
    pdf.source = "reports/2024/q1.pdf".into();
    pdf.format = Format::Pdf;
    pdf.metadata.insert("priority".into(), "high".into());
    pdf.metadata.insert("x.y".into(), "dotted".into());
    // Values that look like numbers or dates are still matched as strings.
    pdf.metadata.insert("year".into(), "2024".into());
    pdf.metadata
        .insert("date".into(), "2024-01-05T00:00:00Z".into());
    let mut policy = chunk("pol", 0, "budget policy");
    policy.source = "policies/hr/leave.md".into();
    policy.metadata.insert("priority".into(), "low".into());
    let mut other = chunk("oth", 0, "budget notes");
    other.source = "other/policies/x.md".into();
    other.metadata.insert("priority".into(), "High".into());
    idx.add(&[pdf, policy, other]).unwrap();
    idx.commit().unwrap();
    idx
}

#[test]
fn filters_restrict_before_the_top_k_is_taken() {
    let dir = tempfile::tempdir().unwrap();
    let idx = filtered_index(dir.path());
    let search = |f: Filter| {
        let hits = idx.search("budget", 1, &f).unwrap();
        ids(&hits)
            .into_iter()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    // Unfiltered, the PDF wins; each filter must still find its chunk at k = 1.
    assert_eq!(search(none()), ["pdf-0"]);
    let f = Filter {
        formats: vec!["markdown".into()],
        doc_ids: vec!["oth".into()],
        ..none()
    };
    assert_eq!(search(f), ["oth-0"]);
    let f = Filter {
        doc_ids: vec!["pol".into(), "missing".into()],
        ..none()
    };
    assert_eq!(search(f), ["pol-0"]);
    let meta = |k: &str, v: &str| Filter {
        metadata: [(k.to_string(), v.to_string())].into(),
        ..none()
    };
    assert_eq!(search(meta("priority", "low")), ["pol-0"]);
    assert_eq!(
        search(meta("priority", "High")),
        ["oth-0"],
        "exact, case-sensitive"
    );
    assert_eq!(
        search(meta("x.y", "dotted")),
        ["pdf-0"],
        "dotted keys are literal"
    );
    assert!(search(meta("x", "dotted")).is_empty());
    assert_eq!(search(meta("year", "2024")), ["pdf-0"]);
    assert_eq!(search(meta("date", "2024-01-05T00:00:00Z")), ["pdf-0"]);
    assert!(search(meta("year", "2024.0")).is_empty());
    assert!(search(meta("priority", "hig")).is_empty());
    let mut both = meta("priority", "high");
    both.formats = vec!["markdown".into()];
    assert!(search(both).is_empty(), "all conditions must hold");
}

#[test]
fn source_globs_match_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let idx = filtered_index(dir.path());
    let glob = |g: &str| {
        let f = Filter {
            source_glob: Some(g.to_string()),
            ..none()
        };
        let mut got: Vec<String> = idx
            .search("budget", 10, &f)
            .unwrap()
            .into_iter()
            .map(|h| h.chunk_id)
            .collect();
        got.sort();
        got
    };
    assert_eq!(glob("*.pdf"), ["pdf-0"], "no slash: file name at any depth");
    assert_eq!(glob("policies/**"), ["pol-0"], "anchored at the root");
    assert_eq!(glob("**/policies/*.md"), ["oth-0"]);
    assert_eq!(glob("*.md"), ["oth-0", "pol-0"]);
    assert_eq!(
        glob("policies/*.md"),
        Vec::<String>::new(),
        "* stays in a segment"
    );
    assert_eq!(glob("nothing/**"), Vec::<String>::new());
    let bad = Filter {
        source_glob: Some("a[".into()),
        ..none()
    };
    assert!(matches!(
        idx.search("budget", 10, &bad),
        Err(Error::Glob { .. })
    ));
}

#[test]
fn deleted_documents_do_not_leak_through_the_source_filter() {
    let dir = tempfile::tempdir().unwrap();
    let idx = filtered_index(dir.path());
    idx.delete_document("pdf").unwrap();
    idx.commit().unwrap();
    let f = Filter {
        source_glob: Some("*.pdf".into()),
        ..none()
    };
    assert!(idx.search("budget", 10, &f).unwrap().is_empty());
}

#[test]
fn snippets_mark_query_terms_in_the_best_fragment() {
    let dir = tempfile::tempdir().unwrap();
    let idx = open(dir.path());
    let text = format!(
        "{} The annual budget was approved by the board. {}",
        "Filler words about nothing in particular. ".repeat(10),
        "More filler that does not matter at all. ".repeat(10)
    );
    idx.add(&[chunk("a", 0, &text)]).unwrap();
    idx.commit().unwrap();
    let s = idx
        .snippet("approve budgets", "a-0", 80)
        .unwrap()
        .expect("chunk exists");
    assert!(s.fragment.len() <= 100, "{:?}", s.fragment);
    let marked = s.marked("[", "]");
    assert!(marked.contains("[budget]"), "{marked}");
    assert!(marked.contains("[approved]"), "{marked}");
    assert!(!marked.contains("[Filler]"), "{marked}");
    assert_eq!(s.highlighted.len(), 2);
    assert!(idx.snippet("budget", "missing-0", 80).unwrap().is_none());
    // No searchable term: the start of the text, unmarked.
    let s = idx.snippet("the", "a-0", 20).unwrap().expect("chunk");
    assert!(s.highlighted.is_empty());
    assert!(text.starts_with(&s.fragment) && !s.fragment.is_empty());
}

#[test]
fn stored_chunks_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let idx = open(dir.path());
    let mut c = chunk("doc", 3, "Text with ünïcode and\nlines.");
    c.metadata.insert("author".into(), "Ann".into());
    c.metadata.insert("a.b".into(), "dotted".into());
    c.title = None;
    idx.add(std::slice::from_ref(&c)).unwrap();
    idx.commit().unwrap();
    assert_eq!(idx.chunk("doc-3").unwrap(), Some(c));
    assert_eq!(idx.chunk("doc-4").unwrap(), None);
}

#[test]
fn reopening_with_another_analyzer_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path()));
    let other = LexicalConfig {
        analyzer: AnalyzerConfig {
            stemming: false,
            ..AnalyzerConfig::default()
        },
        ..LexicalConfig::default()
    };
    let err = Bm25Index::open(&dir.path().join("bm25"), other).unwrap_err();
    assert!(matches!(err, Error::AnalyzerMismatch { .. }), "{err}");
    // Settings that do not change the terms may differ.
    let boosts = LexicalConfig {
        title_boost: 0.0,
        ..LexicalConfig::default()
    };
    Bm25Index::open(&dir.path().join("bm25"), boosts).expect("same analyzer");
}

#[test]
fn config_is_validated_and_deserialized_strictly() {
    let dir = tempfile::tempdir().unwrap();
    let bad = LexicalConfig {
        writer_memory_mib: 10,
        ..LexicalConfig::default()
    };
    assert!(matches!(
        Bm25Index::open(dir.path(), bad),
        Err(Error::Setting {
            name: "writer_memory_mib",
            ..
        })
    ));
    // Tamil has a stemmer but no stopword list.
    let tamil = LexicalConfig {
        analyzer: AnalyzerConfig {
            language: Language::Tamil,
            ..AnalyzerConfig::default()
        },
        ..LexicalConfig::default()
    };
    let tamil_dir = dir.path().join("tamil");
    assert!(matches!(
        Bm25Index::open(&tamil_dir, tamil),
        Err(Error::Setting { .. })
    ));
    assert!(
        !tamil_dir.exists(),
        "a refused config leaves nothing behind"
    );
    let c: LexicalConfig = serde_json::from_str(r#"{"analyzer": {"language": "french"}}"#).unwrap();
    assert_eq!(c.analyzer.language, Language::French);
    assert!(c.analyzer.stemming && c.analyzer.stopwords);
    assert_eq!(c.title_boost, LexicalConfig::default_title_boost());
    assert!(serde_json::from_str::<LexicalConfig>(r#"{"k1": 1.5}"#).is_err());
    assert!(serde_json::from_str::<LexicalConfig>(r#"{"analyzer": {"stem": true}}"#).is_err());
}

/// Chunks of a German, a Russian and an English document, each with the language
/// ingest detects for its text.
fn multilingual_chunks() -> Vec<Chunk> {
    let texts = [
        (
            "de",
            "Der Vermieter kündigte den Mietvertrag fristlos, weil die Mieterin die Miete drei \
             Monate lang nicht gezahlt hatte. Die Wohnung muss bis Ende des Monats geräumt werden.",
        ),
        (
            "ru",
            "Арендодатель расторг договор аренды досрочно, потому что арендатор не платил \
             арендную плату три месяца. Квартиру нужно освободить до конца месяца.",
        ),
        (
            "en",
            "The landlord terminated the lease early because the tenant had not paid the rent \
             for three months. The flat must be vacated by the end of the month.",
        ),
    ];
    texts
        .iter()
        .map(|(id, text)| {
            let mut c = chunk(id, 0, text);
            c.title = None;
            c.heading_path.clear();
            let lang = docket_ingest::language::detect(text).expect("a confident guess");
            c.metadata.insert("lang".into(), lang.into());
            c
        })
        .collect()
}

fn open_with(dir: &Path, per_language: bool) -> Bm25Index {
    let config = LexicalConfig {
        analyzer: AnalyzerConfig {
            per_language,
            ..AnalyzerConfig::default()
        },
        ..LexicalConfig::default()
    };
    Bm25Index::open(&dir.join("bm25"), config).expect("open")
}

#[test]
fn inflected_russian_and_german_queries_find_their_documents() {
    let dir = tempfile::tempdir().unwrap();
    let idx = open_with(dir.path(), true);
    idx.add(&multilingual_chunks()).unwrap();
    idx.commit().unwrap();
    assert_eq!(idx.languages(), vec![Language::German, Language::Russian]);
    // Other cases than the documents': genitive "договора" (the text has "договор"),
    // "арендатором"; German plural "Mietverträge" (the text has "Mietvertrag").
    let hits = idx
        .search("расторжение договора арендатором", 3, &none())
        .unwrap();
    assert_eq!(ids(&hits).first(), Some(&"ru-0"), "{hits:?}");
    let hits = idx
        .search("Mietverträge der Mieterinnen", 3, &none())
        .unwrap();
    assert_eq!(ids(&hits).first(), Some(&"de-0"), "{hits:?}");
    let hits = idx
        .search("tenants terminating leases", 3, &none())
        .unwrap();
    assert_eq!(ids(&hits), vec!["en-0"], "{hits:?}");

    // The same archive analysed in English only: the inflected forms miss.
    let dir = tempfile::tempdir().unwrap();
    let english = open_with(dir.path(), false);
    english.add(&multilingual_chunks()).unwrap();
    english.commit().unwrap();
    assert!(english.languages().is_empty());
    let hits = english.search("договора арендатором", 3, &none()).unwrap();
    assert!(hits.is_empty(), "{hits:?}");
}

#[test]
fn an_english_index_analyses_queries_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let idx = open_with(dir.path(), true);
    let en: Vec<Chunk> = multilingual_chunks()
        .into_iter()
        .filter(|c| c.doc_id == "en")
        .collect();
    idx.add(&en).unwrap();
    idx.commit().unwrap();
    assert!(idx.languages().is_empty());
    let english_only = AnalyzerConfig {
        per_language: false,
        ..AnalyzerConfig::default()
    };
    let plain = docket_index::Analyzers::new(&english_only).unwrap();
    let q = "Tenants terminated the leases, and the landlords were paid";
    assert_eq!(idx.analyze(q), plain.terms(Language::English, q));
}
