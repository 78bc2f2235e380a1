//! The content stream interpreter: runs the text and graphics-state operators of a page
//! (and of the form XObjects it draws) and records every glyph with its position on the
//! page, its advance and its size. Layout ([`super::layout`]) turns them into lines.

use std::collections::HashMap;
use std::rc::Rc;

use lopdf::{Dictionary, Document, Object, ObjectId};

use super::font::Font;
use super::lexer::{Lexer, Token};
use super::objects::{Reader, deref, dict_get, dict_of, name_of};
use crate::error::DocError;
use crate::normalize::push_normalized_char;

/// Deepest `q` nesting tracked; deeper saves are ignored (their `Q` pops nothing).
const MAX_GSTATE_STACK: usize = 256;
/// Operators (and character codes shown) between two deadline checks.
const DEADLINE_EVERY: u32 = 1024;

/// An affine matrix `[a b c d e f]` in PDF's row-vector convention.
pub type Matrix = [f32; 6];

pub const IDENTITY: Matrix = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0];

/// `m1 × m2`: first apply `m1`, then `m2`.
pub fn mul(m1: &Matrix, m2: &Matrix) -> Matrix {
    [
        m1[0] * m2[0] + m1[1] * m2[2],
        m1[0] * m2[1] + m1[1] * m2[3],
        m1[2] * m2[0] + m1[3] * m2[2],
        m1[2] * m2[1] + m1[3] * m2[3],
        m1[4] * m2[0] + m1[5] * m2[2] + m2[4],
        m1[4] * m2[1] + m1[5] * m2[3] + m2[5],
    ]
}

/// One visible character on the page, in a frame where its line runs left to right and
/// `y` grows downwards (so rotated text is laid out like horizontal text).
#[derive(Debug, Clone, Copy)]
pub struct Glyph {
    /// Position of the glyph origin along the line.
    pub x: f32,
    /// Baseline position, growing downwards.
    pub y: f32,
    /// Advance along the line.
    pub adv: f32,
    /// Font size on the page.
    pub size: f32,
    /// Writing direction in quarter turns counter-clockwise (0 = normal).
    pub dir: u8,
    /// The glyph's text is white space (an explicit space in the string).
    pub space: bool,
    /// Byte range of the glyph's text in [`PageContent::text`].
    pub start: u32,
    pub end: u32,
    /// Why a reader cannot see it ([`Glyph::INVISIBLE`], [`Glyph::WHITE`],
    /// [`Glyph::TINY`]), 0 for a visible glyph.
    pub hidden: u8,
}

impl Glyph {
    /// Drawn in text render mode 3 or 7: neither filled nor stroked. Also how OCR
    /// tools lay their text under a page image, so a page with images keeps it.
    pub const INVISIBLE: u8 = 1;
    /// Filled in white (gray 1, RGB 1 1 1, CMYK 0 0 0 0) and not stroked.
    pub const WHITE: u8 = 2;
    /// Under [`TINY_SIZE`] points high on the page.
    pub const TINY: u8 = 4;
}

/// Text smaller than this many points is not meant to be read (0.1 pt text is a
/// common way to hide words from readers but not from text extraction).
pub const TINY_SIZE: f32 = 1.0;

/// What one page shows.
#[derive(Debug, Default)]
pub struct PageContent {
    pub glyphs: Vec<Glyph>,
    pub text: String,
    /// Character codes shown, mapped to text or not.
    pub codes_shown: usize,
    /// Character codes shown that the font maps to text.
    pub codes_mapped: usize,
    /// Images drawn (XObject or inline).
    pub images: usize,
    /// Form XObjects not followed because they nested deeper than the limit.
    pub too_deep: bool,
    /// Content streams of the page that could not be decoded (corrupt data); their text
    /// is missing, which the user must be told.
    pub unreadable_streams: usize,
}

