//! Print the text docket extracts from one PDF, with its warnings and metadata on stderr:
//! `cargo run -p docket-ingest --example pdf_text -- FILE [PASSWORD]`.

// A command-line tool reports on the terminal.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use docket_ingest::pdf::PdfLoader;
use docket_ingest::{Limits, LoadContext, Loader};

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: pdf_text FILE [PASSWORD]");
        std::process::exit(2);
    };
    let password = args.next();
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(1);
        }
    };
    let limits = Limits::default();
    let mut ctx = LoadContext::new(&limits);
    ctx.pdf_password = password.as_deref();
    match PdfLoader.load(&bytes, &ctx) {
        Ok(ex) => {
            println!("{}", ex.text);
            eprintln!("title: {:?}", ex.title);
            eprintln!("metadata: {:?}", ex.metadata);
            for w in &ex.warnings {
                eprintln!("warning: {w}");
            }
        }
        Err(e) => {
            eprintln!("{path}: {e} ({})", e.kind());
            std::process::exit(1);
        }
    }
}
