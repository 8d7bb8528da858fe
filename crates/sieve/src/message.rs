//! The message as scripts see it: header fields (unfolded and decoded, RFC 5228 2.7.2),
//! addresses in them, the body (RFC 5173), and edits by `addheader`/`deleteheader`.

use crate::mime::{self, Piece};
use mail_parser::parsers::MessageStream;
use mail_parser::{Address, HeaderValue};

/// One header field as it appears in the message.
#[derive(Debug, Clone, PartialEq)]
struct Field {
    name: String,
    /// Everything after the colon, folding and line end included.
    raw_value: String,
}

/// A message under a script.
#[derive(Debug, Clone)]
pub struct Message {
    fields: Vec<Field>,
    /// The octets after the header (the blank line excluded).
    body: Vec<u8>,
    edited: bool,
}

impl Message {
    /// Splits a message (LF or CRLF line ends) into header fields and body.
    pub fn parse(raw: &[u8]) -> Message {
        let (header, body) = split(raw);
        let text = String::from_utf8_lossy(header);
        let mut fields: Vec<Field> = Vec::new();
        for line in text.split_inclusive('\n') {
            if line.starts_with([' ', '\t']) {
                if let Some(last) = fields.last_mut() {
                    last.raw_value.push_str(line);
                }
                continue;
            }
            if let Some((name, value)) = line.split_once(':') {
                fields.push(Field { name: name.trim_end().to_string(), raw_value: value.to_string() });
            }
        }
        Message { fields, body: body.to_vec(), edited: false }
    }

    /// The message again, with the edits made.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for f in &self.fields {
            out.extend_from_slice(f.name.as_bytes());
            out.push(b':');
            out.extend_from_slice(f.raw_value.as_bytes());
            if !f.raw_value.ends_with('\n') {
                out.extend_from_slice(b"\r\n");
            }
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        out
    }

    pub fn edited(&self) -> bool {
        self.edited
    }

    /// RFC 5228 5.9: the size in octets.
    pub fn size(&self) -> u64 {
        self.to_bytes().len() as u64
    }

    /// The decoded, unfolded values of the fields named `name`, in order.
    pub fn values(&self, name: &str) -> Vec<String> {
        self.fields.iter().filter(|f| f.name.eq_ignore_ascii_case(name)).map(|f| decode(&f.raw_value)).collect()
    }

    /// The values of `name` as they are written (unfolded, not decoded).
    pub fn raw_values(&self, name: &str) -> Vec<String> {
        self.fields.iter().filter(|f| f.name.eq_ignore_ascii_case(name)).map(|f| unfold(&f.raw_value)).collect()
    }

    /// The addresses in the fields named `name`, each field's in order (RFC 5228 5.1).
    pub fn addresses(&self, name: &str) -> Vec<Vec<String>> {
        self.raw_values(name).iter().map(|v| addresses_in(v)).collect()
    }

    /// RFC 5293 4: adds a field first (or last).
    pub fn add(&mut self, name: &str, value: &str, last: bool) {
        let field = Field { name: name.to_string(), raw_value: format!(" {}\r\n", fold(value, name.len() + 2)) };
        if last {
            self.fields.push(field);
        } else {
            self.fields.insert(0, field);
        }
        self.edited = true;
    }

    /// RFC 5293 5: deletes the fields named `name` for which `select(occurrence, count,
    /// decoded value)` holds; returns how many went.
    pub fn delete(&mut self, name: &str, mut select: impl FnMut(usize, usize, &str) -> bool) -> usize {
        let count = self.fields.iter().filter(|f| f.name.eq_ignore_ascii_case(name)).count();
        let mut n = 0;
        let before = self.fields.len();
        self.fields.retain(|f| {
            if !f.name.eq_ignore_ascii_case(name) {
                return true;
            }
            n += 1;
            !select(n, count, &decode(&f.raw_value))
        });
        let removed = before - self.fields.len();
        self.edited |= removed > 0;
        removed
    }

    /// RFC 5173 5: the body, as the transform asks.
    pub fn body_raw(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// RFC 5173 5.2 `:content`: what the entities of the types `types` hold: a leaf its
    /// decoded content, a multipart its prologue and its epilogue, an enclosed message its
    /// header.
    pub fn body_content(&self, types: &[String]) -> Vec<String> {
        let wanted = |media: &Option<(String, String)>| types.iter().any(|t| mime::wanted(t, media));
        let mut out = Vec::new();
        for piece in mime::pieces(&self.pairs(), &self.body) {
            match piece {
                Piece::Leaf { media, text: Some(text) } if wanted(&media) => out.push(text),
                Piece::Multipart { subtype, prologue, epilogue }
                    if wanted(&Some(("multipart".into(), subtype.clone()))) =>
                {
                    out.extend([prologue, epilogue])
                }
                Piece::Message { header } if wanted(&Some(("message".into(), "rfc822".into()))) => out.push(header),
                _ => {}
            }
        }
        out
    }

    /// RFC 5173 5.3 `:text`: the text parts as a reader sees them, markup removed.
    pub fn body_text(&self) -> Vec<String> {
        let pieces = mime::pieces(&self.pairs(), &self.body);
        pieces
            .into_iter()
            .filter_map(|piece| match piece {
                Piece::Leaf { media, text: Some(text) } => mime::readable(&media, &text),
                _ => None,
            })
            .collect()
    }

    fn pairs(&self) -> Vec<(String, String)> {
        self.fields.iter().map(|f| (f.name.clone(), f.raw_value.clone())).collect()
    }
}

