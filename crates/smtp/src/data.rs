//! Message content: the DATA terminator and dot-unstuffing (RFC 5321 4.5.2), and the
//! checks every byte of content passes whether it came by DATA or BDAT.
//!
//! SMTP smuggling is impossible by construction: only CRLF "." CRLF ends DATA. A bare LF
//! is normalised to CRLF inside the content (as Postfix's `smtpd_forbid_bare_newline =
//! normalize`, so LF-only scripts keep working) but a "." line after a bare LF is content,
//! never the end. A bare CR is flagged and the message refused once read to its real end.

use crate::reply::Reply;

/// RFC 5321 4.5.3.1.6: a text line is at most 1000 octets including CRLF.
pub const MAX_LINE: usize = 1000;

/// Accumulates content and remembers what was wrong with it.
#[derive(Debug)]
pub struct Content {
    message: Vec<u8>,
    max_size: u64,
    size: u64,
    line_len: usize,
    last: u8,
    too_big: bool,
    /// The server ran out of memory for messages in progress: store nothing more, refuse.
    shed: bool,
    long_line: bool,
    bare_newline: bool,
    nul: bool,
}

impl Content {
    /// An empty message that may grow to `max_size` octets.
    pub fn new(max_size: u64) -> Content {
        Content {
            message: Vec::new(),
            max_size,
            size: 0,
            line_len: 0,
            last: b'\n',
            too_big: false,
            shed: false,
            long_line: false,
            bare_newline: false,
            nul: false,
        }
    }

    /// Appends a piece of content. A CR at the end of `bytes` must be followed by the
    /// first byte of the next call (callers hold back a trailing CR until they know).
    pub fn push(&mut self, bytes: &[u8]) {
        self.scan(bytes);
        self.size += bytes.len() as u64;
        if self.size > self.max_size {
            // Keep reading to the end so the reply comes at the right moment, but store nothing more.
            self.too_big = true;
            self.message = Vec::new();
        } else if !self.shed {
            self.message.extend_from_slice(bytes);
        }
    }

    fn scan(&mut self, bytes: &[u8]) {
        let mut prev = self.last;
        for &b in bytes {
            if prev == b'\r' && b != b'\n' {
                self.bare_newline = true;
            }
            match b {
                b'\n' if prev == b'\r' => {
                    // line_len counted the CR; the LF makes the line line_len + 1 octets.
                    if self.line_len + 1 > MAX_LINE {
                        self.long_line = true;
                    }
                    self.line_len = 0;
                }
                b'\n' => {
                    self.bare_newline = true;
                    self.line_len += 1;
                }
                0 => {
                    self.nul = true;
                    self.line_len += 1;
                }
                _ => self.line_len += 1,
            }
            if self.line_len > MAX_LINE {
                self.long_line = true;
            }
            prev = b;
        }
        self.last = prev;
    }

    /// Octets received so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Octets held in memory.
    pub fn held(&self) -> usize {
        self.message.len()
    }

    /// Drops what is held and stores nothing more: the server has no memory to spare for
    /// this message. The rest is still read, and the message refused with 452 4.3.1.
    pub fn shed(&mut self) {
        self.shed = true;
        self.message = Vec::new();
    }

    /// The finished message, or the reply refusing it (RFC 5321 4.3.2 lists 552/554 after DATA).
    pub fn finish(self) -> Result<Vec<u8>, Reply> {
        let mut content = self;
        // A message that does not end in CRLF (possible with BDAT) gets one.
        if content.last != b'\n' && content.last != b'\r' && !content.too_big && content.size > 0 {
            content.push(b"\r\n");
        }
        if content.too_big {
            let limit = content.max_size;
            return Err(Reply::new(552, "5.3.4", format!("Message exceeds the size limit of {limit} octets")));
        }
        if content.shed {
            // RFC 5321 4.2.3 and RFC 3463 4.3.1: a temporary shortage; the client tries again.
            let text = "Insufficient system resources: too many messages arriving at once; try again later";
            return Err(Reply::new(452, "4.3.1", text));
        }
        if content.bare_newline || content.last == b'\r' {
            return Err(Reply::new(
                554,
                "5.6.0",
                "Message contains a bare CR or LF; lines must end with CRLF (RFC 5321 2.3.8)",
            ));
        }
        if content.nul {
            return Err(Reply::new(554, "5.6.0", "Message contains NUL characters"));
        }
        if content.long_line {
            return Err(Reply::new(554, "5.6.0", "Message has a line longer than 1000 octets (RFC 5321 4.5.3.1.6)"));
        }
        Ok(content.message)
    }
}

