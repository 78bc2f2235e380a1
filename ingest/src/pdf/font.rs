//! Fonts as text extraction needs them: how to split a string into character codes, the
//! Unicode text of each code, and its advance width.
//!
//! Text comes from the `ToUnicode` CMap first, then from the encoding (base encoding,
//! `/Differences` glyph names, the built-in encoding of an embedded Type1 program), which
//! is the order that recovers the most text from real producers. Broken font data never
//! fails a page: what cannot be read falls back to sensible defaults.

use std::rc::Rc;

use lopdf::{Dictionary, Document, Object};

use super::cmap::CMap;
use super::encoding::{BaseEncoding, ByteTable, glyph_name_to_unicode};
use super::objects::{Reader, deref, deref_id, dict_get, name_of, num_of};

/// Default advance (in thousandths of an em) when a font gives no widths at all.
const FALLBACK_WIDTH: f32 = 500.0;

#[derive(Debug)]
enum Kind {
    /// One byte per code.
    Simple {
        text: Vec<Option<Box<str>>>,
        widths: Box<[f32; 256]>,
    },
    /// Type0: codes of one to four bytes, mapped to CIDs for widths.
    Composite {
        /// `None` for Identity-H/V (2-byte codes, code = CID).
        encoding: Option<Rc<CMap>>,
        /// Codes are UCS-2/UTF-16 (predefined `Uni…-UCS2`/`UTF16` CMaps).
        unicode_codes: bool,
        /// A predefined CMap other than Identity and UCS-2/UTF-16, whose code lengths
        /// we do not know: the `ToUnicode` codespaces (which mirror them) split codes.
        other_predefined: bool,
        to_unicode: Option<Rc<CMap>>,
        /// Sorted, non-overlapping CID ranges with their widths.
        widths: Vec<(u32, u32, f32)>,
        default_width: f32,
    },
}

/// A font ready to decode strings.
#[derive(Debug)]
pub struct Font {
    kind: Kind,
    /// Glyph space to text space for widths (0.001 except for Type3 fonts).
    width_scale: f32,
    /// Ratio of the font's em to the text-space unit, for layout (1 except Type3).
    pub size_scale: f32,
    /// Vertical writing (`Identity-V`, `…-V` CMaps): glyphs advance downwards by one em.
    pub vertical: bool,
}

/// One decoded character code.
#[derive(Debug, Clone, Copy)]
pub struct Code<'f> {
    /// The Unicode text, `None` when the font gives no mapping.
    pub text: Option<&'f str>,
    /// Advance in text space units per unit of font size.
    pub width: f32,
    /// A single-byte code 32, to which word spacing applies.
    pub is_space_byte: bool,
}

impl Font {
    /// A font for when a page uses a font that is missing or unreadable.
    pub fn fallback() -> Font {
        let base = BaseEncoding::Standard.table();
        Font {
            kind: Kind::Simple {
                text: base.iter().map(|c| c.map(char_box)).collect(),
                widths: Box::new([FALLBACK_WIDTH; 256]),
            },
            width_scale: 0.001,
            size_scale: 1.0,
            vertical: false,
        }
    }

    /// Build a font from its dictionary. Never fails; unreadable parts get defaults.
    pub fn load(doc: &Document, dict: &Dictionary, rd: &Reader<'_>) -> Font {
        let subtype = name_of(doc, dict_get(dict, b"Subtype")).unwrap_or(b"Type1");
        if subtype == b"Type0" {
            return load_composite(doc, dict, rd);
        }
        load_simple(doc, dict, subtype, rd)
    }

