//! The detectors: each finds candidates with a loose pattern and keeps only those that
//! pass the kind's own validation (a checksum, the numbering plan, an address parser),
//! so that a number that merely looks like an IBAN or a card is left alone.
//!
//! | kind | candidate | kept when |
//! |---|---|---|
//! | email | `local@domain.tld` | the domain has a dot and an alphabetic top-level label |
//! | phone | `+`/`00` or a digit, then digits with single ` -./()` separators | libphonenumber's rules say it is a valid number: for every region when written internationally (`+49 …`, `0049 …`), for the configured regions when written nationally, and then only when it is written as a phone number (separators or parentheses) or follows a word such as `phone`, `tel` or `mobile` |
//! | iban | two capitals, two digits, up to 30 letters and digits in groups | the IBAN registry's length and format for the country, and mod 97 = 1 |
//! | card | 13 to 19 digits, optionally grouped by spaces or dashes of one kind | Luhn, and the issuer's prefix and length (Visa, Mastercard, Amex, Discover, Diners, JCB, UnionPay, Maestro, Mir) |
//! | ip | dotted quads; runs of hex digits and colons | `std`'s IPv4 and IPv6 parsers; a dotted quad right after `version`, `build`, `release` … is a version, not an address |
//! | id | see below | its structure and check digit |
//!
//! National ids (`id`): US Social Security numbers (`123-45-6789` with dashes; area not
//! 000, 666 or 9xx, group not 00, serial not 0000); UK National Insurance numbers (two
//! letters from the allowed prefixes, six digits, suffix A–D); French NIR (sex, year,
//! month, department incl. 2A/2B, commune, order, and the mod-97 key); and, only after
//! their name (`BSN`, `Steuer-ID`, …) because nine or eleven bare digits are too often
//! something else: the Dutch BSN (11-test) and the German tax id (ISO 7064 MOD 11,10
//! check digit and its digit-repetition rule).

use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;
use std::sync::LazyLock;

use regex::Regex;

use phonenumber::Mode;
use phonenumber::country::Id as Region;

use super::{PiiKind, Span};

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("a valid built-in pattern")
}

/// The character before byte `at`, if any.
fn before(text: &str, at: usize) -> Option<char> {
    text[..at].chars().next_back()
}

/// The character at byte `at`, if any.
fn after(text: &str, at: usize) -> Option<char> {
    text[at..].chars().next()
}

fn is_word(c: Option<char>) -> bool {
    c.is_some_and(|c| c.is_alphanumeric() || c == '_')
}

/// Whether `[start, end)` stands alone: no letter or digit touches it on either side.
fn standalone(text: &str, start: usize, end: usize) -> bool {
    !is_word(before(text, start)) && !is_word(after(text, end))
}

/// Whether the text right after `end` continues a number (`, 5` no; `-5`, ` 5`, `.5` yes).
fn continues_number(text: &str, end: usize) -> bool {
    let mut rest = text[end..].chars();
    matches!(
        (rest.next(), rest.next()),
        (Some(' ' | '-' | '.' | '/'), Some(d)) if d.is_ascii_digit()
    )
}

/// Whether the text right before `start` is the end of a number (`5-`, `5 `, `5.`).
fn follows_number(text: &str, start: usize) -> bool {
    let mut back = text[..start].chars().rev();
    matches!(
        (back.next(), back.next()),
        (Some(' ' | '-' | '.' | '/'), Some(d)) if d.is_ascii_digit()
    )
}

/// The word that ends just before `at`, skipping spaces and a colon or hash, lower-cased:
/// `"Version: "` gives `version`.
fn previous_word(text: &str, at: usize) -> String {
    let head = text[..at].trim_end_matches([' ', ':', '#', '\t', '=']);
    let start = head
        .char_indices()
        .rev()
        .find(|(_, c)| !(c.is_alphanumeric() || *c == '-' || *c == '.'))
        .map_or(0, |(i, c)| i + c.len_utf8());
    head[start..].trim_end_matches('.').to_lowercase()
}

/// Whether one of `words` occurs in the `window` bytes before `at` (lower-cased), with
/// no digit between it and `at`: the value is the one the word names, not a later one.
fn preceded_by(text: &str, at: usize, window: usize, words: &[&str]) -> bool {
    let mut from = at.saturating_sub(window);
    while !text.is_char_boundary(from) {
        from -= 1;
    }
    let head = text[from..at].to_lowercase();
    words.iter().any(|w| {
        head.match_indices(w).any(|(i, _)| {
            let left = head[..i].chars().next_back();
            !is_word(left) && !head[i + w.len()..].contains(|c: char| c.is_ascii_digit())
        })
    })
}

