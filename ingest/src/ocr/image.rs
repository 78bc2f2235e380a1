//! Page images in the few containers Tesseract (through Leptonica) reads and docket
//! can write without an image library: JPEG passed through as it is, raw pixels as
//! PNM (PBM, PGM, PPM), CCITT fax data wrapped in a one-strip TIFF; and the headers of
//! image files, read for their size and page count.

/// The container of a [`PageImage`], which names the file Tesseract reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    Jpeg,
    Png,
    Tiff,
    Pnm,
    Bmp,
    Gif,
    Webp,
}

impl ImageKind {
    pub fn extension(self) -> &'static str {
        match self {
            ImageKind::Jpeg => "jpg",
            ImageKind::Png => "png",
            ImageKind::Tiff => "tif",
            ImageKind::Pnm => "pnm",
            ImageKind::Bmp => "bmp",
            ImageKind::Gif => "gif",
            ImageKind::Webp => "webp",
        }
    }

    /// The kind of an image file, by its first bytes.
    pub fn sniff(bytes: &[u8]) -> Option<ImageKind> {
        Some(match bytes {
            [0xFF, 0xD8, 0xFF, ..] => ImageKind::Jpeg,
            [0x89, b'P', b'N', b'G', ..] => ImageKind::Png,
            [b'I', b'I', 42, 0, ..] | [b'M', b'M', 0, 42, ..] => ImageKind::Tiff,
            [b'P', b'1'..=b'6', ..] => ImageKind::Pnm,
            [b'B', b'M', ..] => ImageKind::Bmp,
            [b'G', b'I', b'F', b'8', ..] => ImageKind::Gif,
            [
                b'R',
                b'I',
                b'F',
                b'F',
                _,
                _,
                _,
                _,
                b'W',
                b'E',
                b'B',
                b'P',
                ..,
            ] => ImageKind::Webp,
            _ => return None,
        })
    }
}

/// One image to recognise: encoded bytes, their container, and the resolution when it
/// is known (written into the TIFFs docket makes; part of the cache key).
#[derive(Debug, Clone)]
pub struct PageImage {
    pub bytes: Vec<u8>,
    pub kind: ImageKind,
    pub dpi: Option<u32>,
}

/// Raw samples as a PNM image: 8- or 16-bit grey (PGM), 8-bit RGB (PPM), or 1-bit
/// grey (PBM, where 1 is black). `black_is_one` says what the samples mean for 1-bit
/// data. `None` for other layouts or when `data` is too short.
pub fn pgm(
    width: u32,
    height: u32,
    components: u8,
    bits: u8,
    data: &[u8],
    black_is_one: bool,
) -> Option<Vec<u8>> {
    let (w, h) = (width as usize, height as usize);
    let row = match (components, bits) {
        (1, 1) => w.div_ceil(8),
        (1, 8) => w,
        (1, 16) => w * 2,
        (3, 8) => w * 3,
        _ => return None,
    };
    let size = row.checked_mul(h)?;
    let data = data.get(..size)?;
    let (magic, max) = match (components, bits) {
        (1, 1) => ("P4", ""),
        (1, 8) => ("P5", "255\n"),
        (1, 16) => ("P5", "65535\n"),
        _ => ("P6", "255\n"),
    };
    let mut out = format!("{magic}\n{width} {height}\n{max}").into_bytes();
    out.reserve(size);
    if bits == 1 && !black_is_one {
        out.extend(data.iter().map(|b| !b));
    } else {
        out.extend_from_slice(data);
    }
    Some(out)
}

