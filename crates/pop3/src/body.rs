//! A message on the wire (RFC 1939 3): CRLF line ends although the Maildir stores LF, a line
//! that begins with `.` gets another `.` (byte-stuffing), and `.` CRLF ends it.

/// Appends the multi-line body of RETR (all of it) or TOP (`lines` body lines after the
/// header and the blank line, RFC 1939 7) to `out`, terminator included.
pub fn encode(message: &[u8], lines: Option<u32>, out: &mut Vec<u8>) {
    let mut in_body = false;
    let mut body_lines = 0u32;
    let mut rest = message;
    while !rest.is_empty() {
        let (line, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        rest = next;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if in_body && lines.is_some_and(|max| body_lines >= max) {
            break;
        }
        if in_body {
            body_lines += 1;
        }
        if line.first() == Some(&b'.') {
            out.push(b'.');
        }
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
        if line.is_empty() {
            in_body = true;
        }
    }
    out.extend_from_slice(b".\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(message: &[u8], lines: Option<u32>) -> String {
        let mut out = Vec::new();
        encode(message, lines, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn crlf_and_byte_stuffing() {
        let m = b"Subject: x\n\n.hidden\n..two\nend.\n.\n";
        assert_eq!(wire(m, None), "Subject: x\r\n\r\n..hidden\r\n...two\r\nend.\r\n..\r\n.\r\n");
        // CRLF in the file stays CRLF; a missing final newline is added before the terminator.
        assert_eq!(wire(b"A: b\r\n\r\nbody", None), "A: b\r\n\r\nbody\r\n.\r\n");
        assert_eq!(wire(b"", None), ".\r\n");
        // A bare CR inside a line is content, not a line end.
        assert_eq!(wire(b"A: b\n\nx\ry\n", None), "A: b\r\n\r\nx\ry\r\n.\r\n");
    }

    #[test]
    fn top_counts_body_lines_after_the_header() {
        let m = b"A: 1\nB: 2\n\nl1\n.l2\nl3\n";
        assert_eq!(wire(m, Some(0)), "A: 1\r\nB: 2\r\n\r\n.\r\n");
        assert_eq!(wire(m, Some(2)), "A: 1\r\nB: 2\r\n\r\nl1\r\n..l2\r\n.\r\n");
        assert_eq!(wire(m, Some(99)), wire(m, None));
        // A message without a body: TOP gives the header.
        assert_eq!(wire(b"A: 1\n", Some(5)), "A: 1\r\n.\r\n");
    }
}
