//! Straightening scans that were fed in at a slant. Tesseract's layout analysis copes
//! with a degree or two, but at four or five it loses whole lines (they run into their
//! neighbours' boxes); so grey pages are measured first and turned level when the text
//! runs at more than half a degree.
//!
//! The angle is the one whose projection of the dark pixels onto the vertical axis is
//! the most peaked (lines of text collapse onto few rows when sheared by their own
//! slope), searched on a reduced copy of the page; the full page is then rotated with
//! bilinear interpolation onto a white background. Turns of 90° and 180° are left to
//! Tesseract's orientation detection.

use super::image::{ImageKind, PageImage};

/// Largest slant corrected, in degrees; beyond it a page is more likely a drawing.
const MAX_DEGREES: f32 = 15.0;
/// Smallest slant corrected, in degrees.
const MIN_DEGREES: f32 = 0.5;
/// The reduced copy the angle is measured on is at most this wide and high.
const MEASURE_SIDE: usize = 1200;

/// A grey image: width, height, one byte a pixel.
#[derive(Debug, Clone)]
pub struct Grey {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<u8>,
}

/// The image turned level, and by how many degrees, when it is a grey or bilevel PNM
/// whose text runs at a slant; `None` otherwise (nothing to do, or not an image docket
/// can decode).
pub fn deskew(image: &PageImage) -> Option<(PageImage, f32)> {
    if image.kind != ImageKind::Pnm {
        return None;
    }
    let grey = read_pnm(&image.bytes)?;
    let angle = skew_degrees(&grey);
    if angle.abs() < MIN_DEGREES || angle.abs() > MAX_DEGREES {
        return None;
    }
    let level = rotate(&grey, angle);
    let mut bytes = format!("P5\n{} {}\n255\n", level.width, level.height).into_bytes();
    bytes.extend_from_slice(&level.pixels);
    Some((
        PageImage {
            bytes,
            kind: ImageKind::Pnm,
            dpi: image.dpi,
        },
        angle,
    ))
}

/// An 8-bit grey (P5) or bilevel (P4) PNM.
pub fn read_pnm(bytes: &[u8]) -> Option<Grey> {
    let mut fields = Vec::new();
    let mut at = 0;
    let wanted = if bytes.get(..2)? == b"P4" { 3 } else { 4 };
    while fields.len() < wanted {
        while bytes.get(at)?.is_ascii_whitespace() {
            at += 1;
        }
        if bytes[at] == b'#' {
            while *bytes.get(at)? != b'\n' {
                at += 1;
            }
            continue;
        }
        let start = at;
        while !bytes.get(at)?.is_ascii_whitespace() {
            at += 1;
        }
        fields.push(std::str::from_utf8(&bytes[start..at]).ok()?);
    }
    let data = bytes.get(at + 1..)?;
    let width: usize = fields[1].parse().ok()?;
    let height: usize = fields[2].parse().ok()?;
    let pixels = match fields[0] {
        "P5" if fields[3] == "255" => data.get(..width.checked_mul(height)?)?.to_vec(),
        "P4" => {
            let row = width.div_ceil(8);
            let data = data.get(..row.checked_mul(height)?)?;
            let mut out = Vec::with_capacity(width * height);
            for y in 0..height {
                for x in 0..width {
                    let black = data[y * row + x / 8] & (0x80 >> (x % 8)) != 0;
                    out.push(if black { 0 } else { 255 });
                }
            }
            out
        }
        _ => return None,
    };
    Some(Grey {
        width,
        height,
        pixels,
    })
}

/// The slant of the text, in degrees (positive: lines rise to the right).
pub fn skew_degrees(grey: &Grey) -> f32 {
    // Dark pixels of a reduced copy, in its coordinates.
    let step = grey.width.max(grey.height).div_ceil(MEASURE_SIDE).max(1);
    let mut dark = Vec::new();
    for y in (0..grey.height).step_by(step) {
        let row = &grey.pixels[y * grey.width..(y + 1) * grey.width];
        for x in (0..grey.width).step_by(step) {
            if row[x] < 128 {
                dark.push(((x / step) as f32, (y / step) as f32));
            }
        }
    }
    if dark.len() < 50 {
        return 0.0;
    }
    let rows = grey.height / step + 1;
    let cols = grey.width / step + 1;
    let score = |degrees: f32| -> f64 {
        let t = degrees.to_radians().tan();
        let pad = (cols as f32 * t.abs()).ceil() as usize + 1;
        let mut hist = vec![0u32; rows + 2 * pad];
        for &(x, y) in &dark {
            let r = (y + x * t).round() as isize + pad as isize;
            if let Some(h) = hist.get_mut(r.max(0) as usize) {
                *h += 1;
            }
        }
        hist.iter().map(|&h| f64::from(h) * f64::from(h)).sum()
    };
    let best = |from: f32, to: f32, by: f32| -> f32 {
        let mut best = (f64::MIN, 0.0);
        let mut a = from;
        while a <= to + by / 2.0 {
            let s = score(a);
            if s > best.0 {
                best = (s, a);
            }
            a += by;
        }
        best.1
    };
    let coarse = best(-MAX_DEGREES, MAX_DEGREES, 0.5);
    let fine = best(coarse - 0.5, coarse + 0.5, 0.1);
    // Rows grow downwards: lines rising to the right need a positive shear to flatten
    // (y + x·tan a is constant along them), which is the angle they rise by.
    fine
}

