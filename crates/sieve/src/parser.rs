//! Sieve's lexical structure and grammar (RFC 5228 2 and 8): tokens, then commands with
//! their arguments, tests and blocks. Every node keeps the line and column it starts at, so
//! errors can point at the script.

use std::fmt;

/// A place in the script: line and column, from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: u32,
    pub column: u32,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// A problem with the script, where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub pos: Pos,
    pub message: String,
}

impl Error {
    pub fn new(pos: Pos, message: impl Into<String>) -> Error {
        Error { pos, message: message.into() }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.pos, self.message)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Tag(String),
    Number(u64),
    Str(String),
    Punct(u8),
}

/// RFC 5228 8.1: the lexer.
struct Lexer<'a> {
    src: &'a [u8],
    at: usize,
    line: u32,
    column: u32,
}

impl Lexer<'_> {
    fn pos(&self) -> Pos {
        Pos { line: self.line, column: self.column }
    }

    fn bump(&mut self) -> Option<u8> {
        let b = *self.src.get(self.at)?;
        self.at += 1;
        if b == b'\n' {
            self.line += 1;
            self.column = 1;
        } else if b & 0xC0 != 0x80 {
            self.column += 1; // count characters, not UTF-8 continuation octets
        }
        Some(b)
    }

    fn peek(&self) -> Option<u8> {
        self.src.get(self.at).copied()
    }

    fn starts_with(&self, s: &[u8]) -> bool {
        self.src[self.at..].starts_with(s)
    }

    /// White space and comments (RFC 5228 2.3).
    fn skip(&mut self) -> Result<(), Error> {
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'\r' | b'\n') => {
                    self.bump();
                }
                Some(b'#') => {
                    while self.peek().is_some_and(|b| b != b'\n') {
                        self.bump();
                    }
                }
                Some(b'/') if self.starts_with(b"/*") => {
                    let start = self.pos();
                    self.bump();
                    self.bump();
                    while !self.starts_with(b"*/") {
                        if self.bump().is_none() {
                            return Err(Error::new(start, "a comment `/* ... */` is never closed"));
                        }
                    }
                    self.bump();
                    self.bump();
                }
                _ => return Ok(()),
            }
        }
    }

    fn next(&mut self) -> Result<Option<(Tok, Pos)>, Error> {
        self.skip()?;
        let pos = self.pos();
        let Some(b) = self.peek() else { return Ok(None) };
        let tok = match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                let ident = self.word();
                if ident.eq_ignore_ascii_case("text") && self.peek() == Some(b':') {
                    self.bump();
                    Tok::Str(self.multiline(pos)?)
                } else {
                    Tok::Ident(ident.to_ascii_lowercase())
                }
            }
            b':' => {
                self.bump();
                if !self.peek().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_') {
                    return Err(Error::new(pos, "a `:` must begin a tag such as `:is`"));
                }
                Tok::Tag(self.word().to_ascii_lowercase())
            }
            b'0'..=b'9' => Tok::Number(self.number(pos)?),
            b'"' => Tok::Str(self.quoted(pos)?),
            b'[' | b']' | b'(' | b')' | b'{' | b'}' | b',' | b';' => {
                self.bump();
                Tok::Punct(b)
            }
            other => {
                let shown =
                    if other.is_ascii_graphic() { format!("`{}`", other as char) } else { format!("0x{other:02x}") };
                return Err(Error::new(pos, format!("unexpected character {shown}")));
            }
        };
        Ok(Some((tok, pos)))
    }

    fn word(&mut self) -> String {
        let start = self.at;
        while self.peek().is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_') {
            self.bump();
        }
        String::from_utf8_lossy(&self.src[start..self.at]).into_owned()
    }

    /// RFC 5228 2.4.1: digits with an optional K, M or G quantifier.
    fn number(&mut self, pos: Pos) -> Result<u64, Error> {
        let start = self.at;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.bump();
        }
        let digits = std::str::from_utf8(&self.src[start..self.at]).unwrap_or("0");
        let shift = match self.peek().map(|b| b.to_ascii_uppercase()) {
            Some(b'K') => 10,
            Some(b'M') => 20,
            Some(b'G') => 30,
            _ => 0,
        };
        if shift > 0 {
            self.bump();
        }
        digits
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(1 << shift))
            .ok_or_else(|| Error::new(pos, format!("the number {digits} is too large")))
    }

    /// RFC 5228 2.4.2: `\` escapes any character; only `\"` and `\\` mean something.
    fn quoted(&mut self, pos: Pos) -> Result<String, Error> {
        self.bump();
        let mut out = Vec::new();
        loop {
            match self.bump() {
                None => return Err(Error::new(pos, "a quoted string is never closed")),
                Some(b'"') => break,
                Some(b'\\') => match self.bump() {
                    Some(c) => out.push(c),
                    None => return Err(Error::new(pos, "a quoted string is never closed")),
                },
                // Line ends in strings are CRLF (RFC 5228 2.4.2), whatever the script file uses.
                Some(b'\n') if out.last() != Some(&b'\r') => out.extend_from_slice(b"\r\n"),
                Some(c) => out.push(c),
            }
        }
        utf8(out, pos)
    }

    /// RFC 5228 2.4.2: `text:` to a line holding only `.`; a leading `..` stands for `.`.
    fn multiline(&mut self, pos: Pos) -> Result<String, Error> {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.bump();
        }
        if self.peek() == Some(b'#') {
            while self.peek().is_some_and(|b| b != b'\n') {
                self.bump();
            }
        }
        if self.peek() == Some(b'\r') {
            self.bump();
        }
        if self.bump() != Some(b'\n') {
            return Err(Error::new(pos, "`text:` must be followed by the end of the line"));
        }
        let mut out = Vec::new();
        loop {
            let start = self.at;
            while self.peek().is_some_and(|b| b != b'\n') {
                self.bump();
            }
            let Some(_) = self.bump() else {
                return Err(Error::new(pos, "a `text:` string must end with a line holding only `.`"));
            };
            let line = &self.src[start..self.at];
            let content = line.strip_suffix(b"\n").unwrap_or(line);
            let content = content.strip_suffix(b"\r").unwrap_or(content);
            if content == b"." {
                break;
            }
            let unstuffed = if content.starts_with(b"..") { &line[1..] } else { line };
            // Scripts may use LF alone; messages and strings compare with CRLF line ends.
            let text = unstuffed.strip_suffix(b"\n").unwrap_or(unstuffed);
            out.extend_from_slice(text.strip_suffix(b"\r").unwrap_or(text));
            out.extend_from_slice(b"\r\n");
        }
        utf8(out, pos)
    }
}

