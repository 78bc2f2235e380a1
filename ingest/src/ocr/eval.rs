//! How well OCR reads: the character error rate of docket's text against references
//! written by hand, next to Tesseract run directly on the same pages (rendered by
//! `pdftoppm` at 300 dpi, as a user would), with pages per second and peak memory.
//!
//! A data set is a folder of documents (PDFs or image files), each with a reference
//! `<stem>.txt` beside it: the text of its first pages, pages separated by form feeds.
//! Only the pages a reference covers are scored.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::pipeline::Ingestor;
use crate::source::SourceFile;

/// The score of one document.
#[derive(Debug, Clone, Serialize)]
pub struct ItemReport {
    pub source: String,
    /// Pages scored (those the reference covers).
    pub pages: usize,
    /// Characters in the reference (whitespace runs count as one space).
    pub reference_chars: usize,
    /// Character error rate of docket's text: edits / reference characters.
    pub cer: f64,
    /// The same for Tesseract run directly, when it was run.
    pub baseline_cer: Option<f64>,
    /// Seconds docket took for the whole document.
    pub seconds: f64,
    pub baseline_seconds: Option<f64>,
    /// Pages of the document docket recognised by OCR.
    pub ocr_pages: usize,
}

/// The scores of a data set.
#[derive(Debug, Clone, Serialize)]
pub struct OcrEvalReport {
    pub items: Vec<ItemReport>,
    /// Edits over all reference characters (micro average).
    pub cer: f64,
    pub baseline_cer: Option<f64>,
    /// Pages docket recognised by OCR per second of its time.
    pub pages_per_second: f64,
    pub baseline_pages_per_second: Option<f64>,
    /// Peak heap of this process, in bytes (0 without the counting allocator).
    pub peak_heap_bytes: usize,
    /// Largest peak resident set of a child process (Tesseract, pdftoppm), in KiB.
    pub peak_child_rss_kib: u64,
}

/// Levenshtein distance over characters.
fn edits(a: &[char], b: &[char]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// Text as compared: whitespace runs as one space, trimmed.
fn squash(s: &str) -> Vec<char> {
    let mut out = Vec::new();
    for w in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(w.chars());
    }
    out
}

/// Character error rate of `hypothesis` against `reference` (whitespace runs count as
/// one space): edits over reference characters.
pub fn cer(reference: &str, hypothesis: &str) -> f64 {
    let (r, h) = (squash(reference), squash(hypothesis));
    edits(&r, &h) as f64 / r.len().max(1) as f64
}

/// Score every document with a reference in `dir`. `baseline`: also run Tesseract
/// directly (`tesseract` and `pdftoppm` on the `PATH`, languages as `ingestor`'s).
pub fn evaluate(dir: &Path, ingestor: &Ingestor, baseline: bool) -> Result<OcrEvalReport> {
    let walk_err = |e: std::io::Error| Error::Walk {
        path: dir.to_path_buf(),
        reason: e.to_string(),
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(walk_err)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e != "txt") && p.with_extension("txt").is_file())
        .collect();
    files.sort();
    let languages = ingestor
        .ocr()
        .options()
        .languages
        .clone()
        .unwrap_or_else(|| "eng".into());
    let mut items = Vec::new();
    let (mut edits_all, mut chars_all, mut base_edits) = (0.0, 0usize, 0.0);
    let (mut ocr_pages, mut seconds, mut base_seconds, mut base_pages) = (0, 0.0, 0.0, 0);
    for path in files {
        let reference = std::fs::read_to_string(path.with_extension("txt")).map_err(walk_err)?;
        let ref_pages: Vec<&str> = reference.split('\u{c}').collect();
        let started = Instant::now();
        let doc = ingestor.load(&SourceFile::explicit(&path))?;
        let took = started.elapsed().as_secs_f64();
        let n = ref_pages.len().min(doc.pages.len());
        let got: Vec<&str> = doc.pages[..n].iter().map(|p| doc.page_text(p)).collect();
        let score = |pages: &[String]| -> (f64, usize) {
            let mut e = 0.0;
            let mut c = 0;
            for (r, h) in ref_pages.iter().zip(pages) {
                let len = squash(r).len();
                e += cer(r, h) * len as f64;
                c += len;
            }
            (e, c)
        };
        let got: Vec<String> = got.into_iter().map(str::to_string).collect();
        let (e, c) = score(&got);
        let recognised = doc.pages.iter().filter(|p| p.ocr.is_some()).count();
        let (baseline_cer, baseline_seconds) = if baseline {
            let started = Instant::now();
            let pages = tesseract_directly(&path, n, &languages);
            let took = started.elapsed().as_secs_f64();
            let (be, _) = score(&pages);
            base_edits += be;
            base_seconds += took;
            base_pages += n;
            (Some(be / c.max(1) as f64), Some(took))
        } else {
            (None, None)
        };
        edits_all += e;
        chars_all += c;
        ocr_pages += recognised;
        seconds += took;
        items.push(ItemReport {
            source: doc.source.clone(),
            pages: n,
            reference_chars: c,
            cer: e / c.max(1) as f64,
            baseline_cer,
            seconds: took,
            baseline_seconds,
            ocr_pages: recognised,
        });
    }
    Ok(OcrEvalReport {
        items,
        cer: edits_all / chars_all.max(1) as f64,
        baseline_cer: baseline.then(|| base_edits / chars_all.max(1) as f64),
        pages_per_second: ocr_pages as f64 / seconds.max(1e-9),
        baseline_pages_per_second: baseline.then(|| base_pages as f64 / base_seconds.max(1e-9)),
        peak_heap_bytes: crate::memory::peak_bytes(),
        peak_child_rss_kib: peak_child_rss_kib(),
    })
}

/// The text of the first `pages` pages as `pdftoppm -r 300 -gray` and `tesseract`
/// give it, run by hand (image files go to Tesseract as they are).
fn tesseract_directly(path: &Path, pages: usize, languages: &str) -> Vec<String> {
    let run = |image: &Path| -> String {
        std::process::Command::new("tesseract")
            .arg(image)
            .arg("stdout")
            .arg("-l")
            .arg(languages)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    };
    let is_pdf = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("pdf"));
    if !is_pdf {
        return run(path).split('\u{c}').map(str::to_string).collect();
    }
    let Ok(dir) = tempfile::tempdir() else {
        return Vec::new();
    };
    (1..=pages)
        .map(|n| {
            let root = dir.path().join(format!("p{n}"));
            let ok = std::process::Command::new("pdftoppm")
                .args([
                    "-r",
                    "300",
                    "-gray",
                    "-singlefile",
                    "-f",
                    &n.to_string(),
                    "-l",
                    &n.to_string(),
                ])
                .arg(path)
                .arg(&root)
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                run(&root.with_extension("pgm"))
            } else {
                String::new()
            }
        })
        .collect()
}

/// The largest peak resident set of any child process waited for, in KiB.
fn peak_child_rss_kib() -> u64 {
    // SAFETY: getrusage writes into the zeroed struct it is given.
    unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) == 0 {
            usage.ru_maxrss.max(0) as u64
        } else {
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cer_counts_edits_over_reference_characters_ignoring_spacing() {
        assert_eq!(cer("hello world", "hello   world\n"), 0.0);
        assert_eq!(cer("abcd", "abxd"), 0.25);
        assert_eq!(cer("abcd", ""), 1.0);
        assert!((cer("kitten", "sitting") - 3.0 / 6.0).abs() < 1e-9);
    }
}
