//! Read snapshots of an index for a long-lived reader (`docket serve`) while other
//! processes keep writing it.
//!
//! The stores under an index directory are single-process: the catalog (redb) and the
//! embedded vector shard (qdrant-edge) are opened exclusively, and a second process
//! cannot read them while a writer has them open. So a long-lived reader does not open
//! the index itself: it copies the directory at a quiet moment into a private folder
//! and serves from that copy, holding no lock on the original between copies.
//!
//! The quiet moments are the writer's commits. Every writer holds [`WRITE_LOCK_FILE`]
//! for as long as it runs and bumps [`GENERATION_FILE`] after each commit. A reader
//! that wants to see commits as they happen keeps [`READER_FILE`] up to date (a
//! heartbeat holding the last generation it copied); a writer that finds a live reader
//! file after a commit lets go of the write lock until the reader has copied that
//! generation (a second or so at most), then takes it back. Without a reader, a commit
//! costs one small file write.
//!
//! ```text
//! writer:  commit → generation = G → reader file fresh? → unlock → wait for copied ≥ G → lock
//! reader:  generation > copied? → try lock → copy → copied = G → unlock
//! ```

use std::fs::{self, File, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use crate::error::{Error, Result};

/// Held by a writing process for as long as it has the index open for writing.
pub const WRITE_LOCK_FILE: &str = "write.lock";
/// The number of commits made to the index (absent: none since this was introduced).
pub const GENERATION_FILE: &str = "generation";
/// Present while a reader serves snapshots: the last generation it copied, as text.
pub const READER_FILE: &str = "reader.snapshot";

/// A reader file not rewritten for this long belongs to a reader that is gone.
pub const READER_STALE_AFTER: Duration = Duration::from_secs(5);
/// Longest a writer waits for a live reader to copy a commit before going on.
const READER_CATCH_UP: Duration = Duration::from_secs(3);
/// Longest a writer waits for the write lock (a reader's copy, typically) before it
/// reports the index as locked.
const WRITER_WAIT: Duration = Duration::from_secs(10);

/// Files that belong to a process, not to the index's contents: never copied.
const NOT_COPIED: &[&str] = &[WRITE_LOCK_FILE, READER_FILE, "docket.lock"];

/// The write lock of an index directory, taken by every writing handle.
#[derive(Debug)]
pub struct WriteLock {
    file: File,
    path: PathBuf,
    held: bool,
}

impl WriteLock {
    /// Take the write lock of the index in `dir`, waiting a few seconds for a reader's
    /// copy or another writer to finish ([`Error::IndexLocked`] past that).
    pub fn acquire(dir: &Path) -> Result<WriteLock> {
        let (file, path) = lock_file(dir)?;
        let mut lock = WriteLock {
            file,
            path,
            held: false,
        };
        if !lock.try_for(WRITER_WAIT)? {
            return Err(Error::IndexLocked {
                path: dir.to_owned(),
            });
        }
        Ok(lock)
    }

    fn try_for(&mut self, wait: Duration) -> Result<bool> {
        let until = Instant::now() + wait;
        loop {
            match self.file.try_lock() {
                Ok(()) => {
                    self.held = true;
                    return Ok(true);
                }
                Err(TryLockError::WouldBlock) if Instant::now() < until => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(TryLockError::WouldBlock) => return Ok(false),
                Err(TryLockError::Error(e)) => return Err(Error::io(&self.path, e)),
            }
        }
    }

    /// After a commit that made `generation`: if a live reader wants snapshots, let it
    /// copy this generation, then take the lock back.
    pub(crate) fn yield_to_reader(&mut self, dir: &Path, generation: u64) -> Result<()> {
        if !reader_is_live(dir) {
            return Ok(());
        }
        self.file.unlock().map_err(|e| Error::io(&self.path, e))?;
        self.held = false;
        let until = Instant::now() + READER_CATCH_UP;
        while Instant::now() < until && reader_copied(dir).is_some_and(|g| g < generation) {
            std::thread::sleep(Duration::from_millis(10));
        }
        // The reader may be in the middle of its copy: wait for it to end.
        self.file.lock().map_err(|e| Error::io(&self.path, e))?;
        self.held = true;
        Ok(())
    }
}

impl Drop for WriteLock {
    fn drop(&mut self) {
        if self.held {
            let _ = self.file.unlock();
        }
    }
}

/// The write lock's file, opened (created if needed) but not locked.
fn lock_file(dir: &Path) -> Result<(File, PathBuf)> {
    let path = dir.join(WRITE_LOCK_FILE);
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::io(&path, e))?;
    Ok((file, path))
}

