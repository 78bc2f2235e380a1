//! Small helpers over lopdf objects: bounded dereferencing, typed look-ups, and the
//! [`Reader`] that decodes streams under the per-stream cap and the document's budget
//! and caches what several fonts share.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::io::Read;
use std::rc::Rc;

use lopdf::{Dictionary, Document, Object, ObjectId, Stream};

use super::cmap::CMap;
use super::encoding::ByteTable;
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

/// What reading one PDF has cost so far: the budget's account, and what tests assert on.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Work {
    /// Streams decoded (page contents, forms, font programs, CMaps, object streams).
    pub streams: u64,
    /// Bytes charged to the document's budget: decoded stream bytes, and the memory of
    /// the CMaps parsed from them.
    pub bytes: u64,
    /// CMaps parsed.
    pub cmaps_parsed: u64,
    /// CMaps asked for again (by another font) and served from the cache.
    pub cmap_hits: u64,
}

/// One PDF being read: its load context, one budget of decoded bytes shared by all its
/// streams, fonts and CMaps (`limits.max_document_decoded_bytes`), and the CMaps and
/// font encodings parsed so far, cached by the object id of their stream.
///
/// Fonts are cached by their dictionary, but many dictionaries may share one `ToUnicode`
/// CMap or font program: 400 font dictionaries sharing one 2 MiB CMap took 2.5 GB and
/// 16 s when each parsed its own copy. Parts that cannot fail the document (a font
/// falls back to defaults) record the budget's or the deadline's error here instead, and
/// the page fails at its next [`check`](Reader::check).
#[derive(Debug)]
pub struct Reader<'c> {
    pub ctx: &'c LoadContext<'c>,
    budget: u64,
    work: Cell<Work>,
    failed: RefCell<Option<DocError>>,
    cmaps: RefCell<HashMap<ObjectId, Option<Rc<CMap>>>>,
    encodings: RefCell<HashMap<ObjectId, Option<ByteTable>>>,
}

impl<'c> Reader<'c> {
    pub fn new(ctx: &'c LoadContext<'c>) -> Self {
        Reader {
            ctx,
            budget: ctx.limits.max_document_decoded_bytes,
            work: Cell::new(Work::default()),
            failed: RefCell::new(None),
            cmaps: RefCell::new(HashMap::new()),
            encodings: RefCell::new(HashMap::new()),
        }
    }

    pub fn work(&self) -> Work {
        self.work.get()
    }

    fn update(&self, f: impl FnOnce(&mut Work)) {
        let mut w = self.work.get();
        f(&mut w);
        self.work.set(w);
    }

    /// The first error a part that cannot fail recorded, and the deadline.
    pub fn check(&self) -> Result<(), DocError> {
        if let Some(e) = self.failed.borrow().as_ref() {
            return Err(e.clone());
        }
        self.ctx.deadline.check()
    }

    /// Remember an error for [`check`](Self::check) (the first one counts).
    pub fn fail(&self, e: DocError) {
        self.failed.borrow_mut().get_or_insert(e);
    }

    /// Bytes still in the budget.
    pub fn room(&self) -> u64 {
        self.budget.saturating_sub(self.work.get().bytes)
    }

    fn over_budget(&self, size: u64) -> DocError {
        let e = DocError::TooLarge {
            what: "the data decoded from the document",
            size,
            limit: self.budget,
        };
        self.fail(e.clone());
        e
    }

    /// Count `n` bytes against the budget.
    pub fn charge(&self, n: u64) -> Result<(), DocError> {
        self.update(|w| w.bytes = w.bytes.saturating_add(n));
        let spent = self.work.get().bytes;
        if spent > self.budget {
            return Err(self.over_budget(spent));
        }
        Ok(())
    }

    /// The decoded bytes of a stream, bounded by `limits.max_decompressed_bytes` and by
    /// what is left of the document's budget.
    pub fn stream_bytes(&self, stream: &Stream) -> Result<Vec<u8>, DocError> {
        self.stream_bytes_salvaged(stream).map(|(data, _)| data)
    }

