//! Helpers shared by the integration tests: run the real `docket` binary, make temp
//! dirs, write fixture files.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What one run of `docket` printed and how it ended.
#[derive(Debug)]
pub struct Run {
    pub stdout: String,
    pub stderr: String,
    /// Exit code; `None` when killed by a signal (or by the timeout).
    pub code: Option<i32>,
    pub timed_out: bool,
}

impl Run {
    /// Panics with the whole run when the exit code is not `code`.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Self {
        assert!(
            !self.timed_out,
            "docket did not finish in time\n{}",
            self.describe()
        );
        assert_eq!(
            self.code,
            Some(code),
            "unexpected exit code\n{}",
            self.describe()
        );
        self
    }

    /// The stdout parsed as one JSON value.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON value ({e})\n{}", self.describe()))
    }

    /// The stdout parsed as JSON lines (blank lines skipped).
    #[track_caller]
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("line is not JSON ({e}): {l}\n{}", self.describe()))
            })
            .collect()
    }

    pub fn describe(&self) -> String {
        let cut = |s: &str| -> String {
            if s.len() > 4000 {
                let mut end = 4000;
                while !s.is_char_boundary(end) {
                    end -= 1;
                }
                format!("{}… ({} bytes)", &s[..end], s.len())
            } else {
                s.to_string()
            }
        };
        format!(
            "exit: {:?}{}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code,
            if self.timed_out { " (timed out)" } else { "" },
            cut(&self.stdout),
            cut(&self.stderr)
        )
    }
}

/// The default time a run may take before it is killed (hostile files must not hang).
pub const TIMEOUT: Duration = Duration::from_secs(240);

/// `docket ask QUESTION --json` on the index `ix`, with `extra` flags.
pub fn ask_json(ix: &Path, question: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "ask".to_owned(),
        question.to_owned(),
        "--json".into(),
        "--index".into(),
        ix.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    docket(args).expect_code(0).json()
}

/// Run `docket ARGS...` in `dir` (or the current directory) and capture everything.
pub fn docket<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    docket_in(None, args, TIMEOUT)
}

/// Run `docket` with a working directory and a timeout.
pub fn docket_in<I, S>(dir: Option<&Path>, args: I, timeout: Duration) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    docket_env(dir, args, timeout, &[])
}

/// Run `docket` with a working directory, a timeout and extra environment variables.
pub fn docket_env<I, S>(
    dir: Option<&Path>,
    args: I,
    timeout: Duration,
    env: &[(&str, &std::ffi::OsStr)],
) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut cmd = docket_command(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    if let Some(dir) = dir {
        cmd.current_dir(dir);
    }
    let mut child = cmd.spawn().expect("start docket");
    let (out_t, err_t) = drain_pipes(&mut child);
    let start = Instant::now();
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for docket") {
            break status;
        }
        if start.elapsed() > timeout {
            timed_out = true;
            let _ = child.kill();
            break child.wait().expect("wait for killed docket");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = String::from_utf8(out_t.join().expect("stdout thread"))
        .expect("docket wrote UTF-8 to stdout");
    let stderr = String::from_utf8_lossy(&err_t.join().expect("stderr thread")).into_owned();
    Run {
        stdout,
        stderr,
        code: status.code(),
        timed_out,
    }
}

/// Run `docket ARGS...` like [`docket_in`], and also measure the peak resident set size
/// of the process, in KiB (its own `ru_maxrss`, from `wait4`).
// The child is reaped with wait4, which also gives its peak memory.
pub fn docket_measured<I, S>(args: I, timeout: Duration) -> (Run, u64)
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut child = docket_command(args).spawn().expect("start docket");
    let (out_t, err_t) = drain_pipes(&mut child);
    let pid = child.id() as libc::pid_t;
    let start = Instant::now();
    let mut timed_out = false;
    let (status, usage) = loop {
        let mut status = 0;
        // SAFETY: an all-zero rusage is valid, and wait4 only writes to the two places
        // given, which outlive the call.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: as above; `pid` is our child, not reaped by anyone else.
        let reaped = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        assert!(reaped >= 0, "wait4: {}", std::io::Error::last_os_error());
        if reaped == pid {
            break (status, usage);
        }
        if !timed_out && start.elapsed() > timeout {
            timed_out = true;
            let _ = child.kill();
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    let stdout = String::from_utf8(out_t.join().expect("stdout thread"))
        .expect("docket wrote UTF-8 to stdout");
    let stderr = String::from_utf8_lossy(&err_t.join().expect("stderr thread")).into_owned();
    let run = Run {
        stdout,
        stderr,
        code,
        timed_out,
    };
    (run, usage.ru_maxrss as u64)
}

/// A fresh temporary directory, removed when dropped.
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("docket-it-")
        .tempdir()
        .expect("temp dir")
}

