//! The PDF loader: opens the file with lopdf (decrypting it when the empty or the given
//! password opens it, rebuilding a damaged cross-reference table), then extracts the text
//! of each page in reading order.
//!
//! Pages are processed one at a time: only the current page's content streams are
//! decoded, so memory stays near the size of the parsed file plus one page, whatever the
//! page count. Every stream is decoded under `limits.max_decompressed_bytes`, and all
//! of a document's decoding (streams, each drawing of a form, fonts, CMaps) draws on one
//! budget, `limits.max_document_decoded_bytes` ([`objects::Reader`]); CMaps and font
//! encodings shared by several fonts are parsed once. Form XObjects nest at most
//! `limits.max_depth` deep, and the deadline and the text cap are checked as pages,
//! operators and shown character codes go by.

mod cmap;
mod content;
mod encoding;
mod font;
mod layout;
mod lexer;
mod objects;
mod recover;
mod scan;
mod std14;

#[cfg(test)]
pub(crate) mod tests;

use lopdf::encryption::DecryptionError;
use lopdf::{Dictionary, Document, LoadOptions, Object, ObjectId};

use crate::document::{Extracted, TextBuilder};
use crate::error::DocError;
use crate::loader::{LoadContext, Loader};
use crate::ocr::{OcrMode, PageResult};
use content::{FontCache, Interpreter};
use objects::{Reader, Work, deref, dict_get, dict_of};

/// Deepest page-tree ancestry searched for inherited attributes.
const MAX_INHERIT: usize = 32;

/// Loads PDF files. Stateless; one instance serves all threads.
#[derive(Debug, Clone, Copy, Default)]
pub struct PdfLoader;

impl Loader for PdfLoader {
    fn name(&self) -> &'static str {
        "pdf"
    }

    fn load(&self, bytes: &[u8], ctx: &LoadContext<'_>) -> Result<Extracted, DocError> {
        extract(bytes, ctx).map(|(extracted, _)| extracted)
    }
}

/// The loader's work, and what it cost.
fn extract(bytes: &[u8], ctx: &LoadContext<'_>) -> Result<(Extracted, Work), DocError> {
    let rd = Reader::new(ctx);
    let extracted = extract_with(bytes, &rd)?;
    Ok((extracted, rd.work()))
}

