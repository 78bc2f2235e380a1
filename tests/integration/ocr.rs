//! OCR through Tesseract: scans the tests make themselves (a known text rendered by
//! poppler's `pdftoppm`, then stored in a PDF as JPEG, Flate pixels or CCITT G4 fax data, turned sideways,
//! upside down or skewed, or saved as image files) must read back; without Tesseract a
//! page that needs it gets a warning naming the package, and the batch goes on.
//!
//! Tests that need Tesseract (with its English pack) and pdftoppm say SKIPPED on stderr
//! and pass when they are missing; CI installs both.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::util::{docket_env, temp_dir, write};

/// The text on the generated scans.
const LINES: [&str; 5] = [
    "Delivery note 4471 for the warehouse in Leeds.",
    "The pallets arrived on Tuesday morning.",
    "Two boxes of printer paper were damaged.",
    "Please send a credit note for them.",
    "Signed by the driver and the store manager.",
];

const RESOLUTION: u32 = 200;
const TIMEOUT: Duration = Duration::from_secs(300);

/// Tesseract with English, and pdftoppm, or say why the test is skipped.
fn tools() -> bool {
    let langs = Command::new("tesseract").arg("--list-langs").output();
    let has_eng = langs.as_ref().is_ok_and(|o| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .any(|l| l.trim() == "eng")
    });
    if !has_eng {
        // Past the harness's capture, so the skip shows in every run.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: tesseract not installed (Debian: tesseract-ocr tesseract-ocr-eng; .ci/run installs them)"
        );
        return false;
    }
    if Command::new("pdftoppm").arg("-v").output().is_err() {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: pdftoppm not installed (Debian: poppler-utils; .ci/run installs it)"
        );
        return false;
    }
    true
}

/// Share of the expected words found in `got` (case and punctuation aside).
fn word_recall(expected: &str, got: &str) -> f64 {
    let words = |s: &str| -> Vec<String> {
        s.split_whitespace()
            .map(|w| {
                w.chars()
                    .filter(|c| c.is_alphanumeric())
                    .collect::<String>()
                    .to_lowercase()
            })
            .filter(|w| !w.is_empty())
            .collect()
    };
    let mut pool = words(got);
    let want = words(expected);
    let mut found = 0;
    for w in &want {
        if let Some(i) = pool.iter().position(|g| g == w) {
            pool.swap_remove(i);
            found += 1;
        }
    }
    found as f64 / want.len().max(1) as f64
}

fn expected() -> String {
    LINES.join(" ")
}

/// A PDF of numbered objects (object 1 is the catalog), with its cross-reference table.
fn pdf(objects: &[Vec<u8>]) -> Vec<u8> {
    let mut out = b"%PDF-1.5\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(o);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

fn stream(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut o = format!("<< {dict} /Length {} >>\nstream\n", data.len()).into_bytes();
    o.extend_from_slice(data);
    o.extend_from_slice(b"\nendstream");
    o
}

const PAGE_W: f32 = 612.0;
const PAGE_H: f32 = 500.0;

/// [`LINES`] in Helvetica, turned by `angle` degrees about the middle of the page.
fn text_pdf(angle: f32) -> Vec<u8> {
    let (s, c) = angle.to_radians().sin_cos();
    let mut content = format!(
        "q {c} {s} {} {c} {} {} cm BT /F1 16 Tf ",
        -s,
        PAGE_W / 2.0,
        PAGE_H / 2.0
    );
    for (i, l) in LINES.iter().enumerate() {
        content.push_str(&format!("1 0 0 1 -230 {} Tm ({l}) Tj ", 90 - 40 * i as i32));
    }
    content.push_str("ET Q");
    pdf(&[
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_W} {PAGE_H}] /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>"
        )
        .into_bytes(),
        stream("", content.as_bytes()),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_vec(),
    ])
}

/// Render page 1 of `pdf` with pdftoppm; `format` is `-gray` (PGM), `-jpeg` or `-png`.
fn render(pdf: &[u8], format: &[&str]) -> Vec<u8> {
    render_at(pdf, format, RESOLUTION)
}

