//! `docket run`, `validate`, `report` and `schedule` with the real binary, real models,
//! embedded Qdrant and tantivy: every example job, incrementality, the lock, kill -9
//! resume, quarantine, sharding and the scheduler's clean shutdown.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::{Run, copy_examples, docket, spawn_run, temp_dir, write};

fn run_job(job: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["run".to_owned(), job.display().to_string()];
    args.extend(extra.iter().map(|s| s.to_string()));
    docket(args)
}

fn report_of(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).expect("report written")).expect("report JSON")
}

fn task<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no task {name} in {report:#}"))
}

fn csv_rows(path: &Path) -> Vec<BTreeMap<String, String>> {
    let mut r = csv::Reader::from_path(path).expect("csv output");
    let headers = r.headers().expect("header").clone();
    r.records()
        .map(|rec| {
            let rec = rec.expect("row");
            headers
                .iter()
                .zip(rec.iter())
                .map(|(h, v)| (h.to_owned(), v.to_owned()))
                .collect()
        })
        .collect()
}

fn jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .expect("jsonl output")
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

#[test]
fn every_example_job_runs_and_a_second_run_does_nothing() {
    let tmp = temp_dir();
    let ex = copy_examples(tmp.path());
    let jobs: Vec<PathBuf> = std::fs::read_dir(&ex)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    assert!(jobs.len() >= 2, "{jobs:?}");
    for job in &jobs {
        docket(["validate", &job.display().to_string()]).expect_code(0);
        // The digest job's abstractive summaries (SmolLM2 on 2 cores, map-reduce over 8
        // documents) take minutes under a loaded machine; the first run may take longer
        // than the default timeout.
        let first = crate::util::docket_in(
            None,
            ["run".to_owned(), job.display().to_string()],
            Duration::from_secs(900),
        );
        first.expect_code(0);
        let outputs: Vec<PathBuf> = std::fs::read_dir(ex.join("out"))
            .unwrap()
            .flat_map(|d| std::fs::read_dir(d.unwrap().path()).unwrap())
            .map(|e| e.unwrap().path())
            .collect();
        let before: Vec<Vec<u8>> = outputs.iter().map(|p| std::fs::read(p).unwrap()).collect();
        let second = run_job(job, &[]);
        second.expect_code(0);
        assert!(
            second
                .stderr
                .contains("nothing changed: no embedding, no generation"),
            "{}",
            second.describe()
        );
        for (p, b) in outputs.iter().zip(&before) {
            if p.extension().is_some_and(|e| e == "json") {
                continue; // the report has new times
            }
            assert_eq!(&std::fs::read(p).unwrap(), b, "{} changed", p.display());
        }
    }

    // The main job's outputs: a topic per document, a digest, cited answers.
    let out = ex.join("out/archive");
    let report = report_of(&out.join("archive.report.json"));
    assert_eq!(report["status"], "success");
    assert_eq!(
        report["index"]["chunks_embedded"], 0,
        "second run embeds nothing"
    );
    let topics = csv_rows(&out.join("topics.csv"));
    let docs = task(&report, "topics")["total"].as_u64().unwrap() as usize;
    assert_eq!(topics.len(), docs);
    assert!(docs > 50, "{docs}");
    let sources: BTreeSet<&str> = topics.iter().map(|r| r["source"].as_str()).collect();
    assert_eq!(sources.len(), topics.len(), "one row per document");
    let label_of = |s: &str| topics.iter().find(|r| r["source"] == s).unwrap()["label"].clone();
    assert_eq!(
        label_of("policies/travel-and-expenses.md"),
        "travel and expenses"
    );
    assert_eq!(
        label_of("policies/security-incident-response.md"),
        "IT and security"
    );
    let digest = std::fs::read_to_string(out.join("digest.md")).unwrap();
    assert!(digest.contains("## policies/remote-work.md"), "{digest}");
    assert!(
        !digest.contains("support/tickets.csv"),
        "the digest's filter holds"
    );
    let answers = jsonl(&out.join("answers.jsonl"));
    assert_eq!(answers.len(), 3);
    assert_eq!(
        answers[0]["question"],
        "What is the per diem for international trips?"
    );
    assert!(
        answers[0]["answer"].as_str().unwrap().contains("95 USD"),
        "{:#}",
        answers[0]
    );
    assert_eq!(
        answers[0]["sources"][0]["source"],
        "policies/travel-and-expenses.md"
    );
    assert!(
        answers[2]["answer"].is_null(),
        "tungsten is not in the archive"
    );

    // The weekly digest: the LLM's summaries, each kept sentence backed by the document.
    let digest = std::fs::read_to_string(ex.join("out/digest/weekly.md")).unwrap();
    assert_eq!(digest.matches("\n## ").count(), 8, "{digest}");
    let report = report_of(&ex.join("out/digest/digest.report.json"));
    assert_eq!(task(&report, "weekly")["total"], 8);
    assert!(
        report["models"]["llm"].is_null(),
        "the second run loaded no LLM"
    );

    // The feedback job: trained routing and zero-shot sentiment on records rows.
    let routing = csv_rows(&ex.join("out/feedback/routing.csv"));
    assert_eq!(routing.len(), 40);
    let route =
        |id: &str| routing.iter().find(|r| r["source"].ends_with(id)).unwrap()["label"].clone();
    assert_eq!(route("#T-10231"), "billing", "charged twice");
    assert_eq!(route("#T-10233"), "bug", "app crashes");
    assert_eq!(jsonl(&ex.join("out/feedback/sentiment.jsonl")).len(), 12);
}

