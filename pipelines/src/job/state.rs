//! A job's durable state: for every task, the result it made for each document (with
//! the fingerprint of what it was made from) and the documents that failed, in an
//! embedded ACID database (redb) under `<index>/jobs/<job>/state.redb`.
//!
//! Before a key's work starts, the state notes it as running (a batch of keys in one
//! transaction, the one that commits the batch before): a key still noted when a run
//! begins was being worked on when the process died, and counts as a failed attempt
//! ([`State::take_crashed`]), so a document that kills the process is quarantined like
//! one that fails.
//!
//! The state, not the output file, is the journal: a result is committed here before
//! the output is rewritten from it (atomically, by rename), so a run killed at any
//! point loses nothing that was committed and can never write a row twice. The next run
//! skips what is committed and rewrites the output.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A failure of the state database, before it is named after the database's file.
#[derive(Debug)]
struct DbError(String);

/// Any error of redb or serde_json inside the state's own methods; a caller's error
/// (from a callback) is kept as it is in [`Scan`].
impl<E: std::error::Error> From<E> for DbError {
    fn from(e: E) -> Self {
        DbError(e.to_string())
    }
}

/// What stops a scan: the database, or the caller's callback.
enum Scan {
    Db(DbError),
    Caller(Error),
}

impl<E: std::error::Error> From<E> for Scan {
    fn from(e: E) -> Self {
        Scan::Db(DbError(e.to_string()))
    }
}

/// (task, key) -> JSON [`Done`]. The key is the document's source (so results come out
/// in source order) or an answer task's question id.
const DONE: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("done");
/// (task, key) -> JSON [`Failed`].
const FAILED: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("failed");
/// (task, key) -> JSON [`Running`]: keys whose work has started and whose outcome is
/// not recorded yet.
const RUNNING: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("running");
/// Settings the state was made under (the shard), and per task the generation of its
/// results (`generation:<task>`) and the output last written (`written:<task>`).
const META: TableDefinition<&str, &str> = TableDefinition::new("meta");

/// The pseudo-task under which documents that fail to ingest are tracked.
pub const INDEX_STAGE: &str = "index";

/// A task's result for one key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Done {
    pub doc_id: String,
    /// What the result was made from (content hash and task settings): a different
    /// fingerprint means the result is stale.
    pub fingerprint: String,
    /// The output row.
    pub row: serde_json::Value,
    pub at: u64,
}

/// A key a task failed on.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Failed {
    pub doc_id: String,
    /// What failed: a new fingerprint (the document changed) starts the count again.
    pub fingerprint: String,
    pub attempts: u32,
    pub reason: String,
    /// Attempts reached the job's limit: not tried again until the document changes.
    pub quarantined: bool,
    /// How many of the attempts ended with the process dead (the key was noted
    /// running when a run began).
    #[serde(default)]
    pub crashes: u32,
    pub at: u64,
}

/// A key noted as running: its document, and what it was working on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Running {
    pub doc_id: String,
    pub fingerprint: String,
}

/// A key to note as running.
#[derive(Debug, Clone)]
pub struct Mark {
    pub key: String,
    pub doc_id: String,
    pub fingerprint: String,
}

/// Why a key that was running when the process died failed.
pub fn crash_reason(crashes: u32) -> String {
    match crashes {
        1 => "crashed the process 1 time".to_owned(),
        n => format!("crashed the process {n} times"),
    }
}

/// The output file a task last wrote, as the state remembers it: from which generation
/// of the task's results, and the hash of its bytes, so that a file left short by a
/// killed run, or changed since, is told from the current one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Written {
    pub generation: u64,
    pub path: PathBuf,
    /// blake3 hex digest of the file's bytes.
    pub hash: String,
}

/// A failure to record: the key, its document, what failed (fingerprint) and why.
#[derive(Debug, Clone)]
pub struct NewFailure {
    pub key: String,
    pub doc_id: String,
    pub fingerprint: String,
    pub reason: String,
}

/// The state database of one job.
#[derive(Debug)]
pub struct State {
    db: Database,
    path: PathBuf,
}

fn now() -> u64 {
    docket_index::catalog::unix_now()
}

