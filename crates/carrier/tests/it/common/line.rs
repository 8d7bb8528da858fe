//! A blocking line-oriented test connection over plain TCP or TLS (implicit, or upgraded
//! after STLS/STARTTLS), which verifies the server's own self-signed certificate. The POP3
//! and IMAP test clients are built on it.

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

/// One connection, read line by line.
pub struct LineConn {
    stream: Stream,
    buf: Vec<u8>,
    cert: std::path::PathBuf,
}

impl LineConn {
    /// Plain TCP to a loopback port.
    pub fn connect(port: u16, cert: &Path) -> LineConn {
        let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        LineConn { stream: Stream::Plain(tcp), buf: Vec::new(), cert: cert.to_path_buf() }
    }

    /// TLS from the first byte.
    pub fn connect_tls(port: u16, cert: &Path) -> LineConn {
        let mut c = LineConn::connect(port, cert);
        c.upgrade();
        c
    }

    /// Runs the TLS handshake on the plain connection.
    pub fn upgrade(&mut self) {
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

    /// Sends bytes the server may stop reading (it closes on an overlong line); false when
    /// it had closed.
    pub fn try_raw(&mut self, bytes: &[u8]) -> bool {
        self.stream.io().write_all(bytes).and_then(|()| self.stream.io().flush()).is_ok()
    }

    /// Reads one line without CRLF; None when the server closed the connection.
    pub fn line(&mut self) -> Option<String> {
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=i).collect();
                let text = String::from_utf8_lossy(&line);
                return Some(text.strip_suffix("\r\n").expect("server lines end with CRLF").to_string());
            }
            if !self.fill() {
                return None;
            }
        }
    }

    /// Reads exactly `n` octets (an IMAP literal); None when the server closed the connection.
    pub fn octets(&mut self, n: usize) -> Option<Vec<u8>> {
        while self.buf.len() < n {
            if !self.fill() {
                return None;
            }
        }
        Some(self.buf.drain(..n).collect())
    }

    fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 8192];
        match self.stream.io().read(&mut chunk) {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
        }
    }

    /// True when the server has closed the connection.
    pub fn is_closed(&mut self) -> bool {
        self.line().is_none()
    }
}
