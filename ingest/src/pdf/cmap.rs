//! CMaps: `ToUnicode` maps (codes to text) and embedded encoding CMaps of Type0 fonts
//! (codes to CIDs), with multi-byte codespaces.
//!
//! Only the operators that carry mappings are read (`begincodespacerange`, `bfchar`,
//! `bfrange` in both the incrementing and the array form, `cidchar`, `cidrange`); the
//! PostScript around them is skipped. Every size is bounded, since CMaps come from the
//! file: the mappings of one CMap, the text of one mapping (a code that maps to a
//! megabyte would make every string shown with it a megabyte), the codespaces, and the
//! text of all mappings (the document's text cap); the deadline is checked as the
//! tokens go by. Wide ranges stay ranges, sorted, and a code is looked up among them by
//! binary search.

use std::collections::HashMap;

use super::lexer::{Lexer, Token};
use crate::error::DocError;
use crate::loader::LoadContext;

/// Ranges wider than this are kept as ranges instead of being expanded into the table.
const EXPAND_LIMIT: u32 = 256;
/// At most this many mappings are read from one CMap.
const MAX_ENTRIES: usize = 200_000;
/// Longest text of one mapping, in UTF-16 units: 512 bytes, the limit the CMap
/// specification sets for a destination string. Longer ones are cut.
const MAX_MAPPING_UNITS: usize = 256;
/// At most this many codespace ranges (each code's length is looked up among them).
const MAX_CODESPACES: usize = 256;
/// Tokens between two deadline checks.
const DEADLINE_EVERY: usize = 4096;

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
    /// Ranges mapping to text, then to CIDs: each sorted by (code length, first code)
    /// and without overlaps once parsed, for binary search.
    text_ranges: Vec<Range>,
    cid_ranges: Vec<Range>,
    /// Bytes of text held by the mappings.
    text_bytes: u64,
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
    bytes[..bytes.len().min(2 * MAX_MAPPING_UNITS)]
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
    /// Parse the decoded bytes of a CMap stream. What cannot be read is skipped, and an
    /// empty map results at worst; only the deadline and the text cap fail it.
    pub fn parse(data: &[u8], ctx: &LoadContext<'_>) -> Result<CMap, DocError> {
        let mut cmap = CMap::default();
        let mut lex = Lexer::new(data);
        let mut operands: Vec<Token> = Vec::new();
        let mut entries = 0usize;
        let mut tokens = 0usize;
        while let Some(tok) = lex.next_token() {
            tokens += 1;
            if tokens.is_multiple_of(DEADLINE_EVERY) {
                ctx.deadline.check()?;
                ctx.check_text(usize::try_from(cmap.text_bytes).unwrap_or(usize::MAX))?;
            }
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
                            && cmap.codespaces.len() < MAX_CODESPACES
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
                            cmap.add_text(len, code, text);
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
                                    .take(EXPAND_LIMIT as usize)
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
        ctx.check_text(usize::try_from(cmap.text_bytes).unwrap_or(usize::MAX))?;
        cmap.text_ranges = disjoint(std::mem::take(&mut cmap.text_ranges));
        cmap.cid_ranges = disjoint(std::mem::take(&mut cmap.cid_ranges));
        Ok(cmap)
    }

    fn add_text(&mut self, len: u8, code: u32, text: String) {
        self.text_bytes += text.len() as u64;
        if let Some(old) = self.text.insert(key(len, code), text) {
            self.text_bytes -= old.len() as u64;
        }
    }

    /// Roughly the memory the map holds, for the document's budget.
    pub fn heap_bytes(&self) -> u64 {
        let range_bytes: usize = self
            .text_ranges
            .iter()
            .chain(&self.cid_ranges)
            .map(|r| {
                std::mem::size_of::<Range>()
                    + match &r.target {
                        RangeTarget::Incrementing(u) => 2 * u.len(),
                        RangeTarget::Array(items) => items.iter().map(|t| 24 + t.len()).sum(),
                        RangeTarget::Cid(_) => 0,
                    }
            })
            .sum();
        // A hash map entry: key, value and control byte, with the table's slack.
        let text_entries = self.text.len() * (8 + 24 + 1) * 8 / 7;
        let cid_entries = self.cids.len() * (8 + 4 + 1) * 8 / 7;
        (text_entries + cid_entries + range_bytes) as u64 + self.text_bytes
    }

    /// Store a range, expanding small ones into the tables. Returns the entries added.
    fn add_range(&mut self, len: u8, lo: u32, hi: u32, target: RangeTarget) -> usize {
        if hi < lo {
            return 0;
        }
        let span = hi - lo;
        if span >= EXPAND_LIMIT {
            if let RangeTarget::Array(items) = &target {
                self.text_bytes += items.iter().map(|t| t.len() as u64).sum::<u64>();
            }
            let range = Range {
                len,
                lo,
                hi,
                target,
            };
            match range.target {
                RangeTarget::Cid(_) => self.cid_ranges.push(range),
                _ => self.text_ranges.push(range),
            }
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
                        self.add_text(len, code, text);
                    }
                }
            }
        }
        span as usize + 1
    }

    /// True when the map has any code-to-text mapping.
    pub fn has_text(&self) -> bool {
        !self.text.is_empty() || !self.text_ranges.is_empty()
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
        find_range(&self.text_ranges, len, code).and_then(|r| range_text(&r.target, code - r.lo))
    }

    /// The CID a code of `len` bytes maps to.
    pub fn lookup_cid(&self, len: u8, code: u32) -> Option<u32> {
        if let Some(c) = self.cids.get(&key(len, code)) {
            return Some(*c);
        }
        let r = find_range(&self.cid_ranges, len, code)?;
        match r.target {
            RangeTarget::Cid(cid) => Some(cid.saturating_add(code - r.lo)),
            _ => None,
        }
    }
}