    /// Decode a string shown with this font, calling `f` for each code until it returns
    /// `false`.
    pub fn decode(&self, bytes: &[u8], scratch: &mut String, mut f: impl FnMut(Code<'_>) -> bool) {
        match &self.kind {
            Kind::Simple { text, widths } => {
                for &b in bytes {
                    let go_on = f(Code {
                        text: text[usize::from(b)].as_deref(),
                        width: widths[usize::from(b)] * self.width_scale,
                        is_space_byte: b == b' ',
                    });
                    if !go_on {
                        return;
                    }
                }
            }
            Kind::Composite {
                encoding,
                unicode_codes,
                other_predefined,
                to_unicode,
                widths,
                default_width,
            } => {
                let mut i = 0;
                while i < bytes.len() {
                    let len = match (encoding, to_unicode) {
                        (Some(cmap), _) if cmap.has_codespaces() => cmap.code_len(&bytes[i..]),
                        (None, Some(tu)) if *other_predefined && tu.has_codespaces() => {
                            tu.code_len(&bytes[i..])
                        }
                        _ => 2,
                    }
                    .min(bytes.len() - i)
                    .max(1);
                    let code = bytes[i..i + len]
                        .iter()
                        .fold(0u32, |acc, &b| (acc << 8) | u32::from(b));
                    let cid = match encoding {
                        Some(cmap) => cmap.lookup_cid(len as u8, code).unwrap_or(code),
                        None => code,
                    };
                    let w = lookup_width(widths, cid).unwrap_or(*default_width);
                    scratch.clear();
                    let mut have = false;
                    if let Some(tu) = to_unicode
                        && let Some(t) = tu.lookup_text(len as u8, code)
                    {
                        scratch.push_str(&t);
                        have = true;
                    }
                    if !have
                        && *unicode_codes
                        && let Some(c) = char::from_u32(code)
                    {
                        scratch.push(c);
                        have = true;
                    }
                    let go_on = f(Code {
                        text: have.then_some(scratch.as_str()),
                        width: w * self.width_scale,
                        is_space_byte: len == 1 && code == 32,
                    });
                    if !go_on {
                        return;
                    }
                    i += len;
                }
            }
        }
    }
}

fn char_box(c: char) -> Box<str> {
    c.to_string().into_boxed_str()
}

fn lookup_width(widths: &[(u32, u32, f32)], cid: u32) -> Option<f32> {
    let idx = widths.partition_point(|&(_, hi, _)| hi < cid);
    widths
        .get(idx)
        .filter(|&&(lo, hi, _)| cid >= lo && cid <= hi)
        .map(|&(_, _, w)| w)
}

/// The font's `ToUnicode` CMap, shared with every font that uses the same stream.
fn load_to_unicode(doc: &Document, dict: &Dictionary, rd: &Reader<'_>) -> Option<Rc<CMap>> {
    rd.cmap(doc, dict_get(dict, b"ToUnicode")?)
        .filter(|cmap| cmap.has_text())
}

fn font_descriptor<'a>(doc: &'a Document, dict: &'a Dictionary) -> Option<&'a Dictionary> {
    deref(doc, dict_get(dict, b"FontDescriptor")?)?
        .as_dict()
        .ok()
}

fn load_simple(doc: &Document, dict: &Dictionary, subtype: &[u8], rd: &Reader<'_>) -> Font {
    let base_font = name_of(doc, dict_get(dict, b"BaseFont")).unwrap_or(b"");
    let descriptor = font_descriptor(doc, dict);
    let flags = descriptor
        .and_then(|d| num_of(doc, dict_get(d, b"Flags")))
        .unwrap_or(0.0) as i64;
    let symbolic = flags & 4 != 0;
    let is_symbol_font = contains(base_font, b"Symbol");

    // The base table: named encoding, else the font program's own, else a default.
    let enc_obj = dict_get(dict, b"Encoding").and_then(|o| deref(doc, o));
    let enc_dict = enc_obj.and_then(|o| o.as_dict().ok());
    let named = match enc_obj {
        Some(Object::Name(n)) => BaseEncoding::from_name(n),
        _ => enc_dict.and_then(|d| {
            name_of(doc, dict_get(d, b"BaseEncoding")).and_then(BaseEncoding::from_name)
        }),
    };
    let mut table: ByteTable = match named {
        Some(base) => *base.table(),
        None => {
            let builtin = descriptor.and_then(|d| type1_builtin_encoding(doc, d, rd));
            match builtin {
                Some(t) => t,
                None if is_symbol_font => *BaseEncoding::Symbol.table(),
                None if subtype == b"TrueType" && !symbolic => *BaseEncoding::WinAnsi.table(),
                None => *BaseEncoding::Standard.table(),
            }
        }
    };
    let mut text: Vec<Option<Box<str>>> = table.iter_mut().map(|c| c.map(char_box)).collect();

    // /Differences: glyph names over the base table.
    if let Some(diffs) = enc_dict
        .and_then(|d| dict_get(d, b"Differences"))
        .and_then(|o| deref(doc, o))
        .and_then(|o| o.as_array().ok())
    {
        let mut code: i64 = 0;
        for item in diffs {
            match item {
                Object::Integer(n) => code = *n,
                Object::Real(r) => code = *r as i64,
                Object::Name(name) => {
                    if (0..256).contains(&code) {
                        text[code as usize] =
                            glyph_name_to_unicode(name).map(String::into_boxed_str);
                    }
                    code = code.saturating_add(1);
                }
                _ => {}
            }
        }
    }

    // ToUnicode wins where it has an entry.
    if let Some(cmap) = load_to_unicode(doc, dict, rd) {
        for (code, slot) in text.iter_mut().enumerate() {
            if let Some(t) = cmap.lookup_text(1, code as u32) {
                *slot = Some(t.into_boxed_str());
            }
        }
    }

    // Widths.
    let missing = descriptor
        .and_then(|d| num_of(doc, dict_get(d, b"MissingWidth")))
        .filter(|w| *w > 0.0);
    let mut widths = Box::new([missing.unwrap_or(FALLBACK_WIDTH); 256]);
    let first = num_of(doc, dict_get(dict, b"FirstChar")).unwrap_or(0.0) as i64;
    let has_widths = if let Some(ws) = dict_get(dict, b"Widths")
        .and_then(|o| deref(doc, o))
        .and_then(|o| o.as_array().ok())
    {
        for (i, w) in ws.iter().enumerate() {
            let code = first + i as i64;
            if (0..256).contains(&code)
                && let Some(w) = num_of(doc, Some(w))
            {
                widths[code as usize] = w;
            }
        }
        true
    } else {
        false
    };
    if !has_widths {
        // A base-14 font without /Widths: use the font's standard metrics.
        if contains(base_font, b"Courier") {
            widths.fill(600.0);
        } else if let Some(ascii) = super::std14::ascii_widths(base_font) {
            for (w, t) in widths.iter_mut().zip(&text) {
                let c = t.as_deref().and_then(|t| t.chars().next()).unwrap_or('x');
                *w = super::std14::width_of(ascii, c);
            }
        } else {
            widths.fill(FALLBACK_WIDTH);
            widths[32] = 250.0;
        }
    }

    let (width_scale, size_scale) = if subtype == b"Type3" {
        let m = dict_get(dict, b"FontMatrix")
            .and_then(|o| deref(doc, o))
            .and_then(|o| o.as_array().ok());
        let a = m.and_then(|m| num_of(doc, m.first())).unwrap_or(0.001);
        let d = m.and_then(|m| num_of(doc, m.get(3))).unwrap_or(0.001);
        let a = if a.is_finite() && a.abs() > 1e-9 {
            a.abs()
        } else {
            0.001
        };
        let d = if d.is_finite() && d.abs() > 1e-9 {
            d.abs()
        } else {
            0.001
        };
        // The em of a Type3 font is its glyph box height in text space; without a box,
        // assume the 1000-unit em of other fonts.
        let bbox_height = dict_get(dict, b"FontBBox")
            .and_then(|o| deref(doc, o))
            .and_then(|o| o.as_array().ok())
            .and_then(|b| Some((num_of(doc, b.get(3))? - num_of(doc, b.get(1))?).abs()))
            .filter(|h| *h > 0.0)
            .unwrap_or(1000.0);
        (a, (bbox_height * d).clamp(0.01, 100.0))
    } else {
        (0.001, 1.0)
    };

    Font {
        kind: Kind::Simple { text, widths },
        width_scale,
        size_scale,
        vertical: false,
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The built-in encoding of an embedded Type1 font program (`/FontFile`): the cleartext
/// part lists `dup <code> /<glyph> put`. TeX fonts often rely on it.
fn type1_builtin_encoding(
    doc: &Document,
    descriptor: &Dictionary,
    rd: &Reader<'_>,
) -> Option<ByteTable> {
    let (id, Object::Stream(stream)) = deref_id(doc, dict_get(descriptor, b"FontFile")?)? else {
        return None;
    };
    // Font descriptors, and the programs in them, are shared by many font dictionaries.
    rd.encoding(id, || builtin_encoding_of(doc, stream, rd))
}

fn builtin_encoding_of(
    doc: &Document,
    stream: &lopdf::Stream,
    rd: &Reader<'_>,
) -> Option<ByteTable> {
    let data = rd.stream_bytes(stream).ok()?;
    let clear_len = num_of(doc, stream.dict.get(b"Length1").ok())
        .map(|l| l as usize)
        .unwrap_or(data.len())
        .min(data.len());
    let clear = &data[..clear_len];
    let start = find(clear, b"/Encoding")?;
    let rest = &clear[start + 9..];
    if rest.trim_ascii_start().starts_with(b"StandardEncoding") {
        return Some(*BaseEncoding::Standard.table());
    }
    let mut table: ByteTable = [None; 256];
    let mut lex = super::lexer::Lexer::new(rest);
    let mut prev: [Option<super::lexer::Token<'_>>; 2] = [None, None];
    let mut any = false;
    while let Some(tok) = lex.next_token() {
        if let super::lexer::Token::Op(op) = &tok {
            if *op == b"put"
                && let [
                    Some(super::lexer::Token::Num(code)),
                    Some(super::lexer::Token::Name(name)),
                ] = &prev
            {
                let code = *code as usize;
                if code < 256 {
                    table[code] = glyph_name_to_unicode(name).and_then(|s| {
                        let mut it = s.chars();
                        let c = it.next()?;
                        it.next().is_none().then_some(c)
                    });
                    any = true;
                }
            }
            if *op == b"readonly" || *op == b"def" || *op == b"eexec" {
                break;
            }
        }
        prev = [prev[1].take(), Some(tok)];
    }
    any.then_some(table)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn load_composite(doc: &Document, dict: &Dictionary, rd: &Reader<'_>) -> Font {
    let vertical = match dict_get(dict, b"Encoding").and_then(|o| deref(doc, o)) {
        Some(Object::Name(n)) => n.ends_with(b"-V"),
        Some(Object::Stream(s)) => num_of(doc, s.dict.get(b"WMode").ok()) == Some(1.0),
        _ => false,
    };
    let encoding_obj = dict_get(dict, b"Encoding");
    let (encoding, unicode_codes, other_predefined) = match encoding_obj.and_then(|o| deref(doc, o))
    {
        Some(Object::Name(n)) => {
            let ucs = contains(n, b"UCS2") || contains(n, b"UTF16");
            let identity = n.starts_with(b"Identity");
            (None, ucs, !ucs && !identity)
        }
        Some(Object::Stream(_)) => (encoding_obj.and_then(|o| rd.cmap(doc, o)), false, false),
        _ => (None, false, false),
    };
    let to_unicode = load_to_unicode(doc, dict, rd);
    let descendant = dict_get(dict, b"DescendantFonts")
        .and_then(|o| deref(doc, o))
        .and_then(|o| o.as_array().ok())
        .and_then(|a| a.first())
        .and_then(|o| deref(doc, o))
        .and_then(|o| o.as_dict().ok());
    let mut widths = Vec::new();
    let mut default_width = 1000.0;
    if let Some(cid_font) = descendant {
        if let Some(dw) = num_of(doc, dict_get(cid_font, b"DW")) {
            default_width = dw;
        }
        if let Some(w) = dict_get(cid_font, b"W")
            .and_then(|o| deref(doc, o))
            .and_then(|o| o.as_array().ok())
        {
            let mut i = 0;
            while i < w.len() && widths.len() < 1 << 20 {
                let Some(first) = num_of(doc, w.get(i)) else {
                    i += 1;
                    continue;
                };
                let first = first.max(0.0) as u32;
                match w.get(i + 1).and_then(|o| deref(doc, o)) {
                    Some(Object::Array(list)) => {
                        for (k, v) in list.iter().enumerate() {
                            if let Some(v) = num_of(doc, Some(v)) {
                                let cid = first.saturating_add(k as u32);
                                widths.push((cid, cid, v));
                            }
                        }
                        i += 2;
                    }
                    Some(_) => {
                        let last = num_of(doc, w.get(i + 1)).unwrap_or(0.0).max(0.0) as u32;
                        if let Some(v) = num_of(doc, w.get(i + 2))
                            && last >= first
                        {
                            widths.push((first, last, v));
                        }
                        i += 3;
                    }
                    None => break,
                }
            }
        }
    }
    widths.sort_by_key(|&(lo, _, _)| lo);
    // Keep ranges non-overlapping so binary search works on hostile input.
    let mut clean: Vec<(u32, u32, f32)> = Vec::with_capacity(widths.len());
    for (lo, hi, w) in widths {
        match clean.last() {
            Some(&(_, prev_hi, _)) if lo <= prev_hi => {}
            _ => clean.push((lo, hi, w)),
        }
    }
    Font {
        kind: Kind::Composite {
            encoding,
            unicode_codes,
            other_predefined,
            to_unicode,
            widths: clean,
            default_width,
        },
        width_scale: 0.001,
        size_scale: 1.0,
        vertical,
    }
}
