//! The images of PDF pages that need OCR, and their recognition in parallel.
//!
//! A page that is one image (a scan) gives that image as it is stored when Tesseract
//! can read it without a full decoder: JPEG (`DCTDecode`) passed through, raw or
//! Flate-compressed grey, RGB, indexed and bilevel pixels written as PNM, CCITT fax data
//! wrapped in a TIFF. Anything else (JBIG2, JPEG 2000, CMYK, images with text or
//! drawings on top, pages set in unmapped fonts) is rasterized by `pdftoppm`, at the
//! configured resolution or lower, so that no image passes `max_pixels`.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use lopdf::{Dictionary, Document, Object, ObjectId, Stream};

use super::objects::{deref, dict_get, dict_of, name_of, num_of};
use crate::error::DocError;
use crate::loader::LoadContext;
use crate::ocr::{self, ImageKind, Ocr, PageImage, PageResult};

/// How one page's image reaches Tesseract.
#[derive(Debug)]
pub(super) enum Source {
    /// The page's one image (this stream object), decoded on a worker thread: only
    /// the pages being recognised hold a copy of their image.
    Image {
        id: ObjectId,
        layout: Layout,
        dpi: Option<u32>,
    },
    /// Rendered by `pdftoppm` at this resolution.
    Render { dpi: u32 },
}

/// What the image stream holds.
#[derive(Debug)]
pub(super) enum Layout {
    Jpeg,
    Fax {
        width: u32,
        height: u32,
        k: i64,
        byte_aligned: bool,
        black_is_one: bool,
    },
    Pixels {
        width: u32,
        height: u32,
        components: u8,
        bits: u8,
        black_is_one: bool,
        /// Indexed colour: the base space's components and the lookup table.
        palette: Option<Palette>,
    },
}

/// One page to recognise.
#[derive(Debug)]
pub(super) struct Task {
    /// 1-based page number.
    pub page: u32,
    pub source: Source,
}

/// How to get the image of page `page_id`. `single_image`: the page draws one image
/// and no text.
pub(super) fn source(
    doc: &Document,
    page_id: ObjectId,
    page_box: [f32; 4],
    single_image: bool,
    options: &ocr::OcrOptions,
) -> Source {
    let area_in2 = {
        let (w, h) = (page_box[2] - page_box[0], page_box[3] - page_box[1]);
        if w.is_finite() && h.is_finite() && w < 1e5 && h < 1e5 {
            f64::from(w / 72.0) * f64::from(h / 72.0)
        } else {
            8.5 * 11.0
        }
    };
    let render_dpi = {
        let cap = (options.max_pixels as f64 / area_in2.max(0.01))
            .sqrt()
            .floor();
        (options.dpi as f64).min(cap).max(36.0) as u32
    };
    let render = Source::Render { dpi: render_dpi };
    if !single_image {
        return render;
    }
    let Some((id, stream)) = the_image(doc, page_id) else {
        return render;
    };
    let d = &stream.dict;
    let width = num_of(doc, dict_get(d, b"Width")).unwrap_or(0.0) as u32;
    let height = num_of(doc, dict_get(d, b"Height")).unwrap_or(0.0) as u32;
    let pixels = u64::from(width) * u64::from(height);
    if width == 0 || height == 0 || pixels > options.max_pixels {
        return render;
    }
    let dpi = ((pixels as f64 / area_in2.max(0.01)).sqrt().round() as u32).clamp(36, 1200);
    let filters: Vec<&[u8]> = match dict_get(d, b"Filter").and_then(|f| deref(doc, f)) {
        None => Vec::new(),
        Some(Object::Name(n)) => vec![n.as_slice()],
        Some(Object::Array(a)) => a.iter().filter_map(|o| name_of(doc, Some(o))).collect(),
        Some(_) => return render,
    };
    let params = match dict_get(d, b"DecodeParms").and_then(|p| deref(doc, p)) {
        Some(Object::Array(a)) => a.last().and_then(|p| dict_of(doc, Some(p))),
        other => other.and_then(|p| dict_of(doc, Some(p))),
    };
    let inverted = decode_inverted(doc, d);
    let image_mask = matches!(dict_get(d, b"ImageMask"), Some(Object::Boolean(true)));
    let layout = match filters.as_slice() {
        [b"DCTDecode"] => Layout::Jpeg,
        [b"CCITTFaxDecode"] => {
            let p = |k: &[u8]| params.and_then(|p| dict_get(p, k));
            let k = p(b"K").and_then(|o| num_of(doc, Some(o))).unwrap_or(0.0) as i64;
            let flag = |k: &[u8]| matches!(p(k), Some(Object::Boolean(true)));
            Layout::Fax {
                width: p(b"Columns")
                    .and_then(|o| num_of(doc, Some(o)))
                    .map_or(width, |c| c as u32),
                height,
                k,
                byte_aligned: flag(b"EncodedByteAlign"),
                black_is_one: flag(b"BlackIs1") != inverted,
            }
        }
        generic
            if generic.iter().all(|f| {
                matches!(
                    *f,
                    b"FlateDecode"
                        | b"LZWDecode"
                        | b"ASCIIHexDecode"
                        | b"ASCII85Decode"
                        | b"RunLengthDecode"
                )
            }) =>
        {
            let bits = if image_mask {
                1
            } else {
                num_of(doc, dict_get(d, b"BitsPerComponent")).unwrap_or(8.0) as u8
            };
            let (components, palette) = if image_mask {
                (1, None)
            } else {
                match colour_space(doc, dict_get(d, b"ColorSpace")) {
                    Some(cs) => cs,
                    None => return render,
                }
            };
            // Decode arrays other than inverting bilevel data are left to the renderer.
            if inverted && bits != 1 {
                return render;
            }
            if palette.is_some() && bits != 8 {
                return render;
            }
            Layout::Pixels {
                width,
                height,
                components,
                bits,
                // A mask paints its 0 samples (black, for a scan); grey 0 is black too.
                black_is_one: inverted,
                palette,
            }
        }
        _ => return render,
    };
    Source::Image {
        id,
        layout,
        dpi: Some(dpi),
    }
}