#[test]
fn changed_and_deleted_documents_are_redone_or_dropped_and_nothing_else() {
    let tmp = temp_dir();
    let ex = copy_examples(tmp.path());
    let job = ex.join("archive.toml");
    run_job(&job, &[]).expect_code(0);
    let out = ex.join("out/archive");

    // Change one policy, delete one meeting.
    let policy = ex.join("archive/policies/remote-work.md");
    let mut text = std::fs::read_to_string(&policy).unwrap();
    text.push_str("\n## Equipment\n\nEvery remote employee gets a monitor allowance of 180 USD.\n");
    std::fs::write(&policy, text).unwrap();
    std::fs::remove_file(ex.join("archive/meetings/2026-10-21-warehouse-planning.txt")).unwrap();

    run_job(&job, &[]).expect_code(0);
    let report = report_of(&out.join("archive.report.json"));
    assert_eq!(report["index"]["updated"], 1, "{report:#}");
    assert_eq!(report["index"]["deleted"], 1, "{report:#}");
    let topics = task(&report, "topics");
    assert_eq!(
        (topics["done"].as_u64(), topics["removed"].as_u64()),
        (Some(1), Some(1))
    );
    let digest = task(&report, "digest");
    assert_eq!(
        (digest["done"].as_u64(), digest["removed"].as_u64()),
        (Some(1), Some(1))
    );
    // Any change in the archive may change an answer: all are redone.
    assert_eq!(task(&report, "morning-questions")["done"], 3);
    let rows = csv_rows(&out.join("topics.csv"));
    assert!(
        rows.iter()
            .all(|r| !r["source"].contains("warehouse-planning"))
    );
    let digest = std::fs::read_to_string(out.join("digest.md")).unwrap();
    assert!(!digest.contains("warehouse-planning"), "{digest}");

    // --force redoes everything; --dry-run says what it would do and does nothing.
    let dry = run_job(&job, &["--dry-run", "--force"]);
    dry.expect_code(0);
    assert!(
        dry.stderr.contains("would classify topics"),
        "{}",
        dry.describe()
    );
    let forced = run_job(&job, &["--force"]);
    forced.expect_code(0);
    let report = report_of(&out.join("archive.report.json"));
    assert_eq!(
        task(&report, "topics")["done"].as_u64(),
        Some(rows.len() as u64)
    );
    assert_eq!(report["force"], true);
}

