//! A PDF generator for the tests, built on lopdf: pages of positioned text lines in a
//! choice of font set-ups that real producers emit, plus hostile and broken files.
//!
//! The text each fixture carries is fixed in constants here, so tests can assert it
//! exactly. Every builder output is deterministic (fixed `/ID`, fixed dates, objects
//! numbered in build order), so the same call writes the same bytes; the one exception
//! is the RC4 R3 file, whose `/U` entry lopdf pads with random bytes.
//!
//! Fixtures ([`all_fixtures`] lists them by file name; the ignored test
//! `write_fixtures` writes them all into `$DOCKET_FIXTURE_DIR` for a look with other
//! tools):
//!
//! - text: [`simple_pdf`], [`fonts_pdf`] (one page per [`FontKind`] plus `TJ` kerning),
//!   [`layout_pdf`] (two columns, hyphenation, an image-only page),
//!   [`interleaved_columns_pdf`], [`uneven_columns_pdf`], [`positioned_words_pdf`],
//!   [`ocr_layer_pdf`], [`inline_image_pdf`], [`large_pdf`];
//! - structure: [`object_streams_pdf`], [`incremental_update_pdf`], [`page_tree_pdf`];
//! - encryption: [`encrypted_empty_user_pdf`] (RC4 40-bit, empty user password),
//!   [`encrypted_user_password_pdf`] (RC4 128-bit, [`USER_PASSWORD`]);
//! - broken or hostile: [`broken_xref_pdf`], [`truncated_pdf`], [`not_a_pdf`],
//!   [`flate_bomb_pdf`], [`nested_forms_pdf`], [`deep_content_nesting_pdf`],
//!   [`corrupt_stream_pdf`].
//!
//! ```text
//! let bytes = PdfBuilder::new()
//!     .title("Fixture")
//!     .page(Page::new().line(FontKind::Helvetica, 12.0, 72.0, 720.0, "Café"))
//!     .page(Page::new().image(72.0, 72.0, 468.0, 648.0))
//!     .build();
//! ```
//!
//! The sample archive's employee handbook (`pipelines/examples/archive/handbook/
//! employee-handbook.pdf`) is written by [`sample_handbook`]. The test
//! `sample_handbook_pdf_is_current` compares the committed file with a fresh build; after
//! changing the generator or the handbook text, rewrite the file with
//! `DOCKET_UPDATE_FIXTURES=1 cargo test -p docket --test integration sample_handbook`.

use std::fmt::Write as _;

use lopdf::xref::XrefType;
use lopdf::{Dictionary, Document, EncryptionState, EncryptionVersion, Object, ObjectId};
use lopdf::{Permissions, Stream, StringFormat, dictionary};

/// US Letter, in points.
pub const PAGE_WIDTH: f32 = 612.0;
pub const PAGE_HEIGHT: f32 = 792.0;

/// The font set-ups a page can use. Each is a different path from bytes to Unicode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FontKind {
    /// Standard 14 Helvetica, `/WinAnsiEncoding`, no `/Widths`, nothing embedded.
    Helvetica,
    /// Standard 14 Helvetica-Bold, `/WinAnsiEncoding` (used for headings).
    HelveticaBold,
    /// Standard 14 Times-Roman with an `/Encoding` dictionary: base WinAnsi plus
    /// `/Differences [1 /fi /fl /quoteright /uni0416 /uni0436 36 /sterling]`. So `ﬁ`, `ﬂ`,
    /// `’`, `Ж`, `ж` are codes 1 to 5 and the byte `$` shows a pound sign `£`. No
    /// ToUnicode: the glyph names are the only way to the text.
    TimesDifferences,
    /// A simple (non-embedded) TrueType font whose codes are shifted like a subset font:
    /// code = char − 0x1D for printable ASCII (so the byte for `A` is `$`), `é ü ’` at
    /// 0x62..0x64 and `ﬂ` at 0x65, mapped only by a ToUnicode CMap that uses `bfrange`
    /// (both the offset and the array form) and one `bfchar` to the two letters `fl`.
    TrueTypeToUnicode,
    /// A Type0 composite font, `/Identity-H`, 2-byte codes, a CIDFontType2 descendant
    /// with `/W` widths (both forms) and a ToUnicode CMap (`bfrange` for the Cyrillic
    /// block, `bfchar` for the rest). Handles Latin letters, digits, Cyrillic and `Ёё`.
    Type0Identity,
}

impl FontKind {
    const ALL: [FontKind; 5] = [
        FontKind::Helvetica,
        FontKind::HelveticaBold,
        FontKind::TimesDifferences,
        FontKind::TrueTypeToUnicode,
        FontKind::Type0Identity,
    ];

    /// Resource name in the page's `/Font` dictionary.
    pub fn resource_name(self) -> &'static str {
        match self {
            FontKind::Helvetica => "F1",
            FontKind::HelveticaBold => "F2",
            FontKind::TimesDifferences => "F3",
            FontKind::TrueTypeToUnicode => "F4",
            FontKind::Type0Identity => "F5",
        }
    }

    /// The bytes that show `text` in this font. Panics on a character the font cannot
    /// show: a fixture with unshowable text is a bug in the test.
    pub fn encode(self, text: &str) -> Vec<u8> {
        let mut out = Vec::new();
        for c in text.chars() {
            match self {
                FontKind::Helvetica | FontKind::HelveticaBold => out.push(win_ansi(c)),
                FontKind::TimesDifferences => out.push(match c {
                    '\u{FB01}' => 1,
                    '\u{FB02}' => 2,
                    '\u{2019}' => 3,
                    'Ж' => 4,
                    'ж' => 5,
                    '£' => b'$',
                    '$' => panic!("TimesDifferences shows £ at the code of $"),
                    c => win_ansi(c),
                }),
                FontKind::TrueTypeToUnicode => out.push(match c {
                    ' '..='~' => c as u8 - 0x1D,
                    'é' => 0x62,
                    'ü' => 0x63,
                    '\u{2019}' => 0x64,
                    '\u{FB02}' => 0x65,
                    c => panic!("TrueTypeToUnicode cannot show {c:?}"),
                }),
                FontKind::Type0Identity => {
                    let cid = type0_cid(c);
                    out.extend_from_slice(&cid.to_be_bytes());
                }
            }
        }
        out
    }

    /// Whether strings in this font are written as hex strings (`<...>`) in content.
    fn hex_strings(self) -> bool {
        self == FontKind::Type0Identity
    }
}

/// WinAnsiEncoding (PDF 32000 Annex D) for the characters fixtures use.
fn win_ansi(c: char) -> u8 {
    match c {
        ' '..='~' => c as u8,
        '\u{A0}'..='\u{FF}' => c as u32 as u8,
        '€' => 0x80,
        '‚' => 0x82,
        '„' => 0x84,
        '…' => 0x85,
        '‘' => 0x91,
        '’' => 0x92,
        '“' => 0x93,
        '”' => 0x94,
        '•' => 0x95,
        '–' => 0x96,
        '—' => 0x97,
        '™' => 0x99,
        'Œ' => 0x8C,
        'œ' => 0x9C,
        'Š' => 0x8A,
        'š' => 0x9A,
        'Ÿ' => 0x9F,
        c => panic!("WinAnsiEncoding has no {c:?}"),
    }
}

/// Punctuation and digits of the Type0 font, at CIDs 0x0300 + index.
const TYPE0_BASIC: &str = " ,.:-0123456789!?()«»";

/// The CID (and 2-byte code, Identity-H) of a character in the Type0 font.
fn type0_cid(c: char) -> u16 {
    if let Some(i) = TYPE0_BASIC.chars().position(|b| b == c) {
        return 0x0300 + i as u16;
    }
    match c {
        'А'..='я' => 0x0310 + (c as u32 - 0x0410) as u16,
        'Ё' => 0x0350,
        'ё' => 0x0351,
        'A'..='Z' => 0x0400 + (c as u32 - 'A' as u32) as u16,
        'a'..='z' => 0x0420 + (c as u32 - 'a' as u32) as u16,
        c => panic!("Type0Identity cannot show {c:?}"),
    }
}

/// One piece of a `TJ` array: a string, or a kern in thousandths of the font size
/// (positive moves the next glyph left, as in PDF).
#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    Text(String),
    Kern(i32),
}

/// Shorthand for a [`Piece::Text`].
pub fn t(s: &str) -> Piece {
    Piece::Text(s.to_string())
}

