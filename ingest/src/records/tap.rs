//! What the CSV reader cannot tell us about the rows it reads: where each starts (its
//! true line), whether it outgrew the row cap, whether the file ended inside one of its
//! quoted fields, and whether its reading overran the deadline.
//!
//! [`RowTap`] sits between the file and the `csv` crate's reader and follows the same
//! RFC 4180 state machine as `csv-core` (quote, doubled quote, delimiter, CR/LF), byte
//! by byte. The CSV reader keeps a whole row in memory before handing it on, so a row
//! must be bounded before it reaches the reader: once a row is longer than the cap the
//! tap stops passing its bytes on, reads past the rest of the row on its own (its end is
//! known from the state machine), and closes it for the CSV reader with a synthetic
//! closing quote and newline. The row is then a bad row and the rows after it read as
//! usual. A quoted field that is never closed runs to the end of the file; no reader can
//! tell where the rows in it were meant to end, so that row is flagged and the file
//! fails there.

use std::collections::VecDeque;
use std::io::{BufRead, Read};

use crate::loader::Deadline;

/// Bytes read between two deadline checks.
const DEADLINE_EVERY: usize = 64 * 1024;

/// Where one row starts, and what went wrong with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct RowStart {
    /// Offset of the row's first byte in the stream the CSV reader sees.
    pub offset: u64,
    /// 1-based line of the file.
    pub line: u64,
    /// The row is longer than the cap: its bytes past the cap were dropped.
    pub overlong: bool,
    /// The file ends inside a quoted field of this row, opened on this line.
    pub unclosed: Option<u64>,
}

/// `csv-core`'s states, as far as they matter for telling rows apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between rows (blank lines are skipped here).
    StartRecord,
    StartField,
    InField,
    InQuoted,
    /// A quote inside a quoted field: its end, or the first of a doubled quote.
    QuoteInQuoted,
}

/// What one byte does to the row it is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effect {
    /// A line end between rows.
    Blank,
    /// The first byte of a row.
    Start,
    /// A byte of the row.
    Byte,
    /// The line end that ends the row.
    End,
}

/// Passes a CSV or TSV file to the CSV reader, bounding its rows (see the module).
#[derive(Debug)]
pub(super) struct RowTap<R> {
    inner: R,
    quoting: bool,
    delimiter: u8,
    /// Longest row passed on, in bytes (without its line end).
    cap: u64,
    /// Rows started and not yet claimed by [`RowTap::claim`].
    starts: VecDeque<RowStart>,
    pub deadline: Deadline,
    state: State,
    /// Line feeds seen.
    lines: u64,
    /// Bytes handed to the CSV reader (synthetic ones included).
    passed: u64,
    /// Bytes of the current row seen so far.
    row_bytes: u64,
    /// Line of the quote that opened the current quoted field.
    quote_line: u64,
    /// Reading past the rest of an over-long row.
    skipping: bool,
    /// Synthetic bytes that close an over-long row, and how many went out.
    closer: &'static [u8],
    closer_sent: usize,
    since_check: usize,
}

impl<R: BufRead> RowTap<R> {
    pub fn new(inner: R, quoting: bool, delimiter: u8, cap: u64) -> Self {
        RowTap {
            inner,
            quoting,
            delimiter,
            cap,
            starts: VecDeque::new(),
            deadline: Deadline::none(),
            state: State::StartRecord,
            lines: 0,
            passed: 0,
            row_bytes: 0,
            quote_line: 0,
            skipping: false,
            closer: b"",
            closer_sent: 0,
            since_check: 0,
        }
    }

    /// The start of the row the CSV reader returned at byte `position` (its
    /// `Position::byte`, which may point at line ends before the row's first byte).
    pub fn claim(&mut self, position: u64) -> Option<RowStart> {
        while self.starts.front().is_some_and(|s| s.offset < position) {
            self.starts.pop_front();
        }
        self.starts.pop_front()
    }

    /// The state after a field starts with `b` (not a line end).
    fn field_start(&self, b: u8) -> State {
        if self.quoting && b == b'"' {
            State::InQuoted
        } else if b == self.delimiter {
            State::StartField
        } else {
            State::InField
        }
    }

