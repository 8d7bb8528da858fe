//! ManageSieve commands (RFC 5804 4, its ABNF): a command name, then strings (quoted, or
//! literals `{n+}`; `{n}` is taken too, as Dovecot does) and numbers, ending in CRLF.

/// The longest command line we read, literals not counted.
pub const MAX_LINE: usize = 8 * 1024;

/// One client command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Authenticate { mechanism: String, initial: Option<Vec<u8>> },
    StartTls,
    Logout,
    Capability,
    HaveSpace { name: String, size: u64 },
    PutScript { name: String, script: Vec<u8> },
    ListScripts,
    SetActive { name: String },
    GetScript { name: String },
    DeleteScript { name: String },
    RenameScript { old: String, new: String },
    CheckScript { script: Vec<u8> },
    Noop { tag: Option<Vec<u8>> },
    Unauthenticate,
}

/// What a buffer holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed<T> {
    /// Not all of it yet.
    Incomplete,
    /// A complete item and the octets it took.
    Done(T, usize),
    /// A bad one: the octets to drop (through its CRLF), and why.
    Bad(String, usize),
    /// A literal larger than allowed: the octets to drop now, then `skip` more as they come.
    TooLarge { consumed: usize, skip: usize },
    /// A line longer than [`MAX_LINE`] without its end: the session cannot find its way.
    Overlong,
}

/// One argument.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Arg {
    Str(Vec<u8>),
    Num(u64),
}

/// A reader over the buffer, position by position.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    max_literal: usize,
}

/// How reading one token went.
enum Token<T> {
    Got(T),
    More,
    Bad(String),
    TooLarge(usize),
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    fn spaces(&mut self) -> bool {
        let start = self.pos;
        while self.peek() == Some(b' ') {
            self.pos += 1;
        }
        self.pos > start
    }

    fn atom(&mut self) -> String {
        let start = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_alphabetic()) {
            self.pos += 1;
        }
        String::from_utf8_lossy(&self.buf[start..self.pos]).to_ascii_uppercase()
    }

    /// RFC 5804 4: `quoted = DQUOTE *QUOTED-CHAR DQUOTE`, `\` escaping `"` and `\` only.
    fn quoted(&mut self) -> Token<Vec<u8>> {
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => return Token::More,
                Some(b'"') => {
                    self.pos += 1;
                    return Token::Got(out);
                }
                Some(b'\\') => match self.buf.get(self.pos + 1) {
                    None => return Token::More,
                    Some(&c @ (b'"' | b'\\')) => {
                        out.push(c);
                        self.pos += 2;
                    }
                    Some(_) => return Token::Bad("in a quoted string, `\\` may only escape `\"` or `\\`".into()),
                },
                Some(b'\r' | b'\n' | 0) => return Token::Bad("a quoted string may not hold CR, LF or NUL".into()),
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
            if out.len() > 1024 {
                return Token::Bad("a quoted string longer than 1024 octets; send it as a literal".into());
            }
        }
    }

    /// RFC 5804 4: `literal-c2s = "{" number "+}" CRLF *OCTET`.
    fn literal(&mut self) -> Token<Vec<u8>> {
        let start = self.pos + 1;
        let Some(close) = self.buf[start..].iter().position(|&b| b == b'}') else {
            return if self.buf.len() - start > 12 {
                Token::Bad("a literal's length is not `{n+}`".into())
            } else {
                Token::More
            };
        };
        let inside = &self.buf[start..start + close];
        let digits = inside.strip_suffix(b"+").unwrap_or(inside);
        let Some(n) = std::str::from_utf8(digits).ok().filter(|d| !d.is_empty()).and_then(|d| d.parse::<usize>().ok())
        else {
            return Token::Bad("a literal's length is not `{n+}`".into());
        };
        let after = start + close + 1;
        match self.buf.get(after..after + 2) {
            None => return Token::More,
            Some(b"\r\n") => {}
            Some(_) => return Token::Bad("a literal's `{n+}` must end the line".into()),
        }
        if n > self.max_literal {
            self.pos = after + 2;
            return Token::TooLarge(n);
        }
        let data = after + 2;
        match self.buf.get(data..data + n) {
            Some(bytes) => {
                self.pos = data + n;
                Token::Got(bytes.to_vec())
            }
            None => Token::More,
        }
    }

    fn number(&mut self) -> Token<u64> {
        let start = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        // RFC 5804 4: number = 1*DIGIT, 0 to 4,294,967,295.
        match std::str::from_utf8(&self.buf[start..self.pos]).ok().and_then(|d| d.parse::<u32>().ok()) {
            Some(n) => Token::Got(u64::from(n)),
            None => Token::Bad("a number must be 0 to 4294967295".into()),
        }
    }

    fn arg(&mut self) -> Token<Arg> {
        match self.peek() {
            Some(b'"') => map(self.quoted(), Arg::Str),
            Some(b'{') => map(self.literal(), Arg::Str),
            Some(b'0'..=b'9') => map(self.number(), Arg::Num),
            None => Token::More,
            Some(_) => Token::Bad("expected a string (\"...\" or {n+}) or a number".into()),
        }
    }
}