/// Shorthand for a [`Piece::Kern`].
pub fn k(n: i32) -> Piece {
    Piece::Kern(n)
}

/// Something drawn on a page.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// A line of text at (`x`, `y`), shown with `Tj` (one piece) or `TJ` (several).
    Text {
        font: FontKind,
        size: f32,
        x: f32,
        y: f32,
        pieces: Vec<Piece>,
    },
    /// A grey image XObject scaled to the rectangle: a scanned page has only this.
    Image { x: f32, y: f32, w: f32, h: f32 },
    /// An inline image (`BI ... ID ... EI`) whose raw bytes hold `EI`, `)`, `BT` and
    /// other lookalikes of operators (see [`inline_image`]).
    InlineImage { x: f32, y: f32, w: f32, h: f32 },
}

/// One page: items in content-stream order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    pub items: Vec<Item>,
}

impl Page {
    pub fn new() -> Self {
        Self::default()
    }

    /// A text line shown with a single `Tj`.
    pub fn line(mut self, font: FontKind, size: f32, x: f32, y: f32, text: &str) -> Self {
        self.items.push(Item::Text {
            font,
            size,
            x,
            y,
            pieces: vec![t(text)],
        });
        self
    }

    /// A text line shown with one `TJ` array.
    pub fn tj(mut self, font: FontKind, size: f32, x: f32, y: f32, pieces: Vec<Piece>) -> Self {
        self.items.push(Item::Text {
            font,
            size,
            x,
            y,
            pieces,
        });
        self
    }

    /// Lines from (`x`, `top`) downwards, `leading` points apart. Returns the page and
    /// the baseline below the last line.
    pub fn lines(
        mut self,
        font: FontKind,
        size: f32,
        x: f32,
        top: f32,
        leading: f32,
        lines: &[&str],
    ) -> Self {
        for (i, l) in lines.iter().enumerate() {
            self = self.line(font, size, x, top - leading * i as f32, l);
        }
        self
    }

    /// An image covering the rectangle (no text).
    pub fn image(mut self, x: f32, y: f32, w: f32, h: f32) -> Self {
        self.items.push(Item::Image { x, y, w, h });
        self
    }

    /// An inline image covering the rectangle (no text).
    pub fn inline_image(mut self, x: f32, y: f32, w: f32, h: f32) -> Self {
        self.items.push(Item::InlineImage { x, y, w, h });
        self
    }
}

/// Standard security handler set-ups (RC4, written by lopdf's own encryption).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Encryption {
    /// Revision 2, 40-bit RC4 (`/V 1 /R 2`).
    Rc4R2 { user: String, owner: String },
    /// Revision 3, 128-bit RC4 (`/V 2 /R 3 /Length 128`).
    Rc4R3 { user: String, owner: String },
}

/// Builds a PDF from pages. See the module documentation.
#[derive(Debug, Clone, Default)]
pub struct PdfBuilder {
    pages: Vec<Page>,
    title: Option<String>,
    compress: bool,
    encryption: Option<Encryption>,
}

/// What [`PdfBuilder::build_document`] leaves for callers that add objects (forms).
#[derive(Debug)]
pub struct Built {
    pub doc: Document,
    pub page_ids: Vec<ObjectId>,
    pub font_ids: Vec<(FontKind, ObjectId)>,
}

impl PdfBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// `/Title` in the document information dictionary.
    pub fn title(mut self, title: &str) -> Self {
        self.title = Some(title.to_string());
        self
    }

    /// Flate-compress content streams (off by default, so the files are readable and do
    /// not depend on the deflate implementation's exact output).
    pub fn compress(mut self, on: bool) -> Self {
        self.compress = on;
        self
    }

    pub fn encrypt(mut self, e: Encryption) -> Self {
        self.encryption = Some(e);
        self
    }

    pub fn page(mut self, page: Page) -> Self {
        self.pages.push(page);
        self
    }

    pub fn pages(mut self, pages: impl IntoIterator<Item = Page>) -> Self {
        self.pages.extend(pages);
        self
    }

    /// The PDF's bytes.
    pub fn build(self) -> Vec<u8> {
        let encryption = self.encryption.clone();
        let mut built = self.build_document();
        if let Some(e) = encryption {
            encrypt(&mut built.doc, &e);
        }
        save(&mut built.doc)
    }

    /// The lopdf document, before saving: fonts, pages, info and a fixed `/ID`.
    /// Encryption is applied by [`PdfBuilder::build`] only.
    pub fn build_document(self) -> Built {
        let mut doc = Document::with_version("1.7");
        doc.reference_table.cross_reference_type = XrefType::CrossReferenceTable;
        let pages_id = doc.new_object_id();

        let font_ids: Vec<(FontKind, ObjectId)> = FontKind::ALL
            .iter()
            .map(|&f| (f, add_font(&mut doc, f)))
            .collect();
        let mut fonts = Dictionary::new();
        for (f, id) in &font_ids {
            fonts.set(f.resource_name(), Object::Reference(*id));
        }

        let mut image_id = None;
        let mut kids = Vec::new();
        let mut page_ids = Vec::new();
        for page in &self.pages {
            let mut xobjects = Dictionary::new();
            let mut content = Vec::new();
            for item in &page.items {
                let mut ops = String::new();
                match item {
                    Item::Text {
                        font,
                        size,
                        x,
                        y,
                        pieces,
                    } => write_text(&mut ops, *font, *size, *x, *y, pieces),
                    Item::Image { x, y, w, h } => {
                        let id = *image_id.get_or_insert_with(|| add_image(&mut doc));
                        xobjects.set("Im1", Object::Reference(id));
                        let _ = writeln!(ops, "q {} 0 0 {} {} {} cm /Im1 Do Q", w, h, x, y);
                    }
                    Item::InlineImage { x, y, w, h } => {
                        let _ = writeln!(ops, "q {} 0 0 {} {} {} cm", w, h, x, y);
                        content.extend_from_slice(ops.as_bytes());
                        content.extend_from_slice(&inline_image());
                        ops = "Q\n".to_string();
                    }
                }
                content.extend_from_slice(ops.as_bytes());
            }
            let mut stream = Stream::new(Dictionary::new(), content);
            if self.compress {
                stream.compress().expect("compress content");
            }
            let content_id = doc.add_object(stream);
            let mut resources = dictionary! { "Font" => fonts.clone() };
            if !xobjects.is_empty() {
                resources.set("XObject", xobjects);
            }
            let page_id = doc.add_object(dictionary! {
                "Type" => "Page",
                "Parent" => pages_id,
                "MediaBox" => vec![0.into(), 0.into(), PAGE_WIDTH.into(), PAGE_HEIGHT.into()],
                "Resources" => resources,
                "Contents" => content_id,
            });
            kids.push(Object::Reference(page_id));
            page_ids.push(page_id);
        }
        let count = kids.len() as i64;
        doc.objects.insert(
            pages_id,
            Object::Dictionary(dictionary! {
                "Type" => "Pages",
                "Kids" => kids,
                "Count" => count,
            }),
        );
        let catalog_id = doc.add_object(dictionary! {
            "Type" => "Catalog",
            "Pages" => pages_id,
        });
        let mut info = dictionary! {
            "Producer" => Object::string_literal("docket test fixtures"),
            "CreationDate" => Object::string_literal("D:20260105090000Z"),
            "ModDate" => Object::string_literal("D:20260105090000Z"),
        };
        if let Some(title) = &self.title {
            info.set(
                "Title",
                Object::String(pdf_text_string(title), StringFormat::Literal),
            );
        }
        let info_id = doc.add_object(info);
        doc.trailer.set("Root", catalog_id);
        doc.trailer.set("Info", info_id);
        let file_id = Object::String(b"docket-fixture-id".to_vec(), StringFormat::Hexadecimal);
        doc.trailer.set("ID", vec![file_id.clone(), file_id]);
        Built {
            doc,
            page_ids,
            font_ids,
        }
    }
}

/// Save with a classic cross-reference table.
pub fn save(doc: &mut Document) -> Vec<u8> {
    let mut out = Vec::new();
    doc.save_to(&mut out).expect("write PDF");
    out
}

