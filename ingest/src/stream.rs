//! One ordered, parallel stream of the documents under a walk, for every consumer
//! (`docket ingest`, the index sync, the generation commands).
//!
//! Files are read, hashed, parsed and processed (e.g. chunked) on all cores, and the
//! results are handed to the caller on its own thread in walk order, with only a bounded
//! window of finished files in memory ([`for_each_ordered`]). Records files (CSV, TSV,
//! JSON Lines) are one document per row and are streamed row by row on the caller's
//! thread, so a file of a million rows never sits in memory; to the caller, a row looks
//! like a single-document file's document.
//!
//! The API is one function, [`stream`], taking the options and three closures, rather
//! than an iterator or a builder with generic hooks: the work runs on scoped threads that
//! must finish before the function returns, so the consumer is a callback (`emit`) and
//! the per-document steps are closures the workers share (`decide`, `process`). Each
//! closure has one job, so a caller that needs none of them passes trivial ones
//! ([`parse_all`]).

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use crate::document::{Document, Format, document_id};
use crate::error::{DocError, Error};
use crate::pipeline::{Ingestor, panic_message};
use crate::source::SourceFile;

/// Apply `work` to every item on `workers` threads and pass each item with its result
/// to `emit`, in the order of `items`. Workers never run more than `4 * workers` items
/// ahead of the next result to emit, so a slow item does not let finished results pile
/// up. An error from `emit` stops the workers and is returned.
pub fn for_each_ordered<T, R, E>(
    items: &[T],
    workers: usize,
    work: impl Fn(&T) -> R + Sync,
    mut emit: impl FnMut(&T, R) -> Result<(), E>,
) -> Result<(), E>
where
    T: Sync,
    R: Send,
{
    let workers = workers.clamp(1, items.len().max(1));
    let window = workers * 4;
    let next = AtomicUsize::new(0);
    let emitted = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let (tx, rx) = mpsc::sync_channel::<(usize, R)>(window);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let tx = tx.clone();
            let (next, emitted, stop, work) = (&next, &emitted, &stop, &work);
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= items.len() {
                        break;
                    }
                    while i >= emitted.load(Ordering::SeqCst) + window {
                        if stop.load(Ordering::SeqCst) {
                            return;
                        }
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    if stop.load(Ordering::SeqCst) || tx.send((i, work(&items[i]))).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        let mut pending = BTreeMap::new();
        let mut want = 0;
        for (i, r) in rx.iter() {
            pending.insert(i, r);
            while let Some(r) = pending.remove(&want) {
                if let Err(e) = emit(&items[want], r) {
                    stop.store(true, Ordering::SeqCst);
                    return Err(e);
                }
                want += 1;
                emitted.store(want, Ordering::SeqCst);
            }
        }
        Ok(())
    })
}

/// How a [`stream`] runs.
#[derive(Default)]
pub struct StreamOptions<'a> {
    /// Worker threads; 0 means one per core.
    pub workers: usize,
    /// Set (e.g. by a signal) to stop between files (and between rows of a records
    /// file); the stream then returns [`Ended::Stopped`].
    pub stop: Option<&'a AtomicBool>,
    /// Files not to read at all (e.g. quarantined): they yield [`Item::Skipped`]. Called
    /// once per file on the caller's thread before any work starts, so it need not be
    /// `Sync`.
    pub skip: Option<&'a dyn Fn(&SourceFile) -> bool>,
    /// Only documents whose id this accepts are handed on (e.g. one shard's); the others
    /// are dropped silently. A single-document file is judged by its id before it is read.
    pub keep_id: Option<&'a (dyn Fn(&str) -> bool + Sync)>,
    /// Called with a file's position in `files` just before its work (parse, then
    /// `process`) starts: on a worker once `decide` said to parse a single-document
    /// file, on the caller's thread before the rows of a records file are read. It may
    /// block (e.g. until the caller has durably noted that the work is under way).
    pub before_work: Option<&'a (dyn Fn(usize) + Sync)>,
}

