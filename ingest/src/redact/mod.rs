//! Opt-in redaction of personal data (PII) at ingest: e-mail addresses, phone numbers,
//! IBANs, payment card numbers, IP addresses and national id numbers are replaced in a
//! document by typed placeholders (`[EMAIL]`, `[PHONE]`, `[IBAN]`, `[CARD]`, `[IP]`,
//! `[ID]`) before it is chunked, so that no store, output or report ever holds the
//! value.
//!
//! Redaction runs on the finished [`Document`]: its text (then its pages, headings and
//! tables are moved to the new offsets, so every offset a chunk or a citation carries
//! refers to the redacted text, and page breaks are never touched), its title, heading
//! titles, table headers and metadata values (an e-mail's `from` and `to`). What was
//! redacted is counted per kind in [`Document::redactions`], never recorded.
//!
//! Each detector (see [`detect`]) validates what it finds (checksums, numbering plans,
//! address parsers) rather than trusting a pattern, so that order numbers, dates,
//! versions and ISBNs stay. Person names are not detected: that needs a named-entity
//! model, which docket does not ship; asking for `person` is a configuration error
//! rather than a weak guess.
//!
//! ```
//! use docket_ingest::redact::{PiiKind, RedactOptions, Redactor};
//!
//! let options = RedactOptions { kinds: vec![PiiKind::Email, PiiKind::Card], ..RedactOptions::default() };
//! let redactor = Redactor::new(&options).expect("kinds were asked for");
//! let (text, counts) = redactor.redact_text("Mail ann@example.org, card 4111 1111 1111 1111.");
//! assert_eq!(text, "Mail [EMAIL], card [CARD].");
//! assert_eq!(counts[&PiiKind::Email], 1);
//! ```

pub mod detect;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use phonenumber::country::Id as Region;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::document::Document;

/// Bumped whenever a detector changes what it finds, so that documents redacted by an
/// older version are ingested again (it is part of [`Redactor::fingerprint`]).
const DETECTORS_VERSION: u32 = 1;

/// A kind of personal data that can be redacted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PiiKind {
    Email,
    Phone,
    Iban,
    Card,
    Ip,
    /// National id numbers (US SSN, UK NINO, French NIR, Dutch BSN, German tax id).
    Id,
}

impl PiiKind {
    /// Every kind, in the order of precedence when two detections overlap (an IBAN's
    /// digits are not also a phone number).
    pub const ALL: [PiiKind; 6] = [
        PiiKind::Email,
        PiiKind::Iban,
        PiiKind::Card,
        PiiKind::Id,
        PiiKind::Ip,
        PiiKind::Phone,
    ];

    /// The name used in job files, flags and reports.
    pub fn name(self) -> &'static str {
        match self {
            PiiKind::Email => "email",
            PiiKind::Phone => "phone",
            PiiKind::Iban => "iban",
            PiiKind::Card => "card",
            PiiKind::Ip => "ip",
            PiiKind::Id => "id",
        }
    }

    /// What replaces a value of this kind in the text.
    pub fn placeholder(self) -> &'static str {
        match self {
            PiiKind::Email => "[EMAIL]",
            PiiKind::Phone => "[PHONE]",
            PiiKind::Iban => "[IBAN]",
            PiiKind::Card => "[CARD]",
            PiiKind::Ip => "[IP]",
            PiiKind::Id => "[ID]",
        }
    }
}

impl fmt::Display for PiiKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

impl FromStr for PiiKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let known = || {
            PiiKind::ALL
                .iter()
                .map(|k| k.name())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match s.trim().to_ascii_lowercase().as_str() {
            "email" => Ok(PiiKind::Email),
            "phone" => Ok(PiiKind::Phone),
            "iban" => Ok(PiiKind::Iban),
            "card" => Ok(PiiKind::Card),
            "ip" => Ok(PiiKind::Ip),
            "id" => Ok(PiiKind::Id),
            "person" | "name" | "names" => Err(format!(
                "person redaction needs a named-entity (NER) model, which docket does not \
                 provide; leave \"{s}\" out (available: {})",
                known()
            )),
            _ => Err(format!(
                "unknown kind of personal data \"{s}\" (available: {})",
                known()
            )),
        }
    }
}

impl Serialize for PiiKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for PiiKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A region (ISO 3166 alpha-2 code, `US`, `DE`) whose national phone formats are
/// recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhoneRegion(pub Region);

impl FromStr for PhoneRegion {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Region::from_str(&s.trim().to_ascii_uppercase())
            .map(PhoneRegion)
            .map_err(|_| format!("unknown phone region \"{s}\" (a two-letter country code)"))
    }
}

