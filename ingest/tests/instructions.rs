//! Precision and recall of the instruction detector on a labelled set of passages
//! (`tests/data/instructions.tsv`): planted instructions in many styles and four
//! languages, and ordinary text that is hard for the rules (manuals and how-tos that
//! say "follow the instructions", policies that say "send ... to <address>", chat
//! transcripts with speaker labels, articles that quote an injection).
//!
//! The set is split in pairs of lines: pairs 0, 2, 4, ... are the half the rules were
//! tuned on, pairs 1, 3, 5, ... are held out. Run with `--nocapture` to see the figures
//! and every miss:
//! `cargo test --release -p docket-ingest --test instructions -- --nocapture`.

#![expect(
    clippy::print_stdout,
    reason = "the test prints the measured figures and every mistake"
)]

use std::path::PathBuf;

use docket_ingest::instructions::detect;

struct Passage {
    line: usize,
    inject: bool,
    text: String,
}

fn passages() -> Vec<Passage> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/instructions.tsv");
    let raw = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    raw.lines()
        .enumerate()
        .skip(1)
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let (label, text) = l
                .split_once('\t')
                .unwrap_or_else(|| panic!("line {}: no tab", i + 1));
            let inject = match label {
                "inject" => true,
                "benign" => false,
                other => panic!("line {}: unknown label {other:?}", i + 1),
            };
            Passage {
                line: i + 1,
                inject,
                text: text.replace("\\n", "\n"),
            }
        })
        .collect()
}

#[derive(Debug, Default)]
struct Counts {
    tp: usize,
    fp: usize,
    fn_: usize,
    tn: usize,
}

impl Counts {
    fn precision(&self) -> f64 {
        self.tp as f64 / (self.tp + self.fp).max(1) as f64
    }
    fn recall(&self) -> f64 {
        self.tp as f64 / (self.tp + self.fn_).max(1) as f64
    }
}

/// Counts over the passages of one half, printing each mistake.
fn measure(half: &str, set: &[&Passage]) -> Counts {
    let mut c = Counts::default();
    for p in set {
        let found = detect(&p.text);
        match (p.inject, &found) {
            (true, Some(_)) => c.tp += 1,
            (true, None) => {
                c.fn_ += 1;
                println!("{half} miss (line {}): {}", p.line, p.text);
            }
            (false, Some(f)) => {
                c.fp += 1;
                println!(
                    "{half} false flag (line {}, {}): {}",
                    p.line,
                    f.reason(),
                    p.text
                );
            }
            (false, None) => c.tn += 1,
        }
    }
    println!(
        "{half}: {} passages ({} injected), precision {:.3}, recall {:.3} (tp {} fp {} fn {} tn {})",
        set.len(),
        c.tp + c.fn_,
        c.precision(),
        c.recall(),
        c.tp,
        c.fp,
        c.fn_,
        c.tn
    );
    c
}

#[test]
fn detector_precision_and_recall_on_the_held_out_half() {
    let all = passages();
    assert!(all.len() >= 150, "{} passages", all.len());
    let (mut tune, mut held): (Vec<&Passage>, Vec<&Passage>) = (Vec::new(), Vec::new());
    for (i, p) in all.iter().enumerate() {
        if (i / 2) % 2 == 0 {
            tune.push(p);
        } else {
            held.push(p);
        }
    }
    let t = measure("tuned", &tune);
    let h = measure("held-out", &held);
    let both = Counts {
        tp: t.tp + h.tp,
        fp: t.fp + h.fp,
        fn_: t.fn_ + h.fn_,
        tn: t.tn + h.tn,
    };
    println!(
        "all: precision {:.3}, recall {:.3}",
        both.precision(),
        both.recall()
    );
    // Floors below what the held-out half gives (see the module docs for how to see
    // it), with a margin of a few passages either way.
    assert!(
        h.precision() >= 0.9,
        "held-out precision {:.3}",
        h.precision()
    );
    assert!(h.recall() >= 0.9, "held-out recall {:.3}", h.recall());
}