fn render_at(pdf: &[u8], format: &[&str], resolution: u32) -> Vec<u8> {
    let dir = temp_dir();
    let input = write(dir.path(), "in.pdf", pdf);
    let root = dir.path().join("out");
    let status = Command::new("pdftoppm")
        .arg("-r")
        .arg(resolution.to_string())
        .args(format)
        .arg("-singlefile")
        .arg(&input)
        .arg(&root)
        .status()
        .expect("run pdftoppm");
    assert!(status.success());
    let out = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_stem().is_some_and(|s| s == "out"))
        .expect("pdftoppm output");
    std::fs::read(out).unwrap()
}

/// A grey PGM's width, height and pixels.
fn parse_pgm(pgm: &[u8]) -> (u32, u32, Vec<u8>) {
    let mut fields = Vec::new();
    let mut at = 0;
    while fields.len() < 4 {
        while pgm[at].is_ascii_whitespace() {
            at += 1;
        }
        let start = at;
        while !pgm[at].is_ascii_whitespace() {
            at += 1;
        }
        fields.push(String::from_utf8_lossy(&pgm[start..at]).into_owned());
    }
    assert_eq!(fields[0], "P5");
    let (w, h) = (fields[1].parse().unwrap(), fields[2].parse().unwrap());
    (w, h, pgm[at + 1..].to_vec())
}

/// How a scanned page stores its image.
enum Scan {
    /// JPEG bytes (DCTDecode).
    Jpeg(Vec<u8>),
    /// A PGM, stored as Flate-compressed grey pixels.
    Flate(Vec<u8>),
    /// A PGM, thresholded and stored as CCITT Group 4 fax data.
    Fax(Vec<u8>),
}

/// Grey pixels as CCITT Group 4 (T.6) data, dark pixels black.
fn g4(width: u32, pixels: &[u8]) -> Vec<u8> {
    use fax::Color;
    let mut encoder = fax::encoder::Encoder::new(fax::VecWriter::new());
    for row in pixels.chunks(width as usize) {
        let pels = row
            .iter()
            .map(|&p| if p < 128 { Color::Black } else { Color::White });
        encoder.encode_line(pels, width).expect("encode a row");
    }
    encoder.finish().expect("end the image").finish()
}

/// A PDF whose pages are each one full-page image, optionally followed by a page with
/// a real text layer.
fn scan_pdf(scans: &[Scan], text_page: Option<&str>) -> Vec<u8> {
    let mut objects: Vec<Vec<u8>> = vec![Vec::new(), Vec::new()];
    let mut kids = Vec::new();
    for scan in scans {
        let (w, h, filter, data, space) = match scan {
            Scan::Jpeg(jpeg) => {
                let (w, h, components) = jpeg_size(jpeg);
                let space = if components == 3 {
                    "/DeviceRGB"
                } else {
                    "/DeviceGray"
                };
                (w, h, "/DCTDecode", jpeg.clone(), space)
            }
            Scan::Flate(pgm) => {
                let (w, h, pixels) = parse_pgm(pgm);
                let mut z =
                    flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
                z.write_all(&pixels).unwrap();
                (w, h, "/FlateDecode", z.finish().unwrap(), "/DeviceGray")
            }
            Scan::Fax(pgm) => {
                let (w, h, pixels) = parse_pgm(pgm);
                let filter =
                    format!("/CCITTFaxDecode /DecodeParms << /K -1 /Columns {w} /Rows {h} >>");
                // Leaked: a `&'static str` like the other filters, in a test.
                let filter: &'static str = Box::leak(filter.into_boxed_str());
                (w, h, filter, g4(w, &pixels), "/DeviceGray")
            }
        };
        let bits = if matches!(scan, Scan::Fax(_)) { 1 } else { 8 };
        let page = objects.len() + 1;
        kids.push(format!("{page} 0 R"));
        objects.push(
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_W} {PAGE_H}] /Resources << /XObject << /Im1 {} 0 R >> >> /Contents {} 0 R >>",
                page + 1,
                page + 2
            )
            .into_bytes(),
        );
        objects.push(stream(
            &format!("/Type /XObject /Subtype /Image /Width {w} /Height {h} /ColorSpace {space} /BitsPerComponent {bits} /Filter {filter}"),
            &data,
        ));
        objects.push(stream(
            "",
            format!("q {PAGE_W} 0 0 {PAGE_H} 0 0 cm /Im1 Do Q").as_bytes(),
        ));
    }
    if let Some(text) = text_page {
        let page = objects.len() + 1;
        kids.push(format!("{page} 0 R"));
        objects.push(format!("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_W} {PAGE_H}] /Resources << /Font << /F1 {} 0 R >> >> /Contents {} 0 R >>", page + 1, page + 2).into_bytes());
        objects.push(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_vec());
        objects.push(stream(
            "",
            format!("BT /F1 12 Tf 72 400 Td ({text}) Tj ET").as_bytes(),
        ));
    }
    objects[0] = b"<< /Type /Catalog /Pages 2 0 R >>".to_vec();
    objects[1] = format!(
        "<< /Type /Pages /Kids [{}] /Count {} >>",
        kids.join(" "),
        kids.len()
    )
    .into_bytes();
    pdf(&objects)
}