impl Serialize for PhoneRegion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(AsRef::<str>::as_ref(&self.0))
    }
}

impl<'de> Deserialize<'de> for PhoneRegion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// What to redact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedactOptions {
    /// The kinds of personal data to redact; none (the default) turns redaction off.
    pub kinds: Vec<PiiKind>,
    /// Regions whose national phone formats (`(415) 555-0132`, `030 901820`) are
    /// recognised; numbers written internationally (`+49 30 901820`) are recognised for
    /// every region. A national number is ambiguous without its region, so this is the
    /// user's to say.
    pub phone_regions: Vec<PhoneRegion>,
}

impl RedactOptions {
    /// The regions of the two largest English-speaking numbering plans (North America's
    /// `+1`, the UK's `+44`).
    pub fn default_phone_regions() -> Vec<PhoneRegion> {
        vec![PhoneRegion(Region::US), PhoneRegion(Region::GB)]
    }
}

impl Default for RedactOptions {
    fn default() -> Self {
        RedactOptions {
            kinds: Vec::new(),
            phone_regions: Self::default_phone_regions(),
        }
    }
}

/// A detection: bytes `start..end` of the text hold a value of `kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
    pub kind: PiiKind,
}

impl Span {
    pub fn new(start: usize, end: usize, kind: PiiKind) -> Self {
        Span { start, end, kind }
    }
}

/// How many values of each kind were redacted.
pub type Counts = BTreeMap<PiiKind, usize>;

/// Finds and replaces personal data, for the kinds it was made with.
#[derive(Debug, Clone)]
pub struct Redactor {
    kinds: Vec<PiiKind>,
    regions: Vec<Region>,
}

impl Redactor {
    /// A redactor for these options; `None` when they ask for no kind.
    pub fn new(options: &RedactOptions) -> Option<Redactor> {
        let mut kinds: Vec<PiiKind> = PiiKind::ALL
            .into_iter()
            .filter(|k| options.kinds.contains(k))
            .collect();
        kinds.dedup();
        if kinds.is_empty() {
            return None;
        }
        let mut regions: Vec<Region> = Vec::new();
        for r in &options.phone_regions {
            if !regions.contains(&r.0) {
                regions.push(r.0);
            }
        }
        Some(Redactor { kinds, regions })
    }

    /// The kinds redacted, in order of precedence.
    pub fn kinds(&self) -> &[PiiKind] {
        &self.kinds
    }

    /// What the redacted text depends on: the kinds, the phone regions and the
    /// detectors' version. A document ingested under another fingerprint is ingested
    /// again (see [`Redactor::mark_hash`]).
    pub fn fingerprint(&self) -> String {
        let kinds: Vec<&str> = self.kinds.iter().map(|k| k.name()).collect();
        let regions: Vec<&str> = self.regions.iter().map(AsRef::<str>::as_ref).collect();
        format!(
            "redact v{DETECTORS_VERSION}: {}; phone regions {}",
            kinds.join(","),
            regions.join(",")
        )
    }

    /// The content hash of a source ingested with this redactor: the hash of its bytes
    /// combined with the [`fingerprint`](Self::fingerprint). An index compares content
    /// hashes to decide what to ingest again, so turning redaction on, off or to other
    /// kinds re-ingests every document, as it must.
    pub fn mark_hash(&self, content_hash: &str) -> String {
        let mut h = blake3::Hasher::new();
        h.update(content_hash.as_bytes());
        h.update(b"\n");
        h.update(self.fingerprint().as_bytes());
        h.finalize().to_hex().to_string()
    }

    /// The values in `text`, in order, none overlapping another (by the precedence of
    /// [`PiiKind::ALL`]).
    pub fn find(&self, text: &str) -> Vec<Span> {
        let mut found = Vec::new();
        for &kind in &self.kinds {
            let mut spans = Vec::new();
            match kind {
                PiiKind::Email => detect::emails(text, &mut spans),
                PiiKind::Iban => detect::ibans(text, &mut spans),
                PiiKind::Card => detect::cards(text, &mut spans),
                PiiKind::Id => detect::national_ids(text, &mut spans),
                PiiKind::Ip => detect::ips(text, &mut spans),
                PiiKind::Phone => detect::phones(text, &self.regions, &mut spans),
            }
            found.push(spans);
        }
        // Earlier kinds win: keep a span only where no kept span lies.
        let mut kept: Vec<Span> = Vec::new();
        for spans in found {
            for s in spans {
                let i = kept.partition_point(|k| k.end <= s.start);
                if kept.get(i).is_none_or(|k| k.start >= s.end) {
                    kept.insert(i, s);
                }
            }
        }
        kept
    }

