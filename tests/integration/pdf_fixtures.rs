//! `docket extract` and `docket ingest` on the generated PDF fixtures (see `pdfgen`).
//!
//! Text is compared word for word ([`squash`]): exact about every character and word
//! boundary, indifferent to how the extractor breaks lines and paragraphs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::pdfgen::*;
use crate::util::*;

/// Write a fixture into a fresh temp dir; returns the dir (keep it alive) and the path.
fn fixture(name: &str, bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = temp_dir();
    let path = write(dir.path(), name, bytes);
    (dir, path)
}

/// `docket extract FILE` must succeed; returns the pages of its output.
#[track_caller]
fn extract_pages(path: &Path, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["extract".to_string(), path.display().to_string()];
    args.extend(extra.iter().map(|s| s.to_string()));
    let run = docket(&args);
    run.expect_code(0);
    pages(&run.stdout).into_iter().map(str::to_string).collect()
}

/// `docket extract FILE --json` must succeed; returns the document object.
#[track_caller]
fn extract_json(path: &Path) -> Value {
    let run = docket(["extract".as_ref(), path.as_os_str(), "--json".as_ref()]);
    run.expect_code(0);
    run.json()
}

fn joined(lines: &[&str]) -> String {
    squash(&lines.join(" "))
}

/// Page `n` (1-based) of the font fixture, squashed.
#[track_caller]
fn font_page(n: usize) -> String {
    let (_dir, path) = fixture("fonts.pdf", &fonts_pdf());
    let pages = extract_pages(&path, &[]);
    assert_eq!(pages.len(), 5, "pages: {pages:?}");
    squash(&pages[n - 1])
}

#[test]
fn pages_are_separated_by_form_feeds() {
    let (_dir, path) = fixture("simple.pdf", &simple_pdf());
    let pages = extract_pages(&path, &[]);
    let got: Vec<String> = pages.iter().map(|p| squash(p)).collect();
    assert_eq!(got, SIMPLE_PAGES);
}

#[test]
fn object_streams_and_xref_streams_are_read() {
    let (_dir, path) = fixture("modern.pdf", &object_streams_pdf());
    let got: Vec<String> = extract_pages(&path, &[])
        .iter()
        .map(|p| squash(p))
        .collect();
    assert_eq!(got, SIMPLE_PAGES);
}

#[test]
fn incremental_update_shows_the_newest_revision() {
    let (_dir, path) = fixture("revised.pdf", &incremental_update_pdf());
    let got: Vec<String> = extract_pages(&path, &[])
        .iter()
        .map(|p| squash(p))
        .collect();
    assert_eq!(got, [SIMPLE_PAGES[0], UPDATED_PAGE_2, SIMPLE_PAGES[2]]);
}

#[test]
fn nested_page_tree_with_inherited_resources() {
    let (_dir, path) = fixture("tree.pdf", &page_tree_pdf());
    let got: Vec<String> = extract_pages(&path, &[])
        .iter()
        .map(|p| squash(p))
        .collect();
    assert_eq!(got, SIMPLE_PAGES);
}

#[test]
fn page_tree_cycle_visits_each_page_once() {
    let (_dir, path) = fixture("cycle.pdf", &page_tree_cycle_pdf());
    fails_or_recovers(&path, "truncated or corrupt", |doc| {
        assert_eq!(page_texts(doc), SIMPLE_PAGES[..2]);
    });
}

#[test]
fn standard_font_with_winansi_encoding() {
    assert_eq!(font_page(1), joined(&WINANSI_LINES));
}

#[test]
fn type1_font_with_differences_encoding() {
    // Ligature glyphs are spelled out, `/quoteright` is ’, `/uni0416` is Ж, and the
    // byte `$` is shown as the `/sterling` the Differences array puts there.
    assert_eq!(font_page(2), joined(&DIFFERENCES_LINES));
}