impl PageContent {
    /// Take the glyphs a reader cannot see out of the page and return their text:
    /// invisible (render mode 3 or 7) glyphs only on a page without images (with one,
    /// they are the OCR text layer over a scan), white and tiny glyphs always.
    pub fn take_hidden(&mut self) -> String {
        let keep_invisible = self.images > 0;
        let is_hidden = |g: &Glyph| {
            let why = if keep_invisible {
                g.hidden & !Glyph::INVISIBLE
            } else {
                g.hidden
            };
            why != 0
        };
        let mut hidden = String::new();
        let mut prev: Option<&Glyph> = None;
        for g in self.glyphs.iter().filter(|g| is_hidden(g)) {
            // Runs on other lines or apart on one line are other words.
            if prev.is_some_and(|p| (g.y - p.y).abs() > 1.0 || g.x > p.x + p.adv + 1.0) {
                hidden.push(' ');
            }
            hidden.push_str(&self.text[g.start as usize..g.end as usize]);
            prev = Some(g);
        }
        self.glyphs.retain(|g| !is_hidden(g));
        hidden
    }
}

#[derive(Clone)]
struct GState {
    ctm: Matrix,
    font: Option<Rc<Font>>,
    size: f32,
    char_spacing: f32,
    word_spacing: f32,
    h_scale: f32,
    leading: f32,
    rise: f32,
    /// Text render mode (`Tr`).
    render_mode: u8,
    /// The fill colour is white.
    fill_white: bool,
}

impl GState {
    fn new(ctm: Matrix) -> Self {
        GState {
            ctm,
            font: None,
            size: 0.0,
            char_spacing: 0.0,
            word_spacing: 0.0,
            h_scale: 1.0,
            leading: 0.0,
            rise: 0.0,
            render_mode: 0,
            fill_white: false,
        }
    }
}

/// Fonts shared by all pages of a document, keyed by the address of their dictionary
/// (stable, as the document is not modified while it is read).
pub type FontCache = HashMap<usize, Rc<Font>>;

/// Runs content streams and collects glyphs.
pub struct Interpreter<'a, 'c> {
    doc: &'a Document,
    rd: &'a Reader<'c>,
    fonts: &'a mut FontCache,
    out: PageContent,
    ops: u32,
    /// Form XObjects being drawn, to stop self-reference.
    form_stack: Vec<ObjectId>,
    scratch: String,
    /// The visible page area `[x0, y0, x1, y1]` in default user space; glyphs wholly
    /// outside it are not text of the page (templates, hidden or clipped-off text).
    page_box: [f32; 4],
}

/// Why a glyph drawn with `gs` at `size` points cannot be seen (see [`Glyph::hidden`]).
fn hidden(gs: &GState, size: f32) -> u8 {
    let mut why = 0;
    if matches!(gs.render_mode, 3 | 7) {
        why |= Glyph::INVISIBLE;
    }
    // Modes 0 and 4 fill only; a stroked outline of white text may still show.
    if gs.fill_white && matches!(gs.render_mode, 0 | 4) {
        why |= Glyph::WHITE;
    }
    if size.abs() < TINY_SIZE {
        why |= Glyph::TINY;
    }
    why
}

fn num(t: &Token<'_>) -> f32 {
    match t {
        Token::Num(n) => *n,
        _ => 0.0,
    }
}