    /// `text` with every value replaced by its placeholder, and the counts per kind.
    pub fn redact_text(&self, text: &str) -> (String, Counts) {
        let spans = self.find(text);
        let mut counts = Counts::new();
        for s in &spans {
            *counts.entry(s.kind).or_default() += 1;
        }
        (replace(text, &spans), counts)
    }

    /// Redact a document in place: its text (moving its pages, headings and tables to
    /// the new offsets), title, heading titles, table headers and metadata values; set
    /// [`Document::redactions`] and mark its content hash. Counts are of the values in
    /// the text and the metadata; the title, heading titles and table headers repeat
    /// the text (or the subject) and are not counted again.
    pub fn redact_document(&self, doc: &mut Document) {
        let spans = self.find(&doc.text);
        let mut counts = Counts::new();
        for s in &spans {
            *counts.entry(s.kind).or_default() += 1;
        }
        if !spans.is_empty() {
            let map = OffsetMap::new(&spans);
            doc.text = replace(&doc.text, &spans);
            for p in &mut doc.pages {
                p.start = map.start(p.start);
                p.end = map.end(p.end);
            }
            for h in &mut doc.headings {
                h.offset = map.start(h.offset);
            }
            for t in &mut doc.tables {
                t.start = map.start(t.start);
                t.end = map.end(t.end);
            }
        }
        let field = |s: &mut String| *s = self.redact_text(s).0;
        if let Some(title) = doc.title.as_mut() {
            field(title);
        }
        for h in &mut doc.headings {
            field(&mut h.title);
        }
        for t in &mut doc.tables {
            field(&mut t.header);
        }
        for value in doc.metadata.values_mut() {
            let (text, n) = self.redact_text(value);
            *value = text;
            for (k, n) in n {
                *counts.entry(k).or_default() += n;
            }
        }
        doc.redactions = counts;
        doc.content_hash = self.mark_hash(&doc.content_hash);
    }
}

/// `text` with each span (in order, not overlapping) replaced by its placeholder.
fn replace(text: &str, spans: &[Span]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for s in spans {
        out.push_str(&text[at..s.start]);
        out.push_str(s.kind.placeholder());
        at = s.end;
    }
    out.push_str(&text[at..]);
    out
}

/// Where offsets of the original text land in the redacted one.
struct OffsetMap {
    /// Each replaced span: its original range and its start in the new text.
    spans: Vec<(usize, usize, usize, usize)>,
}

impl OffsetMap {
    fn new(spans: &[Span]) -> Self {
        let mut shift: isize = 0;
        let spans = spans
            .iter()
            .map(|s| {
                let new_start = s.start.saturating_add_signed(shift);
                let len = s.kind.placeholder().len();
                shift += len as isize - (s.end - s.start) as isize;
                (s.start, s.end, new_start, len)
            })
            .collect();
        OffsetMap { spans }
    }

    /// The new offset of `o`, and the replaced span it falls strictly inside, if any.
    fn locate(&self, o: usize) -> (usize, bool) {
        let i = self.spans.partition_point(|&(_, end, _, _)| end <= o);
        match self.spans.get(i) {
            Some(&(start, _, new_start, _)) if start < o => (new_start, true),
            _ => {
                let shift = match i.checked_sub(1).map(|j| self.spans[j]) {
                    Some((_, end, new_start, len)) => (new_start + len) as isize - end as isize,
                    None => 0,
                };
                (o.saturating_add_signed(shift), false)
            }
        }
    }

    /// A start offset: inside a value, the placeholder's start.
    fn start(&self, o: usize) -> usize {
        self.locate(o).0
    }

