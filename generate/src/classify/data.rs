//! Reading the files a classifier is made from: a labels file for zero-shot
//! classification, and labelled examples (CSV or TSV with a header row) for training.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A class: its name (what predictions report) and optionally a description, which
/// zero-shot classification embeds instead of the bare name because a phrase such as
/// "unsolicited advertising or a prize offer" carries far more meaning than "spam".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelSpec {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
}

impl LabelSpec {
    pub fn new(name: impl Into<String>, description: Option<&str>) -> Self {
        LabelSpec {
            name: name.into(),
            description: description.map(str::to_owned),
        }
    }

    /// The text zero-shot classification describes this class with.
    pub fn text(&self) -> &str {
        self.description.as_deref().unwrap_or(&self.name)
    }
}

/// Parse a labels file: one class per line, `label`, `label: description` (the
/// description may contain commas) or `label,description` (CSV, so a description
/// containing a comma is quoted). Blank lines and lines starting with `#` are skipped,
/// as is a first line `label,description`. `origin` names the file in errors.
pub fn parse_labels(text: &str, origin: &Path) -> Result<Vec<LabelSpec>> {
    // `label: description` lines become CSV records, quoted.
    let quote = |f: &str| format!("\"{}\"", f.trim().replace('"', "\"\""));
    let text: String = text
        .lines()
        .map(|line| {
            let t = line.trim_start();
            match t.split_once(':') {
                Some((name, desc))
                    if !t.starts_with('#') && !t.starts_with('"') && !name.contains(',') =>
                {
                    format!("{},{}\n", quote(name), quote(desc))
                }
                _ => format!("{line}\n"),
            }
        })
        .collect();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .comment(Some(b'#'))
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut out: Vec<LabelSpec> = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let parse_err = |line: usize, reason: String| Error::Parse {
            path: origin.to_path_buf(),
            line,
            reason,
        };
        let record = record.map_err(|e| parse_err(i + 1, e.to_string()))?;
        let line = record.position().map_or(i + 1, |p| p.line() as usize);
        let fields: Vec<&str> = record.iter().collect();
        if fields.iter().all(|f| f.is_empty()) {
            continue;
        }
        if out.is_empty()
            && fields[0].eq_ignore_ascii_case("label")
            && fields
                .get(1)
                .is_none_or(|f| f.eq_ignore_ascii_case("description"))
        {
            continue;
        }
        if fields.len() > 2 {
            return Err(parse_err(
                line,
                format!(
                    "{} fields; expected `label` or `label,description` (quote a description that contains commas)",
                    fields.len()
                ),
            ));
        }
        if fields[0].is_empty() {
            return Err(parse_err(line, "empty label name".into()));
        }
        if out.iter().any(|l| l.name == fields[0]) {
            return Err(parse_err(
                line,
                format!("label {:?} given twice", fields[0]),
            ));
        }
        let description = fields.get(1).filter(|d| !d.is_empty()).copied();
        out.push(LabelSpec::new(fields[0], description));
    }
    check_labels(&out)?;
    Ok(out)
}

/// Read and parse a labels file (see [`parse_labels`]).
pub fn load_labels(path: &Path) -> Result<Vec<LabelSpec>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    parse_labels(&text, path)
}

pub(crate) fn check_labels(labels: &[LabelSpec]) -> Result<()> {
    if labels.len() < 2 {
        return Err(Error::Labels {
            reason: format!(
                "{} label(s) given; classification needs at least two",
                labels.len()
            ),
        });
    }
    Ok(())
}

/// Labelled examples: parallel lists of texts and their labels.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Examples {
    pub texts: Vec<String>,
    pub labels: Vec<String>,
}

impl Examples {
    pub fn len(&self) -> usize {
        self.texts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.texts.is_empty()
    }

    /// The examples at `indices`, in that order.
    pub fn subset(&self, indices: &[usize]) -> Examples {
        Examples {
            texts: indices.iter().map(|&i| self.texts[i].clone()).collect(),
            labels: indices.iter().map(|&i| self.labels[i].clone()).collect(),
        }
    }
}

/// Read labelled examples from a delimited file with a header row, taking the text and
/// label from the named columns. `.tsv` files are tab-separated with no quoting (a
/// quote is an ordinary character in them, as in the common spam and question sets);
/// anything else is read as CSV with RFC 4180 quoting.
pub fn read_examples(path: &Path, text_column: &str, label_column: &str) -> Result<Examples> {
    let tsv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("tsv"));
    let mut builder = csv::ReaderBuilder::new();
    if tsv {
        builder.delimiter(b'\t').quoting(false);
    }
    let parse_err = |line: usize, reason: String| Error::Parse {
        path: path.to_path_buf(),
        line,
        reason,
    };
    let mut reader = builder.from_path(path).map_err(|e| match e.into_kind() {
        csv::ErrorKind::Io(io) => Error::io(path, io),
        other => parse_err(1, format!("{other:?}")),
    })?;
    let headers = reader
        .headers()
        .map_err(|e| parse_err(1, e.to_string()))?
        .clone();
    let column = |name: &str| {
        headers.iter().position(|h| h == name).ok_or_else(|| {
            parse_err(
                1,
                format!(
                    "no column {name:?}; the header has {:?}",
                    headers.iter().collect::<Vec<_>>()
                ),
            )
        })
    };
    let (ti, li) = (column(text_column)?, column(label_column)?);
    let mut out = Examples::default();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line() as usize);
            parse_err(line, e.to_string())
        })?;
        let line = record.position().map_or(0, |p| p.line() as usize);
        let field = |i: usize| {
            record
                .get(i)
                .ok_or_else(|| parse_err(line, format!("missing column {}", i + 1)))
        };
        out.texts.push(field(ti)?.to_owned());
        out.labels.push(field(li)?.to_owned());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_descriptions_comments_and_header() {
        let text = "label,description\n# sentiment\npositive,\"good, happy\"\n\nnegative\n";
        let l = parse_labels(text, Path::new("l.csv")).unwrap();
        assert_eq!(
            l,
            [
                LabelSpec::new("positive", Some("good, happy")),
                LabelSpec::new("negative", None)
            ]
        );
        assert_eq!(l[1].text(), "negative");
    }

    #[test]
    fn colon_lines_take_the_rest_of_the_line_as_the_description() {
        let text = "positive: happy, \"praising\" staff\nbilling,charges: refunds\n";
        let l = parse_labels(text, Path::new("l.txt")).unwrap();
        assert_eq!(
            l,
            [
                LabelSpec::new("positive", Some("happy, \"praising\" staff")),
                LabelSpec::new("billing", Some("charges: refunds"))
            ]
        );
    }

    #[test]
    fn rejects_duplicates_and_single_labels() {
        let e = parse_labels("a\nb\na\n", Path::new("l.csv")).unwrap_err();
        assert!(e.to_string().contains("l.csv:3"), "{e}");
        assert!(parse_labels("only\n", Path::new("l.csv")).is_err());
        let e = parse_labels("a,b,c\nd\n", Path::new("l.csv")).unwrap_err();
        assert!(e.to_string().contains("quote"), "{e}");
    }
}