/// Width, height and components from a JPEG's frame header.
fn jpeg_size(jpeg: &[u8]) -> (u32, u32, u8) {
    let mut at = 2;
    loop {
        let marker = jpeg[at + 1];
        let len = u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]) as usize;
        if (0xC0..=0xC2).contains(&marker) {
            let h = u16::from_be_bytes([jpeg[at + 5], jpeg[at + 6]]);
            let w = u16::from_be_bytes([jpeg[at + 7], jpeg[at + 8]]);
            return (u32::from(w), u32::from(h), jpeg[at + 9]);
        }
        at += 2 + len;
    }
}

/// `docket extract --json` with a fresh OCR cache (its own `DOCKET_HOME`), and more.
fn extract(
    path: &Path,
    home: &Path,
    extra: &[&str],
    env: &[(&str, &std::ffi::OsStr)],
) -> serde_json::Value {
    let mut args: Vec<&std::ffi::OsStr> =
        vec!["extract".as_ref(), "--json".as_ref(), path.as_os_str()];
    args.extend(extra.iter().map(std::ffi::OsStr::new));
    let mut all_env: Vec<(&str, &std::ffi::OsStr)> = vec![("DOCKET_HOME", home.as_os_str())];
    all_env.extend_from_slice(env);
    let run = docket_env(None, args, TIMEOUT, &all_env);
    run.expect_code(0);
    run.json()
}

fn page_text(doc: &serde_json::Value, i: usize) -> &str {
    doc["pages"][i]["text"].as_str().expect("page text")
}

#[test]
fn scanned_pages_stored_as_jpeg_flate_pixels_and_ccitt_g4_are_read_with_their_page_numbers() {
    if !tools() {
        return;
    }
    let upright = text_pdf(0.0);
    let scans = [
        Scan::Jpeg(render(&upright, &["-jpeg", "-gray"])),
        Scan::Flate(render(&upright, &["-gray"])),
        Scan::Fax(render(&upright, &["-gray"])),
    ];
    let dir = temp_dir();
    let path = write(
        dir.path(),
        "scans.pdf",
        &scan_pdf(&scans, Some("Typed cover letter")),
    );
    let doc = extract(&path, dir.path(), &["--ocr", "auto"], &[]);
    let pages = doc["pages"].as_array().expect("pages");
    assert_eq!(pages.len(), 4, "{doc}");
    for (i, page) in pages.iter().enumerate().take(3) {
        let recall = word_recall(&expected(), page_text(&doc, i));
        assert!(recall >= 0.9, "page {}: recall {recall}: {doc}", i + 1);
        assert_eq!(page["number"], i + 1);
        assert_eq!(page["has_text_layer"], false);
        let confidence = page["ocr"]["confidence"].as_u64().expect("confidence");
        assert!(confidence >= 60, "{doc}");
        assert_eq!(page["ocr"]["low_confidence"], false);
    }
    // The page with a text layer is read as it is, not by OCR.
    assert_eq!(page_text(&doc, 3).trim(), "Typed cover letter");
    assert!(pages[3].get("ocr").is_none(), "{doc}");
    assert_eq!(doc["metadata"]["ocr_pages"], "1,2,3");
    assert!(doc["warnings"].as_array().unwrap().is_empty(), "{doc}");

    // Always: the text layer is read by OCR too.
    let doc = extract(&path, dir.path(), &["--ocr", "always"], &[]);
    assert_eq!(doc["metadata"]["ocr_pages"], "1,2,3,4");
    assert!(
        word_recall("Typed cover letter", page_text(&doc, 3)) >= 0.9,
        "{doc}"
    );

    // Never: the scans stay empty and say so.
    let doc = extract(&path, dir.path(), &["--ocr", "never"], &[]);
    assert_eq!(page_text(&doc, 0).trim(), "");
    let warnings = doc["warnings"].to_string();
    assert!(
        warnings.contains("page 1 has no text layer") && warnings.contains("OCR is off"),
        "{doc}"
    );
}

