//! The index as the server reads it: a private copy, refreshed after each commit of the
//! writers (see [`docket_index::snapshot`] for why a copy and how writers let it in).
//!
//! Requests take the current [`Snapshot`] (an `Arc`) and keep it for as long as they
//! run; a refresh opens the next copy and swaps it in, and the old copy is deleted when
//! its last request ends. So no request ever waits for a writer, and no lock on the
//! index is held across requests.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use docket_index::Index;
use docket_index::embed::Embedder;
use docket_index::snapshot::SnapshotSource;

use crate::error::{Error, Result};
use crate::report::{Level, Reporter};

/// How often the refresher looks at the index's generation. A writer waits up to a few
/// seconds for the copy after a commit, so this is well under that.
const POLL: Duration = Duration::from_millis(100);
/// How often the reader tells writers it is alive.
const HEARTBEAT: Duration = Duration::from_secs(1);

/// One copy of the index, open for searching. Deleted from disk when dropped.
#[derive(Debug)]
pub struct Snapshot {
    /// Always `Some` until dropped: the index is closed before its folder is removed
    /// (the embedded vector store flushes when closed).
    index: Option<Index>,
    generation: u64,
    taken_at: Instant,
    dir: PathBuf,
}

impl Snapshot {
    pub fn index(&self) -> &Index {
        self.index.as_ref().expect("open until dropped")
    }

    /// The index's commit count when this copy was taken.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// How long ago the copy was taken.
    pub fn age(&self) -> Duration {
        self.taken_at.elapsed()
    }
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        drop(self.index.take());
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The current snapshot and the thread that refreshes it.
#[derive(Debug)]
pub struct Replica {
    shared: Arc<Shared>,
    refresher: Option<JoinHandle<()>>,
}

#[derive(Debug)]
struct Shared {
    current: RwLock<Option<Arc<Snapshot>>>,
    stop: AtomicBool,
    source_dir: PathBuf,
}

impl Replica {
    /// Copy the index in `dir` into `work` (a private folder that must be empty or
    /// absent) and keep the copy fresh until dropped. The first copy is taken before
    /// this returns, waiting up to `first_wait` for a writer's commit.
    pub fn start(
        dir: &Path,
        work: &Path,
        embedder: Option<Arc<dyn Embedder>>,
        first_wait: Duration,
        reporter: Arc<dyn Reporter>,
    ) -> Result<Replica> {
        let mut source = SnapshotSource::new(dir)?;
        std::fs::create_dir_all(work).map_err(|e| Error::io(work, e))?;
        let shared = Arc::new(Shared {
            current: RwLock::new(None),
            stop: AtomicBool::new(false),
            source_dir: dir.to_owned(),
        });
        let mut next = 0u64;
        let until = Instant::now() + first_wait;
        loop {
            match refresh(&mut source, work, &mut next, embedder.as_ref())? {
                Some(s) => {
                    *shared.current.write().unwrap_or_else(|e| e.into_inner()) = Some(s);
                    break;
                }
                None if Instant::now() < until => std::thread::sleep(POLL),
                None => {
                    return Err(Error::Index(docket_index::Error::IndexLocked {
                        path: dir.to_owned(),
                    }));
                }
            }
        }
        let thread_shared = Arc::clone(&shared);
        let work = work.to_owned();
        let refresher = std::thread::Builder::new()
            .name("docket-replica".into())
            .spawn(move || {
                let mut beat = Instant::now();
                while !thread_shared.stop.load(Ordering::Relaxed) {
                    std::thread::sleep(POLL);
                    if beat.elapsed() >= HEARTBEAT {
                        let _ = source.heartbeat();
                        beat = Instant::now();
                    }
                    if !source.is_stale() {
                        continue;
                    }
                    // A panic in a store while opening or closing a copy must not end
                    // the refreshing: it is reported like an error.
                    let refreshed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        let fresh = refresh(&mut source, &work, &mut next, embedder.as_ref())?;
                        if let Some(s) = &fresh {
                            let old = thread_shared
                                .current
                                .write()
                                .unwrap_or_else(|e| e.into_inner())
                                .replace(Arc::clone(s));
                            // The old copy is closed here, or by its last request.
                            drop(old);
                        }
                        Ok::<_, Error>(fresh)
                    }))
                    .unwrap_or_else(|_| {
                        Err(Error::Unavailable(
                            "a panic while refreshing the index copy".into(),
                        ))
                    });
                    match refreshed {
                        Ok(Some(s)) => {
                            reporter.log(
                                Level::Info,
                                &format!("serving index generation {}", s.generation),
                            );
                        }
                        Ok(None) => {}
                        Err(e) => {
                            reporter.log(
                                Level::Warning,
                                &format!("cannot refresh the index copy: {e}"),
                            );
                            // Do not spin on a persistent failure.
                            std::thread::sleep(HEARTBEAT);
                        }
                    }
                }
            })
            .map_err(|e| Error::io(dir, e))?;
        Ok(Replica {
            shared,
            refresher: Some(refresher),
        })
    }

    /// The snapshot to answer a request from.
    pub fn current(&self) -> Arc<Snapshot> {
        let guard = self
            .shared
            .current
            .read()
            .unwrap_or_else(|e| e.into_inner());
        Arc::clone(
            guard
                .as_ref()
                .expect("the first snapshot is taken in start"),
        )
    }

    /// The index directory being served.
    pub fn source_dir(&self) -> &Path {
        &self.shared.source_dir
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.refresher.take() {
            let _ = t.join();
        }
    }
}

/// Take and open a new copy if no writer is mid-batch.
fn refresh(
    source: &mut SnapshotSource,
    work: &Path,
    next: &mut u64,
    embedder: Option<&Arc<dyn Embedder>>,
) -> Result<Option<Arc<Snapshot>>> {
    let dir = work.join(format!("snapshot-{next}"));
    *next += 1;
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    }
    let Some(generation) = source.try_copy(&dir)? else {
        let _ = std::fs::remove_dir_all(&dir);
        return Ok(None);
    };
    let index = match Index::open(&dir, embedder.cloned()) {
        Ok(i) => i,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(e.into());
        }
    };
    Ok(Some(Arc::new(Snapshot {
        index: Some(index),
        generation,
        taken_at: Instant::now(),
        dir,
    })))
}
