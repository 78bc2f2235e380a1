//! The process's memory ceiling: heap accounting by a counting global allocator.
//!
//! Every file is hostile, and the caps on one document's inputs (file size, decoded
//! bytes, text) bound what it costs only roughly: a parse that builds a large structure
//! from a small input, or several large documents at once, can still add up. So the
//! binary installs [`CountingAlloc`], which counts the heap bytes in use, and sets a
//! ceiling ([`set_ceiling`]):
//! - A document's work (reading, parsing, chunking) has a budget of a quarter of the
//!   ceiling ([`document_budget`]), counted on the worker thread from the document's
//!   start ([`DocScope`]) and checked with the parse deadline ([`crate::Deadline`]):
//!   past it, that document fails as too large and the batch goes on.
//! - The ceiling itself is hard: an allocation that would pass it is refused, and the
//!   process stops with a message naming the setting (Rust aborts on a failed
//!   allocation). A run stopped so is a crash like any other: the document in progress
//!   is counted against its attempts and quarantined after the last.
//!
//! Without the allocator installed (a library user's program), nothing is counted and
//! neither check ever fires. Memory outside the heap (file-backed maps, thread stacks)
//! is not counted.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
/// Bytes; 0 means no ceiling.
static CEILING: AtomicUsize = AtomicUsize::new(0);
static INSTALLED: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// Bytes allocated minus bytes freed on this thread (frees of memory allocated on
    /// another thread count here too, so only differences over one piece of work mean
    /// anything: see [`DocScope`]).
    static NET: Cell<isize> = const { Cell::new(0) };
}

/// The system allocator, counting. Install it in a binary with
/// `#[global_allocator] static ALLOC: CountingAlloc = CountingAlloc;`.
#[derive(Debug, Default, Clone, Copy)]
pub struct CountingAlloc;

impl CountingAlloc {
    /// Count `size` more bytes in use, or refuse them when they would pass the ceiling.
    fn take(size: usize) -> bool {
        let ceiling = CEILING.load(Ordering::Relaxed);
        let before = LIVE.fetch_add(size, Ordering::Relaxed);
        let after = before.saturating_add(size);
        if ceiling != 0 && after > ceiling && size > 0 {
            LIVE.fetch_sub(size, Ordering::Relaxed);
            ceiling_reached(ceiling, size);
            return false;
        }
        if after > PEAK.load(Ordering::Relaxed) {
            PEAK.fetch_max(after, Ordering::Relaxed);
        }
        let _ = NET.try_with(|n| n.set(n.get().wrapping_add(size as isize)));
        true
    }

    fn give(size: usize) {
        LIVE.fetch_sub(size, Ordering::Relaxed);
        let _ = NET.try_with(|n| n.set(n.get().wrapping_sub(size as isize)));
    }
}

/// Remember that this allocator serves the process. Read first: a store on every
/// allocation would pull the flag's cache line from core to core.
fn note_installed() {
    if !INSTALLED.load(Ordering::Relaxed) {
        INSTALLED.store(true, Ordering::Relaxed);
    }
}

/// Say once, without allocating, why the process is about to stop.
fn ceiling_reached(ceiling: usize, size: usize) {
    static SAID: AtomicBool = AtomicBool::new(false);
    if SAID.swap(true, Ordering::SeqCst) {
        return;
    }
    let mut buf = [0u8; 256];
    let mut w = Cursor {
        buf: &mut buf,
        len: 0,
    };
    let _ = std::fmt::Write::write_fmt(
        &mut w,
        format_args!(
            "docket: stopping: the memory ceiling of {} MiB (--max-memory, max_memory_mib) \
             is reached by an allocation of {} bytes\n",
            ceiling >> 20,
            size
        ),
    );
    let len = w.len;
    // SAFETY: writes `len` initialised bytes of `buf` to stderr; no allocation.
    unsafe {
        libc::write(2, buf.as_ptr().cast(), len);
    }
}

/// A fixed buffer that `write_fmt` fills without allocating (the message is cut when
/// it does not fit).
struct Cursor<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl std::fmt::Write for Cursor<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let n = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

// SAFETY: every call is passed to `System` unchanged; the counters only observe sizes,
// and a refused allocation returns null as the contract allows.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_installed();
        if !Self::take(layout.size()) {
            return std::ptr::null_mut();
        }
        // SAFETY: the caller's layout, as given.
        let p = unsafe { System.alloc(layout) };
        if p.is_null() {
            Self::give(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_installed();
        if !Self::take(layout.size()) {
            return std::ptr::null_mut();
        }
        // SAFETY: the caller's layout, as given.
        let p = unsafe { System.alloc_zeroed(layout) };
        if p.is_null() {
            Self::give(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout` (every allocation here
        // goes through it).
        unsafe { System.dealloc(ptr, layout) };
        Self::give(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old = layout.size();
        if new_size > old && !Self::take(new_size - old) {
            return std::ptr::null_mut();
        }
        // SAFETY: the caller's pointer, layout and size, as given.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if p.is_null() {
            if new_size > old {
                Self::give(new_size - old);
            }
        } else if new_size < old {
            Self::give(old - new_size);
        }
        p
    }
}

/// Whether [`CountingAlloc`] is the process's allocator (it has served an allocation).
pub fn installed() -> bool {
    INSTALLED.load(Ordering::Relaxed)
}

/// Heap bytes in use now.
pub fn live_bytes() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// Most heap bytes in use at once so far.
pub fn peak_bytes() -> usize {
    PEAK.load(Ordering::Relaxed)
}

/// Set the process's ceiling in bytes (0: none). Allocations that would pass it are
/// refused from now on.
pub fn set_ceiling(bytes: usize) {
    CEILING.store(bytes, Ordering::SeqCst);
}

/// The ceiling in bytes, 0 when none is set.
pub fn ceiling() -> usize {
    CEILING.load(Ordering::Relaxed)
}

/// The budget of one document's work: a quarter of the ceiling, so that a few
/// documents in flight at once and the models and stores beside them fit under it.
/// `None` when no ceiling is set or the allocator is not installed.
pub fn document_budget() -> Option<usize> {
    let c = ceiling();
    (c != 0 && installed()).then_some(c / 4)
}

/// One piece of work's heap use on the current thread, from when the scope began:
/// bytes it allocated and still holds, whoever frees them later.
#[derive(Debug, Clone, Copy)]
pub struct DocScope {
    start: isize,
}

impl DocScope {
    /// Start counting on this thread.
    pub fn begin() -> Self {
        DocScope { start: net() }
    }

    /// Bytes held now that were allocated on this thread since [`begin`](Self::begin)
    /// (0 if more was freed).
    pub fn used(&self) -> usize {
        net().wrapping_sub(self.start).max(0) as usize
    }
}

fn net() -> isize {
    NET.try_with(Cell::get).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[global_allocator]
    static ALLOC: CountingAlloc = CountingAlloc;

    #[test]
    fn counts_what_a_thread_holds() {
        let scope = DocScope::begin();
        let live = live_bytes();
        let v = vec![0u8; 8 << 20];
        assert!(scope.used() >= 8 << 20);
        assert!(live_bytes() >= live + (8 << 20) - (1 << 20));
        assert!(peak_bytes() >= 8 << 20);
        let mut v = std::hint::black_box(v);
        v.resize(16 << 20, 1);
        assert!(scope.used() >= 16 << 20);
        drop(v);
        assert!(scope.used() < 1 << 20);
        assert!(installed());
    }
}
