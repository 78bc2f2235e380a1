//! A folder of hostile files mixed with good documents, and the test that indexes it
//! (issue 13): every file is hostile, and one bad document never stops a batch, nor
//! costs the machine.
//!
//! [`write_hostile_folder`] writes, next to five good Markdown files:
//! - amplification: a PDF whose 400 font dictionaries share one 2 MiB `ToUnicode` CMap,
//!   one that draws a form of 1 MiB a thousand times, and a Flate bomb;
//! - size: a Markdown heading of 12 MiB, a 19 MB CSV with an unclosed quote on row 2,
//!   a DOCX zip bomb (a 300 MiB `word/document.xml` in a few hundred KiB);
//! - structure: HTML nested 200,000 elements deep, a JSON Lines row nested 100,000
//!   arrays deep;
//! - the file system: a FIFO and a symbolic link out of the folder;
//! - garbage: random bytes named `.pdf` and `.docx`, an empty file;
//! - and one more good document in UTF-16 without a byte order mark, which must be read.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use lopdf::{Dictionary, Document, Object, Stream, dictionary};

use crate::pdfgen::{flate_bomb_pdf, save};
use crate::util::{Run, docket_measured, error_line};

/// What the folder holds, by file name.
pub struct HostileFolder {
    /// Good documents and a word only each of them contains.
    pub good: Vec<(&'static str, &'static str)>,
    /// Files that must fail, and the start of their reason (case-insensitive).
    pub bad: Vec<(&'static str, &'static str)>,
    /// Files docket must get through, whatever it makes of them.
    pub survived: Vec<&'static str>,
    /// Entries that must be named in the summary and not read.
    pub not_read: Vec<&'static str>,
}

const GOOD: [(&str, &str); 5] = [
    ("good-1.md", "quokka"),
    ("good-2.md", "narwhal"),
    ("good-3.md", "axolotl"),
    ("good-4.md", "pangolin"),
    ("good-5.md", "capybara"),
];

/// Write the hostile folder under `root` (created).
pub fn write_hostile_folder(root: &Path) -> HostileFolder {
    std::fs::create_dir_all(root).expect("create the folder");
    let put = |name: &str, bytes: &[u8]| std::fs::write(root.join(name), bytes).expect(name);
    for (i, (name, word)) in GOOD.iter().enumerate() {
        put(
            name,
            format!(
                "# Field note {n}\n\nThe {word} was seen near the river on day {n}. \
                 Keepers wrote down where the {word} fed and slept.\n",
                n = i + 1
            )
            .as_bytes(),
        );
    }
    put("shared-cmap.pdf", &shared_cmap_pdf(400, 2 << 20));
    put(
        "forms-drawn-1000-times.pdf",
        &repeated_form_pdf(1000, 1 << 20),
    );
    put("flate-bomb.pdf", &flate_bomb_pdf());
    let mut heading = b"# ".to_vec();
    heading.resize(12 << 20, b'x');
    heading.extend_from_slice(b"\n\nThe body under a heading of twelve mebibytes.\n");
    put("huge-heading.md", &heading);
    put("unclosed-quote.csv", &unclosed_quote_csv(19_000_000));
    put("zip-bomb.docx", &zip_bomb(300 << 20));
    let mut html = "<div>".repeat(200_000);
    html.push_str("deep text");
    html.push_str(&"</div>".repeat(200_000));
    put("deep.html", html.as_bytes());
    let deep = format!(
        "{{\"text\":\"a shallow row\"}}\n{{\"text\":{}{}}}\n{{\"text\":\"another row\"}}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    put("deep.jsonl", deep.as_bytes());
    put("garbage.pdf", &garbage(50_000, 1));
    put("garbage.docx", &garbage(50_000, 2));
    put("empty.md", b"");
    let utf16: Vec<u8> = "Text in UTF-16 without a byte order mark, about the okapi. "
        .repeat(50)
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    put("utf16-no-bom.txt", &utf16);
    std::os::unix::fs::symlink("/etc/passwd", root.join("escape.md")).expect("symlink");
    let fifo = std::process::Command::new("mkfifo")
        .arg(root.join("pipe.md"))
        .status()
        .expect("mkfifo");
    assert!(fifo.success(), "mkfifo");
    HostileFolder {
        good: GOOD
            .into_iter()
            .chain([("utf16-no-bom.txt", "okapi")])
            .collect(),
        bad: vec![
            ("forms-drawn-1000-times.pdf", "too large: the data decoded"),
            ("flate-bomb.pdf", "too large"),
            ("unclosed-quote.csv", "unclosed quote"),
            ("zip-bomb.docx", "too large"),
            ("deep.jsonl", "invalid json"),
            ("garbage.pdf", "not a pdf file"),
            ("garbage.docx", "not a docx file"),
        ],
        survived: vec![
            "shared-cmap.pdf",
            "huge-heading.md",
            "deep.html",
            "empty.md",
        ],
        not_read: vec!["escape.md", "pipe.md"],
    }
}

/// Deterministic noise (xorshift).
fn garbage(len: usize, seed: u64) -> Vec<u8> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ seed;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).expect("compress");
    enc.finish().expect("compress")
}