/// The generation of the index in `dir`: how many commits it has seen (0 if none was
/// recorded).
pub fn generation(dir: &Path) -> u64 {
    fs::read_to_string(dir.join(GENERATION_FILE))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// Record one more commit; returns the new generation.
pub(crate) fn bump_generation(dir: &Path) -> Result<u64> {
    let next = generation(dir) + 1;
    write_small(&dir.join(GENERATION_FILE), &next.to_string())?;
    Ok(next)
}

/// Write a small file by a rename, so a reader never sees it half written.
fn write_small(path: &Path, text: &str) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    f.write_all(text.as_bytes())
        .map_err(|e| Error::io(&tmp, e))?;
    drop(f);
    fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

fn reader_is_live(dir: &Path) -> bool {
    let Ok(meta) = fs::metadata(dir.join(READER_FILE)) else {
        return false;
    };
    meta.modified()
        .ok()
        .and_then(|m| SystemTime::now().duration_since(m).ok())
        .is_some_and(|age| age < READER_STALE_AFTER)
}

fn reader_copied(dir: &Path) -> Option<u64> {
    fs::read_to_string(dir.join(READER_FILE))
        .ok()
        .and_then(|s| s.trim().parse().ok())
}

/// The reader's side: announces itself in the index directory and copies the index
/// into private folders whenever its generation moves.
#[derive(Debug)]
pub struct SnapshotSource {
    dir: PathBuf,
    copied: Option<u64>,
    lock: File,
}

impl SnapshotSource {
    /// Read snapshots of the index in `dir`. The reader file is written at once, so
    /// writers start letting this reader in at their commits.
    pub fn new(dir: &Path) -> Result<SnapshotSource> {
        if !dir.join(crate::index::CATALOG_FILE).exists() {
            return Err(Error::NotAnIndex {
                path: dir.to_owned(),
            });
        }
        let (lock, _) = lock_file(dir)?;
        let source = SnapshotSource {
            dir: dir.to_owned(),
            copied: None,
            lock,
        };
        source.heartbeat()?;
        Ok(source)
    }

    /// The index directory snapshots are taken of.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Tell writers this reader is alive (call more often than
    /// [`READER_STALE_AFTER`]).
    pub fn heartbeat(&self) -> Result<()> {
        write_small(
            &self.dir.join(READER_FILE),
            &self.copied.unwrap_or(0).to_string(),
        )
    }

    /// Whether the index has changed since the last snapshot (or none was taken).
    pub fn is_stale(&self) -> bool {
        self.copied != Some(generation(&self.dir))
    }

    /// Copy the index into `dest` (which must not exist) if no writer is in the middle
    /// of a batch; `Ok(None)` when one is (try again shortly: writers let readers in
    /// after each commit). Returns the generation copied.
    pub fn try_copy(&mut self, dest: &Path) -> Result<Option<u64>> {
        match self.lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Ok(None),
            Err(TryLockError::Error(e)) => return Err(Error::io(&self.dir, e)),
        }
        let generation = generation(&self.dir);
        let copied = copy_tree(&self.dir, dest);
        let _ = self.lock.unlock();
        copied?;
        self.copied = Some(generation);
        self.heartbeat()?;
        Ok(Some(generation))
    }
}

impl Drop for SnapshotSource {
    fn drop(&mut self) {
        let _ = fs::remove_file(self.dir.join(READER_FILE));
    }
}

/// Copy the index directory `src` to `dest`. The BM25 index's files are hard-linked
/// where the file system allows (tantivy never rewrites a file in place: segments are
/// immutable and its metadata is replaced by a rename); every other store is copied.
fn copy_tree(src: &Path, dest: &Path) -> Result<()> {
    copy_dir(src, dest, false)
}

