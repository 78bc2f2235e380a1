//! Small helpers over lopdf objects: bounded dereferencing, typed look-ups, and stream
//! decoding under the document's size cap.

use std::io::Read;

use lopdf::{Dictionary, Document, Object, Stream};

use crate::error::DocError;
use crate::loader::LoadContext;

/// Longest chain of references followed to reach a direct object.
const MAX_REF_CHAIN: usize = 16;

/// Follow references (a bounded number of them) to a direct object.
pub fn deref<'a>(doc: &'a Document, mut obj: &'a Object) -> Option<&'a Object> {
    for _ in 0..MAX_REF_CHAIN {
        match obj {
            Object::Reference(id) => obj = doc.objects.get(id)?,
            other => return Some(other),
        }
    }
    None
}

pub fn dict_get<'a>(dict: &'a Dictionary, key: &[u8]) -> Option<&'a Object> {
    dict.get(key).ok()
}

/// The dictionary `key` of `dict` refers to, if any.
pub fn dict_of<'a>(doc: &'a Document, obj: Option<&'a Object>) -> Option<&'a Dictionary> {
    match deref(doc, obj?)? {
        Object::Dictionary(d) => Some(d),
        Object::Stream(s) => Some(&s.dict),
        _ => None,
    }
}

pub fn name_of<'a>(doc: &'a Document, obj: Option<&'a Object>) -> Option<&'a [u8]> {
    match deref(doc, obj?)? {
        Object::Name(n) => Some(n),
        _ => None,
    }
}

pub fn num_of(doc: &Document, obj: Option<&Object>) -> Option<f32> {
    match deref(doc, obj?)? {
        Object::Integer(i) => Some(*i as f32),
        Object::Real(r) => Some(*r).filter(|r| r.is_finite()),
        _ => None,
    }
}

/// The decoded bytes of a stream, bounded by `limits.max_decompressed_bytes`.
///
/// Plain Flate streams are inflated here, everything else by lopdf, both bounded. A
/// damaged Flate stream (a truncated download, a bad checksum) gives what inflated before
/// the damage, because a partly readable page beats an empty one.
pub fn stream_bytes(stream: &Stream, ctx: &LoadContext<'_>) -> Result<Vec<u8>, DocError> {
    stream_bytes_salvaged(stream, ctx).map(|(data, _)| data)
}

/// Like [`stream_bytes`], and also tells whether the data is damaged: a Flate stream
/// that fails midway gives what inflated before the damage (`true`), so the text before
/// it is kept and the caller can say that the rest is missing.
pub fn stream_bytes_salvaged(
    stream: &Stream,
    ctx: &LoadContext<'_>,
) -> Result<(Vec<u8>, bool), DocError> {
    let limit = usize::try_from(ctx.limits.max_decompressed_bytes).unwrap_or(usize::MAX);
    let only_flate = matches!(
        stream.dict.get(b"Filter"),
        Ok(Object::Name(n)) if n == b"FlateDecode"
    ) && stream.dict.get(b"DecodeParms").is_err();
    if only_flate {
        // The common case, inflated here rather than by lopdf, which hides a damaged
        // stream behind partial output.
        let mut out = Vec::new();
        let mut dec =
            flate2::read::ZlibDecoder::new(stream.content.as_slice()).take(limit as u64 + 1);
        // A read error midway leaves what was inflated so far in `out`.
        let damaged = dec.read_to_end(&mut out).is_err();
        ctx.check_decompressed(out.len() as u64)?;
        return Ok((out, damaged));
    }
    match stream.get_plain_content_with_limit(limit) {
        Ok(data) => Ok((data, false)),
        Err(lopdf::Error::Decompress(lopdf::DecompressError::MemoryLimitExceeded { .. })) => {
            Err(DocError::TooLarge {
                what: "decompressed stream",
                size: ctx.limits.max_decompressed_bytes.saturating_add(1),
                limit: ctx.limits.max_decompressed_bytes,
            })
        }
        Err(e) => Err(DocError::Corrupt(format!("undecodable stream: {e}"))),
    }
}