pub(super) fn emails(text: &str, out: &mut Vec<Span>) {
    static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
        re(r"(?i)[a-z0-9._%+'-]+@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}")
    });
    for m in EMAIL.find_iter(text) {
        let mut start = m.start();
        // A local part neither starts nor ends with a dot; quotes around it are prose.
        while matches!(text.as_bytes()[start], b'.' | b'\'') {
            start += 1;
        }
        let at = text[start..m.end()].find('@').map_or(start, |i| start + i);
        if start == at || text.as_bytes()[at - 1] == b'.' {
            continue;
        }
        if is_word(before(text, start)) || is_word(after(text, m.end())) {
            continue;
        }
        out.push(Span::new(start, m.end(), PiiKind::Email));
    }
}

pub(super) fn ips(text: &str, out: &mut Vec<Span>) {
    static V4: LazyLock<Regex> = LazyLock::new(|| re(r"\d{1,3}(?:\.\d{1,3}){3}"));
    static V6: LazyLock<Regex> =
        LazyLock::new(|| re(r"[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*"));
    /// Words after which a dotted quad is a version number.
    const VERSION_WORDS: &[&str] = &[
        "version", "ver", "v", "release", "build", "firmware", "revision", "rev", "patch",
        "update", "versie", "versión", "versão",
    ];
    for m in V4.find_iter(text) {
        let (start, end) = (m.start(), m.end());
        if !standalone(text, start, end)
            || matches!(before(text, start), Some('.'))
            || text[end..].starts_with('.') && is_word(after(text, end + 1))
        {
            continue;
        }
        if Ipv4Addr::from_str(m.as_str()).is_err() {
            continue;
        }
        if VERSION_WORDS.contains(&previous_word(text, start).as_str()) {
            continue;
        }
        out.push(Span::new(start, end, PiiKind::Ip));
    }
    for m in V6.find_iter(text) {
        let mut s = m.as_str();
        let start = m.start();
        if is_word(before(text, start)) {
            continue;
        }
        // A sentence's full stop, or a port's colon after a bare address, is not part
        // of it.
        let mut parsed = Ipv6Addr::from_str(s).is_ok();
        while !parsed && (s.ends_with('.') || s.ends_with(':')) {
            s = &s[..s.len() - 1];
            parsed = Ipv6Addr::from_str(s).is_ok();
        }
        let end = start + s.len();
        if !parsed || is_word(after(text, end)) {
            continue;
        }
        // `::` alone, or a dotted quad written as `::1.2.3.4`'s tail, needs digits.
        if s.chars().filter(|c| c.is_ascii_hexdigit()).count() < 2 {
            continue;
        }
        out.push(Span::new(start, end, PiiKind::Ip));
    }
}

pub(super) fn ibans(text: &str, out: &mut Vec<Span>) {
    static IBAN: LazyLock<Regex> = LazyLock::new(|| re(r"[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}"));
    let mut from = 0;
    while let Some(m) = IBAN.find_at(text, from) {
        let start = m.start();
        // The pattern runs into a following word in capitals (`… 00 THANKS`): try each
        // end at a group's end, longest first.
        let cand = m.as_str();
        let found = (!is_word(before(text, start)))
            .then(|| {
                cand.char_indices()
                    .map(|(i, c)| i + c.len_utf8())
                    .filter(|&e| !is_word(after(text, start + e)))
                    .rev()
                    .find(|&e| iban::Iban::from_str(&cand[..e].replace(' ', "")).is_ok())
            })
            .flatten();
        match found {
            Some(e) => {
                out.push(Span::new(start, start + e, PiiKind::Iban));
                from = start + e;
            }
            // Not one: an IBAN may still start inside it (`REF AB12 DE89 …`).
            None => from = start + 1,
        }
    }
}

