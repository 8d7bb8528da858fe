//! The SMTP listeners (MTA port 25, submission 587, implicit-TLS submission 465): each drives
//! one sans-IO [`Session`] per connection over TCP or TLS.

use super::conn::{self, Conn};
use super::shared::Server;
use super::{limits, login};
use carrier_mta::{Message, Origin, Unknown, dns, policy};
use carrier_smtp::{BodyType, Event, Mailbox, Reply, Session, SessionConfig, Transaction};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;
use tracing::{info, warn};

/// Read buffer while waiting for commands: small, so a thousand idle connections cost little.
const COMMAND_BUFFER: usize = 4 * 1024;
/// Read buffer while a message arrives: large reads keep DATA cheap.
const DATA_BUFFER: usize = 64 * 1024;
/// How long a DNS question at connect or MAIL may hold a session up.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);

/// Which SMTP service a listener offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// Port 25: mail from other servers; STARTTLS; no AUTH.
    Smtp,
    /// Port 587 (RFC 6409): STARTTLS, then AUTH, then mail to anywhere.
    Submission,
    /// Port 465 (RFC 8314): TLS from the first byte, then AUTH.
    Smtps,
}

impl Service {
    /// The name used in logs and in `[listen]`.
    pub fn name(self) -> &'static str {
        match self {
            Service::Smtp => "SMTP",
            Service::Submission => "submission",
            Service::Smtps => "smtps",
        }
    }
}

/// Accepts connections on one listener until the process ends.
pub async fn listen(server: Arc<Server>, listener: TcpListener, service: Service) {
    loop {
        let (tcp, peer) = conn::accept(&listener).await;
        let server = server.clone();
        tokio::spawn(async move {
            let Ok(_permit) = server.connections.clone().try_acquire_owned() else {
                return refuse_busy(&server, tcp, peer).await;
            };
            let _slot = match admit(&server, peer.ip()) {
                Ok(slot) => slot,
                Err(text) => return refuse(&server, tcp, "421 4.7.0", &text).await,
            };
            let name = client_name(&server, peer.ip()).await;
            let shown = format!("{}[{}]", name.shown(), peer.ip());
            info!("connect from {shown} to {}", service.name());
            if service == Service::Smtp
                && let Some(text) = blocked(&server, peer.ip(), &shown).await
            {
                return refuse(&server, tcp, "554 5.7.1", &text).await;
            }
            let conn = match service {
                Service::Smtps => {
                    let limit = server.cfg.smtp.timeout.min(Duration::from_secs(60));
                    match conn::implicit_tls(tcp, &server.tls.acceptor(), limit).await {
                        Ok(conn) => conn,
                        Err(e) => return warn!("TLS handshake failed from {shown} on smtps: {e}"),
                    }
                }
                _ => Conn::Plain(tcp),
            };
            let mut client = Client::new(server, peer, service, name);
            let end = client.run(conn).await;
            client.log_disconnect(end);
        });
    }
}

/// The client's forward-confirmed name (RFC 8601 3), looked up before the greeting as
/// Postfix does; a name that does not confirm is logged with sendmail's warning and shown
/// as "unknown". Given up after [`LOOKUP_TIMEOUT`].
async fn client_name(server: &Server, ip: std::net::IpAddr) -> dns::ClientName {
    let name =
        timeout(LOOKUP_TIMEOUT, dns::client_name(&server.resolver, ip)).await.unwrap_or(dns::ClientName::Unknown);
    if let dns::ClientName::Unconfirmed(claimed) = &name {
        warn!("hostname {claimed} does not resolve to address {ip}: IP name possibly forged");
    }
    name
}

/// A client on port 25 whose DNS lists reach `[antispam] dnsbl_threshold` is refused with
/// the greeting (RFC 5321 3.1: 554 instead of 220), naming the list and its explanation.
/// Relay networks are not asked about.
async fn blocked(server: &Server, ip: std::net::IpAddr, shown: &str) -> Option<String> {
    let spam = &server.cfg.antispam;
    if spam.dnsbl.is_empty() || server.cfg.relay_allowed(ip) {
        return None;
    }
    let (score, listings) =
        timeout(LOOKUP_TIMEOUT, carrier_mta::dnsbl::check(&server.resolver, &spam.dnsbl, ip)).await.unwrap_or_default();
    if score < spam.dnsbl_threshold {
        return None;
    }
    let zones: Vec<&str> = listings.iter().filter(|l| l.weight > 0).map(|l| l.zone.as_str()).collect();
    warn!(
        "reject: {shown} is listed by {} (score {score}, threshold {}); refused",
        zones.join(", "),
        spam.dnsbl_threshold
    );
    let first = listings.iter().find(|l| l.weight > 0)?;
    let why = first.text.as_ref().map(|t| format!("; {t}")).unwrap_or_default();
    Some(format!("Service unavailable; client [{ip}] blocked using {}{why}", first.zone))
}

