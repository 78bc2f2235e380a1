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

use crate::util::{Run, docket, docket_bin, docket_env, spawn_run, temp_dir, write};

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

/// The archive of the kill test: `n` notes `d000.txt`.. on two topics; `version`
/// changes the text of every fifth one.
fn notes(dir: &Path, range: std::ops::Range<usize>, version: usize) {
    for i in range {
        let (a, b) = if i % 2 == 0 {
            (
                "The cat chased the mouse across the barn.",
                "Cats and dogs sleep all day in the sun.",
            )
        } else {
            (
                "Rain and wind hit the coast tonight.",
                "The forecast says storms and snow for the hills.",
            )
        };
        let edit = if version > 0 && i % 5 == 0 {
            format!(" Revised in edition {version}: the harbour master logged item {i}.")
        } else {
            String::new()
        };
        let filler: String = (0..30)
            .map(|w| format!("w{} ", (i * 7 + w * 13) % 300))
            .collect();
        write(
            dir,
            &format!("docs/d{i:03}.txt"),
            format!("Note {i}. {a} {b}{edit}\n\n{filler}.\n\nIt ends here with item {i}.\n")
                .as_bytes(),
        );
    }
}

/// The kill test's job: three tasks, each with an output (classify CSV, summary JSON
/// Lines, extractive answers), none needing the LLM. `max_attempts` is high because a
/// kill -9 counts as a crash of the documents under way (the process cannot tell it
/// from an out-of-memory kill), and three kills may hit one document.
fn kill_job(dir: &Path) -> PathBuf {
    write(
        dir,
        "questions.txt",
        b"Where did the cat chase the mouse?\nWhat does the forecast say?\nWho logged the revisions?\n",
    );
    let text = "version = 1\nmax_attempts = 10\n[sources]\npaths = [\"docs\"]\n\
        [index]\ndir = \"ix\"\ncommit_every = 8\n\
        [[classify]]\nname = \"kind\"\nlabels = [\"animals\", \"weather\"]\noutput = \"out/kind.csv\"\n\
        [[summarize]]\nname = \"gist\"\nlength = 1\noutput = \"out/gist.jsonl\"\n\
        [[answer]]\nname = \"qa\"\nquestions = \"questions.txt\"\nextractive = true\noutput = \"out/answers.jsonl\"\n";
    write(dir, "job.toml", text.as_bytes())
}

const OUTPUTS: [&str; 3] = ["out/kind.csv", "out/gist.jsonl", "out/answers.jsonl"];