/// CCITT fax data (a PDF `CCITTFaxDecode` stream) in a one-strip TIFF, which Leptonica
/// decodes: `k` < 0 is Group 4, otherwise Group 3 (2-D when `k` > 0). `black_is_one`
/// inverts the photometric interpretation.
pub fn tiff_ccitt(
    width: u32,
    height: u32,
    k: i64,
    byte_aligned: bool,
    black_is_one: bool,
    dpi: Option<u32>,
    data: &[u8],
) -> Vec<u8> {
    // Little-endian TIFF: header, the strip, then the directory (tags ascending).
    let strip_at = 8u32;
    let mut ifd_at = strip_at + data.len() as u32;
    ifd_at += ifd_at % 2;
    let mut tags: Vec<(u16, u16, u32, u32)> = Vec::new(); // tag, type, count, value
    const SHORT: u16 = 3;
    const LONG: u16 = 4;
    const RATIONAL: u16 = 5;
    tags.push((256, LONG, 1, width));
    tags.push((257, LONG, 1, height));
    tags.push((258, SHORT, 1, 1));
    tags.push((259, SHORT, 1, if k < 0 { 4 } else { 3 }));
    tags.push((262, SHORT, 1, u32::from(black_is_one)));
    tags.push((273, LONG, 1, strip_at));
    tags.push((277, SHORT, 1, 1));
    tags.push((278, LONG, 1, height));
    tags.push((279, LONG, 1, data.len() as u32));
    let n_tags = 9 + if dpi.is_some() { 3 } else { 0 } + 1;
    let rational_at = ifd_at + 2 + 12 * n_tags + 4;
    if dpi.is_some() {
        tags.push((282, RATIONAL, 1, rational_at));
        tags.push((283, RATIONAL, 1, rational_at));
    }
    if k < 0 {
        tags.push((293, LONG, 1, 0));
    } else {
        let options = u32::from(k > 0) | if byte_aligned { 4 } else { 0 };
        tags.push((292, LONG, 1, options));
    }
    if dpi.is_some() {
        tags.push((296, SHORT, 1, 2));
    }
    tags.sort_by_key(|t| t.0);
    let mut out = Vec::with_capacity(data.len() + 256);
    out.extend_from_slice(b"II*\0");
    out.extend_from_slice(&ifd_at.to_le_bytes());
    out.extend_from_slice(data);
    if out.len() % 2 == 1 {
        out.push(0);
    }
    out.extend_from_slice(&(tags.len() as u16).to_le_bytes());
    for (tag, typ, count, value) in &tags {
        out.extend_from_slice(&tag.to_le_bytes());
        out.extend_from_slice(&typ.to_le_bytes());
        out.extend_from_slice(&count.to_le_bytes());
        if *typ == SHORT {
            out.extend_from_slice(&(*value as u16).to_le_bytes());
            out.extend_from_slice(&[0, 0]);
        } else {
            out.extend_from_slice(&value.to_le_bytes());
        }
    }
    out.extend_from_slice(&0u32.to_le_bytes());
    if let Some(dpi) = dpi {
        out.extend_from_slice(&dpi.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
    }
    out
}

/// The number of pages (image directories) of a TIFF file, following the directory
/// chain at most `max` steps and never in a loop; `None` if it is not a readable TIFF.
pub fn tiff_pages(bytes: &[u8], max: usize) -> Option<usize> {
    let le = match bytes.get(..4)? {
        [b'I', b'I', 42, 0] => true,
        [b'M', b'M', 0, 42] => false,
        _ => return None,
    };
    let u16_at = |at: usize| -> Option<u16> {
        let b: [u8; 2] = bytes.get(at..at + 2)?.try_into().ok()?;
        Some(if le {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        })
    };
    let u32_at = |at: usize| -> Option<u32> {
        let b: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
        Some(if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    };
    let mut seen = std::collections::HashSet::new();
    let mut at = u32_at(4)? as usize;
    let mut pages = 0;
    while at != 0 && pages < max && seen.insert(at) {
        let n = u16_at(at)? as usize;
        pages += 1;
        at = u32_at(at + 2 + 12 * n).unwrap_or(0) as usize;
    }
    (pages > 0).then_some(pages)
}

/// Width and height of a PNG, JPEG or TIFF (its first page), from its header.
pub fn dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    match ImageKind::sniff(bytes)? {
        ImageKind::Png => {
            let w = u32::from_be_bytes(bytes.get(16..20)?.try_into().ok()?);
            let h = u32::from_be_bytes(bytes.get(20..24)?.try_into().ok()?);
            Some((w, h))
        }
        ImageKind::Jpeg => jpeg_frame(bytes).map(|(w, h, _)| (w, h)),
        _ => None,
    }
}

/// A one-page PDF showing a JPEG or PNG image at 72 dpi (a point a pixel), for
/// `pdftoppm` to render smaller: an image over the pixel cap is never decoded at full
/// size, by docket or by Tesseract. JPEG data goes in as it is, PNG data as the Flate
/// stream with PNG predictors it already is. `None` for other images, and for PNGs
/// that are interlaced or have an alpha channel.
pub fn pdf_wrapping(bytes: &[u8]) -> Option<(Vec<u8>, u32, u32)> {
    use lopdf::{Dictionary, Document, Object, Stream, StringFormat, dictionary};
    let (width, height, mut image, data): (u32, u32, Dictionary, Vec<u8>) =
        match ImageKind::sniff(bytes)? {
            ImageKind::Jpeg => {
                let (w, h, components) = jpeg_frame(bytes)?;
                let space = match components {
                    1 => "DeviceGray",
                    3 => "DeviceRGB",
                    4 => "DeviceCMYK",
                    _ => return None,
                };
                let dict = dictionary! {
                    "ColorSpace" => space,
                    "BitsPerComponent" => 8,
                    "Filter" => "DCTDecode",
                };
                (w, h, dict, bytes.to_vec())
            }
            ImageKind::Png => {
                let mut at = 8;
                let (mut ihdr, mut palette, mut idat) = (None, None, Vec::new());
                while at + 8 <= bytes.len() {
                    let len = u32::from_be_bytes(bytes[at..at + 4].try_into().ok()?) as usize;
                    let kind = &bytes[at + 4..at + 8];
                    let body = bytes.get(at + 8..at + 8 + len)?;
                    match kind {
                        b"IHDR" => ihdr = Some(body),
                        b"PLTE" => palette = Some(body),
                        b"IDAT" => idat.extend_from_slice(body),
                        b"IEND" => break,
                        _ => {}
                    }
                    at += 12 + len;
                }
                let h = ihdr.filter(|h| h.len() >= 13)?;
                let w = u32::from_be_bytes(h[0..4].try_into().ok()?);
                let ht = u32::from_be_bytes(h[4..8].try_into().ok()?);
                let (depth, colour, interlace) = (h[8], h[9], h[12]);
                if interlace != 0 {
                    return None;
                }
                let (space, colours): (Object, i64) = match colour {
                    0 => ("DeviceGray".into(), 1),
                    2 => ("DeviceRGB".into(), 3),
                    3 => {
                        let p = palette?;
                        let indexed = vec![
                            "Indexed".into(),
                            "DeviceRGB".into(),
                            Object::Integer((p.len() / 3) as i64 - 1),
                            Object::String(p.to_vec(), StringFormat::Hexadecimal),
                        ];
                        (indexed.into(), 1)
                    }
                    _ => return None,
                };
                let dict = dictionary! {
                    "ColorSpace" => space,
                    "BitsPerComponent" => i64::from(depth),
                    "Filter" => "FlateDecode",
                    "DecodeParms" => dictionary! {
                        "Predictor" => 15,
                        "Colors" => colours,
                        "BitsPerComponent" => i64::from(depth),
                        "Columns" => i64::from(w),
                    },
                };
                (w, ht, dict, idat)
            }
            _ => return None,
        };
    image.set("Type", "XObject");
    image.set("Subtype", "Image");
    image.set("Width", i64::from(width));
    image.set("Height", i64::from(height));
    let mut doc = Document::with_version("1.5");
    let pages = doc.new_object_id();
    // The image data goes in as it is: already DCT or Flate encoded.
    let image = doc.add_object(Stream::new(image, data).with_compression(false));
    let content = format!("q {width} 0 0 {height} 0 0 cm /Im1 Do Q").into_bytes();
    let contents = doc.add_object(Stream::new(Dictionary::new(), content));
    let page = doc.add_object(dictionary! {
        "Type" => "Page",
        "Parent" => pages,
        "MediaBox" => vec![0.into(), 0.into(), i64::from(width).into(), i64::from(height).into()],
        "Resources" => dictionary! { "XObject" => dictionary! { "Im1" => image } },
        "Contents" => contents,
    });
    doc.objects.insert(
        pages,
        Object::Dictionary(dictionary! {
            "Type" => "Pages",
            "Kids" => vec![page.into()],
            "Count" => 1,
        }),
    );
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages });
    doc.trailer.set("Root", catalog);
    let mut out = Vec::new();
    doc.save_to(&mut out).ok()?;
    Some((out, width, height))
}

