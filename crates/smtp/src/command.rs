//! SMTP command lines (RFC 5321 4.1.1) parsed into [`Command`]s.

use crate::address::{Mailbox, parse_path};
use crate::reply::Reply;

/// The message body type declared with BODY= (RFC 6152).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BodyType {
    /// 7-bit data (the default).
    #[default]
    SevenBit,
    /// 8BITMIME data.
    EightBitMime,
}

/// Parameters on MAIL FROM (RFC 5321 4.1.1.2 esmtp-param).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MailParams {
    /// SIZE= (RFC 1870).
    pub size: Option<u64>,
    /// BODY= (RFC 6152).
    pub body: BodyType,
    /// SMTPUTF8 (RFC 6531).
    pub smtputf8: bool,
    /// True when any parameter was given (needs EHLO, not HELO).
    pub any: bool,
}

/// One parsed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// HELO domain.
    Helo(String),
    /// EHLO domain.
    Ehlo(String),
    /// MAIL FROM:<reverse-path>; None is the null sender `<>`.
    Mail(Option<Mailbox>, MailParams),
    /// RCPT TO:<forward-path>.
    Rcpt(Mailbox),
    /// DATA.
    Data,
    /// BDAT size [LAST] (RFC 3030).
    Bdat(u64, bool),
    /// RSET.
    Rset,
    /// NOOP.
    Noop,
    /// QUIT.
    Quit,
    /// VRFY string.
    Vrfy,
    /// EXPN string.
    Expn,
    /// HELP [topic].
    Help,
    /// STARTTLS (RFC 3207).
    StartTls,
    /// AUTH mechanism [initial-response] (RFC 4954).
    Auth(String),
}

/// Parses one command line (without its line ending). Errors are the reply to send.
pub fn parse(line: &[u8]) -> Result<Command, Reply> {
    if line.contains(&0) {
        return Err(Reply::new(500, "5.5.2", "Syntax error: NUL character in command"));
    }
    let line =
        std::str::from_utf8(line).map_err(|_| Reply::new(500, "5.5.2", "Syntax error: command is not valid UTF-8"))?;
    if line.contains('\r') {
        return Err(Reply::new(500, "5.5.2", "Syntax error: bare CR in command"));
    }
    let (verb, arg) = match line.find(' ') {
        Some(i) => (&line[..i], &line[i + 1..]),
        None => (line, ""),
    };
    match verb.to_ascii_uppercase().as_str() {
        "HELO" => Ok(Command::Helo(domain_arg(arg, "HELO")?)),
        "EHLO" => Ok(Command::Ehlo(domain_arg(arg, "EHLO")?)),
        "MAIL" => parse_mail(arg),
        "RCPT" => parse_rcpt(arg),
        "DATA" => no_arg(arg, "DATA", Command::Data),
        "BDAT" => parse_bdat(arg),
        "RSET" => no_arg(arg, "RSET", Command::Rset),
        // RFC 5321 4.1.1.9: NOOP may carry a string, which is ignored.
        "NOOP" => Ok(Command::Noop),
        "QUIT" => no_arg(arg, "QUIT", Command::Quit),
        "VRFY" => required_arg(arg, "VRFY <address>", Command::Vrfy),
        "EXPN" => required_arg(arg, "EXPN <list>", Command::Expn),
        "HELP" => Ok(Command::Help),
        "STARTTLS" => no_arg(arg, "STARTTLS", Command::StartTls),
        "AUTH" => required_arg(arg, "AUTH <mechanism>", Command::Auth(arg.to_string())),
        _ => Err(Reply::new(500, "5.5.1", "Command unrecognized")),
    }
}

fn syntax(usage: &str) -> Reply {
    Reply::new(501, "5.5.4", format!("Syntax: {usage}"))
}

fn no_arg(arg: &str, usage: &str, cmd: Command) -> Result<Command, Reply> {
    if arg.trim().is_empty() { Ok(cmd) } else { Err(syntax(usage)) }
}

fn required_arg(arg: &str, usage: &str, cmd: Command) -> Result<Command, Reply> {
    if arg.trim().is_empty() { Err(syntax(usage)) } else { Ok(cmd) }
}

