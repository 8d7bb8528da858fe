//! The POP3 listeners (110 with STLS, 995 with implicit TLS): each drives one sans-IO
//! [`Session`] per connection over the same mailbox store the delivery agent writes.
//!
//! Logs follow Dovecot's shape, so administrators' habits and log parsers carry over:
//! `pop3-login: Login: user=<bob@example.com>, method=PLAIN, rip=192.0.2.7, lip=192.0.2.1, TLS`
//! and `pop3(bob@example.com): Disconnected: Logged out top=0/0, retr=1/1234, del=1/3, size=5678`.

use super::conn::{self, Conn, Read};
use super::limits;
use super::login::{self, Refusal};
use super::shared::Server;
use carrier_pop3::{Config, Event, LoginFailure, Message, Session};
use carrier_store::{Access, Flag, FlagOp, Flags, Mailbox, StoreError};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::time::{Instant, timeout};
use tracing::{info, warn};

/// Which POP3 service a listener offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// Port 110: plain text, STLS before login (RFC 2595).
    Pop3,
    /// Port 995: TLS from the first byte (RFC 8314).
    Pop3s,
}

impl Service {
    /// The name used in logs and in `[listen]`.
    pub fn name(self) -> &'static str {
        match self {
            Service::Pop3 => "pop3",
            Service::Pop3s => "pop3s",
        }
    }
}

/// Accepts connections on one listener until the process ends.
pub async fn listen(server: Arc<Server>, listener: TcpListener, service: Service) {
    let admission = conn::Admission {
        log: "pop3-login",
        slots: server.pop3_connections.clone(),
        max: server.cfg.pop3.max_connections,
        busy: b"-ERR [SYS/TEMP] Too many connections, try again later.\r\n",
        prelogin: server.prelogin_pop3.clone(),
        per_ip: (server.cfg.pop3.max_connections_per_ip, "pop3.max_connections_per_ip"),
        crowded: b"-ERR [SYS/TEMP] Too many connections from your address, try again later.\r\n",
        implicit_tls: (service == Service::Pop3s).then(|| server.cfg.pop3.timeout.min(Duration::from_secs(60))),
    };
    conn::serve_each(server, listener, admission, |server, conn, peer, local, prelogin| async move {
        let mut client = Client::new(server, peer, local, &conn, prelogin);
        let end = client.run(conn).await;
        client.log_disconnect(&end);
    })
    .await
}

/// One client connection.
struct Client {
    server: Arc<Server>,
    peer: SocketAddr,
    local: SocketAddr,
    session: Session,
    user: Option<String>,
    mailbox: Option<Mailbox>,
    tls: bool,
    /// Counts this session against `pop3.max_connections_per_user_ip` until it ends.
    session_slot: Option<limits::Slot<limits::UserIp>>,
    /// Counts it against `pop3.max_connections_per_ip` until it logs in.
    prelogin: conn::Prelogin,
    /// When it must have logged in (`pop3.login_timeout` after connecting).
    login_deadline: Instant,
}

impl Client {
    fn new(server: Arc<Server>, peer: SocketAddr, local: SocketAddr, conn: &Conn, prelogin: conn::Prelogin) -> Client {
        let cfg = &server.cfg;
        let session = Session::new(Config {
            hostname: cfg.hostname.clone(),
            tls: conn.is_tls(),
            starttls: true,
            plaintext: cfg.submission.plaintext_loopback && peer.ip().is_loopback(),
            max_errors: cfg.pop3.max_errors,
            max_auth_failures: cfg.submission.max_auth_failures,
        });
        let login_deadline = Instant::now() + cfg.pop3.login_timeout;
        Client {
            server,
            peer,
            local,
            session,
            user: None,
            mailbox: None,
            tls: conn.is_tls(),
            session_slot: None,
            prelogin,
            login_deadline,
        }
    }

    /// Until when the client may stay silent: `pop3.timeout` from now once logged in; before,
    /// the login deadline, however many bytes it sends meanwhile (a client trickling one
    /// byte at a time must not keep a connection forever).
    fn deadline(&self) -> Instant {
        let idle = Instant::now() + self.server.cfg.pop3.timeout;
        if self.user.is_some() { idle } else { idle.min(self.login_deadline) }
    }

