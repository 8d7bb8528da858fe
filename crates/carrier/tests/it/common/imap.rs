//! A blocking IMAP test client over plain TCP or TLS (implicit, or after STARTTLS): sends
//! tagged commands and collects the untagged responses (literals inlined) up to the tagged one.

use super::line::LineConn;
use std::path::Path;

/// The answer to one command.
#[derive(Debug, Clone)]
pub struct Response {
    /// Untagged lines (`* ...`) and continuations, literals inlined.
    pub untagged: Vec<String>,
    /// The tagged line without its tag: `OK [READ-WRITE] SELECT completed`.
    pub done: String,
}

impl Response {
    /// Asserts the tagged status (`OK`, `NO`, `BAD`) and returns self.
    #[track_caller]
    pub fn expect(self, status: &str) -> Response {
        assert!(self.done.starts_with(&format!("{status} ")), "expected {status}, got {self:#?}");
        self
    }

    /// The untagged lines starting with `prefix` (after `* `).
    pub fn lines(&self, prefix: &str) -> Vec<&str> {
        self.untagged.iter().filter_map(|l| l.strip_prefix("* ")).filter(|l| l.starts_with(prefix)).collect()
    }
}

/// One IMAP connection.
pub struct Imap {
    conn: LineConn,
    next_tag: u32,
    /// The greeting line.
    pub greeting: String,
}

impl Imap {
    /// Plain TCP (port 143's stand-in).
    pub fn connect(port: u16, cert: &Path) -> Imap {
        Imap::greeted(LineConn::connect(port, cert))
    }

    /// TLS from the first byte (port 993's stand-in).
    pub fn connect_tls(port: u16, cert: &Path) -> Imap {
        Imap::greeted(LineConn::connect_tls(port, cert))
    }

    fn greeted(mut conn: LineConn) -> Imap {
        let greeting = conn.line().expect("greeting");
        Imap { conn, next_tag: 1, greeting }
    }

    /// Runs the TLS handshake (after the server's OK to STARTTLS).
    pub fn upgrade(&mut self) {
        self.conn.upgrade();
    }

    /// STARTTLS and the handshake.
    pub fn starttls(&mut self) {
        self.cmd("STARTTLS").expect("OK");
        self.upgrade();
    }

    /// Sends raw bytes.
    pub fn raw(&mut self, bytes: &[u8]) {
        self.conn.raw(bytes);
    }

    /// One response line with its literals inlined; None when the connection closed.
    pub fn line(&mut self) -> Option<String> {
        let mut line = self.conn.line()?;
        while let Some(n) = literal_size(&line) {
            let octets = self.conn.octets(n)?;
            line.push_str("\r\n");
            line.push_str(&String::from_utf8_lossy(&octets));
            line.push_str(&self.conn.line()?);
        }
        Some(line)
    }

    /// A fresh tag.
    pub fn tag(&mut self) -> String {
        self.next_tag += 1;
        format!("t{}", self.next_tag - 1)
    }

    /// Sends `TAG command` and reads the response.
    pub fn cmd(&mut self, command: &str) -> Response {
        let tag = self.tag();
        self.raw(format!("{tag} {command}\r\n").as_bytes());
        self.read(&tag)
    }

    /// Reads lines up to the tagged response for `tag`.
    #[track_caller]
    pub fn read(&mut self, tag: &str) -> Response {
        let mut untagged = Vec::new();
        loop {
            let line =
                self.line().unwrap_or_else(|| panic!("connection closed while waiting for {tag}: {untagged:#?}"));
            match line.strip_prefix(&format!("{tag} ")) {
                Some(done) => return Response { untagged, done: done.to_string() },
                None => untagged.push(line),
            }
        }
    }

    /// LOGIN with quoted strings.
    pub fn login(&mut self, user: &str, password: &str) -> Response {
        self.cmd(&format!("LOGIN \"{user}\" \"{password}\""))
    }

    /// True when the server has closed the connection.
    pub fn is_closed(&mut self) -> bool {
        self.conn.is_closed()
    }
}

/// `n` when a line ends with a literal header `{n}` (or `{n+}`).
fn literal_size(line: &str) -> Option<usize> {
    let head = line.strip_suffix('}')?;
    let start = head.rfind('{')?;
    head[start + 1..].trim_end_matches('+').parse().ok()
}