#[test]
fn a_dry_run_of_a_new_job_creates_nothing_and_bad_job_files_exit_78() {
    let tmp = temp_dir();
    let ex = copy_examples(tmp.path());
    let dry = run_job(&ex.join("archive.toml"), &["--dry-run"]);
    dry.expect_code(0);
    assert!(
        dry.stdout
            .contains("add     policies/travel-and-expenses.md"),
        "{}",
        dry.describe()
    );
    assert!(!ex.join(".docket").exists(), "a dry run creates no index");
    assert!(!ex.join("out").exists(), "a dry run writes no output");

    let bad = write(
        tmp.path(),
        "bad.toml",
        b"version = 1\n[sources]\npaths = [\"docs\"]\n\n[[classify]]\nlabels = [\"a\", \"b\"]\nouptut = \"o.csv\"\n",
    );
    for cmd in ["run", "validate"] {
        let run = docket([cmd, &bad.display().to_string()]);
        run.expect_code(78);
        assert!(
            run.stderr.contains("ouptut") && run.stderr.contains("line 7"),
            "{}",
            run.describe()
        );
    }
    let missing = write(
        tmp.path(),
        "missing.toml",
        b"version = 1\n[sources]\npaths = [\"nowhere\"]\n",
    );
    for cmd in ["validate", "run"] {
        let run = docket([cmd, &missing.display().to_string()]);
        run.expect_code(78);
        assert!(run.stderr.contains("nowhere"), "{}", run.describe());
    }
}

/// A small job over `docs` with one classify task; `extra` goes into the job's top.
fn small_job(dir: &Path, index: &str, extra: &str) -> PathBuf {
    let text = format!(
        "version = 1\n{extra}\n[sources]\npaths = [\"docs\"]\n[index]\ndir = \"{index}\"\n\
         [[classify]]\nname = \"kind\"\nlabels = [\"animals\", \"weather\"]\noutput = \"out/{index}/kind.csv\"\n"
    );
    write(dir, &format!("{index}.toml"), text.as_bytes())
}

#[test]
fn a_held_lock_exits_75_and_a_dead_runs_lock_is_taken_over() {
    let tmp = temp_dir();
    write(
        tmp.path(),
        "docs/a.txt",
        b"The cat sat on the mat. Dogs bark at cats.\n",
    );
    let job = small_job(tmp.path(), "ix", "");
    let lock_path = tmp.path().join("ix/run.lock");
    std::fs::create_dir_all(lock_path.parent().unwrap()).unwrap();
    let holder = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .unwrap();
    holder.try_lock().expect("the test takes the lock");
    std::fs::write(
        &lock_path,
        r#"{"pid":4242,"job":"other","started":"2026-11-29T06:00:00Z"}"#,
    )
    .unwrap();
    let run = run_job(&job, &[]);
    run.expect_code(75);
    assert!(
        run.stderr.contains("another run holds") && run.stderr.contains("pid 4242"),
        "{}",
        run.describe()
    );
    assert!(
        !tmp.path().join("out").exists(),
        "a locked-out run does nothing"
    );

    // The holder dies (its lock goes with it) and leaves its record behind.
    drop(holder);
    let run = run_job(&job, &[]);
    run.expect_code(0);
    assert!(
        run.stderr
            .contains("taking over after run of job other (pid 4242"),
        "{}",
        run.describe()
    );
    assert_eq!(csv_rows(&tmp.path().join("out/ix/kind.csv")).len(), 1);
}