#[test]
fn scans_turned_sideways_upside_down_or_skewed_read_upright() {
    if !tools() {
        return;
    }
    let scans = [
        Scan::Flate(render(&text_pdf(90.0), &["-gray"])),
        Scan::Jpeg(render(&text_pdf(180.0), &["-jpeg", "-gray"])),
        Scan::Flate(render(&text_pdf(5.0), &["-gray"])),
        Scan::Flate(render(&text_pdf(-4.0), &["-gray"])),
    ];
    let dir = temp_dir();
    let path = write(dir.path(), "turned.pdf", &scan_pdf(&scans, None));
    let doc = extract(&path, dir.path(), &[], &[]);
    for (i, what) in ["90°", "180°", "5° skew", "-4° skew"].iter().enumerate() {
        let recall = word_recall(&expected(), page_text(&doc, i));
        assert!(
            recall >= 0.9,
            "{what}: recall {recall}: {:?}",
            page_text(&doc, i)
        );
    }
}

/// A multi-page TIFF of uncompressed grey pages.
fn tiff(pages: &[(u32, u32, Vec<u8>)]) -> Vec<u8> {
    let mut out = b"II*\0\0\0\0\0".to_vec();
    let mut link_at = 4;
    for (w, h, pixels) in pages {
        let strip = out.len() as u32;
        out.extend_from_slice(pixels);
        if out.len() % 2 == 1 {
            out.push(0);
        }
        let ifd = out.len() as u32;
        out[link_at..link_at + 4].copy_from_slice(&ifd.to_le_bytes());
        let tags: [(u16, u16, u32); 8] = [
            (256, 4, *w),
            (257, 4, *h),
            (258, 3, 8),
            (259, 3, 1),
            (262, 3, 1),
            (273, 4, strip),
            (278, 4, *h),
            (279, 4, pixels.len() as u32),
        ];
        out.extend_from_slice(&(tags.len() as u16).to_le_bytes());
        for (tag, typ, value) in tags {
            out.extend_from_slice(&tag.to_le_bytes());
            out.extend_from_slice(&typ.to_le_bytes());
            out.extend_from_slice(&1u32.to_le_bytes());
            if typ == 3 {
                out.extend_from_slice(&(value as u16).to_le_bytes());
                out.extend_from_slice(&[0, 0]);
            } else {
                out.extend_from_slice(&value.to_le_bytes());
            }
        }
        link_at = out.len();
        out.extend_from_slice(&0u32.to_le_bytes());
    }
    out
}

#[test]
fn image_files_are_documents_and_a_multi_page_tiff_has_a_page_per_image() {
    if !tools() {
        return;
    }
    let upright = text_pdf(0.0);
    let dir = temp_dir();
    let png = write(dir.path(), "note.png", &render(&upright, &["-png"]));
    let jpeg = write(dir.path(), "note.jpg", &render(&upright, &["-jpeg"]));
    let (w, h, pixels) = parse_pgm(&render(&upright, &["-gray"]));
    let (w2, h2, pixels2) = parse_pgm(&render(&text_pdf(180.0), &["-gray"]));
    let tif = write(
        dir.path(),
        "fax.tif",
        &tiff(&[(w, h, pixels), (w2, h2, pixels2)]),
    );
    for path in [&png, &jpeg] {
        let doc = extract(path, dir.path(), &[], &[]);
        assert_eq!(doc["format"], "image");
        let recall = word_recall(&expected(), page_text(&doc, 0));
        assert!(recall >= 0.9, "{}: {doc}", path.display());
    }
    let doc = extract(&tif, dir.path(), &[], &[]);
    let pages = doc["pages"].as_array().unwrap();
    assert_eq!(pages.len(), 2, "{doc}");
    for (i, page) in pages.iter().enumerate() {
        let recall = word_recall(&expected(), page_text(&doc, i));
        assert!(recall >= 0.9, "TIFF page {}: {doc}", i + 1);
        assert_eq!(page["number"], i + 1);
    }
    assert_eq!(doc["metadata"]["ocr_pages"], "1,2");
}

