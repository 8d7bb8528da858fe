//! A client connection that starts in plain text and may switch to TLS (STARTTLS).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// Plain TCP or TLS over TCP.
pub enum Conn {
    /// Not encrypted.
    Plain(TcpStream),
    /// After STARTTLS or on an implicit-TLS port.
    Tls(Box<TlsStream<TcpStream>>),
}

impl Conn {
    /// Runs the server side of a TLS handshake on a plain connection.
    pub async fn start_tls(self, acceptor: &TlsAcceptor) -> io::Result<Conn> {
        match self {
            Conn::Plain(tcp) => Ok(Conn::Tls(Box::new(acceptor.accept(tcp).await?))),
            Conn::Tls(_) => Err(io::Error::other("TLS is already active")),
        }
    }

    /// The negotiated protocol and cipher, for logs ("TLSv1.3 TLS13_AES_256_GCM_SHA384").
    pub fn tls_summary(&self) -> Option<String> {
        let Conn::Tls(tls) = self else { return None };
        let (_, state) = tls.get_ref();
        let version = state.protocol_version().map(|v| format!("{v:?}")).unwrap_or_default();
        let suite = state.negotiated_cipher_suite().map(|s| format!("{:?}", s.suite())).unwrap_or_default();
        Some(format!("{version} {suite}"))
    }
}

impl AsyncRead for Conn {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
