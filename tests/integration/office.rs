//! Spreadsheets and slides end to end: `docket extract` and `docket index` on a folder
//! with an XLSX workbook, an ODS spreadsheet and a PPTX deck written here (minimal valid
//! Office XML in a zip), then a search that finds a row and a slide by their sources.

use std::io::Write;
use std::path::Path;

use crate::util::{docket, temp_dir, write};

fn zip_of(parts: &[(&str, String)]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, body) in parts {
        zip.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(body.as_bytes()).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

fn rels(targets: &[(&str, &str)]) -> String {
    let list: String = targets
        .iter()
        .enumerate()
        .map(|(i, (kind, target))| {
            format!(
                r#"<Relationship Id="rId{}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/{kind}" Target="{target}"/>"#,
                i + 1
            )
        })
        .collect();
    format!(
        r#"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{list}</Relationships>"#
    )
}

/// An XLSX workbook: sheets of rows of inline-string cells (the first row the header).
pub fn xlsx(sheets: &[(&str, &[&[&str]])]) -> Vec<u8> {
    let main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
    let listed: String = sheets
        .iter()
        .enumerate()
        .map(|(i, (name, _))| {
            format!(
                r#"<sheet name="{name}" sheetId="{}" r:id="rId{}"/>"#,
                i + 1,
                i + 1
            )
        })
        .collect();
    let targets: Vec<(String, String)> = (1..=sheets.len())
        .map(|n| ("worksheet".to_string(), format!("worksheets/sheet{n}.xml")))
        .collect();
    let targets: Vec<(&str, &str)> = targets
        .iter()
        .map(|(k, t)| (k.as_str(), t.as_str()))
        .collect();
    let mut parts = vec![
        (
            "xl/workbook.xml".to_string(),
            format!(
                r#"<?xml version="1.0"?><workbook xmlns="{main}" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>{listed}</sheets></workbook>"#
            ),
        ),
        ("xl/_rels/workbook.xml.rels".to_string(), rels(&targets)),
    ];
    for (i, (_, rows)) in sheets.iter().enumerate() {
        let data: String = rows
            .iter()
            .enumerate()
            .map(|(r, cells)| {
                let cells: String = cells
                    .iter()
                    .enumerate()
                    .map(|(c, v)| {
                        format!(
                            r#"<c r="{}{}" t="inlineStr"><is><t>{v}</t></is></c>"#,
                            (b'A' + c as u8) as char,
                            r + 1
                        )
                    })
                    .collect();
                format!(r#"<row r="{}">{cells}</row>"#, r + 1)
            })
            .collect();
        parts.push((
            format!("xl/worksheets/sheet{}.xml", i + 1),
            format!(
                r#"<?xml version="1.0"?><worksheet xmlns="{main}"><sheetData>{data}</sheetData></worksheet>"#
            ),
        ));
    }
    let parts: Vec<(&str, String)> = parts.iter().map(|(n, b)| (n.as_str(), b.clone())).collect();
    zip_of(&parts)
}

/// A PPTX deck: slides of (title, body lines), in this order.
pub fn pptx(slides: &[(&str, &[&str])]) -> Vec<u8> {
    let ns = r#"xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main""#;
    let ids: String = (1..=slides.len())
        .map(|n| format!(r#"<p:sldId id="{}" r:id="rId{n}"/>"#, 255 + n))
        .collect();
    let targets: Vec<String> = (1..=slides.len())
        .map(|n| format!("slides/slide{n}.xml"))
        .collect();
    let targets: Vec<(&str, &str)> = targets.iter().map(|t| ("slide", t.as_str())).collect();
    let mut parts = vec![
        (
            "ppt/presentation.xml".to_string(),
            format!(
                r#"<?xml version="1.0"?><p:presentation {ns}><p:sldIdLst>{ids}</p:sldIdLst></p:presentation>"#
            ),
        ),
        (
            "ppt/_rels/presentation.xml.rels".to_string(),
            rels(&targets),
        ),
    ];
    for (i, (title, lines)) in slides.iter().enumerate() {
        let paras: String = lines
            .iter()
            .map(|l| format!("<a:p><a:r><a:t>{l}</a:t></a:r></a:p>"))
            .collect();
        parts.push((
            format!("ppt/slides/slide{}.xml", i + 1),
            format!(
                r#"<?xml version="1.0"?><p:sld {ns}><p:cSld><p:spTree><p:sp><p:nvSpPr><p:cNvPr id="2" name="Title"/><p:cNvSpPr/><p:nvPr><p:ph type="title"/></p:nvPr></p:nvSpPr><p:txBody><a:p><a:r><a:t>{title}</a:t></a:r></a:p></p:txBody></p:sp><p:sp><p:nvSpPr><p:cNvPr id="3" name="Body"/><p:cNvSpPr/><p:nvPr><p:ph idx="1"/></p:nvPr></p:nvSpPr><p:txBody>{paras}</p:txBody></p:sp></p:spTree></p:cSld></p:sld>"#
            ),
        ));
    }
    let parts: Vec<(&str, String)> = parts.iter().map(|(n, b)| (n.as_str(), b.clone())).collect();
    zip_of(&parts)
}

fn book(kettle: &str) -> Vec<u8> {
    xlsx(&[
        (
            "Reviews",
            &[
                &["id", "title", "review"],
                &["r1", "Kettle", kettle],
                &["r2", "Toaster", "Burns the bread on the lowest setting."],
            ],
        ),
        (
            "Returns",
            &[&["comment"], &["The blender lid cracked within a week."]],
        ),
    ])
}

fn deck() -> Vec<u8> {
    pptx(&[
        ("Quarterly results", &["Revenue grew twelve percent"]),
        ("Hiring plan", &["Two platform engineers", "One designer"]),
        ("Roadmap", &["Ship the public API in spring"]),
    ])
}

fn index(docs: &Path, ix: &Path) -> serde_json::Value {
    docket([
        "index",
        &docs.display().to_string(),
        "--index",
        &ix.display().to_string(),
        "--no-embed",
        "--json",
    ])
    .expect_code(0)
    .json()
}

#[test]
fn spreadsheets_and_slides_extract_and_index_end_to_end() {
    let tmp = temp_dir();
    let docs = tmp.path().join("docs");
    let ix = tmp.path().join("ix");
    write(
        &docs,
        "book.xlsx",
        &book("Boils a litre in ninety seconds."),
    );
    write(&docs, "deck.pptx", &deck());

    let run = docket([
        "extract",
        &docs.join("deck.pptx").display().to_string(),
        "--json",
    ]);
    let doc = run.expect_code(0).json();
    assert_eq!(doc["format"], "pptx");
    assert_eq!(doc["title"], "Quarterly results");
    let pages: Vec<&str> = doc["pages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        pages,
        [
            "Quarterly results\n\nRevenue grew twelve percent",
            "Hiring plan\n\nTwo platform engineers\nOne designer",
            "Roadmap\n\nShip the public API in spring"
        ]
    );

    let run = docket([
        "extract",
        &docs.join("book.xlsx").display().to_string(),
        "--json",
    ]);
    let rows = run.expect_code(0).json_lines();
    let sources: Vec<&str> = rows.iter().map(|r| r["source"].as_str().unwrap()).collect();
    assert_eq!(
        sources,
        [
            "book.xlsx#Reviews/r1",
            "book.xlsx#Reviews/r2",
            "book.xlsx#Returns/2"
        ]
    );
    assert_eq!(rows[0]["title"], "Kettle");
    assert_eq!(rows[0]["format"], "spreadsheet");
    assert_eq!(
        rows[0]["pages"][0]["text"],
        "Boils a litre in ninety seconds."
    );
    assert_eq!(rows[2]["metadata"]["sheet"], "Returns");

    let s = index(&docs, &ix);
    assert_eq!(s["added"], 4, "{s}");
    assert_eq!(s["failed"], 0, "{s}");
    let search = |query: &str| {
        docket([
            "search",
            query,
            "--index",
            &ix.display().to_string(),
            "--mode",
            "bm25",
            "--json",
        ])
        .expect_code(0)
        .json_lines()
    };
    let hits = search("litre kettle");
    assert_eq!(hits[0]["source"], "book.xlsx#Reviews/r1");
    assert_eq!(hits[0]["format"], "spreadsheet");
    let hits = search("designer");
    assert_eq!(hits[0]["source"], "deck.pptx");
    assert_eq!(hits[0]["format"], "pptx");
    // The small deck is one chunk over its three pages.
    assert_eq!(
        (hits[0]["page_start"].as_u64(), hits[0]["page_end"].as_u64()),
        (Some(1), Some(3))
    );

    // One row changes: only it is parsed again.
    write(&docs, "book.xlsx", &book("Boils a litre in two minutes."));
    let s = index(&docs, &ix);
    assert_eq!(
        (s["added"].as_u64(), s["updated"].as_u64()),
        (Some(0), Some(1)),
        "{s}"
    );
    assert_eq!(s["kept"], 3, "{s}");
}

#[test]
fn a_garbled_spreadsheet_fails_alone_naming_the_file() {
    let tmp = temp_dir();
    let docs = tmp.path().join("docs");
    let ix = tmp.path().join("ix");
    write(&docs, "deck.pptx", &deck());
    write(&docs, "broken.xlsx", b"PK\x03\x04 not really a zip");
    write(&docs, "empty.ods", &zip_of(&[("content.xml", r#"<?xml version="1.0"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"><office:body><office:spreadsheet><table:table table:name="Sheet1"/></office:spreadsheet></office:body></office:document-content>"#.into())]));
    let run = docket([
        "index",
        &docs.display().to_string(),
        "--index",
        &ix.display().to_string(),
        "--no-embed",
        "--json",
    ]);
    let s = run.json();
    assert_eq!(s["added"], 1, "{}", run.describe());
    assert_eq!(s["failed"], 2, "{}", run.describe());
    assert!(
        run.stderr.contains("broken.xlsx") && run.stderr.contains("not a readable zip archive"),
        "{}",
        run.describe()
    );
    assert!(
        run.stderr.contains("empty.ods") && run.stderr.contains("no sheet has any rows"),
        "{}",
        run.describe()
    );
}

#[test]
fn a_chunk_cut_from_the_middle_of_a_table_carries_its_header_row() {
    let tmp = temp_dir();
    let rows: String = (0..24)
        .map(|i| {
            format!(
                "<tr><td>Model {i}</td><td>{} EUR</td><td>{}</td></tr>",
                100 + i * 7,
                i * 3 + 2
            )
        })
        .collect();
    let html = format!(
        "<h1>Price list</h1><p>Prices valid from March.</p><table><tr><th>Product</th><th>Price</th><th>Stock</th></tr>{rows}</table>"
    );
    let file = write(tmp.path(), "prices.html", html.as_bytes());
    let run = docket([
        "ingest",
        &file.display().to_string(),
        "--json",
        "--chunk-tokens",
        "64",
        "--chunk-overlap",
        "0",
    ]);
    let chunks = run.expect_code(0).json_lines();
    assert!(chunks.len() >= 3, "{}", run.describe());
    assert_eq!(chunks[0]["heading_path"], serde_json::json!(["Price list"]));
    for c in &chunks[1..] {
        assert!(c["text"].as_str().unwrap().starts_with("Model "), "{c}");
        assert_eq!(
            c["heading_path"],
            serde_json::json!(["Price list", "Product | Price | Stock"]),
            "{c}"
        );
    }
}
