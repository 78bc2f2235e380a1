//! Feeds arbitrary bytes to every single-document loader; the first byte picks the
//! format. Every loader must return text or an error, never panic, hang or exhaust
//! memory.
#![no_main]

use docket_ingest::{Format, Limits, LoadContext, loader_for};

const FORMATS: [Format; 6] = [
    Format::Pdf,
    Format::Text,
    Format::Markdown,
    Format::Html,
    Format::Docx,
    Format::Email,
];

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else {
        return;
    };
    let limits = Limits {
        max_decompressed_bytes: 16 << 20,
        parse_timeout_secs: 10,
        ..Limits::default()
    };
    let ctx = LoadContext::new(&limits);
    if let Some(loader) = loader_for(FORMATS[pick as usize % FORMATS.len()]) {
        let _ = loader.load(bytes, &ctx);
    }
});
