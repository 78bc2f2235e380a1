//! A run that dies on a document (an out-of-memory abort, a stack overflow: nothing a
//! `catch_unwind` stops) must not die on it forever: the job's state notes documents as
//! in progress before their work starts, so each death counts against the document it
//! happened on, and after `max_attempts` of them the document is quarantined.
//!
//! The deaths are real: `DOCKET_TEST_ABORT_ON=<stage>:<text>` makes the test build of
//! `docket` abort the process when `<stage>` (`index`: chunking, or `task`) works on a
//! document whose text contains `<text>`; a normal build has no such code.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::{Run, docket, docket_bin, docket_env, temp_dir, write};

/// Documents per test: more than one note of the files in progress (32), so that a
/// death names innocent documents beside the one at fault.
const GOOD: usize = 40;

/// `GOOD` small text files and one `d020-bomb.txt` among them.
fn corpus(dir: &Path) -> PathBuf {
    for i in 0..GOOD {
        let topic = if i % 2 == 0 {
            "The cat chased the mouse across the barn. Cats sleep all day."
        } else {
            "Rain and wind hit the coast tonight. Storms and snow follow."
        };
        write(
            dir,
            &format!("docs/d{i:03}.txt"),
            format!("Note {i}. {topic}\n\nIt ends here with item {i}.\n").as_bytes(),
        );
    }
    write(
        dir,
        "docs/d020-bomb.txt",
        b"This document kills the process that reads it: KABOOM.\n",
    )
}

/// A BM25-only job over `docs` with one extractive summary task (no model to load).
fn job(dir: &Path) -> PathBuf {
    let text = "version = 1\nmax_attempts = 3\n[sources]\npaths = [\"docs\"]\n\
        [index]\ndir = \"ix\"\nembed = false\n\
        [[summarize]]\nname = \"gist\"\nlength = 1\noutput = \"out/gist.jsonl\"\n";
    write(dir, "crash.toml", text.as_bytes())
}

fn run_with(job: &Path, abort_on: &str) -> Run {
    docket_env(
        None,
        ["run", &job.display().to_string()],
        Duration::from_secs(120),
        &[("DOCKET_TEST_ABORT_ON", OsStr::new(abort_on))],
    )
}

fn report_of(dir: &Path) -> Value {
    let path = dir.join("out/crash.report.json");
    serde_json::from_slice(&std::fs::read(&path).expect("report written")).expect("report JSON")
}

fn gist_sources(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("out/gist.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("JSON line");
            v["source"].as_str().expect("source").to_owned()
        })
        .collect()
}

/// `docket report --json`'s failures as (task, key, state, reason).
fn listed_failures(job: &Path) -> Vec<(String, String, String, String)> {
    let listed = docket(["report", &job.display().to_string(), "--json"]);
    listed.expect_code(0);
    listed.json()["failures"]
        .as_array()
        .expect("failures")
        .iter()
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or_default().to_owned();
            (s("task"), s("key"), s("state"), s("reason"))
        })
        .collect()
}

#[track_caller]
fn assert_aborted(run: &Run) {
    assert!(
        run.code.is_none() && !run.timed_out,
        "the run should have died on the bomb\n{}",
        run.describe()
    );
    assert!(
        run.stderr.contains("DOCKET_TEST_ABORT_ON: aborting"),
        "{}",
        run.describe()
    );
}

/// Start `docket schedule` (a run every second) as a service manager would, with the
/// abort armed; stderr goes to `log`.
fn spawn_schedule(job: &Path, log: &Path, abort_on: &str) -> std::process::Child {
    Command::new(docket_bin())
        .args([
            "schedule",
            &job.display().to_string(),
            "--cron",
            "* * * * * *",
        ])
        .env("DOCKET_TEST_ABORT_ON", abort_on)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).expect("log file"))
        .spawn()
        .expect("start docket schedule")
}