fn extract_with(bytes: &[u8], rd: &Reader<'_>) -> Result<Extracted, DocError> {
    let ctx = rd.ctx;
    let (doc, rescued) = open(bytes, rd)?;
    let mut b = TextBuilder::new();
    if rescued {
        b.warn("the file is damaged or truncated: its pages were found by scanning and some may be missing or out of order");
    } else if doc.xref_recovery.is_some() {
        b.warn("the cross-reference table was damaged and has been rebuilt; some objects may be missing");
    }
    metadata(&doc, &mut b);

    // A page object belongs to one parent; a page tree that lists one twice has a
    // cycle or a shared kid, and each page is read once.
    let mut seen = std::collections::HashSet::new();
    let listed = doc.page_iter().count();
    let pages: Vec<ObjectId> = doc.page_iter().filter(|id| seen.insert(*id)).collect();
    if listed > pages.len() {
        b.warn(format!(
                "the page tree lists pages more than once ({listed} entries for {} pages); each page was read once",
                pages.len()
            ));
    }
    if pages.is_empty() {
        return Err(DocError::Corrupt("no pages found".into()));
    }
    b.metadata("pages", pages.len().to_string());
    let ocr = ctx.ocr.filter(|o| o.mode() != OcrMode::Never);
    let mut fonts = FontCache::new();
    let mut texts = Vec::with_capacity(pages.len());
    let mut tasks = Vec::new();
    let mut needs = Vec::new();
    let mut so_far = 0;
    let mut hidden_pages: Vec<String> = Vec::new();
    for (n, &page_id) in pages.iter().enumerate() {
        ctx.deadline.check()?;
        let mut page = extract_page(&doc, page_id, rd, &mut fonts)?;
        // What a reader cannot see is not the page's text (and is a way to put words
        // before a model that no reviewer reads): left out, and said.
        let hidden = page.take_hidden();
        if !hidden.trim().is_empty() {
            hidden_pages.push((n + 1).to_string());
            let words: Vec<&str> = hidden.split_whitespace().collect();
            let shown: String = words.iter().take(12).copied().collect::<Vec<_>>().join(" ");
            let more = if words.len() > 12 { " ..." } else { "" };
            let instructs = crate::instructions::detect(&hidden)
                .map(|f| format!(" (it gives instructions to an assistant: {})", f.reason()))
                .unwrap_or_default();
            b.warn(format!(
                "page {}: {} words of hidden text (invisible, white or under {} pt) left out: \"{shown}{more}\"{instructs}",
                n + 1,
                words.len(),
                content::TINY_SIZE
            ));
        }
        if page.too_deep {
            b.warn(format!(
                "page {}: form XObjects nested deeper than {} (or drew themselves) were skipped",
                n + 1,
                ctx.limits.max_depth
            ));
        }
        if page.unreadable_streams > 0 {
            b.warn(format!(
                    "page {}: {} content stream(s) could not be fully decoded (corrupt data); some text is missing",
                    n + 1,
                    page.unreadable_streams
                ));
        }
        let text = layout::page_text(&page);
        let has_text_layer = !(page.codes_shown == 0 && page.images > 0);
        // Fonts that map under half of what they show give more noise than text.
        let unmapped = page.codes_shown > 0 && page.codes_mapped * 2 < page.codes_shown;
        let need = match ocr.map(|o| o.mode()) {
            Some(OcrMode::Always) => Some(Need::Always),
            Some(OcrMode::Auto) if !has_text_layer => Some(Need::Scan),
            Some(OcrMode::Auto) if unmapped => Some(Need::Unmapped),
            _ => None,
        };
        match (need, ocr) {
            (Some(need), Some(o)) => {
                let single_image = page.codes_shown == 0 && page.images == 1;
                let page_box = page_box(
                    &doc,
                    doc.get_dictionary(page_id).unwrap_or(&Dictionary::new()),
                );
                tasks.push(scan::Task {
                    page: n as u32 + 1,
                    source: scan::source(&doc, page_id, page_box, single_image, o.options()),
                });
                needs.push((n, need));
            }
            _ => {
                if !has_text_layer {
                    b.warn(format!(
                        "page {} has no text layer (scanned image?); OCR is off",
                        n + 1
                    ));
                }
                if unmapped && page.codes_mapped == 0 {
                    b.warn(format!(
                        "page {}: its text uses fonts without a Unicode mapping and could not be extracted",
                        n + 1
                    ));
                }
            }
        }
        so_far += text.text.len();
        ctx.check_text(so_far)?;
        texts.push((text, has_text_layer));
    }
    if !hidden_pages.is_empty() {
        b.metadata("hidden_text_pages", hidden_pages.join(","));
    }
    let mut recognised: Vec<Option<PageResult>> = vec![None; pages.len()];
    if let Some(o) = ocr
        && !tasks.is_empty()
    {
        let results = match o.check() {
            Ok(()) => scan::recognize(o, &doc, bytes, &tasks, ctx)?,
            Err(why) => vec![Err(why); tasks.len()],
        };
        for ((n, _), r) in needs.iter().zip(results) {
            recognised[*n] = Some(r);
        }
    }
    let reasons: std::collections::HashMap<usize, Need> = needs.into_iter().collect();
    let (mut ocr_pages, mut low) = (Vec::new(), Vec::new());
    let last = texts.len();
    let mut last_layer = true;
    let mut failures: Vec<(Need, String, Vec<usize>)> = Vec::new();
    for (n, (text, has_text_layer)) in texts.into_iter().enumerate() {
        let number = n + 1;
        match (recognised[n].take(), reasons.get(&n)) {
            (Some(Ok(result)), Some(_)) => {
                let page = result.into_iter().next();
                let words = page.as_ref().map_or(0, |p| p.words);
                let confidence = page.as_ref().and_then(|p| p.confidence);
                b.push_str(page.as_ref().map_or("", |p| p.text.as_str()));
                ocr_pages.push(number.to_string());
                let threshold = ocr.map_or(0.0, |o| f32::from(o.options().low_confidence));
                if words == 0 {
                    b.warn(format!("page {number}: OCR found no text on it"));
                } else if confidence.is_some_and(|c| c < threshold) {
                    low.push(number.to_string());
                    b.warn(format!(
                        "page {number}: OCR confidence is low ({:.0} of 100); its text may be wrong",
                        confidence.unwrap_or(0.0)
                    ));
                }
                b.page_ocr(
                    confidence.unwrap_or(0.0),
                    confidence.is_some_and(|c| c < threshold),
                );
            }
            (Some(Err(why)), Some(need)) => {
                push_page(&mut b, text);
                // One warning per reason, naming its pages (a 500-page scan without
                // Tesseract gets one line, not 500).
                match failures.iter_mut().find(|(n, w, _)| n == need && *w == why) {
                    Some((_, _, pages)) => pages.push(number),
                    None => failures.push((*need, why, vec![number])),
                }
            }
            _ => push_page(&mut b, text),
        }
        ctx.check_text(b.len())?;
        if number < last {
            b.break_page(has_text_layer);
        } else {
            last_layer = has_text_layer;
        }
    }
    for (need, why, pages) in failures {
        let one = pages.len() == 1;
        let pages = page_list(&pages);
        b.warn(match (need, one) {
            (Need::Scan, true) => format!(
                "page {pages} has no text layer (scanned image?) and was not OCRed: {why}"
            ),
            (Need::Scan, false) => format!(
                "pages {pages} have no text layer (scanned images?) and were not OCRed: {why}"
            ),
            (Need::Unmapped, true) => format!(
                "page {pages}: its text uses fonts without a Unicode mapping and was not OCRed: {why}"
            ),
            (Need::Unmapped, false) => format!(
                "pages {pages}: their text uses fonts without a Unicode mapping and was not OCRed: {why}"
            ),
            (Need::Always, true) => format!("page {pages} was not OCRed: {why}"),
            (Need::Always, false) => format!("pages {pages} were not OCRed: {why}"),
        });
    }
    if !ocr_pages.is_empty() {
        b.metadata("ocr_pages", ocr_pages.join(","));
    }
    if !low.is_empty() {
        b.metadata("ocr_low_confidence_pages", low.join(","));
    }
    Ok(b.finish(last_layer))
}