/// Reads DATA content up to the CRLF "." CRLF terminator.
#[derive(Debug)]
pub struct DataReader {
    content: Content,
    line_start: bool,
    /// The previous line ended with a real CRLF (or this is the first line).
    after_crlf: bool,
}

impl DataReader {
    /// The content so far (for [`Content::held`] and [`Content::shed`]).
    pub fn content(&mut self) -> &mut Content {
        &mut self.content
    }

    /// Starts reading right after the 354 reply.
    pub fn new(max_size: u64) -> DataReader {
        DataReader { content: Content::new(max_size), line_start: true, after_crlf: true }
    }

    /// Consumes what it can of `input`; returns octets consumed and whether the end was seen.
    pub fn feed(&mut self, input: &[u8]) -> (usize, bool) {
        let mut i = 0;
        loop {
            let rest = &input[i..];
            if self.line_start {
                match rest {
                    [] | [b'.'] | [b'.', b'\r'] => return (i, false),
                    // RFC 5321 4.1.1.4: the end is CRLF "." CRLF and nothing else.
                    [b'.', b'\r', b'\n', ..] if self.after_crlf => return (i + 3, true),
                    // A lone dot after a bare LF is content: this is where smuggling would start.
                    [b'.', b'\r', b'\n', ..] | [b'.', b'\n', ..] => {}
                    // RFC 5321 4.5.2: a leading dot is removed (dot-unstuffing).
                    [b'.', ..] => i += 1,
                    _ => {}
                }
                self.line_start = false;
                continue;
            }
            match rest.iter().position(|&b| b == b'\n') {
                // A trailing CR is always held back below, so the CR of a CRLF is in `rest`.
                Some(p) if p > 0 && rest[p - 1] == b'\r' => {
                    self.content.push(&rest[..=p]);
                    self.after_crlf = true;
                    self.end_line(&mut i, p);
                }
                Some(p) => {
                    // Bare LF: normalised to CRLF, but it never makes the next "." an end.
                    self.content.push(&rest[..p]);
                    self.content.push(b"\r\n");
                    self.after_crlf = false;
                    self.end_line(&mut i, p);
                }
                None => {
                    // Hold back a trailing CR: it may be the start of CRLF.
                    let take = if rest.ends_with(b"\r") { rest.len() - 1 } else { rest.len() };
                    self.content.push(&rest[..take]);
                    return (i + take, false);
                }
            }
        }
    }

    fn end_line(&mut self, i: &mut usize, lf: usize) {
        *i += lf + 1;
        self.line_start = true;
    }

    /// Octets of content so far.
    pub fn size(&self) -> u64 {
        self.content.size()
    }