/// HELO/EHLO take a domain or address literal (RFC 5321 4.1.1.1). Clients in the field send
/// all sorts of names here, so anything printable is accepted; it is only recorded.
fn domain_arg(arg: &str, verb: &str) -> Result<String, Reply> {
    let name = arg.trim();
    if name.is_empty() || name.contains(char::is_whitespace) || name.chars().any(|c| c.is_control()) {
        return Err(syntax(&format!("{verb} hostname")));
    }
    Ok(name.to_string())
}

/// Strips a case-insensitive keyword such as "FROM:", allowing spaces after the colon
/// (RFC 5321 forbids them, but common clients send them; Postfix accepts them too).
fn strip_keyword<'a>(arg: &'a str, keyword: &str) -> Option<&'a str> {
    let head = arg.get(..keyword.len())?;
    head.eq_ignore_ascii_case(keyword).then(|| arg[keyword.len()..].trim_start())
}

fn parse_mail(arg: &str) -> Result<Command, Reply> {
    let path = strip_keyword(arg, "FROM:").ok_or_else(|| syntax("MAIL FROM:<address>"))?;
    let (mailbox, rest) = parse_path(path, false)
        .map_err(|e| Reply::new(501, "5.1.7", format!("Bad sender address syntax: {}", reason(&e))))?;
    let params = parse_mail_params(rest)?;
    Ok(Command::Mail(mailbox, params))
}

fn parse_rcpt(arg: &str) -> Result<Command, Reply> {
    let path = strip_keyword(arg, "TO:").ok_or_else(|| syntax("RCPT TO:<address>"))?;
    let (mailbox, rest) = parse_path(path, true)
        .map_err(|e| Reply::new(501, "5.1.3", format!("Bad recipient address syntax: {}", reason(&e))))?;
    let mailbox = mailbox.ok_or_else(|| Reply::new(501, "5.1.3", "Bad recipient address syntax: empty address"))?;
    // No RCPT parameters are advertised (no DSN), so any is unrecognized (RFC 5321 4.1.1.11).
    if let Some(param) = rest.split_whitespace().next() {
        return Err(Reply::new(555, "5.5.4", format!("Unsupported RCPT TO parameter {param}")));
    }
    Ok(Command::Rcpt(mailbox))
}

fn reason(e: &crate::address::AddressError) -> &'static str {
    match e {
        crate::address::AddressError::Syntax(s) => s,
    }
}

fn parse_mail_params(rest: &str) -> Result<MailParams, Reply> {
    if !rest.is_empty() && !rest.starts_with(' ') {
        return Err(Reply::new(501, "5.1.7", "Bad sender address syntax: text after >"));
    }
    let mut params = MailParams::default();
    for param in rest.split_whitespace() {
        params.any = true;
        let (key, value) = match param.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (param, None),
        };
        match (key.to_ascii_uppercase().as_str(), value) {
            // RFC 1870: SIZE=<decimal>
            ("SIZE", Some(v)) if !v.is_empty() && v.len() <= 20 && v.bytes().all(|b| b.is_ascii_digit()) => {
                params.size = Some(v.parse().unwrap_or(u64::MAX));
            }
            ("BODY", Some(v)) if v.eq_ignore_ascii_case("7BIT") => params.body = BodyType::SevenBit,
            ("BODY", Some(v)) if v.eq_ignore_ascii_case("8BITMIME") => params.body = BodyType::EightBitMime,
            ("SMTPUTF8", None) => params.smtputf8 = true,
            ("SIZE" | "BODY" | "SMTPUTF8", _) => {
                return Err(Reply::new(501, "5.5.4", format!("Invalid value in parameter {param}")));
            }
            // RFC 5321 4.1.1.11: 555 for parameters not recognized or not implemented.
            _ => {
                return Err(Reply::new(555, "5.5.4", format!("Unsupported MAIL FROM parameter {key}")));
            }
        }
    }
    Ok(params)
}

