//! The generator's own checks, with lopdf only: every fixture opens (or fails to) the
//! way it is meant to, so a failing `docket` test points at docket, not the fixture.

use std::io::Read;

use lopdf::{Document, LoadOptions, Object};

use crate::pdfgen::*;

fn load(bytes: &[u8]) -> Document {
    Document::load_mem(bytes).expect("fixture opens with lopdf")
}

/// The decoded content of every content stream of page `n` (1-based), concatenated.
fn page_content(doc: &Document, n: u32) -> Vec<u8> {
    let id = doc.get_pages()[&n];
    doc.get_page_content(id)
}

#[test]
fn builds_are_deterministic() {
    // (Not the encrypted ones: lopdf pads the R3 /U entry with random bytes.)
    assert!(fonts_pdf() == fonts_pdf());
    assert!(layout_pdf() == layout_pdf());
    assert!(nested_forms_pdf() == nested_forms_pdf());
    assert!(sample_handbook() == sample_handbook());
}

#[test]
fn font_fixture_has_every_font_kind_and_page() {
    let doc = load(&fonts_pdf());
    assert_eq!(doc.get_pages().len(), 5);
    let page = doc.get_pages()[&1];
    let fonts = doc.get_page_fonts(page).expect("fonts");
    let subtypes: Vec<Vec<u8>> = fonts
        .values()
        .map(|f| {
            f.get(b"Subtype")
                .and_then(Object::as_name)
                .unwrap()
                .to_vec()
        })
        .collect();
    for want in [&b"Type1"[..], b"TrueType", b"Type0"] {
        assert!(subtypes.iter().any(|s| s == want), "no {:?} font", want);
    }
    // The Type0 page shows 2-byte codes as hex strings; the TJ page has kerns.
    let p4 = String::from_utf8(page_content(&doc, 4)).unwrap();
    assert!(p4.contains("<0321"), "Type0 codes: {p4}");
    let p5 = String::from_utf8(page_content(&doc, 5)).unwrap();
    assert!(p5.contains("-280") && p5.contains("TJ"), "TJ kerns: {p5}");
}

#[test]
fn encodings_map_as_documented() {
    assert_eq!(FontKind::Helvetica.encode("é€’"), vec![0xE9, 0x80, 0x92]);
    assert_eq!(
        FontKind::TimesDifferences.encode("\u{FB01}’Ж£"),
        vec![1, 3, 4, b'$']
    );
    assert_eq!(
        FontKind::TrueTypeToUnicode.encode("A é"),
        vec![0x24, 0x03, 0x62]
    );
    assert_eq!(
        FontKind::Type0Identity.encode("АЯё"),
        vec![0x03, 0x10, 0x03, 0x2F, 0x03, 0x51]
    );
}

#[test]
fn helvetica_text_reads_back_with_lopdf() {
    // lopdf's own extractor handles simple WinAnsi fonts: an independent reading.
    let doc = load(&simple_pdf());
    for (i, want) in SIMPLE_PAGES.iter().enumerate() {
        let text = doc.extract_text(&[i as u32 + 1]).expect("extract");
        assert_eq!(text.trim(), *want);
    }
}

#[test]
fn layout_fixture_has_an_image_only_page() {
    let doc = load(&layout_pdf());
    assert_eq!(doc.get_pages().len(), 4);
    let p3 = String::from_utf8(page_content(&doc, 3)).unwrap();
    assert!(p3.contains("/Im1 Do") && !p3.contains("BT"), "{p3}");
}

#[test]
fn inline_image_fixture_holds_operator_lookalikes() {
    let doc = load(&inline_image_pdf());
    assert_eq!(doc.get_pages().len(), 2);
    let p1 = page_content(&doc, 1);
    assert!(find(&p1, b"BI /W 8 /H 8"));
    let data_start = p1.windows(3).position(|w| w == b"ID ").unwrap() + 3;
    let data = &p1[data_start..data_start + 64];
    assert!(find(data, b"EI") && find(data, b"(fake) Tj"));
    assert_eq!(&p1[data_start + 64..data_start + 68], b"\nEI\n");
}

#[test]
fn encrypted_fixtures_need_the_right_password() {
    // Without encryption the secret text would be in the file in clear.
    assert!(!find(&encrypted_empty_user_pdf(), b"Confidential"));
    assert!(!find(&encrypted_user_password_pdf(), b"Confidential"));

    let locked = encrypted_user_password_pdf();
    // Without the password the text stays out of reach (lopdf either refuses the file
    // or leaves it encrypted).
    if let Ok(doc) = Document::load_mem(&locked) {
        assert!(doc.is_encrypted(), "user password file must stay encrypted");
    }
    assert!(Document::load_mem_with_options(&locked, LoadOptions::with_password("wrong")).is_err());
    for password in [USER_PASSWORD, OWNER_PASSWORD] {
        let doc = Document::load_mem_with_options(&locked, LoadOptions::with_password(password))
            .expect("password opens it");
        assert!(find(&page_content(&doc, 1), SECRET_LINES[0].as_bytes()));
    }

    let doc = Document::load_mem(&encrypted_empty_user_pdf()).expect("opens");
    assert!(find(&page_content(&doc, 1), SECRET_LINES[0].as_bytes()));
}