fn copy_dir(src: &Path, dest: &Path, link: bool) -> Result<()> {
    fs::create_dir_all(dest).map_err(|e| Error::io(dest, e))?;
    for entry in fs::read_dir(src).map_err(|e| Error::io(src, e))? {
        let entry = entry.map_err(|e| Error::io(src, e))?;
        let name = entry.file_name();
        if NOT_COPIED.iter().any(|n| name == *n) {
            continue;
        }
        let from = entry.path();
        let to = dest.join(&name);
        let kind = entry.file_type().map_err(|e| Error::io(&from, e))?;
        if kind.is_dir() {
            let link = link || name == crate::index::LEXICAL_DIR;
            copy_dir(&from, &to, link)?;
        } else if kind.is_file() {
            // tantivy's lock files belong to its writer.
            if link && name.to_string_lossy().ends_with(".lock") {
                continue;
            }
            if !(link && fs::hard_link(&from, &to).is_ok()) {
                fs::copy(&from, &to).map_err(|e| Error::io(&from, e))?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(crate::index::CATALOG_FILE), b"catalog").unwrap();
        fs::create_dir(dir.path().join(crate::index::LEXICAL_DIR)).unwrap();
        fs::write(dir.path().join("bm25/meta.json"), b"{}").unwrap();
        dir
    }

    #[test]
    fn a_reader_copies_when_no_writer_holds_the_lock_and_skips_while_one_does() {
        let dir = index_dir();
        let mut reader = SnapshotSource::new(dir.path()).unwrap();
        assert!(reader.is_stale());
        let out = tempfile::tempdir().unwrap();
        let lock = WriteLock::acquire(dir.path()).unwrap();
        assert_eq!(reader.try_copy(&out.path().join("a")).unwrap(), None);
        drop(lock);
        assert_eq!(reader.try_copy(&out.path().join("a")).unwrap(), Some(0));
        assert!(!reader.is_stale());
        assert_eq!(
            fs::read(out.path().join("a/bm25/meta.json")).unwrap(),
            b"{}"
        );
        // Locks and the reader's own file are not part of a copy.
        assert!(!out.path().join("a").join(READER_FILE).exists());
        assert!(!out.path().join("a").join(WRITE_LOCK_FILE).exists());
        bump_generation(dir.path()).unwrap();
        assert!(reader.is_stale());
    }

    #[test]
    fn a_writer_lets_a_live_reader_copy_each_commit() {
        let dir = index_dir();
        let path = dir.path().to_owned();
        let mut lock = WriteLock::acquire(&path).unwrap();
        let mut reader = SnapshotSource::new(&path).unwrap();
        let generation = bump_generation(&path).unwrap();
        let out = tempfile::tempdir().unwrap();
        let dest = out.path().join("snap");
        let copier = std::thread::spawn(move || {
            let until = Instant::now() + Duration::from_secs(10);
            while Instant::now() < until {
                if let Some(g) = reader.try_copy(&dest).unwrap() {
                    return g;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            panic!("the writer never let the reader in");
        });
        lock.yield_to_reader(&path, generation).unwrap();
        assert_eq!(copier.join().unwrap(), generation);
        assert!(lock.held);
    }

    #[test]
    fn without_a_live_reader_a_commit_does_not_wait() {
        let dir = index_dir();
        let mut lock = WriteLock::acquire(dir.path()).unwrap();
        let started = Instant::now();
        lock.yield_to_reader(dir.path(), 1).unwrap();
        assert!(started.elapsed() < READER_CATCH_UP);
        // A reader file left by a reader that died long ago is ignored.
        fs::write(dir.path().join(READER_FILE), "0").unwrap();
        let old = SystemTime::now() - Duration::from_secs(60);
        File::options()
            .write(true)
            .open(dir.path().join(READER_FILE))
            .unwrap()
            .set_modified(old)
            .unwrap();
        assert!(!reader_is_live(dir.path()));
    }
}
