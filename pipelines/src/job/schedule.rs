//! `docket schedule`: keep running and start the job on a cron schedule.
//!
//! Runs never overlap: the scheduler runs the job in-process, and the next start is
//! computed after a run ends, so a run longer than the interval skips the starts it
//! overran (logged) instead of queueing them. SIGTERM/SIGINT stop the current run
//! between documents (its state is saved) and end the scheduler.

use std::str::FromStr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Result;
use chrono::{DateTime, Local};
use croner::Cron;

use crate::job::{self, RunOptions, STOP};
use crate::{Outcome, log};

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

pub fn schedule(
    file: &std::path::Path,
    cron_flag: Option<&str>,
    options: &RunOptions,
) -> Result<Outcome> {
    let loaded = job::load(file)?;
    let expr = match (cron_flag, &loaded.spec.schedule) {
        (Some(e), _) => e.to_owned(),
        (None, Some(e)) => e.clone(),
        (None, None) => {
            return Err(crate::UsageError(format!(
                "{}: no schedule in the job file; give --cron EXPR",
                file.display()
            ))
            .into());
        }
    };
    let cron = parse_cron(&expr).map_err(crate::UsageError)?;
    job::install_signal_handler();
    log(&format!("schedule {}: {expr} (local time)", loaded.name));
    let mut after = Local::now();
    loop {
        let next = next_after(&cron, &after).map_err(crate::UsageError)?;
        log(&format!(
            "next run of {} at {}",
            loaded.name,
            next.to_rfc3339()
        ));
        // Sleep in short steps so that a signal ends the wait promptly.
        while Local::now() < next {
            if STOP.load(Ordering::SeqCst) {
                log("stopping: signal received");
                return Ok(Outcome::Success);
            }
            let left = (next - Local::now()).to_std().unwrap_or_default();
            std::thread::sleep(left.min(Duration::from_millis(200)));
        }
        // Reload the job file every run: edits apply without a restart; a broken edit
        // is logged and the run skipped, not the scheduler stopped.
        match job::load(file).and_then(|j| job::run_and_report(&j, options)) {
            Ok(outcome) => log(&format!("run of {} ended: {outcome:?}", loaded.name)),
            Err(e) => log(&format!("error: run of {} failed: {e:#}", loaded.name)),
        }
        if STOP.load(Ordering::SeqCst) {
            log("stopping: signal received");
            return Ok(Outcome::Success);
        }
        let now = Local::now();
        let missed = cron_between(&cron, &next, &now);
        if missed > 0 {
            log(&format!(
                "warning: the run overran {missed} scheduled start(s); they are skipped"
            ));
        }
        after = now;
    }
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