/// The one image XObject in the page's resources, if there is exactly one (streams are
/// always indirect objects).
fn the_image(doc: &Document, page_id: ObjectId) -> Option<(ObjectId, &Stream)> {
    let page = doc.get_dictionary(page_id).ok()?;
    let resources = dict_of(doc, super::inherited(doc, page, b"Resources"))?;
    let xobjects = dict_of(doc, dict_get(resources, b"XObject"))?;
    let mut images = xobjects.iter().filter_map(|(_, v)| {
        let Object::Reference(id) = v else {
            return None;
        };
        match doc.objects.get(id)? {
            Object::Stream(s) if name_of(doc, dict_get(&s.dict, b"Subtype")) == Some(b"Image") => {
                Some((*id, s))
            }
            _ => None,
        }
    });
    let first = images.next()?;
    images.next().is_none().then_some(first)
}

/// A `Decode` array that swaps 0 and 1 (`[1 0]`).
fn decode_inverted(doc: &Document, d: &Dictionary) -> bool {
    let Some(Object::Array(a)) = dict_get(d, b"Decode").and_then(|o| deref(doc, o)) else {
        return false;
    };
    let v: Vec<f32> = a.iter().filter_map(|o| num_of(doc, Some(o))).collect();
    v.len() >= 2 && v[0] > v[1]
}

/// An indexed colour space's base components and lookup table.
type Palette = (u8, Vec<u8>);

