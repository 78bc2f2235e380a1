//! The sample archive in `pipelines/examples/archive`: a small fictional outdoor
//! retailer (Cobble Ridge Outfitters) that the README's main command runs on.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use crate::pdfgen::*;
use crate::util::*;

/// Every file of the archive, relative to it. Nothing else belongs there (no READMEs):
/// each file is content the pipeline ingests.
const FILES: [&str; 13] = [
    "handbook/employee-handbook.pdf",
    "mail/2026-10-08-holiday-shipping-cutoffs.eml",
    "meetings/2026-09-14-leadership-sync.txt",
    "meetings/2026-10-02-support-retro.txt",
    "meetings/2026-10-21-warehouse-planning.txt",
    "policies/data-retention.md",
    "policies/remote-work.md",
    "policies/returns-and-refunds.md",
    "policies/security-incident-response.md",
    "policies/travel-and-expenses.md",
    "support/customer-feedback.jsonl",
    "support/tickets.csv",
    "wiki/it-helpdesk.html",
];
const TICKET_ROWS: usize = 40;
const FEEDBACK_ROWS: usize = 12;

fn list(dir: &Path, root: &Path, out: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).expect("read archive dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            list(&path, root, out);
        } else {
            let rel = path.strip_prefix(root).unwrap().to_string_lossy();
            out.insert(rel.replace('\\', "/"));
        }
    }
}

#[test]
fn archive_has_exactly_the_content_files() {
    let root = sample_archive();
    let mut found = BTreeSet::new();
    list(&root, &root, &mut found);
    let want: BTreeSet<String> = FILES.iter().map(|s| s.to_string()).collect();
    assert_eq!(found, want);
}

#[test]
fn records_files_have_the_expected_rows() {
    let root = sample_archive();
    let csv = std::fs::read_to_string(root.join("support/tickets.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("id,created,customer,channel,subject,body,priority")
    );
    assert_eq!(lines.count(), TICKET_ROWS);
    let jsonl = std::fs::read_to_string(root.join("support/customer-feedback.jsonl")).unwrap();
    let rows: Vec<Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).expect("valid JSON line"))
        .collect();
    assert_eq!(rows.len(), FEEDBACK_ROWS);
}

/// Regenerates the handbook and compares it with the committed file, byte for byte.
/// With `DOCKET_UPDATE_FIXTURES=1` it writes the file instead.
#[test]
fn sample_handbook_pdf_is_current() {
    let path = workspace_root().join(HANDBOOK_PATH);
    let fresh = sample_handbook();
    if std::env::var_os("DOCKET_UPDATE_FIXTURES").is_some_and(|v| v == "1") {
        std::fs::write(&path, &fresh).expect("write handbook");
        return;
    }
    let committed = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; regenerate with DOCKET_UPDATE_FIXTURES=1",
            path.display()
        )
    });
    assert!(
        committed == fresh,
        "{} is stale ({} bytes committed, {} generated); regenerate with \
         DOCKET_UPDATE_FIXTURES=1 cargo test -p docket --test integration sample_handbook",
        path.display(),
        committed.len(),
        fresh.len()
    );
}

/// The words of one handbook page as the generator lays them out.
fn handbook_page_words(page: &HandbookPage<'_>) -> String {
    let block_text = |b: &Block<'_>| match b {
        Block::Heading(s) | Block::Para(s) => s.to_string(),
    };
    let text = match page {
        HandbookPage::Full(blocks) => blocks.iter().map(block_text).collect::<Vec<_>>(),
        HandbookPage::Columns(title, left, right) => std::iter::once(title.to_string())
            .chain(left.iter().map(block_text))
            .chain(right.iter().map(block_text))
            .collect(),
    };
    squash(&text.join(" "))
}

#[test]
fn handbook_extracts_page_by_page_with_columns_in_order() {
    let path = workspace_root().join(HANDBOOK_PATH);
    let run = docket(["extract".as_ref(), path.as_os_str()]);
    run.expect_code(0);
    let got: Vec<String> = pages(&run.stdout).iter().map(|p| squash(p)).collect();
    let want: Vec<String> = HANDBOOK.iter().map(handbook_page_words).collect();
    assert_eq!(got.len(), want.len(), "{}", run.describe());
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "handbook page {}", i + 1);
    }
}

