//! Extraction quality and speed of docket's PDF loader against `pdftotext`.
//!
//! For every PDF in a directory (first argument, else `DOCKET_BENCH_PDF_DIR`, else
//! `../shared/data/pdf` beside the workspace), prints the page count, the bag-of-words F1
//! of docket's text against pdftotext's, and the best wall time of each tool over a few
//! runs. Set `DOCKET_BENCH_DUMP=DIR` to also write docket's text for each file there, and
//! `DOCKET_BENCH_PDF_PASSWORD` to give both tools a user password for encrypted files.
//!
//! Run with `cargo bench -p docket-ingest --bench pdf_vs_pdftotext`.

// A benchmark reports on the terminal.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use docket_ingest::pdf::PdfLoader;
use docket_ingest::{Limits, LoadContext, Loader};

const RUNS: usize = 3;

fn main() {
    let dir = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("DOCKET_BENCH_PDF_DIR").map(PathBuf::from))
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/pdf"));
    let dump = std::env::var_os("DOCKET_BENCH_DUMP").map(PathBuf::from);
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("pdf")))
            .collect(),
        Err(e) => {
            eprintln!("cannot read {}: {e}", dir.display());
            std::process::exit(2);
        }
    };
    files.sort();
    println!("PDFs in {}", dir.display());
    println!(
        "{:<50} {:>5} {:>8} {:>8} {:>6} {:>10} {:>10}",
        "file", "pages", "words_pt", "words_dk", "F1", "pdftotext", "docket"
    );
    let (mut t_pt, mut t_dk) = (Duration::ZERO, Duration::ZERO);
    let mut f1s = Vec::new();
    let mut failures = Vec::new();
    for path in &files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let pt = run_pdftotext(path);
        let dk = run_docket(path);
        if let (Some(dump), Ok((text, _, _))) = (&dump, &dk) {
            let _ = std::fs::create_dir_all(dump);
            let _ = std::fs::write(dump.join(format!("{name}.txt")), text);
        }
        match (pt, dk) {
            (Ok((pt_text, pt_time)), Ok((dk_text, pages, dk_time))) => {
                let (wp, wd, f1) = bag_f1(&pt_text, &dk_text);
                t_pt += pt_time;
                t_dk += dk_time;
                let f1s_str = match f1 {
                    Some(f) => {
                        f1s.push(f);
                        format!("{f:.3}")
                    }
                    None => "-".into(),
                };
                println!(
                    "{:<50} {:>5} {:>8} {:>8} {:>6} {:>8.1}ms {:>8.1}ms",
                    trunc(&name),
                    pages,
                    wp,
                    wd,
                    f1s_str,
                    ms(pt_time),
                    ms(dk_time)
                );
            }
            (pt, dk) => {
                let why = |r: Result<String, String>| match r {
                    Ok(_) => "ok".to_string(),
                    Err(e) => e,
                };
                failures.push(format!(
                    "{name}: pdftotext: {}; docket: {}",
                    why(pt.map(|p| p.0)),
                    why(dk.map(|d| d.0))
                ));
            }
        }
    }
    let mean = if f1s.is_empty() {
        0.0
    } else {
        f1s.iter().sum::<f64>() / f1s.len() as f64
    };
    println!(
        "{:<50} {:>5} {:>8} {:>8} {:>6.3} {:>8.1}ms {:>8.1}ms",
        "TOTAL (F1: mean over files with words)",
        "",
        "",
        "",
        mean,
        ms(t_pt),
        ms(t_dk)
    );
    if !failures.is_empty() {
        println!("\nfailed (either tool):");
        for f in failures {
            println!("  {f}");
        }
    }
}

fn trunc(s: &str) -> String {
    if s.chars().count() > 50 {
        s.chars().take(47).chain("...".chars()).collect()
    } else {
        s.to_string()
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn run_pdftotext(path: &Path) -> Result<(String, Duration), String> {
    let mut best = Duration::MAX;
    let mut text = String::new();
    for _ in 0..RUNS {
        let start = Instant::now();
        let run = |password: Option<&str>| {
            let mut cmd = Command::new("pdftotext");
            cmd.args(["-enc", "UTF-8"]);
            if let Some(pw) = password {
                cmd.args(["-upw", pw]);
            }
            cmd.arg(path)
                .arg("-")
                .output()
                .map_err(|e| format!("cannot run pdftotext: {e}"))
        };
        let mut out = run(None)?;
        // pdftotext rejects a user password on files that open without one, so the
        // password is given only when it is needed.
        if !out.status.success()
            && let Ok(pw) = std::env::var("DOCKET_BENCH_PDF_PASSWORD")
        {
            out = run(Some(&pw))?;
        }
        let took = start.elapsed();
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            return Err(err.lines().next().unwrap_or("failed").to_string());
        }
        best = best.min(took);
        text = String::from_utf8_lossy(&out.stdout).into_owned();
    }
    Ok((text, best))
}

fn run_docket(path: &Path) -> Result<(String, usize, Duration), String> {
    let limits = Limits::default();
    let password = std::env::var("DOCKET_BENCH_PDF_PASSWORD").ok();
    let mut best = Duration::MAX;
    let mut result = (String::new(), 0);
    for _ in 0..RUNS {
        let start = Instant::now();
        let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
        let mut ctx = LoadContext::new(&limits);
        ctx.pdf_password = password.as_deref();
        let ex = PdfLoader.load(&bytes, &ctx).map_err(|e| e.to_string())?;
        best = best.min(start.elapsed());
        result = (ex.text, ex.pages.len());
    }
    Ok((result.0, result.1, best))
}

fn words(s: &str) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for w in s
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        *m.entry(w.to_lowercase()).or_insert(0) += 1;
    }
    m
}

/// Word counts of both texts and the F1 of docket's words against pdftotext's (`None`
/// when neither has any words).
fn bag_f1(reference: &str, candidate: &str) -> (usize, usize, Option<f64>) {
    let r = words(reference);
    let c = words(candidate);
    let nr: usize = r.values().sum();
    let nc: usize = c.values().sum();
    if nr == 0 && nc == 0 {
        return (0, 0, None);
    }
    let common: usize = c
        .iter()
        .map(|(w, n)| (*n).min(r.get(w).copied().unwrap_or(0)))
        .sum();
    let p = if nc == 0 {
        0.0
    } else {
        common as f64 / nc as f64
    };
    let rc = if nr == 0 {
        0.0
    } else {
        common as f64 / nr as f64
    };
    let f1 = if p + rc == 0.0 {
        0.0
    } else {
        2.0 * p * rc / (p + rc)
    };
    (nr, nc, Some(f1))
}
