//! Tesseract's TSV output: one row per page, block, paragraph, line and word, with the
//! word's confidence. Words are joined back into lines, lines into paragraphs (a blank
//! line between paragraphs and blocks), and each page's mean word confidence is kept.

/// The text Tesseract found on one page.
#[derive(Debug, Clone, PartialEq)]
pub struct OcrText {
    pub text: String,
    pub confidence: Option<f32>,
    pub words: usize,
}

/// The pages of a TSV report, in page order (a page without words has empty text).
pub fn parse(tsv: &str) -> Vec<OcrText> {
    let mut pages: Vec<OcrText> = Vec::new();
    let mut sums: Vec<f64> = Vec::new();
    // (page, block, paragraph, line) of the last word written.
    let mut last: Option<(usize, u32, u32, u32)> = None;
    for row in tsv.lines().skip(1) {
        let cols: Vec<&str> = row.split('\t').collect();
        if cols.len() < 12 {
            continue;
        }
        let num = |i: usize| cols[i].trim().parse::<u32>().unwrap_or(0);
        let page = num(1).max(1) as usize;
        while pages.len() < page {
            pages.push(OcrText {
                text: String::new(),
                confidence: None,
                words: 0,
            });
            sums.push(0.0);
        }
        if num(0) != 5 {
            continue;
        }
        let word = cols[11..].join("\t");
        let word = word.trim();
        if word.is_empty() {
            continue;
        }
        let conf: f64 = cols[10].trim().parse().unwrap_or(-1.0);
        let at = (page, num(2), num(3), num(4));
        let p = &mut pages[page - 1];
        match last {
            Some(l) if l.0 == page && (l.1, l.2) != (at.1, at.2) => p.text.push_str("\n\n"),
            Some(l) if l.0 == page && l.3 != at.3 => p.text.push('\n'),
            Some(l) if l.0 == page => p.text.push(' '),
            _ => {}
        }
        p.text.push_str(word);
        last = Some(at);
        if conf >= 0.0 {
            p.words += 1;
            sums[page - 1] += conf;
        }
    }
    for (p, sum) in pages.iter_mut().zip(sums) {
        if p.words > 0 {
            p.confidence = Some((sum / p.words as f64) as f32);
        }
    }
    pages
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_lines_and_paragraphs_are_rebuilt_with_the_mean_confidence() {
        let tsv = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n\
            1\t1\t0\t0\t0\t0\t0\t0\t100\t100\t-1\t\n\
            5\t1\t1\t1\t1\t1\t0\t0\t1\t1\t90\tHello\n\
            5\t1\t1\t1\t1\t2\t0\t0\t1\t1\t80\tworld\n\
            5\t1\t1\t1\t2\t1\t0\t0\t1\t1\t70\tnext\n\
            5\t1\t2\t1\t1\t1\t0\t0\t1\t1\t60\tblock\n\
            1\t2\t0\t0\t0\t0\t0\t0\t100\t100\t-1\t\n\
            1\t3\t0\t0\t0\t0\t0\t0\t100\t100\t-1\t\n\
            5\t3\t1\t1\t1\t1\t0\t0\t1\t1\t50\tlast\n";
        let pages = parse(tsv);
        assert_eq!(pages.len(), 3);
        assert_eq!(pages[0].text, "Hello world\nnext\n\nblock");
        assert_eq!(pages[0].words, 4);
        assert_eq!(pages[0].confidence, Some(75.0));
        assert_eq!(pages[1].text, "");
        assert_eq!(pages[1].confidence, None);
        assert_eq!(pages[2].text, "last");
    }
}
