//! A tokenizer for content streams and CMaps: numbers, strings, names, arrays and
//! operators. Hand-written because it runs over every byte of every page and must be
//! fast, lenient (skip what it cannot read) and bounded (nesting, sizes).

/// Deepest array nesting parsed; deeper arrays are skipped whole.
const MAX_NESTING: usize = 32;
/// Most elements kept in one array (`TJ` arrays are rarely over a few hundred).
const MAX_ARRAY: usize = 1 << 16;

/// One token; `Op` is any bare keyword (operators, `true`, `null`, …).
#[derive(Debug, Clone, PartialEq)]
pub enum Token<'a> {
    Num(f32),
    Str(Vec<u8>),
    Name(&'a [u8]),
    Array(Vec<Token<'a>>),
    /// A dictionary (`<< … >>`); its contents are not needed and are skipped.
    Dict,
    Op(&'a [u8]),
}

#[derive(Debug)]
pub struct Lexer<'a> {
    data: &'a [u8],
    pos: usize,
}

#[inline]
fn is_white(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\r' | b'\t' | b'\x0c' | b'\0')
}

#[inline]
fn is_delim(b: u8) -> bool {
    matches!(
        b,
        b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%'
    )
}

impl<'a> Lexer<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Lexer { data, pos: 0 }
    }

    fn skip_white(&mut self) {
        while let Some(&b) = self.data.get(self.pos) {
            if is_white(b) {
                self.pos += 1;
            } else if b == b'%' {
                while let Some(&c) = self.data.get(self.pos) {
                    if c == b'\n' || c == b'\r' {
                        break;
                    }
                    self.pos += 1;
                }
            } else {
                break;
            }
        }
    }

    /// The next token, or `None` at the end of the data.
    pub fn next_token(&mut self) -> Option<Token<'a>> {
        self.token(0)
    }

    fn token(&mut self, depth: usize) -> Option<Token<'a>> {
        loop {
            self.skip_white();
            let b = *self.data.get(self.pos)?;
            match b {
                b'(' => {
                    self.pos += 1;
                    return Some(Token::Str(self.literal_string()));
                }
                b'<' => {
                    if self.data.get(self.pos + 1) == Some(&b'<') {
                        self.pos += 2;
                        self.skip_dict();
                        return Some(Token::Dict);
                    }
                    self.pos += 1;
                    return Some(Token::Str(self.hex_string()));
                }
                b'/' => {
                    self.pos += 1;
                    let start = self.pos;
                    while let Some(&c) = self.data.get(self.pos) {
                        if is_white(c) || is_delim(c) {
                            break;
                        }
                        self.pos += 1;
                    }
                    return Some(Token::Name(&self.data[start..self.pos]));
                }
                b'[' => {
                    self.pos += 1;
                    if depth >= MAX_NESTING {
                        // Too deep to be real: skip to the matching bracket without
                        // recursing, so hostile nesting cannot exhaust the stack.
                        self.skip_array();
                        return Some(Token::Array(Vec::new()));
                    }
                    let mut items = Vec::new();
                    loop {
                        self.skip_white();
                        match self.data.get(self.pos) {
                            None => break,
                            Some(b']') => {
                                self.pos += 1;
                                break;
                            }
                            Some(_) => {
                                let Some(t) = self.token(depth + 1) else {
                                    break;
                                };
                                if items.len() < MAX_ARRAY {
                                    items.push(t);
                                }
                            }
                        }
                    }
                    return Some(Token::Array(items));
                }
                b']' | b'>' | b')' | b'{' | b'}' => {
                    // Stray closing delimiters: skip.
                    self.pos += 1;
                    continue;
                }
                b'0'..=b'9' | b'+' | b'-' | b'.' => {
                    if let Some(n) = self.number() {
                        return Some(Token::Num(n));
                    }
                    continue;
                }
                _ => {
                    let start = self.pos;
                    while let Some(&c) = self.data.get(self.pos) {
                        if is_white(c) || is_delim(c) {
                            break;
                        }
                        self.pos += 1;
                    }
                    return Some(Token::Op(&self.data[start..self.pos]));
                }
            }
        }
    }

    fn number(&mut self) -> Option<f32> {
        let start = self.pos;
        let mut neg = false;
        if let Some(&s) = self.data.get(self.pos)
            && (s == b'+' || s == b'-')
        {
            neg = s == b'-';
            self.pos += 1;
            // Some producers write "--5"; tolerate repeated signs.
            while matches!(self.data.get(self.pos), Some(b'-' | b'+')) {
                self.pos += 1;
            }
        }
        let mut int: f64 = 0.0;
        let mut frac: f64 = 0.0;
        let mut scale: f64 = 1.0;
        let mut seen_dot = false;
        let mut digits = 0;
        while let Some(&c) = self.data.get(self.pos) {
            match c {
                b'0'..=b'9' => {
                    digits += 1;
                    if seen_dot {
                        scale *= 0.1;
                        frac += f64::from(c - b'0') * scale;
                    } else {
                        int = int * 10.0 + f64::from(c - b'0');
                    }
                }
                b'.' if !seen_dot => seen_dot = true,
                _ => break,
            }
            self.pos += 1;
        }
        if digits == 0 {
            // A lone sign or dot: skip it as garbage.
            if self.pos == start {
                self.pos += 1;
            }
            return None;
        }
        let v = (int + frac) as f32;
        Some(if neg { -v } else { v })
    }

    fn literal_string(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut depth = 1usize;
        while let Some(&c) = self.data.get(self.pos) {
            self.pos += 1;
            match c {
                b'(' => {
                    depth += 1;
                    out.push(c);
                }
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                    out.push(c);
                }
                b'\\' => {
                    let Some(&e) = self.data.get(self.pos) else {
                        break;
                    };
                    self.pos += 1;
                    match e {
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'\r' => {
                            if self.data.get(self.pos) == Some(&b'\n') {
                                self.pos += 1;
                            }
                        }
                        b'\n' => {}
                        b'0'..=b'7' => {
                            let mut v = u32::from(e - b'0');
                            for _ in 0..2 {
                                match self.data.get(self.pos) {
                                    Some(&d @ b'0'..=b'7') => {
                                        v = v * 8 + u32::from(d - b'0');
                                        self.pos += 1;
                                    }
                                    _ => break,
                                }
                            }
                            out.push((v & 0xff) as u8);
                        }
                        other => out.push(other),
                    }
                }
                _ => out.push(c),
            }
        }
        out
    }

    fn hex_string(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut hi: Option<u8> = None;
        while let Some(&c) = self.data.get(self.pos) {
            self.pos += 1;
            let v = match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                b'A'..=b'F' => c - b'A' + 10,
                b'>' => break,
                _ => continue,
            };
            match hi.take() {
                Some(h) => out.push(h << 4 | v),
                None => hi = Some(v),
            }
        }
        if let Some(h) = hi {
            out.push(h << 4);
        }
        out
    }

    /// Skip an array body up to its matching `]`, strings included.
    fn skip_array(&mut self) {
        let mut depth = 1usize;
        while let Some(&c) = self.data.get(self.pos) {
            self.pos += 1;
            match c {
                b'(' => {
                    self.literal_string();
                }
                b'[' => depth += 1,
                b']' => {
                    depth -= 1;
                    if depth == 0 {
                        return;
                    }
                }
                _ => {}
            }
        }
    }

    /// Skip a dictionary body up to its matching `>>`, strings included.
    fn skip_dict(&mut self) {
        let mut depth = 1usize;
        while let Some(&c) = self.data.get(self.pos) {
            match c {
                b'(' => {
                    self.pos += 1;
                    self.literal_string();
                }
                b'<' if self.data.get(self.pos + 1) == Some(&b'<') => {
                    self.pos += 2;
                    depth += 1;
                }
                b'>' if self.data.get(self.pos + 1) == Some(&b'>') => {
                    self.pos += 2;
                    depth -= 1;
                    if depth == 0 {
                        return;
                    }
                }
                _ => self.pos += 1,
            }
        }
    }

    /// After `ID`: skip the inline image's data up to and including `EI`. The data is
    /// binary, so `EI` counts only between white space (or at the end).
    pub fn skip_inline_image(&mut self) {
        // One white-space byte follows ID.
        self.pos += 1;
        let d = self.data;
        let mut i = self.pos;
        while i + 1 < d.len() {
            if d[i] == b'E'
                && d[i + 1] == b'I'
                && (i == 0 || is_white(d[i - 1]))
                && d.get(i + 2).is_none_or(|&c| is_white(c) || is_delim(c))
            {
                self.pos = i + 2;
                return;
            }
            i += 1;
        }
        self.pos = d.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(src: &[u8]) -> Vec<Token<'_>> {
        let mut lex = Lexer::new(src);
        std::iter::from_fn(|| lex.next_token()).collect()
    }

    #[test]
    fn tokens() {
        let t = all(b"BT /F1 12 Tf (a\\(b\\)c\\101) Tj [<4142> -250.5 (C)] TJ % comment\n-.5 ET");
        assert_eq!(
            t,
            vec![
                Token::Op(b"BT"),
                Token::Name(b"F1"),
                Token::Num(12.0),
                Token::Op(b"Tf"),
                Token::Str(b"a(b)cA".to_vec()),
                Token::Op(b"Tj"),
                Token::Array(vec![
                    Token::Str(b"AB".to_vec()),
                    Token::Num(-250.5),
                    Token::Str(b"C".to_vec())
                ]),
                Token::Op(b"TJ"),
                Token::Num(-0.5),
                Token::Op(b"ET"),
            ]
        );
    }

    #[test]
    fn inline_image_and_dicts() {
        let mut lex = Lexer::new(b"/P <</MCID 0>> BDC BI /W 2 ID \x00EI\xffEI\nEI Q");
        let mut ops = Vec::new();
        while let Some(t) = lex.next_token() {
            if let Token::Op(op) = t {
                if op == b"ID" {
                    lex.skip_inline_image();
                }
                ops.push(op.to_vec());
            }
        }
        assert_eq!(
            ops,
            vec![
                b"BDC".to_vec(),
                b"BI".to_vec(),
                b"ID".to_vec(),
                b"Q".to_vec()
            ]
        );
    }

    #[test]
    fn deep_nesting_does_not_recurse() {
        let mut src = vec![b'['; 1_000_000];
        src.extend_from_slice(b"(x) Tj");
        let t = all(&src);
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn garbage_does_not_hang() {
        let t = all(b"))) >>> - . +- [[[ (unterminated");
        assert!(t.len() < 10);
    }
}
