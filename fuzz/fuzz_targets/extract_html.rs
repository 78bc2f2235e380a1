//! Feeds arbitrary bytes to the HTML loader as production runs it (see `common`): it must
//! return text or an error, never panic, hang or exhaust memory.
#![no_main]

mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| common::load(docket_ingest::Format::Html, data));
