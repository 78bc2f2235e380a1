//! CMaps: `ToUnicode` maps (codes to text) and embedded encoding CMaps of Type0 fonts
//! (codes to CIDs), with multi-byte codespaces.
//!
//! Only the operators that carry mappings are read (`begincodespacerange`, `bfchar`,
//! `bfrange` in both the incrementing and the array form, `cidchar`, `cidrange`); the
//! PostScript around them is skipped. Every size is bounded, since CMaps come from the
//! file.

use std::collections::HashMap;

use super::lexer::{Lexer, Token};

/// Ranges wider than this are kept as ranges instead of being expanded into the table.
const EXPAND_LIMIT: u32 = 256;
/// At most this many mappings are read from one CMap.
const MAX_ENTRIES: usize = 200_000;

/// A codespace range: codes of `len` bytes between `lo` and `hi`.
#[derive(Debug, Clone, Copy)]
struct Codespace {
    len: u8,
    lo: u32,
    hi: u32,
}

#[derive(Debug, Clone)]
enum RangeTarget {
    /// The first code maps to this text; later ones increment its last UTF-16 unit.
    Incrementing(Vec<u16>),
    /// One entry per code.
    Array(Vec<String>),
    /// The first code maps to this CID; later ones increment it.
    Cid(u32),
}

#[derive(Debug, Clone)]
struct Range {
    len: u8,
    lo: u32,
    hi: u32,
    target: RangeTarget,
}

/// A parsed CMap.
#[derive(Debug, Clone, Default)]
pub struct CMap {
    codespaces: Vec<Codespace>,
    text: HashMap<u64, String>,
    cids: HashMap<u64, u32>,
    ranges: Vec<Range>,
}

fn key(len: u8, code: u32) -> u64 {
    (u64::from(len) << 32) | u64::from(code)
}

fn be_value(bytes: &[u8]) -> Option<(u8, u32)> {
    if bytes.is_empty() || bytes.len() > 4 {
        return None;
    }
    Some((
        bytes.len() as u8,
        bytes.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b)),
    ))
}

fn utf16be_units(bytes: &[u8]) -> Vec<u16> {
    bytes
        .chunks(2)
        .map(|c| match c {
            [a, b] => u16::from_be_bytes([*a, *b]),
            [a] => u16::from(*a),
            _ => 0,
        })
        .collect()
}

fn units_to_string(units: &[u16]) -> String {
    char::decode_utf16(units.iter().copied())
        .map(|r| r.unwrap_or('\u{FFFD}'))
        .collect()
}

impl CMap {
    /// Parse the decoded bytes of a CMap stream. Never fails: what cannot be read is
    /// skipped, and an empty map results at worst.
    pub fn parse(data: &[u8]) -> CMap {
        let mut cmap = CMap::default();
        let mut lex = Lexer::new(data);
        let mut operands: Vec<Token> = Vec::new();
        let mut entries = 0usize;
        while let Some(tok) = lex.next_token() {
            let Token::Op(op) = tok else {
                if operands.len() < 4096 {
                    operands.push(tok);
                }
                continue;
            };
            match op {
                b"endcodespacerange" => {
                    for pair in operands.chunks(2) {
                        if let [Token::Str(lo), Token::Str(hi)] = pair
                            && let (Some((len, lo)), Some((_, hi))) = (be_value(lo), be_value(hi))
                        {
                            cmap.codespaces.push(Codespace { len, lo, hi });
                        }
                    }
                }
                b"endbfchar" => {
                    for pair in operands.chunks(2) {
                        if let [Token::Str(src), dst] = pair
                            && let Some((len, code)) = be_value(src)
                        {
                            let text = match dst {
                                Token::Str(s) => units_to_string(&utf16be_units(s)),
                                Token::Name(n) => {
                                    super::encoding::glyph_name_to_unicode(n).unwrap_or_default()
                                }
                                _ => continue,
                            };
                            cmap.text.insert(key(len, code), text);
                            entries += 1;
                        }
                    }
                }
                b"endbfrange" => {
                    let mut i = 0;
                    while i + 3 <= operands.len() && entries < MAX_ENTRIES {
                        let (Token::Str(lo), Token::Str(hi)) = (&operands[i], &operands[i + 1])
                        else {
                            i += 1;
                            continue;
                        };
                        let (Some((len, lo)), Some((_, hi))) = (be_value(lo), be_value(hi)) else {
                            i += 3;
                            continue;
                        };
                        let target = match &operands[i + 2] {
                            Token::Str(s) => RangeTarget::Incrementing(utf16be_units(s)),
                            Token::Array(items) => RangeTarget::Array(
                                items
                                    .iter()
                                    .map(|t| match t {
                                        Token::Str(s) => units_to_string(&utf16be_units(s)),
                                        _ => String::new(),
                                    })
                                    .collect(),
                            ),
                            _ => {
                                i += 3;
                                continue;
                            }
                        };
                        entries += cmap.add_range(len, lo, hi, target);
                        i += 3;
                    }
                }
                b"endcidchar" => {
                    for pair in operands.chunks(2) {
                        if let [Token::Str(src), Token::Num(cid)] = pair
                            && let Some((len, code)) = be_value(src)
                        {
                            cmap.cids.insert(key(len, code), *cid as u32);
                            entries += 1;
                        }
                    }
                }
                b"endcidrange" => {
                    for triple in operands.chunks(3) {
                        if let [Token::Str(lo), Token::Str(hi), Token::Num(cid)] = triple
                            && let (Some((len, lo)), Some((_, hi))) = (be_value(lo), be_value(hi))
                            && entries < MAX_ENTRIES
                        {
                            entries += cmap.add_range(len, lo, hi, RangeTarget::Cid(*cid as u32));
                        }
                    }
                }
                _ => {}
            }
            operands.clear();
            if entries >= MAX_ENTRIES {
                break;
            }
        }
        cmap
    }