impl std::fmt::Debug for StreamOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamOptions")
            .field("workers", &self.workers)
            .field("stop", &self.stop)
            .field("skip", &self.skip.is_some())
            .field("keep_id", &self.keep_id.is_some())
            .field("before_work", &self.before_work.is_some())
            .finish()
    }
}

/// The caller's verdict on a document it has seen the id and content hash of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision<K> {
    /// Parse it (and run `process` on it); `K` travels with the result.
    Parse(K),
    /// Do not parse it (e.g. unchanged since the last run); yields [`Item::Unparsed`].
    Leave(K),
}

/// One thing the stream hands to the caller, in walk order. Every file ends with
/// [`Item::EndOfFile`], whatever it yielded before (so a caller can print a line or
/// advance a progress bar per file).
#[derive(Debug)]
pub enum Item<K, R> {
    /// A parsed document, the decision's tag and the result of `process` on it.
    Parsed { doc: Document, tag: K, result: R },
    /// A document read and hashed but, as decided, not parsed.
    Unparsed {
        doc_id: String,
        source: String,
        tag: K,
    },
    /// A file or row that could not be read or parsed. `doc_id` is the document's id
    /// when it is known (a single-document file), `None` for a row or a whole records
    /// file that failed.
    Failed {
        doc_id: Option<String>,
        error: Error,
    },
    /// The file was left out by [`StreamOptions::skip`] and not read.
    Skipped,
    /// All items of the file have been handed on.
    EndOfFile,
}

/// How a [`stream`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Every file was handed on.
    Complete,
    /// [`StreamOptions::stop`] was set: the files after the current one were not.
    Stopped,
}

/// A `decide` for callers that want every document parsed.
pub fn parse_all(_doc_id: &str, _content_hash: &str) -> Decision<()> {
    Decision::Parse(())
}

/// What the workers hand on for one file.
enum FileWork<K, R> {
    /// Boxed: a document is large, and most of the window holds finished files.
    One(Box<Item<K, R>>),
    /// A records file: streamed row by row on the caller's thread.
    Records,
    /// Nothing to hand on but the end of the file (another shard's, or stopping).
    Nothing,
}

/// Why the emitting side stopped early.
enum Halt<E> {
    Stopped,
    Caller(E),
}

