//! Plain text files, and the character-set detection the other text formats share.
//!
//! Detection order: a byte-order mark (UTF-8, UTF-16 LE/BE) wins; then valid UTF-8; then
//! Windows-1252, the superset of Latin-1 that browsers and mail clients also assume for
//! unlabelled 8-bit text. That last guess can be wrong, so it is reported as a warning.
//! UTF-16 without a BOM is recognised by where its NUL bytes fall ([`sniff_utf16`]),
//! before the UTF-8 check (ASCII in UTF-16 is valid UTF-8 full of NULs), and decoded with
//! a warning; NUL bytes that fit no UTF-16 pattern mean binary data, which is refused
//! rather than indexed as mojibake.

use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE, WINDOWS_1252};

use crate::document::{Extracted, TextBuilder};
use crate::error::DocError;
use crate::loader::{LoadContext, Loader};
use crate::normalize::{normalize_text, tidy_whitespace};

/// How many leading bytes are inspected for NULs to recognise binary files.
const SNIFF_BYTES: usize = 8 * 1024;

/// Longest first line (in characters) that is taken as the title of a plain text file.
/// Longer first lines are prose, not titles.
pub const MAX_TITLE_CHARS: usize = 100;

/// Text decoded from bytes, with the encoding that was used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub text: String,
    /// WHATWG name of the encoding used (e.g. `UTF-8`, `windows-1252`).
    pub encoding: &'static str,
    /// Set when the encoding was guessed rather than declared or validated.
    pub warning: Option<String>,
}

/// The encoding announced by a byte-order mark, and the BOM's length.
pub fn bom_encoding(bytes: &[u8]) -> Option<(&'static Encoding, usize)> {
    Encoding::for_bom(bytes)
}

/// True when the first KBs hold a NUL byte that is not part of UTF-16 text.
pub fn looks_binary(bytes: &[u8]) -> bool {
    bytes[..bytes.len().min(SNIFF_BYTES)].contains(&0) && sniff_utf16(bytes).is_none()
}

/// UTF-16 without a byte-order mark, guessed from the first KBs. Text in a script whose
/// characters lie below U+0100 (Latin, digits, punctuation) has a NUL as the high byte
/// of nearly every character, so NULs fill one parity of byte positions (odd for
/// little-endian, even for big-endian) and hardly touch the other; binary data has NULs
/// on both. The guess must also decode cleanly: no lone surrogates and almost no control
/// characters besides tabs and line ends. Text with no NUL at all (say, all Cyrillic)
/// is not guessed: without the pattern the bytes say too little.
pub fn sniff_utf16(bytes: &[u8]) -> Option<&'static Encoding> {
    let head = &bytes[..bytes.len().min(SNIFF_BYTES) & !1];
    let pairs = head.len() / 2;
    if pairs < 2 {
        return None;
    }
    let (mut even, mut odd) = (0usize, 0usize);
    for p in head.chunks_exact(2) {
        even += usize::from(p[0] == 0);
        odd += usize::from(p[1] == 0);
    }
    // A third of the characters Latin-range at least, the other parity nearly clean.
    let enc = if odd * 3 >= pairs && even * 10 <= pairs {
        UTF_16LE
    } else if even * 3 >= pairs && odd * 10 <= pairs {
        UTF_16BE
    } else {
        return None;
    };
    let units = head.chunks_exact(2).map(|p| {
        if enc == UTF_16LE {
            u16::from_le_bytes([p[0], p[1]])
        } else {
            u16::from_be_bytes([p[0], p[1]])
        }
    });
    let (mut good, mut bad) = (0usize, 0usize);
    for c in char::decode_utf16(units) {
        match c {
            Ok('\t' | '\n' | '\r' | '\x0c') => good += 1,
            Ok(c) if c.is_control() => bad += 1,
            Ok(_) => good += 1,
            // The sniffed window may end inside a surrogate pair.
            Err(_) => bad += 1,
        }
    }
    (bad * 100 <= good.max(1) && good > 0).then_some(enc)
}