/// BDAT chunk-size [LAST] (RFC 3030 2).
fn parse_bdat(arg: &str) -> Result<Command, Reply> {
    let mut words = arg.split_whitespace();
    let size = words
        .next()
        .filter(|s| s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| syntax("BDAT <size> [LAST]"))?;
    let last = match words.next() {
        None => false,
        Some(w) if w.eq_ignore_ascii_case("LAST") => true,
        Some(_) => return Err(syntax("BDAT <size> [LAST]")),
    };
    if words.next().is_some() {
        return Err(syntax("BDAT <size> [LAST]"));
    }
    Ok(Command::Bdat(size, last))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(line: &str) -> (u16, &'static str) {
        let r = parse(line.as_bytes()).unwrap_err();
        (r.code, r.status.unwrap())
    }

    #[test]
    fn verbs_are_case_insensitive() {
        assert_eq!(parse(b"ehlo client.example").unwrap(), Command::Ehlo("client.example".into()));
        assert_eq!(parse(b"QuIt").unwrap(), Command::Quit);
        assert_eq!(parse(b"noop anything at all").unwrap(), Command::Noop);
    }

    #[test]
    fn mail_with_params() {
        let Command::Mail(Some(m), p) = parse(b"MAIL FROM:<a@b.example> SIZE=1000 BODY=8BITMIME SMTPUTF8").unwrap()
        else {
            panic!()
        };
        assert_eq!(m.address(), "a@b.example");
        assert_eq!(p.size, Some(1000));
        assert_eq!(p.body, BodyType::EightBitMime);
        assert!(p.smtputf8 && p.any);
    }

    #[test]
    fn mail_null_sender_and_space_after_colon() {
        assert!(matches!(parse(b"MAIL FROM:<>").unwrap(), Command::Mail(None, _)));
        assert!(matches!(parse(b"mail from: <a@b.example>").unwrap(), Command::Mail(Some(_), _)));
    }

    #[test]
    fn mail_errors() {
        assert_eq!(code("MAIL"), (501, "5.5.4"));
        assert_eq!(code("MAIL TO:<a@b.example>"), (501, "5.5.4"));
        assert_eq!(code("MAIL FROM:a@b.example"), (501, "5.1.7"));
        assert_eq!(code("MAIL FROM:<a@b.example>x"), (501, "5.1.7"));
        assert_eq!(code("MAIL FROM:<a@b.example> SIZE=abc"), (501, "5.5.4"));
        assert_eq!(code("MAIL FROM:<a@b.example> BODY=BINARYMIME"), (501, "5.5.4"));
        assert_eq!(code("MAIL FROM:<a@b.example> RET=FULL"), (555, "5.5.4"));
    }

    #[test]
    fn rcpt_forms() {
        assert_eq!(parse(b"RCPT TO:<postmaster>").unwrap(), Command::Rcpt(parse_mb("postmaster")));
        assert_eq!(code("RCPT TO:<>"), (501, "5.1.3"));
        assert_eq!(code("RCPT TO:<bob>"), (501, "5.1.3"));
        assert_eq!(code("RCPT TO:<a@b.example> NOTIFY=NEVER"), (555, "5.5.4"));
        assert_eq!(code("RCPT FROM:<a@b.example>"), (501, "5.5.4"));
    }

    fn parse_mb(local: &str) -> Mailbox {
        Mailbox { local: local.into(), domain: String::new(), utf8: false }
    }

    #[test]
    fn bdat_forms() {
        assert_eq!(parse(b"BDAT 100").unwrap(), Command::Bdat(100, false));
        assert_eq!(parse(b"BDAT 0 LAST").unwrap(), Command::Bdat(0, true));
        assert_eq!(code("BDAT"), (501, "5.5.4"));
        assert_eq!(code("BDAT -1"), (501, "5.5.4"));
        assert_eq!(code("BDAT 10 FIRST"), (501, "5.5.4"));
        assert_eq!(code("BDAT 99999999999999999999999"), (501, "5.5.4"));
    }

    #[test]
    fn garbage() {
        assert_eq!(code("XYZZY"), (500, "5.5.1"));
        assert_eq!(code(""), (500, "5.5.1"));
        assert_eq!(code("HELO"), (501, "5.5.4"));
        assert_eq!(code("DATA now"), (501, "5.5.4"));
        assert_eq!(code("VRFY"), (501, "5.5.4"));
        let r = parse(b"HELO a\0b").unwrap_err();
        assert_eq!((r.code, r.status), (500, Some("5.5.2")));
        let r = parse(b"HELO \xff\xfe").unwrap_err();
        assert_eq!((r.code, r.status), (500, Some("5.5.2")));
        let r = parse(b"HELO a\rb").unwrap_err();
        assert_eq!(r.code, 500);
    }
}