/// A stand-in for Tesseract that answers `--list-langs` and `--version` like the real
/// one and fails anything else: a run with it reads pages only from the cache.
fn tesseract_that_cannot_recognise(dir: &Path) -> PathBuf {
    let path = dir.join("fake-tesseract");
    std::fs::write(
        &path,
        "#!/bin/sh\ncase \"$1\" in --list-langs|--version) exec tesseract \"$@\";; esac\necho 'recognition was asked of the stand-in' >&2\nexit 3\n",
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    path
}

#[test]
fn a_page_recognised_once_comes_from_the_cache_after() {
    if !tools() {
        return;
    }
    let dir = temp_dir();
    let path = write(
        dir.path(),
        "scan.pdf",
        &scan_pdf(&[Scan::Flate(render(&text_pdf(0.0), &["-gray"]))], None),
    );
    let first = extract(&path, dir.path(), &[], &[]);
    assert!(
        word_recall(&expected(), page_text(&first, 0)) >= 0.9,
        "{first}"
    );
    let cached = std::fs::read_dir(dir.path().join("cache").join("ocr")).map_or(0, |d| d.count());
    assert!(cached > 0, "nothing cached");
    let fake = tesseract_that_cannot_recognise(dir.path());
    // The same page in another file: the cache is keyed by the image, not the file.
    let copy = write(dir.path(), "copy.pdf", &std::fs::read(&path).unwrap());
    let again = extract(
        &copy,
        dir.path(),
        &[],
        &[("DOCKET_TESSERACT", fake.as_os_str())],
    );
    assert_eq!(page_text(&again, 0), page_text(&first, 0), "{again}");
    // Another language is another key: the stand-in is asked, fails, and says so.
    let other = extract(
        &copy,
        dir.path(),
        &["--ocr-lang", "osd"],
        &[("DOCKET_TESSERACT", fake.as_os_str())],
    );
    assert!(
        other["warnings"].to_string().contains("tesseract failed"),
        "{other}"
    );
}

#[test]
fn without_tesseract_a_scan_is_warned_about_by_package_and_the_rest_is_indexed() {
    // Needs nothing installed: Tesseract is pointed at a program that does not exist.
    let dir = temp_dir();
    let docs = dir.path().join("docs");
    std::fs::create_dir(&docs).unwrap();
    // Any image will do: it is never decoded.
    let fake_png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10\0\0\0\x10\x08\0\0\0\0";
    let scan = scan_pdf(
        &[Scan::Jpeg(
            b"\xFF\xD8\xFF\xC0\0\x0b\x08\0\x10\0\x10\x01\x01\x11\0".to_vec(),
        )],
        None,
    );
    write(&docs, "scan.pdf", &scan);
    write(&docs, "photo.png", fake_png);
    write(
        &docs,
        "notes.md",
        b"# Notes\n\nThe quarterly stock count is on Friday.\n",
    );
    let missing = dir.path().join("no-such-tesseract");
    // The models (for chunking and the index) stay in the usual home.
    let env = [("DOCKET_TESSERACT", missing.as_os_str())];
    let run = docket_env(
        None,
        [
            "extract".as_ref(),
            "--json".as_ref(),
            docs.join("scan.pdf").as_os_str(),
        ],
        TIMEOUT,
        &env,
    );
    run.expect_code(0);
    let doc = run.json();
    let warnings = doc["warnings"].to_string();
    assert!(
        warnings.contains("page 1 has no text layer")
            && warnings.contains("install the tesseract-ocr package"),
        "{doc}"
    );
    let run = docket_env(
        None,
        ["ingest".as_ref(), "--json".as_ref(), docs.as_os_str()],
        TIMEOUT,
        &env,
    );
    run.expect_code(0);
    let chunks = run.json_lines();
    assert!(
        chunks
            .iter()
            .any(|c| c["text"].as_str().unwrap_or("").contains("stock count")),
        "{}",
        run.describe()
    );
    assert!(run.stderr.contains("tesseract-ocr"), "{}", run.describe());
    let index = dir.path().join("index");
    let run = docket_env(
        None,
        [
            "index".as_ref(),
            docs.as_os_str(),
            "--index".as_ref(),
            index.as_os_str(),
            "--no-embed".as_ref(),
        ],
        TIMEOUT,
        &env,
    );
    run.expect_code(0);
    assert!(run.stderr.contains("tesseract-ocr"), "{}", run.describe());
}

/// A page set in a Type 3 font whose glyphs have made-up names and no `ToUnicode` map
/// (the text cannot be extracted), each glyph drawing a Helvetica letter (the page
/// renders as `text`).
fn unmapped_font_pdf(text: &str) -> Vec<u8> {
    let mut chars: Vec<char> = text.chars().collect();
    chars.sort_unstable();
    chars.dedup();
    let code = |c: char| 33 + chars.iter().position(|&x| x == c).unwrap();
    let escape = |s: &str| {
        s.replace('\\', "\\\\")
            .replace('(', "\\(")
            .replace(')', "\\)")
    };
    let shown: String = text.chars().map(|c| char::from(code(c) as u8)).collect();
    let (first, last) = (33, 32 + chars.len());
    // Helvetica's advance widths, roughly, so that the letters sit as in a word.
    let width = |c: char| match c {
        'i' | 'l' | 'j' => 222,
        'f' | 't' | ' ' => 278,
        'r' => 333,
        'm' => 833,
        'w' => 722,
        c if c.is_uppercase() => 667,
        _ => 556,
    };
    let differences: Vec<String> = chars
        .iter()
        .map(|&c| format!("{} /g{}", code(c), code(c)))
        .collect();
    let procs: Vec<String> = (0..chars.len())
        .map(|i| format!("/g{} {} 0 R", 33 + i, 7 + i))
        .collect();
    let mut objects = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 300] /Resources << /Font << /T3 5 0 R >> >> /Contents 4 0 R >>".to_vec(),
        stream("", format!("BT /T3 24 Tf 50 150 Td ({}) Tj ET", escape(&shown)).as_bytes()),
        format!(
            "<< /Type /Font /Subtype /Type3 /FontBBox [0 -200 1000 1000] /FontMatrix [0.001 0 0 0.001 0 0] /CharProcs << {} >> /Encoding << /Type /Encoding /Differences [{}] >> /FirstChar {first} /LastChar {last} /Widths [{}] /Resources << /Font << /H 6 0 R >> >> >>",
            procs.join(" "),
            differences.join(" "),
            chars.iter().map(|&c| width(c).to_string()).collect::<Vec<_>>().join(" ")
        )
        .into_bytes(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_vec(),
    ];
    for c in &chars {
        let glyph = format!(
            "{} 0 d0 BT /H 1000 Tf 0 0 Td ({}) Tj ET",
            width(*c),
            escape(&c.to_string())
        );
        objects.push(stream("", glyph.as_bytes()));
    }
    pdf(&objects)
}