    /// An end offset: inside a value, the placeholder's end.
    fn end(&self, o: usize) -> usize {
        let i = self.spans.partition_point(|&(_, end, _, _)| end <= o);
        match self.locate(o) {
            (_, true) => {
                let (_, _, new_start, len) = self.spans[i];
                new_start + len
            }
            (n, false) => n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::{Format, TextBuilder};

    fn all() -> Redactor {
        Redactor::new(&RedactOptions {
            kinds: PiiKind::ALL.to_vec(),
            ..RedactOptions::default()
        })
        .unwrap()
    }

    #[test]
    fn person_is_refused_with_the_reason() {
        let e = "person".parse::<PiiKind>().unwrap_err();
        assert!(e.contains("person redaction needs a named-entity"), "{e}");
        assert!(
            "mail"
                .parse::<PiiKind>()
                .unwrap_err()
                .contains("unknown kind")
        );
        let e =
            serde_json::from_str::<RedactOptions>(r#"{"kinds": ["email", "person"]}"#).unwrap_err();
        assert!(e.to_string().contains("needs a named-entity"), "{e}");
        assert!("XY".parse::<PhoneRegion>().is_err());
        assert_eq!(
            "de".parse::<PhoneRegion>().unwrap(),
            PhoneRegion(Region::DE)
        );
        assert!(Redactor::new(&RedactOptions::default()).is_none());
    }

    #[test]
    fn overlapping_detections_go_to_the_kind_first_in_precedence() {
        // The IBAN's digit groups would also pass as a phone number.
        let text = "IBAN GB82 WEST 1234 5698 7654 32 and tel +44 20 7946 0958";
        let spans = all().find(text);
        let kinds: Vec<PiiKind> = spans.iter().map(|s| s.kind).collect();
        assert_eq!(kinds, [PiiKind::Iban, PiiKind::Phone]);
    }

    #[test]
    fn a_document_keeps_its_pages_headings_and_tables_in_step_with_the_text() {
        let mut b = TextBuilder::new();
        b.heading(1, "Contact ann@example.org");
        b.push_str("Contact ann@example.org\n\nCall +44 20 7946 0958 today.");
        b.break_page(true);
        let start = b.len();
        b.push_str("Name | Card\nAnn | 4111 1111 1111 1111\n");
        let end = b.len();
        b.table(start, end, "Name | Card");
        b.heading(2, "Server 203.0.113.42");
        b.push_str("Server 203.0.113.42\n\nend");
        let mut ex = b.finish(true);
        ex.title = Some("Mail from ann@example.org".into());
        ex.metadata
            .insert("from".into(), "Ann Lee <ann@example.org>".into());
        let mut doc = Document::new("a.md".into(), Format::Markdown, "h".into(), ex);
        all().redact_document(&mut doc);
        assert_eq!(
            doc.text,
            "Contact [EMAIL]\n\nCall [PHONE] today.\u{c}Name | Card\nAnn | [CARD]\n\
             Server [IP]\n\nend"
        );
        assert_eq!(
            doc.page_text(&doc.pages[0]),
            "Contact [EMAIL]\n\nCall [PHONE] today."
        );
        assert!(doc.page_text(&doc.pages[1]).starts_with("Name | Card"));
        assert_eq!(doc.text[doc.pages[0].end..].chars().next(), Some('\u{c}'));
        let t = &doc.tables[0];
        assert_eq!(&doc.text[t.start..t.end], "Name | Card\nAnn | [CARD]\n");
        for h in &doc.headings {
            assert!(doc.text[h.offset..].starts_with(&h.title), "{h:?}");
        }
        assert_eq!(doc.title.as_deref(), Some("Mail from [EMAIL]"));
        assert_eq!(doc.metadata["from"], "Ann Lee <[EMAIL]>");
        let counts: Vec<(&str, usize)> =
            doc.redactions.iter().map(|(k, n)| (k.name(), *n)).collect();
        assert_eq!(counts, [("email", 2), ("phone", 1), ("card", 1), ("ip", 1)]);
        assert_ne!(doc.content_hash, "h");
    }

    #[test]
    fn offsets_inside_a_value_move_to_its_placeholder() {
        let spans = [
            Span::new(4, 10, PiiKind::Ip),
            Span::new(20, 22, PiiKind::Id),
        ];
        let map = OffsetMap::new(&spans);
        // "[IP]" is 4 bytes for 6, "[ID]" 4 for 2.
        assert_eq!(map.start(0), 0);
        assert_eq!(map.start(4), 4);
        assert_eq!(map.start(6), 4);
        assert_eq!(map.end(6), 8);
        assert_eq!(map.start(10), 8);
        assert_eq!(map.start(20), 18);
        assert_eq!(map.end(21), 22);
        assert_eq!(map.start(30), 30);
    }

    #[test]
    fn the_fingerprint_follows_the_settings() {
        let a = all();
        let b = Redactor::new(&RedactOptions {
            kinds: vec![PiiKind::Email],
            ..RedactOptions::default()
        })
        .unwrap();
        assert_ne!(a.mark_hash("h"), b.mark_hash("h"));
        assert_eq!(a.mark_hash("h"), all().mark_hash("h"));
    }
}
