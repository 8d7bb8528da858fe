//! The lexical rules of RFC 3501 9 over one complete command.

use std::fmt;

/// Why a command is malformed, for the `BAD` text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Result of a parsing step.
pub type Parsed<T> = Result<T, ParseError>;

/// A `ParseError` from text.
pub fn bad<T>(why: impl Into<String>) -> Parsed<T> {
    Err(ParseError(why.into()))
}

/// RFC 3501 9 atom-specials: "(" ")" "{" SP CTL list-wildcards quoted-specials resp-specials.
pub fn is_atom_char(b: u8) -> bool {
    b > 0x20 && b < 0x7f && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']')
}

/// ASTRING-CHAR = ATOM-CHAR / resp-specials.
pub fn is_astring_char(b: u8) -> bool {
    is_atom_char(b) || b == b']'
}

/// tag = 1*<any ASTRING-CHAR except "+">.
pub fn is_tag_char(b: u8) -> bool {
    is_astring_char(b) && b != b'+'
}

/// list-char = ATOM-CHAR / list-wildcards / resp-specials.
pub fn is_list_char(b: u8) -> bool {
    is_astring_char(b) || b == b'%' || b == b'*'
}

/// A cursor over a command in wire form.
#[derive(Debug)]
pub struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Cursor<'a> {
        Cursor { buf, pos: 0 }
    }

    /// The next byte, if any.
    pub fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    /// The byte `n` positions ahead.
    pub fn peek_after(&self, n: usize) -> Option<u8> {
        self.buf.get(self.pos + n).copied()
    }

    /// Whether the rest starts with `s`, ignoring ASCII case.
    pub fn peek_word(&self, s: &str) -> bool {
        self.buf[self.pos..].get(..s.len()).is_some_and(|w| w.eq_ignore_ascii_case(s.as_bytes()))
    }

    /// Consumes `b` if it is next.
    pub fn eat(&mut self, b: u8) -> bool {
        let hit = self.peek() == Some(b);
        self.pos += usize::from(hit);
        hit
    }

    /// Consumes `s` (ignoring case) if it is next.
    pub fn eat_word(&mut self, s: &str) -> bool {
        let hit = self.peek_word(s);
        if hit {
            self.pos += s.len();
        }
        hit
    }

    /// Requires `b`.
    pub fn expect(&mut self, b: u8, what: &str) -> Parsed<()> {
        if self.eat(b) { Ok(()) } else { self.unexpected(what) }
    }

    /// An error naming what was expected and what was found.
    pub fn unexpected<T>(&self, what: &str) -> Parsed<T> {
        let found = match self.peek() {
            None | Some(b'\r' | b'\n') => "the end of the line".to_string(),
            Some(b' ') => "a space".to_string(),
            Some(b) if b.is_ascii_graphic() => format!("'{}'", b as char),
            Some(b) => format!("byte 0x{b:02x}"),
        };
        bad(format!("Expected {what}, found {found}"))
    }

    /// Exactly one space.
    pub fn sp(&mut self) -> Parsed<()> {
        self.expect(b' ', "a space")
    }

    /// The end of the command: CRLF (a bare LF is tolerated) and nothing after it.
    pub fn end(&mut self) -> Parsed<()> {
        self.eat(b'\r');
        if self.eat(b'\n') && self.pos == self.buf.len() {
            return Ok(());
        }
        if self.peek() == Some(b' ') {
            return bad("Unexpected extra arguments or a trailing space");
        }
        self.unexpected("the end of the command")
    }

    /// Whether the command's arguments are over.
    pub fn at_end(&self) -> bool {
        matches!(self.peek(), None | Some(b'\r' | b'\n'))
    }

    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a [u8] {
        let start = self.pos;
        while self.peek().is_some_and(&f) {
            self.pos += 1;
        }
        &self.buf[start..self.pos]
    }

    /// tag (RFC 3501 9).
    pub fn tag(&mut self) -> Parsed<String> {
        let t = self.take_while(is_tag_char);
        if t.is_empty() {
            return self.unexpected("a tag");
        }
        Ok(String::from_utf8_lossy(t).into_owned())
    }

    /// atom: 1*ATOM-CHAR.
    pub fn atom(&mut self, what: &str) -> Parsed<&'a str> {
        let a = self.take_while(is_atom_char);
        if a.is_empty() {
            return self.unexpected(what);
        }
        Ok(std::str::from_utf8(a).unwrap_or_default())
    }

    /// A word that ends at a space, parenthesis or bracket (item names such as `BODY.PEEK`).
    pub fn word(&mut self, what: &str) -> Parsed<String> {
        let w = self.take_while(|b| is_atom_char(b) && b != b'[' && b != b'<');
        if w.is_empty() {
            return self.unexpected(what);
        }
        Ok(String::from_utf8_lossy(w).to_ascii_uppercase())
    }

    /// number: 1*DIGIT fitting 32 bits.
    pub fn number(&mut self) -> Parsed<u32> {
        let n = self.number64()?;
        u32::try_from(n).or_else(|_| bad(format!("Number {n} is too large (at most 4294967295)")))
    }

    /// A 63-bit number (mod-sequence-value, RFC 7162 7).
    pub fn number64(&mut self) -> Parsed<u64> {
        let d = self.take_while(|b| b.is_ascii_digit());
        if d.is_empty() {
            return self.unexpected("a number");
        }
        let text = std::str::from_utf8(d).unwrap_or_default();
        match text.parse::<u64>() {
            Ok(n) if n < 1 << 63 => Ok(n),
            _ => bad(format!("Number {text} is too large")),
        }
    }

    /// nz-number.
    pub fn nz_number(&mut self) -> Parsed<u32> {
        match self.number()? {
            0 => bad("Expected a non-zero number, found 0"),
            n => Ok(n),
        }
    }

    /// quoted (RFC 3501 9): DQUOTE *QUOTED-CHAR DQUOTE, 7-bit only.
    pub fn quoted(&mut self) -> Parsed<Vec<u8>> {
        self.expect(b'"', "'\"'")?;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(c @ (b'"' | b'\\')) => out.push(c),
                        _ => return bad("In a quoted string a backslash may only escape '\"' or '\\'"),
                    }
                }
                None | Some(b'\r' | b'\n') => return bad("Unterminated quoted string"),
                Some(0) => return bad("NUL is not allowed in a quoted string"),
                Some(c) if c >= 0x80 => return bad("8-bit characters in a quoted string: send them as a literal"),
                Some(c) => out.push(c),
            }
            self.pos += 1;
        }
    }

    /// literal: "{" number ["+"] "}" CRLF *CHAR8 (the framer already checked the size).
    pub fn literal(&mut self) -> Parsed<Vec<u8>> {
        self.expect(b'{', "'{'")?;
        let n = self.number64()?;
        self.eat(b'+');
        self.expect(b'}', "'}'")?;
        self.eat(b'\r');
        self.expect(b'\n', "CRLF after the literal's size")?;
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        let Some(data) = self.buf.get(self.pos..self.pos.saturating_add(n)) else {
            return bad("Literal shorter than announced");
        };
        self.pos += n;
        // RFC 3501 9: CHAR8 excludes NUL (literal8 of BINARY would allow it).
        if data.contains(&0) {
            return bad("NUL is not allowed in a literal");
        }
        Ok(data.to_vec())
    }

    /// string = quoted / literal.
    pub fn string(&mut self) -> Parsed<Vec<u8>> {
        match self.peek() {
            Some(b'"') => self.quoted(),
            Some(b'{') => self.literal(),
            _ => self.unexpected("a string"),
        }
    }

    /// astring = 1*ASTRING-CHAR / string.
    pub fn astring(&mut self, what: &str) -> Parsed<Vec<u8>> {
        match self.peek() {
            Some(b'"' | b'{') => self.string(),
            _ => {
                let a = self.take_while(is_astring_char);
                if a.is_empty() {
                    return self.unexpected(what);
                }
                Ok(a.to_vec())
            }
        }
    }

    /// An astring that must be UTF-8 text.
    pub fn astring_text(&mut self, what: &str) -> Parsed<String> {
        String::from_utf8(self.astring(what)?).or_else(|_| bad(format!("{what} is not valid UTF-8")))
    }

    /// nstring = string / "NIL".
    pub fn nstring(&mut self) -> Parsed<Option<Vec<u8>>> {
        if self.eat_nil() {
            return Ok(None);
        }
        self.string().map(Some)
    }

    /// Consumes the atom NIL if it is next.
    pub fn eat_nil(&mut self) -> bool {
        let hit = self.peek_word("NIL") && !self.peek_after(3).is_some_and(is_atom_char);
        if hit {
            self.pos += 3;
        }
        hit
    }

    /// list-mailbox = 1*list-char / string (LIST and LSUB patterns).
    pub fn list_mailbox(&mut self) -> Parsed<Vec<u8>> {
        match self.peek() {
            Some(b'"' | b'{') => self.string(),
            _ => {
                let a = self.take_while(is_list_char);
                if a.is_empty() {
                    return self.unexpected("a mailbox pattern");
                }
                Ok(a.to_vec())
            }
        }
    }

    /// A parenthesised list of items separated by single spaces; `empty_ok` allows "()".
    pub fn list<T>(&mut self, empty_ok: bool, mut item: impl FnMut(&mut Self) -> Parsed<T>) -> Parsed<Vec<T>> {
        self.expect(b'(', "'('")?;
        let mut items = Vec::new();
        if self.eat(b')') {
            return if empty_ok { Ok(items) } else { bad("Empty list") };
        }
        loop {
            items.push(item(self)?);
            if self.eat(b')') {
                return Ok(items);
            }
            self.sp()?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings() {
        let mut c = Cursor::new(b"\"a\\\"b\\\\c\" {3}\r\nx y atom] NIL NILS\r\n");
        assert_eq!(c.astring("x").unwrap(), b"a\"b\\c");
        c.sp().unwrap();
        assert_eq!(c.astring("x").unwrap(), b"x y");
        c.sp().unwrap();
        assert_eq!(c.astring("x").unwrap(), b"atom]");
        c.sp().unwrap();
        assert_eq!(c.nstring().unwrap(), None);
        c.sp().unwrap();
        assert!(c.nstring().is_err());
    }

    #[test]
    fn bad_strings() {
        for (input, why) in [
            (&b"\"abc\r\n"[..], "Unterminated quoted string"),
            (b"\"a\\b\"", "In a quoted string a backslash may only escape '\"' or '\\'"),
            (b"\"\xc3\xa9\"", "8-bit characters in a quoted string: send them as a literal"),
            (b"{5}\r\nab", "Literal shorter than announced"),
            (b"(x", "Expected a string, found '('"),
        ] {
            let mut c = Cursor::new(input);
            assert_eq!(c.string().unwrap_err().0, why, "{input:?}");
        }
    }

    #[test]
    fn numbers() {
        assert_eq!(Cursor::new(b"4294967295").number().unwrap(), u32::MAX);
        assert!(Cursor::new(b"4294967296").number().is_err());
        assert_eq!(Cursor::new(b"0").nz_number().unwrap_err().0, "Expected a non-zero number, found 0");
        assert!(Cursor::new(b"9223372036854775808").number64().is_err());
    }
}
