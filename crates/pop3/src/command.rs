//! POP3 command lines (RFC 1939 3, RFC 2449, RFC 2595, RFC 5034).

/// A parsed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `USER name` (RFC 1939 7).
    User(String),
    /// `PASS password`: the rest of the line, spaces included (RFC 1939 7).
    Pass(String),
    /// `AUTH [mechanism [initial-response]]` (RFC 5034 4).
    Auth(Option<String>, Option<String>),
    /// `CAPA` (RFC 2449 5).
    Capa,
    /// `STLS` (RFC 2595 4).
    Stls,
    /// `QUIT`
    Quit,
    /// `STAT`
    Stat,
    /// `LIST [msg]`
    List(Option<u32>),
    /// `RETR msg`
    Retr(u32),
    /// `DELE msg`
    Dele(u32),
    /// `NOOP`
    Noop,
    /// `RSET`
    Rset,
    /// `TOP msg n`
    Top(u32, u32),
    /// `UIDL [msg]`
    Uidl(Option<u32>),
}

impl Command {
    /// True for the commands of the TRANSACTION state (RFC 1939 5).
    pub fn needs_login(&self) -> bool {
        matches!(
            self,
            Command::Stat
                | Command::List(_)
                | Command::Retr(_)
                | Command::Dele(_)
                | Command::Noop
                | Command::Rset
                | Command::Top(..)
                | Command::Uidl(_)
        )
    }

    /// True for the commands of the AUTHORIZATION state only.
    pub fn before_login(&self) -> bool {
        matches!(self, Command::User(_) | Command::Pass(_) | Command::Auth(..) | Command::Stls)
    }
}

/// Why a line is not a command; each has its own -ERR text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// An empty line.
    Empty,
    /// A NUL byte.
    Nul,
    /// Bytes that are not UTF-8 text.
    NotText,
    /// Not a POP3 command; the keyword, made printable.
    Unknown(String),
    /// Wrong arguments; the usage.
    Syntax(&'static str),
    /// A message number that is not a positive decimal number.
    BadNumber(String),
}

impl ParseError {
    /// The text after `-ERR `.
    pub fn text(&self) -> String {
        match self {
            ParseError::Empty => "Empty command line".into(),
            ParseError::Nul => "Invalid character (NUL) in command".into(),
            ParseError::NotText => "Command is not valid UTF-8 text".into(),
            ParseError::Unknown(word) => format!("Unknown command: {word}"),
            ParseError::Syntax(usage) => format!("Syntax: {usage}"),
            ParseError::BadNumber(arg) => format!("Invalid message number: {arg}"),
        }
    }
}

/// Parses one line without its CRLF.
pub fn parse(line: &[u8]) -> Result<Command, ParseError> {
    if line.contains(&0) {
        return Err(ParseError::Nul);
    }
    let line = std::str::from_utf8(line).map_err(|_| ParseError::NotText)?;
    if line.trim().is_empty() {
        return Err(ParseError::Empty);
    }
    let (keyword, rest) = match line.split_once(' ') {
        Some((k, r)) => (k, Some(r)),
        None => (line, None),
    };
    let args: Vec<&str> = rest.map(|r| r.split(' ').filter(|a| !a.is_empty()).collect()).unwrap_or_default();
    let none =
        |cmd: Command, usage: &'static str| if args.is_empty() { Ok(cmd) } else { Err(ParseError::Syntax(usage)) };
    match keyword.to_ascii_uppercase().as_str() {
        "USER" => match args.as_slice() {
            [name] => Ok(Command::User(name.to_string())),
            _ => Err(ParseError::Syntax("USER name")),
        },
        "PASS" => match rest {
            Some(password) if !password.is_empty() => Ok(Command::Pass(password.to_string())),
            _ => Err(ParseError::Syntax("PASS password")),
        },
        "AUTH" => match args.as_slice() {
            [] => Ok(Command::Auth(None, None)),
            [m] => Ok(Command::Auth(Some(m.to_ascii_uppercase()), None)),
            [m, initial] => Ok(Command::Auth(Some(m.to_ascii_uppercase()), Some(initial.to_string()))),
            _ => Err(ParseError::Syntax("AUTH mechanism [initial-response]")),
        },
        "CAPA" => none(Command::Capa, "CAPA"),
        "STLS" => none(Command::Stls, "STLS"),
        "QUIT" => none(Command::Quit, "QUIT"),
        "STAT" => none(Command::Stat, "STAT"),
        "NOOP" => none(Command::Noop, "NOOP"),
        "RSET" => none(Command::Rset, "RSET"),
        "LIST" => optional(&args, "LIST [message]").map(Command::List),
        "UIDL" => optional(&args, "UIDL [message]").map(Command::Uidl),
        "RETR" => one(&args, "RETR message").map(Command::Retr),
        "DELE" => one(&args, "DELE message").map(Command::Dele),
        "TOP" => match args.as_slice() {
            [msg, lines] => {
                Ok(Command::Top(number(msg)?, lines.parse().map_err(|_| ParseError::Syntax("TOP message lines"))?))
            }
            _ => Err(ParseError::Syntax("TOP message lines")),
        },
        _ => Err(ParseError::Unknown(printable(keyword))),
    }
}

