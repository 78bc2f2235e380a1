//! Redaction of personal data at ingest (`--redact`, `[sources] redact`): no value
//! reaches the index directory, search, answers or the report; citations point at the
//! redacted text; and a change of the setting ingests the documents again.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::util::{Run, docket, temp_dir, word_tokenizer, write};

/// The personal data in the archive [`archive`] writes.
const VALUES: &[&str] = &[
    "ann.lee@example.org",
    "bob.stone@example.com",
    "+44 20 7946 0958",
    "(415) 555-0132",
    "DE89 3704 0044 0532 0130 00",
    "4111 1111 1111 1111",
    "203.0.113.42",
    "536-22-1234",
    "carla.ruiz@example.es",
    "+34 612 34 56 78",
];

/// A small archive: a text file of two pages, an e-mail whose headers carry addresses,
/// and a CSV file whose rows carry contacts.
fn archive(dir: &Path) {
    write(
        dir,
        "refunds.txt",
        "Refund policy\n\nRefunds are paid to the customer's card 4111 1111 1111 1111 \
         within 14 days. Questions go to ann.lee@example.org or +44 20 7946 0958.\n\
         \u{c}Bank transfers\n\nTransfers go to DE89 3704 0044 0532 0130 00 and are \
         logged with the client address 203.0.113.42. The payroll record of the clerk \
         lists SSN 536-22-1234 and the office line (415) 555-0132.\n"
            .as_bytes(),
    );
    write(
        dir,
        "mail.eml",
        b"From: Ann Lee <ann.lee@example.org>\r\nTo: bob.stone@example.com\r\n\
          Subject: Refund for bob.stone@example.com\r\nDate: Tue, 1 Oct 2024 10:00:00 +0200\r\n\r\n\
          Bob, your refund was approved. Reply to ann.lee@example.org.\r\n",
    );
    write(
        dir,
        "contacts.csv",
        b"id,text\n1,\"Carla asks for a callback on +34 612 34 56 78 or carla.ruiz@example.es\"\n\
          2,\"Invoice 2024-118734 of 10/01/2024 is paid\"\n",
    );
}

fn index(docs: &Path, ix: &Path, tokenizer: &Path, extra: &[&str]) -> Run {
    let mut args = vec![
        "index".to_owned(),
        docs.display().to_string(),
        "--index".into(),
        ix.display().to_string(),
        "--json".into(),
        "--no-embed".into(),
        "--embed-model".into(),
        tokenizer.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    docket(args)
}

/// Every file under `dir`.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).expect("read dir") {
            let path = e.expect("entry").path();
            if path.is_dir() {
                todo.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out
}

/// The values found in the bytes of any file under `dir`, with the file.
fn values_in_files(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut found = Vec::new();
    for path in files_under(dir) {
        let bytes = std::fs::read(&path).expect("read");
        for v in VALUES {
            if bytes.windows(v.len()).any(|w| w == v.as_bytes()) {
                found.push((v.to_string(), path.clone()));
            }
        }
    }
    found
}

fn values_in(text: &str) -> Vec<&'static str> {
    VALUES
        .iter()
        .copied()
        .filter(|v| text.contains(v))
        .collect()
}

fn search(ix: &Path, query: &str) -> Run {
    docket([
        "search",
        query,
        "--index",
        &ix.display().to_string(),
        "--json",
        "--k",
        "20",
    ])
}