#[test]
fn a_page_in_a_font_without_unicode_mapping_is_read_by_ocr() {
    if !tools() {
        return;
    }
    let text = "Quarterly stock count on Friday";
    let dir = temp_dir();
    let path = write(dir.path(), "type3.pdf", &unmapped_font_pdf(text));
    let doc = extract(&path, dir.path(), &["--ocr", "never"], &[]);
    assert_eq!(page_text(&doc, 0).trim(), "", "{doc}");
    assert!(
        doc["warnings"]
            .to_string()
            .contains("without a Unicode mapping"),
        "{doc}"
    );
    let doc = extract(&path, dir.path(), &[], &[]);
    assert!(word_recall(text, page_text(&doc, 0)) >= 0.9, "{doc}");
    assert_eq!(doc["metadata"]["ocr_pages"], "1");
    assert!(doc["warnings"].as_array().unwrap().is_empty(), "{doc}");
}

#[test]
fn an_image_file_over_the_pixel_cap_is_read_scaled_down() {
    if !tools() {
        return;
    }
    // 7650 x 6250 pixels: 48 Mpixel, over the 40 Mpixel cap.
    let png = render_at(&text_pdf(0.0), &["-png", "-gray"], 900);
    let dir = temp_dir();
    let path = write(dir.path(), "poster.png", &png);
    let doc = extract(&path, dir.path(), &[], &[]);
    assert_eq!(doc["metadata"]["image_size"], "7650x6250", "{doc}");
    assert!(word_recall(&expected(), page_text(&doc, 0)) >= 0.9, "{doc}");
}
