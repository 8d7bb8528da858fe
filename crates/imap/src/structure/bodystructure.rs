//! BODY and BODYSTRUCTURE (RFC 3501 7.4.2, 9 `body`): the MIME tree with sizes, line
//! counts, nested envelopes, and (BODYSTRUCTURE only) the extension data.

use super::envelope;
use super::header;
use super::mime::{Content, Part};
use crate::response::{nstring, string};

/// Writes BODYSTRUCTURE (`extended`) or BODY of `part`.
pub fn write(out: &mut Vec<u8>, msg: &[u8], part: &Part, extended: bool) {
    out.push(b'(');
    match &part.content {
        Content::Multipart(children) => {
            for child in children {
                write(out, msg, child, extended);
            }
            out.push(b' ');
            string(out, part.kind.1.as_bytes());
            if extended {
                out.push(b' ');
                params(out, &part.params);
                extension(out, msg, part);
            }
        }
        content => {
            let fields = part.fields(msg);
            let get = |n: &str| header::first(&fields, n);
            string(out, part.kind.0.as_bytes());
            out.push(b' ');
            string(out, part.kind.1.as_bytes());
            out.push(b' ');
            params(out, &part.params);
            out.push(b' ');
            nstring(out, get("Content-ID").as_deref());
            out.push(b' ');
            nstring(out, get("Content-Description").as_deref());
            out.push(b' ');
            // RFC 2045 6.1: 7bit is the default.
            string(out, get("Content-Transfer-Encoding").filter(|e| !e.is_empty()).as_deref().unwrap_or(b"7bit"));
            out.extend_from_slice(format!(" {}", part.body.len()).as_bytes());
            let body = &msg[part.body.clone()];
            if let Content::Message(inner) = content {
                out.push(b' ');
                envelope::write(out, &inner.fields(msg));
                out.push(b' ');
                write(out, msg, inner, extended);
                out.extend_from_slice(format!(" {}", lines(body)).as_bytes());
            } else if part.kind.0 == "text" {
                out.extend_from_slice(format!(" {}", lines(body)).as_bytes());
            }
            if extended {
                out.push(b' ');
                nstring(out, get("Content-MD5").as_deref());
                extension(out, msg, part);
            }
        }
    }
    out.push(b')');
}

/// body-fld-dsp SP body-fld-lang SP body-fld-loc (RFC 3501 9 `body-ext-1part`/`mpart`).
fn extension(out: &mut Vec<u8>, msg: &[u8], part: &Part) {
    let fields = part.fields(msg);
    out.push(b' ');
    match header::first(&fields, "Content-Disposition").map(|v| header::params(&v)).filter(|d| !d.value.is_empty()) {
        Some(d) => {
            out.push(b'(');
            string(out, d.value.as_bytes());
            out.push(b' ');
            params(out, &d.params);
            out.push(b')');
        }
        None => out.extend_from_slice(b"NIL"),
    }
    out.push(b' ');
    let langs: Vec<String> = header::first(&fields, "Content-Language")
        .map(|v| {
            String::from_utf8_lossy(&v).split(',').map(|l| l.trim().to_string()).filter(|l| !l.is_empty()).collect()
        })
        .unwrap_or_default();
    match langs.as_slice() {
        [] => out.extend_from_slice(b"NIL"),
        [one] => string(out, one.as_bytes()),
        many => {
            out.push(b'(');
            for (i, l) in many.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                string(out, l.as_bytes());
            }
            out.push(b')');
        }
    }
    out.push(b' ');
    nstring(out, header::first(&fields, "Content-Location").as_deref());
}

/// body-fld-param: `("name" "value" ...)` or NIL.
fn params(out: &mut Vec<u8>, params: &[(String, String)]) {
    if params.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for (i, (k, v)) in params.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        string(out, k.as_bytes());
        out.push(b' ');
        string(out, v.as_bytes());
    }
    out.push(b')');
}

/// Number of lines: line ends, plus a last line without one.
pub fn lines(body: &[u8]) -> usize {
    let n = body.iter().filter(|&&b| b == b'\n').count();
    n + usize::from(body.last().is_some_and(|&b| b != b'\n'))
}

#[cfg(test)]
mod tests {
    use super::super::mime;
    use super::*;

    fn bs(msg: &[u8], extended: bool) -> String {
        let mut out = Vec::new();
        write(&mut out, msg, &mime::parse(msg), extended);
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn simple_text() {
        let m = b"Subject: x\r\nContent-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n\r\nline 1\r\nline 2\r\n";
        assert_eq!(bs(m, false), "(\"text\" \"plain\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7bit\" 16 2)");
        assert_eq!(
            bs(m, true),
            "(\"text\" \"plain\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7bit\" 16 2 NIL NIL NIL NIL)"
        );
        assert_eq!(
            bs(b"\r\n", true),
            "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)"
        );
    }

    #[test]
    fn multipart_with_extensions() {
        let m = b"Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n\
Content-Type: image/png; name=a.png\r\nContent-Transfer-Encoding: base64\r\nContent-ID: <i@x>\r\n\
Content-Disposition: attachment; filename=\"a.png\"\r\nContent-Language: en, de\r\n\
Content-Location: http://x/a.png\r\nContent-MD5: abc=\r\n\r\nAAAA\r\n--b--\r\n";
        assert_eq!(
            bs(m, true),
            "((\"image\" \"png\" (\"name\" \"a.png\") \"<i@x>\" NIL \"base64\" 4 \"abc=\" \
(\"attachment\" (\"filename\" \"a.png\")) (\"en\" \"de\") \"http://x/a.png\") \"mixed\" (\"boundary\" \"b\") NIL NIL NIL)"
        );
        assert_eq!(bs(m, false), "((\"image\" \"png\" (\"name\" \"a.png\") \"<i@x>\" NIL \"base64\" 4) \"mixed\")");
    }

    #[test]
    fn nested_message() {
        let m = b"Content-Type: message/rfc822\r\n\r\nSubject: in\r\nFrom: a@b\r\n\r\nhi\r\n";
        assert_eq!(
            bs(m, false),
            "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 30 (NIL \"in\" ((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) \
((NIL NIL \"a\" \"b\")) NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 4 1) 4)"
        );
    }

    #[test]
    fn line_counts() {
        assert_eq!(lines(b""), 0);
        assert_eq!(lines(b"a"), 1);
        assert_eq!(lines(b"a\r\n"), 1);
        assert_eq!(lines(b"a\r\nb"), 2);
    }
}