#[test]
fn truetype_font_mapped_by_tounicode_bfrange() {
    assert_eq!(font_page(3), joined(&TRUETYPE_LINES));
}

#[test]
fn type0_identity_h_font_with_cyrillic_text() {
    assert_eq!(font_page(4), joined(&TYPE0_LINES));
}

#[test]
fn tj_kerning_keeps_words_and_wide_kerns_make_spaces() {
    assert_eq!(font_page(5), joined(&TJ_LINES));
}

#[test]
fn json_output_follows_the_contract() {
    let (_dir, path) = fixture("simple.pdf", &simple_pdf());
    let doc = extract_json(&path);
    for key in [
        "id",
        "source",
        "title",
        "format",
        "content_hash",
        "pages",
        "headings",
        "metadata",
        "warnings",
    ] {
        assert!(doc.get(key).is_some(), "no {key:?} in {doc}");
    }
    assert_eq!(doc["format"], "pdf");
    assert_eq!(doc["title"], "Simple fixture");
    assert_eq!(doc["source"], "simple.pdf");
    let hash = doc["content_hash"]
        .as_str()
        .expect("content_hash is a string");
    assert_eq!(hash.len(), 64, "blake3 hex: {hash}");
    assert!(
        doc["warnings"].as_array().expect("warnings").is_empty(),
        "{doc}"
    );
    let pages = doc["pages"].as_array().expect("pages");
    assert_eq!(pages.len(), SIMPLE_PAGES.len());
    for (i, (page, want)) in pages.iter().zip(SIMPLE_PAGES).enumerate() {
        assert_eq!(page["number"], i as u64 + 1);
        assert_eq!(page["has_text_layer"], true);
        assert_eq!(squash(page["text"].as_str().expect("text")), want);
    }
}

#[test]
fn two_columns_are_read_one_column_after_the_other() {
    let (_dir, path) = fixture("layout.pdf", &layout_pdf());
    let pages = extract_pages(&path, &[]);
    assert_eq!(pages.len(), 4, "pages: {pages:?}");
    let want = format!(
        "Two Columns {} {}",
        joined(&LEFT_COLUMN),
        joined(&RIGHT_COLUMN)
    );
    assert_eq!(squash(&pages[0]), want);
}

#[test]
fn columns_drawn_row_by_row_are_still_read_column_by_column() {
    let (_dir, path) = fixture("interleaved.pdf", &interleaved_columns_pdf());
    let pages = extract_pages(&path, &[]);
    let want = format!(
        "Two Columns {} {}",
        joined(&LEFT_COLUMN),
        joined(&RIGHT_COLUMN)
    );
    assert_eq!(squash(&pages[0]), want);
}

#[test]
fn uneven_columns_with_aligned_gaps_keep_reading_order() {
    // Column headings on one baseline are not one line, and the longer left column's
    // last paragraph is not moved after the right column.
    let (_dir, path) = fixture("uneven.pdf", &uneven_columns_pdf());
    let pages = extract_pages(&path, &[]);
    assert_eq!(squash(&pages[0]), squash(&uneven_columns_text()));
}

#[test]
fn words_and_letters_placed_one_by_one_read_as_words() {
    // Spaces come from gaps measured with the font's /Widths; abutting glyphs join.
    let (_dir, path) = fixture("positioned.pdf", &positioned_words_pdf());
    let pages = extract_pages(&path, &[]);
    assert_eq!(squash(&pages[0]), joined(&POSITIONED_LINES));
}

#[test]
fn invisible_ocr_text_over_a_scan_is_a_text_layer() {
    let (_dir, path) = fixture("ocr.pdf", &ocr_layer_pdf());
    let doc = extract_json(&path);
    let page = &doc["pages"][0];
    assert_eq!(page["has_text_layer"], true, "{doc}");
    assert_eq!(squash(page["text"].as_str().unwrap()), joined(&OCR_LINES));
    assert!(
        doc["warnings"].as_array().expect("warnings").is_empty(),
        "no 'no text layer' warning for an OCR'd scan: {doc}"
    );
}

