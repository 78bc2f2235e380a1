//! Integration tests: they run the real `docket` binary on real files.
//!
//! `pdfgen` writes the PDF fixtures; `pdfgen_sanity` checks them with lopdf alone, so it
//! runs whatever the state of the CLI. The other modules drive `docket` itself;
//! `hostile` indexes a folder of crafted files mixed with good ones.

mod browser;
mod chunking;
mod crashes;
mod forget;
mod hostile;
mod index_search;
mod injection;
mod jobs;
mod ocr;
mod office;
mod pdf_fixtures;
mod pdfgen;
mod pdfgen_sanity;
mod provenance;
mod qdrant;
mod redact;
mod sample_archive;
mod serve;
mod summarize_abstractive;
mod util;
