//! The MIME structure the `body` test searches (RFC 5173 5.2): every entity of the message,
//! descending into multiparts and `message/rfc822` parts, with what each contributes: a
//! leaf its decoded content, a multipart its prologue and epilogue, an enclosed message its
//! header. Boundaries are found line by line (RFC 2046 5.1.1).

use mail_parser::decoders::{base64, charsets, html, quoted_printable};

/// Multiparts and messages inside each other that are followed; deeper ones are ignored.
const MAX_DEPTH: usize = 20;

/// A media type, lower-case; None when the field is malformed (`text/plain/stupid`).
type MediaType = Option<(String, String)>;

/// One entity's contribution to the search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// A leaf part's decoded content; None when it cannot be decoded (an unknown
    /// Content-Transfer-Encoding).
    Leaf { media: MediaType, text: Option<String> },
    /// A multipart's prologue and epilogue, apart.
    Multipart { subtype: String, prologue: String, epilogue: String },
    /// An enclosed message's header, as written.
    Message { header: String },
}

/// The pieces of a message whose header is `fields` (name, raw value) and body `body`.
pub fn pieces(fields: &[(String, String)], body: &[u8]) -> Vec<Piece> {
    let mut out = Vec::new();
    walk(fields, body, ("text", "plain"), 0, &mut out);
    out
}

/// RFC 5173 5.2: "" matches every type, `type` every subtype of it, `type/subtype` exactly
/// that; a specification with a leading or trailing slash or two slashes matches nothing.
pub fn wanted(spec: &str, media: &MediaType) -> bool {
    let spec = spec.to_ascii_lowercase();
    if spec.is_empty() {
        return true;
    }
    let Some((kind, sub)) = media else { return false };
    match spec.split_once('/') {
        None => spec == *kind,
        Some((k, s)) => !k.is_empty() && !s.is_empty() && !s.contains('/') && k == kind && s == sub,
    }
}

fn walk(fields: &[(String, String)], body: &[u8], default: (&str, &str), depth: usize, out: &mut Vec<Piece>) {
    let field = |name: &str| fields.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
    let (media, params) = match field("content-type") {
        Some(value) => media_type(value),
        None => (Some((default.0.to_string(), default.1.to_string())), Vec::new()),
    };
    let param = |name: &str| params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    match &media {
        Some((kind, sub)) if kind == "multipart" && depth < MAX_DEPTH => {
            let Some(boundary) = param("boundary") else {
                out.push(Piece::Leaf { media: media.clone(), text: Some(lossy(body)) });
                return;
            };
            let (prologue, parts, epilogue) = split_multipart(body, boundary);
            out.push(Piece::Multipart { subtype: sub.clone(), prologue: lossy(prologue), epilogue: lossy(epilogue) });
            // RFC 2046 5.1.5: in a digest, parts are messages unless they say otherwise.
            let inner = if sub == "digest" { ("message", "rfc822") } else { ("text", "plain") };
            for part in parts {
                let (fields, body) = header_and_body(part);
                walk(&fields, body, inner, depth + 1, out);
            }
        }
        Some((kind, sub)) if kind == "message" && sub == "rfc822" && depth < MAX_DEPTH => {
            let (fields, inner) = header_and_body(body);
            let header_len = body.len() - inner.len();
            let header = lossy(&body[..header_len]);
            let header = header.strip_suffix("\r\n").or_else(|| header.strip_suffix('\n')).unwrap_or(&header);
            out.push(Piece::Message { header: header.to_string() });
            walk(&fields, inner, ("text", "plain"), depth + 1, out);
        }
        _ => {
            let text = decode(field("content-transfer-encoding"), param("charset"), body);
            out.push(Piece::Leaf { media, text });
        }
    }
}

/// `type/subtype; name=value; ...` (RFC 2045 5.1); the type is None when it is malformed.
fn media_type(value: &str) -> (MediaType, Vec<(String, String)>) {
    let mut items = split_params(value);
    let first = if items.is_empty() { String::new() } else { items.remove(0) };
    let token = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_graphic() && !"()<>@,;:\\\"/[]?=".contains(c));
    let media = first
        .trim()
        .to_ascii_lowercase()
        .split_once('/')
        .filter(|(k, s)| token(k) && token(s))
        .map(|(k, s)| (k.to_string(), s.to_string()));
    let params = items
        .iter()
        .filter_map(|p| {
            let (name, value) = p.split_once('=')?;
            let value = value.trim();
            let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value);
            Some((name.trim().to_ascii_lowercase(), value.replace("\\\"", "\"")))
        })
        .collect();
    (media, params)
}

