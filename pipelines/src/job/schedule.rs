//! `docket schedule`: keep running and start the job on a cron schedule.
//!
//! Runs never overlap: the scheduler runs the job in-process, and the next start is
//! computed after a run ends, so a run longer than the interval skips the starts it
//! overran (logged) instead of queueing them. SIGTERM/SIGINT stop the current run
//! between documents (its state is saved) and end the scheduler.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Local};
use croner::Cron;

use crate::error::{Error, Result};
use crate::job::{RunEnv, RunOptions};
use crate::report::ReporterExt;

/// Parse a 5-field cron expression (`min hour day month weekday`, with `*`, lists,
/// ranges, steps and names; `@daily`-style nicknames too).
pub fn parse_cron(expr: &str) -> Result<Cron, String> {
    Cron::from_str(expr.trim()).map_err(|e| format!("{expr:?}: {e}"))
}

/// The next start strictly after `after`.
pub fn next_after(cron: &Cron, after: &DateTime<Local>) -> Result<DateTime<Local>, String> {
    cron.find_next_occurrence(after, false)
        .map_err(|e| format!("no next start: {e}"))
}

/// Run the job in `file` on its schedule (or `cron`, which overrides it) until
/// `env.stop` is set. Each run re-reads the job file, so edits apply without a restart,
/// and a broken edit or a failed run is logged, not the end of the scheduler.
pub fn schedule(file: &Path, cron: Option<&str>, options: &RunOptions, env: &RunEnv) -> Result<()> {
    let loaded = crate::job::Job::load(file)?;
    let expr = match (cron, &loaded.spec.schedule) {
        (Some(e), _) => e.to_owned(),
        (None, Some(e)) => e.clone(),
        (None, None) => {
            return Err(Error::Usage(format!(
                "{}: no schedule in the job file and none given",
                file.display()
            )));
        }
    };
    let cron = parse_cron(&expr).map_err(Error::Usage)?;
    let reporter = env.reporter.as_ref();
    reporter.info(&format!("schedule {}: {expr} (local time)", loaded.name));
    let mut after = Local::now();
    loop {
        let next = next_after(&cron, &after).map_err(Error::Usage)?;
        reporter.info(&format!(
            "next run of {} at {}",
            loaded.name,
            next.to_rfc3339()
        ));
        if !wait_until(&next, env) {
            reporter.info("stopping: signal received");
            return Ok(());
        }
        match crate::job::Job::load(file).and_then(|j| crate::job::run(&j, options, env)) {
            Ok(r) => reporter.info(&format!("run of {} ended: {:?}", loaded.name, r.status)),
            Err(e) => reporter.error(&format!("run of {} failed: {e}", loaded.name)),
        }
        if env.stopping() {
            reporter.info("stopping: signal received");
            return Ok(());
        }
        let now = Local::now();
        let missed = cron_between(&cron, &next, &now);
        if missed > 0 {
            reporter.warn(&format!(
                "the run overran {missed} scheduled start(s); they are skipped"
            ));
        }
        after = now;
    }
}

/// Sleep until `at` in short steps, so that a signal ends the wait promptly; false if
/// the wait was stopped.
fn wait_until(at: &DateTime<Local>, env: &RunEnv) -> bool {
    while Local::now() < *at {
        if env.stopping() {
            return false;
        }
        let left = (*at - Local::now()).to_std().unwrap_or_default();
        std::thread::sleep(left.min(Duration::from_millis(200)));
    }
    true
}

/// Scheduled starts strictly between `from` and `to` (bounded, for the log).
fn cron_between(cron: &Cron, from: &DateTime<Local>, to: &DateTime<Local>) -> usize {
    let mut n = 0;
    let mut t = *from;
    while let Ok(next) = cron.find_next_occurrence(&t, false) {
        if next >= *to || n >= 1000 {
            break;
        }
        n += 1;
        t = next;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn cron_expressions_parse_and_give_the_next_start() {
        let cron = parse_cron("30 2 * * *").unwrap();
        let at = Local.with_ymd_and_hms(2026, 11, 29, 1, 0, 0).unwrap();
        let next = next_after(&cron, &at).unwrap();
        assert_eq!(
            next,
            Local.with_ymd_and_hms(2026, 11, 29, 2, 30, 0).unwrap()
        );
        let again = next_after(&cron, &next).unwrap();
        assert_eq!(
            again,
            Local.with_ymd_and_hms(2026, 11, 30, 2, 30, 0).unwrap()
        );
        let every = parse_cron("*/15 * * * *").unwrap();
        assert_eq!(
            cron_between(&every, &at, &(at + chrono::Duration::hours(1))),
            3
        );
        for bad in ["61 * * * *", "* * *", "banana"] {
            assert!(parse_cron(bad).is_err(), "{bad}");
        }
    }
}