/// Append a page's text and record its tables.
fn push_page(b: &mut TextBuilder, page: layout::PageText) {
    let base = b.len();
    b.push_str(&page.text);
    for (start, end, header) in page.tables {
        b.table(base + start, base + end, header);
    }
}

/// Page numbers as ranges: `1-3, 5`.
fn page_list(pages: &[usize]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < pages.len() {
        let mut j = i;
        while j + 1 < pages.len() && pages[j + 1] == pages[j] + 1 {
            j += 1;
        }
        out.push(if j > i {
            format!("{}-{}", pages[i], pages[j])
        } else {
            pages[i].to_string()
        });
        i = j + 1;
    }
    out.join(", ")
}

/// Why a page is OCRed, for the warning when it cannot be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    Scan,
    Unmapped,
    Always,
}

/// Parse the file, handling encryption and damage; as a last resort, look for the pages
/// of a file whose structure is lost (see [`recover`]).
fn open(bytes: &[u8], rd: &Reader<'_>) -> Result<(Document, bool), DocError> {
    let ctx = rd.ctx;
    let err = match open_as_is(bytes, ctx) {
        Ok(doc) if doc.page_iter().next().is_some() => return Ok((doc, false)),
        Ok(_) => DocError::Corrupt("no pages found".into()),
        Err(e @ DocError::Corrupt(_)) => e,
        Err(e) => return Err(e),
    };
    let Some(patched) = recover::with_synthetic_catalog(bytes, rd) else {
        return Err(err);
    };
    match open_as_is(&patched, ctx) {
        Ok(doc) if doc.page_iter().next().is_some() => Ok((doc, true)),
        _ => Err(err),
    }
}