#[test]
fn hyphenated_line_end_is_joined() {
    let (_dir, path) = fixture("layout.pdf", &layout_pdf());
    let pages = extract_pages(&path, &[]);
    assert_eq!(
        squash(&pages[1]),
        "Store managers run the quarterly stock count and reconcile the inventory \
         with the ledger by Friday."
    );
}

#[test]
fn image_only_page_is_reported_not_dropped() {
    let (_dir, path) = fixture("layout.pdf", &layout_pdf());
    let doc = extract_json(&path);
    let pages = doc["pages"].as_array().expect("pages");
    assert_eq!(pages.len(), 4, "the scanned page keeps its place: {doc}");
    let layer: Vec<bool> = pages
        .iter()
        .map(|p| p["has_text_layer"].as_bool().expect("has_text_layer"))
        .collect();
    assert_eq!(layer, [true, true, false, true]);
    assert_eq!(pages[2]["number"], 3);
    assert_eq!(pages[2]["text"].as_str().map(str::trim), Some(""));
    assert_eq!(squash(pages[3]["text"].as_str().unwrap()), AFTER_SCAN_LINE);
    let warnings = doc["warnings"].as_array().expect("warnings");
    assert!(
        warnings.iter().any(|w| {
            let w = w.as_str().unwrap_or("").to_lowercase();
            w.contains("page") && w.contains('3')
        }),
        "a warning names page 3: {warnings:?}"
    );
    // The plain output keeps the empty page between its form feeds, and stderr warns.
    let run = docket(["extract".as_ref(), path.as_os_str()]);
    run.expect_code(0);
    let prefix = format!("warning: {}: ", path.display());
    assert!(
        run.stderr.lines().any(|l| l.starts_with(&prefix)),
        "no `{prefix}...` line\n{}",
        run.describe()
    );
    let plain = crate::util::pages(&run.stdout);
    assert_eq!(plain.len(), 4);
    assert_eq!(plain[2].trim(), "");
}

#[test]
fn inline_image_bytes_are_skipped_by_size_not_scanned() {
    let (_dir, path) = fixture("inline-image.pdf", &inline_image_pdf());
    let doc = extract_json(&path);
    let pages = doc["pages"].as_array().expect("pages");
    assert_eq!(pages.len(), 2, "{doc}");
    // No text from the image bytes (`(fake) Tj`), and the text after it intact.
    assert_eq!(
        squash(pages[0]["text"].as_str().unwrap()),
        AFTER_INLINE_IMAGE
    );
    assert_eq!(pages[0]["has_text_layer"], true);
    // A page with only an inline image is a scan, like one with an image XObject.
    assert_eq!(pages[1]["has_text_layer"], false, "{doc}");
    assert_eq!(pages[1]["text"].as_str().map(str::trim), Some(""));
}

#[test]
fn encrypted_with_empty_user_password_opens_without_one() {
    let (_dir, path) = fixture("open-rebates.pdf", &encrypted_empty_user_pdf());
    let pages = extract_pages(&path, &[]);
    assert_eq!(pages.len(), 1);
    assert_eq!(squash(&pages[0]), joined(&SECRET_LINES));
}

#[test]
fn encrypted_with_user_password_asks_for_it() {
    let (_dir, path) = fixture("locked-rebates.pdf", &encrypted_user_password_pdf());
    let run = docket(["extract".as_ref(), path.as_os_str()]);
    run.expect_code(1);
    assert_error(
        &run,
        &path,
        "encrypted: a password is needed (pass it with --pdf-password)",
    );
    assert!(!run.stdout.contains("Confidential"), "{}", run.describe());
}

#[test]
fn encrypted_with_user_password_opens_with_it() {
    let (_dir, path) = fixture("locked-rebates.pdf", &encrypted_user_password_pdf());
    let pages = extract_pages(&path, &["--pdf-password", USER_PASSWORD]);
    assert_eq!(pages.len(), 1);
    assert_eq!(squash(&pages[0]), joined(&SECRET_LINES));
}

