//! Byte-to-Unicode tables for simple fonts: the standard base encodings and glyph names
//! (Adobe Glyph List, `uniXXXX`, `uXXXX`, suffixed and ligature names).
//!
//! lopdf carries the Adobe Glyph List and the standard encodings but keeps them private;
//! its public font-encoding API exposes them through [`lopdf::Encoding`], so we read them
//! from there instead of keeping a second 4,000-entry copy of the list in this crate.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use lopdf::{Dictionary, Document, Encoding, Object};

/// One table entry per byte: the Unicode text of that code, if known.
pub type ByteTable = [Option<char>; 256];

/// The base encodings a simple font may name in `/Encoding` or `/BaseEncoding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BaseEncoding {
    Standard,
    WinAnsi,
    MacRoman,
    MacExpert,
    PdfDoc,
    Symbol,
}

impl BaseEncoding {
    /// The encoding named `name` in a font's `/Encoding` or `/BaseEncoding`.
    pub fn from_name(name: &[u8]) -> Option<Self> {
        Some(match name {
            b"StandardEncoding" => Self::Standard,
            b"WinAnsiEncoding" => Self::WinAnsi,
            b"MacRomanEncoding" => Self::MacRoman,
            b"MacExpertEncoding" => Self::MacExpert,
            b"PDFDocEncoding" => Self::PdfDoc,
            _ => return None,
        })
    }

    /// The code-to-Unicode table of this encoding.
    pub fn table(self) -> &'static ByteTable {
        static TABLES: OnceLock<[ByteTable; 5]> = OnceLock::new();
        static SYMBOL: OnceLock<ByteTable> = OnceLock::new();
        let idx = match self {
            Self::Standard => 0,
            Self::WinAnsi => 1,
            Self::MacRoman => 2,
            Self::MacExpert => 3,
            Self::PdfDoc => 4,
            Self::Symbol => return SYMBOL.get_or_init(symbol_table),
        };
        &TABLES.get_or_init(|| {
            [
                lopdf_table(b"StandardEncoding"),
                lopdf_table(b"WinAnsiEncoding"),
                lopdf_table(b"MacRomanEncoding"),
                lopdf_table(b"MacExpertEncoding"),
                lopdf_table(b"PDFDocEncoding"),
            ]
        })[idx]
    }
}

/// A font dictionary with the given `/Encoding`, to query lopdf's tables.
fn probe_font(encoding: Object) -> Dictionary {
    let mut font = Dictionary::new();
    font.set("Type", Object::Name(b"Font".to_vec()));
    font.set("Subtype", Object::Name(b"Type1".to_vec()));
    font.set("Encoding", encoding);
    font
}

fn probe_doc() -> &'static Mutex<Document> {
    static DOC: OnceLock<Mutex<Document>> = OnceLock::new();
    DOC.get_or_init(|| Mutex::new(Document::new()))
}

fn lopdf_table(name: &[u8]) -> ByteTable {
    let mut table = [None; 256];
    let font = probe_font(Object::Name(name.to_vec()));
    let Ok(doc) = probe_doc().lock() else {
        return table;
    };
    if let Ok(Encoding::OneByteEncoding(set)) = font.get_font_encoding(&doc) {
        for (slot, glyph) in table.iter_mut().zip(set.iter()) {
            *slot = glyph.and_then(|g| char::from_u32(u32::from(g.utf16_code_unit())));
        }
    }
    table
}

/// Unicode of a name in the Adobe Glyph List, as lopdf knows it.
fn agl_lookup(name: &[u8]) -> Option<char> {
    let font = probe_font(Object::Dictionary(Dictionary::from_iter(vec![(
        "Differences",
        Object::Array(vec![Object::Integer(0), Object::Name(name.to_vec())]),
    )])));
    let doc = probe_doc().lock().ok()?;
    match font.get_font_encoding(&doc) {
        Ok(Encoding::Differences(d)) => d
            .map
            .get(&0)
            .and_then(|g| char::from_u32(u32::from(g.utf16_code_unit()))),
        _ => None,
    }
}

/// Unicode text for a glyph name: the Adobe Glyph List, `uniXXXX[XXXX…]`, `uXXXX[XX]`,
/// names with a `.suffix` (small caps, alternates) and `_`-joined ligature names.
/// Results are cached process-wide, as the same few hundred names recur in every file.
pub fn glyph_name_to_unicode(name: &[u8]) -> Option<String> {
    static CACHE: OnceLock<Mutex<HashMap<Vec<u8>, Option<String>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Ok(map) = cache.lock()
        && let Some(hit) = map.get(name)
    {
        return hit.clone();
    }
    let value = resolve_glyph_name(name, 0);
    if let Ok(mut map) = cache.lock()
        && map.len() < 100_000
    {
        map.insert(name.to_vec(), value.clone());
    }
    value
}

