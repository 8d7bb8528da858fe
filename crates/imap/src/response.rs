//! Response encoding (RFC 3501 7 and 9 `response`): status responses with codes,
//! continuation requests, and the string forms (atom, quoted, literal, NIL) of data.

use crate::mutf7;
use crate::parser::lexer::is_atom_char;

/// The status of a status response (RFC 3501 7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// OK.
    Ok,
    /// NO: the command failed.
    No,
    /// BAD: the command was not understood.
    Bad,
    /// PREAUTH greeting.
    PreAuth,
    /// BYE: the server closes the connection.
    Bye,
}

impl Status {
    fn word(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::No => "NO",
            Status::Bad => "BAD",
            Status::PreAuth => "PREAUTH",
            Status::Bye => "BYE",
        }
    }
}

/// Writes `tag STATUS [code] text` (or `*` untagged), CRLF-terminated. CR and LF in the
/// text are replaced: resp-text is one line (RFC 3501 9 `text`).
pub fn status(out: &mut Vec<u8>, tag: Option<&str>, status: Status, code: Option<&str>, text: &str) {
    out.extend_from_slice(tag.unwrap_or("*").as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.word().as_bytes());
    if let Some(code) = code {
        out.extend_from_slice(b" [");
        out.extend_from_slice(code.as_bytes());
        out.push(b']');
    }
    out.push(b' ');
    // RFC 3501 9: text = 1*TEXT-CHAR; an empty text would break strict parsers.
    let text = if text.is_empty() { "Done" } else { text };
    out.extend(text.bytes().map(|b| if b == b'\r' || b == b'\n' || b == 0 { b' ' } else { b }));
    out.extend_from_slice(b"\r\n");
}

/// Writes a continuation request `+ text`.
pub fn continuation(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(b"+ ");
    out.extend(text.bytes().filter(|&b| b != b'\r' && b != b'\n'));
    out.extend_from_slice(b"\r\n");
}

/// Whether bytes can be sent as a quoted string: 7-bit TEXT-CHARs (no CR, LF, NUL) and short.
fn quotable(s: &[u8]) -> bool {
    s.len() <= 1024 && s.iter().all(|&b| b != 0 && b != b'\r' && b != b'\n' && b < 0x80)
}

/// string: quoted when possible, else a literal (8-bit or CR/LF content, RFC 3501 4.3).
pub fn string(out: &mut Vec<u8>, s: &[u8]) {
    if quotable(s) { quoted(out, s) } else { literal(out, s) }
}

/// A quoted string, escaping `"` and `\`.
pub fn quoted(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &b in s {
        if b == b'"' || b == b'\\' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
}

/// A literal: `{n}` CRLF and the octets.
pub fn literal(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(format!("{{{}}}\r\n", s.len()).as_bytes());
    out.extend_from_slice(s);
}

/// A literal of a stored message (LF line ends) as the client must see it, every bare LF
/// sent as CRLF on the way out: no converted copy of the message is made.
pub fn literal_crlf(out: &mut Vec<u8>, s: &[u8]) {
    let size = carrier_syntax::lines::crlf_len(s);
    out.extend_from_slice(format!("{{{size}}}\r\n").as_bytes());
    out.reserve(size);
    carrier_syntax::lines::write_crlf(out, s);
}

/// nstring: NIL or a string.
pub fn nstring(out: &mut Vec<u8>, s: Option<&[u8]>) {
    match s {
        Some(s) => string(out, s),
        None => out.extend_from_slice(b"NIL"),
    }
}

/// astring: an atom when the text is one (and not NIL), else a string.
pub fn astring(out: &mut Vec<u8>, s: &[u8]) {
    if !s.is_empty() && s.iter().all(|&b| is_atom_char(b) || b == b']') && !s.eq_ignore_ascii_case(b"NIL") {
        out.extend_from_slice(s);
    } else {
        string(out, s);
    }
}

/// A mailbox name, modified-UTF-7 encoded (RFC 3501 5.1.3).
pub fn mailbox(out: &mut Vec<u8>, name: &str) {
    astring(out, mutf7::encode(name).as_bytes());
}

/// A parenthesised list of flags or other atoms.
pub fn atom_list<'a>(out: &mut Vec<u8>, atoms: impl IntoIterator<Item = &'a str>) {
    out.push(b'(');
    for (i, a) in atoms.into_iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(a.as_bytes());
    }
    out.push(b')');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_messages_go_out_with_crlf() {
        for msg in [&b"a\nb\r\n\nc"[..], b"", b"\n", b"no newline", b"\r\n\r\n"] {
            let mut direct = Vec::new();
            literal_crlf(&mut direct, msg);
            let mut converted = Vec::new();
            literal(&mut converted, &carrier_syntax::lines::to_crlf(msg));
            assert_eq!(direct, converted, "{msg:?}");
        }
    }

    fn w(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        f(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn status_lines() {
        assert_eq!(w(|o| status(o, Some("a1"), Status::Ok, None, "LOGIN completed")), "a1 OK LOGIN completed\r\n");
        assert_eq!(
            w(|o| status(o, None, Status::No, Some("NONEXISTENT"), "No such\r\nmailbox")),
            "* NO [NONEXISTENT] No such  mailbox\r\n"
        );
        assert_eq!(w(|o| status(o, None, Status::Bye, None, "")), "* BYE Done\r\n");
        assert_eq!(w(|o| continuation(o, "Ready")), "+ Ready\r\n");
    }

    #[test]
    fn strings() {
        assert_eq!(w(|o| string(o, b"a \"b\" \\")), "\"a \\\"b\\\" \\\\\"");
        assert_eq!(w(|o| string(o, b"a\r\nb")), "{4}\r\na\r\nb");
        assert_eq!(w(|o| string(o, "\u{e9}".as_bytes())), "{2}\r\n\u{e9}");
        assert_eq!(w(|o| string(o, b"")), "\"\"");
        assert_eq!(w(|o| nstring(o, None)), "NIL");
        assert_eq!(w(|o| astring(o, b"INBOX")), "INBOX");
        assert_eq!(w(|o| astring(o, b"nil")), "\"nil\"");
        assert_eq!(w(|o| astring(o, b"a b")), "\"a b\"");
        assert_eq!(w(|o| astring(o, b"")), "\"\"");
        assert_eq!(w(|o| mailbox(o, "Entw\u{fc}rfe")), "Entw&APw-rfe");
        assert_eq!(w(|o| mailbox(o, "a%")), "\"a%\"");
        assert_eq!(w(|o| atom_list(o, ["\\Seen", "$x"])), "(\\Seen $x)");
        assert_eq!(w(|o| atom_list(o, [])), "()");
    }
}