#[test]
fn broken_fixtures_are_broken_as_described() {
    let good = simple_pdf();
    let broken = broken_xref_pdf();
    assert_eq!(good.len(), broken.len());
    assert!(good != broken);
    let truncated = truncated_pdf();
    assert!(truncated.len() < good.len());
    assert!(!find(&truncated, b"endstream\nendobj\nxref") && !find(&truncated, b"%%EOF"));
    let junk = not_a_pdf();
    assert!(!find(&junk, b"%PDF"));
    assert!(Document::load_mem(&junk).is_err());
}

#[test]
fn flate_bomb_is_small_and_inflates_past_the_cap() {
    let bytes = flate_bomb_pdf();
    assert!(
        bytes.len() < 600 * 1024,
        "bomb is {} bytes on disk",
        bytes.len()
    );
    let doc = load(&bytes);
    let page = doc.get_pages()[&1];
    let contents = doc
        .get_dictionary(page)
        .unwrap()
        .get(b"Contents")
        .unwrap()
        .as_array()
        .unwrap()
        .clone();
    let bomb = doc
        .get_object(contents[1].as_reference().unwrap())
        .unwrap()
        .as_stream()
        .unwrap();
    // Inflate it all with an independent decoder: a valid zlib stream of the stated size.
    let mut decoder = flate2::read::ZlibDecoder::new(&bomb.content[..]);
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    let mut first = Vec::new();
    loop {
        let n = decoder.read(&mut buf).expect("valid deflate and adler32");
        if n == 0 {
            break;
        }
        if first.is_empty() {
            first = buf[..8.min(n)].to_vec();
        }
        total += n as u64;
    }
    assert_eq!(total, BOMB_DECOMPRESSED);
    assert!(total > 256 * 1024 * 1024);
    assert_eq!(first, b"q Q\nq Q\n");
}

#[test]
fn nested_forms_refer_to_themselves() {
    let doc = load(&nested_forms_pdf());
    let page = doc.get_pages()[&1];
    let res = doc.get_dictionary(page).unwrap().get(b"Resources").unwrap();
    let xobjects = res
        .as_dict()
        .unwrap()
        .get(b"XObject")
        .unwrap()
        .as_dict()
        .unwrap();
    let fm1 = xobjects.get(b"Fm1").unwrap().as_reference().unwrap();
    let form = doc.get_object(fm1).unwrap().as_stream().unwrap();
    let inner = form
        .dict
        .get(b"Resources")
        .and_then(Object::as_dict)
        .and_then(|r| r.get(b"XObject"))
        .and_then(Object::as_dict)
        .and_then(|x| x.get(b"Fm1"))
        .and_then(Object::as_reference)
        .unwrap();
    assert_eq!(inner, fm1, "the form names itself");
    assert!(find(&form.content, b"/Fm1 Do"));
}

#[test]
fn structural_variants_read_back_with_lopdf() {
    let modern = object_streams_pdf();
    assert!(find(&modern, b"/ObjStm") && !find(&modern, b"\nxref\n"));
    let revised = incremental_update_pdf();
    assert_eq!(revised.windows(9).filter(|w| w == b"startxref").count(), 2);
    for (bytes, page2) in [
        (modern, SIMPLE_PAGES[1]),
        (revised, UPDATED_PAGE_2),
        (page_tree_pdf(), SIMPLE_PAGES[1]),
    ] {
        let doc = load(&bytes);
        assert_eq!(doc.get_pages().len(), 3);
        assert_eq!(doc.extract_text(&[2]).expect("extract").trim(), page2);
    }
    // The cyclic tree still opens; its inner node lists the root as a kid.
    let cycle = load(&page_tree_cycle_pdf());
    let root = cycle
        .catalog()
        .unwrap()
        .get(b"Pages")
        .unwrap()
        .as_reference()
        .unwrap();
    let kids = cycle
        .get_dictionary(root)
        .unwrap()
        .get(b"Kids")
        .unwrap()
        .as_array()
        .unwrap();
    let node = kids[1].as_reference().unwrap();
    let inner = cycle
        .get_dictionary(node)
        .unwrap()
        .get(b"Kids")
        .unwrap()
        .as_array()
        .unwrap();
    assert_eq!(inner[1].as_reference().unwrap(), root);
    let tree = load(&page_tree_pdf());
    let page = tree.get_dictionary(tree.get_pages()[&3]).unwrap();
    assert!(page.get(b"Resources").is_err(), "resources are inherited");
}

#[test]
fn large_fixture_has_all_pages() {
    let doc = load(&large_pdf(2000));
    assert_eq!(doc.get_pages().len(), 2000);
    let text = doc.extract_text(&[1234]).expect("extract");
    assert_eq!(text.trim(), large_page_line(1234, 2000));
}

fn find(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Not a check: writes every fixture into `$DOCKET_FIXTURE_DIR` for a look with other
/// tools (`cargo test -p docket --test integration write_fixtures -- --ignored`).
#[test]
#[ignore = "writes files for manual inspection"]
fn write_fixtures() {
    let dir = std::env::var_os("DOCKET_FIXTURE_DIR").expect("set DOCKET_FIXTURE_DIR");
    let dir = std::path::Path::new(&dir);
    std::fs::create_dir_all(dir).unwrap();
    for (name, bytes) in all_fixtures() {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}