fn encrypt(doc: &mut Document, e: &Encryption) {
    let permissions = Permissions::PRINTABLE | Permissions::COPYABLE;
    let version = match e {
        Encryption::Rc4R2 { user, owner } => EncryptionVersion::V1 {
            document: doc,
            owner_password: owner,
            user_password: user,
            permissions,
        },
        Encryption::Rc4R3 { user, owner } => EncryptionVersion::V2 {
            document: doc,
            owner_password: owner,
            user_password: user,
            key_length: 128,
            permissions,
        },
    };
    let state = EncryptionState::try_from(version).expect("encryption state");
    doc.encrypt(&state).expect("encrypt");
}

/// A PDF text string: PDFDocEncoding for Latin-1 text, else UTF-16BE with a BOM.
fn pdf_text_string(s: &str) -> Vec<u8> {
    if s.chars()
        .all(|c| (c as u32) < 0x80 || ('\u{A0}'..='\u{FF}').contains(&c))
    {
        s.chars().map(|c| c as u32 as u8).collect()
    } else {
        let mut out = vec![0xFE, 0xFF];
        for u in s.encode_utf16() {
            out.extend_from_slice(&u.to_be_bytes());
        }
        out
    }
}

fn write_text(out: &mut String, font: FontKind, size: f32, x: f32, y: f32, pieces: &[Piece]) {
    let _ = write!(
        out,
        "BT /{} {} Tf {} {} Td ",
        font.resource_name(),
        size,
        x,
        y
    );
    if let [Piece::Text(s)] = pieces {
        write_string(out, font, s);
        out.push_str(" Tj ET\n");
        return;
    }
    out.push('[');
    for (i, p) in pieces.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        match p {
            Piece::Text(s) => write_string(out, font, s),
            Piece::Kern(n) => {
                let _ = write!(out, "{n}");
            }
        }
    }
    out.push_str("] TJ ET\n");
}

/// Content streams are built as `String` for readability; bytes above 0x7F are written
/// as escapes, so the content is pure ASCII.
fn write_string(out: &mut String, font: FontKind, s: &str) {
    let bytes = font.encode(s);
    if font.hex_strings() {
        out.push('<');
        for b in bytes {
            let _ = write!(out, "{b:02X}");
        }
        out.push('>');
    } else {
        out.push('(');
        for b in bytes {
            match b {
                b'(' | b')' | b'\\' => {
                    out.push('\\');
                    out.push(b as char);
                }
                0x20..=0x7E => out.push(b as char),
                _ => {
                    let _ = write!(out, "\\{b:03o}");
                }
            }
        }
        out.push(')');
    }
}

fn add_font(doc: &mut Document, font: FontKind) -> ObjectId {
    match font {
        FontKind::Helvetica | FontKind::HelveticaBold => {
            let base = if font == FontKind::Helvetica {
                "Helvetica"
            } else {
                "Helvetica-Bold"
            };
            doc.add_object(dictionary! {
                "Type" => "Font",
                "Subtype" => "Type1",
                "BaseFont" => base,
                "Encoding" => "WinAnsiEncoding",
            })
        }
        FontKind::TimesDifferences => {
            let differences: Vec<Object> = vec![
                1.into(),
                "fi".into(),
                "fl".into(),
                "quoteright".into(),
                "uni0416".into(),
                "uni0436".into(),
                36.into(),
                "sterling".into(),
            ];
            let widths: Vec<Object> = (1..=255)
                .map(|c: i64| if c == 32 { 250 } else { 500 }.into())
                .collect();
            doc.add_object(dictionary! {
                "Type" => "Font",
                "Subtype" => "Type1",
                "BaseFont" => "Times-Roman",
                "FirstChar" => 1,
                "LastChar" => 255,
                "Widths" => widths,
                "Encoding" => dictionary! {
                    "Type" => "Encoding",
                    "BaseEncoding" => "WinAnsiEncoding",
                    "Differences" => differences,
                },
            })
        }
        FontKind::TrueTypeToUnicode => {
            let descriptor = add_descriptor(doc, "DocketSans");
            let cmap = "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n\
                /CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n\
                /CMapName /Docket-Sans-UCS def\n/CMapType 2 def\n\
                1 begincodespacerange\n<00> <FF>\nendcodespacerange\n\
                2 beginbfrange\n<03> <61> <0020>\n<62> <64> [<00E9> <00FC> <2019>]\nendbfrange\n\
                1 beginbfchar\n<65> <0066006C>\nendbfchar\n\
                endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n";
            let to_unicode = doc.add_object(Stream::new(Dictionary::new(), cmap.into()));
            let widths: Vec<Object> = (3..=0x65)
                .map(|c: i64| if c == 3 { 280 } else { 560 }.into())
                .collect();
            doc.add_object(dictionary! {
                "Type" => "Font",
                "Subtype" => "TrueType",
                "BaseFont" => "DocketSans",
                "FirstChar" => 3,
                "LastChar" => 0x65,
                "Widths" => widths,
                "FontDescriptor" => descriptor,
                "ToUnicode" => to_unicode,
            })
        }
        FontKind::Type0Identity => {
            let descriptor = add_descriptor(doc, "DocketSerif");
            let mut cmap = String::from(
                "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n\
                 /CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n\
                 /CMapName /Docket-Serif-UCS def\n/CMapType 2 def\n\
                 1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n\
                 3 beginbfrange\n<0310> <034F> <0410>\n<0400> <0419> <0041>\n\
                 <0420> <0439> <0061>\nendbfrange\n",
            );
            let basic: Vec<char> = TYPE0_BASIC.chars().collect();
            let _ = writeln!(cmap, "{} beginbfchar", basic.len() + 2);
            for (i, c) in basic.iter().enumerate() {
                let _ = writeln!(cmap, "<{:04X}> <{:04X}>", 0x0300 + i, *c as u32);
            }
            cmap.push_str("<0350> <0401>\n<0351> <0451>\nendbfchar\n");
            cmap.push_str("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n");
            let to_unicode = doc.add_object(Stream::new(Dictionary::new(), cmap.into_bytes()));
            // /W in both forms: `c [w1 w2 ...]` and `cfirst clast w`.
            let basic_widths: Vec<Object> = basic
                .iter()
                .map(|&c| if c == ' ' { 250 } else { 500 }.into())
                .collect();
            let w: Vec<Object> = vec![
                0x0300.into(),
                basic_widths.into(),
                0x0310.into(),
                0x034F.into(),
                620.into(),
                0x0350.into(),
                vec![620.into(), 540.into()].into(),
                0x0400.into(),
                0x0439.into(),
                560.into(),
            ];
            let cid_font = doc.add_object(dictionary! {
                "Type" => "Font",
                "Subtype" => "CIDFontType2",
                "BaseFont" => "DocketSerif",
                "CIDSystemInfo" => dictionary! {
                    "Registry" => Object::string_literal("Adobe"),
                    "Ordering" => Object::string_literal("Identity"),
                    "Supplement" => 0,
                },
                "FontDescriptor" => descriptor,
                "DW" => 1000,
                "W" => w,
                "CIDToGIDMap" => "Identity",
            });
            doc.add_object(dictionary! {
                "Type" => "Font",
                "Subtype" => "Type0",
                "BaseFont" => "DocketSerif",
                "Encoding" => "Identity-H",
                "DescendantFonts" => vec![Object::Reference(cid_font)],
                "ToUnicode" => to_unicode,
            })
        }
    }
}

fn add_descriptor(doc: &mut Document, name: &str) -> ObjectId {
    doc.add_object(dictionary! {
        "Type" => "FontDescriptor",
        "FontName" => name,
        "Flags" => 32,
        "FontBBox" => vec![(-200).into(), (-250).into(), 1100.into(), 950.into()],
        "ItalicAngle" => 0,
        "Ascent" => 900,
        "Descent" => -250,
        "CapHeight" => 700,
        "StemV" => 80,
    })
}

/// An 8×8 8-bit grey inline image, unfiltered. Its 64 data bytes are binary and contain
/// `EI` (not between white space, as the spec allows), parentheses, `%`, `BT (x) Tj`
/// and a NUL: a reader must skip exactly `/W × /H` bytes, not scan for operators.
pub fn inline_image() -> Vec<u8> {
    let mut data: Vec<u8> = b"xEIx)(%BT (fake) Tj ET\\".to_vec();
    let fill = 64 - data.len();
    data.extend((0..fill).map(|i| (i * 37 + 131) as u8));
    data[40] = 0;
    assert_eq!(data.len(), 64);
    let mut out = b"BI /W 8 /H 8 /CS /G /BPC 8 ID ".to_vec();
    out.extend_from_slice(&data);
    out.extend_from_slice(b"\nEI\n");
    out
}

