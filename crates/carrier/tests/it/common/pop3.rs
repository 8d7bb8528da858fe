//! A blocking POP3 test client over plain TCP or TLS (implicit, or after STLS), which
//! verifies the server's own self-signed certificate.

use super::line::LineConn;
use std::path::Path;

/// One POP3 connection.
pub struct Pop3 {
    conn: LineConn,
    /// The greeting line.
    pub greeting: String,
}

impl Pop3 {
    /// Plain TCP (port 110's stand-in).
    pub fn connect(port: u16, cert: &Path) -> Pop3 {
        Pop3::greeted(LineConn::connect(port, cert))
    }

    /// TLS from the first byte (port 995's stand-in).
    pub fn connect_tls(port: u16, cert: &Path) -> Pop3 {
        Pop3::greeted(LineConn::connect_tls(port, cert))
    }

    fn greeted(mut conn: LineConn) -> Pop3 {
        let greeting = conn.line().expect("greeting");
        Pop3 { conn, greeting }
    }

    /// Sends STLS and runs the handshake.
    pub fn stls(&mut self) {
        assert_eq!(self.cmd("STLS"), "+OK Begin TLS negotiation now.");
        self.conn.upgrade();
    }

    /// Sends raw bytes.
    pub fn raw(&mut self, bytes: &[u8]) {
        self.conn.raw(bytes);
    }

    /// Reads one line without CRLF; None when the server closed the connection.
    pub fn line(&mut self) -> Option<String> {
        self.conn.line()
    }

    /// Sends a command and reads the one-line answer.
    pub fn cmd(&mut self, line: &str) -> String {
        self.raw(format!("{line}\r\n").as_bytes());
        self.line().expect("connection closed while waiting for an answer")
    }

    /// Reads the lines of a multi-line answer up to the terminating ".", still stuffed.
    pub fn lines(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        loop {
            let line = self.line().expect("connection closed inside a multi-line answer");
            if line == "." {
                return out;
            }
            out.push(line);
        }
    }

    /// A command with a multi-line answer: (first line, body lines).
    pub fn multi(&mut self, line: &str) -> (String, Vec<String>) {
        let first = self.cmd(line);
        assert!(first.starts_with("+OK"), "{line}: {first}");
        (first, self.lines())
    }

    /// USER and PASS.
    pub fn login(&mut self, user: &str, password: &str) -> String {
        let ok = self.cmd(&format!("USER {user}"));
        assert!(ok.starts_with("+OK"), "{ok}");
        self.cmd(&format!("PASS {password}"))
    }

    /// True when the server has closed the connection.
    pub fn is_closed(&mut self) -> bool {
        self.conn.is_closed()
    }
}