#[test]
fn redacted_index_holds_no_value_and_cites_the_redacted_text() {
    let tmp = temp_dir();
    let docs = tmp.path().join("docs");
    archive(&docs);
    let tokenizer = word_tokenizer(tmp.path());

    // The control: without redaction the values are in the index and in search.
    let plain = tmp.path().join("plain");
    index(&docs, &plain, &tokenizer, &[]).expect_code(0);
    let leaked = values_in_files(&plain);
    let plain_search = search(&plain, "refund card transfers callback")
        .expect_code(0)
        .stdout
        .clone();
    let seen: Vec<&str> = VALUES
        .iter()
        .copied()
        .filter(|v| leaked.iter().any(|(l, _)| l == v) || plain_search.contains(v))
        .collect();
    assert_eq!(seen, VALUES, "the control index must show every value");

    let ix = tmp.path().join("ix");
    let run = index(&docs, &ix, &tokenizer, &["--redact"]);
    run.expect_code(0);
    let summary: Value = run.json_lines().pop().expect("a summary line");
    assert_eq!(summary["added"], 4, "{summary}");
    let redacted = &summary["redacted"];
    assert_eq!(redacted["email"], 6, "{summary}");
    assert_eq!(redacted["phone"], 3, "{summary}");
    assert_eq!(redacted["iban"], 1, "{summary}");
    assert_eq!(redacted["card"], 1, "{summary}");
    assert_eq!(redacted["ip"], 1, "{summary}");
    assert_eq!(redacted["id"], 1, "{summary}");
    assert!(values_in(&run.stdout).is_empty() && values_in(&run.stderr).is_empty());
    assert!(
        run.stderr.contains("redacted 6 email"),
        "{}",
        run.describe()
    );

    assert_eq!(values_in_files(&ix), Vec::new());
    let hits = search(&ix, "refund card transfers callback");
    let hits_text = &hits.expect_code(0).stdout;
    assert!(values_in(hits_text).is_empty(), "{hits_text}");
    assert!(
        hits_text.contains("[CARD]") && hits_text.contains("[EMAIL]"),
        "{hits_text}"
    );
    // The placeholders are searchable like any word.
    let by_kind = search(&ix, "IBAN").expect_code(0).json_lines();
    assert_eq!(by_kind[0]["source"], "refunds.txt", "{by_kind:?}");

    // Citations point at the redacted text: the span at those offsets is the quote.
    let extracted = docket([
        "extract",
        "--redact",
        &docs.join("refunds.txt").display().to_string(),
    ]);
    let text = &extracted.expect_code(0).stdout;
    assert!(values_in(text).is_empty(), "{text}");
    let ask = docket([
        "ask",
        "Where do bank transfers go?",
        "--json",
        "--extractive",
        "--index",
        &ix.display().to_string(),
    ]);
    let a = ask.expect_code(0).json();
    assert!(values_in(&ask.stdout).is_empty() && values_in(&ask.stderr).is_empty());
    let sources = a["sources"].as_array().unwrap_or_else(|| panic!("{a}"));
    let cited = sources
        .iter()
        .find(|s| s["source"] == "refunds.txt")
        .unwrap_or_else(|| panic!("refunds.txt is not cited: {a}"));
    let mut spans = 0;
    for span in cited["spans"].as_array().expect("spans") {
        let (start, end) = (
            span["start"].as_u64().unwrap() as usize,
            span["end"].as_u64().unwrap() as usize,
        );
        assert_eq!(&text[start..end], span["text"].as_str().unwrap(), "{a}");
        spans += 1;
    }
    assert!(spans > 0, "{a}");
    assert!(a.to_string().contains("[IBAN]"), "{a}");

    // A change of the setting ingests every document again, and so does going back.
    let fewer = index(&docs, &ix, &tokenizer, &["--redact=email"]);
    let s: Value = fewer.expect_code(0).json_lines().pop().unwrap();
    assert_eq!((&s["updated"], &s["kept"]), (&4.into(), &0.into()), "{s}");
    assert_eq!(s["redacted"], serde_json::json!({"email": 6}), "{s}");
    let again = index(&docs, &ix, &tokenizer, &["--redact=email"]);
    let s: Value = again.expect_code(0).json_lines().pop().unwrap();
    assert_eq!((&s["updated"], &s["kept"]), (&0.into(), &4.into()), "{s}");
    let off = index(&docs, &ix, &tokenizer, &[]);
    let s: Value = off.expect_code(0).json_lines().pop().unwrap();
    assert_eq!(s["updated"], 4, "{s}");
    assert!(s.get("redacted").is_none(), "{s}");
}

#[test]
fn a_job_redacts_from_its_sources_section_and_reports_counts_only() {
    let tmp = temp_dir();
    let docs = tmp.path().join("docs");
    archive(&docs);
    let tokenizer = word_tokenizer(tmp.path());
    let ix = tmp.path().join("ix");
    let report = tmp.path().join("report.json");
    let job = tmp.path().join("job.toml");
    std::fs::write(
        &job,
        format!(
            "version = 1\nname = \"private\"\n\n[sources]\npaths = [{docs:?}]\n\
             redact = [\"email\", \"phone\", \"iban\", \"card\", \"ip\", \"id\"]\n\
             redact_phone_regions = [\"US\", \"ES\", \"GB\"]\n\n\
             [index]\ndir = {ix:?}\nembed = false\nembed_model = {tokenizer:?}\n"
        ),
    )
    .expect("write job");
    let run = docket([
        "run",
        &job.display().to_string(),
        "--report",
        &report.display().to_string(),
    ]);
    run.expect_code(0);
    let text = std::fs::read_to_string(&report).expect("report");
    assert!(values_in(&text).is_empty(), "{text}");
    let r: Value = serde_json::from_str(&text).expect("report JSON");
    assert_eq!(r["index"]["redacted"]["email"], 6, "{r}");
    assert_eq!(r["index"]["redacted"]["phone"], 3, "{r}");
    assert!(values_in(&run.stderr).is_empty(), "{}", run.describe());
    assert_eq!(values_in_files(&ix), Vec::new());

    // Person names need a model docket does not have: a clear configuration error.
    let bad = tmp.path().join("bad.toml");
    std::fs::write(
        &bad,
        std::fs::read_to_string(&job)
            .unwrap()
            .replace("\"id\"]", "\"id\", \"person\"]"),
    )
    .unwrap();
    let refused = docket(["run", &bad.display().to_string()]);
    assert_ne!(refused.code, Some(0), "{}", refused.describe());
    assert!(
        refused
            .stderr
            .contains("person redaction needs a named-entity"),
        "{}",
        refused.describe()
    );
    let flag = docket([
        "extract",
        "--redact=email,person",
        &job.display().to_string(),
    ]);
    assert_eq!(flag.code, Some(64), "{}", flag.describe());
    assert!(
        flag.stderr.contains("person redaction needs"),
        "{}",
        flag.describe()
    );
}