/// A 64×64 8-bit grey image: diagonal stripes, like a faint scan.
fn add_image(doc: &mut Document) -> ObjectId {
    let mut pixels = Vec::with_capacity(64 * 64);
    for y in 0..64u32 {
        for x in 0..64u32 {
            pixels.push(if (x + y) % 8 < 2 { 60 } else { 235 });
        }
    }
    doc.add_object(Stream::new(
        dictionary! {
            "Type" => "XObject",
            "Subtype" => "Image",
            "Width" => 64,
            "Height" => 64,
            "ColorSpace" => "DeviceGray",
            "BitsPerComponent" => 8,
        },
        pixels,
    ))
}

// ---------------------------------------------------------------------------------------
// Fixtures with known text.
// ---------------------------------------------------------------------------------------

/// Page 1 of [`fonts_pdf`], Helvetica with WinAnsiEncoding (Latin-1 accents and the
/// WinAnsi-only `€ – ’ “ ”`).
pub const WINANSI_LINES: [&str; 3] = [
    "Café crème, façade, naïve Zoë, señor Müller",
    "Ærø Øresund Ångström ß ¿Qué? ½ × 3 ÷ 2 = 0,75",
    "Price: 49,90 € – “quoted” and it’s fine",
];
/// Page 2 of [`fonts_pdf`], Times-Roman with `/Differences`. As shown: ligature glyphs
/// (`ﬁ`, `ﬂ`), `/quoteright`, `/uni0416` and `/uni0436`, and `£` at the code of `$`.
pub const DIFFERENCES_SHOWN: [&str; 2] = [
    "The \u{FB01}eld of\u{FB01}ce’s \u{FB02}oor plan",
    "Model Ж-7 and ж-2 cost £12",
];
/// What the extractor must give for [`DIFFERENCES_SHOWN`] (ligatures spelled out).
pub const DIFFERENCES_LINES: [&str; 2] = [
    "The field office’s floor plan",
    "Model Ж-7 and ж-2 cost £12",
];
/// Page 3 of [`fonts_pdf`], the TrueType font mapped only by ToUnicode.
pub const TRUETYPE_SHOWN: [&str; 2] = [
    "Subset fonts (ToUnicode): 100% mapped!",
    "Café Zürich’s \u{FB02}ag",
];
pub const TRUETYPE_LINES: [&str; 2] = [
    "Subset fonts (ToUnicode): 100% mapped!",
    "Café Zürich’s flag",
];
/// Page 4 of [`fonts_pdf`], the Type0 Identity-H font: Cyrillic, digits and Latin.
pub const TYPE0_LINES: [&str; 3] = [
    "Склад в Новосибирске открыт с 9:00 до 18:00.",
    "Ёлка, ёж и съезд: Щука (2026)!",
    "Mixed Latin and Кириллица 42",
];
/// Page 5 of [`fonts_pdf`]: `TJ` arrays. The first line has small kerns inside words
/// (no space must appear) and large negative kerns between words with no space
/// character (a space must appear); the second uses real spaces and kerns.
pub const TJ_LINES: [&str; 2] = ["Kerning keeps words whole", "Tents, stoves and lanterns"];

/// Five pages, one per font set-up, plus the `TJ` page: see the `*_LINES` constants.
pub fn fonts_pdf() -> Vec<u8> {
    let top = 720.0;
    PdfBuilder::new()
        .title("Font fixture")
        .page(Page::new().lines(FontKind::Helvetica, 12.0, 72.0, top, 16.0, &WINANSI_LINES))
        .page(Page::new().lines(
            FontKind::TimesDifferences,
            12.0,
            72.0,
            top,
            16.0,
            &DIFFERENCES_SHOWN,
        ))
        .page(Page::new().lines(
            FontKind::TrueTypeToUnicode,
            12.0,
            72.0,
            top,
            16.0,
            &TRUETYPE_SHOWN,
        ))
        .page(Page::new().lines(FontKind::Type0Identity, 12.0, 72.0, top, 16.0, &TYPE0_LINES))
        .page(
            Page::new()
                .tj(
                    FontKind::Helvetica,
                    12.0,
                    72.0,
                    top,
                    vec![
                        t("Ke"),
                        k(15),
                        t("rning"),
                        k(-280),
                        t("k"),
                        k(-20),
                        t("eeps"),
                        k(-300),
                        t("wo"),
                        k(30),
                        t("rds"),
                        k(-320),
                        t("whole"),
                    ],
                )
                .tj(
                    FontKind::Type0Identity,
                    12.0,
                    72.0,
                    top - 16.0,
                    vec![
                        t("Tents, "),
                        k(40),
                        t("stoves"),
                        k(-10),
                        t(" and "),
                        t("lan"),
                        k(25),
                        t("terns"),
                    ],
                ),
        )
        .build()
}

/// Lines of [`layout_pdf`] page 1, one paragraph per column; the columns share baselines.
pub const LEFT_COLUMN: [&str; 4] = [
    "Left column opens here",
    "and carries on down",
    "the page for four",
    "lines before the gutter.",
];
pub const RIGHT_COLUMN: [&str; 4] = [
    "Right column starts",
    "only after the left",
    "one has ended, which",
    "is the reading order.",
];
/// Page 2 of [`layout_pdf`]: the second line ends in a hyphen that splits `inventory`.
pub const HYPHEN_LINES: [&str; 3] = [
    "Store managers run the quarterly",
    "stock count and reconcile the inven-",
    "tory with the ledger by Friday.",
];
/// Page 4 of [`layout_pdf`] (page 3 is an image only).
pub const AFTER_SCAN_LINE: &str = "This page follows the scanned one.";

/// Four pages: two columns, a hyphenated line end, an image-only page (a scan) and a
/// final text page.
pub fn layout_pdf() -> Vec<u8> {
    let top = 700.0;
    PdfBuilder::new()
        .title("Layout fixture")
        .page(
            Page::new()
                .line(FontKind::HelveticaBold, 16.0, 72.0, 740.0, "Two Columns")
                .lines(FontKind::Helvetica, 11.0, 72.0, top, 14.0, &LEFT_COLUMN)
                .lines(FontKind::Helvetica, 11.0, 324.0, top, 14.0, &RIGHT_COLUMN),
        )
        .page(Page::new().lines(FontKind::Helvetica, 11.0, 72.0, top, 14.0, &HYPHEN_LINES))
        .page(Page::new().image(36.0, 36.0, 540.0, 720.0))
        .page(Page::new().line(FontKind::Helvetica, 11.0, 72.0, top, AFTER_SCAN_LINE))
        .build()
}

/// The two columns of [`layout_pdf`] page 1, but drawn row by row (left line 1, right
/// line 1, left line 2, ...), as some producers write them: the content order is not
/// the reading order, only the geometry tells.
pub fn interleaved_columns_pdf() -> Vec<u8> {
    let top = 700.0;
    let mut page = Page::new().line(FontKind::HelveticaBold, 16.0, 72.0, 740.0, "Two Columns");
    for (i, (l, r)) in LEFT_COLUMN.iter().zip(RIGHT_COLUMN).enumerate() {
        let y = top - 14.0 * i as f32;
        page = page.line(FontKind::Helvetica, 11.0, 72.0, y, l).line(
            FontKind::Helvetica,
            11.0,
            324.0,
            y,
            r,
        );
    }
    PdfBuilder::new()
        .title("Interleaved columns")
        .page(page)
        .build()
}

/// [`uneven_columns_pdf`]: a full-width title, then two columns whose headings share a
/// baseline and whose paragraph gaps line up; the left column runs longer.
pub const UNEVEN_TITLE: &str = "Fenwick Floor Notes";
pub const UNEVEN_LEFT: [&[&str]; 4] = [
    &["Receiving"],
    &[
        "Trucks unload at doors 1 to 4 before",
        "eight. Count every pallet against the",
        "packing list before signing.",
    ],
    &[
        "Damaged cartons go to the red cage",
        "with a photo in the claims folder the",
        "same day, never back on the shelf.",
    ],
    &["Fuel canisters go straight to the", "flammables cage."],
];
pub const UNEVEN_RIGHT: [&[&str]; 3] = [
    &["Shipping"],
    &[
        "Parcels leave at 16:30. Orders picked",
        "after 15:00 wait for the next day",
        "unless they are marked overnight.",
    ],
    &[
        "Label printers jam when the roll is",
        "loaded upside down; check the arrow",
        "before you call maintenance.",
    ],
];