fn utf8(bytes: Vec<u8>, pos: Pos) -> Result<String, Error> {
    String::from_utf8(bytes).map_err(|_| Error::new(pos, "a string is not valid UTF-8 (RFC 5228 2.4.2.4)"))
}

/// An argument (RFC 5228 2.6).
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Tag(String, Pos),
    Number(u64, Pos),
    /// A string list; a single string is a list of one with `list` false.
    Strings {
        values: Vec<String>,
        list: bool,
        pos: Pos,
    },
}

impl Arg {
    pub fn pos(&self) -> Pos {
        match self {
            Arg::Tag(_, p) | Arg::Number(_, p) | Arg::Strings { pos: p, .. } => *p,
        }
    }
}

/// A test (RFC 5228 2.9), with its arguments and the tests it contains (allof, anyof, not).
#[derive(Debug, Clone, PartialEq)]
pub struct Test {
    pub name: String,
    pub args: Vec<Arg>,
    pub tests: Vec<Test>,
    pub pos: Pos,
}

/// A command (RFC 5228 2.5) with its arguments, tests and block.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    pub name: String,
    pub args: Vec<Arg>,
    pub tests: Vec<Test>,
    pub block: Option<Vec<Command>>,
    pub pos: Pos,
}

struct Parser {
    toks: Vec<(Tok, Pos)>,
    at: usize,
    end: Pos,
    max_depth: usize,
}