pub(super) fn cards(text: &str, out: &mut Vec<Span>) {
    static CARD: LazyLock<Regex> = LazyLock::new(|| re(r"\d(?:[ -]?\d){12,18}"));
    for m in CARD.find_iter(text) {
        let (start, end) = (m.start(), m.end());
        if !standalone(text, start, end)
            || continues_number(text, end)
            || follows_number(text, start)
        {
            continue;
        }
        let s = m.as_str();
        // Grouped by one kind of separator, if any.
        if s.contains(' ') && s.contains('-') {
            continue;
        }
        let digits: Vec<u8> = s
            .bytes()
            .filter(u8::is_ascii_digit)
            .map(|b| b - b'0')
            .collect();
        if luhn(&digits) && issuer_accepts(&digits) {
            out.push(Span::new(start, end, PiiKind::Card));
        }
    }
}

/// The Luhn check over all digits (the last is the check digit).
pub(super) fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 {
                let dd = d * 2;
                if dd > 9 { dd - 9 } else { dd }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Whether a card network issues numbers with this prefix (IIN) and this length.
fn issuer_accepts(digits: &[u8]) -> bool {
    let prefix = |n: usize| {
        digits[..n]
            .iter()
            .fold(0u32, |acc, &d| acc * 10 + u32::from(d))
    };
    let len = digits.len();
    let (p1, p2, p3, p4, p6) = (prefix(1), prefix(2), prefix(3), prefix(4), prefix(6));
    let visa = p1 == 4 && matches!(len, 13 | 16 | 19);
    let mastercard = ((51..=55).contains(&p2) || (2221..=2720).contains(&p4)) && len == 16;
    let amex = matches!(p2, 34 | 37) && len == 15;
    let discover =
        (p4 == 6011 || (644..=649).contains(&p3) || p2 == 65 || (622126..=622925).contains(&p6))
            && (16..=19).contains(&len);
    let diners =
        ((300..=305).contains(&p3) || matches!(p2, 36 | 38 | 39)) && (14..=19).contains(&len);
    let jcb = (3528..=3589).contains(&p4) && (16..=19).contains(&len);
    let unionpay = p2 == 62 && (16..=19).contains(&len);
    let maestro = (matches!(p2, 50 | 56..=58 | 63 | 67)) && (13..=19).contains(&len);
    let mir = (2200..=2204).contains(&p4) && (16..=19).contains(&len);
    visa || mastercard || amex || discover || diners || jcb || unionpay || maestro || mir
}

pub(super) fn national_ids(text: &str, out: &mut Vec<Span>) {
    static SSN: LazyLock<Regex> = LazyLock::new(|| re(r"\d{3}-\d{2}-\d{4}"));
    static NINO: LazyLock<Regex> = LazyLock::new(|| re(r"[A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]"));
    static NIR: LazyLock<Regex> =
        LazyLock::new(|| re(r"[1-478] ?\d{2} ?\d{2} ?(?:\d{2}|2[AB]) ?\d{3} ?\d{3} ?\d{2}"));
    static BSN: LazyLock<Regex> =
        LazyLock::new(|| re(r"\d{4}\.\d{2}\.\d{3}|\d{3} \d{3} \d{3}|\d{9}"));
    static STEUER_ID: LazyLock<Regex> = LazyLock::new(|| re(r"\d{2} \d{3} \d{3} \d{3}|\d{11}"));
    let mut keep = |start: usize, end: usize, ok: bool| {
        if ok
            && standalone(text, start, end)
            && !continues_number(text, end)
            && !follows_number(text, start)
        {
            out.push(Span::new(start, end, PiiKind::Id));
        }
    };
    for m in SSN.find_iter(text) {
        keep(m.start(), m.end(), us_ssn(m.as_str()));
    }
    for m in NINO.find_iter(text) {
        keep(m.start(), m.end(), uk_nino(m.as_str()));
    }
    for m in NIR.find_iter(text) {
        keep(m.start(), m.end(), french_nir(m.as_str()));
    }
    const BSN_WORDS: &[&str] = &["bsn", "burgerservicenummer", "sofinummer", "sofi-nummer"];
    for m in BSN.find_iter(text) {
        let named = preceded_by(text, m.start(), 40, BSN_WORDS);
        keep(m.start(), m.end(), named && dutch_bsn(m.as_str()));
    }
    const TAX_ID_WORDS: &[&str] = &[
        "steuer-id",
        "steuerid",
        "steuer-idnr",
        "steueridentifikationsnummer",
        "steuerliche identifikationsnummer",
        "identifikationsnummer",
        "idnr",
    ];
    for m in STEUER_ID.find_iter(text) {
        let named = preceded_by(text, m.start(), 40, TAX_ID_WORDS);
        keep(m.start(), m.end(), named && german_tax_id(m.as_str()));
    }
}

fn digits_of(s: &str) -> Vec<u8> {
    s.bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| b - b'0')
        .collect()
}

