//! The MIME tree of a message (RFC 2045, RFC 2046 5.1 multipart boundaries, 5.2
//! message/rfc822), with exact byte offsets into the message for BODY[section].
//!
//! Input is the message with CRLF line ends (see `carrier_syntax::lines::to_crlf`). Parsing
//! never fails: a broken structure degrades to text, as clients expect something.

use super::header::{self, Field, Params};
use std::ops::Range;

/// Deeper nesting is treated as opaque text (guards the stack against crafted input).
const MAX_DEPTH: usize = 40;

/// One entity: the message itself, a body part, or an encapsulated message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// The header block, including the blank line that ends it (if any).
    pub header: Range<usize>,
    /// The body.
    pub body: Range<usize>,
    /// Content-Type, lower-cased type and subtype (defaulted per RFC 2045 5.2 / 2046 5.1.5).
    pub kind: (String, String),
    /// Content-Type parameters.
    pub params: Vec<(String, String)>,
    /// What the part contains.
    pub content: Content,
}

/// The children of a part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// A leaf.
    Leaf,
    /// multipart/*: one or more parts.
    Multipart(Vec<Part>),
    /// message/rfc822 (or message/global): the encapsulated message.
    Message(Box<Part>),
}

impl Part {
    /// The header fields of this entity.
    pub fn fields<'a>(&self, msg: &'a [u8]) -> Vec<Field<'a>> {
        header::fields(&msg[self.header.clone()])
    }

    /// The first field's unfolded value.
    pub fn field(&self, msg: &[u8], name: &str) -> Option<Vec<u8>> {
        header::first(&self.fields(msg), name)
    }
}

/// Parses a whole message.
pub fn parse(msg: &[u8]) -> Part {
    entity(msg, 0..msg.len(), false, 0)
}

/// Parses the entity in `range`; `digest` says the default type is message/rfc822.
fn entity(msg: &[u8], range: Range<usize>, digest: bool, depth: usize) -> Part {
    let bytes = &msg[range.clone()];
    let header_len = header_end(bytes);
    let header = range.start..range.start + header_len;
    let body = header.end..range.end;
    let fields = header::fields(&msg[header.clone()]);
    let ct = header::first(&fields, "Content-Type").map(|v| header::params(&v));
    let (kind, params) = content_type(ct, digest);
    let encoding = header::first(&fields, "Content-Transfer-Encoding").unwrap_or_default();
    let identity = matches!(encoding.to_ascii_lowercase().as_slice(), b"" | b"7bit" | b"8bit" | b"binary");
    let content = if depth >= MAX_DEPTH {
        Content::Leaf
    } else if kind.0 == "multipart" {
        let boundary = params.iter().find(|(k, _)| k.eq_ignore_ascii_case("boundary")).map(|(_, v)| v.as_bytes());
        match boundary.filter(|b| !b.is_empty()) {
            Some(b) => Content::Multipart(multipart(msg, body.clone(), b, kind.1 == "digest", depth)),
            None => Content::Multipart(vec![entity(msg, body.end..body.end, false, depth + 1)]),
        }
    } else if kind.0 == "message" && (kind.1 == "rfc822" || kind.1 == "global") && identity {
        Content::Message(Box::new(entity(msg, body.clone(), false, depth + 1)))
    } else {
        Content::Leaf
    };
    Part { header, body, kind, params, content }
}

fn content_type(ct: Option<Params>, digest: bool) -> ((String, String), Vec<(String, String)>) {
    let default = || {
        if digest {
            (("message".to_string(), "rfc822".to_string()), Vec::new())
        } else {
            // RFC 2045 5.2
            (("text".to_string(), "plain".to_string()), vec![("charset".to_string(), "us-ascii".to_string())])
        }
    };
    let Some(ct) = ct else { return default() };
    match ct.value.split_once('/') {
        Some((t, s)) if !t.is_empty() && !s.is_empty() => ((t.to_ascii_lowercase(), s.to_ascii_lowercase()), ct.params),
        // An unreadable Content-Type: RFC 2045 5.2 says treat it as the default.
        _ => default(),
    }
}

/// Length of the header block including the blank line; the whole input if there is none.
fn header_end(bytes: &[u8]) -> usize {
    if bytes.starts_with(b"\r\n") {
        return 2;
    }
    bytes.windows(4).position(|w| w == b"\r\n\r\n").map_or(bytes.len(), |i| i + 4)
}