/// The words of [`uneven_columns_pdf`] in reading order.
pub fn uneven_columns_text() -> String {
    let mut words = vec![UNEVEN_TITLE.to_string()];
    for block in UNEVEN_LEFT.iter().chain(UNEVEN_RIGHT.iter()) {
        words.extend(block.iter().map(|l| l.to_string()));
    }
    words.join(" ")
}

/// One page of two uneven columns (see [`UNEVEN_LEFT`], [`UNEVEN_RIGHT`]): the white
/// space between paragraphs crosses both columns at the same height, which tempts a
/// layout analysis into cutting the page into horizontal bands.
pub fn uneven_columns_pdf() -> Vec<u8> {
    fn column(mut page: Page, x: f32, blocks: &[&[&str]]) -> Page {
        let mut y = 700.0;
        for (i, block) in blocks.iter().enumerate() {
            let (font, size) = if i == 0 {
                (FontKind::HelveticaBold, 13.0)
            } else {
                (FontKind::Helvetica, 10.0)
            };
            for line in *block {
                page = page.line(font, size, x, y, line);
                y -= if i == 0 { 20.0 } else { 13.0 };
            }
            y -= 8.0;
        }
        page
    }
    let page = Page::new().line(FontKind::HelveticaBold, 16.0, 72.0, 740.0, UNEVEN_TITLE);
    let page = column(page, 72.0, &UNEVEN_LEFT);
    let page = column(page, 324.0, &UNEVEN_RIGHT);
    PdfBuilder::new().title("Uneven columns").page(page).build()
}

/// Page 1 of [`inline_image_pdf`]: the text after the inline image.
pub const AFTER_INLINE_IMAGE: &str = "Text after the inline image survives.";

/// Two pages: an inline image followed by text, then a page with only an inline image.
pub fn inline_image_pdf() -> Vec<u8> {
    PdfBuilder::new()
        .title("Inline images")
        .page(Page::new().inline_image(72.0, 600.0, 100.0, 100.0).line(
            FontKind::Helvetica,
            12.0,
            72.0,
            560.0,
            AFTER_INLINE_IMAGE,
        ))
        .page(Page::new().inline_image(36.0, 36.0, 540.0, 720.0))
        .build()
}

/// Text of the encrypted fixtures.
pub const SECRET_LINES: [&str; 2] = [
    "Confidential: Q3 supplier rebates",
    "Alpine Gear Co. pays 4.5% on orders over 20,000 USD.",
];
pub const OWNER_PASSWORD: &str = "owner-only-7731";
pub const USER_PASSWORD: &str = "trailhead-2026";

fn secret_page() -> Page {
    Page::new().lines(FontKind::Helvetica, 12.0, 72.0, 720.0, 16.0, &SECRET_LINES)
}

/// RC4 40-bit (R2), empty user password, owner password set: opens without a password.
pub fn encrypted_empty_user_pdf() -> Vec<u8> {
    PdfBuilder::new()
        .title("Rebates")
        .page(secret_page())
        .encrypt(Encryption::Rc4R2 {
            user: String::new(),
            owner: OWNER_PASSWORD.to_string(),
        })
        .build()
}

/// RC4 128-bit (R3) with user password [`USER_PASSWORD`]: needs `--pdf-password`.
pub fn encrypted_user_password_pdf() -> Vec<u8> {
    PdfBuilder::new()
        .title("Rebates")
        .page(secret_page())
        .compress(true)
        .encrypt(Encryption::Rc4R3 {
            user: USER_PASSWORD.to_string(),
            owner: OWNER_PASSWORD.to_string(),
        })
        .build()
}

/// Pages of the simple multi-page fixture: `Page N: <word>`.
pub const SIMPLE_PAGES: [&str; 3] = ["Page 1: granite", "Page 2: basalt", "Page 3: quartz"];

/// Three pages, one Helvetica line each ([`SIMPLE_PAGES`]).
pub fn simple_pdf() -> Vec<u8> {
    PdfBuilder::new()
        .title("Simple fixture")
        .pages(
            SIMPLE_PAGES
                .iter()
                .map(|l| Page::new().line(FontKind::Helvetica, 12.0, 72.0, 720.0, l)),
        )
        .build()
}

/// The line on page `n` (1-based) of [`large_pdf`].
pub fn large_page_line(n: usize, total: usize) -> String {
    format!("Page {n} of {total}: aisle {}", n % 37)
}

/// `pages` pages of one line each (see [`large_page_line`]), compressed.
pub fn large_pdf(pages: usize) -> Vec<u8> {
    PdfBuilder::new()
        .title("Large fixture")
        .compress(true)
        .pages((1..=pages).map(|n| {
            Page::new().line(
                FontKind::Helvetica,
                12.0,
                72.0,
                720.0,
                &large_page_line(n, pages),
            )
        }))
        .build()
}

// ---------------------------------------------------------------------------------------
// Hostile and broken files.
// ---------------------------------------------------------------------------------------

/// [`simple_pdf`] with every in-use offset of the cross-reference table shifted by 13
/// bytes (`startxref` itself is right). Readers must rebuild the table by scanning.
pub fn broken_xref_pdf() -> Vec<u8> {
    let bytes = simple_pdf();
    let start = find(&bytes, b"\nxref\n").expect("xref table") + 1;
    let end = find(&bytes[start..], b"trailer").expect("trailer") + start;
    let table = std::str::from_utf8(&bytes[start..end]).expect("ascii xref");
    let mut fixed = String::new();
    for line in table.split_inclusive('\n') {
        let parts: Vec<&str> = line.split_whitespace().collect();
        if let [off, _, "n"] = parts[..] {
            // Entries are fixed width: 10-digit offset, space, 5-digit generation, ...
            let off: u64 = off.parse().expect("offset");
            let _ = write!(fixed, "{:010}{}", off + 13, &line[10..]);
        } else {
            fixed.push_str(line);
        }
    }
    assert_eq!(fixed.len(), table.len(), "xref rewrite keeps the length");
    let mut out = bytes[..start].to_vec();
    out.extend_from_slice(fixed.as_bytes());
    out.extend_from_slice(&bytes[end..]);
    out
}

/// [`simple_pdf`] cut in the middle of the last page's content stream: no `endstream`,
/// no cross-reference table, no trailer.
pub fn truncated_pdf() -> Vec<u8> {
    let bytes = simple_pdf();
    let last = SIMPLE_PAGES[2].as_bytes();
    let at = find(&bytes, last).expect("last page text") + last.len() / 2;
    bytes[..at].to_vec()
}

/// 4 KiB of pseudo-random bytes (fixed seed): not a PDF at all.
pub fn not_a_pdf() -> Vec<u8> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..4096)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// Decompressed size of the Flate bomb's content stream: 320 MiB, over the default cap
/// of 256 MiB (`Limits::max_decompressed_bytes`).
pub const BOMB_DECOMPRESSED: u64 = 320 * 1024 * 1024;
/// The text drawn before the bomb's stream, in a separate content stream.
pub const BOMB_PAGE_LINE: &str = "Harmless text before the bomb";

/// A one-page PDF whose second content stream inflates to [`BOMB_DECOMPRESSED`] bytes of
/// `q Q` operators while taking about 320 KiB on disk. The stream is built from one
/// deflate block sequence (full flush, so each repeat stands alone) repeated 320 times.
pub fn flate_bomb_pdf() -> Vec<u8> {
    let z = repeated_ops_zlib(BOMB_DECOMPRESSED);
    let mut built = PdfBuilder::new()
        .title("Bomb")
        .page(Page::new().line(FontKind::Helvetica, 12.0, 72.0, 720.0, BOMB_PAGE_LINE))
        .build_document();
    let bomb = built
        .doc
        .add_object(Stream::new(dictionary! { "Filter" => "FlateDecode" }, z));
    let page = built.page_ids[0];
    let page_dict = built
        .doc
        .get_object_mut(page)
        .and_then(Object::as_dict_mut)
        .expect("page");
    let first = page_dict.get(b"Contents").expect("contents").clone();
    page_dict.set("Contents", vec![first, Object::Reference(bomb)]);
    save(&mut built.doc)
}