/// `grey` rotated so that text rising at `degrees` runs level, same size, white where
/// nothing maps.
pub fn rotate(grey: &Grey, degrees: f32) -> Grey {
    let (w, h) = (grey.width, grey.height);
    let (s, c) = degrees.to_radians().sin_cos();
    let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
    let mut out = vec![255u8; w * h];
    let px = |x: isize, y: isize| -> f32 {
        if x < 0 || y < 0 || x as usize >= w || y as usize >= h {
            255.0
        } else {
            f32::from(grey.pixels[y as usize * w + x as usize])
        }
    };
    for yo in 0..h {
        let dy = yo as f32 - cy;
        for xo in 0..w {
            let dx = xo as f32 - cx;
            // The source point that lands here.
            let xs = cx + dx * c + dy * s;
            let ys = cy - dx * s + dy * c;
            let (x0, y0) = (xs.floor(), ys.floor());
            let (fx, fy) = (xs - x0, ys - y0);
            let (x0, y0) = (x0 as isize, y0 as isize);
            let v = px(x0, y0) * (1.0 - fx) * (1.0 - fy)
                + px(x0 + 1, y0) * fx * (1.0 - fy)
                + px(x0, y0 + 1) * (1.0 - fx) * fy
                + px(x0 + 1, y0 + 1) * fx * fy;
            out[yo * w + xo] = v.round().clamp(0.0, 255.0) as u8;
        }
    }
    Grey {
        width: w,
        height: h,
        pixels: out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A white page with dark bars (lines of "text") that rise at `degrees`.
    fn page(degrees: f32) -> Grey {
        let (w, h) = (800, 600);
        let mut pixels = vec![255u8; w * h];
        let t = degrees.to_radians().tan();
        for line in 0..8 {
            let base = 100.0 + 50.0 * line as f32;
            for x in 100..700 {
                if (x / 12) % 5 == 4 {
                    continue; // gaps between words
                }
                let y0 = base - (x as f32 - 400.0) * t;
                for dy in 0..10 {
                    let y = (y0 + dy as f32).round() as usize;
                    if y < h {
                        pixels[y * w + x] = 0;
                    }
                }
            }
        }
        Grey {
            width: w,
            height: h,
            pixels,
        }
    }

    #[test]
    fn the_slant_is_measured_and_rotating_by_it_levels_the_lines() {
        for degrees in [-5.0f32, -2.0, 0.0, 3.0, 5.0] {
            let g = page(degrees);
            let measured = skew_degrees(&g);
            assert!(
                (measured - degrees).abs() < 0.3,
                "{degrees}: measured {measured}"
            );
            let level = rotate(&g, measured);
            let after = skew_degrees(&level);
            assert!(after.abs() < 0.3, "{degrees}: still {after} after rotating");
        }
    }

    #[test]
    fn pnm_pages_are_read_and_straightened_others_left_alone() {
        let g = page(4.0);
        let mut bytes = format!("P5\n{} {}\n255\n", g.width, g.height).into_bytes();
        bytes.extend_from_slice(&g.pixels);
        let image = PageImage {
            bytes,
            kind: ImageKind::Pnm,
            dpi: Some(300),
        };
        let (level, angle) = deskew(&image).expect("straightened");
        assert!((angle - 4.0).abs() < 0.3);
        let back = read_pnm(&level.bytes).unwrap();
        assert!(skew_degrees(&back).abs() < 0.3);
        let flat = page(0.0);
        let mut bytes = format!("P5\n{} {}\n255\n", flat.width, flat.height).into_bytes();
        bytes.extend_from_slice(&flat.pixels);
        assert!(
            deskew(&PageImage {
                bytes,
                kind: ImageKind::Pnm,
                dpi: None
            })
            .is_none()
        );
        let pbm = read_pnm(b"P4\n8 1\n\x0f").unwrap();
        assert_eq!(pbm.pixels, [255, 255, 255, 255, 0, 0, 0, 0]);
    }
}