/// US Social Security number structure: area 001–899 except 666, group 01–99, serial
/// 0001–9999.
pub(super) fn us_ssn(s: &str) -> bool {
    let d = digits_of(s);
    let area = u32::from(d[0]) * 100 + u32::from(d[1]) * 10 + u32::from(d[2]);
    let group = d[3] * 10 + d[4];
    let serial = d[5..].iter().all(|&x| x == 0);
    d.len() == 9 && area != 0 && area != 666 && area < 900 && group != 0 && !serial
}

/// UK National Insurance number: allowed prefix letters, six digits, suffix A–D.
pub(super) fn uk_nino(s: &str) -> bool {
    let s: String = s.chars().filter(|c| *c != ' ').collect();
    let b = s.as_bytes();
    if b.len() != 9 {
        return false;
    }
    let (first, second) = (b[0], b[1]);
    let bad_first = b"DFIQUV".contains(&first);
    let bad_second = b"DFIOQUV".contains(&second);
    let bad_pair = ["BG", "GB", "KN", "NK", "NT", "TN", "ZZ"].contains(&&s[..2]);
    !bad_first && !bad_second && !bad_pair
}

/// French social security number (NIR): structure and the key 97 − (number mod 97),
/// Corsica's departments 2A and 2B counted as 19 and 18.
pub(super) fn french_nir(s: &str) -> bool {
    let s: String = s.chars().filter(|c| *c != ' ').collect();
    if s.len() != 15 {
        return false;
    }
    let month: u32 = s[3..5].parse().unwrap_or(0);
    if !(1..=12).contains(&month) && !(20..=42).contains(&month) && !(50..=99).contains(&month) {
        return false;
    }
    let body = s[..13].replace("2A", "19").replace("2B", "18");
    let (Ok(number), Ok(key)) = (body.parse::<u64>(), s[13..].parse::<u64>()) else {
        return false;
    };
    key == 97 - number % 97
}

/// Dutch citizen service number (BSN): the 11-test, weights 9 … 2 and −1.
pub(super) fn dutch_bsn(s: &str) -> bool {
    let d = digits_of(s);
    if d.len() != 9 {
        return false;
    }
    let sum: i64 = d
        .iter()
        .zip([9i64, 8, 7, 6, 5, 4, 3, 2, -1])
        .map(|(&x, w)| i64::from(x) * w)
        .sum();
    sum != 0 && sum % 11 == 0
}

/// German tax id (steuerliche Identifikationsnummer): 11 digits, no leading zero, in the
/// first ten one digit twice or three times and no other repeated, and the ISO 7064
/// MOD 11,10 check digit.
pub(super) fn german_tax_id(s: &str) -> bool {
    let d = digits_of(s);
    if d.len() != 11 || d[0] == 0 {
        return false;
    }
    let mut counts = [0u8; 10];
    for &x in &d[..10] {
        counts[usize::from(x)] += 1;
    }
    let repeated: Vec<u8> = counts.iter().copied().filter(|&c| c > 1).collect();
    if !(repeated == [2] || repeated == [3]) {
        return false;
    }
    let mut product = 10u32;
    for &x in &d[..10] {
        let mut sum = (u32::from(x) + product) % 10;
        if sum == 0 {
            sum = 10;
        }
        product = (sum * 2) % 11;
    }
    let check = match 11 - product {
        10 => 0,
        c => c,
    };
    u32::from(d[10]) == check
}

/// Words after which a run of digits is a phone number even unformatted.
const PHONE_WORDS: &[&str] = &[
    "phone",
    "tel",
    "tel.",
    "telephone",
    "mobile",
    "mob",
    "cell",
    "fax",
    "call",
    "whatsapp",
    "telefon",
    "handy",
    "téléphone",
    "portable",
    "telefoon",
    "mobiel",
    "teléfono",
    "móvil",
];