    /// Runs the session to its end; returns why it ended.
    async fn run(&mut self, mut conn: Conn) -> String {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match self.session.next_event() {
                Event::NeedInput => {
                    if let Err(e) = self.flush(&mut conn).await {
                        return format!("write error: {e}");
                    }
                    match conn.read_by(&mut buf, self.deadline()).await {
                        Read::Bytes(n) => self.session.feed(&buf[..n]),
                        Read::Idle => {
                            self.session.timeout();
                            let _ = self.flush(&mut conn).await;
                            return "Disconnected for inactivity".into();
                        }
                        Read::Ended(why) => return why,
                    }
                }
                Event::StartTls => {
                    if let Err(e) = self.flush(&mut conn).await {
                        return format!("write error: {e}");
                    }
                    conn = match conn.upgrade(&self.server.tls.acceptor(), self.deadline()).await {
                        Ok(tls) => tls,
                        Err(end) => return end,
                    };
                    self.tls = true;
                    self.session.tls_established();
                }
                Event::Auth { mechanism, login, password } => {
                    let result = self.login(mechanism, login, password).await;
                    self.session.login(result);
                }
                Event::Retrieve { uid, lines } => {
                    // One file, almost always in the page cache: reading it in place costs less
                    // than the hop to a blocking thread, which dominated a fetchmail-style
                    // RETR loop. block_in_place still lets the runtime move other work away.
                    // `TOP n 0` (clients listing headers) reads no further than the header.
                    let result = match self.mailbox.as_mut() {
                        Some(m) if lines == Some(0) => tokio::task::block_in_place(|| m.read_header(uid)),
                        Some(m) => tokio::task::block_in_place(|| m.read(uid)),
                        None => Err(StoreError::NotAllowed("no mailbox is open".into())),
                    };
                    self.session.message(result.map_err(|e| retrieve_error(uid, &e)));
                }
                Event::Commit { deleted, retrieved } => {
                    let result = self.commit(deleted, retrieved).await;
                    self.session.committed(result);
                }
                Event::Close => {
                    let _ = self.flush(&mut conn).await;
                    let _ = timeout(Duration::from_secs(5), tokio::io::AsyncWriteExt::shutdown(&mut conn)).await;
                    return "Logged out".into();
                }
            }
        }
    }

    /// Checks the password, then opens INBOX (moving new mail to cur/, as Dovecot does).
    async fn login(&mut self, mechanism: &str, login: String, password: String) -> Result<Vec<Message>, LoginFailure> {
        let ip = self.peer.ip();
        let user = match login::verify(&self.server, ip, &login, password).await {
            Ok(user) => user,
            Err(Refusal::Throttled) => return Err(LoginFailure::Throttled),
            Err(Refusal::Credentials) => {
                warn!("pop3-login: auth failed: user=<{login}>, method={mechanism}, {}", self.addresses());
                return Err(LoginFailure::Credentials);
            }
        };
        let (limiter, max) = (&self.server.user_ips, self.server.cfg.pop3.max_connections_per_user_ip);
        let slot = limits::admit_session(limiter, "pop3", &user, ip, max).map_err(LoginFailure::Unavailable)?;
        let account = self.server.store.account(&user);
        let opened = tokio::task::spawn_blocking(move || {
            account.prepare()?;
            account.open("INBOX", Access::ReadWrite)
        })
        .await;
        let mailbox = match opened {
            Ok(Ok(mailbox)) => mailbox,
            Ok(Err(e)) => {
                warn!("pop3({user}): cannot open the mailbox: {e}");
                return Err(LoginFailure::Unavailable("Cannot open your mailbox now; try again later.".into()));
            }
            Err(e) => {
                warn!("pop3({user}): mailbox task failed: {e}");
                return Err(LoginFailure::Unavailable("Internal error; try again later.".into()));
            }
        };
        let snapshot = mailbox.snapshot();
        // Dovecot's default pop3_uidl_format %08Xu%08Xv: stable while the index lives.
        let messages = snapshot
            .messages
            .iter()
            .map(|m| Message {
                uid: m.uid,
                size: m.rfc822_size,
                uidl: format!("{:08X}{:08X}", m.uid, snapshot.uidvalidity),
            })
            .collect();
        info!("pop3-login: Login: user=<{user}>, method={mechanism}, {}", self.addresses());
        self.user = Some(user);
        self.prelogin = None;
        self.mailbox = Some(mailbox);
        self.session_slot = Some(slot);
        Ok(messages)
    }

    /// RFC 1939 6 (UPDATE): retrieved messages become \Seen, deleted ones are expunged.
    async fn commit(&mut self, deleted: Vec<u32>, retrieved: Vec<u32>) -> Result<(), String> {
        let result = self
            .with_mailbox(move |m| {
                let seen: Flags = [Flag::Seen].into_iter().collect();
                m.store(&retrieved, FlagOp::Add, &seen, None)?;
                m.expunge(&deleted)
            })
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => {
                warn!("pop3({}): cannot apply deletions: {e}", self.user.as_deref().unwrap_or("?"));
                Err("Some messages could not be deleted; they will be there next time.".into())
            }
        }
    }

    /// Runs a store operation on the open mailbox on a blocking thread.
    async fn with_mailbox<T: Send + 'static>(
        &mut self,
        op: impl FnOnce(&mut Mailbox) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let Some(mut mailbox) = self.mailbox.take() else {
            return Err(StoreError::NotAllowed("no mailbox is open".into()));
        };
        let joined = tokio::task::spawn_blocking(move || {
            let result = op(&mut mailbox);
            (mailbox, result)
        })
        .await;
        match joined {
            Ok((mailbox, result)) => {
                self.mailbox = Some(mailbox);
                result
            }
            Err(e) => Err(StoreError::Io(std::io::Error::other(e.to_string()))),
        }
    }

    async fn flush(&mut self, conn: &mut Conn) -> std::io::Result<()> {
        let out = self.session.take_output();
        conn.send(&out, self.server.cfg.pop3.timeout).await
    }

    fn addresses(&self) -> String {
        let tls = if self.tls { ", TLS" } else { "" };
        format!("rip={}, lip={}{tls}", self.peer.ip(), self.local.ip())
    }

    fn log_disconnect(&self, end: &str) {
        let s = self.session.stats();
        match &self.user {
            Some(user) => info!(
                "pop3({user}): Disconnected: {end} top={}/{}, retr={}/{}, del={}/{}, size={}",
                s.top, s.top_bytes, s.retr, s.retr_bytes, s.deleted, s.messages, s.size
            ),
            None => info!("pop3-login: Disconnected ({end}): {}", self.addresses()),
        }
    }
}

fn retrieve_error(uid: u32, e: &StoreError) -> String {
    match e {
        StoreError::Expunged(_) => "Message was deleted by another session meanwhile.".into(),
        e => {
            warn!("pop3: cannot read message UID {uid}: {e}");
            "[SYS/TEMP] Cannot read the message now; try again later.".into()
        }
    }
}