/// A one-page PDF built around `content`, with `fonts` and `xobjects` as its resources.
fn one_page_pdf(
    doc: &mut Document,
    content: Vec<u8>,
    fonts: Dictionary,
    xobjects: Dictionary,
) -> Vec<u8> {
    let pages = doc.new_object_id();
    let contents = doc.add_object(Stream::new(dictionary! {}, content));
    let page = doc.add_object(dictionary! {
        "Type" => "Page",
        "Parent" => pages,
        "MediaBox" => vec![0.into(), 0.into(), 612.into(), 792.into()],
        "Contents" => contents,
        "Resources" => dictionary! { "Font" => fonts, "XObject" => xobjects },
    });
    doc.objects.insert(
        pages,
        Object::Dictionary(
            dictionary! { "Type" => "Pages", "Kids" => vec![page.into()], "Count" => 1 },
        ),
    );
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages });
    doc.trailer.set("Root", catalog);
    save(doc)
}

/// `fonts` Type0 fonts sharing one `ToUnicode` CMap of about `cmap_bytes` (the shape of
/// the report: 2.5 GB and 16 s when each font parsed its own copy).
fn shared_cmap_pdf(fonts: usize, cmap_bytes: usize) -> Vec<u8> {
    let mut cmap = b"begincmap\n1 begincodespacerange <0000> <FFFF> endcodespacerange\n\
        1 beginbfrange <0041> <005A> <0061> endbfrange\n"
        .to_vec();
    let mut code = 0u32;
    while cmap.len() < cmap_bytes {
        cmap.extend_from_slice(b"100 beginbfchar\n");
        for _ in 0..100 {
            cmap.extend_from_slice(format!("<{code:06X}> <{:04X}>\n", code & 0xFFFF).as_bytes());
            code += 1;
        }
        cmap.extend_from_slice(b"endbfchar\n");
    }
    cmap.extend_from_slice(b"endcmap");
    let mut doc = Document::with_version("1.5");
    let to_unicode = doc.add_object(Stream::new(
        dictionary! { "Filter" => "FlateDecode" },
        zlib(&cmap),
    ));
    let mut font_dict = Dictionary::new();
    let mut content = String::new();
    for i in 0..fonts {
        let cid = doc.add_object(dictionary! {
            "Type" => "Font", "Subtype" => "CIDFontType2", "BaseFont" => "Shared", "DW" => 500,
        });
        let font = doc.add_object(dictionary! {
            "Type" => "Font",
            "Subtype" => "Type0",
            "BaseFont" => "Shared",
            "Encoding" => "Identity-H",
            "DescendantFonts" => vec![cid.into()],
            "ToUnicode" => to_unicode,
        });
        font_dict.set(format!("S{i}"), font);
        content.push_str(&format!(
            "BT /S{i} 10 Tf {} {} Td <00530048004100520045> Tj ET\n",
            30 + (i / 70) * 90,
            760 - (i % 70) * 10
        ));
    }
    one_page_pdf(&mut doc, content.into_bytes(), font_dict, Dictionary::new())
}