/// RFC 2046 5.1.1: parts lie between delimiter lines `--boundary`; the CRLF before a
/// delimiter belongs to it; the close delimiter is `--boundary--`. Without a close
/// delimiter the last part runs to the end.
fn multipart(msg: &[u8], body: Range<usize>, boundary: &[u8], digest: bool, depth: usize) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut start: Option<usize> = None;
    let mut line = body.start;
    while line < body.end {
        let next = msg[line..body.end].iter().position(|&b| b == b'\n').map_or(body.end, |i| line + i + 1);
        if let Some(close) = delimiter(&msg[line..next], boundary) {
            // The CRLF ending the previous line is part of the delimiter.
            let end = if line >= body.start + 2 && &msg[line - 2..line] == b"\r\n" { line - 2 } else { line };
            if let Some(s) = start {
                parts.push(entity(msg, s..end.max(s), digest, depth + 1));
            }
            if close {
                start = None;
                break;
            }
            start = Some(next);
        }
        line = next;
    }
    if let Some(s) = start {
        parts.push(entity(msg, s..body.end, digest, depth + 1));
    }
    if parts.is_empty() {
        // RFC 3501 9 body-type-mpart needs one part: an empty text part at the end.
        parts.push(entity(msg, body.end..body.end, false, depth + 1));
    }
    parts
}

/// Whether the line is a delimiter: Some(true) for the close delimiter.
fn delimiter(line: &[u8], boundary: &[u8]) -> Option<bool> {
    let rest = line.strip_prefix(b"--")?.strip_prefix(boundary)?;
    let (close, rest) = match rest.strip_prefix(b"--") {
        Some(r) => (true, r),
        None => (false, rest),
    };
    // Transport padding (linear white space) may follow.
    rest.iter().all(|b| b.is_ascii_whitespace()).then_some(close)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const MULTI: &[u8] = b"From: a@b\r\nContent-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n\
preamble\r\n--XX\r\nContent-Type: text/plain\r\n\r\nhello\r\n--XX\r\n\
Content-Type: message/rfc822\r\n\r\nSubject: in\r\n\r\ninner body\r\n--XX--\r\nepilogue\r\n";

    #[test]
    fn single_part() {
        let m = b"Subject: x\r\n\r\nbody\r\n";
        let p = parse(m);
        assert_eq!(&m[p.header.clone()], b"Subject: x\r\n\r\n");
        assert_eq!(&m[p.body.clone()], b"body\r\n");
        assert_eq!(p.kind, ("text".into(), "plain".into()));
        assert_eq!(p.content, Content::Leaf);
        let p = parse(b"no header end");
        assert_eq!((p.header, p.body), (0..13, 13..13));
        let p = parse(b"\r\nbody only");
        assert_eq!((p.header, p.body), (0..2, 2..11));
    }

    #[test]
    fn multipart_offsets() {
        let p = parse(MULTI);
        let Content::Multipart(parts) = &p.content else { panic!("{p:?}") };
        assert_eq!(parts.len(), 2);
        assert_eq!(&MULTI[parts[0].body.clone()], b"hello");
        assert_eq!(&MULTI[parts[0].header.clone()], b"Content-Type: text/plain\r\n\r\n");
        let Content::Message(inner) = &parts[1].content else { panic!() };
        assert_eq!(&MULTI[inner.header.clone()], b"Subject: in\r\n\r\n");
        assert_eq!(&MULTI[inner.body.clone()], b"inner body");
    }

    #[test]
    fn broken_multiparts() {
        let m = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nunterminated";
        let Content::Multipart(parts) = parse(m).content else { panic!() };
        assert_eq!(&m[parts[0].body.clone()], b"unterminated");
        let m = b"Content-Type: multipart/mixed\r\n\r\nno boundary";
        let Content::Multipart(parts) = parse(m).content else { panic!() };
        assert_eq!(parts.len(), 1);
        let m = b"Content-Type: multipart/mixed; boundary=q\r\n\r\n--q--\r\n";
        let Content::Multipart(parts) = parse(m).content else { panic!() };
        assert_eq!(parts.len(), 1);
        let m = b"Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nSubject: s\r\n\r\nx\r\n--d--";
        let Content::Multipart(parts) = parse(m).content else { panic!() };
        assert_eq!(parts[0].kind, ("message".into(), "rfc822".into()));
        assert!(matches!(parts[0].content, Content::Message(_)));
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let mut m = Vec::new();
        for _ in 0..5000 {
            m.extend_from_slice(b"Content-Type: message/rfc822\r\n\r\n");
        }
        let _ = parse(&m);
    }
}
