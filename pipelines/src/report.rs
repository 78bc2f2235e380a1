//! How the job engine tells its caller what it is doing, without printing: log lines
//! with a level, progress over a known number of items, and the lines of a dry run's
//! plan. The `docket` binary renders them on a terminal (bars, colours, JSON log lines);
//! a server or a test collects them. Passing a [`Reporter`] instead of writing to
//! stderr keeps every library function usable where there is no terminal.

use std::sync::Mutex;

/// How much a log line matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// What is happening ("run nightly: syncing the index").
    Info,
    /// Worth knowing, nothing wrong ("taking over after a run that did not finish").
    Notice,
    /// Something was skipped or degraded; the run goes on.
    Warning,
    /// A document or task failed; the run goes on (fatal errors are returned instead).
    Error,
}

/// Receives what a long operation wants to tell its user.
pub trait Reporter: Send + Sync {
    /// One log line.
    fn log(&self, level: Level, message: &str);

    /// Start counting `total` items of `unit` ("documents") for `label` ("classify
    /// topics"); the returned handle advances it and ends it when dropped or finished.
    fn progress(&self, label: &str, total: usize, unit: &'static str) -> Box<dyn Progress + '_>;

    /// One line of a dry run's plan: what would happen to a document.
    fn planned(&self, action: &str, doc_id: &str, source: &str) {
        let _ = (action, doc_id, source);
    }

    /// One served request (`docket serve`'s access log): method, path, status,
    /// milliseconds, client. A plain log line unless the reporter structures it.
    fn access(&self, fields: &serde_json::Value) {
        self.log(Level::Info, &access_line(fields));
    }
}

/// An access record as one text line: `access method=GET path=/v1/search status=200 ...`.
pub fn access_line(fields: &serde_json::Value) -> String {
    let pairs: Vec<String> = fields
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| match v {
                    serde_json::Value::String(s) => format!("{k}={s}"),
                    other => format!("{k}={other}"),
                })
                .collect()
        })
        .unwrap_or_default();
    format!("access {}", pairs.join(" "))
}

/// A running count of done items.
pub trait Progress {
    fn advance(&self, n: usize);
    /// Detail shown after the count ("812 chunks embedded (40.1/s)").
    fn set_message(&self, message: String);
    /// A log line shown above the progress display.
    fn log(&self, level: Level, message: &str);
    fn finish(&self);
}

/// Convenience forms of [`Reporter::log`].
pub trait ReporterExt {
    fn info(&self, message: &str);
    fn notice(&self, message: &str);
    fn warn(&self, message: &str);
    fn error(&self, message: &str);
}

impl<R: Reporter + ?Sized> ReporterExt for R {
    fn info(&self, message: &str) {
        self.log(Level::Info, message);
    }
    fn notice(&self, message: &str) {
        self.log(Level::Notice, message);
    }
    fn warn(&self, message: &str) {
        self.log(Level::Warning, message);
    }
    fn error(&self, message: &str) {
        self.log(Level::Error, message);
    }
}

/// A reporter that keeps every log line and plan line in memory: for tests, and for
/// callers that want the lines as data.
#[derive(Debug, Default)]
pub struct Collect {
    pub lines: Mutex<Vec<(Level, String)>>,
    pub plan: Mutex<Vec<(String, String, String)>>,
}

impl Collect {
    /// The messages logged so far at `level`.
    pub fn messages(&self, level: Level) -> Vec<String> {
        let lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        lines
            .iter()
            .filter(|(l, _)| *l == level)
            .map(|(_, m)| m.clone())
            .collect()
    }
}

impl Reporter for Collect {
    fn log(&self, level: Level, message: &str) {
        let mut lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        lines.push((level, message.to_owned()));
    }

    fn progress(&self, _: &str, _: usize, _: &'static str) -> Box<dyn Progress + '_> {
        Box::new(CollectProgress(self))
    }

    fn planned(&self, action: &str, doc_id: &str, source: &str) {
        let mut plan = self.plan.lock().unwrap_or_else(|p| p.into_inner());
        plan.push((action.to_owned(), doc_id.to_owned(), source.to_owned()));
    }
}

struct CollectProgress<'a>(&'a Collect);

impl Progress for CollectProgress<'_> {
    fn advance(&self, _: usize) {}
    fn set_message(&self, _: String) {}
    fn log(&self, level: Level, message: &str) {
        self.0.log(level, message);
    }
    fn finish(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collect_keeps_lines_by_level_and_progress_logs_reach_it() {
        let r = Collect::default();
        r.info("a");
        r.warn("b");
        r.progress("x", 3, "files").log(Level::Warning, "c");
        r.planned("add", "id", "a.md");
        assert_eq!(r.messages(Level::Warning), ["b", "c"]);
        assert_eq!(r.messages(Level::Info), ["a"]);
        assert_eq!(r.plan.lock().unwrap().len(), 1);
    }
}