/// Decode bytes as text: BOM, else UTF-16 by its NULs, else UTF-8, else `fallback` (Windows-1252 when `None`) with
/// a warning. Never fails: undecodable bytes become U+FFFD.
pub fn decode(bytes: &[u8], fallback: Option<&'static Encoding>) -> Decoded {
    if let Some((enc, bom_len)) = bom_encoding(bytes) {
        let (text, _) = enc.decode_without_bom_handling(&bytes[bom_len..]);
        return Decoded {
            text: text.into_owned(),
            encoding: enc.name(),
            warning: None,
        };
    }
    if let Some(enc) = sniff_utf16(bytes) {
        let (text, _) = enc.decode_without_bom_handling(bytes);
        return Decoded {
            text: text.into_owned(),
            encoding: enc.name(),
            warning: Some(format!(
                "no byte-order mark: decoded as {} (guessed from its NUL bytes)",
                enc.name()
            )),
        };
    }
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Decoded {
            text: s.to_string(),
            encoding: UTF_8.name(),
            warning: None,
        };
    }
    let enc = fallback.unwrap_or(WINDOWS_1252);
    let (text, _) = enc.decode_without_bom_handling(bytes);
    Decoded {
        text: text.into_owned(),
        encoding: enc.name(),
        warning: (enc == WINDOWS_1252)
            .then(|| "not valid UTF-8: decoded as Windows-1252 (Latin-1)".to_string()),
    }
}

/// Plain text: decoded as above, line ends made `\n`, whitespace tidied (runs of spaces
/// collapse, at most one blank line between paragraphs).
///
/// Title: the first non-empty line when it is at most [`MAX_TITLE_CHARS`] characters
/// and more text follows it; a file that is one line or starts with a paragraph has none.
#[derive(Debug, Clone, Copy, Default)]
pub struct TextLoader;

