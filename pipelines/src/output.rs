//! Writing output files so that readers never see half of one: a temporary file beside
//! the target, synced, renamed over it, and the folder synced so the rename itself
//! survives a power cut.

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

/// Write a file atomically: readers see the old file or the new one, never a
/// half-written one. A failing `fill` leaves the old file as it was.
pub fn write_atomic(path: &Path, fill: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::io(dir, e))?;
    {
        let mut w = std::io::BufWriter::new(tmp.as_file());
        fill(&mut w)?;
        w.flush().map_err(|e| Error::io(path, e))?;
    }
    tmp.as_file().sync_all().map_err(|e| Error::io(path, e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    sync_dir(dir);
    Ok(())
}

/// Like [`write_atomic`], and returns the blake3 hex digest of the bytes written.
pub fn write_atomic_hashed(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<String> {
    let mut hasher = blake3::Hasher::new();
    write_atomic(path, |w| {
        fill(&mut Tee {
            inner: w,
            hasher: &mut hasher,
        })
    })?;
    Ok(hasher.finalize().to_hex().to_string())
}

/// blake3 hex digest of a file's bytes; `None` when it cannot be read.
pub fn file_hash(path: &Path) -> Option<String> {
    let mut file = std::fs::File::open(path).ok()?;
    let mut hasher = blake3::Hasher::new();
    std::io::copy(&mut file, &mut hasher).ok()?;
    Some(hasher.finalize().to_hex().to_string())
}

/// Passes writes on and hashes what was written.
struct Tee<'a> {
    inner: &'a mut dyn Write,
    hasher: &'a mut blake3::Hasher,
}

impl Write for Tee<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Make a rename in `dir` durable. Best effort: not every platform or file system can
/// sync a folder, and the file's own content is already synced.
fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// A CSV cell that a spreadsheet will show as text, never run as a formula: a cell
/// starting with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`
/// (document text and labels come from the archive, which is untrusted).
pub fn csv_cell(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

/// An I/O error while writing an output, named after it.
pub fn write_error(what: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::io(what, e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_defused_and_others_kept() {
        assert_eq!(
            csv_cell("=HYPERLINK(\"http://x\")"),
            "'=HYPERLINK(\"http://x\")"
        );
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("+1"), "'+1");
        assert_eq!(csv_cell("billing"), "billing");
        assert_eq!(csv_cell("0.9500"), "0.9500");
        assert_eq!(csv_cell(""), "");
    }

    #[test]
    fn atomic_writes_replace_whole_files() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("sub/out.jsonl");
        let write = |text: &'static [u8]| {
            write_atomic(&out, |w| w.write_all(text).map_err(write_error(&out)))
        };
        write(b"one\n").unwrap();
        write(b"two\n").unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "two\n");
        // A failing writer leaves the old file as it was.
        assert!(write_atomic(&out, |_| Err(Error::Usage("boom".into()))).is_err());
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "two\n");
        assert_eq!(
            std::fs::read_dir(dir.path().join("sub")).unwrap().count(),
            1
        );
    }
}
