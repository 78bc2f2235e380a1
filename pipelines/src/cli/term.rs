//! What the command line shows on stderr: log lines (plain, or JSON objects for log
//! collectors with `--log-format json`) and progress (a bar with rate and ETA when
//! stderr is a terminal; otherwise a plain line every 10 seconds, for cron, systemd and
//! log files). It is the binary's [`Reporter`]: the libraries say what happens, this
//! decides how it looks.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use docket_pipelines::report::{Level, Progress, Reporter};
use indicatif::{ProgressBar, ProgressStyle};

/// How often the plain form logs a progress line.
const LINE_EVERY: Duration = Duration::from_secs(10);

/// Log lines as text or JSON objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// The terminal reporter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Term {
    pub format: LogFormat,
    /// Plan lines of a dry run as JSON lines on stdout (`docket index --dry-run --json`).
    pub plan_json: bool,
}

impl Term {
    pub fn new(format: LogFormat) -> Term {
        Term {
            format,
            plan_json: false,
        }
    }

    /// Write one line to stderr. Ignores a closed stderr.
    pub fn line(&self, level: Level, message: &str) {
        let mut err = std::io::stderr().lock();
        if self.format == LogFormat::Text {
            let _ = match level {
                Level::Info => writeln!(err, "{message}"),
                Level::Notice => writeln!(err, "notice: {message}"),
                Level::Warning => writeln!(err, "warning: {message}"),
                Level::Error => writeln!(err, "error: {message}"),
            };
            return;
        }
        let value = serde_json::json!({
            "ts": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "level": level,
            "message": message,
        });
        let _ = writeln!(err, "{value}");
    }
}

impl Reporter for Term {
    fn log(&self, level: Level, message: &str) {
        self.line(level, message);
    }

    fn access(&self, fields: &serde_json::Value) {
        if self.format == LogFormat::Text {
            self.line(Level::Info, &docket_pipelines::report::access_line(fields));
            return;
        }
        let mut record = serde_json::json!({
            "ts": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "level": Level::Info,
            "message": "access",
        });
        if let (Some(r), Some(f)) = (record.as_object_mut(), fields.as_object()) {
            r.extend(f.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        let _ = writeln!(std::io::stderr().lock(), "{record}");
    }

    fn progress(&self, label: &str, total: usize, unit: &'static str) -> Box<dyn Progress + '_> {
        Box::new(Bar::new(*self, label, total, unit))
    }

    fn planned(&self, action: &str, doc_id: &str, source: &str) {
        let mut out = std::io::stdout().lock();
        let _ = if self.plan_json {
            let line = serde_json::json!({"action": action, "doc_id": doc_id, "source": source});
            writeln!(out, "{line}")
        } else if action != "keep" {
            writeln!(out, "{action:<7} {source}")
        } else {
            Ok(())
        };
    }
}

/// A progress display: an indicatif bar on a terminal, else periodic log lines.
struct Bar {
    term: Term,
    bar: ProgressBar,
    label: String,
    unit: &'static str,
    total: usize,
    done: AtomicUsize,
    started: Instant,
    last_line: Mutex<Instant>,
    terminal: bool,
}

impl Bar {
    fn new(term: Term, label: &str, total: usize, unit: &'static str) -> Bar {
        let terminal = std::io::stderr().is_terminal() && term.format == LogFormat::Text;
        let bar = if terminal {
            let bar = ProgressBar::new(total as u64);
            bar.set_style(
                ProgressStyle::with_template(&format!(
                    "{{spinner}} {{prefix}} [{{bar:30}}] {{pos}}/{{len}} {unit} {{msg}} (ETA {{eta}})"
                ))
                .map(|s| s.progress_chars("=> "))
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.set_prefix(label.to_owned());
            bar.enable_steady_tick(Duration::from_millis(250));
            bar
        } else {
            ProgressBar::hidden()
        };
        Bar {
            term,
            bar,
            label: label.to_owned(),
            unit,
            total,
            done: AtomicUsize::new(0),
            started: Instant::now(),
            last_line: Mutex::new(Instant::now()),
            terminal,
        }
    }
}

impl Progress for Bar {
    fn advance(&self, n: usize) {
        let done = self.done.fetch_add(n, Ordering::SeqCst) + n;
        self.bar.inc(n as u64);
        if self.terminal {
            return;
        }
        let mut last = self.last_line.lock().unwrap_or_else(|p| p.into_inner());
        if last.elapsed() < LINE_EVERY {
            return;
        }
        *last = Instant::now();
        let rate = done as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
        let eta = self.total.saturating_sub(done) as f64 / rate.max(1e-9);
        let message = self.bar.message();
        self.term.line(
            Level::Info,
            &format!(
                "{}: {done}/{} {} {message} ({rate:.1}/s, ETA {eta:.0}s)",
                self.label, self.total, self.unit
            ),
        );
    }

    fn set_message(&self, message: String) {
        self.bar.set_message(message);
    }

    fn log(&self, level: Level, message: &str) {
        self.bar.suspend(|| self.term.line(level, message));
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