/// A page that draws one form of `form_bytes` decoded bytes `times` times.
fn repeated_form_pdf(times: usize, form_bytes: usize) -> Vec<u8> {
    let mut doc = Document::with_version("1.5");
    let mut body = b"0 0 m 1 1 l S\n".to_vec();
    body.resize(form_bytes, b' ');
    let form = doc.add_object(Stream::new(
        dictionary! {
            "Type" => "XObject",
            "Subtype" => "Form",
            "BBox" => vec![0.into(), 0.into(), 612.into(), 792.into()],
            "Filter" => "FlateDecode",
        },
        zlib(&body),
    ));
    let content = "/Fm0 Do\n".repeat(times).into_bytes();
    one_page_pdf(
        &mut doc,
        content,
        Dictionary::new(),
        dictionary! { "Fm0" => form },
    )
}

/// A CSV of about `bytes` whose second row opens a quote that is never closed.
fn unclosed_quote_csv(bytes: usize) -> Vec<u8> {
    let mut out = b"id,text\n1,\"a fine first row\"\n2,\"a stray quote\n".to_vec();
    let mut i = 3;
    while out.len() < bytes {
        out.extend_from_slice(format!("{i},row {i} of a long file, with a comma\n").as_bytes());
        i += 1;
    }
    out
}

/// A DOCX whose `word/document.xml` inflates to `size` bytes.
fn zip_bomb(size: usize) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let deflated = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    zip.start_file("[Content_Types].xml", deflated)
        .expect("zip");
    zip.write_all(b"<Types/>").expect("zip");
    zip.start_file("word/document.xml", deflated).expect("zip");
    let zeros = vec![b' '; 1 << 20];
    for _ in 0..size / zeros.len() {
        zip.write_all(&zeros).expect("zip");
    }
    zip.finish().expect("zip").into_inner()
}

fn search_sources(ix: &Path, query: &str) -> Vec<String> {
    let run = crate::util::docket([
        "search",
        query,
        "--index",
        &ix.display().to_string(),
        "--json",
    ]);
    run.expect_code(0)
        .json_lines()
        .iter()
        .filter_map(|hit| hit["source"].as_str().map(str::to_owned))
        .collect()
}

/// Stderr has an error line about `path` (or one of its rows) with `reason`.
fn assert_named(run: &Run, path: &Path, reason: &str) {
    let prefix = format!("error: {}:", path.display());
    let line = run
        .stderr
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no error line for {}\n{}", path.display(), run.describe()));
    assert!(
        line.to_lowercase().contains(reason),
        "{} should fail with {reason:?}: {line}",
        path.display()
    );
}

/// The first try, as a test: a folder of five good Markdown files and a dozen
/// crafted ones, indexed with embeddings. It must finish, exit 2 (some documents
/// failed), find every good document, name every bad one with its reason, and stay
/// under 2 GiB.
#[test]
fn a_hostile_folder_indexes_within_bounds_and_names_every_bad_file() {
    let tmp = crate::util::temp_dir();
    let docs = tmp.path().join("docs");
    let ix = tmp.path().join("ix");
    let folder = write_hostile_folder(&docs);
    let (run, peak_kib) = docket_measured(
        [
            "index".as_ref(),
            docs.as_os_str(),
            "--index".as_ref(),
            ix.as_os_str(),
        ],
        Duration::from_secs(300),
    );
    run.expect_code(2);
    assert!(
        peak_kib < 2 * 1024 * 1024,
        "peak RSS {} MiB\n{}",
        peak_kib / 1024,
        run.describe()
    );
    for (name, reason) in &folder.bad {
        assert_named(&run, &docs.join(name), reason);
    }
    for name in &folder.survived {
        assert!(
            error_line(&run.stderr, &docs.join(name)).is_none(),
            "{name} should not fail\n{}",
            run.describe()
        );
    }
    for name in &folder.not_read {
        assert!(
            run.stderr.contains(&docs.join(name).display().to_string()),
            "{name} is named in the summary\n{}",
            run.describe()
        );
    }
    for (name, word) in &folder.good {
        let hits = search_sources(&ix, word);
        assert_eq!(
            hits.first().map(String::as_str),
            Some(*name),
            "search {word}"
        );
    }
    // The rows of the JSON Lines file around the bad one were indexed.
    assert!(
        search_sources(&ix, "shallow row")
            .iter()
            .any(|s| s.starts_with("deep.jsonl#"))
    );
}