fn resolve_glyph_name(name: &[u8], depth: u8) -> Option<String> {
    if name.is_empty() || depth > 2 {
        return None;
    }
    if let Some(c) = agl_lookup(name) {
        return Some(c.to_string());
    }
    // Drop a suffix: "a.sc", "one.oldstyle", "f_i.liga".
    if let Some(dot) = name.iter().position(|&b| b == b'.')
        && dot > 0
    {
        return resolve_glyph_name(&name[..dot], depth + 1);
    }
    // Ligature components: "f_f_i".
    if name.contains(&b'_') {
        let mut out = String::new();
        for part in name.split(|&b| b == b'_') {
            out.push_str(&resolve_glyph_name(part, depth + 1)?);
        }
        return Some(out);
    }
    let text = std::str::from_utf8(name).ok()?;
    if let Some(hex) = text.strip_prefix("uni")
        && !hex.is_empty()
        && hex.len() % 4 == 0
    {
        let mut out = String::new();
        for i in (0..hex.len()).step_by(4) {
            let v = u32::from_str_radix(hex.get(i..i + 4)?, 16).ok()?;
            out.push(char::from_u32(v)?);
        }
        return Some(out);
    }
    if let Some(hex) = text.strip_prefix('u')
        && (4..=6).contains(&hex.len())
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return char::from_u32(u32::from_str_radix(hex, 16).ok()?).map(String::from);
    }
    // Names TeX fonts use that are not in the list.
    let extra = match name {
        b"dotlessj" => "\u{237}",
        b"visiblespace" => "\u{2423}",
        b"ff" => "ff",
        b"ffi" => "ffi",
        b"ffl" => "ffl",
        b"Gamma" => "\u{393}",
        b"Delta" => "\u{394}",
        b"Theta" => "\u{398}",
        b"Lambda" => "\u{39B}",
        b"Xi" => "\u{39E}",
        b"Pi" => "\u{3A0}",
        b"Sigma" => "\u{3A3}",
        b"Upsilon" => "\u{3A5}",
        b"Phi" => "\u{3A6}",
        b"Psi" => "\u{3A8}",
        b"Omega" => "\u{3A9}",
        b"minus" => "\u{2212}",
        b"endash" => "\u{2013}",
        b"emdash" => "\u{2014}",
        _ => return None,
    };
    Some(extra.to_string())
}

/// The built-in encoding of the Symbol font (Greek letters and common math), enough for
/// the text that documents set in it.
fn symbol_table() -> ByteTable {
    let mut t = [None; 256];
    for b in 0x20u8..0x7f {
        t[usize::from(b)] = Some(char::from(b));
    }
    let upper = "ΑΒΧΔΕΦΓΗΙϑΚΛΜΝΟΠΘΡΣΤΥςΩΞΨΖ";
    let lower = "αβχδεφγηιϕκλμνοπθρστυϖωξψζ";
    for (i, c) in upper.chars().enumerate() {
        t[0x41 + i] = Some(c);
    }
    for (i, c) in lower.chars().enumerate() {
        t[0x61 + i] = Some(c);
    }
    let specials: [(usize, char); 28] = [
        (0x22, '∀'),
        (0x24, '∃'),
        (0x27, '∋'),
        (0x2A, '∗'),
        (0x2D, '−'),
        (0x40, '≅'),
        (0x5C, '∴'),
        (0x5E, '⊥'),
        (0x60, '\u{F8E5}'),
        (0x7E, '∼'),
        (0xA2, '′'),
        (0xA3, '≤'),
        (0xA5, '∞'),
        (0xAE, '→'),
        (0xB0, '°'),
        (0xB1, '±'),
        (0xB2, '″'),
        (0xB3, '≥'),
        (0xB4, '×'),
        (0xB6, '∂'),
        (0xB7, '•'),
        (0xB8, '÷'),
        (0xB9, '≠'),
        (0xBA, '≡'),
        (0xBB, '≈'),
        (0xC5, '⊕'),
        (0xD6, '√'),
        (0xD7, '⋅'),
    ];
    for (code, c) in specials {
        t[code] = Some(c);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glyph_names() {
        let g = |n: &str| glyph_name_to_unicode(n.as_bytes());
        assert_eq!(g("A").as_deref(), Some("A"));
        assert_eq!(g("eacute").as_deref(), Some("é"));
        assert_eq!(g("fi").as_deref(), Some("\u{FB01}"));
        assert_eq!(g("uni0041").as_deref(), Some("A"));
        assert_eq!(g("uni00410042").as_deref(), Some("AB"));
        assert_eq!(g("u1F600").as_deref(), Some("😀"));
        assert_eq!(g("a.sc").as_deref(), Some("a"));
        assert_eq!(g("T_h").as_deref(), Some("Th"));
        assert_eq!(g("f_f_i").as_deref(), Some("\u{FB03}"));
        assert_eq!(g("g123"), None);
    }

    #[test]
    fn base_tables() {
        assert_eq!(BaseEncoding::WinAnsi.table()[0x41], Some('A'));
        assert_eq!(BaseEncoding::WinAnsi.table()[0xE9], Some('é'));
        assert_eq!(BaseEncoding::WinAnsi.table()[0x93], Some('“'));
        assert_eq!(BaseEncoding::MacRoman.table()[0x8E], Some('é'));
        assert_eq!(BaseEncoding::Standard.table()[0xAE], Some('\u{FB01}'));
        assert_eq!(BaseEncoding::Symbol.table()[0x61], Some('α'));
    }
}
