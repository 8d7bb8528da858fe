//! RFC 5322 2.2 header fields: splitting, unfolding, selecting, and RFC 2045 5.1
//! parameters.

/// One header field: the name and the raw field (name, colon, value, folded lines and the
/// final CRLF), as offsets into the header block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field<'a> {
    /// The field name (bytes before the colon, trailing blanks removed).
    pub name: &'a [u8],
    /// The value after the colon, still folded.
    pub value: &'a [u8],
    /// The whole field including its line end(s).
    pub raw: &'a [u8],
}

/// Splits a header block (up to and including the blank line, or everything) into fields.
/// A line that neither starts a field nor continues one is kept as a field without a name.
pub fn fields(header: &[u8]) -> Vec<Field<'_>> {
    let mut out: Vec<Field> = Vec::new();
    let mut pos = 0;
    while pos < header.len() {
        let line_end = header[pos..].iter().position(|&b| b == b'\n').map_or(header.len(), |i| pos + i + 1);
        let line = &header[pos..line_end];
        if line == b"\r\n" || line == b"\n" {
            break;
        }
        let continuation = matches!(line.first(), Some(b' ' | b'\t'));
        match out.last_mut() {
            Some(last) if continuation => {
                let start = last.raw.as_ptr() as usize - header.as_ptr() as usize;
                last.raw = &header[start..line_end];
                let vstart = last.value.as_ptr() as usize - header.as_ptr() as usize;
                last.value = &header[vstart..line_end];
            }
            _ => {
                let colon = line.iter().position(|&b| b == b':');
                let (name, value) = match colon {
                    Some(c) => (trim_end(&line[..c]), &header[pos + c + 1..line_end]),
                    None => (&line[..0], &header[pos..pos]),
                };
                out.push(Field { name, value, raw: line });
            }
        }
        pos = line_end;
    }
    out
}

fn trim_end(b: &[u8]) -> &[u8] {
    let end = b.iter().rposition(|c| !c.is_ascii_whitespace()).map_or(0, |i| i + 1);
    &b[..end]
}

/// A field value unfolded (RFC 5322 2.2.3: CRLF before WSP removed) and trimmed.
pub fn unfold(value: &[u8]) -> Vec<u8> {
    let out: Vec<u8> = value.iter().copied().filter(|&b| b != b'\r' && b != b'\n').collect();
    let start = out.iter().position(|c| !matches!(c, b' ' | b'\t')).unwrap_or(out.len());
    let end = out.iter().rposition(|c| !matches!(c, b' ' | b'\t')).map_or(start, |i| i + 1);
    out[start..end.max(start)].to_vec()
}

/// The first field with this name (case-insensitive), unfolded.
pub fn first(fields: &[Field], name: &str) -> Option<Vec<u8>> {
    fields.iter().find(|f| f.name.eq_ignore_ascii_case(name.as_bytes())).map(|f| unfold(f.value))
}

/// HEADER.FIELDS / HEADER.FIELDS.NOT (RFC 3501 6.4.5): the fields whose names are (not)
/// in `names`, whole with their folded lines, then the blank line.
pub fn select(header: &[u8], names: &[String], keep: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for f in fields(header) {
        let listed = names.iter().any(|n| n.as_bytes().eq_ignore_ascii_case(f.name));
        // A nameless (malformed) line matches no name.
        if listed == keep && (!f.name.is_empty() || !keep) {
            out.extend_from_slice(f.raw);
            if !f.raw.ends_with(b"\n") {
                out.extend_from_slice(b"\r\n");
            }
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// A Content-Type / Content-Disposition value: the leading token(s) and the parameters
/// (RFC 2045 5.1, RFC 2183). Comments are skipped; quoted values are unquoted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    /// The value before the first `;` (for Content-Type: `type/subtype`), trimmed.
    pub value: String,
    /// Parameters in order, attribute names as written.
    pub params: Vec<(String, String)>,
}

/// Parses `value *(";" attribute "=" value)`.
pub fn params(raw: &[u8]) -> Params {
    let text = strip_comments(raw);
    let mut p = Params::default();
    let mut chars = text.chars().peekable();
    let mut head = String::new();
    while let Some(&c) = chars.peek() {
        if c == ';' {
            break;
        }
        head.push(c);
        chars.next();
    }
    p.value = head.split_whitespace().collect::<Vec<_>>().join("");
    while chars.next() == Some(';') {
        let mut name = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c == ';' {
                break;
            }
            name.push(c);
            chars.next();
        }
        let name = name.trim().to_string();
        let mut value = String::new();
        if chars.peek() == Some(&'=') {
            chars.next();
            while chars.peek().is_some_and(|c| c.is_whitespace()) {
                chars.next();
            }
            if chars.peek() == Some(&'"') {
                chars.next();
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => value.extend(chars.next()),
                        c => value.push(c),
                    }
                }
                while chars.peek().is_some_and(|&c| c != ';') {
                    chars.next();
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c == ';' {
                        break;
                    }
                    value.push(c);
                    chars.next();
                }
                value = value.trim().to_string();
            }
        }
        if !name.is_empty() {
            p.params.push((name, value));
        }
    }
    p
}

/// Removes RFC 5322 comments outside quoted strings; the text is read as UTF-8 (lossy).
fn strip_comments(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let mut out = String::with_capacity(text.len());
    let (mut depth, mut quoted, mut escaped) = (0u32, false, false);
    for c in text.chars() {
        if escaped {
            escaped = false;
            if depth == 0 {
                out.push(c);
            }
            continue;
        }
        match c {
            '\\' => {
                escaped = true;
                if depth == 0 {
                    out.push(c);
                }
            }
            '"' if depth == 0 => {
                quoted = !quoted;
                out.push(c);
            }
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => depth -= 1,
            c if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &[u8] = b"From: a@b\r\nSubject: hello\r\n world\r\nto: c@d\r\nbogus line\r\nX: \r\n\r\n";

    #[test]
    fn split_and_unfold() {
        let f = fields(H);
        assert_eq!(f.len(), 5);
        assert_eq!(f[1].name, b"Subject");
        assert_eq!(f[1].raw, b"Subject: hello\r\n world\r\n");
        assert_eq!(unfold(f[1].value), b"hello world");
        assert_eq!(f[3].name, b"");
        assert_eq!(first(&f, "TO").unwrap(), b"c@d");
        assert_eq!(first(&f, "x").unwrap(), b"");
        assert_eq!(first(&f, "cc"), None);
    }

    #[test]
    fn header_fields() {
        let names = ["subject".to_string(), "TO".into()];
        assert_eq!(select(H, &names, true), b"Subject: hello\r\n world\r\nto: c@d\r\n\r\n");
        assert_eq!(select(H, &names, false), b"From: a@b\r\nbogus line\r\nX: \r\n\r\n");
        assert_eq!(select(b"A: 1", &names, false), b"A: 1\r\n\r\n");
        assert_eq!(select(b"", &names, true), b"\r\n");
    }

    #[test]
    fn parameters() {
        let p = params(b" text/plain (comment); charset=\"utf-8\" ; format = flowed;x=\"a\\\"b;c\"");
        assert_eq!(p.value, "text/plain");
        assert_eq!(
            p.params,
            [("charset".into(), "utf-8".into()), ("format".into(), "flowed".into()), ("x".into(), "a\"b;c".into())]
        );
        assert_eq!(params(b"multipart/mixed; boundary=\"(x)\"").params[0].1, "(x)");
        assert_eq!(params(b"").value, "");
        assert_eq!(params(b";;=;").params, []);
    }
}