fn optional(args: &[&str], usage: &'static str) -> Result<Option<u32>, ParseError> {
    match args {
        [] => Ok(None),
        [n] => number(n).map(Some),
        _ => Err(ParseError::Syntax(usage)),
    }
}

fn one(args: &[&str], usage: &'static str) -> Result<u32, ParseError> {
    match args {
        [n] => number(n),
        _ => Err(ParseError::Syntax(usage)),
    }
}

/// RFC 1939 3: a message number is a decimal number; 0 parses (and is then no such message).
fn number(arg: &str) -> Result<u32, ParseError> {
    if arg.is_empty() || arg.len() > 10 || !arg.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError::BadNumber(printable(arg)));
    }
    arg.parse().map_err(|_| ParseError::BadNumber(printable(arg)))
}

/// At most 20 printable ASCII characters, for echoing client input back safely.
fn printable(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii_graphic()).take(20).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands() {
        assert_eq!(parse(b"USER bob@example.com"), Ok(Command::User("bob@example.com".into())));
        assert_eq!(parse(b"pass two words "), Ok(Command::Pass("two words ".into())));
        assert_eq!(parse(b"AUTH"), Ok(Command::Auth(None, None)));
        assert_eq!(
            parse(b"auth plain AGJvYgBwdw=="),
            Ok(Command::Auth(Some("PLAIN".into()), Some("AGJvYgBwdw==".into())))
        );
        assert_eq!(parse(b"capa"), Ok(Command::Capa));
        assert_eq!(parse(b"LIST"), Ok(Command::List(None)));
        assert_eq!(parse(b"LIST 2"), Ok(Command::List(Some(2))));
        assert_eq!(parse(b"UIDL 0"), Ok(Command::Uidl(Some(0))));
        assert_eq!(parse(b"RETR 1"), Ok(Command::Retr(1)));
        assert_eq!(parse(b"Top 1 0"), Ok(Command::Top(1, 0)));
        assert_eq!(parse(b"DELE  3"), Ok(Command::Dele(3)), "extra spaces are tolerated");
    }

    #[test]
    fn bad_lines() {
        assert_eq!(parse(b""), Err(ParseError::Empty));
        assert_eq!(parse(b"   "), Err(ParseError::Empty));
        assert_eq!(parse(b"US\0ER bob"), Err(ParseError::Nul));
        assert_eq!(parse(b"USER \xff\xfe"), Err(ParseError::NotText));
        assert_eq!(parse(b"HELO x"), Err(ParseError::Unknown("HELO".into())));
        assert_eq!(parse("\u{1b}[31mEVIL".as_bytes()), Err(ParseError::Unknown("[31mEVIL".into())));
        assert_eq!(parse(b"USER"), Err(ParseError::Syntax("USER name")));
        assert_eq!(parse(b"USER a b"), Err(ParseError::Syntax("USER name")));
        assert_eq!(parse(b"PASS"), Err(ParseError::Syntax("PASS password")));
        assert_eq!(parse(b"STAT 1"), Err(ParseError::Syntax("STAT")));
        assert_eq!(parse(b"RETR"), Err(ParseError::Syntax("RETR message")));
        assert_eq!(parse(b"RETR 1 2"), Err(ParseError::Syntax("RETR message")));
        assert_eq!(parse(b"RETR -1"), Err(ParseError::BadNumber("-1".into())));
        assert_eq!(parse(b"RETR +1"), Err(ParseError::BadNumber("+1".into())));
        assert_eq!(parse(b"RETR 1x"), Err(ParseError::BadNumber("1x".into())));
        assert_eq!(parse(b"RETR 99999999999"), Err(ParseError::BadNumber("99999999999".into())));
        assert_eq!(parse(b"RETR 4294967296"), Err(ParseError::BadNumber("4294967296".into())));
        assert_eq!(parse(b"TOP 1"), Err(ParseError::Syntax("TOP message lines")));
        assert_eq!(parse(b"TOP 1 x"), Err(ParseError::Syntax("TOP message lines")));
        assert_eq!(parse(b"AUTH PLAIN a b"), Err(ParseError::Syntax("AUTH mechanism [initial-response]")));
        assert_eq!(ParseError::Unknown("X".into()).text(), "Unknown command: X");
    }
}