/// Splits at `;` outside quoted strings.
fn split_params(value: &str) -> Vec<String> {
    let (mut out, mut current, mut quoted, mut escaped) = (Vec::new(), String::new(), false, false);
    for c in value.replace(['\r', '\n'], "").chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ';' if !quoted => {
                out.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    out.push(current);
    out
}

/// Prologue, the parts, and epilogue of a multipart body. The line end before a delimiter
/// belongs to the delimiter (RFC 2046 5.1.1).
fn split_multipart<'a>(body: &'a [u8], boundary: &str) -> (&'a [u8], Vec<&'a [u8]>, &'a [u8]) {
    let delimiter = format!("--{boundary}");
    let (mut parts, mut start, mut prologue, mut pos) = (Vec::new(), None::<usize>, None, 0);
    while pos < body.len() {
        let end = body[pos..].iter().position(|b| *b == b'\n').map_or(body.len(), |i| pos + i + 1);
        let line = trim_line(&body[pos..end]);
        if let Some(rest) = line.strip_prefix(delimiter.as_bytes()) {
            let rest = trim_space(rest);
            let closing = rest == b"--";
            if rest.is_empty() || closing {
                let before = without_line_end(&body[..pos]);
                match start {
                    None => prologue = Some(&body[..before]),
                    Some(s) => parts.push(&body[s..before.max(s)]),
                }
                if closing {
                    return (prologue.unwrap_or_default(), parts, &body[end..]);
                }
                start = Some(end);
            }
        }
        pos = end;
    }
    // No closing delimiter: the last part runs to the end.
    if let Some(s) = start {
        parts.push(&body[s..]);
    }
    (prologue.unwrap_or(body), parts, &[])
}

/// The offset where the line end that ends `text` starts.
fn without_line_end(text: &[u8]) -> usize {
    let n = text.len();
    if text.ends_with(b"\r\n") {
        n - 2
    } else if text.ends_with(b"\n") {
        n - 1
    } else {
        n
    }
}

fn trim_line(line: &[u8]) -> &[u8] {
    &line[..without_line_end(line)]
}

fn trim_space(s: &[u8]) -> &[u8] {
    let end = s.iter().rposition(|b| !b" \t".contains(b)).map_or(0, |i| i + 1);
    &s[..end]
}

/// An entity's header fields (name, raw value) and body.
pub fn header_and_body(entity: &[u8]) -> (Vec<(String, String)>, &[u8]) {
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut pos = 0;
    while pos < entity.len() {
        let end = entity[pos..].iter().position(|b| *b == b'\n').map_or(entity.len(), |i| pos + i + 1);
        let line = &entity[pos..end];
        if trim_line(line).is_empty() {
            return (fields, &entity[end..]);
        }
        let text = String::from_utf8_lossy(line);
        if line.starts_with(b" ") || line.starts_with(b"\t") {
            if let Some(last) = fields.last_mut() {
                last.1.push_str(&text);
            }
        } else if let Some((name, value)) = text.split_once(':') {
            fields.push((name.trim().to_string(), value.to_string()));
        } else {
            // Not a header line: the entity has no header, all of it is body.
            return (Vec::new(), entity);
        }
        pos = end;
    }
    (fields, &entity[entity.len()..])
}

/// A leaf's content: transfer decoding (RFC 2045 6), then its charset; None for an
/// encoding that is not one of RFC 2045's.
fn decode(encoding: Option<&str>, charset: Option<&str>, body: &[u8]) -> Option<String> {
    let encoding = encoding.map(|e| e.trim().to_ascii_lowercase()).unwrap_or_default();
    let bytes = match encoding.as_str() {
        "" | "7bit" | "8bit" | "binary" => body.to_vec(),
        "base64" => base64::base64_decode(body)?,
        "quoted-printable" => quoted_printable::quoted_printable_decode(body)?,
        _ => return None,
    };
    let decoder = charset.and_then(|c| charsets::map::charset_decoder(c.as_bytes()));
    Some(match decoder {
        Some(decode) => decode(&bytes),
        None => String::from_utf8_lossy(&bytes).into_owned(),
    })
}

/// RFC 5173 5.3 `:text`: what a reader sees of a text part (markup removed).
pub fn readable(media: &MediaType, text: &str) -> Option<String> {
    let (kind, sub) = media.as_ref()?;
    match (kind.as_str(), sub.as_str()) {
        ("text", "html") | ("application", "xhtml+xml") => Some(html::html_to_text(text)),
        ("text", _) => Some(text.to_string()),
        _ => None,
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
