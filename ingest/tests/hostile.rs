//! Arbitrary and damaged input must give a result or a `DocError`, never a panic.

use std::path::PathBuf;

use docket_ingest::records::{self, RecordKind, RecordOptions};
use docket_ingest::{Format, Limits, LoadContext, loader_for};
use proptest::prelude::*;

const FORMATS: [Format; 6] = [
    Format::Text,
    Format::Markdown,
    Format::Html,
    Format::Docx,
    Format::Pptx,
    Format::Email,
];

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(path).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let limits = Limits::default();
        for f in FORMATS {
            let _ = loader_for(f).unwrap().load(&bytes, &LoadContext::new(&limits));
        }
        for kind in [RecordKind::Csv, RecordKind::Tsv, RecordKind::Jsonl] {
            let opts = RecordOptions { kind: Some(kind), ..RecordOptions::default() };
            for _ in records::read(bytes.as_slice(), &opts, &LoadContext::new(&limits)).take(100) {}
        }
    }

    #[test]
    fn damaged_fixtures(
        which in 0usize..5,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let (name, format) = [
            ("report.docx", Format::Docx),
            ("page.html", Format::Html),
            ("multipart.eml", Format::Email),
            ("report.md", Format::Markdown),
            ("utf16le.txt", Format::Text),
        ][which];
        let mut bytes = fixture(name);
        for (at, b) in edits {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        let limits = Limits::default();
        let _ = loader_for(format).unwrap().load(&bytes, &LoadContext::new(&limits));
    }
}