fn map<T, U>(t: Token<T>, f: impl FnOnce(T) -> U) -> Token<U> {
    match t {
        Token::Got(v) => Token::Got(f(v)),
        Token::More => Token::More,
        Token::Bad(e) => Token::Bad(e),
        Token::TooLarge(n) => Token::TooLarge(n),
    }
}

/// Where the current line ends (after its CRLF), not looking inside literals; None when the
/// buffer holds no line end yet.
fn line_end(buf: &[u8]) -> Option<usize> {
    buf.windows(2).position(|w| w == b"\r\n").map(|p| p + 2)
}

/// Reads one command from the start of `buf`; literals may hold at most `max_literal` octets.
pub fn command(buf: &[u8], max_literal: usize) -> Parsed<Command> {
    let mut c = Cursor { buf, pos: 0, max_literal };
    let name = c.atom();
    let mut args = Vec::new();
    loop {
        let had_space = c.spaces();
        match c.buf.get(c.pos..c.pos + 2) {
            Some(b"\r\n") => break,
            None => return incomplete(buf, c.pos),
            Some(_) => {}
        }
        if !had_space {
            return bad(buf, c.pos, "arguments are separated by one space and the line ends in CRLF");
        }
        match c.arg() {
            Token::Got(a) => args.push(a),
            Token::More => return incomplete(buf, c.pos),
            Token::Bad(e) => return bad(buf, c.pos, &e),
            // The rest of the line follows the literal: skip the literal, then the line.
            Token::TooLarge(n) => return Parsed::TooLarge { consumed: c.pos, skip: n },
        }
    }
    let consumed = c.pos + 2;
    match build(&name, args) {
        Ok(cmd) => Parsed::Done(cmd, consumed),
        Err(e) => Parsed::Bad(e, consumed),
    }
}

/// Reads one string (a SASL response, RFC 5804 2.1) ending its line.
pub fn string_line(buf: &[u8], max_literal: usize) -> Parsed<Vec<u8>> {
    let mut c = Cursor { buf, pos: 0, max_literal };
    let token = match c.peek() {
        Some(b'"') => c.quoted(),
        Some(b'{') => c.literal(),
        None => Token::More,
        Some(_) => Token::Bad("expected a string".into()),
    };
    match token {
        Token::Got(s) => match c.buf.get(c.pos..c.pos + 2) {
            Some(b"\r\n") => Parsed::Done(s, c.pos + 2),
            None => Parsed::Incomplete,
            Some(_) => bad(buf, c.pos, "the string must end the line"),
        },
        Token::More => incomplete(buf, c.pos),
        Token::Bad(e) => bad(buf, c.pos, &e),
        Token::TooLarge(n) => Parsed::TooLarge { consumed: c.pos, skip: n },
    }
}

fn incomplete<T>(buf: &[u8], pos: usize) -> Parsed<T> {
    if pos > MAX_LINE && line_end(&buf[pos..]).is_none() { Parsed::Overlong } else { Parsed::Incomplete }
}

