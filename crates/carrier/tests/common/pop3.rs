//! A blocking POP3 test client over plain TCP or TLS (implicit, or after STLS), which
//! verifies the server's own self-signed certificate.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

enum Stream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
    Upgrading,
}

impl Stream {
    fn io(&mut self) -> &mut dyn ReadWrite {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => s.as_mut(),
            Stream::Upgrading => unreachable!("used during the TLS upgrade"),
        }
    }
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// One POP3 connection.
pub struct Pop3 {
    stream: Stream,
    buf: Vec<u8>,
    cert: std::path::PathBuf,
    /// The greeting line.
    pub greeting: String,
}

impl Pop3 {
    /// Plain TCP (port 110's stand-in).
    pub fn connect(port: u16, cert: &Path) -> Pop3 {
        let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut c =
            Pop3 { stream: Stream::Plain(tcp), buf: Vec::new(), cert: cert.to_path_buf(), greeting: String::new() };
        c.greeting = c.line().expect("greeting");
        c
    }

    /// TLS from the first byte (port 995's stand-in).
    pub fn connect_tls(port: u16, cert: &Path) -> Pop3 {
        let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut c =
            Pop3 { stream: Stream::Plain(tcp), buf: Vec::new(), cert: cert.to_path_buf(), greeting: String::new() };
        c.upgrade();
        c.greeting = c.line().expect("greeting");
        c
    }

    /// Sends STLS and runs the handshake.
    pub fn stls(&mut self) {
        assert_eq!(self.cmd("STLS"), "+OK Begin TLS negotiation now.");
        self.upgrade();
    }

    fn upgrade(&mut self) {
        let Stream::Plain(tcp) = std::mem::replace(&mut self.stream, Stream::Upgrading) else { panic!("TLS twice") };
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(&self.cert).unwrap() {
            roots.add(cert.unwrap()).unwrap();
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = ServerName::try_from("mx.example.com").unwrap();
        let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
        self.stream = Stream::Tls(Box::new(rustls::StreamOwned::new(conn, tcp)));
    }

    /// Sends raw bytes.
    pub fn raw(&mut self, bytes: &[u8]) {
        self.stream.io().write_all(bytes).unwrap();
        self.stream.io().flush().unwrap();
    }

    /// Reads one line without CRLF; None when the server closed the connection.
    pub fn line(&mut self) -> Option<String> {
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=i).collect();
                let text = String::from_utf8_lossy(&line);
                return Some(text.strip_suffix("\r\n").expect("server lines end with CRLF").to_string());
            }
            let mut chunk = [0u8; 8192];
            match self.stream.io().read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
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
        self.line().is_none()
    }
}