    /// Like [`stream_bytes`](Self::stream_bytes), and also tells whether the data is
    /// damaged: a Flate stream that fails midway gives what inflated before the damage
    /// (`true`), so the text before it is kept and the caller can say that the rest is
    /// missing.
    ///
    /// Plain Flate streams are inflated here, everything else by lopdf, both bounded.
    /// lopdf hides a damaged stream behind partial output; a partly readable page beats
    /// an empty one, and the user is told.
    pub fn stream_bytes_salvaged(&self, stream: &Stream) -> Result<(Vec<u8>, bool), DocError> {
        self.check()?;
        let per_stream = self.ctx.limits.max_decompressed_bytes;
        let limit = per_stream.min(self.room());
        let too_large = |size: u64| {
            if limit < per_stream {
                self.over_budget(self.work.get().bytes.saturating_add(size))
            } else {
                DocError::TooLarge {
                    what: "decompressed stream",
                    size,
                    limit: per_stream,
                }
            }
        };
        let only_flate = matches!(
            stream.dict.get(b"Filter"),
            Ok(Object::Name(n)) if n == b"FlateDecode"
        ) && stream.dict.get(b"DecodeParms").is_err();
        let (data, damaged) = if only_flate {
            let mut out = Vec::new();
            let mut dec = flate2::read::ZlibDecoder::new(stream.content.as_slice()).take(limit + 1);
            // A read error midway leaves what was inflated so far in `out`.
            let damaged = dec.read_to_end(&mut out).is_err();
            if out.len() as u64 > limit {
                return Err(too_large(out.len() as u64));
            }
            (out, damaged)
        } else {
            let cap = usize::try_from(limit).unwrap_or(usize::MAX);
            match stream.get_plain_content_with_limit(cap) {
                Ok(data) if data.len() as u64 > limit => return Err(too_large(data.len() as u64)),
                Ok(data) => (data, false),
                Err(lopdf::Error::Decompress(lopdf::DecompressError::MemoryLimitExceeded {
                    ..
                })) => return Err(too_large(limit.saturating_add(1))),
                Err(e) => return Err(DocError::Corrupt(format!("undecodable stream: {e}"))),
            }
        };
        self.update(|w| w.streams += 1);
        self.charge(data.len() as u64)?;
        Ok((data, damaged))
    }

    /// The CMap in the stream `obj` refers to (a `ToUnicode` map or an embedded
    /// encoding), parsed once per stream object. `None` when it cannot be read.
    pub fn cmap(&self, doc: &Document, obj: &Object) -> Option<Rc<CMap>> {
        let (id, target) = deref_id(doc, obj)?;
        let Object::Stream(stream) = target else {
            return None;
        };
        if let Some(id) = id
            && let Some(cached) = self.cmaps.borrow().get(&id)
        {
            self.update(|w| w.cmap_hits += 1);
            return cached.clone();
        }
        let parsed = self.parse_cmap(stream).map(Rc::new);
        if let Some(id) = id {
            self.cmaps.borrow_mut().insert(id, parsed.clone());
        }
        parsed
    }

    fn parse_cmap(&self, stream: &Stream) -> Option<CMap> {
        let data = self.stream_bytes(stream).ok()?;
        self.update(|w| w.cmaps_parsed += 1);
        let cmap = match CMap::parse(&data, self.ctx) {
            Ok(c) => c,
            Err(e) => {
                self.fail(e);
                return None;
            }
        };
        drop(data);
        self.charge(cmap.heap_bytes()).ok()?;
        Some(cmap)
    }

    /// A font program's built-in encoding, read once per stream object by `read`.
    pub fn encoding(
        &self,
        id: Option<ObjectId>,
        read: impl FnOnce() -> Option<ByteTable>,
    ) -> Option<ByteTable> {
        if let Some(id) = id
            && let Some(cached) = self.encodings.borrow().get(&id)
        {
            return *cached;
        }
        let table = read();
        if let Some(id) = id {
            self.encodings.borrow_mut().insert(id, table);
        }
        table
    }
}

/// Like [`deref`], and also the id of the last reference followed (the object's id,
/// when it is an indirect object).
pub fn deref_id<'a>(
    doc: &'a Document,
    mut obj: &'a Object,
) -> Option<(Option<ObjectId>, &'a Object)> {
    let mut id = None;
    for _ in 0..MAX_REF_CHAIN {
        match obj {
            Object::Reference(r) => {
                id = Some(*r);
                obj = doc.objects.get(r)?;
            }
            other => return Some((id, other)),
        }
    }
    None
}
