//! An [`Embedder`] that embeds the texts of concurrent callers together.
//!
//! A server embeds one short query per request. One query alone keeps the model's
//! matrix kernels mostly idle (a handful of rows per matrix), and concurrent requests
//! each running their own forward pass fight over the same cores. Here every call hands
//! its texts to one thread, which takes whatever calls are waiting (up to a batch
//! size) and embeds them in one pass: under load the batch fills by itself while the
//! previous one runs, and a lone call waits for nothing.

use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::Embedder;
use crate::error::{Error, Result};

/// Most texts embedded in one pass.
pub const DEFAULT_MAX_BATCH: usize = 64;

struct Job {
    texts: Vec<String>,
    reply: SyncSender<std::result::Result<Vec<Vec<f32>>, String>>,
}

/// Wraps an embedder so that concurrent calls share forward passes. Vectors are the
/// inner embedder's (a text's vector does not depend on the batch it is in, up to
/// float rounding).
pub struct BatchingEmbedder {
    inner: Arc<dyn Embedder>,
    jobs: Mutex<Option<Sender<Job>>>,
    worker: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for BatchingEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchingEmbedder")
            .field("model", &self.inner.model_id())
            .finish_non_exhaustive()
    }
}

impl BatchingEmbedder {
    /// Batch the calls to `inner`, at most `max_batch` texts per pass (a single call
    /// with more texts is passed through whole).
    pub fn new(inner: Arc<dyn Embedder>, max_batch: usize) -> BatchingEmbedder {
        let (tx, rx) = mpsc::channel::<Job>();
        let worker_inner = Arc::clone(&inner);
        let worker = std::thread::Builder::new()
            .name("docket-embed-batch".into())
            .spawn(move || run(worker_inner.as_ref(), &rx, max_batch.max(1)))
            .expect("spawn the embedding thread");
        BatchingEmbedder {
            inner,
            jobs: Mutex::new(Some(tx)),
            worker: Mutex::new(Some(worker)),
        }
    }
}

fn run(inner: &dyn Embedder, rx: &Receiver<Job>, max_batch: usize) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        let mut texts = batch[0].texts.len();
        while texts < max_batch {
            match rx.try_recv() {
                Ok(job) => {
                    texts += job.texts.len();
                    batch.push(job);
                }
                Err(_) => break,
            }
        }
        let all: Vec<&str> = batch
            .iter()
            .flat_map(|j| j.texts.iter().map(String::as_str))
            .collect();
        // A panic in the model is that batch's error, not the end of the thread.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| inner.embed(&all)))
            .unwrap_or_else(|_| {
                Err(Error::Runtime {
                    model: inner.model_id().to_owned(),
                    reason: "the embedder panicked".into(),
                })
            });
        match result {
            Ok(mut vectors) => {
                for job in batch.into_iter().rev() {
                    let own = vectors.split_off(vectors.len() - job.texts.len());
                    let _ = job.reply.send(Ok(own));
                }
            }
            Err(e) => {
                let reason = e.to_string();
                for job in batch {
                    let _ = job.reply.send(Err(reason.clone()));
                }
            }
        }
    }
}

impl Embedder for BatchingEmbedder {
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let (reply, answer) = mpsc::sync_channel(1);
        let job = Job {
            texts: texts.iter().map(|t| (*t).to_owned()).collect(),
            reply,
        };
        let sent = self
            .jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .is_some_and(|tx| tx.send(job).is_ok());
        let gone = || Error::Runtime {
            model: self.inner.model_id().to_owned(),
            reason: "the embedding thread has stopped".into(),
        };
        if !sent {
            return Err(gone());
        }
        answer
            .recv()
            .map_err(|_| gone())?
            .map_err(|reason| Error::Runtime {
                model: self.inner.model_id().to_owned(),
                reason,
            })
    }

    /// Queries are few and short and wait for nobody: straight to the model.
    fn embed_queries(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        self.inner.embed_queries(texts)
    }

    fn dim(&self) -> usize {
        self.inner.dim()
    }

    fn model_id(&self) -> &str {
        self.inner.model_id()
    }

    fn max_tokens(&self) -> usize {
        self.inner.max_tokens()
    }
}

impl Drop for BatchingEmbedder {
    fn drop(&mut self) {
        // Closing the channel ends the thread once the calls in flight are answered.
        drop(self.jobs.lock().unwrap_or_else(|e| e.into_inner()).take());
        if let Some(w) = self.worker.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = w.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Vectors that spell out the text, and a count of forward passes.
    struct Spelling {
        passes: AtomicUsize,
    }

    impl Embedder for Spelling {
        fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
            self.passes.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(std::time::Duration::from_millis(20));
            if texts.contains(&"boom") {
                return Err(Error::Runtime {
                    model: "spelling".into(),
                    reason: "boom".into(),
                });
            }
            Ok(texts
                .iter()
                .map(|t| vec![t.len() as f32, f32::from(t.as_bytes()[0])])
                .collect())
        }
        fn dim(&self) -> usize {
            2
        }
        fn model_id(&self) -> &str {
            "spelling"
        }
        fn max_tokens(&self) -> usize {
            8
        }
    }

    #[test]
    fn concurrent_calls_share_passes_and_each_gets_its_own_vectors() {
        let inner = Arc::new(Spelling {
            passes: AtomicUsize::new(0),
        });
        let batching = Arc::new(BatchingEmbedder::new(inner.clone(), 64));
        let threads: Vec<_> = (0..16)
            .map(|i| {
                let b = Arc::clone(&batching);
                std::thread::spawn(move || {
                    let text = format!("{}{}", char::from(b'a' + i as u8), "x".repeat(i));
                    let v = b.embed(&[text.as_str(), "zz"]).unwrap();
                    assert_eq!(v[0], vec![text.len() as f32, f32::from(text.as_bytes()[0])]);
                    assert_eq!(v[1], vec![2.0, f32::from(b'z')]);
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let passes = inner.passes.load(Ordering::SeqCst);
        assert!(passes < 16, "16 calls took {passes} passes");
        // An error reaches the calls of its batch, and the thread goes on.
        assert!(batching.embed(&["boom"]).is_err());
        assert_eq!(
            batching.embed(&["ok"]).unwrap(),
            vec![vec![2.0, f32::from(b'o')]]
        );
    }
}