#[test]
fn failing_documents_are_retried_then_quarantined_and_reported_while_the_job_goes_on() {
    let tmp = temp_dir();
    write(
        tmp.path(),
        "docs/cats.txt",
        b"The cat sat on the mat and purred.\n",
    );
    write(
        tmp.path(),
        "docs/rain.txt",
        b"Heavy rain and wind are expected tomorrow.\n",
    );
    // Fails in the task: no text to classify.
    let empty = write(tmp.path(), "docs/empty.txt", b"   \n");
    // Fails in the index stage: not a PDF.
    write(
        tmp.path(),
        "docs/broken.pdf",
        b"%PDF-1.4\nthis is not a PDF at all\n",
    );
    let job = small_job(tmp.path(), "ix", "max_attempts = 2");
    let report_path = tmp.path().join("out/ix/ix.report.json");

    for attempt in 1..=2 {
        let run = run_job(&job, &["--log-format", "json"]);
        run.expect_code(2);
        for line in run.stderr.lines() {
            let v: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("log line is not JSON ({e}): {line}"));
            assert!(v["ts"].is_string() && v["level"].is_string(), "{line}");
        }
        let report = report_of(&report_path);
        assert_eq!(report["status"], "partial");
        let kind = task(&report, "kind");
        assert_eq!(kind["failed"], 1, "{report:#}");
        assert_eq!(kind["failures"][0]["key"], "empty.txt");
        assert_eq!(kind["failures"][0]["attempts"], attempt);
        assert_eq!(kind["failures"][0]["quarantined"], attempt == 2);
        assert!(
            kind["failures"][0]["reason"]
                .as_str()
                .unwrap()
                .contains("no text")
        );
        assert_eq!(report["index"]["failed"], 1, "{report:#}");
        // The good documents are classified all the same.
        assert_eq!(csv_rows(&tmp.path().join("out/ix/kind.csv")).len(), 2);
    }

    // Quarantined: not tried again, the run succeeds, `docket report` lists both.
    let run = run_job(&job, &[]);
    run.expect_code(0);
    let report = report_of(&report_path);
    assert_eq!(task(&report, "kind")["quarantined"], 1);
    assert_eq!(task(&report, "kind")["failed"], 0);
    assert_eq!(report["index"]["quarantined"], 1);
    assert_eq!(report["index"]["failed"], 0);
    let listed = docket(["report", &job.display().to_string(), "--json"]);
    listed.expect_code(0);
    let failures = listed.json()["failures"].as_array().unwrap().clone();
    let keys: BTreeSet<(String, String, String)> = failures
        .iter()
        .map(|f| {
            (
                f["task"].as_str().unwrap().to_owned(),
                f["key"].as_str().unwrap().to_owned(),
                f["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        keys.contains(&("kind".into(), "empty.txt".into(), "quarantined".into())),
        "{keys:?}"
    );
    assert!(
        keys.contains(&("index".into(), "broken.pdf".into(), "quarantined".into())),
        "{keys:?}"
    );
    let human = docket(["report", &job.display().to_string()]);
    assert!(
        human.stdout.contains("quarantined") && human.stdout.contains("no text"),
        "{}",
        human.describe()
    );

    // The document gets text: it is tried again and done.
    std::fs::write(&empty, "Snow and frost are forecast for the weekend.\n").unwrap();
    run_job(&job, &[]).expect_code(0);
    let rows = csv_rows(&tmp.path().join("out/ix/kind.csv"));
    assert_eq!(rows.len(), 3);
    assert_eq!(
        rows.iter().find(|r| r["source"] == "empty.txt").unwrap()["label"],
        "weather"
    );
    let listed = docket(["report", &job.display().to_string(), "--json"]).json();
    assert_eq!(
        listed["failures"].as_array().unwrap().len(),
        1,
        "only broken.pdf is left"
    );
}

#[test]
fn shards_split_the_documents_between_them_exactly_once() {
    let tmp = temp_dir();
    for i in 0..30u32 {
        let topic = if i.is_multiple_of(2) {
            "The dog chased a rabbit"
        } else {
            "Thunderstorms roll in"
        };
        write(
            tmp.path(),
            &format!("docs/d{i:02}.txt"),
            format!("{topic} number {i}.\n").as_bytes(),
        );
    }
    let mut seen: Vec<BTreeSet<String>> = Vec::new();
    for i in 0..3 {
        let job = small_job(tmp.path(), &format!("shard{i}"), "");
        run_job(&job, &["--shard", &format!("{i}/3")]).expect_code(0);
        let rows = csv_rows(&tmp.path().join(format!("out/shard{i}/kind.csv")));
        seen.push(rows.into_iter().map(|r| r["source"].clone()).collect());
    }
    let all: BTreeSet<String> = seen.iter().flatten().cloned().collect();
    assert_eq!(all.len(), 30, "every document in some shard");
    assert_eq!(
        seen.iter().map(BTreeSet::len).sum::<usize>(),
        30,
        "and in one only"
    );
    assert!(seen.iter().all(|s| !s.is_empty()), "{seen:?}");
    // A shard's state belongs to that shard.
    let job = small_job(tmp.path(), "shard0", "");
    let run = run_job(&job, &["--shard", "1/3"]);
    run.expect_code(64);
    assert!(run.stderr.contains("shard 0/3"), "{}", run.describe());
}

/// Send SIGTERM to a process (the shell's builtin `kill`: no procps needed).
fn sigterm(pid: u32) -> bool {
    Command::new("sh")
        .args(["-c", &format!("kill -TERM {pid}")])
        .status()
        .is_ok_and(|s| s.success())
}

fn write_corpus(dir: &Path, n: usize) {
    for i in 0..n {
        let (a, b) = if i.is_multiple_of(2) {
            (
                "The cat chased the mouse across the barn.",
                "Cats and dogs sleep all day.",
            )
        } else {
            (
                "Rain and wind hit the coast tonight.",
                "The forecast says storms and snow.",
            )
        };
        let filler: String = (0..40)
            .map(|w| format!("w{} ", (i * 7 + w * 13) % 300))
            .collect();
        write(
            dir,
            &format!("docs/d{i:03}.txt"),
            format!("Note {i}. {a} {b}\n\n{filler}.\n\nIt ends here with item {i}.\n").as_bytes(),
        );
    }
}

#[test]
fn kill_9_at_any_point_then_rerun_finishes_without_duplicates_or_losses() {
    let tmp = temp_dir();
    let n = 160;
    write_corpus(tmp.path(), n);
    let text = "version = 1\n[sources]\npaths = [\"docs\"]\n[index]\ndir = \"ix\"\ncommit_every = 8\n\
        [[classify]]\nname = \"kind\"\nlabels = [\"animals\", \"weather\"]\noutput = \"out/kind.csv\"\n\
        [[summarize]]\nname = \"gist\"\nlength = 1\noutput = \"out/gist.jsonl\"\n";
    let job = write(tmp.path(), "job.toml", text.as_bytes());

    // Two kills during the index sync, then kills a little after the sync has ended
    // (its summary line is on stderr): inside the classify task, inside summarize.
    // At least one kill must land after some task results and before all of them, or
    // the test proves nothing. Waiting for the sync line keeps this true on a slow,
    // busy machine.
    let mut partial_seen = false;
    let mut kills = Vec::new();
    for (after_sync, delay_ms) in [
        (false, 1500u64),
        (false, 3000),
        (true, 700),
        (true, 1500),
        (true, 2500),
        (true, 4000),
    ] {
        let (mut child, rx) = spawn_run(&job);
        if after_sync {
            let deadline = Instant::now() + Duration::from_secs(120);
            while let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                if line.contains(" documents were added") {
                    break;
                }
            }
        }
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let finished = child.wait().expect("wait").success();
        let dry = run_job(&job, &["--dry-run"]);
        let todo = |task: &str| -> Option<usize> {
            let key = format!("would {task}: ");
            let line = dry.stderr.lines().find(|l| l.contains(&key))?;
            line.split(&key).nth(1)?.split(' ').next()?.parse().ok()
        };
        let (k, g) = (todo("classify kind"), todo("summarize gist"));
        kills.push(format!(
            "killed {delay_ms} ms after start/sync (finished: {finished}): to do {k:?} {g:?}"
        ));
        if let (false, Some(k), Some(g)) = (finished, k, g)
            && (0 < k + g && k + g < 2 * n)
        {
            partial_seen = true;
        }
    }
    assert!(
        partial_seen,
        "no kill landed in the middle of the tasks: {kills:#?}"
    );

    run_job(&job, &[]).expect_code(0);
    let rows = csv_rows(&tmp.path().join("out/kind.csv"));
    let sources: BTreeSet<&str> = rows.iter().map(|r| r["source"].as_str()).collect();
    assert_eq!(rows.len(), n, "one row per document");
    assert_eq!(sources.len(), n, "no duplicates");
    let gists = jsonl(&tmp.path().join("out/gist.jsonl"));
    assert_eq!(gists.len(), n);
    let gist_sources: BTreeSet<&str> = gists
        .iter()
        .map(|g| g["source"].as_str().unwrap())
        .collect();
    assert_eq!(gist_sources.len(), n);
    // The labels are the ones a clean run gives.
    for r in &rows {
        let i: usize = r["source"][1..4].parse().unwrap();
        let want = if i.is_multiple_of(2) {
            "animals"
        } else {
            "weather"
        };
        assert_eq!(r["label"], want, "{r:?}");
    }
    // And the next run has nothing to do.
    let again = run_job(&job, &[]);
    again.expect_code(0);
    assert!(
        again.stderr.contains("nothing changed"),
        "{}",
        again.describe()
    );
}

#[test]
fn the_scheduler_runs_the_job_and_stops_cleanly_on_sigterm() {
    let tmp = temp_dir();
    write(tmp.path(), "docs/a.txt", b"The cat sat on the mat.\n");
    let job = small_job(tmp.path(), "ix", "");
    let report = tmp.path().join("out/ix/ix.report.json");
    let log_path = tmp.path().join("schedule.log");
    let mut child = Command::new(crate::util::docket_bin())
        // Every 2 seconds (croner takes an optional leading seconds field).
        .args([
            "schedule",
            &job.display().to_string(),
            "--cron",
            "*/2 * * * * *",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .expect("start docket schedule");
    let start = Instant::now();
    let mut runs = 0;
    while start.elapsed() < Duration::from_secs(60) {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        runs = log.matches("run of ix ended").count();
        if runs >= 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        runs >= 2,
        "two scheduled runs: {}",
        std::fs::read_to_string(&log_path).unwrap()
    );
    assert!(sigterm(child.id()));
    let stopped = Instant::now();
    let code = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s.code();
        }
        assert!(
            stopped.elapsed() < Duration::from_secs(30),
            "did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("stopping"), "{log}");
    assert_eq!(report_of(&report)["status"], "success");
}

#[test]
fn sigterm_stops_a_run_between_documents_and_the_next_run_finishes() {
    let tmp = temp_dir();
    let n = 120;
    write_corpus(tmp.path(), n);
    let text = "version = 1\n[sources]\npaths = [\"docs\"]\n[index]\ndir = \"ix\"\n\
        [[summarize]]\nname = \"gist\"\nlength = 1\noutput = \"out/gist.jsonl\"\n";
    let job = write(tmp.path(), "job.toml", text.as_bytes());
    let (mut child, rx) = spawn_run(&job);
    let mut log = Vec::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(120)) {
        let synced = line.contains(" documents were added");
        log.push(line);
        if synced {
            break;
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    let sent = Instant::now();
    assert!(sigterm(child.id()));
    let code = child.wait().unwrap().code();
    log.extend(rx.try_iter());
    let log = log.join("\n");
    assert!(sent.elapsed() < Duration::from_secs(30), "{log}");
    assert_eq!(code, Some(130), "{log}");
    let report = report_of(&tmp.path().join("out/job.report.json"));
    assert_eq!(report["status"], "interrupted", "{report:#}");
    let gist = task(&report, "gist");
    let done = gist["done"].as_u64().unwrap() as usize;
    assert!(gist["interrupted"] == true && done < n, "{report:#}");
    // What was done is in the output already; the next run does the rest.
    assert_eq!(jsonl(&tmp.path().join("out/gist.jsonl")).len(), done);
    run_job(&job, &[]).expect_code(0);
    let report = report_of(&tmp.path().join("out/job.report.json"));
    assert_eq!(
        task(&report, "gist")["done"].as_u64(),
        Some((n - done) as u64)
    );
    assert_eq!(jsonl(&tmp.path().join("out/gist.jsonl")).len(), n);
}