/// Stream the documents of `files` (in their order) to `emit`.
///
/// For a single-document file a worker reads and hashes it, asks `decide(doc_id,
/// content_hash)`, and on [`Decision::Parse`] parses it and runs `process` on the
/// document. A records file is read row by row on the caller's thread; each row is
/// decided with its own hash and processed there. An error from `emit` stops the stream
/// and is returned.
pub fn stream<K, R, E>(
    ingestor: &Ingestor,
    files: &[SourceFile],
    options: &StreamOptions<'_>,
    decide: impl Fn(&str, &str) -> Decision<K> + Sync,
    process: impl Fn(&Document) -> R + Sync,
    mut emit: impl FnMut(&SourceFile, Item<K, R>) -> Result<(), E>,
) -> Result<Ended, E>
where
    K: Send,
    R: Send,
{
    // Only the `Sync` parts of the options reach the workers (`skip` is used here).
    let (stop, keep_id, before_work) = (options.stop, options.keep_id, options.before_work);
    let stopping = || stop.is_some_and(|s| s.load(Ordering::SeqCst));
    let keep = |id: &str| keep_id.is_none_or(|k| k(id));
    let starting = |position: usize| {
        if let Some(before) = before_work {
            before(position);
        }
    };
    let items: Vec<(usize, &SourceFile, bool)> = files
        .iter()
        .enumerate()
        .map(|(i, f)| (i, f, options.skip.is_some_and(|s| s(f))))
        .collect();
    let work = |&(position, file, skipped): &(usize, &SourceFile, bool)| -> FileWork<K, R> {
        if skipped {
            FileWork::One(Box::new(Item::Skipped))
        } else if stopping() {
            FileWork::Nothing
        } else if file.format.is_some_and(Format::is_records) {
            FileWork::Records
        } else {
            let start = || starting(position);
            single(ingestor, file, &keep, &decide, &start, &process)
        }
    };
    let workers = match options.workers {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let ran = for_each_ordered(&items, workers, work, |&(position, file, _), done| {
        if stopping() {
            return Err(Halt::Stopped);
        }
        match done {
            FileWork::One(item) => emit(file, *item).map_err(Halt::Caller)?,
            FileWork::Nothing => {}
            FileWork::Records => {
                starting(position);
                for row in ingestor.documents(file) {
                    if stopping() {
                        return Err(Halt::Stopped);
                    }
                    if let Some(item) = row_item(row, &file.path, &keep, &decide, &process) {
                        emit(file, item).map_err(Halt::Caller)?;
                    }
                }
            }
        }
        emit(file, Item::EndOfFile).map_err(Halt::Caller)
    });
    match ran {
        Ok(()) => Ok(Ended::Complete),
        Err(Halt::Stopped) => Ok(Ended::Stopped),
        Err(Halt::Caller(e)) => Err(e),
    }
}

/// A worker's part for a single-document file: read, hash, decide, parse, process.
fn single<K, R>(
    ingestor: &Ingestor,
    file: &SourceFile,
    keep: &dyn Fn(&str) -> bool,
    decide: &dyn Fn(&str, &str) -> Decision<K>,
    start: &dyn Fn(),
    process: &dyn Fn(&Document) -> R,
) -> FileWork<K, R> {
    let doc_id = document_id(&file.source);
    if !keep(&doc_id) {
        return FileWork::Nothing;
    }
    let bytes = match ingestor.read(file) {
        Ok(b) => b,
        Err(error) => {
            let doc_id = Some(doc_id);
            return FileWork::One(Box::new(Item::Failed { doc_id, error }));
        }
    };
    let tag = match decide(&doc_id, &ingestor.content_hash(&bytes)) {
        Decision::Parse(tag) => tag,
        Decision::Leave(tag) => {
            let source = file.source.clone();
            return FileWork::One(Box::new(Item::Unparsed {
                doc_id,
                source,
                tag,
            }));
        }
    };
    start();
    FileWork::One(Box::new(match ingestor.load_bytes(file, bytes) {
        Ok(doc) => processed(doc, tag, &file.path, process),
        Err(error) => Item::Failed {
            doc_id: Some(doc_id),
            error,
        },
    }))
}

/// Run `process` on a parsed document. A panic in it (chunking, tokenizing: a bug) is
/// that document's failure, as a panic in its parse is; it must not take down the
/// worker thread, and with it the whole stream.
fn processed<K, R>(
    doc: Document,
    tag: K,
    path: &std::path::Path,
    process: &dyn Fn(&Document) -> R,
) -> Item<K, R> {
    match catch_unwind(AssertUnwindSafe(|| process(&doc))) {
        Ok(result) => Item::Parsed { doc, tag, result },
        Err(payload) => Item::Failed {
            doc_id: Some(doc.id),
            error: Error::document(path, DocError::Panic(panic_message(&*payload))),
        },
    }
}

/// The item of one row of a records file, `None` for a row another shard holds.
fn row_item<K, R>(
    row: Result<Document, Error>,
    path: &std::path::Path,
    keep: &dyn Fn(&str) -> bool,
    decide: &dyn Fn(&str, &str) -> Decision<K>,
    process: &dyn Fn(&Document) -> R,
) -> Option<Item<K, R>> {
    let doc = match row {
        Ok(doc) => doc,
        Err(error) => {
            return Some(Item::Failed {
                doc_id: None,
                error,
            });
        }
    };
    if !keep(&doc.id) {
        return None;
    }
    Some(match decide(&doc.id, &doc.content_hash) {
        Decision::Parse(tag) => processed(doc, tag, path, process),
        Decision::Leave(tag) => Item::Unparsed {
            doc_id: doc.id,
            source: doc.source,
            tag,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::IngestOptions;
    use crate::source::{WalkOptions, walk};

    #[test]
    fn results_come_in_input_order() {
        let items: Vec<u64> = (0..200).collect();
        let mut seen = Vec::new();
        for_each_ordered(
            &items,
            4,
            |&i| {
                // Later items finish first.
                std::thread::sleep(Duration::from_micros((200 - i) * 20));
                i * 2
            },
            |_, r| {
                seen.push(r);
                Ok::<_, ()>(())
            },
        )
        .unwrap();
        assert_eq!(seen, items.iter().map(|i| i * 2).collect::<Vec<_>>());
    }

    #[test]
    fn an_emit_error_stops_the_run() {
        let items: Vec<u32> = (0..1000).collect();
        let done = AtomicUsize::new(0);
        let r = for_each_ordered(
            &items,
            2,
            |&i| {
                done.fetch_add(1, Ordering::SeqCst);
                i
            },
            |_, i| if i == 10 { Err("stop") } else { Ok(()) },
        );
        assert_eq!(r, Err("stop"));
        assert!(done.load(Ordering::SeqCst) < 100);
    }

    /// A folder of `n` text files `f000.txt`.. and one JSON Lines file of three rows (one bad).
    fn corpus(n: usize) -> (tempfile::TempDir, Vec<SourceFile>) {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..n {
            std::fs::write(dir.path().join(format!("f{i:03}.txt")), format!("text {i}")).unwrap();
        }
        std::fs::write(
            dir.path().join("rows.jsonl"),
            "{\"id\":\"r1\",\"text\":\"first row\"}\n{\"id\":\"r2\",\"text\":\"second row\"}\nnot json\n",
        )
        .unwrap();
        let files = walk(&[dir.path().to_path_buf()], &WalkOptions::default())
            .unwrap()
            .files;
        (dir, files)
    }

    type Seen = Vec<(String, String)>;

    /// Run a stream and record (source, item kind) pairs.
    fn run(files: &[SourceFile], options: &StreamOptions<'_>, parse: bool) -> (Seen, Ended) {
        let ingestor = Ingestor::new(IngestOptions::default());
        let mut seen = Vec::new();
        let decide = |_: &str, _: &str| {
            if parse {
                Decision::Parse(())
            } else {
                Decision::Leave(())
            }
        };
        let ended = stream(
            &ingestor,
            files,
            options,
            decide,
            |doc| doc.text.len(),
            |file, item| {
                let what = match item {
                    Item::Parsed { doc, result, .. } => {
                        assert_eq!(result, doc.text.len());
                        format!("parsed {}", doc.source)
                    }
                    Item::Unparsed { source, .. } => format!("unparsed {source}"),
                    Item::Failed { .. } => "failed".into(),
                    Item::Skipped => "skipped".into(),
                    Item::EndOfFile => "end".into(),
                };
                seen.push((file.source.clone(), what));
                Ok::<_, ()>(())
            },
        )
        .unwrap();
        (seen, ended)
    }

    #[test]
    fn documents_come_in_walk_order_with_many_workers() {
        let (_dir, files) = corpus(60);
        let options = StreamOptions {
            workers: 8,
            ..StreamOptions::default()
        };
        let (seen, ended) = run(&files, &options, true);
        assert_eq!(ended, Ended::Complete);
        let parsed: Vec<&str> = seen
            .iter()
            .filter(|(_, w)| w.starts_with("parsed"))
            .map(|(s, _)| s.as_str())
            .collect();
        let mut want: Vec<String> = (0..60).map(|i| format!("f{i:03}.txt")).collect();
        want.insert(0, "rows.jsonl".into());
        want.insert(0, "rows.jsonl".into());
        want.sort();
        assert_eq!(parsed, want);
        assert_eq!(seen.iter().filter(|(_, w)| w == "end").count(), 61);
    }

    #[test]
    fn records_rows_are_documents_of_their_file() {
        let (_dir, files) = corpus(0);
        let (seen, _) = run(&files, &StreamOptions::default(), true);
        let what: Vec<&str> = seen.iter().map(|(_, w)| w.as_str()).collect();
        assert_eq!(
            what,
            [
                "parsed rows.jsonl#r1",
                "parsed rows.jsonl#r2",
                "failed",
                "end"
            ]
        );
    }

    #[test]
    fn the_decision_can_leave_documents_unparsed() {
        let (_dir, files) = corpus(2);
        let (seen, _) = run(&files, &StreamOptions::default(), false);
        let what: Vec<&str> = seen.iter().map(|(_, w)| w.as_str()).collect();
        assert_eq!(
            what,
            [
                "unparsed f000.txt",
                "end",
                "unparsed f001.txt",
                "end",
                "unparsed rows.jsonl#r1",
                "unparsed rows.jsonl#r2",
                "failed",
                "end"
            ]
        );
    }

    #[test]
    fn skip_and_keep_id_leave_files_and_documents_out() {
        let (_dir, files) = corpus(3);
        let skip = |f: &SourceFile| f.source == "f001.txt";
        let keep = |id: &str| id != document_id("f002.txt") && id != document_id("rows.jsonl#r1");
        let options = StreamOptions {
            skip: Some(&skip),
            keep_id: Some(&keep),
            ..StreamOptions::default()
        };
        let (seen, _) = run(&files, &options, true);
        let what: Vec<&str> = seen.iter().map(|(_, w)| w.as_str()).collect();
        assert_eq!(
            what,
            [
                "parsed f000.txt",
                "end",
                "skipped",
                "end",
                "end",
                "parsed rows.jsonl#r2",
                "failed",
                "end"
            ]
        );
    }

    #[test]
    fn a_panic_in_process_fails_that_document_only() {
        let (_dir, files) = corpus(3);
        let ingestor = Ingestor::new(IngestOptions::default());
        let mut seen = Vec::new();
        stream(
            &ingestor,
            &files,
            &StreamOptions::default(),
            parse_all,
            |doc| {
                assert!(
                    doc.source != "f001.txt" && !doc.source.ends_with("#r1"),
                    "boom"
                );
                doc.text.len()
            },
            |file, item| {
                seen.push(match item {
                    Item::Parsed { doc, .. } => format!("parsed {}", doc.source),
                    Item::Failed { error, .. } => {
                        format!("failed {} {}", file.source, error.kind())
                    }
                    _ => String::new(),
                });
                Ok::<_, ()>(())
            },
        )
        .unwrap();
        seen.retain(|s| !s.is_empty());
        assert_eq!(
            seen,
            [
                "parsed f000.txt",
                "failed f001.txt panic",
                "parsed f002.txt",
                "failed rows.jsonl panic",
                "parsed rows.jsonl#r2",
                "failed rows.jsonl bad_record"
            ]
        );
    }

    #[test]
    fn the_stop_flag_stops_between_files() {
        let (_dir, files) = corpus(50);
        let stop = AtomicBool::new(false);
        let ingestor = Ingestor::new(IngestOptions::default());
        let options = StreamOptions {
            stop: Some(&stop),
            workers: 4,
            ..StreamOptions::default()
        };
        let mut ends = 0;
        let ended = stream(
            &ingestor,
            &files,
            &options,
            parse_all,
            |_| (),
            |_, item| {
                if matches!(item, Item::EndOfFile) {
                    ends += 1;
                    if ends == 3 {
                        stop.store(true, Ordering::SeqCst);
                    }
                }
                Ok::<_, ()>(())
            },
        )
        .unwrap();
        assert_eq!(ended, Ended::Stopped);
        assert_eq!(ends, 3);
    }
}