/// An output without what names the run that wrote each row (its row id, run id and
/// time, the last three CSV columns, in `provenance` of a JSON line): everything else
/// must be equal.
fn without_run(text: &str) -> String {
    text.lines()
        .map(|line| match serde_json::from_str::<Value>(line) {
            Ok(mut row) if row.is_object() => {
                if let Some(p) = row["provenance"].as_object_mut() {
                    p.remove("row_id");
                    p.remove("run_id");
                    p.remove("at");
                }
                row.to_string()
            }
            _ => line.rsplitn(4, ',').last().unwrap_or(line).to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The initial archive, and the edits made to it before the killed runs: every fifth
/// note changed, every seventh deleted, twenty added.
fn initial(dir: &Path) {
    notes(dir, 0..100, 0);
}

fn edit(dir: &Path) {
    notes(dir, 0..120, 1);
    for i in (3..120).step_by(7) {
        std::fs::remove_file(dir.join(format!("docs/d{i:03}.txt"))).unwrap();
    }
}

/// A small seeded generator (xorshift64*), so that a failing run can be replayed with
/// the seed it prints.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1)
    }
}

/// The inode of each output (0 when missing): a changed one was replaced by a rename.
fn inodes(dir: &Path) -> Vec<u64> {
    use std::os::unix::fs::MetadataExt;
    OUTPUTS
        .iter()
        .map(|o| std::fs::metadata(dir.join(o)).map_or(0, |m| m.ino()))
        .collect()
}

/// When a killed run is killed (each a moment after something the run does, so that
/// the kills land in its work on a fast machine and on a busy one alike).
#[derive(Debug, Clone, Copy)]
enum KillAfter {
    /// This long after the index stage began.
    SyncBegan(Duration),
    /// This long after the run replaced its first output.
    OutputReplaced(Duration),
    /// This long after the index stage's summary line.
    SyncEnded(Duration),
}

/// Start `docket run`, kill it (SIGKILL) as `when` says, and say what the kill hit.
fn run_and_kill(job: &Path, dir: &Path, when: KillAfter) -> String {
    let (mut child, rx) = spawn_run(job);
    let before = inodes(dir);
    let start = Instant::now();
    let deadline = start + Duration::from_secs(120);
    let mut syncing = false;
    let mut synced = false;
    let exited = |child: &mut std::process::Child| child.try_wait().expect("wait").is_some();
    let delay = loop {
        while let Ok(line) = rx.try_recv() {
            syncing |= line.contains("syncing the index");
            synced |= line.contains(" documents were added");
        }
        let replaced = inodes(dir) != before;
        match when {
            KillAfter::SyncBegan(d) if syncing => break d,
            KillAfter::OutputReplaced(d) if replaced => break d,
            KillAfter::SyncEnded(d) if synced => break d,
            _ => {}
        }
        if exited(&mut child) || Instant::now() > deadline {
            break Duration::ZERO;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    std::thread::sleep(delay);
    let finished = exited(&mut child);
    let _ = child.kill();
    let status = child.wait().expect("wait");
    let replaced: Vec<&str> = OUTPUTS
        .iter()
        .zip(before.iter().zip(inodes(dir)))
        .filter(|(_, (b, a))| *b != a)
        .map(|(o, _)| *o)
        .collect();
    format!(
        "{when:?} at {:?}: {} (outputs replaced first: {replaced:?})",
        start.elapsed(),
        if finished || status.success() {
            "had finished".to_owned()
        } else {
            "killed mid-run".to_owned()
        }
    )
}

/// How many documents (or questions) the job's tasks still have to do, by a dry run.
fn left_to_do(job: &Path) -> Vec<Option<usize>> {
    let dry = docket(["run", &job.display().to_string(), "--dry-run"]);
    ["classify kind", "summarize gist", "answer qa"]
        .iter()
        .map(|task| {
            let key = format!("would {task}: ");
            let line = dry.stderr.lines().find(|l| l.contains(&key))?;
            line.split(&key).nth(1)?.split(' ').next()?.parse().ok()
        })
        .collect()
}

/// Issue 13: kill -9 `docket run` at random points (seeded) across three runs of a job
/// whose outputs already exist, then finish it; every output must equal the one a clean
/// run makes from the same inputs.
#[test]
fn kill_9_across_three_runs_of_a_job_with_outputs_then_every_output_equals_a_clean_runs() {
    let seed: u64 = std::env::var("DOCKET_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_1313);
    let mut rng = Rng(seed | 1);

    // The reference: a clean run over the final inputs.
    let clean = temp_dir();
    initial(clean.path());
    edit(clean.path());
    let clean_job = kill_job(clean.path());
    docket(["run", &clean_job.display().to_string()]).expect_code(0);

    // The same job run once on the first inputs, so its outputs exist; then the edits.
    let tmp = temp_dir();
    let dir = tmp.path();
    initial(dir);
    let job = kill_job(dir);
    docket(["run", &job.display().to_string()]).expect_code(0);
    edit(dir);

    // Kill points, each a random moment after: the start of the index stage (in it, or
    // early in the tasks), the run's first output replaced (a kill between two
    // outputs, or after the last commit and before the report), the end of the index
    // stage (inside the tasks).
    let plan = [
        KillAfter::SyncBegan(Duration::from_millis(rng.below(600))),
        KillAfter::OutputReplaced(Duration::from_millis(rng.below(40))),
        KillAfter::SyncEnded(Duration::from_millis(rng.below(400))),
    ];
    let docs = std::fs::read_dir(dir.join("docs")).unwrap().count();
    let total = [docs, docs, 3];
    let mut kills = Vec::new();
    let mut mid_tasks = false;
    let mut after_output = false;
    for when in plan {
        let what = run_and_kill(&job, dir, when);
        let left = left_to_do(&job);
        let killed = what.contains("killed mid-run");
        after_output |= killed && !what.contains("replaced first: []");
        mid_tasks |= killed
            && left
                .iter()
                .zip(total)
                .any(|(l, t)| l.is_some_and(|l| 0 < l && l < t));
        kills.push(format!("{what}; left to do {left:?}"));
    }
    let kills = format!("seed {seed}: {kills:#?}");
    // What the kills hit, for the log of a passing run too (shown with --nocapture).
    #[allow(clippy::print_stderr, reason = "where the kills landed")]
    {
        eprintln!("{kills}");
    }
    assert!(
        after_output,
        "no kill landed after an output was written: {kills}"
    );
    assert!(mid_tasks, "no kill landed in the middle of a task: {kills}");

    let last = docket(["run", &job.display().to_string()]);
    last.expect_code(0);
    for output in OUTPUTS {
        let read =
            |dir: &Path| without_run(&std::fs::read_to_string(dir.join(output)).expect("output"));
        let (want, got) = (read(clean.path()), read(dir));
        if got != want {
            let diff: Vec<String> = want
                .lines()
                .zip(got.lines())
                .filter(|(w, g)| w != g)
                .take(3)
                .map(|(w, g)| format!("clean: {w}\n  got: {g}"))
                .collect();
            panic!(
                "{output} differs from a clean run's ({} lines, clean {}):\n{}\n{kills}",
                got.lines().count(),
                want.lines().count(),
                diff.join("\n")
            );
        }
    }
}