fn open_as_is(bytes: &[u8], ctx: &LoadContext<'_>) -> Result<Document, DocError> {
    let head = &bytes[..bytes.len().min(1024)];
    if !head.windows(5).any(|w| w == b"%PDF-") {
        return Err(DocError::WrongFormat {
            expected: "PDF",
            reason: "no %PDF- header".into(),
        });
    }
    let options = LoadOptions {
        password: ctx.pdf_password.map(str::to_string),
        filter: Some(drop_unused_objects),
        max_decompressed_size: Some(
            usize::try_from(ctx.limits.max_decompressed_bytes).unwrap_or(usize::MAX),
        ),
        ..LoadOptions::default()
    };
    let rebuild_options = LoadOptions {
        force_reconstruct: true,
        ..options.clone()
    };
    let mut doc = match Document::load_mem_with_options(bytes, options) {
        Ok(doc) => doc,
        Err(e) if ctx.pdf_password.is_some() && !is_too_large(&e) => {
            // Before blaming the password, make sure the scheme is one we can open at all.
            let plain = LoadOptions {
                password: None,
                ..LoadOptions::default()
            };
            if let Ok(doc) = Document::load_mem_with_options(bytes, plain)
                && let Some(why) = unsupported_scheme(&doc)
            {
                return Err(DocError::UnsupportedEncryption(why));
            }
            return Err(map_load_error(e, ctx));
        }
        Err(e) => return Err(map_load_error(e, ctx)),
    };
    fn is_too_large(e: &lopdf::Error) -> bool {
        matches!(
            e,
            lopdf::Error::Decompress(lopdf::DecompressError::MemoryLimitExceeded { .. })
        )
    }
    // lopdf returns an encrypted document undecrypted when no password opened it.
    if doc.is_encrypted() && doc.encryption_state.is_none() {
        return Err(encryption_error(&doc, ctx));
    }
    // A cross-reference table that reads but points at the wrong bytes leaves no page
    // tree. lopdf rebuilds the table by scanning for objects then, but not for a filtered
    // load like ours, so ask for the rebuild here.
    if doc.page_iter().next().is_none()
        && doc.xref_recovery != Some(lopdf::xref::XrefRecovery::Reconstructed)
        && let Ok(rebuilt) = Document::load_mem_with_options(bytes, rebuild_options)
        && rebuilt.page_iter().next().is_some()
    {
        doc = rebuilt;
    }
    Ok(doc)
}

/// Why lopdf cannot decrypt this document whatever the password, if that is the case:
/// it implements only the standard security handler, versions 1, 2, 4 and 5.
fn unsupported_scheme(doc: &Document) -> Option<String> {
    let enc = doc.get_encrypted().ok()?;
    let filter = objects::name_of(doc, dict_get(enc, b"Filter")).unwrap_or(b"");
    if filter != b"Standard" {
        return Some(format!(
            "security handler /{} (only the standard password handler is supported)",
            String::from_utf8_lossy(filter)
        ));
    }
    let v = objects::num_of(doc, dict_get(enc, b"V")).unwrap_or(0.0) as i64;
    if ![1, 2, 4, 5].contains(&v) {
        return Some(format!("encryption version /V {v}"));
    }
    None
}