    /// The message, or the reply refusing it.
    pub fn finish(self) -> Result<Vec<u8>, Reply> {
        self.content.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` in chunks of `step` octets; returns the message and octets consumed.
    fn read(input: &[u8], step: usize) -> (Option<Result<Vec<u8>, Reply>>, usize) {
        let mut r = DataReader::new(1 << 20);
        let mut buf = Vec::new();
        let mut consumed_total = 0;
        for chunk in input.chunks(step.max(1)) {
            buf.extend_from_slice(chunk);
            let (n, done) = r.feed(&buf);
            buf.drain(..n);
            consumed_total += n;
            if done {
                return (Some(r.finish()), consumed_total);
            }
        }
        (None, consumed_total)
    }

    fn ok(input: &[u8]) -> Vec<u8> {
        let mut first = None;
        for step in [1, 2, 3, 7, input.len()] {
            let m = read(input, step).0.expect("terminator").expect("accepted");
            if let Some(f) = &first {
                assert_eq!(f, &m, "chunking changed the result (step {step})");
            }
            first = Some(m);
        }
        first.unwrap()
    }

    fn refused(input: &[u8]) -> Reply {
        for step in [1, 3, input.len()] {
            assert!(read(input, step).0.expect("terminator").is_err());
        }
        read(input, input.len()).0.unwrap().unwrap_err()
    }

    #[test]
    fn simple_message() {
        assert_eq!(ok(b"Subject: x\r\n\r\nhello\r\n.\r\n"), b"Subject: x\r\n\r\nhello\r\n");
    }

    #[test]
    fn empty_message() {
        assert_eq!(ok(b".\r\n"), b"");
    }

    #[test]
    fn dot_unstuffing() {
        assert_eq!(ok(b"..leading\r\n...\r\n.\r\n"), b".leading\r\n..\r\n");
    }

    #[test]
    fn stops_exactly_at_terminator() {
        let (m, n) = read(b"a\r\n.\r\nQUIT\r\n", 100);
        assert_eq!(m.unwrap().unwrap(), b"a\r\n");
        assert_eq!(n, 6);
    }

    #[test]
    fn smuggling_variants_do_not_end_data() {
        // Each holds a fake end of data and a second transaction; only the real CRLF.CRLF
        // at the very end may end the message, and the fake one must stay inside it.
        for evil in [
            &b"a\n.\nMAIL FROM:<x@y.example>\r\n.\r\n"[..],
            b"a\r.\rMAIL FROM:<x@y.example>\r\n.\r\n",
            b"a\n.\r\nMAIL FROM:<x@y.example>\r\n.\r\n",
            b"a\r\n.\nMAIL FROM:<x@y.example>\r\n.\r\n",
            b"a\r\n.\rMAIL FROM:<x@y.example>\r\n.\r\n",
        ] {
            for step in [1, 2, evil.len()] {
                let (m, n) = read(evil, step);
                assert_eq!(n, evil.len(), "{:?} ended early", String::from_utf8_lossy(evil));
                match m.unwrap() {
                    Ok(message) => {
                        assert!(message.windows(9).any(|w| w == b"MAIL FROM"), "{message:?}")
                    }
                    Err(reply) => assert_eq!((reply.code, reply.status), (554, Some("5.6.0"))),
                }
            }
        }
    }

    #[test]
    fn bare_lf_is_normalised_and_dots_still_unstuffed() {
        assert_eq!(ok(b"a\nb\r\n..c\n.\n\r\n.\r\n"), b"a\r\nb\r\n.c\r\n.\r\n\r\n");
        // "a LF . CRLF" is not the end either: the dot line did not follow a real CRLF.
        assert_eq!(ok(b"a\n.\r\nb\r\n.\r\n"), b"a\r\n.\r\nb\r\n");
    }

    #[test]
    fn bare_cr_refused() {
        assert_eq!(refused(b"a\rb\r\n.\r\n").code, 554);
        assert_eq!(refused(b"a\r\r\n.\r\n").code, 554);
    }

    #[test]
    fn nul_refused() {
        assert_eq!(refused(b"a\0b\r\n.\r\n").text(), "Message contains NUL characters");
    }

    #[test]
    fn line_length_limit() {
        let mut fine = vec![b'x'; 998];
        fine.extend_from_slice(b"\r\n.\r\n");
        assert_eq!(ok(&fine).len(), 1000);
        let mut long = vec![b'x'; 999];
        long.extend_from_slice(b"\r\n.\r\n");
        assert!(refused(&long).text().contains("1000 octets"));
    }

    #[test]
    fn size_limit() {
        let mut r = DataReader::new(10);
        let (n, done) = r.feed(b"0123456789abcdef\r\n.\r\n");
        assert!(done);
        assert_eq!(n, 21);
        let reply = r.finish().unwrap_err();
        assert_eq!((reply.code, reply.status), (552, Some("5.3.4")));
    }

    #[test]
    fn cr_split_across_chunks_is_seen() {
        let mut c = Content::new(100);
        c.push(b"a\r");
        c.push(b"b\r\n");
        assert_eq!(c.finish().unwrap_err().code, 554);
        let mut c = Content::new(100);
        c.push(b"a\r");
        c.push(b"\nb\r\n");
        assert_eq!(c.finish().unwrap(), b"a\r\nb\r\n");
        let mut c = Content::new(100);
        c.push(b"a\r");
        assert_eq!(c.finish().unwrap_err().code, 554);
    }

    #[test]
    fn content_adds_final_crlf_for_bdat() {
        let mut c = Content::new(100);
        c.push(b"Subject: x\r\n\r\nno newline");
        assert_eq!(c.finish().unwrap(), b"Subject: x\r\n\r\nno newline\r\n");
    }
}
