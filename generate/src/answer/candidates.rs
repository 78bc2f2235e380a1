//! Which sentences of a source can be quoted as an answer, and how much of the text
//! after a sentence belongs to it.
//!
//! Two kinds of text read like sentences to the splitter but answer nothing:
//! bibliographies and BibTeX. A reference list entry ("[3] D. Arfib, “Different ways
//! to write digital audio effects programs,” in Proc. of ...") names authors and titles,
//! so it shares many terms with a question about a paper or a program ("Who wrote the R
//! FAQ?") while saying nothing about it; BibTeX fields ("author = {Kurt Hornik}") are the
//! same in another dress. They are told by their shape, not by the question set: a
//! labelled entry that cites (a year, pages, a volume, a DOI...), a sentence that
//! starts as a citation and is mostly citation marks, or BibTeX's `@type{` and
//! `field = {` lines.
//!
//! The other way round, a sentence can be incomplete without the text after it: "run
//! the following command:" or "you can use" followed by a line of code set off on its
//! own. The answer to "how do I ..." is that line, so a quoted sentence that introduces
//! one takes it along ([`introduced_end`]), within a few lines.

use std::ops::Range;

/// At most this many lines follow a sentence that introduces them...
const DISPLAY_LINES: usize = 8;
/// ...and at most this many bytes: a code block, a short list or a small table, not the
/// rest of the chunk.
const DISPLAY_BYTES: usize = 400;

/// BibTeX's field names, to tell an entry's `title = {...}` from a setting such as
/// `TEXMF = {...}` in a manual (which may well be the answer).
const BIBTEX_FIELDS: &[&str] = &[
    "address",
    "author",
    "booktitle",
    "doi",
    "edition",
    "editor",
    "howpublished",
    "institution",
    "isbn",
    "journal",
    "month",
    "note",
    "number",
    "organization",
    "pages",
    "publisher",
    "school",
    "series",
    "title",
    "url",
    "volume",
    "year",
];

/// Whether `text` holds BibTeX: an entry head (`@Article{`, `@misc{,`) or a field line
/// (`author = {...}`, or `= {...}` whose name the PDF lost).
pub(super) fn bibtex_like(text: &str) -> bool {
    let head = text.match_indices('@').any(|(i, _)| {
        let rest = &text[i + 1..];
        let name = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        name >= 3 && rest[name..].trim_start().starts_with('{')
    });
    head || text.lines().any(|line| {
        let Some((key, value)) = line.split_once('=') else {
            return false;
        };
        let key = key.trim().to_ascii_lowercase();
        value.trim_start().starts_with(['{', '"'])
            && (key.is_empty() || BIBTEX_FIELDS.contains(&key.as_str()))
    })
}

