//! What production does with the bytes of one single-document file, minus the thread
//! and `catch_unwind` of `Ingestor::parse_guarded` (a panic must reach the fuzzer): the
//! loader under the default limits and deadline, the text cap, the field caps of
//! `Document::new`, and chunking.

use std::sync::Arc;

use docket_ingest::{
    ApproxTokenizer, Chunker, ChunkingConfig, Document, Format, Limits, LoadContext, loader_for,
};

pub fn load(format: Format, bytes: &[u8]) {
    let limits = Limits::default();
    let ctx = LoadContext::new(&limits);
    let loader = loader_for(format).expect("a single-document format");
    let Ok(extracted) = loader.load(bytes, &ctx) else {
        return;
    };
    if ctx.check_text(extracted.text.len()).is_err() {
        return;
    }
    let doc = Document::new("fuzz".into(), format, String::new(), extracted);
    let chunker = Chunker::new(ChunkingConfig::default(), Arc::new(ApproxTokenizer))
        .expect("default chunking settings are valid");
    let _ = chunker.chunk(&doc);
}