/// Parses a whole script (RFC 5228 8.2: `start = commands`).
pub fn parse(src: &[u8], max_depth: usize) -> Result<Vec<Command>, Error> {
    let mut lexer = Lexer { src, at: 0, line: 1, column: 1 };
    let mut toks = Vec::new();
    while let Some(t) = lexer.next()? {
        toks.push(t);
    }
    let end = lexer.pos();
    let mut p = Parser { toks, at: 0, end, max_depth };
    let commands = p.commands(0)?;
    if let Some((_, pos)) = p.toks.get(p.at) {
        return Err(Error::new(*pos, "a `}` without a `{` before it"));
    }
    Ok(commands)
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at).map(|(t, _)| t)
    }

    fn pos(&self) -> Pos {
        self.toks.get(self.at).map_or(self.end, |(_, p)| *p)
    }

    fn punct(&mut self, c: u8) -> bool {
        if self.peek() == Some(&Tok::Punct(c)) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: u8, what: &str) -> Result<(), Error> {
        if self.punct(c) { Ok(()) } else { Err(Error::new(self.pos(), format!("expected {what}"))) }
    }

    fn commands(&mut self, depth: usize) -> Result<Vec<Command>, Error> {
        if depth > self.max_depth {
            return Err(Error::new(self.pos(), format!("blocks nest deeper than {} levels", self.max_depth)));
        }
        let mut out = Vec::new();
        while let Some(Tok::Ident(_)) = self.peek() {
            out.push(self.command(depth)?);
        }
        match self.peek() {
            None | Some(Tok::Punct(b'}')) => Ok(out),
            Some(_) => Err(Error::new(self.pos(), "expected a command name")),
        }
    }

    fn command(&mut self, depth: usize) -> Result<Command, Error> {
        let pos = self.pos();
        let Some(Tok::Ident(name)) = self.peek().cloned() else {
            return Err(Error::new(pos, "expected a command name"));
        };
        self.at += 1;
        let args = self.arguments()?;
        let tests = self.tests_after_args(depth)?;
        let block = if self.punct(b'{') {
            let block = self.commands(depth + 1)?;
            self.expect(b'}', "`}` to close the block")?;
            Some(block)
        } else {
            self.expect(b';', &format!("`;` after `{name}` (or a block in `{{ }}`)"))?;
            None
        };
        Ok(Command { name, args, tests, block, pos })
    }

    fn arguments(&mut self) -> Result<Vec<Arg>, Error> {
        let mut args = Vec::new();
        loop {
            let pos = self.pos();
            match self.peek().cloned() {
                Some(Tok::Tag(t)) => {
                    self.at += 1;
                    args.push(Arg::Tag(t, pos));
                }
                Some(Tok::Number(n)) => {
                    self.at += 1;
                    args.push(Arg::Number(n, pos));
                }
                Some(Tok::Str(s)) => {
                    self.at += 1;
                    args.push(Arg::Strings { values: vec![s], list: false, pos });
                }
                Some(Tok::Punct(b'[')) => {
                    self.at += 1;
                    args.push(Arg::Strings { values: self.string_list()?, list: true, pos });
                }
                _ => return Ok(args),
            }
        }
    }

    /// RFC 5228 8.2: `string-list = "[" string *("," string) "]"`.
    fn string_list(&mut self) -> Result<Vec<String>, Error> {
        let mut values = Vec::new();
        loop {
            match self.peek().cloned() {
                Some(Tok::Str(s)) => {
                    self.at += 1;
                    values.push(s);
                }
                _ => return Err(Error::new(self.pos(), "expected a string in the list")),
            }
            if self.punct(b']') {
                return Ok(values);
            }
            self.expect(b',', "`,` or `]` in the string list")?;
        }
    }

    /// A command's test or test list, if any.
    fn tests_after_args(&mut self, depth: usize) -> Result<Vec<Test>, Error> {
        match self.peek() {
            Some(Tok::Ident(_)) => Ok(vec![self.test(depth)?]),
            Some(Tok::Punct(b'(')) => self.test_list(depth),
            _ => Ok(Vec::new()),
        }
    }

    fn test_list(&mut self, depth: usize) -> Result<Vec<Test>, Error> {
        self.expect(b'(', "`(`")?;
        let mut tests = vec![self.test(depth + 1)?];
        while self.punct(b',') {
            tests.push(self.test(depth + 1)?);
        }
        self.expect(b')', "`,` or `)` in the test list")?;
        Ok(tests)
    }

    fn test(&mut self, depth: usize) -> Result<Test, Error> {
        if depth > self.max_depth {
            return Err(Error::new(self.pos(), format!("tests nest deeper than {} levels", self.max_depth)));
        }
        let pos = self.pos();
        let Some(Tok::Ident(name)) = self.peek().cloned() else {
            return Err(Error::new(pos, "expected a test"));
        };
        self.at += 1;
        let args = self.arguments()?;
        let tests = self.tests_after_args(depth + 1)?;
        Ok(Test { name, args, tests, pos })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_tests_blocks_and_arguments() {
        let script = b"require [\"fileinto\", \"reject\"];\r\nif header :contains \"Subject\" \"money\" {\n  fileinto \"Junk\";\n} elsif anyof (size :over 1M, not exists \"From\") { discard; }\n";
        let cmds = parse(script, 16).unwrap();
        assert_eq!(cmds.len(), 3);
        assert_eq!(
            cmds[0].args,
            [Arg::Strings {
                values: vec!["fileinto".into(), "reject".into()],
                list: true,
                pos: Pos { line: 1, column: 9 }
            }]
        );
        assert_eq!(cmds[1].tests[0].name, "header");
        assert_eq!(cmds[1].block.as_ref().unwrap()[0].pos, Pos { line: 3, column: 3 });
        assert_eq!(cmds[2].tests[0].tests[0].args[1], Arg::Number(1 << 20, Pos { line: 4, column: 27 }));
        assert_eq!(cmds[2].tests[0].tests[1].tests[0].name, "exists");
    }

    #[test]
    fn strings_follow_rfc_5228_2_4_2() {
        let cmds = parse(b"set \"a\" \"q\\\"\\\\\\a\";\nset \"b\" text: # note\nLine 1\n..Line 2\n.\n;\n", 16).unwrap();
        assert_eq!(
            cmds[0].args[1],
            Arg::Strings { values: vec!["q\"\\a".into()], list: false, pos: Pos { line: 1, column: 9 } }
        );
        let Arg::Strings { values, .. } = &cmds[1].args[1] else { panic!() };
        assert_eq!(values[0], "Line 1\r\n.Line 2\r\n");
    }

    #[test]
    fn errors_name_the_place_and_what_was_expected() {
        for (script, want) in [
            (&b"keep"[..], "line 1, column 5: expected `;` after `keep`"),
            (b"if true {\n keep;\n", "line 3, column 1: expected `}` to close the block"),
            (b"keep;\n}", "line 2, column 1: a `}` without a `{` before it"),
            (b"fileinto [\"a\" \"b\"];", "line 1, column 15: expected `,` or `]` in the string list"),
            (b"/* open", "line 1, column 1: a comment `/* ... */` is never closed"),
            (b"set \"a\" \"open", "line 1, column 9: a quoted string is never closed"),
            (b"x text: junk\n.\n;", "line 1, column 3: `text:` must be followed by the end of the line"),
            (b"if : {}", "line 1, column 4: a `:` must begin a tag"),
            (b"size :over 99999999999999999999;", "is too large"),
            (b"keep; @", "line 1, column 7: unexpected character `@`"),
            (b"if anyof(true, ) {}", "line 1, column 16: expected a test"),
            (b"set \"a\" \"\xff\";", "not valid UTF-8"),
        ] {
            let e = parse(script, 16).unwrap_err().to_string();
            assert!(e.contains(want), "{:?}: {e}", String::from_utf8_lossy(script));
        }
        let deep = "if true {".repeat(20) + &"}".repeat(20);
        assert!(parse(deep.as_bytes(), 16).unwrap_err().message.contains("deeper than 16"));
    }
}