#[test]
fn encrypted_with_user_password_opens_with_the_owner_password() {
    let (_dir, path) = fixture("locked-rebates.pdf", &encrypted_user_password_pdf());
    let pages = extract_pages(&path, &["--pdf-password", OWNER_PASSWORD]);
    assert_eq!(squash(&pages[0]), joined(&SECRET_LINES));
}

#[test]
fn encrypted_with_a_wrong_password_says_so() {
    let (_dir, path) = fixture("locked-rebates.pdf", &encrypted_user_password_pdf());
    let run = docket([
        "extract".as_ref(),
        path.as_os_str(),
        "--pdf-password".as_ref(),
        "not-the-password".as_ref(),
    ]);
    run.expect_code(1);
    assert_error(
        &run,
        &path,
        "encrypted: the password given does not open it",
    );
}

/// A hostile file either fails with `reason` naming the file (exit 1), or is recovered:
/// exit 0 with the text `check` accepts and at least one warning. Never a crash, a hang
/// or a silent success.
#[track_caller]
fn fails_or_recovers(path: &Path, reason: &str, check: impl Fn(&Value)) {
    fails_or_recovers_with(path, reason, true, check)
}

/// [`fails_or_recovers`], with the warning optional when `warning_needed` is false (for
/// files where nothing the user needs is lost).
#[track_caller]
fn fails_or_recovers_with(path: &Path, reason: &str, warning_needed: bool, check: impl Fn(&Value)) {
    let run = docket_in(
        None,
        ["extract".as_ref(), path.as_os_str(), "--json".as_ref()],
        Duration::from_secs(180),
    );
    assert!(!run.timed_out, "docket hung\n{}", run.describe());
    match run.code {
        Some(1) => {
            assert_error(&run, path, reason);
            assert!(run.stdout.trim().is_empty(), "{}", run.describe());
        }
        Some(0) => {
            let doc = run.json();
            assert!(
                !warning_needed || !doc["warnings"].as_array().expect("warnings").is_empty(),
                "a recovered file must carry a warning: {doc}"
            );
            check(&doc);
        }
        _ => panic!("crash or unexpected exit code\n{}", run.describe()),
    }
}

fn page_texts(doc: &Value) -> Vec<String> {
    doc["pages"]
        .as_array()
        .expect("pages")
        .iter()
        .map(|p| squash(p["text"].as_str().expect("text")))
        .collect()
}

#[test]
fn broken_xref_is_rebuilt_or_reported() {
    let (_dir, path) = fixture("broken-xref.pdf", &broken_xref_pdf());
    fails_or_recovers(&path, "truncated or corrupt", |doc| {
        assert_eq!(page_texts(doc), SIMPLE_PAGES);
    });
}

#[test]
fn truncated_file_is_reported_or_partly_recovered() {
    let (_dir, path) = fixture("truncated.pdf", &truncated_pdf());
    fails_or_recovers(&path, "truncated or corrupt", |doc| {
        let pages = page_texts(doc);
        assert!(pages.len() >= 2, "{doc}");
        assert_eq!(pages[..2], SIMPLE_PAGES[..2]);
    });
}

#[test]
fn random_bytes_named_pdf_are_refused() {
    let (_dir, path) = fixture("not-really.pdf", &not_a_pdf());
    let run = docket(["extract".as_ref(), path.as_os_str()]);
    run.expect_code(1);
    assert_error(&run, &path, "not a pdf file");
}

#[test]
fn flate_bomb_stops_at_the_decompression_cap() {
    let (_dir, path) = fixture("bomb.pdf", &flate_bomb_pdf());
    // Either the document fails as too large, or the stream is dropped with a warning
    // that says why and the rest of the page survives.
    fails_or_recovers(&path, "too large", |doc| {
        let warnings = doc["warnings"].to_string().to_lowercase();
        assert!(warnings.contains("too large"), "{doc}");
        assert_eq!(page_texts(doc), [BOMB_PAGE_LINE]);
    });
}