    /// Store a range, expanding small ones into the tables. Returns the entries added.
    fn add_range(&mut self, len: u8, lo: u32, hi: u32, target: RangeTarget) -> usize {
        if hi < lo {
            return 0;
        }
        let span = hi - lo;
        if span >= EXPAND_LIMIT {
            self.ranges.push(Range {
                len,
                lo,
                hi,
                target,
            });
            return 1;
        }
        for offset in 0..=span {
            let code = lo + offset;
            match &target {
                RangeTarget::Cid(cid) => {
                    self.cids.insert(key(len, code), cid.saturating_add(offset));
                }
                t => {
                    if let Some(text) = range_text(t, offset) {
                        self.text.insert(key(len, code), text);
                    }
                }
            }
        }
        span as usize + 1
    }

    /// True when the map has any code-to-text mapping.
    pub fn has_text(&self) -> bool {
        !self.text.is_empty()
            || self
                .ranges
                .iter()
                .any(|r| !matches!(r.target, RangeTarget::Cid(_)))
    }

    /// The lengths of codes in this map's codespaces (for splitting a string into codes).
    pub fn has_codespaces(&self) -> bool {
        !self.codespaces.is_empty()
    }

    /// Length of the code that starts `bytes`, by the codespace ranges (1 if none match).
    pub fn code_len(&self, bytes: &[u8]) -> usize {
        for cs in &self.codespaces {
            let n = usize::from(cs.len);
            if bytes.len() >= n
                && let Some((_, v)) = be_value(&bytes[..n])
                && v >= cs.lo
                && v <= cs.hi
            {
                return n;
            }
        }
        // No range matches: take the shortest codespace length, per the spec's advice.
        self.codespaces
            .iter()
            .map(|cs| usize::from(cs.len))
            .min()
            .unwrap_or(1)
            .max(1)
    }

    /// The text a code of `len` bytes maps to.
    pub fn lookup_text(&self, len: u8, code: u32) -> Option<String> {
        if let Some(t) = self.text.get(&key(len, code)) {
            return Some(t.clone());
        }
        self.ranges
            .iter()
            .find(|r| {
                r.len == len
                    && code >= r.lo
                    && code <= r.hi
                    && !matches!(r.target, RangeTarget::Cid(_))
            })
            .and_then(|r| range_text(&r.target, code - r.lo))
    }

    /// The CID a code of `len` bytes maps to.
    pub fn lookup_cid(&self, len: u8, code: u32) -> Option<u32> {
        if let Some(c) = self.cids.get(&key(len, code)) {
            return Some(*c);
        }
        self.ranges.iter().find_map(|r| match r.target {
            RangeTarget::Cid(cid) if r.len == len && code >= r.lo && code <= r.hi => {
                Some(cid.saturating_add(code - r.lo))
            }
            _ => None,
        })
    }
}

fn range_text(target: &RangeTarget, offset: u32) -> Option<String> {
    match target {
        RangeTarget::Incrementing(units) => {
            let mut units = units.clone();
            let last = units.last_mut()?;
            *last = last.wrapping_add(offset as u16);
            Some(units_to_string(&units))
        }
        RangeTarget::Array(items) => items.get(offset as usize).cloned(),
        RangeTarget::Cid(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bfchar_bfrange_and_codespaces() {
        let src = b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap
            1 begincodespacerange <0000> <FFFF> endcodespacerange
            2 beginbfchar <0003> <0020> <0011> <00660069> endbfchar
            2 beginbfrange <0024> <0026> <0041> <0030> <0031> [<0078> <D835DC00>] endbfrange
            endcmap";
        let cmap = CMap::parse(src);
        assert_eq!(cmap.code_len(&[0, 3]), 2);
        assert_eq!(cmap.lookup_text(2, 3).as_deref(), Some(" "));
        assert_eq!(cmap.lookup_text(2, 0x11).as_deref(), Some("fi"));
        assert_eq!(cmap.lookup_text(2, 0x25).as_deref(), Some("B"));
        assert_eq!(cmap.lookup_text(2, 0x31).as_deref(), Some("\u{1D400}"));
        assert_eq!(cmap.lookup_text(1, 0x25), None);
    }

    #[test]
    fn wide_ranges_stay_ranges() {
        let src = b"1 begincodespacerange <00> <80> <8140> <FFFF> endcodespacerange
            1 beginbfrange <0000> <FFFF> <0000> endbfrange
            1 begincidrange <8140> <817E> 633 endcidrange";
        let cmap = CMap::parse(src);
        assert_eq!(cmap.code_len(&[0x41, 0x81]), 1);
        assert_eq!(cmap.code_len(&[0x81, 0x41]), 2);
        assert_eq!(cmap.lookup_text(2, 0x4E2D).as_deref(), Some("中"));
        assert_eq!(cmap.lookup_cid(2, 0x8141), Some(634));
    }
}
