//! The language of a document, detected once at ingest and recorded in each chunk's
//! metadata under [`LANG_KEY`] as an ISO 639-3 code (`eng`, `deu`, `rus`), so that the
//! BM25 index can stem and drop stop words in that language, and a search can filter on
//! it (`--meta lang=deu`).
//!
//! Detection is whatlang's (trigram profiles of 69 languages, no model files, a few
//! microseconds per kilobyte) on the start of the text, in two steps: among all its
//! languages, and when that guess is not reliable (whatlang's own threshold, which
//! short texts of close languages such as Russian and Ukrainian often miss), among the
//! 18 languages the BM25 index has stemmers for ([`STEMMED`]), where a text in one of
//! them is told apart from the others with far less text. A text that neither step is
//! confident of records nothing, and is analysed in the index's default language. So a
//! short Ukrainian text may be recorded as Russian (and stemmed as such); a long one is
//! recorded as Ukrainian. A `lang` the loader or the user already put in the
//! document's metadata is kept.

/// Metadata key of a chunk's language.
pub const LANG_KEY: &str = "lang";

/// Bytes of text the detection reads: enough for a confident guess on prose, and a
/// bound on its cost for long documents.
const SAMPLE_BYTES: usize = 8 * 1024;

/// The languages tantivy has a Snowball stemmer for (those of the BM25 analyzer).
pub const STEMMED: [whatlang::Lang; 18] = {
    use whatlang::Lang::*;
    [
        Ara, Dan, Nld, Eng, Fin, Fra, Deu, Ell, Hun, Ita, Nob, Por, Ron, Rus, Spa, Swe, Tam, Tur,
    ]
};

/// The ISO 639-3 code of the language `text` is written in, when whatlang is confident
/// (see the module's documentation).
pub fn detect(text: &str) -> Option<&'static str> {
    let mut end = text.len().min(SAMPLE_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let sample = &text[..end];
    let info = whatlang::detect(sample)?;
    if info.is_reliable() {
        return Some(info.lang().code());
    }
    let info = whatlang::Detector::with_allowlist(STEMMED.to_vec()).detect(sample)?;
    info.is_reliable().then(|| info.lang().code())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prose_in_three_languages_is_told_apart() {
        assert_eq!(
            detect(
                "The tenant must give three months notice before the end of the lease, in writing."
            ),
            Some("eng")
        );
        assert_eq!(
            detect(
                "Der Mieter muss die Kündigung drei Monate vor dem Ende des Mietvertrags schriftlich einreichen."
            ),
            Some("deu")
        );
        assert_eq!(
            detect(
                "Арендатор обязан письменно уведомить арендодателя за три месяца до окончания договора."
            ),
            Some("rus")
        );
        assert_eq!(detect("42 17 3.5"), None);
        // A cut inside a multibyte character does not panic.
        let long = "é".repeat(SAMPLE_BYTES);
        let _ = detect(&long);
    }
}
