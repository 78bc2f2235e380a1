//! Precision and recall of PII redaction per kind on the labelled set in
//! `eval/redact/` (see its README), printed with `--nocapture`, with floors the
//! detectors must keep.
#![expect(
    clippy::print_stdout,
    reason = "the figures and misses are this test's output"
)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use docket_ingest::redact::{PhoneRegion, PiiKind, RedactOptions, Redactor, Span};

/// The text of a labelled file without its marks, and the marked spans.
fn unmark(labelled: &str, file: &str) -> (String, Vec<Span>) {
    let mut text = String::with_capacity(labelled.len());
    let mut spans = Vec::new();
    let mut rest = labelled;
    while let Some(open) = rest.find("[[") {
        text.push_str(&rest[..open]);
        let close = rest[open..]
            .find("]]")
            .unwrap_or_else(|| panic!("{file}: unclosed [[ at {}", text.len()));
        let mark = &rest[open + 2..open + close];
        let (kind, value) = mark
            .split_once(':')
            .unwrap_or_else(|| panic!("{file}: mark without a kind: {mark}"));
        let kind: PiiKind = kind.parse().unwrap_or_else(|e| panic!("{file}: {e}"));
        spans.push(Span::new(text.len(), text.len() + value.len(), kind));
        text.push_str(value);
        rest = &rest[open + close + 2..];
    }
    text.push_str(rest);
    (text, spans)
}

#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    found: usize,
    wrong: usize,
    missed: usize,
}

impl Tally {
    fn precision(&self) -> f64 {
        self.found as f64 / (self.found + self.wrong).max(1) as f64
    }
    fn recall(&self) -> f64 {
        self.found as f64 / (self.found + self.missed).max(1) as f64
    }
}

fn overlaps(a: &Span, b: &Span) -> bool {
    a.kind == b.kind && a.start < b.end && b.start < a.end
}

#[test]
fn precision_and_recall_per_kind_on_the_labelled_set() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("eval/redact");
    let regions = ["US", "GB", "DE", "FR", "NL"]
        .iter()
        .map(|r| r.parse::<PhoneRegion>().unwrap())
        .collect();
    let redactor = Redactor::new(&RedactOptions {
        kinds: PiiKind::ALL.to_vec(),
        phone_regions: regions,
    })
    .unwrap();
    let mut tallies: BTreeMap<PiiKind, Tally> = BTreeMap::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt" || e == "csv"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "the labelled set is in {}", dir.display());
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let labelled = std::fs::read_to_string(path).unwrap();
        let (text, gold) = unmark(&labelled, &name);
        let got = redactor.find(&text);
        for g in &gold {
            let t = tallies.entry(g.kind).or_default();
            if got.iter().any(|s| overlaps(s, g)) {
                t.found += 1;
            } else {
                t.missed += 1;
                println!("{name}: missed {} {:?}", g.kind, &text[g.start..g.end]);
            }
        }
        for s in &got {
            if !gold.iter().any(|g| overlaps(s, g)) {
                tallies.entry(s.kind).or_default().wrong += 1;
                println!("{name}: wrong {} {:?}", s.kind, &text[s.start..s.end]);
            }
        }
        // Redacting the text leaves none of the labelled values.
        let (redacted, _) = redactor.redact_text(&text);
        for g in &gold {
            let value = &text[g.start..g.end];
            if got.iter().any(|s| overlaps(s, g)) {
                assert!(
                    !redacted.contains(value),
                    "{name}: {value} left in the text"
                );
            }
        }
    }
    println!("kind   labelled  precision  recall");
    for (kind, t) in &tallies {
        println!(
            "{:<6} {:>8}  {:>9.3}  {:>6.3}",
            kind.name(),
            t.found + t.missed,
            t.precision(),
            t.recall()
        );
    }
    // Floors below what the detectors reach on this set (phone: precision 1.000,
    // recall 0.931, its misses the UK's drama range 07700 900xxx that libphonenumber
    // holds unassigned; every other kind 1.000 and 1.000), so that a regression in any
    // detector fails here: one more miss or false hit among the six cards or ids does.
    for kind in PiiKind::ALL {
        let t = tallies.get(&kind).copied().unwrap_or_default();
        assert!(t.found + t.missed >= 5, "{kind}: too few labelled values");
        let (precision, recall) = match kind {
            PiiKind::Phone => (0.9, 0.85),
            _ => (0.95, 0.95),
        };
        assert!(
            t.precision() >= precision && t.recall() >= recall,
            "{kind}: precision {:.3} recall {:.3}",
            t.precision(),
            t.recall()
        );
    }
}