/// A zlib stream of `total` bytes (a multiple of 1 MiB) of `q Q` operators, built from
/// one full-flushed deflate segment of 1 MiB repeated, so it costs ~1 KiB per MiB.
pub fn repeated_ops_zlib(total: u64) -> Vec<u8> {
    use flate2::{Compress, Compression, FlushCompress};
    const CHUNK: usize = 1024 * 1024;
    assert_eq!(total % CHUNK as u64, 0);
    let repeats = (total / CHUNK as u64) as usize;
    let plain: Vec<u8> = b"q Q\n".iter().copied().cycle().take(CHUNK).collect();

    // One full-flushed raw deflate segment of the chunk.
    let mut c = Compress::new(Compression::best(), false);
    let mut segment = Vec::with_capacity(CHUNK / 64);
    c.compress_vec(&plain, &mut segment, FlushCompress::Full)
        .expect("deflate");
    assert_eq!(c.total_in() as usize, CHUNK, "whole chunk consumed");

    let mut z = vec![0x78, 0xDA];
    for _ in 0..repeats {
        z.extend_from_slice(&segment);
    }
    z.extend_from_slice(&[0x03, 0x00]); // final empty fixed-Huffman block
    let chunk_adler = adler32(&plain);
    let mut adler = chunk_adler;
    for _ in 1..repeats {
        adler = adler32_combine(adler, chunk_adler, CHUNK as u64);
    }
    z.extend_from_slice(&adler.to_be_bytes());
    z
}

/// Pages and per-page operator bytes of [`slow_pdf`].
pub const SLOW_PAGES: usize = 40;
pub const SLOW_PAGE_BYTES: u64 = 192 * 1024 * 1024;

/// [`SLOW_PAGES`] pages that all draw the same content stream of [`SLOW_PAGE_BYTES`]
/// bytes of `q Q` (under the decompression cap): ~7.5 GiB of operators to get through,
/// from a file of ~200 KiB. Legal, just slow: only the parse time limit stops it.
pub fn slow_pdf() -> Vec<u8> {
    let mut built = PdfBuilder::new()
        .title("Slow")
        .pages((0..SLOW_PAGES).map(|_| Page::new()))
        .build_document();
    let ops = built.doc.add_object(Stream::new(
        dictionary! { "Filter" => "FlateDecode" },
        repeated_ops_zlib(SLOW_PAGE_BYTES),
    ));
    for id in &built.page_ids {
        let page = built
            .doc
            .get_object_mut(*id)
            .and_then(Object::as_dict_mut)
            .expect("page");
        page.set("Contents", ops);
    }
    save(&mut built.doc)
}

