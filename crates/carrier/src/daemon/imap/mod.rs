//! The IMAP listeners (143 with STARTTLS, 993 with implicit TLS): each connection drives one
//! sans-IO [`Session`] over the user's mailboxes in the same store the delivery agent writes
//! ([`ImapStore`]).
//!
//! The session calls the store synchronously, so once a user is logged in every step of it
//! runs on a blocking thread. While a mailbox is selected the connection watches it: during
//! IDLE a delivery or another session's change is reported at once, and the mailbox is
//! synced every [`POLL_INTERVAL`] to notice other programs (mutt, a second carrier).
//!
//! Logs follow Dovecot's shape:
//! `imap-login: Login: user=<bob@example.com>, method=PLAIN, rip=192.0.2.7, lip=192.0.2.1, TLS`
//! and `imap(bob@example.com): Disconnected: Logged out in=312 out=4711`.

mod store;

use super::conn::{self, Conn};
use super::limits;
use super::login::{self, Refusal};
use super::shared::Server;
use carrier_imap::{AuthError, Config, Event, Session, State};
use carrier_store::{Account, POLL_INTERVAL, Watch};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use store::ImapStore;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::time::{Instant, sleep, sleep_until, timeout};
use tracing::{info, warn};

/// Which IMAP service a listener offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// Port 143: plain text, STARTTLS before login (RFC 3501 6.2.1).
    Imap,
    /// Port 993: TLS from the first byte (RFC 8314).
    Imaps,
}

impl Service {
    /// The name used in logs and in `[listen]`.
    pub fn name(self) -> &'static str {
        match self {
            Service::Imap => "imap",
            Service::Imaps => "imaps",
        }
    }
}

/// Accepts connections on one listener until the process ends.
pub async fn listen(server: Arc<Server>, listener: TcpListener, service: Service) {
    let admission = conn::Admission {
        log: "imap-login",
        slots: server.imap_connections.clone(),
        max: server.cfg.imap.max_connections,
        // RFC 3501 7.1.5: a BYE greeting refuses the connection.
        busy: b"* BYE [UNAVAILABLE] Too many connections, try again later\r\n",
        prelogin: server.prelogin_imap.clone(),
        per_ip: (server.cfg.imap.max_connections_per_ip, "imap.max_connections_per_ip"),
        crowded: b"* BYE [UNAVAILABLE] Too many connections from your address, try again later\r\n",
        implicit_tls: (service == Service::Imaps).then(|| server.cfg.imap.login_timeout.min(Duration::from_secs(60))),
    };
    conn::serve_each(server, listener, admission, |server, conn, peer, local, prelogin| async move {
        let mut client = Client::new(server, peer, local, &conn, prelogin);
        let end = client.run(conn).await;
        client.log_disconnect(&end);
    })
    .await
}

/// What ended a wait for the client.
enum Wake {
    Input(usize),
    MailboxChanged,
    Timeout,
    Closed,
    Failed(std::io::Error),
}

/// One client connection.
struct Client {
    server: Arc<Server>,
    peer: SocketAddr,
    local: SocketAddr,
    /// Taken while a step runs on a blocking thread.
    session: Option<Session<ImapStore>>,
    account: Option<Account>,
    /// The selected mailbox's change notification.
    watch: Option<(String, Watch)>,
    user: Option<String>,
    tls: bool,
    bytes_in: u64,
    bytes_out: u64,
    /// The text of the last `* BYE` sent, which says why the session ended.
    bye: Option<String>,
    /// Set by the store adapter when the selected mailbox's UIDVALIDITY changed.
    invalidated: Option<Arc<AtomicBool>>,
    /// Counts this session against `imap.max_connections_per_user_ip` until it ends.
    session_slot: Option<limits::Slot<limits::UserIp>>,
    /// An APPEND's share of `smtp.max_message_memory` while it is received.
    memory: limits::MemoryShare,
    /// Counts it against `imap.max_connections_per_ip` until it logs in.
    prelogin: conn::Prelogin,
    /// When it must have logged in (`imap.login_timeout` after connecting).
    login_deadline: Instant,
}

impl Client {
    fn new(server: Arc<Server>, peer: SocketAddr, local: SocketAddr, conn: &Conn, prelogin: conn::Prelogin) -> Client {
        let cfg = &server.cfg;
        let mut session_cfg = Config::new(&cfg.hostname);
        session_cfg.tls = conn.is_tls();
        session_cfg.starttls = true;
        // The same loopback exception as SMTP AUTH and POP3 (local scripts, tests).
        session_cfg.plaintext_auth = cfg.submission.plaintext_loopback && peer.ip().is_loopback();
        session_cfg.limits.max_append = cfg.imap.max_message_size;
        session_cfg.max_bad = cfg.imap.max_errors;
        session_cfg.max_auth_failures = cfg.submission.max_auth_failures;
        let login_deadline = Instant::now() + cfg.imap.login_timeout;
        Client {
            session: Some(Session::new(session_cfg)),
            tls: conn.is_tls(),
            server,
            peer,
            local,
            account: None,
            watch: None,
            user: None,
            bytes_in: 0,
            bytes_out: 0,
            bye: None,
            invalidated: None,
            session_slot: None,
            memory: limits::MemoryShare::default(),
            prelogin,
            login_deadline,
        }
    }

