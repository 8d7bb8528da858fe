//! A client connection that starts in plain text and may switch to TLS (STARTTLS).

use super::limits;
use super::shared::Server;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::{Instant, timeout, timeout_at};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tracing::warn;

/// Accepts the next connection. Errors (EMFILE and friends) are logged and retried after a
/// short wait rather than in a busy loop.
pub async fn accept(listener: &TcpListener) -> (TcpStream, SocketAddr) {
    loop {
        match listener.accept().await {
            Ok(conn) => return conn,
            Err(e) => {
                let at = listener.local_addr().map_or_else(|_| "a listener".into(), |a| a.to_string());
                warn!("accept failed on {at}: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// How a mailbox-reading listener (POP3, IMAP) takes its connections.
#[derive(Clone)]
pub struct Admission {
    /// The log prefix: "pop3-login", "imap-login".
    pub log: &'static str,
    /// One permit per connection.
    pub slots: Arc<Semaphore>,
    /// The configured number of slots, for the log.
    pub max: usize,
    /// What a connection gets when every slot is taken, before it is closed.
    pub busy: &'static [u8],
    /// Connections not logged in yet, per client address.
    pub prelogin: limits::Limiter,
    /// How many of those one address may hold (0: no limit), and the setting's name.
    pub per_ip: (usize, &'static str),
    /// What a connection gets when its address holds `per_ip` already.
    pub crowded: &'static [u8],
    /// On 993/995: the TLS handshake comes first, within this time.
    pub implicit_tls: Option<Duration>,
}

/// A connection's place among those not logged in yet; dropped at login.
pub type Prelogin = Option<limits::Slot>;

/// Accepts connections until the process ends; each takes a place among its address's
/// connections not logged in yet and a slot (else gets `crowded` or `busy`), runs the TLS
/// handshake on an implicit-TLS port, then is served by `serve` on its own task.
pub async fn serve_each<F, Fut>(server: Arc<Server>, listener: TcpListener, admission: Admission, serve: F)
where
    F: Fn(Arc<Server>, Conn, SocketAddr, SocketAddr, Prelogin) -> Fut + Copy + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    loop {
        let (tcp, peer) = accept(&listener).await;
        let (server, admission) = (server.clone(), admission.clone());
        tokio::spawn(async move {
            let local = tcp.local_addr().unwrap_or(peer);
            // Per address first: one address must not be able to take every slot.
            let prelogin = match admit(&server, &admission, peer) {
                Ok(prelogin) => prelogin,
                Err(()) => return refuse(tcp, &admission, admission.crowded).await,
            };
            let Ok(_permit) = admission.slots.clone().try_acquire_owned() else {
                warn!("{}: too many connections ({}), refused rip={}", admission.log, admission.max, peer.ip());
                return refuse(tcp, &admission, admission.busy).await;
            };
            let conn = match admission.implicit_tls {
                Some(limit) => match implicit_tls(tcp, &server.tls.acceptor(), limit).await {
                    Ok(conn) => conn,
                    Err(e) => return warn!("{}: TLS handshake failed: rip={}: {e}", admission.log, peer.ip()),
                },
                None => Conn::Plain(tcp),
            };
            serve(server, conn, peer, local, prelogin).await;
        });
    }
}

/// A place among the connections of `peer`'s address that have not logged in; relay
/// networks are exempt, as they are from SMTP's per-address limits.
fn admit(server: &Server, admission: &Admission, peer: SocketAddr) -> Result<Prelogin, ()> {
    let (max, key) = admission.per_ip;
    if max == 0 || server.cfg.relay_allowed(peer.ip()) {
        return Ok(None);
    }
    match admission.prelogin.admit(peer.ip(), max, 0) {
        Ok(slot) => Ok(Some(slot)),
        Err(_) => {
            warn!("{}: rip={} has {max} connections not logged in ({key}); refused", admission.log, peer.ip());
            Err(())
        }
    }
}

/// Says `why` and closes; on an implicit-TLS port it closes without a word, since anything
/// said before the handshake would go out in plain text (RFC 8314 3.3).
async fn refuse(tcp: TcpStream, admission: &Admission, why: &[u8]) {
    if admission.implicit_tls.is_none() {
        let _ = Conn::Plain(tcp).send(why, Duration::from_secs(5)).await;
    }
}

/// RFC 8314 3.3: on an implicit-TLS port the handshake comes first; a client speaking plain
/// text or stalling is dropped here, without affecting anyone else.
pub async fn implicit_tls(tcp: TcpStream, acceptor: &TlsAcceptor, limit: Duration) -> io::Result<Conn> {
    match timeout(limit, Conn::Plain(tcp).start_tls(acceptor)).await {
        Ok(result) => result,
        Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "handshake timed out")),
    }
}

/// Plain TCP or TLS over TCP.
pub enum Conn {
    /// Not encrypted.
    Plain(TcpStream),
    /// After STARTTLS or on an implicit-TLS port.
    Tls(Box<TlsStream<TcpStream>>),
}

/// What [`Conn::read_by`] got.
pub enum Read {
    Bytes(usize),
    /// Nothing came by the deadline.
    Idle,
    /// The connection ended; why, for the log.
    Ended(String),
}

impl Conn {
    /// Runs the server side of a TLS handshake on a plain connection.
    pub async fn start_tls(self, acceptor: &TlsAcceptor) -> io::Result<Conn> {
        match self {
            Conn::Plain(tcp) => Ok(Conn::Tls(Box::new(acceptor.accept(tcp).await?))),
            Conn::Tls(_) => Err(io::Error::other("TLS is already active")),
        }
    }

    /// STARTTLS for a session: the handshake must end by `deadline`; a failure comes back in
    /// words for the session's closing log line.
    pub async fn upgrade(self, acceptor: &TlsAcceptor, deadline: Instant) -> Result<Conn, String> {
        match timeout_at(deadline, self.start_tls(acceptor)).await {
            Ok(Ok(tls)) => Ok(tls),
            Ok(Err(e)) => Err(format!("TLS handshake failed: {e}")),
            Err(_) => Err("TLS handshake timed out".into()),
        }
    }

    /// Reads what the client sends by `deadline`.
    pub async fn read_by(&mut self, buf: &mut [u8], deadline: Instant) -> Read {
        match timeout_at(deadline, self.read(buf)).await {
            Err(_) => Read::Idle,
            Ok(Ok(0)) => Read::Ended("Connection closed".into()),
            Ok(Ok(n)) => Read::Bytes(n),
            Ok(Err(e)) => Read::Ended(format!("read error: {e}")),
        }
    }

    /// Writes all of `bytes`, or fails when the client does not take them within `limit`.
    pub async fn send(&mut self, bytes: &[u8], limit: Duration) -> io::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        match timeout(limit, self.write_all(bytes)).await {
            Ok(result) => result,
            Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "write timed out")),
        }
    }

    /// True on TLS.
    pub fn is_tls(&self) -> bool {
        matches!(self, Conn::Tls(_))
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
