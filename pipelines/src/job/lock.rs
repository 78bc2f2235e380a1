//! The run lock: one `docket run` at a time per index (and so per job on it).
//!
//! An OS file lock (`flock`), not the mere presence of a file: the kernel releases it
//! when its process dies, however it dies, so a lock left by a killed run is never
//! stale in a way that blocks the next one. The file also records who holds it (pid,
//! job, start time), which the next run reads to say whom it waits for, or that it takes
//! over after a run that did not finish.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
pub use crate::error::{Holder, LockHeld};

/// A held run lock; released on drop (and by the kernel if the process dies).
#[derive(Debug)]
pub struct RunLock {
    file: File,
    path: PathBuf,
    /// The record of a run that held the lock and did not finish (it was killed).
    pub taken_over: Option<Holder>,
}

impl RunLock {
    /// Take the lock at `path` or fail at once with [`LockHeld`].
    pub fn acquire(path: &Path, job: &str) -> Result<RunLock> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        let mut before = String::new();
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let _ = file.read_to_string(&mut before);
                return Err(LockHeld {
                    path: path.to_owned(),
                    holder: serde_json::from_str(&before).ok(),
                }
                .into());
            }
            Err(TryLockError::Error(e)) => return Err(Error::io(path, e)),
        }
        let _ = file.read_to_string(&mut before);
        // A record left behind means its run ended without releasing cleanly.
        let taken_over = serde_json::from_str::<Holder>(&before).ok();
        let holder = Holder {
            pid: std::process::id(),
            job: job.to_owned(),
            started: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        };
        let record = serde_json::to_string(&holder).unwrap_or_default();
        let write = |file: &mut File| -> std::io::Result<()> {
            file.set_len(0)?;
            file.seek(SeekFrom::Start(0))?;
            file.write_all(record.as_bytes())?;
            file.sync_all()
        };
        write(&mut file).map_err(|e| Error::io(path, e))?;
        Ok(RunLock {
            file,
            path: path.to_owned(),
            taken_over,
        })
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // Empty the record first: a clean exit leaves nothing to take over.
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
        let _ = &self.path;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_and_a_released_lock_is_free_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.lock");
        let first = RunLock::acquire(&path, "a").unwrap();
        assert!(first.taken_over.is_none());
        let err = RunLock::acquire(&path, "b").unwrap_err();
        let held = err.lock_held().expect("LockHeld");
        assert_eq!(held.holder.as_ref().unwrap().job, "a");
        assert_eq!(held.holder.as_ref().unwrap().pid, std::process::id());
        drop(first);
        let again = RunLock::acquire(&path, "b").unwrap();
        assert!(
            again.taken_over.is_none(),
            "a clean release leaves no record"
        );
    }

    #[test]
    fn a_record_left_by_a_dead_run_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.lock");
        std::fs::write(
            &path,
            r#"{"pid":999999,"job":"old","started":"2026-01-01T00:00:00Z"}"#,
        )
        .unwrap();
        let lock = RunLock::acquire(&path, "new").unwrap();
        assert_eq!(lock.taken_over.as_ref().unwrap().pid, 999_999);
    }
}