    fn session(&mut self) -> &mut Session<ImapStore> {
        self.session.as_mut().expect("the session is back from its blocking step")
    }

    /// Keeps the share of `smtp.max_message_memory` equal to what the command being received
    /// holds (an APPEND's message); one that does not fit is shed: `NO [UNAVAILABLE]`.
    fn account_memory(&mut self) {
        let held = self.session().held();
        if !self.memory.cover(&self.server.message_memory, held) {
            let limit = self.server.cfg.smtp.max_message_memory;
            let who = self.user.as_deref().unwrap_or("?");
            warn!(
                "imap({who}): messages being received hold {limit} octets (smtp.max_message_memory); refusing an APPEND"
            );
            self.session().shed();
        }
    }

    /// Until when the client may stay silent: RFC 3501 5.4's 30 minutes from now once logged
    /// in; before, the login deadline, however many bytes it sends meanwhile (a client
    /// trickling one byte at a time must not keep a connection forever).
    fn deadline(&self) -> Instant {
        match self.user {
            Some(_) => Instant::now() + self.server.cfg.imap.timeout,
            None => self.login_deadline,
        }
    }

    /// Runs the session to its end; returns why it ended.
    async fn run(&mut self, mut conn: Conn) -> String {
        let mut buf = vec![0u8; 64 * 1024];
        let mut deadline = self.deadline();
        loop {
            let event = match self.step(Session::next_event).await {
                Ok(event) => event,
                Err(why) => return why,
            };
            if self.invalidated.as_ref().is_some_and(|flag| flag.swap(false, Ordering::Relaxed)) {
                // RFC 3501 2.3.1.1: UIDVALIDITY may not change while the mailbox is selected.
                self.session().bye("Mailbox UIDVALIDITY changed (its index was rebuilt); log in again");
                continue;
            }
            match event {
                Event::NeedInput => {
                    self.account_memory();
                    if let Err(e) = self.flush(&mut conn).await {
                        return format!("write error: {e}");
                    }
                    match self.wait(&mut conn, &mut buf, deadline).await {
                        Wake::Input(n) => {
                            self.bytes_in += n as u64;
                            self.session().feed(&buf[..n]);
                            deadline = self.deadline();
                        }
                        Wake::MailboxChanged => {
                            if let Err(why) = self.step(Session::mailbox_changed).await {
                                return why;
                            }
                        }
                        Wake::Timeout => {
                            self.session().timeout();
                            let _ = self.flush(&mut conn).await;
                            return "Disconnected for inactivity".into();
                        }
                        Wake::Closed => return "Connection closed".into(),
                        Wake::Failed(e) => return format!("read error: {e}"),
                    }
                }
                Event::Flush => {
                    if let Err(e) = self.flush(&mut conn).await {
                        return format!("write error: {e}");
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
                    self.session().tls_established();
                }
                Event::Auth { mechanism, login, password } => {
                    let result = self.login(mechanism, login, password).await;
                    self.session().authenticated(result);
                    deadline = self.deadline();
                }
                Event::Close => {
                    let _ = self.flush(&mut conn).await;
                    let _ = timeout(Duration::from_secs(5), conn.shutdown()).await;
                    return match self.bye.as_deref() {
                        Some("Logging out") | None => "Logged out".into(),
                        Some(text) => text.to_string(),
                    };
                }
            }
        }
    }

    /// Runs `f` on the session: inline before login (nothing touches the store), on a
    /// blocking thread after. Then follows the selected mailbox with the watch.
    async fn step<T: Send + 'static>(
        &mut self,
        f: impl FnOnce(&mut Session<ImapStore>) -> T + Send + 'static,
    ) -> Result<T, String> {
        let mut session = self.session.take().ok_or("internal error: the session was lost")?;
        if matches!(session.state(), State::NotAuthenticated | State::Logout) {
            let out = f(&mut session);
            self.session = Some(session);
            return Ok(out);
        }
        let account = self.account.clone();
        let watched = self.watch.as_ref().map(|(name, _)| name.clone());
        let joined = tokio::task::spawn_blocking(move || {
            let out = f(&mut session);
            let watch = match (session.selected_mailbox(), account) {
                (Some(name), _) if watched.as_deref() == Some(name) => None,
                (Some(name), Some(account)) => Some(account.watch(name).ok().map(|w| (name.to_string(), w))),
                _ => Some(None),
            };
            (session, out, watch)
        })
        .await;
        let (session, out, watch) = joined.map_err(|e| format!("internal error: {e}"))?;
        self.session = Some(session);
        if let Some(watch) = watch {
            self.watch = watch;
        }
        Ok(out)
    }

