//! The SMTP listener: drives one sans-IO [`Session`] per connection over TCP or TLS.

use crate::conn::Conn;
use crate::policy;
use crate::server::Server;
use carrier_smtp::{BodyType, Event, Reply, Session, SessionConfig, Transaction};
use carrier_spool::{Envelope, Recipient, Status};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;
use tracing::{info, warn};

const READ_BUFFER: usize = 64 * 1024;

/// Accepts connections on one `smtp` listener until the process ends.
pub async fn listen(server: Arc<Server>, listener: TcpListener) {
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                // EMFILE and friends: wait a little rather than spin.
                warn!("accept failed on {:?}: {e}", listener.local_addr().ok());
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let server = server.clone();
        tokio::spawn(async move {
            let Ok(_permit) = server.connections.clone().try_acquire_owned() else {
                return refuse_busy(&server, tcp, peer).await;
            };
            info!("connect from unknown[{}]", peer.ip());
            let mut client = Client::new(server, peer);
            let end = client.run(Conn::Plain(tcp)).await;
            client.log_disconnect(end);
        });
    }
}

/// RFC 5321 3.8 / 4.2.5: 421 when the server cannot take the connection now.
async fn refuse_busy(server: &Server, mut tcp: TcpStream, peer: SocketAddr) {
    warn!("reject: too many connections ({}), refused unknown[{}]", server.cfg.smtp.max_connections, peer.ip());
    let text = format!("421 4.3.2 {} Too many connections, try again later\r\n", server.cfg.hostname);
    let _ = timeout(Duration::from_secs(5), tcp.write_all(text.as_bytes())).await;
}

/// One client connection.
struct Client {
    server: Arc<Server>,
    peer: SocketAddr,
    session: Session,
    counts: Counts,
}

#[derive(Default)]
struct Counts {
    messages: u32,
    rejected: u32,
}

impl Client {
    fn new(server: Arc<Server>, peer: SocketAddr) -> Client {
        let cfg = &server.cfg;
        let session = Session::new(SessionConfig {
            hostname: cfg.hostname.clone(),
            max_message_size: cfg.smtp.max_message_size,
            max_recipients: cfg.smtp.max_recipients,
            max_errors: cfg.smtp.max_errors,
            starttls: server.tls.is_some(),
            tls: false,
        });
        Client { server, peer, session, counts: Counts::default() }
    }

    /// Runs the session to its end; returns why it ended.
    async fn run(&mut self, mut conn: Conn) -> String {
        if let Some(end) = self.greet_pause(&mut conn).await {
            return end;
        }
        let mut buf = vec![0u8; READ_BUFFER];
        loop {
            match self.session.next_event() {
                Event::NeedInput => {
                    if let Err(e) = self.flush(&mut conn).await {
                        return format!("write error: {e}");
                    }
                    let limit = if self.session.in_data() {
                        self.server.cfg.smtp.data_timeout
                    } else {
                        self.server.cfg.smtp.timeout
                    };
                    match timeout(limit, conn.read(&mut buf)).await {
                        Err(_) => {
                            self.session.timeout();
                            let _ = self.flush(&mut conn).await;
                            return "timeout".into();
                        }
                        Ok(Ok(0)) => return "lost connection".into(),
                        Ok(Ok(n)) => self.session.feed(&buf[..n]),
                        Ok(Err(e)) => return format!("read error: {e}"),
                    }
                }
                Event::Mail { .. } => self.session.answer(Ok(())),
                Event::Rcpt { to } => {
                    let decision = {
                        let mut dir = self.server.directory.lock().expect("directory lock");
                        for err in dir.refresh() {
                            warn!("{err}");
                        }
                        policy::check_recipient(&self.server.cfg, &dir, self.peer.ip(), &to)
                    };
                    if let Err(reply) = &decision {
                        self.counts.rejected += 1;
                        let helo = self.session.helo_name().unwrap_or_default();
                        info!("NOQUEUE: reject: RCPT from unknown[{}]: {reply}; helo=<{helo}>", self.peer.ip());
                    }
                    self.session.answer(decision);
                }
                Event::Message(tx) => {
                    let result = self.enqueue(tx).await;
                    self.session.queued(result);
                }
                Event::StartTls => {
                    if let Err(e) = self.flush(&mut conn).await {
                        return format!("write error: {e}");
                    }
                    let Some(acceptor) = self.server.tls.clone() else {
                        return "no TLS".into();
                    };
                    match timeout(self.server.cfg.smtp.timeout, conn.start_tls(&acceptor)).await {
                        Ok(Ok(tls)) => {
                            conn = tls;
                            info!(
                                "TLS established from unknown[{}]: {}",
                                self.peer.ip(),
                                conn.tls_summary().unwrap_or_default()
                            );
                            self.session.tls_established();
                        }
                        Ok(Err(e)) => return format!("TLS handshake failed: {e}"),
                        Err(_) => return "TLS handshake timed out".into(),
                    }
                }
                Event::Close => {
                    let _ = self.flush(&mut conn).await;
                    let _ = timeout(Duration::from_secs(5), conn.shutdown()).await;
                    return "closed".into();
                }
            }
        }
    }