/// The last `N` operands as numbers (missing ones are 0).
fn nums<const N: usize>(operands: &[Token<'_>]) -> [f32; N] {
    let mut out = [0.0; N];
    let skip = operands.len().saturating_sub(N);
    for (slot, t) in out.iter_mut().zip(&operands[skip..]) {
        *slot = num(t);
    }
    out
}

impl<'a, 'c> Interpreter<'a, 'c> {
    pub fn new(
        doc: &'a Document,
        rd: &'a Reader<'c>,
        fonts: &'a mut FontCache,
        page_box: [f32; 4],
    ) -> Self {
        Interpreter {
            page_box,
            doc,
            rd,
            fonts,
            out: PageContent::default(),
            ops: 0,
            form_stack: Vec::new(),
            scratch: String::new(),
        }
    }

    pub fn finish(self) -> PageContent {
        self.out
    }

    /// Run one content stream with the given resources and initial matrix.
    pub fn run(
        &mut self,
        content: &[u8],
        resources: Option<&'a Dictionary>,
        ctm: Matrix,
        depth: u32,
    ) -> Result<(), DocError> {
        let mut gs = GState::new(ctm);
        let mut stack: Vec<GState> = Vec::new();
        let mut tm = IDENTITY;
        let mut tlm = IDENTITY;
        let mut operands: Vec<Token<'_>> = Vec::with_capacity(8);
        let mut lex = Lexer::new(content);
        while let Some(tok) = lex.next_token() {
            let op = match tok {
                Token::Op(op) => op,
                other => {
                    if operands.len() < 64 {
                        operands.push(other);
                    }
                    continue;
                }
            };
            self.ops = self.ops.wrapping_add(1);
            if self.ops.is_multiple_of(DEADLINE_EVERY) {
                self.rd.check()?;
                // One page's text alone must not outgrow the cap on a document's text.
                self.rd.ctx.check_text(self.out.text.len())?;
            }
            match op {
                b"q" if stack.len() < MAX_GSTATE_STACK => stack.push(gs.clone()),
                b"Q" => {
                    if let Some(s) = stack.pop() {
                        gs = s;
                    }
                }
                b"cm" => {
                    let m = nums::<6>(&operands);
                    if m.iter().all(|v| v.is_finite()) {
                        gs.ctm = mul(&m, &gs.ctm);
                    }
                }
                b"BT" => {
                    tm = IDENTITY;
                    tlm = IDENTITY;
                }
                b"Tf" => {
                    let [size] = nums::<1>(&operands);
                    gs.size = size;
                    let name = operands.iter().rev().find_map(|t| match t {
                        Token::Name(n) => Some(*n),
                        _ => None,
                    });
                    gs.font = Some(self.font(resources, name));
                    // Loading a font may have run out of budget or time.
                    self.rd.check()?;
                }
                b"Tc" => gs.char_spacing = nums::<1>(&operands)[0],
                b"Tw" => gs.word_spacing = nums::<1>(&operands)[0],
                b"Tz" => gs.h_scale = nums::<1>(&operands)[0] / 100.0,
                b"TL" => gs.leading = nums::<1>(&operands)[0],
                b"Ts" => gs.rise = nums::<1>(&operands)[0],
                b"Tr" => gs.render_mode = nums::<1>(&operands)[0].clamp(0.0, 7.0) as u8,
                b"g" => gs.fill_white = nums::<1>(&operands)[0] >= 1.0,
                b"rg" => gs.fill_white = nums::<3>(&operands).iter().all(|&v| v >= 1.0),
                b"k" => gs.fill_white = nums::<4>(&operands).iter().all(|&v| v <= 0.0),
                // A colour in another space (sc, scn, cs) is taken as visible.
                b"sc" | b"scn" | b"cs" => gs.fill_white = false,
                b"Td" | b"TD" => {
                    let [tx, ty] = nums::<2>(&operands);
                    if op == b"TD" {
                        gs.leading = -ty;
                    }
                    tlm = mul(&[1.0, 0.0, 0.0, 1.0, tx, ty], &tlm);
                    tm = tlm;
                }
                b"Tm" => {
                    let m = nums::<6>(&operands);
                    if m.iter().all(|v| v.is_finite()) {
                        tlm = m;
                        tm = m;
                    }
                }
                b"T*" => {
                    tlm = mul(&[1.0, 0.0, 0.0, 1.0, 0.0, -gs.leading], &tlm);
                    tm = tlm;
                }
                b"Tj" | b"'" | b"\"" => {
                    if op != b"Tj" {
                        if op == b"\"" && operands.len() >= 3 {
                            gs.word_spacing = num(&operands[operands.len() - 3]);
                            gs.char_spacing = num(&operands[operands.len() - 2]);
                        }
                        tlm = mul(&[1.0, 0.0, 0.0, 1.0, 0.0, -gs.leading], &tlm);
                        tm = tlm;
                    }
                    if let Some(Token::Str(s)) = operands.last() {
                        self.show(&gs, &mut tm, s)?;
                    }
                }
                b"TJ" => {
                    if let Some(Token::Array(items)) = operands.last() {
                        for item in items {
                            match item {
                                Token::Str(s) => self.show(&gs, &mut tm, s)?,
                                Token::Num(n) => {
                                    let tx = -n / 1000.0 * gs.size * gs.h_scale;
                                    tm[4] += tx * tm[0];
                                    tm[5] += tx * tm[1];
                                }
                                _ => {}
                            }
                        }
                    }
                }
                b"Do" => {
                    if let Some(Token::Name(name)) = operands.last() {
                        self.draw_xobject(resources, name, &gs, depth)?;
                    }
                }
                b"ID" => {
                    lex.skip_inline_image();
                    self.out.images += 1;
                }
                _ => {}
            }
            operands.clear();
        }
        Ok(())
    }

    fn font(&mut self, resources: Option<&'a Dictionary>, name: Option<&[u8]>) -> Rc<Font> {
        let dict = name.and_then(|name| {
            let fonts = dict_of(self.doc, resources.and_then(|r| dict_get(r, b"Font")))?;
            dict_of(self.doc, dict_get(fonts, name))
        });
        let Some(dict) = dict else {
            return self
                .fonts
                .entry(0)
                .or_insert_with(|| Rc::new(Font::fallback()))
                .clone();
        };
        let key = dict as *const Dictionary as usize;
        if let Some(f) = self.fonts.get(&key) {
            return f.clone();
        }
        let font = Rc::new(Font::load(self.doc, dict, self.rd));
        self.fonts.insert(key, font.clone());
        font
    }

    /// Show a string. One string may hold millions of codes and a code may map to long
    /// text, so the text cap and the deadline are checked as the codes go by.
    fn show(&mut self, gs: &GState, tm: &mut Matrix, bytes: &[u8]) -> Result<(), DocError> {
        let Some(font) = gs.font.clone() else {
            return Ok(());
        };
        let size = gs.size;
        let h = gs.h_scale;
        let mut scratch = std::mem::take(&mut self.scratch);
        let mut outcome = Ok(());
        let max_text = usize::try_from(self.rd.ctx.limits.max_text_bytes).unwrap_or(usize::MAX);
        font.decode(bytes, &mut scratch, |code| {
            self.out.codes_shown += 1;
            if self.out.codes_shown.is_multiple_of(DEADLINE_EVERY as usize)
                && let Err(e) = self.rd.check()
            {
                outcome = Err(e);
                return false;
            }
            if self.out.text.len() > max_text {
                outcome = self.rd.ctx.check_text(self.out.text.len());
                return false;
            }
            // Text rendering matrix: [size·h 0 0 size 0 rise] × Tm × CTM.
            let m = mul(tm, &gs.ctm);
            let (a, b, c, d) = (m[0] * size * h, m[1] * size * h, m[2] * size, m[3] * size);
            let ox = m[4] + gs.rise * m[2];
            let oy = m[5] + gs.rise * m[3];
            let mut tx = code.width * size + gs.char_spacing;
            if code.is_space_byte {
                tx += gs.word_spacing;
            }
            tx *= h;
            // Vertical writing: the pen moves down one em (plus spacing) instead.
            let ty = if font.vertical {
                let ty = -(size
                    + gs.char_spacing
                    + if code.is_space_byte {
                        gs.word_spacing
                    } else {
                        0.0
                    });
                tx = 0.0;
                ty
            } else {
                0.0
            };
            let [bx0, by0, bx1, by1] = self.page_box;
            let margin = (c * c + d * d).sqrt();
            let on_page = ox >= bx0 - margin
                && ox <= bx1 + margin
                && oy >= by0 - margin
                && oy <= by1 + margin;
            if code.text.is_some() {
                self.out.codes_mapped += 1;
            }
            if let Some(text) = code.text.filter(|_| on_page) {
                let start = self.out.text.len();
                for ch in text.chars() {
                    push_normalized_char(&mut self.out.text, ch);
                }
                let end = self.out.text.len();
                if end > start {
                    let space = self.out.text[start..].chars().all(char::is_whitespace);
                    let (dir, font_size, adv) = if font.vertical {
                        // Lines run down the page: lay them out like text turned
                        // a quarter clockwise, one em per glyph.
                        let em = (c * c + d * d).sqrt();
                        (direction(-c, -d), (a * a + b * b).sqrt(), em)
                    } else {
                        let scale = (a * a + b * b).sqrt() / (size * h).abs().max(1e-6);
                        // The glyph's own width: character and word spacing move the
                        // pen but are white space, which is how some producers
                        // (Ghostscript) set word gaps.
                        (
                            direction(a, b),
                            (c * c + d * d).sqrt() * font.size_scale,
                            code.width * size * h * scale,
                        )
                    };
                    let (x, y) = frame(dir, ox, oy);
                    if x.is_finite() && y.is_finite() && adv.is_finite() && font_size.is_finite() {
                        self.out.glyphs.push(Glyph {
                            x,
                            y,
                            adv,
                            size: font_size,
                            dir,
                            space,
                            start: start as u32,
                            end: end as u32,
                            hidden: hidden(gs, font_size),
                        });
                    } else {
                        self.out.text.truncate(start);
                    }
                }
            }
            tm[4] += tx * tm[0] + ty * tm[2];
            tm[5] += tx * tm[1] + ty * tm[3];
            true
        });
        self.scratch = scratch;
        outcome
    }

    fn draw_xobject(
        &mut self,
        resources: Option<&'a Dictionary>,
        name: &[u8],
        gs: &GState,
        depth: u32,
    ) -> Result<(), DocError> {
        let doc = self.doc;
        let Some(xobjects) = dict_of(doc, resources.and_then(|r| dict_get(r, b"XObject"))) else {
            return Ok(());
        };
        let Some(entry) = dict_get(xobjects, name) else {
            return Ok(());
        };
        let id = match entry {
            Object::Reference(id) => Some(*id),
            _ => None,
        };
        let Some(Object::Stream(stream)) = deref(doc, entry) else {
            return Ok(());
        };
        match name_of(doc, dict_get(&stream.dict, b"Subtype")) {
            Some(b"Image") => self.out.images += 1,
            Some(b"Form") => {
                if depth + 1 > self.rd.ctx.limits.max_depth
                    || id.is_some_and(|id| self.form_stack.contains(&id))
                {
                    self.out.too_deep = true;
                    return Ok(());
                }
                let data = match self.rd.stream_bytes(stream) {
                    Ok(d) => d,
                    Err(DocError::Corrupt(_)) => return Ok(()),
                    Err(e) => return Err(e),
                };
                let matrix = dict_get(&stream.dict, b"Matrix")
                    .and_then(|o| deref(doc, o))
                    .and_then(|o| o.as_array().ok())
                    .and_then(|a| {
                        let v: Vec<f32> = a
                            .iter()
                            .filter_map(|o| super::objects::num_of(doc, Some(o)))
                            .collect();
                        <[f32; 6]>::try_from(v.as_slice()).ok()
                    })
                    .unwrap_or(IDENTITY);
                let form_res = dict_of(doc, dict_get(&stream.dict, b"Resources")).or(resources);
                if let Some(id) = id {
                    self.form_stack.push(id);
                }
                let result = self.run(&data, form_res, mul(&matrix, &gs.ctm), depth + 1);
                if id.is_some() {
                    self.form_stack.pop();
                }
                result?;
            }
            _ => {}
        }
        Ok(())
    }
}

/// Quarter turns of the baseline direction `(a, b)`.
fn direction(a: f32, b: f32) -> u8 {
    if a.abs() >= b.abs() {
        if a >= 0.0 { 0 } else { 2 }
    } else if b > 0.0 {
        1
    } else {
        3
    }
}

/// Page coordinates to the frame where text of direction `dir` runs left to right and
/// `y` grows downwards.
fn frame(dir: u8, x: f32, y: f32) -> (f32, f32) {
    match dir {
        1 => (y, x),
        2 => (-x, y),
        3 => (-y, -x),
        _ => (x, -y),
    }
}