/// Regression (issue 13): a file whose reading killed the process was read again by
/// every run, so `docket schedule` under a service manager died at every start.
#[test]
fn a_document_that_kills_the_parse_is_quarantined_after_max_attempts_deaths() {
    let tmp = temp_dir();
    let dir = tmp.path();
    let bomb = corpus(dir);
    let job = job(dir);
    let abort_on = "index:KABOOM";

    // The scheduler, restarted after each death as a service manager would: it dies
    // three times (max_attempts), then keeps running.
    let log = dir.join("schedule.log");
    let mut deaths = 0;
    let mut starts = 0;
    let survivor = loop {
        starts += 1;
        assert!(starts <= 5, "still dying after {deaths} deaths");
        let mut child = spawn_schedule(&job, &log, abort_on);
        let start = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break Some(status);
            }
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if text.matches("run of crash ended").count() >= 2 {
                break None;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the scheduler neither died nor ran twice:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        match status {
            Some(status) => {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                assert!(
                    status.code().is_none() && text.contains("DOCKET_TEST_ABORT_ON: aborting"),
                    "the scheduler ended otherwise than by the abort ({status}):\n{text}"
                );
                deaths += 1;
            }
            None => break child,
        }
    };
    assert_eq!(deaths, 3, "one death per allowed attempt");
    let mut survivor = survivor;
    let _ = survivor.kill();
    let _ = survivor.wait();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("crashed the process 3 times"),
        "the run that quarantines it says why:\n{text}"
    );
    assert!(!text.contains("DOCKET_TEST_ABORT_ON: aborting"), "{text}");

    // Quarantined, and only it: the innocent documents noted with it were cleared.
    let failures = listed_failures(&job);
    assert_eq!(failures.len(), 1, "{failures:?}");
    let (task, key, state, reason) = &failures[0];
    assert_eq!(
        (task.as_str(), key.as_str(), state.as_str()),
        ("index", "d020-bomb.txt", "quarantined")
    );
    assert!(reason.contains("crashed the process 3 times"), "{reason}");
    let mut sources = gist_sources(dir);
    sources.sort();
    let mut want: Vec<String> = (0..GOOD).map(|i| format!("d{i:03}.txt")).collect();
    want.sort();
    assert_eq!(
        sources, want,
        "every other document is indexed and summarized"
    );

    // A plain run with the abort still armed: the file is not read, the run succeeds.
    let run = run_with(&job, abort_on);
    run.expect_code(0);
    assert_eq!(report_of(dir)["index"]["quarantined"], 1);

    // The file changes: it is read again (and, without the abort, indexed).
    std::fs::write(&bomb, "This document is harmless now.\n").unwrap();
    let run = docket(["run", &job.display().to_string()]);
    run.expect_code(0);
    assert_eq!(gist_sources(dir).len(), GOOD + 1);
    // And it is no longer listed as quarantined: only a file left unread stays so.
    assert!(listed_failures(&job).is_empty());
}

/// The same for a task: the document is indexed, and the summary of it kills the run.
/// `--force` gives it another chance.
#[test]
fn a_document_that_kills_a_task_is_quarantined_after_max_attempts_deaths() {
    let tmp = temp_dir();
    let dir = tmp.path();
    corpus(dir);
    let job = job(dir);
    let abort_on = "task:KABOOM";
    for _ in 0..3 {
        assert_aborted(&run_with(&job, abort_on));
    }
    let run = run_with(&job, abort_on);
    run.expect_code(2);
    let report = report_of(dir);
    let gist = &report["tasks"][0];
    assert_eq!(gist["failed"], 1, "{report:#}");
    assert_eq!(gist["quarantined"], 1, "{report:#}");
    let failure = &gist["failures"][0];
    assert_eq!(failure["key"], "d020-bomb.txt");
    assert_eq!(failure["attempts"], 3);
    assert_eq!(failure["quarantined"], true);
    assert!(
        failure["reason"]
            .as_str()
            .unwrap()
            .contains("crashed the process 3 times"),
        "{report:#}"
    );
    assert_eq!(
        gist_sources(dir).len(),
        GOOD,
        "the others are all summarized"
    );
    let failures = listed_failures(&job);
    assert_eq!(failures.len(), 1, "only the bomb: {failures:?}");

    // Left alone from now on, with the abort armed.
    run_with(&job, abort_on).expect_code(0);
    // `--force` tries it again (and forgets its count): it dies once more.
    assert_aborted(&docket_env(
        None,
        ["run", &job.display().to_string(), "--force"],
        Duration::from_secs(120),
        &[("DOCKET_TEST_ABORT_ON", OsStr::new(abort_on))],
    ));
    // Without the abort it is summarized.
    let run = docket(["run", &job.display().to_string()]);
    run.expect_code(0);
    assert_eq!(gist_sources(dir).len(), GOOD + 1);
    assert!(listed_failures(&job).is_empty());
}