    /// sendmail's greet_pause: clients that talk before the banner are refused.
    async fn greet_pause(&mut self, conn: &mut Conn) -> Option<String> {
        let pause = self.server.cfg.smtp.greet_pause;
        if !pause.is_zero() {
            let mut probe = [0u8; 512];
            match timeout(pause, conn.read(&mut probe)).await {
                Err(_) => {}
                Ok(Ok(0)) | Ok(Err(_)) => return Some("lost connection before greeting".into()),
                Ok(Ok(_)) => {
                    self.session.early_talker();
                    let _ = self.flush(conn).await;
                    warn!("reject: unknown[{}] talked before the greeting", self.peer.ip());
                    return Some("pregreet".into());
                }
            }
        }
        None
    }

    async fn flush(&mut self, conn: &mut Conn) -> io::Result<()> {
        let out = self.session.take_output();
        if out.is_empty() {
            return Ok(());
        }
        match timeout(self.server.cfg.smtp.timeout, conn.write_all(&out)).await {
            Ok(result) => result,
            Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "write timed out")),
        }
    }

    /// Expands recipients and stores the message durably; the reply to send after DATA.
    async fn enqueue(&mut self, tx: Transaction) -> Result<String, Reply> {
        let recipients = self.recipients(&tx);
        if recipients.is_empty() {
            // Every recipient vanished from the alias table between RCPT and DATA.
            return Err(Reply::new(451, "4.3.0", "Recipients no longer valid, try again later"));
        }
        let nrcpts = recipients.len();
        let envelope = Envelope {
            sender: tx.from.clone(),
            recipients,
            received: SystemTime::now(),
            client_ip: Some(self.peer.ip()),
            client_name: "unknown".into(),
            helo: tx.helo.clone(),
            proto: tx.proto.to_string(),
            smtputf8: tx.params.smtputf8,
            body_8bit: tx.params.body == BodyType::EightBitMime,
        };
        let size = tx.message.len();
        match self.server.spool.enqueue(envelope, tx.message).await {
            Ok(id) => {
                self.counts.messages += 1;
                info!(
                    "{id}: from=<{}>, size={size}, nrcpts={nrcpts}, proto={}, helo=<{}>, relay=unknown[{}]",
                    tx.from,
                    tx.proto,
                    tx.helo,
                    self.peer.ip()
                );
                self.server.delivery.submit(id.clone(), false);
                Ok(id.to_string())
            }
            Err(e) => {
                warn!("NOQUEUE: cannot store message from <{}>: {e}", tx.from);
                Err(storage_error(&e))
            }
        }
    }

    fn recipients(&self, tx: &Transaction) -> Vec<Recipient> {
        let dir = self.server.directory.lock().expect("directory lock");
        let mut out: Vec<Recipient> = Vec::new();
        for rcpt in &tx.recipients {
            for target in policy::expand(&self.server.cfg, &dir, rcpt) {
                if out.iter().any(|r| r.address == target.address) {
                    continue;
                }
                out.push(Recipient {
                    address: target.address,
                    orig: rcpt.clone(),
                    local: target.local,
                    status: Status::Pending,
                });
            }
        }
        out
    }

    fn log_disconnect(&self, end: String) {
        info!(
            "disconnect from unknown[{}] messages={} rejected={} ({end})",
            self.peer.ip(),
            self.counts.messages,
            self.counts.rejected
        );
    }
}

/// DESIGN §4: a full disk gives 452 4.3.1, never a 5xx and never corruption.
pub fn storage_error(e: &io::Error) -> Reply {
    match e.raw_os_error() {
        Some(libc::ENOSPC) | Some(libc::EDQUOT) => Reply::new(452, "4.3.1", "Insufficient system storage"),
        _ => Reply::new(451, "4.3.0", "Local error in processing, try again later"),
    }
}
