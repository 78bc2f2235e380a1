//! Advance widths of the base-14 text fonts for the printable ASCII range, for PDFs
//! that use Helvetica or Times without a `/Widths` array (allowed for these fonts, and
//! common from older producers). Without them word gaps cannot be told from letter
//! gaps. The numbers are the fonts' standard metrics (thousandths of an em), which
//! metric-compatible clones share; Courier is 600 throughout and needs no table.

/// Widths of U+0020..=U+007E.
type AsciiWidths = [u16; 95];

const HELVETICA: AsciiWidths = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556,
    556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667,
    611, 778, 722, 278, 500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667,
    667, 611, 278, 278, 278, 469, 556, 333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500,
    222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
];
const HELVETICA_BOLD: AsciiWidths = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556,
    556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611, 975, 722, 722, 722, 722, 667,
    611, 778, 722, 278, 556, 722, 611, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667,
    667, 611, 333, 278, 333, 584, 556, 333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556,
    278, 889, 611, 611, 611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584,
];
const HELVETICA_OBLIQUE: AsciiWidths = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556,
    556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667,
    611, 778, 722, 278, 500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667,
    667, 611, 278, 278, 278, 469, 556, 333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500,
    222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
];
const HELVETICA_BOLDOBLIQUE: AsciiWidths = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556,
    556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611, 975, 722, 722, 722, 722, 667,
    611, 778, 722, 278, 556, 722, 611, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667,
    667, 611, 333, 278, 333, 584, 556, 333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556,
    278, 889, 611, 611, 611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584,
];
const TIMES_ROMAN: AsciiWidths = [
    250, 333, 408, 500, 500, 833, 778, 180, 333, 333, 500, 564, 250, 333, 250, 278, 500, 500, 500,
    500, 500, 500, 500, 500, 500, 500, 278, 278, 564, 564, 564, 444, 921, 722, 667, 667, 722, 611,
    556, 722, 722, 333, 389, 722, 611, 889, 722, 722, 556, 722, 667, 556, 611, 722, 722, 944, 722,
    722, 611, 333, 278, 333, 469, 500, 333, 444, 500, 444, 500, 444, 333, 500, 500, 278, 278, 500,
    278, 778, 500, 500, 500, 500, 333, 389, 278, 500, 500, 722, 500, 500, 444, 480, 200, 480, 541,
];
const TIMES_BOLD: AsciiWidths = [
    250, 333, 555, 500, 500, 1000, 833, 278, 333, 333, 500, 570, 250, 333, 250, 278, 500, 500, 500,
    500, 500, 500, 500, 500, 500, 500, 333, 333, 570, 570, 570, 500, 930, 722, 667, 722, 722, 667,
    611, 778, 778, 389, 500, 778, 667, 944, 722, 778, 611, 778, 722, 556, 667, 722, 722, 1000, 722,
    722, 667, 333, 278, 333, 581, 500, 333, 500, 556, 444, 556, 444, 333, 500, 556, 278, 333, 556,
    278, 833, 556, 500, 556, 556, 444, 389, 333, 556, 500, 722, 500, 500, 444, 394, 220, 394, 520,
];
const TIMES_ITALIC: AsciiWidths = [
    250, 333, 420, 500, 500, 833, 778, 214, 333, 333, 500, 675, 250, 333, 250, 278, 500, 500, 500,
    500, 500, 500, 500, 500, 500, 500, 333, 333, 675, 675, 675, 500, 920, 611, 611, 667, 722, 611,
    611, 722, 722, 333, 444, 667, 556, 833, 667, 722, 611, 722, 611, 500, 556, 722, 611, 833, 611,
    556, 556, 389, 278, 389, 422, 500, 333, 500, 500, 444, 500, 444, 278, 500, 500, 278, 278, 444,
    278, 722, 500, 500, 500, 500, 389, 389, 278, 500, 444, 667, 444, 444, 389, 400, 275, 400, 541,
];
const TIMES_BOLDITALIC: AsciiWidths = [
    250, 389, 555, 500, 500, 833, 778, 278, 333, 333, 500, 570, 250, 333, 250, 278, 500, 500, 500,
    500, 500, 500, 500, 500, 500, 500, 333, 333, 570, 570, 570, 500, 832, 667, 667, 667, 722, 667,
    667, 722, 778, 389, 500, 667, 611, 889, 722, 722, 611, 722, 667, 556, 611, 722, 667, 889, 667,
    611, 611, 333, 278, 333, 570, 500, 333, 500, 500, 444, 500, 444, 333, 500, 556, 278, 278, 500,
    278, 778, 556, 500, 500, 500, 389, 389, 278, 556, 444, 667, 500, 444, 389, 348, 220, 348, 570,
];

/// Widths for a base-14 font name (subset prefixes and common aliases such as `Arial`
/// accepted), or `None` when it is not one of the proportional base fonts.
pub fn ascii_widths(base_font: &[u8]) -> Option<&'static AsciiWidths> {
    // Drop a subset tag ("ABCDEF+Helvetica").
    let name = match base_font.iter().position(|&b| b == b'+') {
        Some(6) => &base_font[7..],
        _ => base_font,
    };
    let name = std::str::from_utf8(name).ok()?;
    let bold = name.contains("Bold");
    let italic = name.contains("Italic") || name.contains("Oblique");
    let sans = name.starts_with("Helvetica") || name.starts_with("Arial");
    let serif = name.starts_with("Times");
    Some(match (sans, serif, bold, italic) {
        (true, _, false, false) => &HELVETICA,
        (true, _, true, false) => &HELVETICA_BOLD,
        (true, _, false, true) => &HELVETICA_OBLIQUE,
        (true, _, true, true) => &HELVETICA_BOLDOBLIQUE,
        (_, true, false, false) => &TIMES_ROMAN,
        (_, true, true, false) => &TIMES_BOLD,
        (_, true, false, true) => &TIMES_ITALIC,
        (_, true, true, true) => &TIMES_BOLDITALIC,
        _ => return None,
    })
}

/// The width of `c` in a font with these ASCII widths: exact for ASCII, the width of a
/// similar letter for accented letters, half an em otherwise.
pub fn width_of(widths: &AsciiWidths, c: char) -> f32 {
    let ascii = |b: u8| f32::from(widths[usize::from(b - 0x20)]);
    match c {
        ' '..='~' => ascii(c as u8),
        c if c.is_uppercase() => ascii(b'O'),
        c if c.is_lowercase() => ascii(b'o'),
        '\u{a0}' => ascii(b' '),
        _ => 500.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup() {
        let h = ascii_widths(b"Helvetica").expect("helvetica");
        assert_eq!(width_of(h, ' '), 278.0);
        assert_eq!(width_of(h, 'm'), 833.0);
        let t = ascii_widths(b"ABCDEF+Times-Roman").expect("times");
        assert_eq!(width_of(t, 'i'), 278.0);
        assert!(ascii_widths(b"Arial,Bold").is_some());
        assert!(ascii_widths(b"Courier").is_none());
    }
}