pub(super) fn phones(text: &str, regions: &[Region], out: &mut Vec<Span>) {
    static PHONE: LazyLock<Regex> =
        LazyLock::new(|| re(r"(?:\+ ?|\()?\d(?:[ .\-/]?\(?\d\)?|\) ?\d){5,18}"));
    static DATE: LazyLock<Regex> = LazyLock::new(|| {
        re(r"^(?:\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4})(?:\D|$)")
    });
    for m in PHONE.find_iter(text) {
        let (start, end) = (m.start(), m.end());
        let s = m.as_str();
        if !standalone(text, start, end) || continues_number(text, end) {
            continue;
        }
        // Glued to a preceding sign or digit group: part of something else.
        if matches!(before(text, start), Some('+' | '-' | '.' | '/' | '#'))
            || follows_number(text, start)
        {
            continue;
        }
        let digits = s.bytes().filter(u8::is_ascii_digit).count();
        if !(7..=17).contains(&digits) || DATE.is_match(s) {
            continue;
        }
        let valid = if s.starts_with('+') || s.starts_with("00") {
            // `00` is the international prefix in most of the world.
            let number = match s.strip_prefix("00") {
                Some(rest) => format!("+{rest}"),
                None => s.to_owned(),
            };
            valid_number(None, &number, s)
        } else {
            let formatted = digit_groups(s).len() > 1;
            let named = preceded_by(text, start, 24, PHONE_WORDS);
            (formatted || named) && regions.iter().any(|&r| valid_number(Some(r), s, s))
        };
        if valid {
            out.push(Span::new(start, end, PiiKind::Phone));
        }
    }
}

/// The runs of digits of `s`.
fn digit_groups(s: &str) -> Vec<&str> {
    s.split(|c: char| !c.is_ascii_digit())
        .filter(|g| !g.is_empty())
        .collect()
}

