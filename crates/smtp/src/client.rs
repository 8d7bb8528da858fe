//! The client side of SMTP, sans-IO: reading the server's replies, its EHLO keywords, the
//! commands of a transaction and the message's wire form (RFC 5321). The relay agent
//! drives these over TCP or TLS.

/// RFC 5321 4.5.3.1.5 allows reply lines of 512 octets; real servers send longer ones, so
/// accept up to this much before calling the peer broken.
const MAX_REPLY_LINE: usize = 4096;
/// A reply of more lines than this is not a reply but a stream of garbage.
const MAX_REPLY_LINES: usize = 200;

/// One reply from a server: its code and text lines (without the code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The three-digit code.
    pub code: u16,
    /// The text of each line, after `code-` or `code `.
    pub lines: Vec<String>,
}

impl Response {
    /// 2xx and 3xx.
    pub fn is_positive(&self) -> bool {
        self.code < 400
    }

    /// The enhanced status code the server gave (RFC 2034 / RFC 3463), if its class
    /// agrees with the reply code; otherwise a generic one for the class.
    pub fn status(&self) -> String {
        let given = self.lines.last().and_then(|l| l.split(' ').next()).filter(|s| is_enhanced(s, self.code));
        match given {
            Some(s) => s.to_string(),
            None => format!("{}.0.0", self.code / 100),
        }
    }

    /// The whole reply on one line, as logs and bounces quote it ("550 5.1.1 No such user").
    pub fn one_line(&self) -> String {
        let text = self.lines.iter().map(|l| l.trim()).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ");
        if text.is_empty() { self.code.to_string() } else { format!("{} {text}", self.code) }
    }
}

