//! Feeds arbitrary bytes to the PDF loader: it must return text or an error, never panic,
//! hang or exhaust memory.
#![no_main]

use docket_ingest::{Format, Limits, LoadContext, loader_for};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_decompressed_bytes: 16 << 20,
        parse_timeout_secs: 10,
        ..Limits::default()
    };
    let ctx = LoadContext::new(&limits);
    if let Some(loader) = loader_for(Format::Pdf) {
        let _ = loader.load(data, &ctx);
    }
});
