//! Image files (PNG, JPEG, TIFF including multi-page TIFF, BMP, WebP, PNM) as documents:
//! their text is what OCR reads in them, a page per TIFF page. Without OCR (turned off,
//! or Tesseract missing) an image is a document with empty pages and a warning that
//! says why.

use crate::document::{Extracted, TextBuilder};
use crate::error::DocError;
use crate::loader::{LoadContext, Loader};
use crate::ocr::{self, ImageKind, Ocr, OcrMode, PageImage};

/// Most pages read from one TIFF file.
const MAX_TIFF_PAGES: usize = 10_000;

/// The image Tesseract reads: the file as it is, or, past the pixel cap, rendered
/// smaller by `pdftoppm` from a PDF that wraps it (so that neither process decodes it
/// at full size).
fn page_image(
    ocr: &Ocr,
    bytes: &[u8],
    kind: ImageKind,
    ctx: &LoadContext<'_>,
) -> Result<Result<PageImage, String>, DocError> {
    let max = ocr.options().max_pixels;
    let size = ocr::image::dimensions(bytes).filter(|&(w, h)| u64::from(w) * u64::from(h) > max);
    let Some((w, h)) = size else {
        return Ok(Ok(PageImage {
            bytes: bytes.to_vec(),
            kind,
            dpi: None,
        }));
    };
    let Some((pdf, _, _)) = ocr::image::pdf_wrapping(bytes) else {
        return Ok(Err(format!(
            "the image is {w}x{h} pixels, over the OCR limit of {max}, and in a form docket cannot scale down (JPEG and PNG without transparency or interlacing can be)"
        )));
    };
    let file = tempfile::Builder::new()
        .prefix("docket-ocr")
        .suffix(".pdf")
        .tempfile()
        .and_then(|mut f| {
            use std::io::Write;
            f.write_all(&pdf).map(|()| f)
        });
    let file = match file {
        Ok(f) => f,
        Err(e) => return Ok(Err(format!("cannot write a temporary file: {e}"))),
    };
    // A point a pixel: 72 dpi is full size.
    let scale = (max as f64 / (f64::from(w) * f64::from(h))).sqrt();
    let dpi = ((72.0 * scale).floor() as u32).max(1);
    ocr.rasterize(file.path(), 1, dpi, &ctx.deadline)
}

/// Loads image files through OCR. Stateless; one instance serves all threads.
#[derive(Debug, Clone, Copy, Default)]
pub struct ImageLoader;

impl Loader for ImageLoader {
    fn name(&self) -> &'static str {
        "image"
    }

    fn load(&self, bytes: &[u8], ctx: &LoadContext<'_>) -> Result<Extracted, DocError> {
        let kind = ImageKind::sniff(bytes).ok_or_else(|| DocError::WrongFormat {
            expected: "image",
            reason: "not a PNG, JPEG, TIFF, BMP, WebP or PNM image".into(),
        })?;
        let count = match kind {
            ImageKind::Tiff => ocr::tiff_pages(bytes, MAX_TIFF_PAGES).ok_or_else(|| {
                DocError::Corrupt("the TIFF file has no readable image directory".into())
            })?,
            _ => 1,
        };
        let mut b = TextBuilder::new();
        b.metadata("pages", count.to_string());
        if let Some((w, h)) = ocr::image::dimensions(bytes) {
            b.metadata("image_size", format!("{w}x{h}"));
        }
        let engine = ctx.ocr.filter(|o| o.mode() != OcrMode::Never);
        let result = match engine {
            None => Err("OCR is off".to_string()),
            Some(o) => match page_image(o, bytes, kind, ctx)? {
                Ok(image) => {
                    let r = o.recognize(&image, &ctx.deadline)?;
                    o.report(1, 1);
                    r
                }
                Err(why) => Err(why),
            },
        };
        let pages = match result {
            Ok(pages) => pages,
            Err(why) => {
                b.warn(format!("the image's text was not read: {why}"));
                for _ in 1..count {
                    b.break_page(false);
                }
                return Ok(b.finish(false));
            }
        };
        let threshold = engine.map_or(0.0, |o| f32::from(o.options().low_confidence));
        let (mut low, mut numbers) = (Vec::new(), Vec::new());
        for n in 0..count.max(pages.len()) {
            if n > 0 {
                b.break_page(false);
            }
            let number = n + 1;
            let Some(page) = pages.get(n) else {
                b.warn(format!("page {number}: OCR gave no result for it"));
                continue;
            };
            b.push_str(&page.text);
            ctx.check_text(b.len())?;
            numbers.push(number.to_string());
            let is_low = page.confidence.is_some_and(|c| c < threshold);
            if page.words == 0 {
                b.warn(format!("page {number}: OCR found no text on it"));
            } else if is_low {
                low.push(number.to_string());
                b.warn(format!(
                    "page {number}: OCR confidence is low ({:.0} of 100); its text may be wrong",
                    page.confidence.unwrap_or(0.0)
                ));
            }
            b.page_ocr(page.confidence.unwrap_or(0.0), is_low);
        }
        b.metadata("ocr_pages", numbers.join(","));
        if !low.is_empty() {
            b.metadata("ocr_low_confidence_pages", low.join(","));
        }
        Ok(b.finish(false))
    }
}