/// RFC 5321 3.8 / 4.2.5: 421 when the server cannot take the connection now.
async fn refuse_busy(server: &Server, tcp: TcpStream, peer: SocketAddr) {
    warn!("reject: too many connections ({}), refused unknown[{}]", server.cfg.smtp.max_connections, peer.ip());
    refuse(server, tcp, "421 4.3.2", "Too many connections, try again later").await;
}

/// The per-address limits (Postfix's anvil); relay networks are exempt.
fn admit(server: &Server, ip: std::net::IpAddr) -> Result<Option<limits::Slot>, String> {
    let cfg = &server.cfg.smtp;
    if server.cfg.relay_allowed(ip) {
        return Ok(None);
    }
    match server.clients.admit(ip, cfg.max_connections_per_ip, cfg.connection_rate_limit) {
        Ok(slot) => Ok(Some(slot)),
        Err(why) => {
            let (text, limit) = match why {
                limits::Refused::Concurrency(n) => (format!("{n} connections"), "max_connections_per_ip"),
                limits::Refused::Rate(n) => (format!("{n} connections in the last minute"), "connection_rate_limit"),
            };
            warn!("reject: unknown[{ip}] has {text} (smtp.{limit}); refused");
            Err(format!("Too many connections from your address ({text}), try again later"))
        }
    }
}

/// Sends one reply to a connection that is not taken, then closes it.
async fn refuse(server: &Server, mut tcp: TcpStream, code: &str, text: &str) {
    let line = format!("{code} {} {text}\r\n", server.cfg.hostname);
    let _ = timeout(Duration::from_secs(5), tcp.write_all(line.as_bytes())).await;
}

/// One client connection.
struct Client {
    server: Arc<Server>,
    peer: SocketAddr,
    service: Service,
    session: Session,
    counts: Counts,
    /// MAIL FROM's SIZE= of the current transaction, for the quota check.
    declared_size: Option<u64>,
    /// This session's share of `smtp.max_message_memory` while it holds content.
    memory: limits::MemoryShare,
    /// What reverse DNS says the client is.
    name: dns::ClientName,
    /// MAIL FROM of the current transaction, for greylisting.
    sender: String,
}

/// What an hourly allowance counts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Count {
    Messages,
    Recipients,
}

#[derive(Default)]
struct Counts {
    messages: u32,
    rejected: u32,
}

impl Client {
    fn new(server: Arc<Server>, peer: SocketAddr, service: Service, name: dns::ClientName) -> Client {
        let cfg = &server.cfg;
        let session = Session::new(SessionConfig {
            hostname: cfg.hostname.clone(),
            max_message_size: cfg.smtp.max_message_size,
            max_recipients: cfg.smtp.max_recipients,
            max_errors: cfg.smtp.max_errors,
            starttls: true,
            tls: service == Service::Smtps,
            auth: service != Service::Smtp,
            auth_required: service != Service::Smtp,
            auth_plaintext: cfg.submission.plaintext_loopback && peer.ip().is_loopback(),
            max_auth_failures: cfg.submission.max_auth_failures,
        });
        Client {
            server,
            peer,
            service,
            session,
            counts: Counts::default(),
            declared_size: None,
            memory: Default::default(),
            name,
            sender: String::new(),
        }
    }

    /// The client as logs name it: `host[ip]`, or `unknown[ip]` without a confirmed name.
    fn shown(&self) -> String {
        format!("{}[{}]", self.name.shown(), self.peer.ip())
    }

    /// Keeps this session's share of `smtp.max_message_memory` equal to the message content
    /// it holds. When the share cannot grow, the message is shed: read to its end and refused
    /// with 452 4.3.1, so that many large messages arriving at once cannot exhaust memory.
    fn account_memory(&mut self) {
        if self.memory.cover(&self.server.message_memory, self.session.held()) {
            return;
        }
        let limit = self.server.cfg.smtp.max_message_memory;
        warn!(
            "reject: messages being received hold {limit} octets (smtp.max_message_memory); refusing the one \
             from {} with 452 4.3.1, its sender will retry",
            self.shown()
        );
        self.session.shed();
    }

