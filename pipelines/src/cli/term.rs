//! Progress on stderr for long commands (`docket index`, the stages of `docket run`): a
//! bar with rate and ETA when stderr is a terminal; otherwise (cron, systemd, a log
//! collector, or `--log-format json`) a plain log line every 10 seconds.

use std::cell::Cell;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::log;

/// How often the plain form logs a line.
const LINE_EVERY: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub struct Progress {
    bar: ProgressBar,
    /// What is being done ("index", "classify topics").
    label: String,
    /// What is counted ("files", "documents").
    unit: &'static str,
    total: usize,
    done: Cell<usize>,
    started: Instant,
    last_line: Cell<Instant>,
    terminal: bool,
}

impl Progress {
    pub fn new(label: impl Into<String>, total: usize, unit: &'static str) -> Progress {
        let label = label.into();
        let terminal = std::io::stderr().is_terminal() && !crate::log_json();
        let bar = if terminal {
            let bar = ProgressBar::new(total as u64);
            bar.set_style(
                ProgressStyle::with_template(&format!(
                    "{{spinner}} {{prefix}} [{{bar:30}}] {{pos}}/{{len}} {unit} {{msg}} (ETA {{eta}})"
                ))
                .map(|s| s.progress_chars("=> "))
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.set_prefix(label.clone());
            bar.enable_steady_tick(Duration::from_millis(250));
            bar
        } else {
            ProgressBar::hidden()
        };
        Progress {
            bar,
            label,
            unit,
            total,
            done: Cell::new(0),
            started: Instant::now(),
            last_line: Cell::new(Instant::now()),
            terminal,
        }
    }

    /// A log line, above the bar.
    pub fn log(&self, line: &str) {
        self.bar.suspend(|| log(line));
    }

    /// Extra detail after the count ("812 chunks embedded (40.1/s)").
    pub fn set_message(&self, message: String) {
        self.bar.set_message(message);
    }

    pub fn advance(&self, n: usize) {
        let done = self.done.get() + n;
        self.done.set(done);
        self.bar.inc(n as u64);
        if !self.terminal && self.last_line.get().elapsed() >= LINE_EVERY {
            self.last_line.set(Instant::now());
            let rate = done as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
            let eta = self.total.saturating_sub(done) as f64 / rate.max(1e-9);
            let message = self.bar.message();
            log(&format!(
                "{}: {done}/{} {} {message} ({rate:.1}/s, ETA {eta:.0}s)",
                self.label, self.total, self.unit
            ));
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