/// Load filter: drop objects text extraction never reads, as they are parsed. Hyperlinked
/// documents hold tens of thousands of link annotations, destinations and outline items,
/// and lopdf's in-memory form of them costs far more than their bytes in the file
/// (a 7 MB manual with 60,000 links took 400 MB to load; this removes most of that).
fn drop_unused_objects(id: ObjectId, obj: &mut Object) -> Option<(ObjectId, Object)> {
    if let Object::Dictionary(d) = &*obj {
        let has = |k: &[u8]| d.has(k);
        let is_annot = matches!(d.get(b"Type"), Ok(Object::Name(n)) if n == b"Annot");
        let is_dest = d.len() == 1 && has(b"D");
        let is_action = d.len() == 2 && has(b"S") && has(b"D");
        let is_name_tree = has(b"Limits") && (has(b"Names") || has(b"Kids"));
        let is_outline_item = has(b"Title") && has(b"Parent") && (has(b"A") || has(b"Dest"));
        if is_annot || is_dest || is_action || is_name_tree || is_outline_item {
            return None;
        }
    }
    // lopdf keeps `obj` for objects read directly and uses the returned copy for those
    // from object streams, which never hold streams: return a copy of small objects only.
    match obj {
        Object::Stream(_) => Some((id, Object::Null)),
        other => Some((id, other.clone())),
    }
}

fn encryption_error(doc: &Document, ctx: &LoadContext<'_>) -> DocError {
    if let Some(why) = unsupported_scheme(doc) {
        return DocError::UnsupportedEncryption(why);
    }
    // Tell "needs a password" from "we cannot decrypt this scheme at all".
    match doc.authenticate_password(ctx.pdf_password.unwrap_or("")) {
        Err(lopdf::Error::Decryption(e)) if is_unsupported(&e) => {
            DocError::UnsupportedEncryption(e.to_string())
        }
        _ if ctx.pdf_password.is_some() => DocError::WrongPassword,
        _ => DocError::PasswordRequired,
    }
}

fn is_unsupported(e: &DecryptionError) -> bool {
    matches!(
        e,
        DecryptionError::UnsupportedEncryption
            | DecryptionError::UnsupportedVersion
            | DecryptionError::UnsupportedRevision
    )
}

fn map_load_error(e: lopdf::Error, ctx: &LoadContext<'_>) -> DocError {
    match e {
        lopdf::Error::InvalidPassword => {
            if ctx.pdf_password.is_some() {
                DocError::WrongPassword
            } else {
                DocError::PasswordRequired
            }
        }
        lopdf::Error::Decryption(d) if is_unsupported(&d) => {
            DocError::UnsupportedEncryption(d.to_string())
        }
        lopdf::Error::Decryption(DecryptionError::IncorrectPassword) => {
            if ctx.pdf_password.is_some() {
                DocError::WrongPassword
            } else {
                DocError::PasswordRequired
            }
        }
        lopdf::Error::Decompress(lopdf::DecompressError::MemoryLimitExceeded { .. }) => {
            DocError::TooLarge {
                what: "decompressed stream",
                size: ctx.limits.max_decompressed_bytes.saturating_add(1),
                limit: ctx.limits.max_decompressed_bytes,
            }
        }
        other => DocError::Corrupt(format!("cannot parse the PDF structure: {other}")),
    }
}

/// Title, author, dates and producer from the Info dictionary.
fn metadata(doc: &Document, b: &mut TextBuilder) {
    let Some(info) = dict_of(doc, dict_get(&doc.trailer, b"Info")) else {
        return;
    };
    let text = |key: &[u8]| -> Option<String> {
        let obj = deref(doc, dict_get(info, key)?)?;
        let s = lopdf::decode_text_string(obj).ok()?;
        let s = crate::normalize::normalize_text(&s);
        let s = s.trim();
        (!s.is_empty()).then(|| s.to_string())
    };
    if let Some(title) = text(b"Title") {
        b.set_title(title);
    }
    if let Some(author) = text(b"Author") {
        b.metadata("author", author);
    }
    if let Some(producer) = text(b"Producer") {
        b.metadata("producer", producer);
    }
    if let Some(created) = text(b"CreationDate") {
        b.metadata("created", pdf_date(&created).unwrap_or(created));
    }
}