impl State {
    pub fn open(dir: &Path) -> Result<State> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let path = dir.join("state.redb");
        let create = || -> Result<Database, DbError> {
            let db = Database::create(&path)?;
            let tx = db.begin_write()?;
            tx.open_table(DONE)?;
            tx.open_table(FAILED)?;
            tx.open_table(RUNNING)?;
            tx.open_table(META)?;
            tx.commit()?;
            Ok(db)
        };
        let db = create().map_err(|e| Error::state(&path, e.0))?;
        Ok(State { db, path })
    }

    /// Name a database failure after the database.
    fn named<T>(&self, r: Result<T, DbError>) -> Result<T> {
        r.map_err(|e| Error::state(&self.path, e.0))
    }

    /// The generation of a task's results: it goes up in the transaction of every
    /// change to them, so an output made from an older generation is stale.
    pub fn generation(&self, task: &str) -> Result<u64> {
        Ok(self
            .meta(&format!("generation:{task}"))?
            .and_then(|g| g.parse().ok())
            .unwrap_or(0))
    }

    /// The output the task last wrote, if it is recorded.
    pub fn written(&self, task: &str) -> Result<Option<Written>> {
        Ok(self
            .meta(&format!("written:{task}"))?
            .and_then(|w| serde_json::from_str(&w).ok()))
    }

    /// Record the output the task has just written (after its rename).
    pub fn set_written(&self, task: &str, written: &Written) -> Result<()> {
        let json = serde_json::to_string(written).map_err(|e| Error::state(&self.path, e))?;
        self.set_meta(&format!("written:{task}"), &json)
    }

    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        self.named((|| {
            let tx = self.db.begin_read()?;
            let table = tx.open_table(META)?;
            Ok(table.get(key)?.map(|v| v.value().to_owned()))
        })())
    }

    pub fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.named((|| {
            let tx = self.db.begin_write()?;
            tx.open_table(META)?.insert(key, value)?;
            tx.commit()?;
            Ok(())
        })())
    }

    /// Fingerprints of a task's results, by key.
    pub fn fingerprints(&self, task: &str) -> Result<HashMap<String, String>> {
        let mut out = HashMap::new();
        self.scan(DONE, task, |key, done: Done| {
            out.insert(key.to_owned(), done.fingerprint);
            Ok(())
        })?;
        Ok(out)
    }

    /// A task's failures, by key.
    pub fn failures(&self, task: &str) -> Result<HashMap<String, Failed>> {
        let mut out = HashMap::new();
        self.scan(FAILED, task, |key, f: Failed| {
            out.insert(key.to_owned(), f);
            Ok(())
        })?;
        Ok(out)
    }

    /// Every result of a task in key order, without holding them all in memory.
    pub fn for_each_done(
        &self,
        task: &str,
        each: impl FnMut(&str, Done) -> Result<()>,
    ) -> Result<()> {
        self.scan(DONE, task, each)
    }

    /// One result.
    pub fn done(&self, task: &str, key: &str) -> Result<Option<Done>> {
        self.named((|| {
            let tx = self.db.begin_read()?;
            let table = tx.open_table(DONE)?;
            match table.get((task, key))? {
                Some(v) => Ok(Some(serde_json::from_slice(v.value())?)),
                None => Ok(None),
            }
        })())
    }

    fn scan<T: serde::de::DeserializeOwned>(
        &self,
        def: TableDefinition<(&str, &str), &[u8]>,
        task: &str,
        mut each: impl FnMut(&str, T) -> Result<()>,
    ) -> Result<()> {
        let result = (|| -> Result<(), Scan> {
            let tx = self.db.begin_read()?;
            let table = tx.open_table(def)?;
            for item in table.range((task, "")..)? {
                let (k, v) = item?;
                let (t, key) = k.value();
                if t != task {
                    break;
                }
                each(key, serde_json::from_slice(v.value())?).map_err(Scan::Caller)?;
            }
            Ok(())
        })();
        match result {
            Ok(()) => Ok(()),
            Err(Scan::Db(e)) => Err(Error::state(&self.path, e.0)),
            Err(Scan::Caller(e)) => Err(e),
        }
    }

    /// Commit results and failures of one batch in one durable transaction: a result
    /// clears the key's failure; a failure counts one more attempt (from zero when the
    /// fingerprint changed) and quarantines the key at `max_attempts`.
    pub fn record(
        &self,
        task: &str,
        done: Vec<(String, Done)>,
        failed: Vec<NewFailure>,
        max_attempts: u32,
    ) -> Result<Vec<Failed>> {
        self.named(self.record_tx(task, done, failed, max_attempts, None))
    }

    /// [`State::record`] a batch, and in the same transaction note `next` as the keys
    /// now running (in place of the batch's): the next batch costs no commit of its
    /// own.
    pub fn record_then_mark(
        &self,
        task: &str,
        done: Vec<(String, Done)>,
        failed: Vec<NewFailure>,
        max_attempts: u32,
        next: &[Mark],
    ) -> Result<Vec<Failed>> {
        self.named(self.record_tx(task, done, failed, max_attempts, Some(next)))
    }

    /// Note `marks` as the task's running keys, in place of those noted before (none:
    /// nothing is running), in one durable transaction.
    pub fn mark(&self, task: &str, marks: &[Mark]) -> Result<()> {
        self.named((|| {
            let tx = self.db.begin_write()?;
            set_running(&tx, task, marks)?;
            tx.commit()?;
            Ok(())
        })())
    }

    /// The keys a run that died left noted as running: each counts one more failed
    /// attempt (a crash), quarantined at `max_attempts` like any failure, and is no
    /// longer running. Returns them with their keys; nothing is written when there
    /// are none.
    pub fn take_crashed(&self, task: &str, max_attempts: u32) -> Result<Vec<(String, Failed)>> {
        let mut running = Vec::new();
        self.scan(RUNNING, task, |key, r: Running| {
            running.push((key.to_owned(), r));
            Ok(())
        })?;
        if running.is_empty() {
            return Ok(Vec::new());
        }
        self.named((|| {
            let tx = self.db.begin_write()?;
            let mut out = Vec::new();
            {
                let mut failed_t = tx.open_table(FAILED)?;
                for (key, r) in running {
                    let before: Option<Failed> = match failed_t.get((task, key.as_str()))? {
                        Some(v) => Some(serde_json::from_slice(v.value())?),
                        None => None,
                    };
                    let (attempts, crashes) = match before {
                        Some(f) if f.fingerprint == r.fingerprint => {
                            (f.attempts + 1, f.crashes + 1)
                        }
                        _ => (1, 1),
                    };
                    let f = Failed {
                        doc_id: r.doc_id,
                        fingerprint: r.fingerprint,
                        attempts,
                        reason: crash_reason(crashes),
                        quarantined: attempts >= max_attempts,
                        crashes,
                        at: now(),
                    };
                    failed_t.insert((task, key.as_str()), serde_json::to_vec(&f)?.as_slice())?;
                    out.push((key, f));
                }
            }
            set_running(&tx, task, &[])?;
            tx.commit()?;
            Ok(out)
        })())
    }

    fn record_tx(
        &self,
        task: &str,
        done: Vec<(String, Done)>,
        failed: Vec<NewFailure>,
        max_attempts: u32,
        next: Option<&[Mark]>,
    ) -> Result<Vec<Failed>, DbError> {
        let tx = self.db.begin_write()?;
        if let Some(next) = next {
            set_running(&tx, task, next)?;
        }
        let mut recorded = Vec::new();
        {
            let mut done_t = tx.open_table(DONE)?;
            let mut failed_t = tx.open_table(FAILED)?;
            if !done.is_empty() {
                bump_generation(&tx, task)?;
            }
            for (key, d) in done {
                done_t.insert((task, key.as_str()), serde_json::to_vec(&d)?.as_slice())?;
                failed_t.remove((task, key.as_str()))?;
            }
            for NewFailure {
                key,
                doc_id,
                fingerprint,
                reason,
            } in failed
            {
                let before: Option<Failed> = match failed_t.get((task, key.as_str()))? {
                    Some(v) => Some(serde_json::from_slice(v.value())?),
                    None => None,
                };
                let (attempts, crashes) = match before {
                    Some(f) if f.fingerprint == fingerprint => (f.attempts + 1, f.crashes),
                    _ => (1, 0),
                };
                let f = Failed {
                    doc_id,
                    fingerprint,
                    attempts,
                    reason,
                    quarantined: attempts >= max_attempts,
                    crashes,
                    at: now(),
                };
                failed_t.insert((task, key.as_str()), serde_json::to_vec(&f)?.as_slice())?;
                recorded.push(f);
            }
        }
        tx.commit()?;
        Ok(recorded)
    }

    /// Forget a task's results and failures whose key is not in `keep` (documents gone
    /// from the index or from the task's filter). Returns how many results went.
    pub fn retain(&self, task: &str, keep: &HashSet<String>) -> Result<usize> {
        let mut gone_done = Vec::new();
        self.scan(DONE, task, |key, _: serde_json::Value| {
            if !keep.contains(key) {
                gone_done.push(key.to_owned());
            }
            Ok(())
        })?;
        let mut gone_failed = Vec::new();
        self.scan(FAILED, task, |key, _: serde_json::Value| {
            if !keep.contains(key) {
                gone_failed.push(key.to_owned());
            }
            Ok(())
        })?;
        if gone_done.is_empty() && gone_failed.is_empty() {
            return Ok(0);
        }
        self.named(self.remove(task, &gone_done, &gone_failed))?;
        Ok(gone_done.len())
    }

    /// Remove results and failures of a task in one transaction.
    fn remove(&self, task: &str, done: &[String], failed: &[String]) -> Result<(), DbError> {
        let tx = self.db.begin_write()?;
        if !done.is_empty() {
            bump_generation(&tx, task)?;
        }
        {
            let mut done_t = tx.open_table(DONE)?;
            for key in done {
                done_t.remove((task, key.as_str()))?;
            }
            let mut failed_t = tx.open_table(FAILED)?;
            for key in failed {
                failed_t.remove((task, key.as_str()))?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Drop everything the state holds about these documents, in every task: their
    /// results, failures and running notes, and any result whose row names one of them
    /// (an answer citing it). A task whose results changed gets a new generation, so its
    /// output is rewritten by the next run, and an answer dropped is asked again there.
    /// Returns how many results went. Call [`State::compact`] after, so that the rows'
    /// bytes leave the file too.
    pub fn forget_documents(&self, doc_ids: &HashSet<String>) -> Result<usize> {
        if doc_ids.is_empty() {
            return Ok(0);
        }
        self.named((|| {
            let tx = self.db.begin_write()?;
            let mut removed = 0;
            let mut tasks = HashSet::new();
            {
                let mut done_t = tx.open_table(DONE)?;
                let mut gone = Vec::new();
                for item in done_t.iter()? {
                    let (k, v) = item?;
                    let (task, key) = k.value();
                    let d: Done = serde_json::from_slice(v.value())?;
                    let row = d.row.to_string();
                    if doc_ids.contains(&d.doc_id) || doc_ids.iter().any(|id| row.contains(id)) {
                        gone.push((task.to_owned(), key.to_owned()));
                    }
                }
                for (task, key) in &gone {
                    done_t.remove((task.as_str(), key.as_str()))?;
                    tasks.insert(task.clone());
                }
                removed += gone.len();
                for def in [FAILED, RUNNING] {
                    let mut table = tx.open_table(def)?;
                    let mut gone = Vec::new();
                    for item in table.iter()? {
                        let (k, v) = item?;
                        let (task, key) = k.value();
                        let doc: serde_json::Value = serde_json::from_slice(v.value())?;
                        if doc["doc_id"]
                            .as_str()
                            .is_some_and(|id| doc_ids.contains(id))
                        {
                            gone.push((task.to_owned(), key.to_owned()));
                        }
                    }
                    for (task, key) in &gone {
                        table.remove((task.as_str(), key.as_str()))?;
                    }
                }
            }
            for task in &tasks {
                bump_generation(&tx, task)?;
            }
            tx.commit()?;
            Ok(removed)
        })())
    }

    /// Rewrite the database file without its free pages: redb reuses the pages of
    /// removed entries but does not clear them, so a forgotten document's rows would
    /// stay readable in the file.
    pub fn compact(&mut self) -> Result<()> {
        // Passes until nothing moves (bounded; each moves pages towards the start).
        for _ in 0..8 {
            let shrunk = self
                .db
                .compact()
                .map_err(|e| Error::state(&self.path, format!("compact: {e}")))?;
            if !shrunk {
                break;
            }
        }
        Ok(())
    }

    /// Drop every failure record of a task (`--force` gives quarantined documents a new
    /// chance).
    pub fn clear_failures(&self, task: &str) -> Result<()> {
        self.retain_failures(task, &HashSet::new())
    }

    fn retain_failures(&self, task: &str, keep: &HashSet<String>) -> Result<()> {
        let mut gone = Vec::new();
        self.scan(FAILED, task, |key, _: serde_json::Value| {
            if !keep.contains(key) {
                gone.push(key.to_owned());
            }
            Ok(())
        })?;
        self.named(self.remove(task, &[], &gone))
    }
}

/// Make `marks` the task's running keys, inside a transaction.
fn set_running(tx: &redb::WriteTransaction, task: &str, marks: &[Mark]) -> Result<(), DbError> {
    let mut running = tx.open_table(RUNNING)?;
    let mut gone = Vec::new();
    for item in running.range((task, "")..)? {
        let (k, _) = item?;
        let (t, key) = k.value();
        if t != task {
            break;
        }
        gone.push(key.to_owned());
    }
    for key in &gone {
        running.remove((task, key.as_str()))?;
    }
    for m in marks {
        let r = Running {
            doc_id: m.doc_id.clone(),
            fingerprint: m.fingerprint.clone(),
        };
        running.insert((task, m.key.as_str()), serde_json::to_vec(&r)?.as_slice())?;
    }
    Ok(())
}

/// Count one more generation of a task's results, inside the transaction that changes
/// them.
fn bump_generation(tx: &redb::WriteTransaction, task: &str) -> Result<(), DbError> {
    let key = format!("generation:{task}");
    let mut meta = tx.open_table(META)?;
    let now: u64 = meta
        .get(key.as_str())?
        .and_then(|v| v.value().parse().ok())
        .unwrap_or(0);
    meta.insert(key.as_str(), (now + 1).to_string().as_str())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn done(fp: &str) -> Done {
        Done {
            doc_id: "d".into(),
            fingerprint: fp.into(),
            row: serde_json::json!({"label": "x"}),
            at: 0,
        }
    }

    fn fail(key: &str, fp: &str) -> NewFailure {
        NewFailure {
            key: key.into(),
            doc_id: "d".into(),
            fingerprint: fp.into(),
            reason: "boom".into(),
        }
    }

    #[test]
    fn forgetting_a_document_drops_its_rows_and_rows_citing_it_from_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = State::open(dir.path()).unwrap();
        let row = |doc: &str, text: &str| Done {
            doc_id: doc.into(),
            fingerprint: "f".into(),
            row: serde_json::json!({"summary": text, "citations": [{"doc_id": doc}]}),
            at: 0,
        };
        s.record(
            "sum",
            vec![
                ("a.md".into(), row("aaaa", "Xylophonic walrus ledger.")),
                ("b.md".into(), row("bbbb", "Plain text.")),
            ],
            vec![NewFailure {
                key: "c.md".into(),
                doc_id: "aaaa".into(),
                fingerprint: "f".into(),
                reason: "boom".into(),
            }],
            3,
        )
        .unwrap();
        // An answer (keyed by question) citing the document.
        s.record("ask", vec![("q1".into(), row("", "see aaaa-0"))], vec![], 3)
            .unwrap();
        let before = (s.generation("sum").unwrap(), s.generation("ask").unwrap());
        let holds = || {
            let bytes = std::fs::read(dir.path().join("state.redb")).unwrap();
            bytes.windows(9).any(|w| w == b"Xylophoni")
        };
        assert!(holds());
        let ids = HashSet::from(["aaaa".to_owned()]);
        assert_eq!(s.forget_documents(&ids).unwrap(), 2);
        s.compact().unwrap();
        assert!(!holds());
        assert_eq!(s.fingerprints("sum").unwrap().len(), 1);
        assert!(s.fingerprints("ask").unwrap().is_empty());
        assert!(s.failures("sum").unwrap().is_empty());
        assert!(s.generation("sum").unwrap() > before.0);
        assert!(s.generation("ask").unwrap() > before.1);
    }

    #[test]
    fn results_and_failures_are_kept_per_task_in_key_order_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = State::open(dir.path()).unwrap();
            s.record(
                "t",
                vec![("b.md".into(), done("1")), ("a.md".into(), done("2"))],
                vec![],
                3,
            )
            .unwrap();
            s.record("u", vec![("c.md".into(), done("3"))], vec![], 3)
                .unwrap();
        }
        let s = State::open(dir.path()).unwrap();
        let mut keys = Vec::new();
        s.for_each_done("t", |k, _| {
            keys.push(k.to_owned());
            Ok(())
        })
        .unwrap();
        assert_eq!(keys, ["a.md", "b.md"]);
        assert_eq!(s.fingerprints("u").unwrap().len(), 1);
        assert!(s.fingerprints("v").unwrap().is_empty());
    }

    #[test]
    fn failures_count_attempts_quarantine_at_the_limit_and_restart_on_change() {
        let dir = tempfile::tempdir().unwrap();
        let s = State::open(dir.path()).unwrap();
        for attempt in 1..=3 {
            let f = s.record("t", vec![], vec![fail("x", "h1")], 3).unwrap();
            assert_eq!(f[0].attempts, attempt);
            assert_eq!(f[0].quarantined, attempt == 3);
        }
        // The document changed: a fresh count.
        let f = s.record("t", vec![], vec![fail("x", "h2")], 3).unwrap();
        assert_eq!((f[0].attempts, f[0].quarantined), (1, false));
        // Success clears it.
        s.record("t", vec![("x".into(), done("h2"))], vec![], 3)
            .unwrap();
        assert!(s.failures("t").unwrap().is_empty());
    }

    fn mark(key: &str, fp: &str) -> Mark {
        Mark {
            key: key.into(),
            doc_id: "d".into(),
            fingerprint: fp.into(),
        }
    }

    /// Issue 13: a key noted running when a run begins was under way when the process
    /// died; each such death is an attempt, and the limit quarantines it.
    #[test]
    fn keys_left_running_count_as_crashes_and_are_quarantined_at_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let s = State::open(dir.path()).unwrap();
        assert!(s.take_crashed("t", 3).unwrap().is_empty());
        // A batch of two noted, and the process dies.
        s.mark("t", &[mark("a", "1"), mark("b", "1")]).unwrap();
        let crashed = s.take_crashed("t", 3).unwrap();
        assert_eq!(crashed.len(), 2);
        assert!(
            crashed
                .iter()
                .all(|(_, f)| f.crashes == 1 && !f.quarantined)
        );
        assert_eq!(crashed[0].1.reason, "crashed the process 1 time");
        // Taken: the next run begins with nothing running.
        assert!(s.take_crashed("t", 3).unwrap().is_empty());
        // `a` is done, and `b` noted next in the same commit; `b` dies twice more.
        s.record_then_mark(
            "t",
            vec![("a".into(), done("1"))],
            vec![],
            3,
            &[mark("b", "1")],
        )
        .unwrap();
        assert_eq!(s.failures("t").unwrap().len(), 1, "a's crash is forgotten");
        s.take_crashed("t", 3).unwrap();
        s.mark("t", &[mark("b", "1")]).unwrap();
        let crashed = s.take_crashed("t", 3).unwrap();
        let (key, f) = &crashed[0];
        assert_eq!((key.as_str(), f.attempts, f.crashes), ("b", 3, 3));
        assert!(f.quarantined);
        assert_eq!(f.reason, "crashed the process 3 times");
        // An ordinary failure keeps the crash count; a changed document starts over.
        let f = s.record("t", vec![], vec![fail("b", "1")], 5).unwrap();
        assert_eq!((f[0].attempts, f[0].crashes), (4, 3));
        s.mark("t", &[mark("b", "2")]).unwrap();
        let crashed = s.take_crashed("t", 3).unwrap();
        assert_eq!((crashed[0].1.attempts, crashed[0].1.crashes), (1, 1));
        // Notes of one task leave another's alone; an empty note clears.
        s.mark("u", &[mark("x", "1")]).unwrap();
        s.mark("t", &[]).unwrap();
        assert_eq!(s.take_crashed("u", 3).unwrap().len(), 1);
    }

    #[test]
    fn retain_forgets_keys_no_longer_wanted() {
        let dir = tempfile::tempdir().unwrap();
        let s = State::open(dir.path()).unwrap();
        s.record(
            "t",
            vec![("a".into(), done("1")), ("b".into(), done("1"))],
            vec![fail("c", "1")],
            3,
        )
        .unwrap();
        let keep: HashSet<String> = ["a".to_owned()].into();
        assert_eq!(s.retain("t", &keep).unwrap(), 1);
        assert_eq!(s.fingerprints("t").unwrap().len(), 1);
        assert!(s.failures("t").unwrap().is_empty());
    }
}