/// Width, height and number of colour components of a JPEG, from its frame header.
fn jpeg_frame(bytes: &[u8]) -> Option<(u32, u32, u8)> {
    let mut at = 2;
    while at + 9 < bytes.len() {
        if bytes[at] != 0xFF {
            return None;
        }
        let marker = bytes[at + 1];
        let len = u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]) as usize;
        // Start-of-frame markers, except DHT (C4), JPG (C8) and DAC (CC).
        if matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) {
            let h = u16::from_be_bytes([bytes[at + 5], bytes[at + 6]]);
            let w = u16::from_be_bytes([bytes[at + 7], bytes[at + 8]]);
            return Some((u32::from(w), u32::from(h), bytes[at + 9]));
        }
        at += 2 + len;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pnm_headers_and_bilevel_inversion() {
        let g = pgm(2, 1, 1, 8, &[0, 255], false).unwrap();
        assert_eq!(g, b"P5\n2 1\n255\n\x00\xff");
        // PDF grey 1-bit: 0 is black; PBM: 1 is black.
        let b = pgm(8, 1, 1, 1, &[0b1111_0000], false).unwrap();
        assert_eq!(b, b"P4\n8 1\n\x0f");
        assert!(pgm(4, 4, 1, 8, &[0; 3], false).is_none());
        assert!(pgm(4, 4, 4, 8, &[0; 64], false).is_none());
    }

    #[test]
    fn a_ccitt_tiff_has_one_page_and_the_sizes_given() {
        let t = tiff_ccitt(1728, 20, -1, false, false, Some(200), &[1, 2, 3]);
        assert_eq!(ImageKind::sniff(&t), Some(ImageKind::Tiff));
        assert_eq!(tiff_pages(&t, 10), Some(1));
        assert_eq!(&t[8..11], &[1, 2, 3]);
    }

    #[test]
    fn tiff_directory_loops_end() {
        // A directory whose next-directory offset points at itself.
        let mut t = b"II*\0\x08\0\0\0".to_vec();
        t.extend_from_slice(&0u16.to_le_bytes());
        t.extend_from_slice(&8u32.to_le_bytes());
        assert_eq!(tiff_pages(&t, 1000), Some(1));
    }
}
