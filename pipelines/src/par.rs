//! Ordered parallel processing: work on items on all cores, hand results on in input
//! order, and keep only a bounded window of finished results in memory.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

/// Apply `work` to every item on `workers` threads and pass each item with its result
/// to `emit`, in the order of `items`. Workers never run more than `4 * workers` items ahead of the
/// next result to emit, so a slow item does not let finished results pile up. An error
/// from `emit` stops the workers and is returned.
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
    let stop = AtomicUsize::new(0);
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
                        if stop.load(Ordering::SeqCst) != 0 {
                            return;
                        }
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    if stop.load(Ordering::SeqCst) != 0 || tx.send((i, work(&items[i]))).is_err() {
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
                    stop.store(1, Ordering::SeqCst);
                    return Err(e);
                }
                want += 1;
                emitted.store(want, Ordering::SeqCst);
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