/// Components of a colour space docket writes as PNM (grey or RGB), with the lookup
/// table of an indexed space over one of those.
fn colour_space(doc: &Document, cs: Option<&Object>) -> Option<(u8, Option<Palette>)> {
    let cs = deref(doc, cs?)?;
    let direct = |name: &[u8]| match name {
        b"DeviceGray" | b"CalGray" | b"G" => Some(1u8),
        b"DeviceRGB" | b"CalRGB" | b"RGB" => Some(3u8),
        _ => None,
    };
    match cs {
        Object::Name(n) => direct(n).map(|c| (c, None)),
        Object::Array(a) => {
            let family = name_of(doc, a.first())?;
            match family {
                b"ICCBased" => {
                    let n = num_of(doc, dict_of(doc, a.get(1)).and_then(|d| dict_get(d, b"N")))?;
                    matches!(n as u8, 1 | 3).then_some((n as u8, None))
                }
                b"CalGray" => Some((1, None)),
                b"CalRGB" => Some((3, None)),
                b"Indexed" | b"I" => {
                    let (base, _) = colour_space(doc, a.get(1))?;
                    let table = match deref(doc, a.get(3)?)? {
                        Object::String(s, _) => s.clone(),
                        Object::Stream(s) => s.get_plain_content_with_limit(768).ok()?,
                        _ => return None,
                    };
                    Some((base, Some((base, table))))
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// The image Tesseract reads for an image source; `Err` says why it cannot be made.
fn encode(
    stream: &Stream,
    layout: &Layout,
    dpi: Option<u32>,
    ctx: &LoadContext<'_>,
) -> Result<PageImage, String> {
    match layout {
        Layout::Jpeg => Ok(PageImage {
            bytes: stream.content.clone(),
            kind: ImageKind::Jpeg,
            dpi,
        }),
        Layout::Fax {
            width,
            height,
            k,
            byte_aligned,
            black_is_one,
        } => Ok(PageImage {
            bytes: ocr::tiff_ccitt(
                *width,
                *height,
                *k,
                *byte_aligned,
                *black_is_one,
                dpi,
                &stream.content,
            ),
            kind: ImageKind::Tiff,
            dpi,
        }),
        Layout::Pixels {
            width,
            height,
            components,
            bits,
            black_is_one,
            palette,
        } => {
            let cap = usize::try_from(ctx.limits.max_decompressed_bytes).unwrap_or(usize::MAX);
            let data = if stream.dict.get(b"Filter").is_err() {
                stream.content.clone()
            } else {
                stream
                    .get_plain_content_with_limit(cap)
                    .map_err(|e| format!("cannot decode the page image: {e}"))?
            };
            let (components, data) = match palette {
                Some((base, table)) => {
                    let base = usize::from(*base);
                    let mut out = Vec::with_capacity(data.len() * base);
                    for &i in &data {
                        let at = usize::from(i) * base;
                        match table.get(at..at + base) {
                            Some(c) => out.extend_from_slice(c),
                            None => out.extend(std::iter::repeat_n(0, base)),
                        }
                    }
                    (base as u8, out)
                }
                None => (*components, data),
            };
            let bytes = ocr::pgm(*width, *height, components, *bits, &data, *black_is_one)
                .ok_or("the page image is shorter than its size or in an unusual layout")?;
            Ok(PageImage {
                bytes,
                kind: ImageKind::Pnm,
                dpi,
            })
        }
    }
}

/// Recognise the pages of `tasks`, up to the engine's number of processes at once; one
/// result per task, in order. `Err` when the document must stop (its deadline).
pub(super) fn recognize(
    ocr: &Ocr,
    doc: &Document,
    pdf: &[u8],
    tasks: &[Task],
    ctx: &LoadContext<'_>,
) -> Result<Vec<PageResult>, DocError> {
    if tasks.is_empty() {
        return Ok(Vec::new());
    }
    // The file pdftoppm reads, written once, when the first page needs rendering.
    let file: OnceLock<Result<tempfile::NamedTempFile, String>> = OnceLock::new();
    let write_file = || -> Result<tempfile::NamedTempFile, String> {
        use std::io::Write;
        let mut f = tempfile::Builder::new()
            .prefix("docket-ocr")
            .suffix(".pdf")
            .tempfile()
            .map_err(|e| format!("cannot write a temporary file: {e}"))?;
        f.write_all(pdf)
            .map_err(|e| format!("cannot write a temporary file: {e}"))?;
        Ok(f)
    };
    let results: Mutex<Vec<Option<PageResult>>> = Mutex::new(vec![None; tasks.len()]);
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let failure: Mutex<Option<DocError>> = Mutex::new(None);
    let workers = ocr.jobs().min(tasks.len()).max(1);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                let deadline = ctx.deadline.on_this_thread();
                while !stop.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(task) = tasks.get(i) else { break };
                    let outcome = (|| -> Result<PageResult, DocError> {
                        deadline.check()?;
                        let image = match &task.source {
                            Source::Image { id, layout, dpi } => match doc.objects.get(id) {
                                Some(Object::Stream(stream)) => encode(stream, layout, *dpi, ctx),
                                _ => Err("the page image is gone".to_string()),
                            },
                            Source::Render { dpi } => match file.get_or_init(write_file) {
                                Ok(f) => ocr.rasterize(f.path(), task.page, *dpi, &deadline)?,
                                Err(why) => Err(why.clone()),
                            },
                        };
                        match image {
                            Ok(image) => ocr.recognize(&image, &deadline),
                            Err(why) => Ok(Err(why)),
                        }
                    })();
                    match outcome {
                        Ok(r) => {
                            results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(r);
                            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                            ocr.report(n, tasks.len());
                        }
                        Err(e) => {
                            stop.store(true, Ordering::Relaxed);
                            failure
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .get_or_insert(e);
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = failure.into_inner().unwrap_or_else(|e| e.into_inner()) {
        return Err(e);
    }
    Ok(results
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err("not recognised".into())))
        .collect())
}
