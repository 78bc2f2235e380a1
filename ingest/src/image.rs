//! Image files (PNG, JPEG, TIFF including multi-page TIFF, BMP, WebP, PNM) as documents:
//! their text is what OCR reads in them, a page per TIFF page. Without OCR (turned off,
//! or Tesseract missing) an image is a document with empty pages and a warning that
//! says why.

use crate::document::{Extracted, TextBuilder};
use crate::error::DocError;
use crate::loader::{LoadContext, Loader};
use crate::ocr::{self, ImageKind, OcrMode, PageImage};

/// Most pages read from one TIFF file.
const MAX_TIFF_PAGES: usize = 10_000;

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
            Some(o) => {
                let image = PageImage {
                    bytes: bytes.to_vec(),
                    kind,
                    dpi: None,
                };
                let r = o.recognize(&image, &ctx.deadline)?;
                o.report(1, 1);
                r
            }
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