/// A bad command: dropped through the end of its line (or all of it, when none is there yet).
fn bad<T>(buf: &[u8], pos: usize, why: &str) -> Parsed<T> {
    match line_end(&buf[pos..]) {
        Some(end) => Parsed::Bad(why.to_string(), pos + end),
        None if buf.len() > MAX_LINE => Parsed::Overlong,
        None => Parsed::Incomplete,
    }
}

fn text(arg: Arg) -> Result<String, String> {
    match arg {
        Arg::Str(s) => String::from_utf8(s).map_err(|_| "a name must be UTF-8 (RFC 5804 1.6)".to_string()),
        Arg::Num(_) => Err("expected a string, not a number".into()),
    }
}

fn bytes(arg: Arg) -> Result<Vec<u8>, String> {
    match arg {
        Arg::Str(s) => Ok(s),
        Arg::Num(_) => Err("expected a string, not a number".into()),
    }
}

/// The command a name and its arguments make (RFC 5804 2).
fn build(name: &str, args: Vec<Arg>) -> Result<Command, String> {
    let count = args.len();
    let mut args = args.into_iter();
    let mut next = || args.next().ok_or_else(|| format!("{name} needs more arguments"));
    let cmd = match name {
        "AUTHENTICATE" if (1..=2).contains(&count) => Command::Authenticate {
            mechanism: text(next()?)?,
            initial: if count == 2 { Some(bytes(next()?)?) } else { None },
        },
        "STARTTLS" if count == 0 => Command::StartTls,
        "LOGOUT" if count == 0 => Command::Logout,
        "CAPABILITY" if count == 0 => Command::Capability,
        "HAVESPACE" if count == 2 => {
            let name = text(next()?)?;
            match next()? {
                Arg::Num(size) => Command::HaveSpace { name, size },
                Arg::Str(_) => return Err("HAVESPACE takes a name and a number".into()),
            }
        }
        "PUTSCRIPT" if count == 2 => Command::PutScript { name: text(next()?)?, script: bytes(next()?)? },
        "LISTSCRIPTS" if count == 0 => Command::ListScripts,
        "SETACTIVE" if count == 1 => Command::SetActive { name: text(next()?)? },
        "GETSCRIPT" if count == 1 => Command::GetScript { name: text(next()?)? },
        "DELETESCRIPT" if count == 1 => Command::DeleteScript { name: text(next()?)? },
        "RENAMESCRIPT" if count == 2 => Command::RenameScript { old: text(next()?)?, new: text(next()?)? },
        "CHECKSCRIPT" if count == 1 => Command::CheckScript { script: bytes(next()?)? },
        "NOOP" if count <= 1 => Command::Noop { tag: if count == 1 { Some(bytes(next()?)?) } else { None } },
        "UNAUTHENTICATE" if count == 0 => Command::Unauthenticate,
        "AUTHENTICATE" | "STARTTLS" | "LOGOUT" | "CAPABILITY" | "HAVESPACE" | "PUTSCRIPT" | "LISTSCRIPTS"
        | "SETACTIVE" | "GETSCRIPT" | "DELETESCRIPT" | "RENAMESCRIPT" | "CHECKSCRIPT" | "NOOP" | "UNAUTHENTICATE" => {
            return Err(format!("wrong number of arguments for {name}"));
        }
        "" => return Err("expected a command".into()),
        other => return Err(format!("unknown command {other}")),
    };
    Ok(cmd)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn done(input: &str) -> Command {
        match command(input.as_bytes(), 1000) {
            Parsed::Done(cmd, n) => {
                assert_eq!(n, input.len(), "{input:?}");
                cmd
            }
            other => panic!("{input:?}: {other:?}"),
        }
    }

    #[test]
    fn commands_with_quoted_strings_literals_and_numbers() {
        assert_eq!(done("capability\r\n"), Command::Capability);
        assert_eq!(
            done("HAVESPACE \"my\\\"script\" 999\r\n"),
            Command::HaveSpace { name: "my\"script".into(), size: 999 }
        );
        assert_eq!(
            done("PUTSCRIPT \"a\" {9+}\r\nkeep;\r\nxx\r\n"),
            Command::PutScript { name: "a".into(), script: b"keep;\r\nxx".to_vec() }
        );
        // A synchronizing literal is taken as well (sieve-connect sends `{n+}`, others `{n}`).
        assert_eq!(done("CHECKSCRIPT {5}\r\nkeep;\r\n"), Command::CheckScript { script: b"keep;".to_vec() });
        assert_eq!(done("RENAMESCRIPT \"a\" \"b\"\r\n"), Command::RenameScript { old: "a".into(), new: "b".into() });
        assert_eq!(done("NOOP \"t1\"\r\n"), Command::Noop { tag: Some(b"t1".to_vec()) });
        assert_eq!(
            done("AUTHENTICATE \"PLAIN\" \"AGJvYgBwdw==\"\r\n"),
            Command::Authenticate { mechanism: "PLAIN".into(), initial: Some(b"AGJvYgBwdw==".to_vec()) }
        );
    }

    #[test]
    fn partial_input_waits_for_the_rest() {
        for partial in
            ["CAPAB", "PUTSCRIPT \"a\" {10+}\r\nkeep", "PUTSCRIPT \"a", "GETSCRIPT \"a\"\r", "PUTSCRIPT \"a\" {1"]
        {
            assert_eq!(command(partial.as_bytes(), 1000), Parsed::Incomplete, "{partial:?}");
        }
    }

    #[test]
    fn bad_commands_are_dropped_through_their_line_with_a_reason() {
        for (input, why) in [
            ("FROB\r\n", "unknown command FROB"),
            ("GETSCRIPT\r\n", "wrong number of arguments for GETSCRIPT"),
            ("HAVESPACE \"a\" \"b\"\r\n", "HAVESPACE takes a name and a number"),
            ("HAVESPACE \"a\" 99999999999\r\n", "a number must be 0 to 4294967295"),
            ("GETSCRIPT a\r\n", "expected a string"),
            ("GETSCRIPT \"a\\n\"\r\n", "`\\` may only escape"),
            ("GETSCRIPT  \"a\"x\r\n", "separated by one space"),
            ("PUTSCRIPT \"a\" {x+}\r\n", "is not `{n+}`"),
            ("GETSCRIPT \"\u{0}\"\r\n", "may not hold CR, LF or NUL"),
        ] {
            match command(input.as_bytes(), 1000) {
                Parsed::Bad(e, n) => {
                    assert!(e.contains(why), "{input:?}: {e}");
                    assert_eq!(n, input.len(), "{input:?}");
                }
                other => panic!("{input:?}: {other:?}"),
            }
        }
        let names = "GETSCRIPT \"\u{ff}\"\r\n".replace('\u{ff}', "");
        let mut invalid = names.into_bytes();
        invalid.insert(11, 0xff);
        assert!(matches!(command(&invalid, 1000), Parsed::Bad(e, _) if e.contains("UTF-8")));
    }

    #[test]
    fn a_literal_over_the_limit_is_skipped_and_an_endless_line_is_overlong() {
        assert_eq!(
            command(b"PUTSCRIPT \"a\" {2000+}\r\nxxx", 1000),
            Parsed::TooLarge { consumed: "PUTSCRIPT \"a\" {2000+}\r\n".len(), skip: 2000 }
        );
        assert_eq!(command(&vec![b'A'; MAX_LINE + 10], 1000), Parsed::Overlong);
        let long_arg = format!("GETSCRIPT \"{}", "x".repeat(MAX_LINE));
        assert!(matches!(command(long_arg.as_bytes(), 1000), Parsed::Bad(..) | Parsed::Overlong));
    }

    #[test]
    fn sasl_responses_are_one_string() {
        assert_eq!(string_line(b"\"AGJvYgBwdw==\"\r\n", 100), Parsed::Done(b"AGJvYgBwdw==".to_vec(), 16));
        assert_eq!(string_line(b"{4+}\r\nabcd\r\n", 100), Parsed::Done(b"abcd".to_vec(), 12));
        assert_eq!(string_line(b"\"ab", 100), Parsed::Incomplete);
        assert!(matches!(string_line(b"abc\r\n", 100), Parsed::Bad(..)));
    }
}