/// Where the marks of a citation occur in `text`, each kind once: (strong marks, weak
/// marks, byte offset of the first). Strong: pages, volume or issue numbers, a DOI, an
/// arXiv id, "et al.", proceedings, an ISBN, "Retrieved ... from". Weak (prose has them
/// too): a year, an initial before a surname ("G. Baym"), a page range.
fn citation_marks(text: &str) -> (usize, usize, usize) {
    let mut first = text.len();
    let mut found = |at: Option<usize>| at.inspect(|&p| first = first.min(p)).is_some() as usize;
    // `word` followed by optional spaces and a digit.
    let numbered = |word: &str| {
        text.match_indices(word).find_map(|(i, _)| {
            let after = text[i + word.len()..].trim_start();
            after.starts_with(|c: char| c.is_ascii_digit()).then_some(i)
        })
    };
    let strong = found(numbered("pp."))
        + found(numbered("vol.").or_else(|| numbered("Vol.")))
        + found(numbered("no.").or_else(|| numbered("No.")))
        + found(
            ["doi:", "DOI:", "doi.org"]
                .iter()
                .filter_map(|w| text.find(w))
                .min(),
        )
        + found(text.find("arXiv:"))
        + found(text.find("et al."))
        + found(text.find("Proc.").or_else(|| text.find("In Proceedings")))
        + found(text.find("ISBN"))
        + found(
            text.find("Retrieved ")
                .filter(|&i| text[i..].contains(" from")),
        );
    let bytes = text.as_bytes();
    // A number starting at byte `i` (digits are ASCII, so `i` is then a char
    // boundary): its length, when it stands alone.
    let digits_at = |i: usize| {
        let n = bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        let before = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
        let after = i + n == bytes.len() || !bytes[i + n].is_ascii_alphanumeric();
        (n > 0 && before && after).then_some(n)
    };
    let year = (0..bytes.len())
        .find(|&i| digits_at(i) == Some(4) && matches!(&text[i..i + 2], "19" | "20"));
    let initial = (0..bytes.len().saturating_sub(3)).find(|&i| {
        bytes[i].is_ascii_uppercase()
            && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric())
            && bytes[i + 1] == b'.'
            && bytes[i + 2] == b' '
            && bytes[i + 3].is_ascii_uppercase()
            && bytes.get(i + 4).is_some_and(u8::is_ascii_lowercase)
    });
    let range = (0..bytes.len()).find(|&i| {
        digits_at(i).is_some_and(|n| {
            let rest = &text[i + n..];
            let rest = rest
                .strip_prefix('–')
                .or_else(|| rest.strip_prefix('-'))
                .unwrap_or("");
            rest.starts_with(|c: char| c.is_ascii_digit())
        })
    });
    let weak = found(year) + found(initial) + found(range);
    (strong, weak, first)
}

/// Whether `text` reads as a bibliography entry on its own: it starts as a citation
/// (its first mark within its first few words: "Murrell (2005), “R Graphics”, ...") and
/// has marks enough. A prose sentence that cites a paper at its end stays.
fn citation_like(text: &str) -> bool {
    let (strong, weak, first) = citation_marks(text);
    (strong >= 2 || strong + weak >= 3) && text[..first].split_whitespace().count() <= 4
}

/// Whether a line starts with a reference label: "[12] ", "[Knu73] ".
fn labelled(line: &str) -> bool {
    let Some(rest) = line.trim_start().strip_prefix('[') else {
        return false;
    };
    let Some(close) = rest.find(']') else {
        return false;
    };
    let label = &rest[..close];
    (1..=8).contains(&label.chars().count())
        && label.chars().all(char::is_alphanumeric)
        && rest[close + 1..].starts_with(' ')
        && rest[close + 1..]
            .trim_start()
            .starts_with(|c: char| !c.is_whitespace())
}

/// The byte ranges of `text` that are entries of a reference list: a line that starts
/// with a label, with the lines after it up to a blank line or the next label, when the
/// entry cites (a year, pages, a DOI...). R's console output ("[1] FALSE") has labels
/// but cites nothing.
pub(super) fn reference_entries(text: &str) -> Vec<Range<usize>> {
    let mut lines = Vec::new();
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        lines.push(at..at + line.trim_end_matches('\n').len());
        at += line.len();
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if !labelled(&text[lines[i].clone()]) {
            i += 1;
            continue;
        }
        let start = lines[i].start;
        let mut end = lines[i].end;
        let mut j = i + 1;
        while j < lines.len() && j - i < DISPLAY_LINES {
            let line = &text[lines[j].clone()];
            if line.trim().is_empty() || line.starts_with('\x0c') || labelled(line) {
                break;
            }
            end = lines[j].end;
            j += 1;
        }
        let (strong, weak, _) = citation_marks(&text[start..end]);
        if strong + weak > 0 {
            out.push(start..end);
        }
        i = j;
    }
    out
}

/// Whether the sentence at `range` of `text` belongs to a bibliography: BibTeX, part
/// of a labelled reference list entry (`entries`, from [`reference_entries`]), or a
/// citation on its own.
pub(super) fn reference_like(text: &str, range: &Range<usize>, entries: &[Range<usize>]) -> bool {
    let sentence = &text[range.clone()];
    bibtex_like(sentence)
        || entries
            .iter()
            .any(|e| e.start < range.end && range.start < e.end)
        || citation_like(sentence)
}

