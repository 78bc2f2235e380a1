//! Feeds arbitrary bytes to the records reader (CSV, TSV, JSON Lines) as production runs
//! it: the default limits, each row made a document and chunked. The first byte picks the
//! options: bits 0-1 the kind (CSV, TSV, JSON Lines, or sniffed from the bytes), bit 2
//! HTML text columns, bit 3 `;` as delimiter, bit 4 no header row (columns `1`, `2`, ...).
//! Every row must be a record or an error, the iteration must end, and nothing may panic.
#![no_main]

use std::sync::Arc;

use docket_ingest::records::{RecordError, RecordKind, RecordOptions, read};
use docket_ingest::{ApproxTokenizer, Chunker, ChunkingConfig, Limits, LoadContext};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else {
        return;
    };
    let mut opts = RecordOptions {
        kind: [
            Some(RecordKind::Csv),
            Some(RecordKind::Tsv),
            Some(RecordKind::Jsonl),
            None,
        ][usize::from(pick & 3)],
        html: pick & 4 != 0,
        ..RecordOptions::default()
    };
    if pick & 8 != 0 {
        opts.delimiter = Some(b';');
    }
    if pick & 16 != 0 {
        opts.has_headers = false;
        opts.text_columns = vec!["2".into()];
        opts.title_column = Some("1".into());
    }
    let limits = Limits::default();
    let ctx = LoadContext::new(&limits);
    let chunker = Chunker::new(ChunkingConfig::default(), Arc::new(ApproxTokenizer))
        .expect("default chunking settings are valid");
    let format = opts.kind.unwrap_or(RecordKind::Csv).format();
    for row in read(bytes, &opts, &ctx) {
        match row {
            Ok(record) => {
                let doc = record.into_document("fuzz.csv", format);
                let _ = chunker.chunk(&doc);
            }
            Err(RecordError::Panic { message, .. }) => panic!("{message}"),
            Err(_) => {}
        }
    }
});