    /// Waits for the client, a change of the selected mailbox during IDLE, or the deadline.
    async fn wait(&mut self, conn: &mut Conn, buf: &mut [u8], deadline: Instant) -> Wake {
        let idling = self.session().idling();
        let watch = &mut self.watch;
        tokio::select! {
            read = conn.read(buf) => match read {
                Ok(0) => Wake::Closed,
                Ok(n) => Wake::Input(n),
                Err(e) => Wake::Failed(e),
            },
            _ = sleep_until(deadline) => Wake::Timeout,
            _ = changed(watch), if idling => Wake::MailboxChanged,
            // Other programs' changes are only found by looking.
            _ = sleep(POLL_INTERVAL), if idling => Wake::MailboxChanged,
        }
    }

    /// Checks the password, then makes sure INBOX and the special-use folders exist.
    async fn login(
        &mut self,
        mechanism: &str,
        login: String,
        password: String,
    ) -> Result<(String, ImapStore), AuthError> {
        let user = match login::verify(&self.server, self.peer.ip(), &login, password).await {
            Ok(user) => user,
            Err(Refusal::Throttled) => {
                return Err(AuthError::Unavailable("Too many failed logins from your address; try again later".into()));
            }
            Err(Refusal::Credentials) => {
                warn!("imap-login: auth failed: user=<{login}>, method={mechanism}, {}", self.addresses());
                return Err(AuthError::Invalid);
            }
        };
        let (limiter, max) = (&self.server.user_ips, self.server.cfg.imap.max_connections_per_user_ip);
        let slot =
            limits::admit_session(limiter, "imap", &user, self.peer.ip(), max).map_err(AuthError::Unavailable)?;
        let account = self.server.store.account(&user);
        let prepared = {
            let account = account.clone();
            tokio::task::spawn_blocking(move || account.prepare()).await
        };
        match prepared {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                warn!("imap({user}): cannot prepare the mailboxes: {e}");
                return Err(AuthError::Unavailable("Cannot open your mailboxes now; try again later".into()));
            }
            Err(e) => {
                warn!("imap({user}): mailbox task failed: {e}");
                return Err(AuthError::Unavailable("Internal error; try again later".into()));
            }
        }
        info!("imap-login: Login: user=<{user}>, method={mechanism}, {}", self.addresses());
        self.user = Some(user.clone());
        self.prelogin = None;
        self.session_slot = Some(slot);
        self.account = Some(account.clone());
        let store = ImapStore::new(account);
        self.invalidated = Some(store.invalidated());
        Ok((user, store))
    }

    async fn flush(&mut self, conn: &mut Conn) -> std::io::Result<()> {
        let out = self.session().take_output();
        if let Some(text) = last_bye(&out) {
            self.bye = Some(text);
        }
        self.bytes_out += out.len() as u64;
        conn.send(&out, self.server.cfg.imap.timeout).await
    }

    fn addresses(&self) -> String {
        let tls = if self.tls { ", TLS" } else { "" };
        format!("rip={}, lip={}{tls}", self.peer.ip(), self.local.ip())
    }

    fn log_disconnect(&self, end: &str) {
        match &self.user {
            Some(user) => info!("imap({user}): Disconnected: {end} in={} out={}", self.bytes_in, self.bytes_out),
            None => info!("imap-login: Disconnected ({end}): {}", self.addresses()),
        }
    }
}

/// Returns when the watched mailbox changes; never when nothing is watched.
async fn changed(watch: &mut Option<(String, Watch)>) {
    if let Some((_, w)) = watch
        && w.changed().await.is_ok()
    {
        return;
    }
    std::future::pending().await
}

/// The text of the last untagged BYE in `out`.
fn last_bye(out: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(out);
    text.split("\r\n").filter_map(|l| l.strip_prefix("* BYE ")).last().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bye_text_is_found() {
        assert_eq!(last_bye(b"* BYE Logging out\r\na OK LOGOUT completed\r\n").as_deref(), Some("Logging out"));
        assert_eq!(last_bye(b"a NO [AUTHENTICATIONFAILED] x\r\n* BYE Too many\r\n").as_deref(), Some("Too many"));
        assert_eq!(last_bye(b"* OK fine\r\n"), None);
    }
}