impl Loader for TextLoader {
    fn name(&self) -> &'static str {
        "text"
    }

    fn load(&self, bytes: &[u8], ctx: &LoadContext<'_>) -> Result<Extracted, DocError> {
        let is_utf16 = bom_encoding(bytes).is_some_and(|(e, _)| e == UTF_16LE || e == UTF_16BE);
        if !is_utf16 && looks_binary(bytes) {
            return Err(DocError::WrongFormat {
                expected: "text",
                reason: "binary data (NUL bytes) near the start".into(),
            });
        }
        ctx.deadline.check_more(bytes.len())?;
        let Decoded {
            text: raw,
            encoding,
            warning,
        } = decode(bytes, None);
        // Each step copies the text once: ask the memory budget before, not after.
        ctx.deadline.check_more(raw.len())?;
        let normalized = normalize_text(&raw);
        drop(raw);
        ctx.deadline.check_more(normalized.len())?;
        let text = tidy_whitespace(&normalized);
        drop(normalized);
        ctx.check_text(text.len())?;
        let mut b = TextBuilder::new();
        if let Some(w) = warning {
            b.warn(w);
        }
        if encoding != UTF_8.name() {
            b.metadata("encoding", encoding);
        }
        if let Some((first, rest)) = text.split_once('\n')
            && first.chars().count() <= MAX_TITLE_CHARS
            && !rest.trim().is_empty()
        {
            b.set_title(first);
        }
        b.push_str(&text);
        Ok(b.finish(true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loader::Limits;

    fn load(bytes: &[u8]) -> Result<Extracted, DocError> {
        TextLoader.load(bytes, &LoadContext::new(&Limits::default()))
    }

    #[test]
    fn utf8_with_bom_and_crlf() {
        let ex = load(b"\xEF\xBB\xBFNotes\r\n\r\nfirst  line\rsecond\r\n").unwrap();
        assert_eq!(ex.text, "Notes\n\nfirst line\nsecond");
        assert_eq!(ex.title.as_deref(), Some("Notes"));
        assert!(ex.warnings.is_empty());
        assert_eq!(ex.pages.len(), 1);
    }

    #[test]
    fn utf16_both_orders() {
        let s = "Grüße\nzweite Zeile";
        let mut le = vec![0xFF, 0xFE];
        let mut be = vec![0xFE, 0xFF];
        for u in s.encode_utf16() {
            le.extend(u.to_le_bytes());
            be.extend(u.to_be_bytes());
        }
        assert_eq!(load(&le).unwrap().text, s);
        let ex = load(&be).unwrap();
        assert_eq!(ex.text, s);
        assert_eq!(ex.metadata["encoding"], "UTF-16BE");
    }

    fn utf16(s: &str, little: bool) -> Vec<u8> {
        s.encode_utf16()
            .flat_map(|u| {
                if little {
                    u.to_le_bytes()
                } else {
                    u.to_be_bytes()
                }
            })
            .collect()
    }

    #[test]
    fn utf16_without_bom_is_read_with_a_warning() {
        let s = "Quarterly notes\nRevenue grew 4% in Zürich; see § 3.\n\tКиев, 東京\r\n";
        for little in [true, false] {
            let ex = load(&utf16(s, little)).unwrap();
            assert_eq!(ex.title.as_deref(), Some("Quarterly notes"));
            assert!(ex.text.contains("Revenue grew 4% in Zürich; see § 3."));
            assert!(ex.text.contains("Киев, 東京"));
            let name = if little { "UTF-16LE" } else { "UTF-16BE" };
            assert_eq!(ex.metadata["encoding"], name);
            assert!(
                ex.warnings[0].contains("no byte-order mark"),
                "{:?}",
                ex.warnings
            );
        }
        // Markdown and HTML share the detection.
        let md = crate::markdown::MarkdownLoader
            .load(
                &utf16("# Title\n\nBody text here.", true),
                &LoadContext::new(&Limits::default()),
            )
            .unwrap();
        assert_eq!(md.title.as_deref(), Some("Title"));
        let html = crate::html::HtmlLoader
            .load(
                &utf16("<html><title>Page</title><p>Body text.</p></html>", false),
                &LoadContext::new(&Limits::default()),
            )
            .unwrap();
        assert!(html.text.contains("Body text."));
    }

    #[test]
    fn nul_bytes_on_both_parities_stay_binary() {
        let mut elf = b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00".to_vec();
        elf.extend((0..4000u32).flat_map(|i| (i * 2654435761).to_le_bytes()));
        assert!(looks_binary(&elf));
        assert!(sniff_utf16(&elf).is_none());
        // NULs on one parity but decoding to control characters: not text either.
        let ctl: Vec<u8> = (0..2000).flat_map(|i| [(i % 8) as u8 + 1, 0]).collect();
        assert!(looks_binary(&ctl));
        assert_eq!(load(&ctl).unwrap_err().kind(), "wrong_format");
    }

    #[test]
    fn latin1_fallback_warns() {
        let ex = load(b"caf\xe9 cr\xe8me \x80 5").unwrap();
        assert_eq!(ex.text, "café crème € 5");
        assert_eq!(ex.warnings.len(), 1);
        assert_eq!(ex.title, None);
    }

    #[test]
    fn binary_is_wrong_format() {
        let err = load(b"\x7fELF\x02\x01\x01\x00\x00\x00").unwrap_err();
        assert_eq!(err.kind(), "wrong_format");
    }

    #[test]
    fn long_first_line_is_no_title() {
        let long = "word ".repeat(40);
        let ex = load(format!("{long}\nmore").as_bytes()).unwrap();
        assert_eq!(ex.title, None);
        assert_eq!(load(b"only one line").unwrap().title, None);
    }

    #[test]
    fn text_cap() {
        let limits = Limits {
            max_text_bytes: 10,
            ..Limits::default()
        };
        let err = TextLoader
            .load(b"0123456789abcdef", &LoadContext::new(&limits))
            .unwrap_err();
        assert_eq!(err.kind(), "too_large");
    }
}