    /// Runs the session to its end; returns why it ended.
    async fn run(&mut self, mut conn: Conn) -> String {
        if let Some(end) = self.greet_pause(&mut conn).await {
            return end;
        }
        let mut buf = vec![0u8; COMMAND_BUFFER];
        loop {
            match self.session.next_event() {
                Event::NeedInput => {
                    self.account_memory();
                    if let Err(e) = self.flush(&mut conn).await {
                        return format!("write error: {e}");
                    }
                    let (limit, size) = if self.session.in_data() {
                        (self.server.cfg.smtp.data_timeout, DATA_BUFFER)
                    } else {
                        (self.server.cfg.smtp.timeout, COMMAND_BUFFER)
                    };
                    if buf.len() != size {
                        buf = vec![0u8; size];
                    }
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
                Event::Mail { from, params } => {
                    self.declared_size = params.size;
                    self.mail(&from).await
                }
                Event::Auth { mechanism, login, password } => {
                    let result = login::authenticate(&self.server, self.peer.ip(), mechanism, login, password).await;
                    self.session.authenticated(result);
                }
                Event::Rcpt { to } => self.rcpt(&to).await,
                Event::Message(tx) => {
                    let result = self.enqueue(tx).await;
                    self.session.queued(result);
                }
                Event::StartTls => {
                    if let Err(e) = self.flush(&mut conn).await {
                        return format!("write error: {e}");
                    }
                    let deadline = tokio::time::Instant::now() + self.server.cfg.smtp.timeout;
                    conn = match conn.upgrade(&self.server.tls.acceptor(), deadline).await {
                        Ok(tls) => tls,
                        Err(end) => return end,
                    };
                    info!("TLS established from {}: {}", self.shown(), conn.tls_summary().unwrap_or_default());
                    self.session.tls_established();
                }
                Event::Close => {
                    let _ = self.flush(&mut conn).await;
                    let _ = timeout(Duration::from_secs(5), conn.shutdown()).await;
                    return "closed".into();
                }
            }
        }
    }

    /// MAIL FROM: an authenticated user may only use their own addresses; another server's
    /// sender must have a domain that exists.
    async fn mail(&mut self, from: &str) {
        self.sender = from.to_string();
        let decision = match self.session.user() {
            Some(user) => policy::check_sender(&self.server.cfg, &self.server.directory(), user, from),
            None => self.sender_domain(from).await,
        };
        let decision = decision.and_then(|()| self.allowance(1, Count::Messages));
        self.answer("MAIL", decision);
    }

    /// Greylisting (`mta/src/greylist.rs`): port 25, not relay networks, not users.
    fn greylisted(&self, recipient: &str) -> Result<(), Reply> {
        let Some(list) = &self.server.greylist else { return Ok(()) };
        if self.service != Service::Smtp
            || self.session.user().is_some()
            || self.server.cfg.relay_allowed(self.peer.ip())
        {
            return Ok(());
        }
        match list.check(self.peer.ip(), &self.sender, recipient, std::time::SystemTime::now()) {
            carrier_mta::greylist::Answer::Pass => Ok(()),
            carrier_mta::greylist::Answer::Wait(d) => Err(Reply::new(
                451,
                "4.7.1",
                format!(
                    "<{recipient}>: Greylisted: mail from a new sender waits a little; try again in {} seconds",
                    d.as_secs()
                ),
            )),
        }
    }

    /// `[antispam]`'s hourly allowances: per user when authenticated, else per client
    /// address on port 25 (relay networks are exempt); 451 4.7.1 when used up, as Postfix's
    /// anvil rate limits, so the client tries again later.
    fn allowance(&self, n: u32, count: Count) -> Result<(), Reply> {
        let rates = &self.server.rates;
        let now = std::time::Instant::now();
        let (limit, key, whose) = match (self.session.user(), count) {
            (Some(user), Count::Messages) => (&rates.messages_per_user, user.to_string(), "user"),
            (Some(user), Count::Recipients) => (&rates.recipients_per_user, user.to_string(), "user"),
            (None, _) if self.service != Service::Smtp || self.server.cfg.relay_allowed(self.peer.ip()) => {
                return Ok(());
            }
            (None, Count::Messages) => (&rates.messages_per_ip, self.peer.ip().to_string(), "address"),
            (None, Count::Recipients) => (&rates.recipients_per_ip, self.peer.ip().to_string(), "address"),
        };
        if limit.take(&key, n, now) {
            return Ok(());
        }
        let what = if count == Count::Messages { "messages" } else { "recipients" };
        warn!(
            "rate limit: {whose} {key} has sent its {what} for this hour ([antispam] {what}_per_hour_per_{})",
            if whose == "user" { "user" } else { "ip" }
        );
        Err(Reply::new(451, "4.7.1", format!("Too many {what} from this {whose} in the last hour, try again later")))
    }

    /// sendmail's check on port 25: a sender domain with neither MX nor address records is
    /// refused `553 5.1.8` (RFC 3463 5.1.8: bad sender's system address), since nothing
    /// could be returned to it; when DNS does not answer, `451 4.1.8` lets the client retry.
    /// Relay networks, the null sender, address literals and our own domains are not asked.
    async fn sender_domain(&self, from: &str) -> Result<(), Reply> {
        let cfg = &self.server.cfg;
        if self.service != Service::Smtp || !cfg.smtp.check_sender_domain || cfg.relay_allowed(self.peer.ip()) {
            return Ok(());
        }
        let Some((_, domain)) = from.rsplit_once('@') else { return Ok(()) };
        if domain.starts_with('[') || cfg.is_local_domain(domain) {
            return Ok(());
        }
        let answer = timeout(LOOKUP_TIMEOUT, dns::domain_exists(&self.server.resolver, domain)).await;
        match answer {
            Ok(Ok(true)) => Ok(()),
            Ok(Ok(false)) => {
                Err(Reply::new(553, "5.1.8", format!("<{from}>: Domain of sender address does not exist")))
            }
            Ok(Err(_)) | Err(_) => Err(Reply::new(
                451,
                "4.1.8",
                format!("<{from}>: Domain of sender address cannot be checked now, try again later"),
            )),
        }
    }

    /// RCPT TO: local users, relay networks, or an authenticated user; then the quota.
    async fn rcpt(&mut self, to: &Mailbox) {
        let authenticated = self.session.user().is_some();
        let mut decision =
            policy::check_recipient(&self.server.cfg, &self.server.directory(), self.peer.ip(), authenticated, to);
        if decision.is_ok() {
            decision = self.allowance(1, Count::Recipients);
        }
        if decision.is_ok() {
            decision = self.greylisted(&to.address());
        }
        if decision.is_ok() && self.server.store.has_quotas() {
            let mailboxes = policy::local_mailboxes(&self.server.cfg, &self.server.directory(), to);
            let (store, address, size) = (self.server.store.clone(), to.address(), self.declared_size);
            let check = move || policy::check_quota(&store, &address, &mailboxes, size);
            decision = tokio::task::spawn_blocking(check).await.unwrap_or(Ok(()));
        }
        self.answer("RCPT", decision);
    }

    /// Passes a policy decision to the session, logging refusals as Postfix does.
    fn answer(&mut self, stage: &str, decision: Result<(), Reply>) {
        if let Err(reply) = &decision {
            self.counts.rejected += 1;
            let helo = self.session.helo_name().unwrap_or_default();
            info!("NOQUEUE: reject: {stage} from {}: {reply}; helo=<{helo}>", self.shown());
        }
        self.session.answer(decision);
    }

    /// sendmail's greet_pause: clients that talk before the banner are refused.
    async fn greet_pause(&mut self, conn: &mut Conn) -> Option<String> {
        let pause = self.server.cfg.smtp.greet_pause;
        // Only MTAs are made to wait: users' clients on the submission ports are not spam engines.
        if !pause.is_zero() && self.service == Service::Smtp {
            let mut probe = [0u8; 512];
            match timeout(pause, conn.read(&mut probe)).await {
                Err(_) => {}
                Ok(Ok(0)) | Ok(Err(_)) => return Some("lost connection before greeting".into()),
                Ok(Ok(_)) => {
                    self.session.early_talker();
                    let _ = self.flush(conn).await;
                    warn!("reject: {} talked before the greeting", self.shown());
                    return Some("pregreet".into());
                }
            }
        }
        None
    }

    async fn flush(&mut self, conn: &mut Conn) -> io::Result<()> {
        let out = self.session.take_output();
        conn.send(&out, self.server.cfg.smtp.timeout).await
    }

    /// Hands the message to the intake; the reply to send after DATA.
    async fn enqueue(&mut self, tx: Transaction) -> Result<String, Reply> {
        let msg = Message {
            sender: tx.from,
            recipients: tx.recipients,
            content: tx.message,
            origin: Origin::Smtp {
                ip: self.peer.ip(),
                name: self.name.shown().to_string(),
                helo: tx.helo,
                proto: tx.proto.to_string(),
                user: tx.user,
            },
            body_8bit: tx.params.body == BodyType::EightBitMime,
            smtputf8: tx.params.smtputf8,
        };
        let accepted = self.server.intake.accept(msg, Unknown::Skip).await.map_err(|r| r.reply)?;
        self.counts.messages += 1;
        Ok(accepted.id.to_string())
    }

    fn log_disconnect(&self, end: String) {
        info!(
            "disconnect from {} messages={} rejected={} errors={} ({end})",
            self.shown(),
            self.counts.messages,
            self.counts.rejected,
            self.session.errors()
        );
    }
}