/// `D:YYYYMMDDHHmmSS+HH'mm'` to ISO 8601 (as much of it as is there).
fn pdf_date(s: &str) -> Option<String> {
    let s = s.strip_prefix("D:").unwrap_or(s);
    let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
    if digits.len() < 4 {
        return None;
    }
    let part = |i: usize, def: &str| digits.get(i..i + 2).unwrap_or(def).to_string();
    let mut out = format!("{}-{}-{}", &digits[..4], part(4, "01"), part(6, "01"));
    if digits.len() >= 12 {
        out.push_str(&format!(
            "T{}:{}:{}",
            part(8, "00"),
            part(10, "00"),
            part(12, "00")
        ));
        let rest = &s[digits.len()..];
        match rest.chars().next() {
            Some('Z') => out.push('Z'),
            Some(sign @ ('+' | '-')) => {
                let tz: String = rest[1..].chars().filter(char::is_ascii_digit).collect();
                if tz.len() >= 2 {
                    out.push(sign);
                    out.push_str(&tz[..2]);
                    out.push(':');
                    out.push_str(tz.get(2..4).unwrap_or("00"));
                }
            }
            _ => {}
        }
    }
    Some(out)
}

/// An attribute of a page, inherited from the page tree when the page lacks it.
fn inherited<'a>(doc: &'a Document, page: &'a Dictionary, key: &[u8]) -> Option<&'a Object> {
    let mut node = page;
    for _ in 0..MAX_INHERIT {
        if let Some(v) = dict_get(node, key) {
            return Some(v);
        }
        node = dict_of(doc, dict_get(node, b"Parent"))?;
    }
    None
}

/// Run one page's content streams.
fn extract_page(
    doc: &Document,
    page_id: ObjectId,
    rd: &Reader<'_>,
    fonts: &mut FontCache,
) -> Result<content::PageContent, DocError> {
    let ctx = rd.ctx;
    let Ok(page) = doc.get_dictionary(page_id) else {
        return Ok(content::PageContent::default());
    };
    let resources = dict_of(doc, inherited(doc, page, b"Resources"));
    let mut data = Vec::new();
    let mut unreadable = 0;
    for id in doc.get_page_contents(page_id) {
        let Some(Object::Stream(stream)) = doc.objects.get(&id) else {
            continue;
        };
        match rd.stream_bytes_salvaged(stream) {
            Ok((bytes, damaged)) => {
                unreadable += usize::from(damaged);
                data.extend_from_slice(&bytes);
                data.push(b'\n');
                ctx.check_decompressed(data.len() as u64)?;
            }
            // One unreadable stream must not cost the rest of the page.
            Err(DocError::Corrupt(_)) => unreadable += 1,
            Err(e) => return Err(e),
        }
    }
    let page_box = page_box(doc, page);
    let mut interp = Interpreter::new(doc, rd, fonts, page_box);
    interp.run(&data, resources, content::IDENTITY, 0)?;
    let mut content = interp.finish();
    content.unreadable_streams = unreadable;
    Ok(content)
}

/// The page's visible area: its crop box, else its media box, normalised so that
/// `x0 <= x1` and `y0 <= y1`. Unbounded when neither is readable.
fn page_box(doc: &Document, page: &Dictionary) -> [f32; 4] {
    let read = |key: &[u8]| -> Option<[f32; 4]> {
        let arr = deref(doc, inherited(doc, page, key)?)?.as_array().ok()?;
        let v: Vec<f32> = arr
            .iter()
            .filter_map(|o| objects::num_of(doc, Some(o)))
            .collect();
        let [a, b, c, d] = <[f32; 4]>::try_from(v.as_slice()).ok()?;
        let bx = [a.min(c), b.min(d), a.max(c), b.max(d)];
        (bx[2] - bx[0] > 1.0 && bx[3] - bx[1] > 1.0).then_some(bx)
    };
    read(b"CropBox").or_else(|| read(b"MediaBox")).unwrap_or([
        f32::MIN,
        f32::MIN,
        f32::MAX,
        f32::MAX,
    ])
}
