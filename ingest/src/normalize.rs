//! Character-level normalisation shared by every loader, so that the same words look
//! the same whatever format they came from: ligatures are spelled out, soft hyphens and
//! zero-width characters vanish, exotic spaces become spaces, control characters are
//! dropped, and line ends are `\n`.

/// Normalise one run of text. Keeps `\n`, `\t` and the page break `\f`; maps `\r\n` and
/// `\r` to `\n`. Does not collapse spaces (layout-aware loaders decide that).
pub fn normalize_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push('\n');
            }
            '\n' | '\t' | '\u{c}' => out.push(c),
            c => push_normalized_char(&mut out, c),
        }
    }
    out
}

/// Append `c` to `out` after normalisation (ligatures expanded, invisible characters
/// dropped, space variants mapped to a space). Line ends are kept as they are.
pub fn push_normalized_char(out: &mut String, c: char) {
    match c {
        // Ligatures, as emitted by TeX and many PDF producers.
        '\u{FB00}' => out.push_str("ff"),
        '\u{FB01}' => out.push_str("fi"),
        '\u{FB02}' => out.push_str("fl"),
        '\u{FB03}' => out.push_str("ffi"),
        '\u{FB04}' => out.push_str("ffl"),
        '\u{FB05}' | '\u{FB06}' => out.push_str("st"),
        '\u{0132}' => out.push_str("IJ"),
        '\u{0133}' => out.push_str("ij"),
        // Invisible: soft hyphen, zero-width space/joiners, BOM, word joiner.
        '\u{00AD}' | '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}' => {}
        // Space variants.
        '\u{00A0}' | '\u{2000}'..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}' => {
            out.push(' ')
        }
        // Line and paragraph separators.
        '\u{2028}' | '\u{2029}' | '\u{0085}' => out.push('\n'),
        // Other control characters (C0 and C1) carry no text.
        c if c.is_control() && c != '\n' && c != '\t' && c != '\u{c}' => {}
        // Private-use code points are glyph ids from fonts without a Unicode mapping.
        '\u{E000}'..='\u{F8FF}' => {}
        c => out.push(c),
    }
}

/// Collapse runs of spaces and tabs to one space, trim spaces at line ends, and reduce
/// three or more line breaks to two (one blank line between paragraphs).
pub fn tidy_whitespace(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    let mut newlines = 0usize;
    for c in s.chars() {
        match c {
            ' ' | '\t' => pending_space = !out.is_empty() && newlines == 0,
            '\n' => {
                pending_space = false;
                newlines += 1;
            }
            '\u{c}' => {
                pending_space = false;
                newlines = 0;
                while out.ends_with(['\n', ' ']) {
                    out.pop();
                }
                out.push(c);
            }
            c => {
                if newlines > 0 && !out.is_empty() && !out.ends_with('\u{c}') {
                    out.push_str(if newlines >= 2 { "\n\n" } else { "\n" });
                } else if pending_space {
                    out.push(' ');
                }
                newlines = 0;
                pending_space = false;
                out.push(c);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ligatures_and_invisibles() {
        assert_eq!(
            normalize_text("e\u{FB03}cient co\u{00AD}operate"),
            "efficient cooperate"
        );
        assert_eq!(normalize_text("a\u{00A0}b\u{200B}c"), "a bc");
        assert_eq!(normalize_text("x\r\ny\rz"), "x\ny\nz");
        assert_eq!(normalize_text("a\u{1}b\u{c}c"), "ab\u{c}c");
    }

    #[test]
    fn tidy_collapses_and_keeps_paragraphs() {
        assert_eq!(tidy_whitespace("  a   b \n\n\n\nc  \n d"), "a b\n\nc\nd");
        assert_eq!(tidy_whitespace("a\n\n\u{c}\nb"), "a\u{c}b");
    }
}