#[test]
fn parse_time_limit_stops_a_slow_document() {
    let (_dir, path) = fixture("slow.pdf", &slow_pdf());
    let started = std::time::Instant::now();
    let run = docket_in(
        None,
        [
            "extract".as_ref(),
            path.as_os_str(),
            "--parse-timeout".as_ref(),
            "1".as_ref(),
        ],
        Duration::from_secs(120),
    );
    run.expect_code(1);
    assert_error(&run, &path, "parse took longer than the limit of 1 s");
    // The guard allows a grace period of a few seconds, not minutes.
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn self_referencing_forms_terminate() {
    let (_dir, path) = fixture("nested-forms.pdf", &nested_forms_pdf());
    fails_or_recovers(&path, "too deeply nested", |doc| {
        let text = &page_texts(doc)[0];
        assert!(text.starts_with(NESTED_BEFORE), "{text}");
        assert!(text.ends_with(NESTED_AFTER), "{text}");
        assert!(text.contains(NESTED_INSIDE), "{text}");
    });
}

#[test]
fn deeply_nested_content_operands_do_not_crash() {
    // A recursive operand parser overflows the stack here, which aborts the process.
    let (_dir, path) = fixture("deep.pdf", &deep_content_nesting_pdf());
    fails_or_recovers_with(&path, "too deeply nested", false, |doc| {
        assert_eq!(
            page_texts(doc),
            [format!("{HOSTILE_BEFORE} {HOSTILE_AFTER}")]
        );
    });
}

#[test]
fn corrupt_flate_stream_is_reported_not_silently_empty() {
    let (_dir, path) = fixture("corrupt-stream.pdf", &corrupt_stream_pdf());
    fails_or_recovers(&path, "truncated or corrupt", |doc| {
        assert_eq!(page_texts(doc)[0], HOSTILE_BEFORE);
        let warnings = doc["warnings"].to_string().to_lowercase();
        assert!(
            warnings.contains("page 2"),
            "the warning names page 2: {doc}"
        );
    });
}

#[test]
fn batch_goes_on_when_one_file_is_hostile() {
    // Each of these must cost one document at most, never the process.
    let dir = temp_dir();
    let root = dir.path().join("docs");
    write(&root, "a-simple.pdf", &simple_pdf());
    write(&root, "b-deep.pdf", &deep_content_nesting_pdf());
    write(&root, "c-nested-forms.pdf", &nested_forms_pdf());
    write(&root, "d-corrupt-stream.pdf", &corrupt_stream_pdf());
    write(&root, "e-truncated.pdf", &truncated_pdf());
    write(&root, "f-simple.pdf", &simple_pdf());
    let run = ingest(dir.path(), &[]);
    assert!(!run.timed_out, "{}", run.describe());
    assert!(
        matches!(run.code, Some(0 | 2)),
        "exit 0 or 2 expected\n{}",
        run.describe()
    );
    let chunks = run.json_lines();
    let got = sources(&chunks);
    assert!(
        got.contains("a-simple.pdf") && got.contains("f-simple.pdf"),
        "{}",
        run.describe()
    );
}

#[test]
fn two_thousand_pages_extract_page_by_page() {
    let total = 2000;
    let (_dir, path) = fixture("large.pdf", &large_pdf(total));
    let pages = extract_pages(&path, &[]);
    assert_eq!(pages.len(), total);
    for (i, page) in pages.iter().enumerate() {
        assert_eq!(
            squash(page),
            large_page_line(i + 1, total),
            "page {}",
            i + 1
        );
    }
}

/// The folder for the batch tests: four good PDFs and two that must fail.
fn batch_dir() -> (tempfile::TempDir, Vec<PathBuf>, PathBuf, PathBuf) {
    let dir = temp_dir();
    let root = dir.path().join("docs");
    let good = vec![
        write(&root, "simple.pdf", &simple_pdf()),
        write(&root, "fonts.pdf", &fonts_pdf()),
        write(&root, "scans/layout.pdf", &layout_pdf()),
        write(&root, "open-rebates.pdf", &encrypted_empty_user_pdf()),
    ];
    let locked = write(&root, "locked-rebates.pdf", &encrypted_user_password_pdf());
    let junk = write(&root, "junk.pdf", &not_a_pdf());
    (dir, good, locked, junk)
}

fn ingest(dir: &Path, extra: &[&str]) -> Run {
    let tokenizer = word_tokenizer(dir);
    let mut args = vec![
        "ingest".to_string(),
        dir.join("docs").display().to_string(),
        "--json".into(),
        "--embed-model".into(),
        tokenizer.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    docket(&args)
}

/// Chunk sources (relative to the ingest root), deduplicated.
fn sources(chunks: &[Value]) -> std::collections::BTreeSet<String> {
    chunks
        .iter()
        .map(|c| c["source"].as_str().expect("source").to_string())
        .collect()
}

#[test]
fn batch_ingest_goes_on_past_bad_files_and_exits_2() {
    let (dir, _good, locked, junk) = batch_dir();
    let run = ingest(dir.path(), &[]);
    run.expect_code(2);
    assert_error(
        &run,
        &locked,
        "encrypted: a password is needed (pass it with --pdf-password)",
    );
    assert_error(&run, &junk, "not a pdf file");
    // The scanned page of layout.pdf is reported while the batch goes on.
    assert!(
        run.stderr
            .lines()
            .any(|l| l.starts_with("warning: ") && l.contains("layout.pdf")),
        "no warning about the scanned page\n{}",
        run.describe()
    );

    let chunks = run.json_lines();
    let want: std::collections::BTreeSet<String> = [
        "fonts.pdf",
        "open-rebates.pdf",
        "scans/layout.pdf",
        "simple.pdf",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(sources(&chunks), want, "{}", run.describe());

    for c in &chunks {
        for key in [
            "id",
            "doc_id",
            "ordinal",
            "text",
            "start",
            "end",
            "page_start",
            "page_end",
            "heading_path",
            "token_count",
            "source",
            "metadata",
        ] {
            assert!(c.get(key).is_some(), "chunk without {key:?}: {c}");
        }
    }
    let text_of = |source: &str| -> String {
        squash(
            &chunks
                .iter()
                .filter(|c| c["source"] == source)
                .map(|c| c["text"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
                .join(" "),
        )
    };
    assert!(text_of("simple.pdf").contains("Page 2: basalt"));
    assert!(text_of("open-rebates.pdf").contains(&joined(&SECRET_LINES)));
    assert!(text_of("fonts.pdf").contains(&joined(&TYPE0_LINES)));
    // The chunk with the page 3 text of simple.pdf says which pages it spans.
    let quartz = chunks
        .iter()
        .find(|c| c["source"] == "simple.pdf" && c["text"].as_str().unwrap().contains("quartz"))
        .expect("chunk with page 3");
    assert_eq!(quartz["page_end"], 3, "{quartz}");
}

#[test]
fn batch_ingest_with_the_password_opens_the_locked_file() {
    let (dir, _good, _locked, junk) = batch_dir();
    std::fs::remove_file(&junk).unwrap();
    let run = ingest(dir.path(), &["--pdf-password", USER_PASSWORD]);
    run.expect_code(0);
    let chunks = run.json_lines();
    assert!(
        sources(&chunks).contains("locked-rebates.pdf"),
        "{}",
        run.describe()
    );
    assert!(chunks.iter().any(|c| c["source"] == "locked-rebates.pdf"
        && squash(c["text"].as_str().unwrap()).contains(SECRET_LINES[1])));
}