/// `docket ingest ARCHIVE --json` with the test tokenizer; must succeed completely.
fn ingest_archive() -> Vec<Value> {
    let tmp = temp_dir();
    let tokenizer = word_tokenizer(tmp.path());
    let run = docket([
        "ingest".as_ref(),
        sample_archive().as_os_str(),
        "--json".as_ref(),
        "--embed-model".as_ref(),
        tokenizer.as_os_str(),
    ]);
    run.expect_code(0);
    assert!(
        !run.stderr.lines().any(|l| l.starts_with("error:")),
        "{}",
        run.describe()
    );
    run.json_lines()
}

#[test]
fn archive_ingests_every_file_and_record() {
    let chunks = ingest_archive();
    let sources: BTreeSet<&str> = chunks
        .iter()
        .map(|c| c["source"].as_str().expect("source"))
        .collect();
    for file in FILES {
        if file.ends_with(".csv") || file.ends_with(".jsonl") {
            continue;
        }
        assert!(sources.contains(file), "no chunk from {file}: {sources:?}");
    }
    let rows = |prefix: &str| sources.iter().filter(|s| s.starts_with(prefix)).count();
    assert_eq!(rows("support/tickets.csv#"), TICKET_ROWS, "{sources:?}");
    assert_eq!(
        rows("support/customer-feedback.jsonl#"),
        FEEDBACK_ROWS,
        "{sources:?}"
    );
}

/// All chunk text of one source, squashed.
fn text_of(chunks: &[Value], source: &str) -> String {
    squash(
        &chunks
            .iter()
            .filter(|c| c["source"] == source)
            .map(|c| c["text"].as_str().unwrap_or_default())
            .collect::<Vec<_>>()
            .join(" "),
    )
}

#[test]
fn archive_facts_are_in_the_chunks_of_their_source() {
    let chunks = ingest_archive();
    let facts = [
        (
            "policies/travel-and-expenses.md",
            "International | 95 USD per day",
        ),
        ("policies/travel-and-expenses.md", "within **30 days**"),
        (
            "policies/data-retention.md",
            "Customer invoices and receipts | 7 years",
        ),
        ("policies/remote-work.md", "up to three days a week"),
        (
            "policies/returns-and-refunds.md",
            "within **60 days** of purchase",
        ),
        ("policies/security-incident-response.md", "within one hour"),
        (
            "meetings/2026-09-14-leadership-sync.txt",
            "18.4 million USD",
        ),
        (
            "meetings/2026-10-21-warehouse-planning.txt",
            "order by 15 December",
        ),
        ("wiki/it-helpdesk.html", "extension 4357"),
        (
            "mail/2026-10-08-holiday-shipping-cutoffs.eml",
            "placed by 17 December",
        ),
        (
            "handbook/employee-handbook.pdf",
            "20 days a year from the start",
        ),
        ("handbook/employee-handbook.pdf", "40% off full-price items"),
    ];
    for (source, fact) in facts {
        let text = text_of(&chunks, source);
        // Markup may or may not survive in chunk text; compare without it.
        let plain = |s: &str| squash(&s.replace(['*', '|'], " "));
        assert!(
            plain(&text).contains(&plain(fact)),
            "{source} should contain {fact:?}; its text: {text}"
        );
    }
}

#[test]
fn html_navigation_and_scripts_are_dropped() {
    let chunks = ingest_archive();
    let text = text_of(&chunks, "wiki/it-helpdesk.html");
    assert!(text.contains("Password resets"), "{text}");
    for dropped in [
        "trackPageView",
        "ridgeAnalytics",
        "Intranet home",
        "People directory",
        "font-family",
    ] {
        assert!(!text.contains(dropped), "{dropped:?} leaked into: {text}");
    }
}
