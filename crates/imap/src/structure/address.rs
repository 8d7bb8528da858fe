//! RFC 5322 3.4 address lists, as the ENVELOPE address structures of RFC 3501 7.4.2.
//! Lenient: whatever the header holds, the result is well formed; encoded-words stay as
//! they are (RFC 3501 7.4.2 passes them through).

/// One address structure: (name adl mailbox host). A group is a start marker
/// (mailbox = group name, host NIL) followed by its members and an all-NIL end marker.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Address {
    /// Display name (phrase), or NIL.
    pub name: Option<Vec<u8>>,
    /// Source route (`@a,@b`), or NIL.
    pub adl: Option<Vec<u8>>,
    /// Local part, or the group name in a group start marker.
    pub mailbox: Option<Vec<u8>>,
    /// Domain; NIL only in group markers.
    pub host: Option<Vec<u8>>,
}

/// Placeholder for an address without a domain (so that it is not taken for a group
/// marker), as Dovecot writes it.
pub const MISSING_HOST: &[u8] = b".MISSING-HOST-NAME.";

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Atom(Vec<u8>),
    Quoted(Vec<u8>),
    Comment(Vec<u8>),
    Literal(Vec<u8>),
    Special(u8),
}

fn tokens(value: &[u8]) -> Vec<Token> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < value.len() {
        let b = value[i];
        match b {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'"' => {
                let mut s = Vec::new();
                i += 1;
                while i < value.len() && value[i] != b'"' {
                    if value[i] == b'\\' && i + 1 < value.len() {
                        i += 1;
                    }
                    if value[i] != b'\r' && value[i] != b'\n' {
                        s.push(value[i]);
                    }
                    i += 1;
                }
                i += 1;
                out.push(Token::Quoted(s));
            }
            b'(' => {
                let (mut depth, mut s) = (1u32, Vec::new());
                i += 1;
                while i < value.len() && depth > 0 {
                    match value[i] {
                        b'\\' if i + 1 < value.len() => {
                            i += 1;
                            s.push(value[i]);
                        }
                        b'(' => {
                            depth += 1;
                            s.push(b'(');
                        }
                        b')' => {
                            depth -= 1;
                            if depth > 0 {
                                s.push(b')');
                            }
                        }
                        c => s.push(c),
                    }
                    i += 1;
                }
                out.push(Token::Comment(s));
            }
            b'[' => {
                let end = value[i..].iter().position(|&c| c == b']').map_or(value.len(), |e| i + e + 1);
                out.push(Token::Literal(value[i..end].to_vec()));
                i = end;
            }
            b'<' | b'>' | b'@' | b',' | b';' | b':' | b'.' => {
                out.push(Token::Special(b));
                i += 1;
            }
            _ => {
                let start = i;
                while i < value.len() && !b" \t\r\n\"(<>@,;:.[".contains(&value[i]) {
                    i += 1;
                }
                out.push(Token::Atom(value[start..i].to_vec()));
            }
        }
    }
    out
}

/// Parses an address-list header value.
pub fn parse_list(value: &[u8]) -> Vec<Address> {
    let toks = tokens(value);
    let mut out = Vec::new();
    let mut buf: Vec<Token> = Vec::new();
    let mut in_group = false;
    let mut i = 0;
    while i < toks.len() {
        match &toks[i] {
            Token::Special(b',') => mailbox(&std::mem::take(&mut buf), None, &mut out),
            Token::Special(b':') if !in_group && !buf.is_empty() => {
                let name = phrase(&buf);
                buf.clear();
                out.push(Address { mailbox: Some(name), ..Address::default() });
                in_group = true;
            }
            Token::Special(b';') if in_group => {
                mailbox(&std::mem::take(&mut buf), None, &mut out);
                out.push(Address::default());
                in_group = false;
            }
            Token::Special(b'<') => {
                let end = toks[i..].iter().position(|t| *t == Token::Special(b'>')).map_or(toks.len(), |e| i + e);
                mailbox(&std::mem::take(&mut buf), Some(&toks[i + 1..end]), &mut out);
                // Skip anything up to the next separator.
                i = end;
                while i + 1 < toks.len() && !matches!(toks[i + 1], Token::Special(b',' | b';')) {
                    i += 1;
                }
            }
            t => buf.push(t.clone()),
        }
        i += 1;
    }
    mailbox(&buf, None, &mut out);
    if in_group {
        out.push(Address::default());
    }
    out
}

