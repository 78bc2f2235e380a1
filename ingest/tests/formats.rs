//! The non-PDF loaders on real files made with real tools (pandoc, Python's `email` and
//! `csv` modules), committed under `tests/fixtures/`.

use std::path::PathBuf;

use docket_ingest::records::{self, RecordError, RecordKind, RecordOptions};
use docket_ingest::{Extracted, Format, Limits, LoadContext, loader_for};

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn load(name: &str) -> Extracted {
    let ext = name.rsplit('.').next().unwrap();
    let format = Format::from_extension(ext).unwrap();
    let limits = Limits::default();
    loader_for(format)
        .unwrap()
        .load(&fixture(name), &LoadContext::new(&limits))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// `(level, title)` of each heading, checking that the text at its offset is the title.
fn headings(ex: &Extracted) -> Vec<(u8, &str)> {
    for h in &ex.headings {
        assert!(
            ex.text[h.offset..].starts_with(&h.title),
            "heading {:?} not at its offset",
            h.title
        );
    }
    ex.headings
        .iter()
        .map(|h| (h.level, h.title.as_str()))
        .collect()
}

#[test]
fn docx_made_by_pandoc() {
    let ex = load("report.docx");
    assert_eq!(
        ex.text,
        "Field Report\n\nAnn Lee\n\n2024-03-01\n\nOverview\n\n\
         The survey covered three sites and one pilot.\n\nResults\n\n\
         Site | Samples\nNorth | 12\nSouth | 7\n\n- First finding\n- Second finding\n\n\
         Steps taken:\n\n1. Collect samples\n2. Label them\n\nNext steps\n\nSee the project page for details.\n\nRun in May."
    );
    assert_eq!(ex.title.as_deref(), Some("Field Report"));
    assert_eq!(
        headings(&ex),
        vec![
            (1, "Field Report"),
            (1, "Overview"),
            (2, "Results"),
            (2, "Next steps")
        ]
    );
    assert_eq!(ex.metadata["author"], "Ann Lee");
    assert!(ex.metadata.contains_key("created"));
    assert_eq!(ex.pages.len(), 1);
}

#[test]
fn markdown_with_front_matter() {
    let ex = load("report.md");
    assert_eq!(
        ex.text,
        "Overview\n\nThe survey covered three sites and one pilot.\n\nResults\n\n\
         Site | Samples\nNorth | 12\nSouth | 7\n\n- First finding\n- Second finding\n\n\
         Steps taken:\n\n1. Collect samples\n2. Label them\n\nNext steps\n\nSee the project page for details.\n\nRun in May."
    );
    assert_eq!(ex.title.as_deref(), Some("Field Report"));
    assert_eq!(ex.metadata["author"], "Ann Lee");
    assert_eq!(ex.metadata["date"], "2024-03-01");
    assert_eq!(
        headings(&ex),
        vec![(1, "Overview"), (2, "Results"), (2, "Next steps")]
    );
}

#[test]
fn html_page_without_boilerplate() {
    let ex = load("page.html");
    assert_eq!(
        ex.text,
        "Updated 3 May 2024\n\nReading tide tables\n\n\
         A tide table lists the times of high and low water for each day.\n\
         Heights are given in metres above chart datum.\n\nColumns\n\n\
         Time | Height (m)\n06:12 | 4.8\n12:30 | 0.9\n\nTips\n\n\
         1. Check the date & the port.\n2. Add one hour in summer."
    );
    assert_eq!(ex.title.as_deref(), Some("Tide Tables – Harbour Guide"));
    assert_eq!(
        headings(&ex),
        vec![(1, "Reading tide tables"), (2, "Columns"), (2, "Tips")]
    );
    assert_eq!(ex.metadata["description"], "How to read tide tables.");
    assert_eq!(ex.metadata["author"], "Harbour Office");
    assert_eq!(ex.metadata["keywords"], "tides, harbour, sailing");
    assert!(ex.warnings.is_empty());
}

#[test]
fn multipart_email_prefers_plain_text() {
    let ex = load("multipart.eml");
    assert_eq!(
        ex.text,
        "Hi Bob,\n\nthe draft numbers are attached.\nRevenue is up 4%.\n\nAnn"
    );
    assert_eq!(ex.title.as_deref(), Some("Quarterly numbers – draft"));
    let m = &ex.metadata;
    assert_eq!(m["from"], "Ann Lee <ann@example.org>");
    assert_eq!(m["to"], "Bob Stone <bob@example.org>, carl@example.org");
    assert_eq!(m["cc"], "team@example.org");
    assert_eq!(m["subject"], "Quarterly numbers – draft");
    assert_eq!(m["date"], "2024-03-04T09:15:00Z");
    assert_eq!(m["message_id"], "draft-42@example.org");
    assert_eq!(m["attachments"], "numbers, Q1.csv");
}

#[test]
fn html_only_email_in_latin1_quoted_printable() {
    let ex = load("html_only.eml");
    assert_eq!(ex.text, "Spring issue\n\nNew moorings open in April.");
    assert_eq!(ex.title.as_deref(), Some("Newsletter"));
    assert_eq!(headings(&ex), vec![(1, "Spring issue")]);
    assert_eq!(ex.metadata["date"], "2024-03-05T10:00:00+01:00");
}

#[test]
fn utf16_and_latin1_text() {
    let ex = load("utf16le.txt");
    assert_eq!(
        ex.text,
        "Release notes\n\nVersion 2 fixes the file import.\nThanks, Zoë."
    );
    assert_eq!(ex.title.as_deref(), Some("Release notes"));
    assert!(ex.warnings.is_empty());

    let ex = load("latin1.txt");
    assert_eq!(
        ex.text,
        "Menu du jour\n\nCafé crème, tarte à la rhubarbe.\nPrix : 5 €"
    );
    assert_eq!(ex.warnings.len(), 1);
}

fn read_records(name: &str, opts: &RecordOptions) -> Vec<Result<records::Record, RecordError>> {
    let limits = Limits::default();
    records::read(fixture(name).as_slice(), opts, &LoadContext::new(&limits)).collect()
}

#[test]
fn csv_with_quoted_newlines_and_a_short_row() {
    let opts = RecordOptions {
        kind: Some(RecordKind::Csv),
        id_column: Some("review_id".into()),
        ..RecordOptions::default()
    };
    let out = read_records("reviews.csv", &opts);
    assert_eq!(out.len(), 4);
    let r = out[0].as_ref().unwrap();
    assert_eq!((r.key.as_str(), r.line), ("r1", 2));
    assert_eq!(
        r.extracted.text,
        "Boils fast.\nQuiet, too. \"Best buy\", says my wife."
    );
    assert_eq!(r.extracted.title.as_deref(), Some("Great kettle"));
    assert_eq!(r.extracted.metadata["stars"], "5");
    assert_eq!(r.extracted.metadata["review_id"], "r1");
    let r = out[1].as_ref().unwrap();
    assert_eq!((r.key.as_str(), r.line), ("r2", 4));
    assert_eq!(r.extracted.text, "Lid cracked, after a week;\nreturned it.");
    let e = out[2].as_ref().unwrap_err();
    assert_eq!(e.line(), 6);
    assert!(!e.is_fatal());
    let r = out[3].as_ref().unwrap();
    assert_eq!((r.key.as_str(), r.line), ("r4", 7));
    assert_eq!(r.extracted.title, None);

    // As a document: the source names the row.
    let doc = out
        .into_iter()
        .next()
        .unwrap()
        .unwrap()
        .into_document("data/reviews.csv", RecordKind::Csv.format());
    assert_eq!(doc.source, "data/reviews.csv#r1");
    assert_eq!(doc.format, Format::Csv);
    assert_eq!(doc.content_hash.len(), 64);
}

#[test]
fn tsv_with_stray_quotes_and_an_extra_field() {
    let out = read_records("labels.tsv", &RecordOptions::default());
    assert_eq!(out.len(), 4);
    let texts: Vec<_> = out
        .iter()
        .map(|r| match r {
            Ok(r) => format!("{} {}: {}", r.key, r.line, r.extracted.text),
            Err(e) => format!("error {e}"),
        })
        .collect();
    assert_eq!(
        texts,
        vec![
            "1 2: See you at 6\" by the \"old\" gate",
            "2 3: WIN a \"free\" cruise!!! Reply YES",
            "error line 4: expected 2 fields, found 3",
            "4 5: Ok lar...",
        ]
    );
    assert_eq!(out[0].as_ref().unwrap().extracted.metadata["label"], "ham");
}

#[test]
fn jsonl_with_a_bad_line() {
    let opts = RecordOptions {
        id_column: Some("id".into()),
        ..RecordOptions::default()
    };
    let out = read_records("posts.jsonl", &opts);
    assert_eq!(out.len(), 3);
    let r = out[0].as_ref().unwrap();
    assert_eq!((r.key.as_str(), r.line), ("p1", 1));
    assert_eq!(r.extracted.text, "First post.");
    assert_eq!(r.extracted.title.as_deref(), Some("Hello"));
    assert_eq!(r.extracted.metadata["meta.lang"], "en");
    assert_eq!(r.extracted.metadata["meta.likes"], "3");
    assert_eq!(r.extracted.metadata["tags"], "[\"a\",\"b\"]");
    let e = out[1].as_ref().unwrap_err();
    assert_eq!(e.line(), 2);
    assert!(e.to_string().contains("invalid JSON"), "{e}");
    let r = out[2].as_ref().unwrap();
    assert_eq!((r.key.as_str(), r.line), ("p3", 4));
    assert_eq!(r.extracted.metadata["draft"], "true");
    assert_eq!(r.extracted.title, None);
}