/// Plain prose of about `bytes` bytes, with paragraphs.
fn prose(bytes: usize) -> String {
    let words = [
        "the", "ledger", "records", "every", "shipment", "and", "its", "customs", "value", "for",
        "each", "quarter", "of", "year",
    ];
    let mut out = String::with_capacity(bytes + 200);
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    while out.len() < bytes {
        for i in 0..12 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if i > 0 {
                out.push(' ');
            }
            out.push_str(words[(x % words.len() as u64) as usize]);
        }
        out.push_str(if x.is_multiple_of(8) { ".\n\n" } else { ". " });
    }
    out
}

/// The memory ceiling (`--max-memory`): a document whose parse holds more than a quarter
/// of it fails as too large, naming the setting, and the rest of the batch is indexed
/// within the ceiling.
#[test]
fn a_document_over_its_share_of_the_memory_ceiling_fails_alone() {
    let tmp = crate::util::temp_dir();
    let docs = tmp.path().join("docs");
    let ix = tmp.path().join("ix");
    crate::util::write(&docs, "huge.txt", prose(60 << 20).as_bytes());
    for (name, word) in GOOD {
        let text = format!("# Note on the {word}\n\nThe {word} is mentioned here once.\n");
        crate::util::write(&docs, name, text.as_bytes());
    }
    let (run, peak_kib) = docket_measured(
        [
            "index".as_ref(),
            docs.as_os_str(),
            "--index".as_ref(),
            ix.as_os_str(),
            "--no-embed".as_ref(),
            "--max-memory".as_ref(),
            "384".as_ref(),
        ],
        Duration::from_secs(120),
    );
    run.expect_code(2);
    assert_named(
        &run,
        &docs.join("huge.txt"),
        "too large: the memory its parse holds",
    );
    // The heap stays under 384 MiB; RSS adds the program, stacks and allocator slack.
    assert!(peak_kib < 500 * 1024, "peak RSS {} MiB", peak_kib / 1024);
    for (name, word) in GOOD {
        assert_eq!(
            search_sources(&ix, word).first().map(String::as_str),
            Some(name)
        );
    }
}

/// Past the ceiling itself the process stops at once, saying which setting it hit,
/// rather than growing: here the embedding model alone does not fit in 40 MiB.
#[test]
fn the_process_stops_at_the_memory_ceiling_and_says_so() {
    let tmp = crate::util::temp_dir();
    let docs = tmp.path().join("docs");
    crate::util::write(&docs, "note.md", b"# A note\n\nSome text to embed.\n");
    let (run, peak_kib) = docket_measured(
        [
            "index".as_ref(),
            docs.as_os_str(),
            "--index".as_ref(),
            tmp.path().join("ix").as_os_str(),
            "--max-memory".as_ref(),
            "40".as_ref(),
        ],
        Duration::from_secs(120),
    );
    assert!(run.code != Some(0), "{}", run.describe());
    assert!(
        run.stderr
            .contains("the memory ceiling of 40 MiB (--max-memory, max_memory_mib)"),
        "{}",
        run.describe()
    );
    assert!(peak_kib < 120 * 1024, "peak RSS {} MiB", peak_kib / 1024);
}