/// Ranges sorted by (code length, first code), with any range that overlaps an earlier
/// one of the same length dropped (hostile maps only; the lower one wins).
fn disjoint(mut ranges: Vec<Range>) -> Vec<Range> {
    ranges.sort_by_key(|r| (r.len, r.lo));
    let mut out: Vec<Range> = Vec::with_capacity(ranges.len());
    for r in ranges {
        match out.last() {
            Some(prev) if prev.len == r.len && r.lo <= prev.hi => {}
            _ => out.push(r),
        }
    }
    out
}

/// The range holding `code` among sorted, disjoint ranges.
fn find_range(ranges: &[Range], len: u8, code: u32) -> Option<&Range> {
    let i = ranges.partition_point(|r| (r.len, r.hi) < (len, code));
    ranges
        .get(i)
        .filter(|r| r.len == len && r.lo <= code && code <= r.hi)
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

    fn parse(src: &[u8]) -> CMap {
        CMap::parse(src, &LoadContext::new(&crate::Limits::default())).unwrap()
    }

    #[test]
    fn bfchar_bfrange_and_codespaces() {
        let src = b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap
            1 begincodespacerange <0000> <FFFF> endcodespacerange
            2 beginbfchar <0003> <0020> <0011> <00660069> endbfchar
            2 beginbfrange <0024> <0026> <0041> <0030> <0031> [<0078> <D835DC00>] endbfrange
            endcmap";
        let cmap = parse(src);
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
        let cmap = parse(src);
        assert_eq!(cmap.code_len(&[0x41, 0x81]), 1);
        assert_eq!(cmap.code_len(&[0x81, 0x41]), 2);
        assert_eq!(cmap.lookup_text(2, 0x4E2D).as_deref(), Some("中"));
        assert_eq!(cmap.lookup_cid(2, 0x8141), Some(634));
    }

    #[test]
    fn many_wide_ranges_are_found_by_binary_search() {
        // 5,000 ranges of 300 codes each, written in reverse order, and one that
        // overlaps an earlier one (dropped).
        let mut src = String::from("1 begincodespacerange <000000> <FFFFFF> endcodespacerange\n");
        for block in (0..50u32).rev() {
            src.push_str("100 beginbfrange\n");
            for i in (0..100u32).rev() {
                let lo = (block * 100 + i) * 300;
                src.push_str(&format!(
                    "<{lo:06X}> <{:06X}> <{:04X}>\n",
                    lo + 299,
                    (block * 100 + i) % 0xD000
                ));
            }
            src.push_str("endbfrange\n");
        }
        src.push_str("1 begincidrange <000100> <0009FF> 7 endcidrange\n");
        src.push_str("1 beginbfrange <000150> <0003FF> <0041> endbfrange\n");
        let cmap = parse(src.as_bytes());
        assert_eq!(cmap.text_ranges.len(), 5000);
        for n in [0u32, 1, 2499, 4999] {
            let lo = n * 300;
            assert_eq!(
                cmap.lookup_text(3, lo).unwrap(),
                units_to_string(&[(n % 0xD000) as u16])
            );
            assert_eq!(
                cmap.lookup_text(3, lo + 299).unwrap(),
                units_to_string(&[(n % 0xD000) as u16 + 299])
            );
        }
        assert_eq!(cmap.lookup_text(3, 5000 * 300), None);
        assert_eq!(cmap.lookup_text(2, 5), None);
        // The overlapping range lost to the one that starts lower (range 1: codes 300
        // to 599 from U+0001).
        assert_eq!(
            cmap.lookup_text(3, 0x150).unwrap(),
            units_to_string(&[1 + 0x150 - 300])
        );
        assert_eq!(cmap.lookup_cid(3, 0x100), Some(7));
        assert_eq!(cmap.lookup_cid(3, 0x9FF), Some(7 + 0x8FF));
        assert_eq!(cmap.lookup_cid(3, 0xA00), None);
    }
}