/// Adds the mailbox made of `phrase_or_spec` (and the angle-addr contents, if any).
fn mailbox(before: &[Token], angle: Option<&[Token]>, out: &mut Vec<Address>) {
    let comment = before.iter().rev().find_map(|t| match t {
        Token::Comment(c) if !c.is_empty() => Some(c.clone()),
        _ => None,
    });
    let words: Vec<Token> = before.iter().filter(|t| !matches!(t, Token::Comment(_))).cloned().collect();
    let (name, spec, adl) = match angle {
        Some(inner) => {
            let inner: Vec<Token> = inner.iter().filter(|t| !matches!(t, Token::Comment(_))).cloned().collect();
            // obs-route: "@a,@b:" before the addr-spec.
            let (adl, spec) = match inner.iter().position(|t| *t == Token::Special(b':')) {
                Some(colon) if inner.first() == Some(&Token::Special(b'@')) => {
                    (Some(text(&inner[..colon])), inner[colon + 1..].to_vec())
                }
                _ => (None, inner),
            };
            let name = if words.is_empty() { comment } else { Some(phrase(&words)) };
            (name, spec, adl)
        }
        None if words.is_empty() => return,
        None => (comment, words, None),
    };
    if spec.is_empty() && angle.is_some() {
        // "<>": the null address.
        out.push(Address { name, adl, mailbox: Some(Vec::new()), host: Some(MISSING_HOST.to_vec()) });
        return;
    }
    let at = spec.iter().rposition(|t| *t == Token::Special(b'@'));
    let (local, host) = match at {
        Some(at) => (text(&spec[..at]), text(&spec[at + 1..])),
        None => (text(&spec), Vec::new()),
    };
    let host = if host.is_empty() { MISSING_HOST.to_vec() } else { host };
    out.push(Address { name, adl, mailbox: Some(local), host: Some(host) });
}

/// Tokens written back without spaces (addr-spec, route): quoted strings stay quoted.
fn text(toks: &[Token]) -> Vec<u8> {
    let mut out = Vec::new();
    for t in toks {
        match t {
            Token::Atom(a) | Token::Literal(a) => out.extend_from_slice(a),
            Token::Quoted(q) => crate::response::quoted(&mut out, q),
            Token::Special(s) => out.push(*s),
            Token::Comment(_) => {}
        }
    }
    out
}

/// A display name: words joined by one space, quotes removed; '.' joins (obs-phrase).
fn phrase(toks: &[Token]) -> Vec<u8> {
    let mut out = Vec::new();
    for t in toks {
        let word: &[u8] = match t {
            Token::Atom(a) | Token::Quoted(a) | Token::Literal(a) => a,
            Token::Special(s) => std::slice::from_ref(s),
            Token::Comment(_) => continue,
        };
        let glue = matches!(t, Token::Special(b'.'));
        if !out.is_empty() && !glue {
            out.push(b' ');
        }
        out.extend_from_slice(word);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(name: Option<&str>, mailbox: &str, host: &str) -> Address {
        Address {
            name: name.map(|n| n.as_bytes().to_vec()),
            adl: None,
            mailbox: Some(mailbox.as_bytes().to_vec()),
            host: Some(host.as_bytes().to_vec()),
        }
    }

    #[test]
    fn mailboxes() {
        assert_eq!(parse_list(b"alice@example.com"), [a(None, "alice", "example.com")]);
        assert_eq!(
            parse_list(b"\"Smith, Bob\" <bob@x.org>, Carol <carol@y.org> (work)"),
            [a(Some("Smith, Bob"), "bob", "x.org"), a(Some("Carol"), "carol", "y.org")]
        );
        assert_eq!(parse_list(b"dave@z.net (Dave Jones)"), [a(Some("Dave Jones"), "dave", "z.net")]);
        assert_eq!(parse_list(b"=?utf-8?q?J=C3=B6rg?= <j@x>"), [a(Some("=?utf-8?q?J=C3=B6rg?="), "j", "x")]);
        assert_eq!(parse_list(b"\"a b\"@x"), [a(None, "\"a b\"", "x")]);
        assert_eq!(parse_list(b"John Q. Public <jqp@x>"), [a(Some("John Q. Public"), "jqp", "x")]);
        let r = parse_list(b"<@hop1,@hop2:u@h>");
        assert_eq!(r[0].adl.as_deref(), Some(&b"@hop1,@hop2"[..]));
        assert_eq!(parse_list(b"root"), [a(None, "root", ".MISSING-HOST-NAME.")]);
        assert_eq!(parse_list(b""), []);
        assert_eq!(parse_list(b" , ,"), []);
    }

    #[test]
    fn groups() {
        let r = parse_list(b"Friends: a@b, \"C\" <c@d>;, e@f");
        assert_eq!(r.len(), 5);
        assert_eq!(r[0], Address { mailbox: Some(b"Friends".to_vec()), ..Default::default() });
        assert_eq!(r[1], a(None, "a", "b"));
        assert_eq!(r[3], Address::default());
        assert_eq!(r[4], a(None, "e", "f"));
        let r = parse_list(b"undisclosed-recipients:;");
        assert_eq!(
            r,
            [Address { mailbox: Some(b"undisclosed-recipients".to_vec()), ..Default::default() }, Address::default()]
        );
        // Unterminated group is closed.
        assert_eq!(parse_list(b"g: x@y").len(), 3);
    }

    #[test]
    fn garbage_never_panics() {
        for v in [&b"<"[..], b">", b"\"", b"(", b"@", b":;<>", b"a<b@c", b"<@:>", b"[", b"\\", b"(\\"] {
            let _ = parse_list(v);
        }
    }
}