/// Whether libphonenumber's rules make `number` a valid number (of `region`, when
/// written nationally) and `written` groups its digits as the number is written: the
/// first group the area code (or the block after the country code) as libphonenumber
/// formats it, the rest split freely, or no grouping at all. Validity alone accepts
/// `2024-118734` (an invoice number) as a Washington number; grouping, as in
/// libphonenumber's own matcher, tells the two apart. Nationally written numbers also
/// need their trunk prefix (`030 …` in Germany) where the region has one. A panic in
/// the parser (hostile input) counts as not a number: the document goes on.
fn valid_number(region: Option<Region>, number: &str, written: &str) -> bool {
    std::panic::catch_unwind(|| {
        let Ok(n) = phonenumber::parse(region, number) else {
            return false;
        };
        if !phonenumber::is_valid(&n) {
            return false;
        }
        let international = region.is_none();
        let mode = if international {
            Mode::International
        } else {
            Mode::National
        };
        let formatted = n.format().mode(mode).to_string();
        let mut want = digit_groups(&formatted);
        let mut have = digit_groups(written);
        if international {
            // The country code (`+49`, `0049`) leads both; a `(0)` may follow it.
            if have.len() == 1 {
                return true;
            }
            have.remove(0);
            want.remove(0);
            if have.first() == Some(&"0") {
                have.remove(0);
            }
            return have.len() == 1 || have.first() == want.first();
        }
        let prefix = n
            .metadata(&phonenumber::metadata::DATABASE)
            .and_then(|m| m.national_prefix())
            .unwrap_or("");
        if have.len() == 1 {
            let (have, want) = (have[0], want.concat());
            return have == want || (have.strip_prefix(prefix) == Some(&want[..]));
        }
        if have.first() == Some(&prefix) && want.first() != Some(&prefix) {
            have.remove(0);
        }
        have.first() == want.first()
    })
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(f: impl Fn(&str, &mut Vec<Span>), text: &str) -> Vec<String> {
        let mut out = Vec::new();
        f(text, &mut out);
        out.iter()
            .map(|s| text[s.start..s.end].to_owned())
            .collect()
    }

    #[test]
    fn emails_with_their_boundaries() {
        let got = found(
            emails,
            "Write to ann.lee+tax@example.co.uk, or <b.o'neil@mail.example.org>. Not me@home, \
             not 'x@y.z', not user@localhost, not an@ sign.",
        );
        assert_eq!(
            got,
            ["ann.lee+tax@example.co.uk", "b.o'neil@mail.example.org"]
        );
        assert_eq!(found(emails, "(.jo@example.com.)"), ["jo@example.com"]);
    }

    #[test]
    fn ips_but_not_versions_or_out_of_range_quads() {
        let got = found(
            ips,
            "Login from 203.0.113.42 at 10:30:00; server 2001:db8::8a2e:370:7334 and \
             [fe80::1]:443. Version 1.2.3.4, build 10.0.19041.1, bad 256.1.1.1, \
             1.2.3.4.5, MAC 00:1A:2B:3C:4D:5E, ::.",
        );
        assert_eq!(got, ["203.0.113.42", "2001:db8::8a2e:370:7334", "fe80::1"]);
        assert_eq!(found(ips, "the host 1.2.3.4."), ["1.2.3.4"]);
    }

    #[test]
    fn ibans_need_their_country_format_and_checksum() {
        let got = found(
            ibans,
            "Pay to DE89 3704 0044 0532 0130 00 THANKS or GB82WEST12345698765432; \
             not DE89 3704 0044 0532 0130 01 (checksum) nor XX89370400440532013000.",
        );
        assert_eq!(
            got,
            ["DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432"]
        );
        assert_eq!(found(ibans, "NL91ABNA0417164300."), ["NL91ABNA0417164300"]);
    }

    #[test]
    fn cards_need_luhn_and_an_issuer() {
        let got = found(
            cards,
            "Visa 4111 1111 1111 1111, Amex 3782-822463-10005, MC 5555555555554444; \
             not 4111 1111 1111 1112 (Luhn), not 1234567812345670 (no issuer), \
             not 4111 1111-1111 1111 (mixed), not 4111 1111 1111 1111 2222.",
        );
        assert_eq!(
            got,
            [
                "4111 1111 1111 1111",
                "3782-822463-10005",
                "5555555555554444"
            ]
        );
        assert!(luhn(&[7, 9, 9, 2, 7, 3, 9, 8, 7, 1, 3]));
    }

    #[test]
    fn national_ids_by_structure_and_check_digit() {
        let got = found(
            national_ids,
            "SSN 536-22-1234, not 000-12-3456 or 666-12-3456 or 912-34-5678; \
             NINO QQ 12 34 56 C no, AB 12 34 56 C yes, GB123456A no; \
             NIR 1 85 05 78 006 084 91 and 2 55 08 2A 004 005 90, bad 1 85 05 78 006 084 36; \
             BSN: 111222333, bare 111222333; Steuer-ID 86 095 742 719, bare 86095742719.",
        );
        assert_eq!(
            got,
            [
                "536-22-1234",
                "AB 12 34 56 C",
                "1 85 05 78 006 084 91",
                "2 55 08 2A 004 005 90",
                "111222333",
                "86 095 742 719"
            ]
        );
        assert!(dutch_bsn("123456782") && !dutch_bsn("123456789"));
        assert!(german_tax_id("86095742719") && !german_tax_id("86095742718"));
        assert!(!german_tax_id("12345678903"), "no repeated digit");
    }

    #[test]
    fn phones_by_libphonenumber_rules() {
        let us = [phonenumber::country::Id::US];
        let mut out = Vec::new();
        let text = "Call +44 20 7946 0958 or (415) 555-0132, Berlin 0049 30 901820; \
                    mobile 4155550132. Not order 4155550132, not 2024-10-01, not 10/01/2024, \
                    not +1 555 0000, not ISBN 978-3-16-148410-0.";
        phones(text, &us, &mut out);
        let got: Vec<&str> = out.iter().map(|s| &text[s.start..s.end]).collect();
        assert_eq!(
            got,
            [
                "+44 20 7946 0958",
                "(415) 555-0132",
                "0049 30 901820",
                "4155550132"
            ]
        );
    }

    #[test]
    fn phones_are_grouped_as_their_country_writes_them() {
        let regions = [Region::US, Region::DE];
        let text = "Büro 030 2345 6789, Handy 0171 1234567, +49 (0)30 901820,                     toll-free 1-800-555-0199. Not invoice 2024-118734, not 2024-10-07 08:14,                     not 30 2345 6789 (no trunk prefix), not 41 555 0132 (split area code).";
        let mut out = Vec::new();
        phones(text, &regions, &mut out);
        let got: Vec<&str> = out.iter().map(|s| &text[s.start..s.end]).collect();
        assert_eq!(
            got,
            [
                "030 2345 6789",
                "0171 1234567",
                "+49 (0)30 901820",
                "1-800-555-0199"
            ]
        );
    }
}