/// Write `bytes` to `dir/name` (creating parent folders) and return the path.
pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create parent dir");
    }
    std::fs::write(&path, bytes).expect("write fixture");
    path
}

/// The workspace root (the folder with the top-level Cargo.toml).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// The sample archive shipped with the project.
pub fn sample_archive() -> PathBuf {
    workspace_root().join("pipelines/examples/archive")
}

/// The pages of plain `docket extract` output (split at form feeds).
pub fn pages(stdout: &str) -> Vec<&str> {
    let text = stdout.strip_suffix('\n').unwrap_or(stdout);
    text.split('\u{c}').collect()
}

/// A minimal Hugging Face `tokenizer.json` (whitespace words, one-entry vocabulary) in
/// `dir/tokenizer/`, for `--embed-model`: ingest tests then need no model download and
/// do not depend on which model is installed.
pub fn word_tokenizer(dir: &Path) -> PathBuf {
    let model = dir.join("tokenizer");
    std::fs::create_dir_all(&model).expect("tokenizer dir");
    let json = r#"{"version":"1.0","truncation":null,"padding":null,"added_tokens":[],
"normalizer":null,"pre_tokenizer":{"type":"Whitespace"},"post_processor":null,
"decoder":null,"model":{"type":"WordLevel","vocab":{"[UNK]":0},"unk_token":"[UNK]"}}"#;
    std::fs::write(model.join("tokenizer.json"), json).expect("write tokenizer.json");
    model
}

/// The words of `text` joined by single spaces: compares extracted text exactly, word for
/// word, without depending on how lines and paragraphs are broken.
pub fn squash(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The `error: PATH: ...` line of stderr about `path`, if any.
pub fn error_line<'a>(stderr: &'a str, path: &Path) -> Option<&'a str> {
    let prefix = format!("error: {}: ", path.display());
    stderr.lines().find(|l| l.starts_with(&prefix))
}

/// Asserts that stderr has `error: PATH: REASON…` for `path`, the reason starting with
/// `reason` (the `DocError` Display text), case-insensitively.
#[track_caller]
pub fn assert_error(run: &Run, path: &Path, reason: &str) {
    let line = error_line(&run.stderr, path).unwrap_or_else(|| {
        panic!(
            "no `error: {}: ...` line\n{}",
            path.display(),
            run.describe()
        )
    });
    let got = line[format!("error: {}: ", path.display()).len()..].to_lowercase();
    assert!(
        got.starts_with(&reason.to_lowercase()),
        "reason for {} should start with {reason:?}, got {got:?}\n{}",
        path.display(),
        run.describe()
    );
}

/// Copy `pipelines/examples` (job files and the archive) into `dir`, without any
/// state or outputs a local run left there.
pub fn copy_examples(dir: &Path) -> PathBuf {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).expect("mkdir");
        for e in std::fs::read_dir(from).expect("read examples") {
            let e = e.expect("entry");
            let name = e.file_name();
            if name == ".docket" || name == "out" {
                continue;
            }
            let target = to.join(&name);
            if e.file_type().expect("type").is_dir() {
                copy(&e.path(), &target);
            } else {
                std::fs::copy(e.path(), &target).expect("copy");
            }
        }
    }
    let to = dir.join("examples");
    copy(&workspace_root().join("pipelines/examples"), &to);
    to
}

/// The `docket` binary under test: the one cargo built for these tests, or the one
/// `DOCKET_BIN` names (a copy of it, where other builds may replace the file meanwhile).
pub fn docket_bin() -> PathBuf {
    match std::env::var_os("DOCKET_BIN") {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => PathBuf::from(env!("CARGO_BIN_EXE_docket")),
    }
}

/// Read a child's stdout and stderr on threads, so a chatty child cannot block on a
/// full pipe; join the handles for the bytes.
pub fn drain_pipes(
    child: &mut std::process::Child,
) -> (
    std::thread::JoinHandle<Vec<u8>>,
    std::thread::JoinHandle<Vec<u8>>,
) {
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let err_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    (out_t, err_t)
}

/// Start `docket run JOB` in the background; its stderr lines arrive on the channel.
pub fn spawn_run(job: &Path) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    let mut child = Command::new(docket_bin())
        .args(["run", &job.display().to_string()])
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start docket");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    (child, rx)
}

/// `docket ARGS...` with piped output, no input, and none of the settings the CLI also
/// reads from the environment: those must come from the test only.
fn docket_command<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut cmd = Command::new(docket_bin());
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("RUST_LOG")
        .env_remove("DOCKET_PDF_PASSWORD")
        .env_remove("DOCKET_EMBED_MODEL")
        .env_remove("DOCKET_MAX_MEMORY")
        .env("NO_COLOR", "1");
    cmd
}