/// `class.subject.detail` (RFC 3463 2: one digit, then 1-3 digits twice) whose class
/// matches the reply code's first digit.
fn is_enhanced(s: &str, code: u16) -> bool {
    let mut parts = s.split('.');
    let class = parts.next().filter(|c| c.len() == 1).and_then(|c| c.parse::<u16>().ok());
    let rest: Vec<_> = parts.collect();
    class == Some(code / 100)
        && matches!(class, Some(2) | Some(4) | Some(5))
        && rest.len() == 2
        && rest.iter().all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// What went wrong reading a reply: the server is not speaking SMTP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub String);

impl std::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Assembles replies from bytes as they arrive (RFC 5321 4.2.1: `code-text` lines, then
/// one `code text` line, all with the same code).
#[derive(Debug, Default)]
pub struct ResponseReader {
    buf: Vec<u8>,
    code: Option<u16>,
    lines: Vec<String>,
}

impl ResponseReader {
    /// Bytes received from the server.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete reply, None if more bytes are needed.
    pub fn next_response(&mut self) -> Result<Option<Response>, ProtocolError> {
        loop {
            let Some(end) = self.buf.iter().position(|&b| b == b'\n') else {
                if self.buf.len() > MAX_REPLY_LINE {
                    return Err(ProtocolError("reply line too long".into()));
                }
                return Ok(None);
            };
            let raw: Vec<u8> = self.buf.drain(..=end).collect();
            let line = raw.strip_suffix(b"\n").unwrap_or(&raw);
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.len() > MAX_REPLY_LINE {
                return Err(ProtocolError("reply line too long".into()));
            }
            let text = String::from_utf8_lossy(line);
            let code: u16 = text
                .get(..3)
                .filter(|c| c.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|c| c.parse().ok())
                .filter(|c| (200..600).contains(c))
                .ok_or_else(|| ProtocolError(format!("malformed reply line: {:?}", truncate(&text))))?;
            if self.code.is_some_and(|c| c != code) {
                return Err(ProtocolError("reply lines with different codes".into()));
            }
            let sep = text.as_bytes().get(3).copied();
            if !matches!(sep, None | Some(b' ') | Some(b'-')) {
                return Err(ProtocolError(format!("malformed reply line: {:?}", truncate(&text))));
            }
            self.code = Some(code);
            self.lines.push(text.get(4..).unwrap_or("").to_string());
            if sep != Some(b'-') {
                self.code = None;
                return Ok(Some(Response { code, lines: std::mem::take(&mut self.lines) }));
            }
            if self.lines.len() > MAX_REPLY_LINES {
                return Err(ProtocolError("reply has too many lines".into()));
            }
        }
    }
}

fn truncate(s: &str) -> &str {
    match s.char_indices().nth(80) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// What a server announced in its EHLO reply (RFC 5321 4.1.1.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// The name the server gave on the first line.
    pub name: String,
    /// RFC 2920.
    pub pipelining: bool,
    /// RFC 3207.
    pub starttls: bool,
    /// RFC 1870: the server's limit, 0 when it announced none.
    pub size: Option<u64>,
    /// RFC 6152.
    pub eight_bit_mime: bool,
    /// RFC 6531.
    pub smtputf8: bool,
    /// RFC 4954: the mechanisms offered, upper-case.
    pub auth: Vec<String>,
}

impl Capabilities {
    /// Reads the EHLO reply. A HELO reply (no keywords) gives only the name.
    pub fn from_ehlo(reply: &Response) -> Capabilities {
        let mut caps = Capabilities {
            name: reply.lines.first().and_then(|l| l.split_whitespace().next()).unwrap_or("").to_string(),
            ..Capabilities::default()
        };
        for line in reply.lines.iter().skip(1) {
            let mut words = line.split_whitespace();
            let keyword = words.next().unwrap_or("").to_ascii_uppercase();
            match keyword.as_str() {
                "PIPELINING" => caps.pipelining = true,
                "STARTTLS" => caps.starttls = true,
                "8BITMIME" => caps.eight_bit_mime = true,
                "SMTPUTF8" => caps.smtputf8 = true,
                "SIZE" => caps.size = Some(words.next().and_then(|n| n.parse().ok()).unwrap_or(0)),
                "AUTH" => caps.auth.extend(words.map(|m| m.to_ascii_uppercase())),
                _ => {}
            }
        }
        caps
    }

    /// True when the server's SIZE limit rules out a message of `size` octets.
    pub fn too_big(&self, size: usize) -> bool {
        matches!(self.size, Some(limit) if limit > 0 && size as u64 > limit)
    }
}

/// `MAIL FROM:<sender>` with the parameters the server supports and the message needs.
pub fn mail_from(sender: &str, size: usize, caps: &Capabilities, eight_bit: bool, smtputf8: bool) -> String {
    let mut cmd = format!("MAIL FROM:<{sender}>");
    if caps.size.is_some() {
        cmd.push_str(&format!(" SIZE={size}")); // RFC 1870 6
    }
    if eight_bit && caps.eight_bit_mime {
        cmd.push_str(" BODY=8BITMIME"); // RFC 6152 2
    }
    if smtputf8 && caps.smtputf8 {
        cmd.push_str(" SMTPUTF8"); // RFC 6531 3.4
    }
    cmd.push_str("\r\n");
    cmd
}

/// `RCPT TO:<address>`.
pub fn rcpt_to(address: &str) -> String {
    format!("RCPT TO:<{address}>\r\n")
}

/// `AUTH PLAIN` with the initial response (RFC 4616, RFC 4954 4).
pub fn auth_plain(user: &str, password: &str) -> String {
    format!("AUTH PLAIN {}\r\n", carrier_sasl::plain_response(user, password))
}

/// One line of an AUTH LOGIN exchange: the user name or the password, base64.
pub fn auth_login_line(value: &str) -> String {
    format!("{}\r\n", carrier_sasl::encode_base64(value))
}

/// The message as sent after DATA: CRLF line ends, a leading dot doubled (RFC 5321
/// 4.5.2), a final CRLF if it lacked one, then the terminating `.` line.
pub fn dot_stuff(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + message.len() / 64 + 5);
    let mut at_line_start = true;
    for (i, &b) in message.iter().enumerate() {
        if at_line_start && b == b'.' {
            out.push(b'.');
        }
        if b == b'\n' && (i == 0 || message[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(b);
        at_line_start = b == b'\n';
    }
    if !message.is_empty() && !at_line_start {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// True when an address needs SMTPUTF8 to be sent (RFC 6531: non-ASCII).
pub fn needs_smtputf8(address: &str) -> bool {
    !address.is_ascii()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(bytes: &[u8]) -> Vec<Result<Option<Response>, ProtocolError>> {
        let mut r = ResponseReader::default();
        r.feed(bytes);
        let mut out = Vec::new();
        loop {
            let next = r.next_response();
            let stop = !matches!(next, Ok(Some(_)));
            out.push(next);
            if stop {
                return out;
            }
        }
    }

    #[test]
    fn multi_line_replies_arrive_in_pieces() {
        let mut r = ResponseReader::default();
        r.feed(b"250-mx.example.org Hello\r\n250-PIPE");
        assert_eq!(r.next_response(), Ok(None));
        r.feed(b"LINING\r\n250 SIZE 1000\r\n220 next\r\n");
        let first = r.next_response().unwrap().unwrap();
        assert_eq!(first.code, 250);
        assert_eq!(first.lines, ["mx.example.org Hello", "PIPELINING", "SIZE 1000"]);
        assert_eq!(r.next_response().unwrap().unwrap().lines, ["next"]);
        assert_eq!(r.next_response(), Ok(None));
    }

    #[test]
    fn bare_code_and_lf_only_lines_are_accepted() {
        let out = read_all(b"250\n354 go ahead\n");
        assert_eq!(out[0], Ok(Some(Response { code: 250, lines: vec![String::new()] })));
        assert_eq!(out[1].as_ref().unwrap().as_ref().unwrap().code, 354);
    }

    #[test]
    fn garbage_is_a_protocol_error() {
        for bad in [&b"HTTP/1.1 400 Bad Request\r\n"[..], b"25\r\n", b"999 no\r\n", b"250x\r\n", b"250-a\r\n251 b\r\n"]
        {
            assert!(read_all(bad).iter().any(|r| r.is_err()), "{:?}", String::from_utf8_lossy(bad));
        }
        let mut long = b"250 ".to_vec();
        long.extend(std::iter::repeat_n(b'a', 5000));
        assert!(read_all(&long).iter().any(|r| r.is_err()));
        let endless: Vec<u8> = b"250-x\r\n".repeat(300);
        assert!(read_all(&endless).iter().any(|r| r.is_err()));
    }

    #[test]
    fn enhanced_status_codes() {
        let r = |code, text: &str| Response { code, lines: vec![text.into()] };
        assert_eq!(r(550, "5.1.1 <x@y>: User unknown").status(), "5.1.1");
        assert_eq!(r(550, "User unknown").status(), "5.0.0");
        assert_eq!(r(451, "4.3.0 try later").status(), "4.3.0");
        // A class that disagrees with the code is not believed.
        assert_eq!(r(550, "2.0.0 odd").status(), "5.0.0");
        assert_eq!(r(550, "5.1234.1 odd").status(), "5.0.0");
        // Found by fuzzing: a class with a leading zero is not a class.
        assert_eq!(r(550, "05.1.1 odd").status(), "5.0.0");
        assert_eq!(r(550, "5.1.1 a").one_line(), "550 5.1.1 a");
    }

    #[test]
    fn ehlo_keywords() {
        let reply = Response {
            code: 250,
            lines: vec![
                "mx.example.org greets you".into(),
                "pipelining".into(),
                "SIZE 10240000".into(),
                "8BITMIME".into(),
                "STARTTLS".into(),
                "AUTH plain LOGIN".into(),
                "SMTPUTF8".into(),
            ],
        };
        let caps = Capabilities::from_ehlo(&reply);
        assert_eq!(caps.name, "mx.example.org");
        assert!(caps.pipelining && caps.starttls && caps.eight_bit_mime && caps.smtputf8);
        assert_eq!(caps.size, Some(10_240_000));
        assert_eq!(caps.auth, ["PLAIN", "LOGIN"]);
        assert!(caps.too_big(10_240_001) && !caps.too_big(10_240_000));
        let helo = Capabilities::from_ehlo(&Response { code: 250, lines: vec!["old.example".into()] });
        assert!(!helo.pipelining && helo.size.is_none() && !helo.too_big(usize::MAX));
    }

    #[test]
    fn mail_from_uses_only_announced_parameters() {
        let mut caps = Capabilities::default();
        assert_eq!(mail_from("a@b", 10, &caps, true, true), "MAIL FROM:<a@b>\r\n");
        caps.size = Some(0);
        caps.eight_bit_mime = true;
        caps.smtputf8 = true;
        assert_eq!(mail_from("", 10, &caps, true, true), "MAIL FROM:<> SIZE=10 BODY=8BITMIME SMTPUTF8\r\n");
    }

    #[test]
    fn dot_stuffing_and_line_ends() {
        assert_eq!(dot_stuff(b"a\r\n.b\r\n..\r\n"), b"a\r\n..b\r\n...\r\n.\r\n");
        assert_eq!(dot_stuff(b".x\nend"), b"..x\r\nend\r\n.\r\n");
        assert_eq!(dot_stuff(b""), b".\r\n");
        // A '.' mid-line stays as is.
        assert_eq!(dot_stuff(b"a.b\r\n"), b"a.b\r\n.\r\n");
    }

    #[test]
    fn auth_encodings() {
        assert_eq!(auth_plain("u", "p"), "AUTH PLAIN AHUAcA==\r\n");
        assert_eq!(auth_login_line("u"), "dQ==\r\n");
    }
}