/// Header and body of a message; the blank line belongs to neither.
fn split(raw: &[u8]) -> (&[u8], &[u8]) {
    if raw.starts_with(b"\r\n") {
        return (&[], &raw[2..]);
    }
    if raw.starts_with(b"\n") {
        return (&[], &raw[1..]);
    }
    for i in 0..raw.len() {
        if raw[i..].starts_with(b"\n\r\n") {
            return (&raw[..i + 1], &raw[i + 3..]);
        }
        if raw[i..].starts_with(b"\n\n") {
            return (&raw[..i + 1], &raw[i + 2..]);
        }
    }
    (raw, &[])
}

/// RFC 5322 2.2.3: unfolding removes the line breaks before white space; RFC 5228 2.7.2
/// also drops leading and trailing white space.
fn unfold(raw: &str) -> String {
    raw.replace("\r\n", "\n").replace('\n', "").trim_matches([' ', '\t']).to_string()
}

/// RFC 2047 encoded words decoded (only when there are any, so spacing is kept otherwise).
fn decode(raw: &str) -> String {
    let unfolded = unfold(raw);
    if !unfolded.contains("=?") {
        return unfolded;
    }
    let input = format!("{unfolded}\r\n");
    match MessageStream::new(input.as_bytes()).parse_unstructured() {
        HeaderValue::Text(t) => t.trim().to_string(),
        _ => unfolded,
    }
}

/// Folds a long added value at spaces so lines stay under 78 characters (RFC 5322 2.1.1).
fn fold(value: &str, first: usize) -> String {
    let mut out = String::new();
    let mut line = first;
    for (i, word) in value.split(' ').enumerate() {
        if i > 0 {
            if line + 1 + word.len() > 76 && line > 1 {
                out.push_str("\r\n ");
                line = 1;
            } else {
                out.push(' ');
                line += 1;
            }
        }
        out.push_str(word);
        line += word.len();
    }
    out
}

/// The addr-specs in an address list (RFC 5322 3.4), groups flattened.
pub fn addresses_in(value: &str) -> Vec<String> {
    let input = format!("{value}\r\n");
    let mut out = Vec::new();
    let mut push = |a: &mail_parser::Addr| match &a.address {
        Some(addr) => out.push(addr.to_string()),
        None => out.push(a.name.as_deref().unwrap_or_default().to_string()),
    };
    match MessageStream::new(input.as_bytes()).parse_address() {
        HeaderValue::Address(Address::List(list)) => list.iter().for_each(&mut push),
        HeaderValue::Address(Address::Group(groups)) => {
            groups.iter().flat_map(|g| g.addresses.iter()).for_each(&mut push)
        }
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_unfolded_and_decoded_and_edits_show() {
        let mut m = Message::parse(b"Subject: =?utf-8?q?caf=C3=A9?= au\r\n lait\r\nTo: A <a@x.example>, b@y.example\r\nX-Empty:\r\n\r\nbody\r\n");
        assert_eq!(m.values("subject"), ["café au lait"]);
        assert_eq!(m.values("x-empty"), [""]);
        assert_eq!(m.addresses("to"), [vec!["a@x.example".to_string(), "b@y.example".to_string()]]);
        m.add("X-Sieve", "yes", false);
        m.add("X-Last", "1", true);
        assert_eq!(m.delete("to", |_, _, _| true), 1);
        let text = String::from_utf8(m.to_bytes()).unwrap();
        assert!(
            text.starts_with("X-Sieve: yes\r\nSubject:")
                && text.contains("X-Last: 1\r\n\r\nbody\r\n")
                && !text.contains("To:"),
            "{text}"
        );
        assert!(m.edited());
    }

    #[test]
    fn body_parts_by_type() {
        let m = Message::parse(
            b"Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nplain text\r\n--b\r\nContent-Type: text/html\r\n\r\n<b>html</b>\r\n--b--\r\n",
        );
        assert_eq!(m.body_content(&["text/plain".into()]), ["plain text"]);
        assert_eq!(m.body_content(&["text".into()]), ["plain text", "<b>html</b>"]);
        assert_eq!(m.body_content(&["multipart".into()]), ["", ""]);
        assert_eq!(m.body_text(), ["plain text", "html"]);
        assert!(m.body_raw().contains("--b--"));
    }
}