    fn transition(&self, b: u8) -> (State, Effect) {
        let term = b == b'\r' || b == b'\n';
        match self.state {
            State::StartRecord if term => (State::StartRecord, Effect::Blank),
            State::StartRecord => (self.field_start(b), Effect::Start),
            State::StartField | State::InField | State::QuoteInQuoted if term => {
                (State::StartRecord, Effect::End)
            }
            State::StartField => (self.field_start(b), Effect::Byte),
            State::InField if b == self.delimiter => (State::StartField, Effect::Byte),
            State::InField => (State::InField, Effect::Byte),
            State::InQuoted if self.quoting && b == b'"' => (State::QuoteInQuoted, Effect::Byte),
            State::InQuoted => (State::InQuoted, Effect::Byte),
            State::QuoteInQuoted if b == b'"' => (State::InQuoted, Effect::Byte),
            State::QuoteInQuoted if b == self.delimiter => (State::StartField, Effect::Byte),
            State::QuoteInQuoted => (State::InField, Effect::Byte),
        }
    }

    /// Take `b` into the state (a byte passed on or skipped).
    fn apply(&mut self, b: u8, next: State, effect: Effect) {
        match effect {
            Effect::Start => {
                self.starts.push_back(RowStart {
                    offset: self.passed,
                    line: self.lines + 1,
                    overlong: false,
                    unclosed: None,
                });
                self.row_bytes = 1;
            }
            Effect::Byte => self.row_bytes += 1,
            Effect::End => self.row_bytes = 0,
            Effect::Blank => {}
        }
        if next == State::InQuoted && !matches!(self.state, State::InQuoted | State::QuoteInQuoted)
        {
            self.quote_line = self.lines + 1;
        }
        if b == b'\n' {
            self.lines += 1;
        }
        self.state = next;
    }

    fn check_deadline(&mut self, n: usize) -> std::io::Result<()> {
        self.since_check += n;
        if self.since_check >= DEADLINE_EVERY {
            self.since_check = 0;
            self.deadline
                .check()
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::TimedOut, e))?;
        }
        Ok(())
    }

    /// The file ended: a quoted field still open is never closed.
    fn at_end(&mut self) {
        if self.state == State::InQuoted
            && let Some(last) = self.starts.back_mut()
        {
            last.unclosed = Some(self.quote_line);
        }
    }
}

impl<R: BufRead> Read for RowTap<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            if self.closer_sent < self.closer.len() {
                let rest = &self.closer[self.closer_sent..];
                let n = rest.len().min(out.len());
                out[..n].copy_from_slice(&rest[..n]);
                self.closer_sent += n;
                self.passed += n as u64;
                return Ok(n);
            }
            let buf = self.inner.fill_buf()?;
            if buf.is_empty() {
                self.at_end();
                return Ok(0);
            }
            let buf_len = buf.len();
            if self.skipping {
                let mut used = 0;
                let mut ended = false;
                while used < buf_len && !ended {
                    let b = self.inner.fill_buf()?[used];
                    let (next, effect) = self.transition(b);
                    self.apply(b, next, effect);
                    ended = effect == Effect::End;
                    used += 1;
                }
                self.inner.consume(used);
                self.check_deadline(used)?;
                if ended {
                    self.skipping = false;
                    self.closer_sent = 0;
                }
                continue;
            }
            let n = buf_len.min(out.len());
            let mut used = 0;
            while used < n {
                let b = self.inner.fill_buf()?[used];
                let (next, effect) = self.transition(b);
                if effect == Effect::Byte && self.row_bytes >= self.cap {
                    // Close the row for the CSV reader once its end is found: a
                    // quoted field needs its quote first.
                    self.closer = if self.state == State::InQuoted {
                        b"\"\n"
                    } else {
                        b"\n"
                    };
                    self.closer_sent = self.closer.len();
                    self.skipping = true;
                    if let Some(last) = self.starts.back_mut() {
                        last.overlong = true;
                    }
                    break;
                }
                out[used] = b;
                self.apply(b, next, effect);
                self.passed += 1;
                used += 1;
            }
            self.inner.consume(used);
            self.check_deadline(used)?;
            if used > 0 {
                return Ok(used);
            }
        }
    }
}