/// Where the sentence at `range` of `text` ends together with the line or block it
/// introduces, if it introduces one: it ends with a colon ("run the following
/// command:"), or it breaks off without closing punctuation ("you can use") before a
/// display set off by a blank line that is not prose (its last line ends no sentence).
/// The display starts on the line after the sentence and runs to a blank line, at most
/// [`DISPLAY_LINES`] lines and [`DISPLAY_BYTES`] bytes (whole lines; none if its first
/// line alone is longer). Table rows and list items end without punctuation and
/// introduce nothing unless they end with a colon, and BibTeX is never taken along.
pub(super) fn introduced_end(text: &str, range: &Range<usize>) -> Option<usize> {
    let sentence = text[range.clone()].trim_end();
    let colon = sentence.ends_with(':');
    let open = !colon
        && !sentence.contains('|')
        && !sentence.ends_with(['.', '!', '?', ';', ')', ']', '"', '”', '’', '\'']);
    if !colon && !open {
        return None;
    }
    // The display starts on a line of its own.
    let rest = &text[range.end..];
    let eol = rest.find('\n')?;
    if !rest[..eol].trim().is_empty() {
        return None;
    }
    let mut lines = text[range.end + eol + 1..]
        .split_inclusive('\n')
        .scan(range.end + eol + 1, |at, line| {
            let start = *at;
            *at += line.len();
            Some((start, line.trim_end_matches('\n')))
        })
        .peekable();
    // One run of blank lines may set the display off; an open sentence needs it, or
    // the next line is only the rest of a paragraph.
    let mut set_off = false;
    while lines.next_if(|(_, l)| l.trim().is_empty()).is_some() {
        set_off = true;
    }
    if open && !set_off {
        return None;
    }
    let mut end = None;
    let mut last = "";
    for (count, (start, line)) in lines.enumerate() {
        if line.trim().is_empty() || line.contains('\x0c') || count == DISPLAY_LINES {
            break;
        }
        let line_end = start + line.trim_end().len();
        if line_end - range.start > sentence.len() + DISPLAY_BYTES {
            break;
        }
        end = Some(line_end);
        last = line;
    }
    let end = end?;
    if open && last.trim_end().ends_with(['.', '!', '?']) {
        return None;
    }
    // "Please cite it as:" introduces a BibTeX entry, no answer either.
    if bibtex_like(&text[range.end..end]) {
        return None;
    }
    Some(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sentence_range(text: &str, sentence: &str) -> Range<usize> {
        let start = text.find(sentence).unwrap();
        start..start + sentence.len()
    }

    #[test]
    fn bibtex_entries_and_fields_are_references_but_settings_are_not() {
        assert!(bibtex_like("@Misc{,\nauthor\ntitle\nyear\nurl\n}"));
        assert!(bibtex_like("@Manual{rcore,\ntitle = {R: A Language}"));
        // The R FAQ's entry, its field names lost by the PDF's layout.
        assert!(bibtex_like(
            "= {Kurt Hornik and the R Core Team},\n= {{R} {FAQ}},\n= {2022},"
        ));
        assert!(bibtex_like("  author = \"Ann Lee\","));
        assert!(!bibtex_like("TEXMFHOME = {/my/dir1,/mydir2}"));
        assert!(!bibtex_like("Write to ESS-help@r-project.org {soon}."));
        assert!(!bibtex_like("If x = 1, the loop stops."));
    }

    #[test]
    fn labelled_reference_list_entries_are_found_whole() {
        let text = "as shown in [2].\n\nReferences\n\n[1] G. Kavoulakis and G. Baym, Phys. Rev. B 53, 7227 (1996).\n[2] J. A. Moorer, “Audio in the new millennium,” Journal of the\nAES, vol. 48, no. 5, pp. 490–498, May 2000.\n\n> x == 2\n[1] FALSE\n";
        let entries = reference_entries(text);
        assert_eq!(entries.len(), 2, "{entries:?}");
        assert!(text[entries[0].clone()].starts_with("[1] G. Kavoulakis"));
        assert!(text[entries[1].clone()].ends_with("May 2000."));
        // A fragment the sentence splitter cut from the second entry is in it.
        let fragment = sentence_range(text, "AES, vol. 48");
        assert!(reference_like(text, &fragment, &entries));
        // R's console output has a label but cites nothing.
        let output = sentence_range(text, "[1] FALSE");
        assert!(!reference_like(text, &output, &entries));
        assert!(!reference_like(
            text,
            &sentence_range(text, "as shown in [2]."),
            &entries
        ));
    }

    #[test]
    fn unlabelled_citations_are_references_but_prose_that_cites_is_not() {
        for reference in [
            "Murrell (2005), “R Graphics”, Chapman & Hall/CRC, ISBN: 1-584-88486-X.",
            "Patricia S. Abril and Robert Plant. 2007. The patent holder’s dilemma. Commun. ACM 50, 1 (Jan. 2007), 36–44.",
            "Smith et al. (2019), Proc. of the 5th Workshop, pp. 12–19.",
        ] {
            assert!(citation_like(reference), "{reference}");
        }
        for prose in [
            "Further information is provided in the standard reference and in Robert Gentleman and Ross Ihaka (2000), Journal of Computational and Graphical Statistics, 9, 491–508.",
            "LaTeX2e was released in 1994 and is described in chapter 2.",
            "Staff may work from home up to three days a week.",
            "Hotels are capped at 210 USD per night in 2026-27.",
        ] {
            assert!(!citation_like(prose), "{prose}");
        }
    }

    #[test]
    fn a_sentence_that_introduces_a_command_takes_it_along() {
        // Texinfo's style: the sentence breaks off, the code is set off, the sentence
        // goes on.
        let text = "they come in as factors. If f is such a factor object, you can use\n\nas.numeric(as.character(f))\n\nto get the numbers back.";
        let intro = sentence_range(text, "If f is such a factor object, you can use");
        let end = introduced_end(text, &intro).unwrap();
        assert_eq!(
            &text[intro.start..end],
            "If f is such a factor object, you can use\n\nas.numeric(as.character(f))"
        );
        // A colon introduces a block of lines, with their line structure.
        let text = "To install it, run the following commands:\n\ncargo install docket\n    --locked\ndocket models fetch\n\nThen index a folder.";
        let intro = sentence_range(text, "To install it, run the following commands:");
        let end = introduced_end(text, &intro).unwrap();
        assert!(text[..end].ends_with("docket models fetch"));
        // The line right after a colon, without a blank line.
        let text =
            "Report an incident within one hour:\n- call the hotline\n- email security\n\nLater.";
        let intro = sentence_range(text, "Report an incident within one hour:");
        assert!(text[..introduced_end(text, &intro).unwrap()].ends_with("email security"));
    }

    #[test]
    fn complete_sentences_rows_and_prose_paragraphs_introduce_nothing() {
        let none = |text: &str, sentence: &str| {
            introduced_end(text, &sentence_range(text, sentence)).is_none()
        };
        assert!(none(
            "Invoices are kept for 7 years.\n\nrm -rf /tmp",
            "Invoices are kept for 7 years."
        ));
        assert!(none(
            "Store CCTV footage | 30 days\nChat transcripts | 18 months",
            "Store CCTV footage | 30 days"
        ));
        // An open line followed by a paragraph of prose: a layout artefact, not a display.
        assert!(none(
            "Conference on Digital Audio Effects\n\nThe proceedings are online. They are free.",
            "Conference on Digital Audio Effects"
        ));
        // An open line that goes on in the next line is one wrapped paragraph.
        assert!(none("you can use\nthe function as.numeric", "you can use"));
        // Nothing after it in the chunk.
        assert!(none("The command is:", "The command is:"));
        // A citation is not taken along.
        assert!(none(
            "Please cite it as follows:\n\n@Misc{rfaq,\nauthor = {Kurt Hornik},\n}",
            "Please cite it as follows:"
        ));
        // A display too long to be one is left out.
        let long = format!("Run this:\n\n{}\n", "x".repeat(DISPLAY_BYTES + 1));
        assert!(none(&long, "Run this:"));
    }
}