fn adler32(data: &[u8]) -> u32 {
    const MOD: u32 = 65521;
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in data.chunks(5552) {
        for &x in chunk {
            a += x as u32;
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    (b << 16) | a
}

/// Adler-32 of A‖B from the checksums of A and B and the length of B (as zlib does).
fn adler32_combine(adler1: u32, adler2: u32, len2: u64) -> u32 {
    const MOD: u64 = 65521;
    let rem = len2 % MOD;
    let a1 = (adler1 & 0xFFFF) as u64;
    let b1 = (adler1 >> 16) as u64;
    let a2 = (adler2 & 0xFFFF) as u64;
    let b2 = (adler2 >> 16) as u64;
    let a = (a1 + a2 + MOD - 1) % MOD;
    let b = (b1 + b2 + rem * a1 % MOD + MOD - rem) % MOD;
    ((b << 16) | a) as u32
}

/// Text outside and inside the self-referencing form of [`nested_forms_pdf`].
pub const NESTED_BEFORE: &str = "Before the form";
pub const NESTED_AFTER: &str = "After the form";
pub const NESTED_INSIDE: &str = "Inside the form";

/// One page that draws form `/Fm1`, whose resources name itself as `/Fm1` and whose
/// content draws `/Fm1` again: infinite recursion for a naive extractor. A second pair of
/// forms (`/Fa` → `/Fb` → `/Fa`) loops through two objects.
pub fn nested_forms_pdf() -> Vec<u8> {
    let mut built = PdfBuilder::new()
        .title("Nested forms")
        .page(Page::new())
        .build_document();
    let doc = &mut built.doc;
    let helvetica = built
        .font_ids
        .iter()
        .find(|(f, _)| *f == FontKind::Helvetica)
        .expect("font")
        .1;
    let fm1 = doc.new_object_id();
    let fa = doc.new_object_id();
    let fb = doc.new_object_id();
    let form = |content: String, name: &str, target: ObjectId| {
        Object::Stream(Stream::new(
            dictionary! {
                "Type" => "XObject",
                "Subtype" => "Form",
                "BBox" => vec![0.into(), 0.into(), PAGE_WIDTH.into(), PAGE_HEIGHT.into()],
                "Resources" => dictionary! {
                    "Font" => dictionary! { "F1" => helvetica },
                    "XObject" => Dictionary::from_iter(vec![(name.to_string(), Object::Reference(target))]),
                },
            },
            content.into_bytes(),
        ))
    };
    let inside = format!("BT /F1 10 Tf 72 600 Td ({NESTED_INSIDE}) Tj ET\n");
    doc.objects
        .insert(fm1, form(format!("{inside}/Fm1 Do\n"), "Fm1", fm1));
    doc.objects.insert(fa, form("/Fb Do\n".into(), "Fb", fb));
    doc.objects.insert(fb, form("/Fa Do\n".into(), "Fa", fa));

    let content = format!(
        "BT /F1 12 Tf 72 720 Td ({NESTED_BEFORE}) Tj ET\n/Fm1 Do\n/Fa Do\n\
         BT /F1 12 Tf 72 500 Td ({NESTED_AFTER}) Tj ET\n"
    );
    let content_id = doc.add_object(Stream::new(Dictionary::new(), content.into_bytes()));
    let page = doc
        .get_object_mut(built.page_ids[0])
        .and_then(Object::as_dict_mut)
        .expect("page");
    page.set("Contents", content_id);
    let resources = page
        .get_mut(b"Resources")
        .and_then(Object::as_dict_mut)
        .expect("resources");
    resources.set("XObject", dictionary! { "Fm1" => fm1, "Fa" => fa });
    save(doc)
}

/// Lines of [`positioned_words_pdf`]: line 1 is drawn one word per `Tj`, line 2 one
/// letter per `Tj`, each at the position the font's `/Widths` give; no space characters.
pub const POSITIONED_LINES: [&str; 2] = [
    "every word placed on its own",
    "letters set one by one still make words",
];

/// One page in the `/Widths`-carrying Times font (500 per glyph, 250 for the space):
/// see [`POSITIONED_LINES`]. Spaces exist only as gaps, letters only as abutting glyphs.
pub fn positioned_words_pdf() -> Vec<u8> {
    let size = 12.0;
    let advance = |c: char| if c == ' ' { 250.0 } else { 500.0 } * size / 1000.0;
    let mut page = Page::new();
    let mut x = 72.0;
    for word in POSITIONED_LINES[0].split(' ') {
        page = page.line(FontKind::TimesDifferences, size, x, 700.0, word);
        x += word.chars().map(advance).sum::<f32>() + advance(' ');
    }
    let mut x = 72.0;
    for c in POSITIONED_LINES[1].chars() {
        if c != ' ' {
            page = page.line(FontKind::TimesDifferences, size, x, 680.0, &c.to_string());
        }
        x += advance(c);
    }
    PdfBuilder::new()
        .title("Positioned words")
        .page(page)
        .build()
}

/// The invisible OCR text of [`ocr_layer_pdf`].
pub const OCR_LINES: [&str; 2] = ["Signed delivery note 4471", "Received in good condition"];

/// A scanned page with an OCR text layer: a full-page image and, over it, the text in
/// rendering mode 3 (invisible), as OCR tools write it. The text layer is real.
pub fn ocr_layer_pdf() -> Vec<u8> {
    let mut page = Page::new().image(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT);
    for (i, l) in OCR_LINES.iter().enumerate() {
        page = page.tj(
            FontKind::Helvetica,
            11.0,
            90.0,
            690.0 - 15.0 * i as f32,
            vec![t(l)],
        );
    }
    let mut built = PdfBuilder::new()
        .title("OCR layer")
        .page(page)
        .build_document();
    // Make every text object invisible (`3 Tr` right after `BT`).
    let page_id = built.page_ids[0];
    let content_id = built
        .doc
        .get_dictionary(page_id)
        .and_then(|p| p.get(b"Contents"))
        .and_then(Object::as_reference)
        .expect("contents");
    let stream = built
        .doc
        .get_object_mut(content_id)
        .and_then(Object::as_stream_mut)
        .expect("stream");
    let text = String::from_utf8(stream.content.clone()).expect("ascii content");
    stream.set_content(text.replace("BT ", "BT 3 Tr ").into_bytes());
    save(&mut built.doc)
}

/// Text drawn before and after the hostile parts of [`deep_content_nesting_pdf`] and
/// [`corrupt_stream_pdf`].
pub const HOSTILE_BEFORE: &str = "Text before the trap";
pub const HOSTILE_AFTER: &str = "Text after the trap";

/// Nesting depth of the arrays and dictionaries in [`deep_content_nesting_pdf`].
pub const CONTENT_NESTING: usize = 200_000;

/// One page whose content stream holds an operand array nested [`CONTENT_NESTING`] deep
/// and a dictionary nested as deep (as marked-content properties), between two text
/// lines. A recursive content parser overflows its stack (which aborts the process,
/// past any panic guard); a careful one bounds the depth.
pub fn deep_content_nesting_pdf() -> Vec<u8> {
    let mut content = format!("BT /F1 12 Tf 72 720 Td ({HOSTILE_BEFORE}) Tj ET\n").into_bytes();
    content.extend(std::iter::repeat_n(b'[', CONTENT_NESTING));
    content.extend(std::iter::repeat_n(b']', CONTENT_NESTING));
    content.extend_from_slice(b" 0 d\n/Span ");
    content.extend(std::iter::repeat_n(&b"<</A "[..], CONTENT_NESTING).flatten());
    content.extend_from_slice(b"1");
    content.extend(std::iter::repeat_n(&b">>"[..], CONTENT_NESTING).flatten());
    content.extend_from_slice(b" BDC EMC\n");
    content
        .extend_from_slice(format!("BT /F1 12 Tf 72 700 Td ({HOSTILE_AFTER}) Tj ET\n").as_bytes());
    with_raw_content("Deep nesting", vec![content], None)
}

/// Two pages: page 1 is fine; page 2's content stream claims `/FlateDecode` but holds
/// bytes that are not zlib data.
pub fn corrupt_stream_pdf() -> Vec<u8> {
    let page1 = format!("BT /F1 12 Tf 72 720 Td ({HOSTILE_BEFORE}) Tj ET\n").into_bytes();
    let mut garbage = b"\x78\x9c".to_vec();
    garbage.extend(not_a_pdf().into_iter().take(600));
    with_raw_content("Corrupt stream", vec![page1, garbage], Some(1))
}

/// A PDF whose pages have exactly these content streams; the stream at index
/// `flate_index` (if any) is marked `/FlateDecode` as it is.
fn with_raw_content(title: &str, contents: Vec<Vec<u8>>, flate_index: Option<usize>) -> Vec<u8> {
    let mut built = PdfBuilder::new()
        .title(title)
        .pages(contents.iter().map(|_| Page::new()))
        .build_document();
    for (i, content) in contents.into_iter().enumerate() {
        let mut dict = Dictionary::new();
        if flate_index == Some(i) {
            dict.set("Filter", "FlateDecode");
        }
        let page = built.page_ids[i];
        let stream = built
            .doc
            .get_dictionary(page)
            .and_then(|p| p.get(b"Contents"))
            .and_then(Object::as_reference)
            .expect("contents");
        built
            .doc
            .objects
            .insert(stream, Object::Stream(Stream::new(dict, content)));
    }
    save(&mut built.doc)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// [`simple_pdf`]'s pages, written the PDF 1.5 way: objects packed in object streams and
/// a cross-reference stream instead of a table.
pub fn object_streams_pdf() -> Vec<u8> {
    let mut built = PdfBuilder::new()
        .title("Simple fixture")
        .pages(
            SIMPLE_PAGES
                .iter()
                .map(|l| Page::new().line(FontKind::Helvetica, 12.0, 72.0, 720.0, l)),
        )
        .build_document();
    let mut out = Vec::new();
    built.doc.save_modern(&mut out).expect("write PDF");
    out
}

/// Page 2's text after the incremental update of [`incremental_update_pdf`].
pub const UPDATED_PAGE_2: &str = "Page 2: obsidian (revised)";

/// [`simple_pdf`] plus an appended revision (a new cross-reference section with `/Prev`)
/// that replaces page 2's content stream. Readers must use the newest revision.
pub fn incremental_update_pdf() -> Vec<u8> {
    let built = PdfBuilder::new()
        .title("Simple fixture")
        .pages(
            SIMPLE_PAGES
                .iter()
                .map(|l| Page::new().line(FontKind::Helvetica, 12.0, 72.0, 720.0, l)),
        )
        .build_document();
    let page2 = built.doc.get_dictionary(built.page_ids[1]).expect("page 2");
    let (content_num, _) = page2
        .get(b"Contents")
        .and_then(Object::as_reference)
        .expect("page 2 contents");
    let mut doc = built.doc;
    let mut bytes = save(&mut doc);
    let prev = {
        let at = find_last(&bytes, b"startxref").expect("startxref");
        let tail = std::str::from_utf8(&bytes[at + 9..]).expect("ascii tail");
        tail.split_whitespace().next().expect("offset").to_string()
    };
    let content = format!("BT /F1 12 Tf 72 720 Td ({UPDATED_PAGE_2}) Tj ET\n");
    let offset = bytes.len();
    let object = format!(
        "{content_num} 0 obj\n<</Length {}>>stream\n{content}endstream\nendobj\n",
        content.len()
    );
    bytes.extend_from_slice(object.as_bytes());
    let xref = bytes.len();
    let size = doc.max_id + 1;
    let root = doc
        .trailer
        .get(b"Root")
        .and_then(Object::as_reference)
        .unwrap();
    let info = doc
        .trailer
        .get(b"Info")
        .and_then(Object::as_reference)
        .unwrap();
    let update = format!(
        "xref\n{content_num} 1\n{offset:010} 00000 n \ntrailer\n<</Size {size}/Root {} 0 R\
         /Info {} 0 R/Prev {prev}>>\nstartxref\n{xref}\n%%EOF\n",
        root.0, info.0
    );
    bytes.extend_from_slice(update.as_bytes());
    bytes
}

/// [`SIMPLE_PAGES`] in a nested page tree (root → [page 1, node → [page 2, page 3]])
/// whose pages carry no `/Resources` or `/MediaBox`: both are inherited from the root.
pub fn page_tree_pdf() -> Vec<u8> {
    page_tree(false)
}

/// [`page_tree_pdf`] with a cycle: the inner node's kids are page 2 and the root itself
/// (page 3 is left out of the tree). Readers must visit pages 1 and 2 once each.
pub fn page_tree_cycle_pdf() -> Vec<u8> {
    page_tree(true)
}

fn page_tree(cycle: bool) -> Vec<u8> {
    let built = PdfBuilder::new()
        .title("Page tree")
        .pages(
            SIMPLE_PAGES
                .iter()
                .map(|l| Page::new().line(FontKind::Helvetica, 12.0, 72.0, 720.0, l)),
        )
        .build_document();
    let mut doc = built.doc;
    let ids = built.page_ids;
    let root = doc
        .get_dictionary(ids[0])
        .and_then(|p| p.get(b"Parent"))
        .and_then(Object::as_reference)
        .expect("parent");
    let mut resources = None;
    for id in &ids {
        let page = doc
            .get_object_mut(*id)
            .and_then(Object::as_dict_mut)
            .unwrap();
        resources = page.remove(b"Resources");
        page.remove(b"MediaBox");
    }
    let node = doc.new_object_id();
    for id in &ids[1..] {
        let page = doc
            .get_object_mut(*id)
            .and_then(Object::as_dict_mut)
            .unwrap();
        page.set("Parent", node);
    }
    doc.objects.insert(
        node,
        Object::Dictionary(dictionary! {
            "Type" => "Pages",
            "Parent" => root,
            "Kids" => vec![
                Object::Reference(ids[1]),
                Object::Reference(if cycle { root } else { ids[2] }),
            ],
            "Count" => 2,
        }),
    );
    let root_dict = doc
        .get_object_mut(root)
        .and_then(Object::as_dict_mut)
        .unwrap();
    root_dict.set(
        "Kids",
        vec![Object::Reference(ids[0]), Object::Reference(node)],
    );
    root_dict.set("Resources", resources.expect("resources"));
    root_dict.set(
        "MediaBox",
        vec![0.into(), 0.into(), PAGE_WIDTH.into(), PAGE_HEIGHT.into()],
    );
    save(&mut doc)
}

fn find_last(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

/// Every fixture by file name (the large one with 2,000 pages).
pub fn all_fixtures() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("fonts.pdf", fonts_pdf()),
        ("layout.pdf", layout_pdf()),
        ("inline-image.pdf", inline_image_pdf()),
        ("interleaved-columns.pdf", interleaved_columns_pdf()),
        ("uneven-columns.pdf", uneven_columns_pdf()),
        ("deep-content-nesting.pdf", deep_content_nesting_pdf()),
        ("corrupt-stream.pdf", corrupt_stream_pdf()),
        ("positioned-words.pdf", positioned_words_pdf()),
        ("ocr-layer.pdf", ocr_layer_pdf()),
        ("object-streams.pdf", object_streams_pdf()),
        ("incremental-update.pdf", incremental_update_pdf()),
        ("page-tree.pdf", page_tree_pdf()),
        ("page-tree-cycle.pdf", page_tree_cycle_pdf()),
        ("simple.pdf", simple_pdf()),
        ("encrypted-empty-user.pdf", encrypted_empty_user_pdf()),
        ("encrypted-user-password.pdf", encrypted_user_password_pdf()),
        ("broken-xref.pdf", broken_xref_pdf()),
        ("truncated.pdf", truncated_pdf()),
        ("not-a-pdf.pdf", not_a_pdf()),
        ("flate-bomb.pdf", flate_bomb_pdf()),
        ("slow.pdf", slow_pdf()),
        ("nested-forms.pdf", nested_forms_pdf()),
        ("large.pdf", large_pdf(2000)),
        ("handbook.pdf", sample_handbook()),
    ]
}

// ---------------------------------------------------------------------------------------
// The sample archive's employee handbook.
// ---------------------------------------------------------------------------------------

/// A block of handbook text: a heading, or a paragraph wrapped to the column.
#[derive(Debug, Clone, Copy)]
pub enum Block<'a> {
    Heading(&'a str),
    Para(&'a str),
}

/// Greedy word wrap to at most `width` characters a line.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// Lay out blocks in a column from (`x`, `top`) down; `width` in characters.
pub fn flow(mut page: Page, x: f32, top: f32, width: usize, blocks: &[Block<'_>]) -> Page {
    let mut y = top;
    for block in blocks {
        match block {
            Block::Heading(h) => {
                y -= 6.0;
                page = page.line(FontKind::HelveticaBold, 13.0, x, y, h);
                y -= 20.0;
            }
            Block::Para(p) => {
                for l in wrap(p, width) {
                    page = page.line(FontKind::Helvetica, 10.0, x, y, &l);
                    y -= 13.0;
                }
                y -= 7.0;
            }
        }
    }
    page
}

/// The handbook's pages, in order: (blocks of a full-width page) or two columns.
pub enum HandbookPage<'a> {
    Full(&'a [Block<'a>]),
    Columns(&'a str, &'a [Block<'a>], &'a [Block<'a>]),
}

use Block::{Heading as H, Para as P};

/// The employee handbook of the sample archive's fictional company. Page 3 has two
/// columns. Tests find facts in it (vacation days, the discount, payday).
pub const HANDBOOK: &[HandbookPage<'static>] = &[
    HandbookPage::Full(&[
        H("Cobble Ridge Outfitters Employee Handbook"),
        P(
            "Edition 2026.2, effective 1 September 2026. This handbook applies to every \
           employee of Cobble Ridge Outfitters, Inc., at the Hollis Bay head office, the \
           Fenwick distribution center and all fourteen stores. Where a policy in the \
           policy library is more specific, the policy wins; this handbook summarises.",
        ),
        H("Welcome to the Ridge"),
        P(
            "We started in 1998 as a single climbing shop on Quarry Street. Today we sell \
           tents, packs, footwear, paddling and winter gear in fourteen stores and online. \
           What has not changed: we sell gear we would use ourselves, and we tell \
           customers the truth about it, even when the truth is that they do not need to \
           buy anything.",
        ),
        P("Questions about this handbook go to People Operations at \
           people@cobbleridge.example or extension 2210."),
    ]),
    HandbookPage::Full(&[
        H("Working Hours and Pay"),
        P(
            "The standard work week is 40 hours. Hourly employees are paid 1.5 times their \
           rate for every hour over 40 in a week and for work on any of the six holidays \
           on which stores open (see Time Off).",
        ),
        P(
            "Payday is the 15th and the last business day of each month. When the 15th \
           falls on a weekend, pay arrives on the Friday before. Pay statements are in \
           the Trailhead HR portal.",
        ),
        P(
            "Breaks: an unpaid meal break of 30 minutes for any shift longer than 5 hours, \
           and a paid 10-minute rest break for every 4 hours worked. Store managers plan \
           breaks so that no one works more than 5 hours without one.",
        ),
        H("Schedules"),
        P(
            "Store schedules are posted at least 14 days ahead. Shift swaps are approved by \
           the shift lead in the scheduling app; a swap must not push anyone into \
           overtime without the store manager's approval.",
        ),
    ]),
    HandbookPage::Columns(
        "Time Off",
        &[
            H("Vacation"),
            P(
                "Full-time employees earn 15 vacation days a year during their first three \
               years and 20 days a year from the start of their fourth year. Part-time \
               employees earn vacation in proportion to their scheduled hours.",
            ),
            P(
                "Up to 5 unused vacation days carry over into the next calendar year; \
               the rest lapse on 31 December. Requests for more than five consecutive \
               days need four weeks' notice.",
            ),
            P(
                "Stores do not approve vacation from 20 November to 2 January except for \
               emergencies.",
            ),
        ],
        &[
            H("Sick Leave and Holidays"),
            P(
                "Every employee has 8 paid sick days a year. No doctor's note is needed \
               for absences of up to three days in a row.",
            ),
            P(
                "The company observes 10 paid holidays. Stores open on six of them; store \
               staff who work a holiday are paid 1.5 times their rate and get a floating \
               day off.",
            ),
            P(
                "Parental leave: 16 weeks at full pay for any new parent with at least \
               one year of service.",
            ),
        ],
    ),
    HandbookPage::Full(&[
        H("Employee Discount and Gear"),
        P(
            "Employees get 40% off full-price items and 20% off sale items, up to 2,000 USD \
           of purchases a calendar year. The discount is for the employee and one \
           household member; it cannot be used to buy for resale.",
        ),
        P(
            "The gear library at the Hollis Bay office lends tents, stoves and avalanche \
           beacons to employees free of charge for up to 7 days. Book through the \
           library sheet on the intranet and return gear clean and dry.",
        ),
        P(
            "Vendor pro deals are posted monthly by the buying team. Pro-deal purchases \
           count toward the 2,000 USD yearly limit.",
        ),
    ]),
    HandbookPage::Full(&[
        H("Conduct, Safety and Reporting"),
        P(
            "Treat customers and colleagues with respect. Harassment, discrimination and \
           retaliation are not tolerated and lead to discipline up to dismissal.",
        ),
        P(
            "Report any workplace injury to your manager within 24 hours, even a minor \
           one. Warehouse staff wear safety boots on the floor at all times; the company \
           reimburses one pair a year up to 150 USD.",
        ),
        P(
            "Concerns you do not want to raise with your manager can go to the ethics line \
           at 1-800-555-0142, answered by an outside firm, anonymously if you wish.",
        ),
        P(
            "Security incidents, such as a lost laptop or a suspicious email, are reported \
           at once as described in the Security Incident Response policy.",
        ),
    ]),
];

/// The handbook PDF of the sample archive (deterministic; no compression).
pub fn sample_handbook() -> Vec<u8> {
    let top = 730.0;
    let pages = HANDBOOK.iter().map(|p| match p {
        HandbookPage::Full(blocks) => flow(Page::new(), 72.0, top, 88, blocks),
        HandbookPage::Columns(title, left, right) => {
            let page = Page::new().line(FontKind::HelveticaBold, 16.0, 72.0, top, title);
            let page = flow(page, 72.0, top - 30.0, 40, left);
            flow(page, 324.0, top - 30.0, 40, right)
        }
    });
    PdfBuilder::new()
        .title("Cobble Ridge Outfitters Employee Handbook")
        .pages(pages)
        .build()
}

/// Path of the committed handbook, relative to the workspace root.
pub const HANDBOOK_PATH: &str = "pipelines/examples/archive/handbook/employee-handbook.pdf";
